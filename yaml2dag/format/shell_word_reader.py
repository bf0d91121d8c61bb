"""Reading shell words for the parser of :mod:`yaml2dag.format.shell_parser` (spec §5).

Quoting (single, double, ``$'...'``), ``$`` and backtick expansions, redirections and
here-documents, as bash 5.2 reads them ("Quoting", "Shell Expansions", "Redirections" in the
bash manual).
"""


from __future__ import annotations

from yaml2dag.format.shell_context_kinds import _ASSIGNMENT, _IDENT, _METACHARS, _Word


class _WordReader:
    """Reading words for :class:`_Parser`: quoting, ``$`` and backtick expansions, redirections and
    here-documents. A mixin: the state (``s``, ``i``, ``contexts``...) is :class:`_Parser`'s."""

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
