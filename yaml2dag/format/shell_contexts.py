"""Where bash would evaluate a value inserted in a shell command (spec §5, "Shell safety").

Every ``{{ ... }}`` of a ``shell`` command reaches bash as one quoted word: the value sits in an
environment variable and the command says ``"${YAML2DAG_V1}"`` (:mod:`yaml2dag.format.expressions`). That
stops word splitting, globbing and command substitution, but not bash's *arithmetic
evaluation*: where bash evaluates a word as an arithmetic expression, it evaluates the expanded
text, quotes or not, and an array index in that text is expanded again — so the value
``a[$(id > pwned)]`` in ``echo $(( "${YAML2DAG_V1}" + 1 ))`` runs ``id``. Words bash takes as a
*variable name* have the same hole (``printf -v NAME``, ``read NAME``, ``[[ -v NAME ]]``: the name
``a[$(id)]`` has an index), and a declaration's value that starts with ``(`` is a compound
assignment bash expands again (``declare -a v="(...)"``).

:func:`analyze_command` finds, for each inserted value of a command, whether it sits in one of
these places. The places, from the bash manual (5.2: "Shell Arithmetic", "Arrays", "Shell
Parameter Expansion", "Bash Conditional Expressions", "Bash Builtin Commands"), each checked
against a real bash run (``tests/unit/test_shell_arithmetic.py``):

* :data:`ARITH` — the value must be an integer (:func:`is_integer`): ``$(( ))``, ``(( ))``,
  ``$[ ]``, ``for (( ; ; ))``, the arguments of ``let``, both operands of ``[[ A -eq B ]]``
  (``-ne -lt -le -gt -ge``), an array index (``${a[i]}``, ``${#a[i]}``, ``a[i]=``,
  ``a=([i]=v)``, the index in a ``declare``/``read``/``printf -v``/``unset``/``[[ -v ]]`` name;
  not for an array declared ``-A``, whose keys are text, except in ``unset``), a substring offset
  and length (``${v:off:len}``, ``${a[@]:off:len}``), a value assigned to a variable declared
  ``-i`` (``declare -i n``, ``local -i``, ``typeset -i``, ``-ai``...) by ``n=``, ``n+=``,
  ``declare n=``, ``a=(...)``, and a value assigned to a shell variable that the same command
  evaluates as arithmetic (``n={{ x }}; echo $(( n + 1 ))``, ``for n in {{ x }}; do (( n ))``).
* :data:`NAME` — the value must be a variable name (letters, digits, ``_``): the name given to
  ``printf -v``, ``read``, ``unset``, ``wait -p``, ``[[ -v ]]``, ``test -v``/``[ -v ]``, the name part
  of a ``declare``/``typeset``/``local``/``export``/``readonly`` argument, the target of a name
  reference (``declare -n r={{ x }}``, or ``r={{ x }}`` for such an ``r``) and a value assigned to a
  variable that the command expands indirectly (``${!v}``).
* :data:`SCALAR` — the value must not start with ``(``: a value in a ``declare -a``/``-A``
  argument (``declare -a v={{ x }}``), which bash would run as a compound assignment.

Not covered, because the command itself asks bash to run text as code: ``eval``, ``trap``,
``source``, ``bash -c``, ``${v@P}``; and values that reach arithmetic through a command's output
(``$(( $(echo {{ x }}) ))``) or another program. Use ``| int`` to make a value a number first.

The analysis is a small bash parser over the command's literal text, with every inserted value
replaced by a placeholder character; it never fails: text it cannot parse is read as far as it
goes, and an unterminated arithmetic region runs to the end (so its values are checked). In a
command nested more than :data:`MAX_NESTING` levels deep or longer than :data:`MAX_ANALYSED`
characters, every value is taken to be in arithmetic (it must be an integer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Callable, Sequence

#: The value is evaluated as an arithmetic expression: it must be an integer.
ARITH = "arith"
#: The value is used as a variable name: it must be one.
NAME = "name"
#: The value is a declaration's value that bash would evaluate as a list if it began with ``(``.
SCALAR = "scalar"

_STRENGTH = {None: 0, SCALAR: 1, NAME: 2, ARITH: 3}

#: The integers a value in an arithmetic context may be: optional sign, decimal digits, or a
#: ``0x`` hexadecimal constant (bash "Shell Arithmetic": constants), with blanks around.
_INTEGER = re.compile(r"[ \t\n]*[+-]?(?:0[xX][0-9A-Fa-f]+|[0-9]+)[ \t\n]*")
#: A bash variable name (bash "Definitions": name).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?(\+?=)")

#: ``[[ ]]`` operators whose operands bash evaluates as arithmetic expressions.
ARITH_TEST_OPERATORS = ("-eq", "-ne", "-lt", "-le", "-gt", "-ge")
_DECLARATIONS = ("declare", "typeset", "local", "export", "readonly")
_RESERVED_START = ("if", "then", "else", "elif", "do", "while", "until", "!", "time", "{", "}",
                   "fi", "done", "esac", "function", "coproc")
_READ_OPTIONS_WITH_VALUE = "dinNptu"  # read's options that take a value; `-a` takes a name
_METACHARS = " \t\n;&|()<>"


def is_integer(text: str) -> bool:
    """True when ``text`` is a bash integer constant (``42``, ``-7``, ``0x1F``, blanks around)."""
    return _INTEGER.fullmatch(text) is not None


def is_name(text: str) -> bool:
    """True when ``text`` is a bash variable name (``[A-Za-z_][A-Za-z0-9_]*``)."""
    return _NAME.fullmatch(text) is not None


@dataclass(frozen=True)
class Context:
    """Where one inserted value sits.

    Attributes:
        kind: None (an ordinary word), :data:`ARITH`, :data:`NAME` or :data:`SCALAR`.
        where: the construct, for messages (``"`$(( ))`"``, ``"an array index"``...); "" for None.
    """

    kind: str | None = None
    where: str = ""


@dataclass(frozen=True)
class ShellAnalysis:
    """What :func:`analyze_command` found.

    Attributes:
        contexts: one :class:`Context` per inserted value, in the order they appear.
        arith_names: shell variables the command evaluates as arithmetic (``n`` in
            ``$(( n + 1 ))``, ``[[ $n -gt 1 ]]``, ``${a[n]}``): an environment variable of that
            name reaches bash's arithmetic too.
    """

    contexts: tuple[Context, ...]
    arith_names: frozenset[str] = frozenset()


def placeholder_for(pieces: Sequence[str]) -> str:
    """A character that occurs in none of ``pieces`` (from Unicode's private use area)."""
    text = "".join(pieces)
    for code in range(0xE000, 0xF900):
        if chr(code) not in text:
            return chr(code)
    raise ValueError("no free placeholder character")  # pragma: no cover - 6,400 distinct characters


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


#: Nesting (``$(...)``, ``${...}``, ``$((...))``, subshells, backticks) the analysis follows.
MAX_NESTING = 64
#: Longest command analysed (characters): about a second of analysis on a slow machine. The
#: values of a longer command must all be integers (no shell script that long inserts text).
MAX_ANALYSED = 256 * 1024


class _TooDeep(Exception):
    pass


def _analyze(text: str, mark: str) -> ShellAnalysis:
    first = _Parser(text, mark, frozenset(), frozenset(), frozenset(), frozenset(), frozenset(), frozenset())
    first.run()  # collects declarations and the names used in arithmetic, wherever they stand
    second = _Parser(text, mark, frozenset(first.int_names), frozenset(first.assoc_names),
                     frozenset(first.ref_names), frozenset(first.array_names),
                     frozenset(first.arith_names), frozenset(first.indirect_names))
    second.run()
    contexts = tuple(second.contexts.get(pos, Context()) for pos in second.positions)
    return ShellAnalysis(contexts, frozenset(first.arith_names | second.arith_names))


@dataclass
class _Word:
    start: int
    end: int
    raw: str
    values: list[int]  # positions of the inserted values that are part of the word's text

    @cached_property
    def literal(self) -> str | None:
        """The word without its quotes, if it is plain text (no expansion, no value)."""
        if any(c in self.raw for c in "$`\\") or self.values:
            return None
        return self.raw.replace("'", "").replace('"', "")


class _Parser:
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
        in_cond = False
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

    def redirection(self) -> None:
        s = self.s
        start = self.i
        while self.i < len(s) and s[self.i] in "<>&|-" and self.i - start < 3:
            if s[self.i] == "-" and not s.startswith("<<", start):
                break
            self.i += 1
        op = s[start:self.i]
        while self.i < len(s) and s[self.i] in " \t":
            self.i += 1
        word = self.read_word(False)
        if word is None:
            return
        if op.startswith("<<") and not op.startswith("<<<"):
            quoted = any(ch in word.raw for ch in "'\"\\")
            delimiter = word.raw.replace("'", "").replace('"', "").replace("\\", "")
            self.heredocs.append((delimiter, op == "<<-", quoted))

    def read_heredocs(self) -> None:
        s = self.s
        while self.heredocs:
            delimiter, strip, quoted = self.heredocs.pop(0)
            while self.i < len(s):
                end = s.find("\n", self.i)
                end = len(s) if end < 0 else end
                line = s[self.i:end]
                if (line.lstrip("\t") if strip else line) == delimiter:
                    self.i = min(end + 1, len(s))
                    break
                if quoted:
                    self.i = end + 1
                    continue
                self.expansions_until(end)  # an unquoted body expands like "..."
                self.i = end + 1
        self.i = min(self.i, len(s))

    # ------------------------------------------------------------------ words
    def read_word(self, compound: bool) -> _Word | None:
        s = self.s
        start = self.i
        outer = self.word_values
        values: list[int] = []
        self.word_values = values
        try:
            while self.i < len(s):
                c = s[self.i]
                if c in _METACHARS:
                    if c == "(" and compound and _ASSIGNMENT.fullmatch(s[start:self.i]):
                        self.compound_assignment(s[start:self.i])
                        continue
                    break
                if c == "`" and self.backticks:
                    break
                run = self.plain_word.match(s, self.i)
                if run:
                    self.i = run.end()
                    continue
                self.word_char()
        finally:
            self.word_values = outer
        if self.i == start:
            return None
        if outer is not None:
            outer.extend(values)
        return _Word(start, self.i, s[start:self.i], values)

    def word_char(self) -> None:
        """One element of a word: a character, a quoted string, an expansion or a value."""
        s = self.s
        c = s[self.i]
        if c == self.mark:
            self.value_here(None, "")
        elif c == "\\":
            self.i += 2
        elif c == "'":
            self.i += 1
            self.single_quoted()
        elif c == '"':
            self.i += 1
            self.double_quoted()
        elif c == "$":
            self.dollar()
        elif c == "`":
            self.backtick()
        else:
            self.i += 1

    def single_quoted(self) -> None:
        s = self.s
        while self.i < len(s) and s[self.i] != "'":
            run = self.plain_sq.match(s, self.i)
            if run:
                self.i = run.end()
                continue
            if s[self.i] == self.mark:
                self.value_here(None, "")
            else:
                self.i += 1
        self.i += 1

    def ansi_quoted(self) -> None:
        s = self.s
        while self.i < len(s) and s[self.i] != "'":
            if s[self.i] == self.mark:
                self.value_here(None, "")
            elif s[self.i] == "\\":
                self.i += 2
            else:
                self.i += 1
        self.i += 1

    def double_quoted(self) -> None:
        s = self.s
        while self.i < len(s) and s[self.i] != '"':
            run = self.plain_dq.match(s, self.i)
            if run:
                self.i = run.end()
                continue
            c = s[self.i]
            if c == self.mark:
                self.value_here(None, "")
            elif c == "\\":
                self.i += 2
            elif c == "$":
                self.dollar()
            elif c == "`":
                self.backtick()
            else:
                self.i += 1
        self.i += 1

    def expansions_until(self, end: int) -> None:
        """Expansions in a here-document body (like "..." without the quotes)."""
        s = self.s
        while self.i < end:
            c = s[self.i]
            if c == self.mark:
                self.value_here(None, "")
            elif c == "\\":
                self.i += 2
            elif c == "$":
                self.dollar()
            elif c == "`":
                self.backtick()
            else:
                self.i += 1

    def backtick(self) -> None:
        self.i += 1
        outer = self.word_values
        self.word_values = None
        self.backticks += 1
        try:
            self.parse_list(("`",))
        finally:
            self.backticks -= 1
            self.word_values = outer

    def command_substitution(self) -> None:
        outer = self.word_values
        self.word_values = None  # its values are words of a command, not of this word
        try:
            self.parse_list((")",))
        finally:
            self.word_values = outer

    def dollar(self) -> None:
        """``$`` at self.i: an expansion, or a literal dollar."""
        s = self.s
        if self.startswith("$(("):
            self.i += 3
            self.arith_region("))", "`$(( ))`")
        elif self.startswith("$("):
            self.i += 2
            self.command_substitution()
        elif self.startswith("$["):
            self.i += 2
            self.arith_region("]", "`$[ ]`")
        elif self.startswith("${"):
            self.i += 2
            self.parameter(None, "")
        elif self.startswith("$'"):
            self.i += 2
            self.ansi_quoted()
        else:
            self.i += 1
            m = _IDENT.match(s, self.i)
            if m:
                self.i = m.end()

    # ------------------------------------------------------------------ arithmetic
    def _arith_region(self, end: str, where: str, kind: str | None = ARITH) -> None:
        """An arithmetic expression up to ``end`` (``))`` or ``]``), which is consumed.

        Every value inside (quoted or not, in a ``${...}`` too) gets ``kind``; values inside a
        command substitution are words of that command. Names used are noted.
        """
        s = self.s
        depth = 0
        outer = self.word_values
        self.word_values = None
        try:
            while self.i < len(s):
                run = self.plain_arith.match(s, self.i)
                if run:
                    self.i = run.end()
                    continue
                c = s[self.i]
                if c == self.mark:
                    self.put(self.i, kind, where)
                    self.i += 1
                elif end == "))" and c == ")" and depth == 0 and self.peek(1) == ")":
                    self.i += 2
                    return
                elif end == "]" and c == "]" and depth == 0:
                    self.i += 1
                    return
                elif end == "}" and c in ":}" and depth == 0:
                    return  # a substring offset ends at `:` or `}` (left for the caller)
                elif c in "([":
                    depth += 1
                    self.i += 1
                elif c in ")]":
                    depth -= 1
                    self.i += 1
                elif c == "\\":
                    self.i += 2
                elif c == "'":
                    self.i += 1
                    while self.i < len(s) and s[self.i] != "'":
                        if s[self.i] == self.mark:
                            self.put(self.i, kind, where)
                        self.i += 1
                    self.i += 1
                elif c == '"':
                    self.i += 1  # quotes inside arithmetic are removed; the text is still evaluated
                elif c == "`":
                    self.backtick()
                elif c == "$":
                    if self.startswith("${"):
                        self.i += 2
                        self.parameter(kind, where)
                    elif self.startswith("$(") and not self.startswith("$(("):
                        self.i += 2
                        self.command_substitution()
                    elif self.startswith("$(("):
                        self.i += 3
                        self.arith_region("))", where, kind)
                    elif self.startswith("$["):
                        self.i += 2
                        self.arith_region("]", where, kind)
                    else:
                        self.i += 1
                        m = _IDENT.match(s, self.i)
                        if m:
                            if kind == ARITH:
                                self.arith_names.add(m.group())
                            self.i = m.end()
                else:
                    m = _IDENT.match(s, self.i)
                    if m and (self.i == 0 or not (s[self.i - 1].isalnum() or s[self.i - 1] in "_#")):
                        if kind == ARITH:
                            self.arith_names.add(m.group())
                        self.i = m.end()
                    else:
                        self.i += 1
        finally:
            self.word_values = outer

    def _parameter(self, kind: str | None, where: str) -> None:
        """A ``${...}`` expansion after its ``${``; values in its words get ``kind``."""
        s = self.s
        indirect = False
        if self.peek() in "#!" and self.peek(1) not in "}:":
            indirect = self.peek() == "!"
            self.i += 1
        name = ""
        m = _IDENT.match(s, self.i)
        if m:
            name = m.group()
            self.i = m.end()
        elif self.peek() and (self.peek().isdigit() or self.peek() in "@*#?-$!"):
            name = self.peek()
            self.i += 1
        if indirect and name and self.peek() not in "[*@":
            self.indirect_names.add(name)
        if self.peek() == "[":
            self.i += 1
            if name in self.known_assoc:
                self.arith_region("]", where, kind)
            else:
                self.arith_region("]", "an array index")
        if self.peek() == ":" and self.peek(1) not in "-=?+":
            self.i += 1
            self.arith_region("}", "a substring offset, `${v:offset:length}`")
            if self.peek() == ":":
                self.i += 1
                self.arith_region("}", "a substring length, `${v:offset:length}`")
        # the rest is an operator and a word, up to the matching `}`
        while self.i < len(s):
            c = s[self.i]
            if c == "}":
                self.i += 1
                return
            if c == self.mark:
                self.value_here(kind, where)
            elif c == "\\":
                self.i += 2
            elif c == "'":
                self.i += 1
                self.single_quoted()
            elif c == '"':
                self.i += 1
                self.double_quoted()
            elif c == "$":
                self.dollar()
            elif c == "`":
                self.backtick()
            else:
                self.i += 1

    # ------------------------------------------------------------------ compound assignments
    def compound_assignment(self, head: str) -> None:
        """``name=( ... )`` at self.i (on the ``(``): indexes and values of the list."""
        s = self.s
        m = _ASSIGNMENT.fullmatch(head)
        name = m.group(1) if m else ""
        self.array_names.add(name)
        self.i += 1
        outer = self.word_values
        try:
            while self.i < len(s):
                c = s[self.i]
                if c in " \t\n":
                    self.i += 1
                    continue
                if c == ")":
                    self.i += 1
                    return
                values: list[int] = []
                self.word_values = values
                start = self.i
                if c == "[":
                    self.i += 1
                    if name in self.known_assoc:
                        self.arith_region("]", "", None)
                    else:
                        self.arith_region("]", "an array index")
                while self.i < len(s) and s[self.i] not in " \t\n)":
                    self.word_char()
                if name in self.known_int:
                    for pos in values:
                        self.put(pos, ARITH, f"the integer variable `{name}` (`declare -i`)")
                if self.i == start:
                    self.i += 1
        finally:
            self.word_values = outer

    # ------------------------------------------------------------------ [[ ]]
    def conditional(self) -> None:
        """A ``[[ ... ]]`` after its ``[[``: operands of arithmetic operators, ``-v`` names."""
        s = self.s
        words: list[_Word | str] = []
        while self.i < len(s):
            c = s[self.i]
            if c in " \t\n":
                self.i += 1
                continue
            if self.startswith("]]") and (self.i + 2 >= len(s) or s[self.i + 2] in _METACHARS):
                self.i += 2
                break
            if self.startswith("&&") or self.startswith("||"):
                words.append(s[self.i:self.i + 2])
                self.i += 2
                continue
            if c in "()<>":
                words.append(c)
                self.i += 1
                continue
            start = self.i
            outer = self.word_values
            values: list[int] = []
            self.word_values = values
            try:
                while self.i < len(s) and s[self.i] not in " \t\n()<>" and not self.startswith("&&") \
                        and not self.startswith("||"):
                    self.word_char()
            finally:
                self.word_values = outer
            if self.i == start:
                self.i += 1
                continue
            words.append(_Word(start, self.i, s[start:self.i], values))
        for k, word in enumerate(words):
            if not isinstance(word, _Word):
                continue
            if word.literal in ARITH_TEST_OPERATORS:
                where = f"`[[ {word.literal} ]]`"
                for operand in (words[k - 1] if k else None, words[k + 1] if k + 1 < len(words) else None):
                    if isinstance(operand, _Word):
                        self.arith_word(operand, where)
            elif word.literal == "-v" and k + 1 < len(words) and isinstance(words[k + 1], _Word):
                self.name_word(words[k + 1], "`[[ -v ]]`")

    def arith_word(self, word: _Word, where: str) -> None:
        for pos in word.values:
            self.put(pos, ARITH, where)
        for m in re.finditer(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)", word.raw):
            self.arith_names.add(m.group(1))
        m = _IDENT.fullmatch(word.raw.replace('"', ""))
        if m:
            self.arith_names.add(m.group())

    # ------------------------------------------------------------------ names and assignments
    def _split(self, word: _Word) -> tuple[int, int, int]:
        """Offsets in ``word.raw``: end of the name part, end of its ``[index]``, start of the value
        after ``=`` (len(raw)+1 when there is none)."""
        raw = word.raw
        k = 0
        while k < len(raw) and raw[k] not in "[=" and not raw.startswith("+=", k):
            k += 1
        name_end = k
        index_end = k
        if k < len(raw) and raw[k] == "[":
            depth = 0
            while k < len(raw):
                if raw[k] == "[":
                    depth += 1
                elif raw[k] == "]":
                    depth -= 1
                    if depth == 0:
                        k += 1
                        break
                k += 1
            index_end = k
        if raw.startswith("+=", k):
            return name_end, index_end, k + 2
        if raw.startswith("=", k):
            return name_end, index_end, k + 1
        return name_end, index_end, len(raw) + 1

    def name_word(self, word: _Word, where: str, *, index_always: bool = False) -> str:
        """``word`` names a variable (``read NAME``): values in the name must be names, values
        in its index integers. Returns the name, if it is plain text."""
        name_end, index_end, _value = self._split(word)
        name = word.raw[:name_end]
        for pos in word.values:
            offset = pos - word.start
            if offset < name_end:
                self.put(pos, NAME, where)
            elif offset < index_end and (index_always or name not in self.known_assoc):
                self.put(pos, ARITH, "an array index")
        if index_end > name_end and name not in self.known_assoc:
            for m in _IDENT.finditer(word.raw[name_end:index_end]):
                self.arith_names.add(m.group())
        return name

    def assignment(self, word: _Word, flags: str = "", where: str = "") -> None:
        """``name=value`` (or a declaration argument): the index, the name and the value."""
        name = self.name_word(word, where or "a variable name")
        name_end, index_end, value_start = self._split(word)
        if "i" in flags:
            self.int_names.add(name)
        if "A" in flags:
            self.assoc_names.add(name)
            self.array_names.add(name)
        if "a" in flags:
            self.array_names.add(name)
        if "n" in flags:
            self.ref_names.add(name)
        values = [pos for pos in word.values if pos - word.start >= value_start]
        if not values:
            return
        if "i" in flags or name in self.known_int:
            kind, what = ARITH, f"the integer variable `{name}` (`declare -i`)"
        elif name in self.known_arith:
            kind, what = ARITH, f"`{name}`, a shell variable this command evaluates as arithmetic"
        elif "n" in flags or name in self.known_ref:
            kind, what = NAME, f"the target of the name reference `{name}` (`declare -n`)"
        elif name in self.known_indirect:
            kind, what = NAME, f"`{name}`, a shell variable this command expands indirectly (`${{!{name}}}`)"
        elif flags and ("a" in flags or "A" in flags or name in self.known_array):
            kind, what = SCALAR, f"the value of the array declaration `{name}`"
        else:
            return
        for pos in values:
            self.put(pos, kind, what)

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


# --------------------------------------------------------------------------- static types

#: Types :func:`expression_type` gives, from "may be text" down to "always an integer".
TEXT, BOOLEAN, UNKNOWN, NUMBER, INTEGER = "text", "boolean", "unknown", "number", "integer"
_TYPE_ORDER = (TEXT, BOOLEAN, UNKNOWN, NUMBER, INTEGER)
#: Jinja filters whose result is always an integer / a number / text.
_INTEGER_FILTERS = frozenset(("int", "length", "count", "wordcount"))
_NUMBER_FILTERS = frozenset(("float", "round"))
_TEXT_FILTERS = frozenset(("string", "upper", "lower", "title", "capitalize", "trim", "striptags", "replace",
                           "join", "tojson", "quote", "urlencode", "format", "center", "indent", "truncate",
                           "wordwrap", "e", "escape", "filesizeformat", "pprint", "xmlattr", "urlize", "list",
                           "items", "dictsort", "batch", "slice", "map", "select", "reject", "selectattr",
                           "rejectattr", "unique", "reverse", "sort", "groupby", "forceescape", "safe"))


def _union(*types: str) -> str:
    return min(types, key=_TYPE_ORDER.index)


def expression_type(node: Any, resolve: Callable[[tuple[str, ...]], tuple[str, str]]) -> tuple[str, str]:
    """The type a Jinja expression renders to, as far as can be seen without running it.

    Args:
        node: a :mod:`jinja2.nodes` expression.
        resolve: ``resolve(("name", "attr", ...)) -> (type, source)`` for a name and its constant
            attributes (``("n",)``, ``("params", "n")``, ``("build", "exit_code")``), where
            ``source`` says what the value is (``"the string parameter `n`"``).

    Returns:
        ``(type, source)``: one of ``"text"``, ``"boolean"`` (renders ``true``/``false``),
        ``"unknown"``, ``"number"``, ``"integer"``, and what made it so when it may be text or a
        boolean ("" otherwise).
    """
    from jinja2 import nodes

    def walk(n: Any) -> tuple[str, str]:
        if isinstance(n, nodes.Const):
            v = n.value
            if isinstance(v, bool):
                return BOOLEAN, f"the constant {v}"
            if isinstance(v, int):
                return INTEGER, ""
            if isinstance(v, float):
                return NUMBER, ""
            if isinstance(v, str) and is_integer(v):
                return INTEGER, ""
            return TEXT, f"the text {v!r}"
        if isinstance(n, (nodes.Name, nodes.Getattr, nodes.Getitem)):
            chain: list[str] = []
            cur = n
            while isinstance(cur, (nodes.Getattr, nodes.Getitem)):
                if isinstance(cur, nodes.Getattr):
                    chain.append(cur.attr)
                elif isinstance(cur.arg, nodes.Const) and isinstance(cur.arg.value, (str, int)):
                    chain.append(str(cur.arg.value))
                else:
                    return UNKNOWN, ""
                cur = cur.node
            if not isinstance(cur, nodes.Name):
                return UNKNOWN, ""
            return resolve((cur.name, *reversed(chain)))
        if isinstance(n, nodes.Filter):
            if n.name in _INTEGER_FILTERS:
                return INTEGER, ""
            if n.name in _NUMBER_FILTERS:
                return NUMBER, ""
            if n.name == "abs" and n.node is not None:
                return walk(n.node)
            if n.name in ("default", "d") and n.node is not None:
                fallback = walk(n.args[0]) if n.args else (TEXT, "an empty default")
                return _pick(walk(n.node), fallback)
            if n.name in ("string", "trim", "quote", "e", "escape", "safe") and n.node is not None:
                inner = walk(n.node)  # the text of a number is still a number
                if inner[0] in (INTEGER, NUMBER):
                    return inner
            if n.name in _TEXT_FILTERS:
                return TEXT, f"the `{n.name}` filter's result"
            return UNKNOWN, ""
        if isinstance(n, nodes.Concat):
            return TEXT, "a text joined with `~`"
        if isinstance(n, (nodes.Compare, nodes.Test, nodes.Not)):
            return BOOLEAN, "a comparison (it renders true or false)"
        if isinstance(n, (nodes.And, nodes.Or)):
            return _pick(walk(n.left), walk(n.right))
        if isinstance(n, nodes.CondExpr):
            other = walk(n.expr2) if n.expr2 is not None else (TEXT, "an empty else branch")
            return _pick(walk(n.expr1), other)
        if isinstance(n, (nodes.Neg, nodes.Pos)):
            return walk(n.node)
        if isinstance(n, nodes.BinExpr):
            left, right = walk(n.left), walk(n.right)
            if TEXT in (left[0], right[0]) and isinstance(n, (nodes.Add, nodes.Mul, nodes.Mod)):
                return left if left[0] == TEXT else right
            if left[0] == INTEGER and right[0] == INTEGER and not isinstance(n, nodes.Div):
                return INTEGER, ""
            if left[0] in (INTEGER, NUMBER) and right[0] in (INTEGER, NUMBER):
                return NUMBER, ""
            return UNKNOWN, ""
        if isinstance(n, (nodes.List, nodes.Tuple, nodes.Dict)):
            return TEXT, "a list or mapping (it renders as JSON)"
        return UNKNOWN, ""

    return walk(node)


def _pick(a: tuple[str, str], b: tuple[str, str]) -> tuple[str, str]:
    return a if _TYPE_ORDER.index(a[0]) <= _TYPE_ORDER.index(b[0]) else b


__all__ = ["ARITH", "ARITH_TEST_OPERATORS", "Context", "NAME", "SCALAR", "ShellAnalysis", "analyze_command",
           "expression_type", "is_integer", "is_name", "placeholder_for"]
