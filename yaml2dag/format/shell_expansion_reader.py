"""Where bash evaluates a value, for the parser of :mod:`yaml2dag.format.shell_parser` (spec §5).

Arithmetic regions (``$(( ))``, ``(( ))``, ``$[ ]``), ``${...}`` parameter expansions (indices,
substring offsets, indirection), compound assignments, ``[[ ]]`` conditionals, variable names
and assignments, from the bash 5.2 manual ("Shell Arithmetic", "Arrays", "Shell Parameter
Expansion", "Bash Conditional Expressions").
"""


from __future__ import annotations

import re

from yaml2dag.format.shell_context_kinds import (
    ARITH,
    ARITH_TEST_OPERATORS,
    NAME,
    SCALAR,
    _ASSIGNMENT,
    _IDENT,
    _METACHARS,
    _Word,
)


class _ExpansionReader:
    """The places bash evaluates for :class:`_Parser`: arithmetic regions, ``${...}`` parameter
    expansions, compound assignments, ``[[ ]]`` conditionals, variable names and assignments. A
    mixin: the state is :class:`_Parser`'s."""

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
