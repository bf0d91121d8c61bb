"""The small bash parser behind :func:`analyze_command` (spec §5, "Shell safety").

It reads a shell command's literal text, every inserted value replaced by a placeholder
character, in two passes (the second knows the variables the first saw declared ``-i``, ``-A``,
``-n``...), and records the context of each placeholder (:mod:`yaml2dag.format.shell_context_kinds`).
:class:`_Parser` reads lists, commands and the builtins' rules; words and expansions come from
:mod:`yaml2dag.format.shell_word_reader` and :mod:`yaml2dag.format.shell_expansion_reader`.
"""


from __future__ import annotations

import re
from typing import Sequence

from yaml2dag.format.shell_context_kinds import (
    ARITH,
    Context,
    MAX_ANALYSED,
    MAX_NESTING,
    NAME,
    ShellAnalysis,
    _ASSIGNMENT,
    _DECLARATIONS,
    _IDENT,
    _READ_OPTIONS_WITH_VALUE,
    _RESERVED_START,
    _STRENGTH,
    _TooDeep,
    _Word,
    placeholder_for,
)
from yaml2dag.format.shell_expansion_reader import _ExpansionReader
from yaml2dag.format.shell_word_reader import _WordReader


def analyze_command(pieces: Sequence[str]) -> ShellAnalysis:
    """Find where each inserted value of a shell command sits (see the module docstring).

    Args:
        pieces: the command's literal text around its inserted values: ``n + 1`` pieces for
            ``n`` values (``["echo $(( ", " + 1 ))"]`` for ``echo $(( {{ n }} + 1 ))``).

    Returns:
        a :class:`ShellAnalysis` with ``len(pieces) - 1`` contexts.
    """
    mark = placeholder_for(pieces)
    text = mark.join(pieces)
    if len(text) > MAX_ANALYSED:  # conservative: every value must then be an integer
        where = f"a command longer than {MAX_ANALYSED:,} characters, which is not analysed"
        return ShellAnalysis(tuple(Context(ARITH, where) for _ in pieces[1:]))
    try:
        return _analyze(text, mark)
    except _TooDeep:  # conservative, likewise
        where = f"a command nested more than {MAX_NESTING} levels deep, which is not analysed"
        return ShellAnalysis(tuple(Context(ARITH, where) for _ in pieces[1:]))


def _analyze(text: str, mark: str) -> ShellAnalysis:
    first = _Parser(text, mark, frozenset(), frozenset(), frozenset(), frozenset(), frozenset(), frozenset())
    first.run()  # collects declarations and the names used in arithmetic, wherever they stand
    second = _Parser(text, mark, frozenset(first.int_names), frozenset(first.assoc_names),
                     frozenset(first.ref_names), frozenset(first.array_names),
                     frozenset(first.arith_names), frozenset(first.indirect_names))
    second.run()
    contexts = tuple(second.contexts.get(pos, Context()) for pos in second.positions)
    return ShellAnalysis(contexts, frozenset(first.arith_names | second.arith_names))


class _Parser(_WordReader, _ExpansionReader):
    """The bash parser of :func:`analyze_command`: lists, commands and the builtins' rules
    (:meth:`finish`); words and expansions come from the two mixins."""

    def __init__(self, text: str, mark: str, int_names, assoc_names, ref_names, array_names,
                 arith_used, indirect_used):
        self.s = text
        self.mark = mark
        self.i = 0
        self.positions = [m.start() for m in re.finditer(re.escape(mark), text)]
        self.contexts: dict[int, Context] = {}
        # what the first pass learnt (read by the second)
        self.known_int = int_names
        self.known_assoc = assoc_names
        self.known_ref = ref_names
        self.known_array = array_names
        self.known_arith = arith_used
        self.known_indirect = indirect_used
        # what this pass finds
        self.int_names: set[str] = set(int_names)
        self.assoc_names: set[str] = set(assoc_names)
        self.ref_names: set[str] = set(ref_names)
        self.array_names: set[str] = set(array_names)
        self.arith_names: set[str] = set()
        self.indirect_names: set[str] = set()
        self.word_values: list[int] | None = None  # the values of the word being read
        self.heredocs: list[tuple[str, bool, bool]] = []
        self.backticks = 0
        self.depth = 0
        m = re.escape(mark)
        # runs of characters with no meaning to the parser, skipped in one step
        self.plain_word = re.compile(r"[^ \t\n;&|()<>\\'\"$`" + m + "]+")
        self.plain_dq = re.compile(r"[^\"\\$`" + m + "]+")
        self.plain_sq = re.compile(r"[^'" + m + "]+")
        self.plain_arith = re.compile(r"[ \t\n0-9+\-*/%<>=!&|^~?,]+")

    # ------------------------------------------------------------------ helpers
    def put(self, pos: int, kind: str | None, where: str) -> None:
        old = self.contexts.get(pos)
        if old is None or _STRENGTH[kind] > _STRENGTH[old.kind]:
            self.contexts[pos] = Context(kind, where if kind else "")

    def value_here(self, kind: str | None, where: str) -> None:
        pos = self.i
        self.put(pos, kind, where)
        if self.word_values is not None:
            self.word_values.append(pos)
        self.i += 1

    def peek(self, n: int = 0) -> str:
        j = self.i + n
        return self.s[j] if j < len(self.s) else ""

    def startswith(self, prefix: str) -> bool:
        return self.s.startswith(prefix, self.i)

    def run(self) -> None:
        while self.i < len(self.s):
            before = self.i
            self.parse_list(())
            if self.i == before:  # a stray terminator at the top level
                self.i += 1

    # ------------------------------------------------------------------ nesting
    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_NESTING:
            raise _TooDeep()

    def parse_list(self, ends: tuple[str, ...]) -> None:
        self.enter()
        try:
            self._parse_list(ends)
        finally:
            self.depth -= 1

    def arith_region(self, end: str, where: str, kind: str | None = ARITH) -> None:
        self.enter()
        try:
            self._arith_region(end, where, kind)
        finally:
            self.depth -= 1

    def parameter(self, kind: str | None, where: str) -> None:
        self.enter()
        try:
            self._parameter(kind, where)
        finally:
            self.depth -= 1

    # ------------------------------------------------------------------ command lists
    def _parse_list(self, ends: tuple[str, ...]) -> None:
        """Commands until one of ``ends`` (``)`` or a backtick), which is consumed."""
        words: list[_Word] = []
        case_patterns: list[bool] = []  # per open `case`: expecting a pattern
        s = self.s
        while self.i < len(s):
            c = s[self.i]
            if c in " \t":
                self.i += 1
                continue
            if c == "\\" and self.peek(1) == "\n":
                self.i += 2
                continue
            if c == "#" and not words:
                while self.i < len(s) and s[self.i] != "\n":
                    self.i += 1
                continue
            if c == "#" and words and s[self.i - 1] in " \t":
                while self.i < len(s) and s[self.i] != "\n":
                    self.i += 1
                continue
            if c == "`" and self.backticks and "`" in ends:
                self.i += 1
                self.finish(words)
                return
            if c == ")" and ")" in ends and not (case_patterns and case_patterns[-1]):
                self.i += 1
                self.finish(words)
                return
            if c == ")" and case_patterns and case_patterns[-1]:
                self.i += 1
                case_patterns[-1] = False
                words = []
                continue
            if c == "\n":
                self.i += 1
                self.finish(words)
                words = []
                self.read_heredocs()
                continue
            if c in ";&|":
                op = c
                self.i += 1
                while self.i < len(s) and s[self.i] in ";&|" and len(op) < 3:
                    op += s[self.i]
                    self.i += 1
                self.finish(words)
                words = []
                if op in (";;", ";&", ";;&") and case_patterns:
                    case_patterns[-1] = True
                continue
            if c == "(":
                if not words and self.peek(1) == "(":
                    self.i += 2
                    self.arith_region("))", "`(( ))`")
                    continue
                if len(words) == 1 and words[0].literal == "for" and self.peek(1) == "(":
                    self.i += 2
                    self.arith_region("))", "`for (( ))`")
                    self.finish(words)
                    words = []
                    continue
                if case_patterns and case_patterns[-1] and not words:
                    self.i += 1  # `(pattern)`
                    continue
                self.i += 1
                if words:  # `f()`: a function definition
                    if self.peek() == ")":
                        self.i += 1
                    self.finish(words)
                    words = []
                    continue
                self.parse_list((")",))  # a subshell
                continue
            if c in "<>":
                if self.peek(1) == "(":
                    self.i += 2
                    self.parse_list((")",))  # process substitution
                    continue
                self.redirection()
                continue
            compound = self._compound_allowed(words)
            word = self.read_word(compound)
            if word is None:  # a character no rule reads: skip it
                self.i += 1
                continue
            lit = word.literal
            if not words and lit == "[[":
                self.conditional()
                continue
            if not words and lit in _RESERVED_START:
                continue
            if not words and lit == "case":
                case_patterns.append(False)
                words = [word]
                continue
            if case_patterns and lit == "esac" and (not words or case_patterns[-1]):
                case_patterns.pop()
                self.finish(words)
                words = []
                continue
            if case_patterns and not case_patterns[-1] and words and words[0].literal == "case" and lit == "in":
                self.finish(words)
                words = []
                case_patterns[-1] = True
                continue
            if case_patterns and case_patterns[-1]:
                continue  # a pattern word (`a|b)`): `|` splits, `)` ends it
            words.append(word)
        self.finish(words)

    @staticmethod
    def _compound_allowed(words: list[_Word]) -> bool:
        if not words or all(_ASSIGNMENT.match(w.raw) for w in words):
            return True
        return words[0].literal in _DECLARATIONS

    def finish(self, words: list[_Word]) -> None:
        """Apply the rules of a simple command's builtin to its words."""
        k = 0
        while k < len(words) and words[k].literal in _RESERVED_START:
            k += 1
        while k < len(words) and _ASSIGNMENT.match(words[k].raw):
            self.assignment(words[k])
            k += 1
        while k < len(words) and words[k].literal in ("builtin", "command"):
            k += 1
            while k < len(words) and (words[k].literal or "").startswith("-"):
                k += 1
        if k >= len(words):
            return
        cmd = words[k].literal
        args = words[k + 1:]
        if cmd == "let":
            for word in args:
                self.arith_word(word, "`let`")
                for m in _IDENT.finditer(word.raw):
                    self.arith_names.add(m.group())
        elif cmd in _DECLARATIONS:
            flags = ""
            options = True
            for word in args:
                lit = word.literal
                if options and lit == "--":
                    options = False
                    continue
                if options and lit and lit[0] in "-+" and len(lit) > 1:
                    if lit[0] == "-":
                        flags += lit[1:]
                    continue
                self.assignment(word, flags, f"a variable name (`{cmd}`)")
        elif cmd == "printf":
            for j, word in enumerate(args[:-1]):
                if word.literal == "-v":
                    self.name_word(args[j + 1], "`printf -v`")
        elif cmd == "read":
            j = 0
            while j < len(args):
                lit = args[j].literal or ""
                if lit == "--":
                    j += 1
                    break
                if lit.startswith("-") and len(lit) > 1:
                    letters = lit[1:]
                    for n, letter in enumerate(letters):
                        if letter == "a" or letter in _READ_OPTIONS_WITH_VALUE:
                            if n + 1 == len(letters):  # the value is the next word
                                j += 1
                                if letter == "a" and j < len(args):
                                    self.name_word(args[j], "the array name of `read -a`")
                            break
                    j += 1
                    continue
                break
            for word in args[j:]:
                self.name_word(word, "a variable name (`read`)")
        elif cmd == "unset":
            options = "".join((w.literal or "")[1:] for w in args if (w.literal or "").startswith("-"))
            if "f" not in options:
                for word in args:
                    if not (word.literal or "").startswith("-"):
                        self.name_word(word, "a variable name (`unset`)", index_always=True)
        elif cmd == "wait":
            for j, word in enumerate(args[:-1]):
                if word.literal == "-p":
                    self.name_word(args[j + 1], "`wait -p`")
        elif cmd in ("test", "["):
            for j, word in enumerate(args[:-1]):
                if word.literal == "-v":
                    self.name_word(args[j + 1], f"`{cmd} -v`")
        elif cmd in ("for", "select") and args:
            var = args[0].literal or ""
            if var in self.known_arith:
                for word in args[2:] if len(args) > 1 and args[1].literal == "in" else ():
                    for pos in word.values:
                        self.put(pos, ARITH, f"`{var}`, a shell variable this command evaluates as arithmetic")
            elif var in self.known_indirect:
                for word in args[2:] if len(args) > 1 and args[1].literal == "in" else ():
                    for pos in word.values:
                        self.put(pos, NAME, f"`{var}`, a shell variable this command expands indirectly")
