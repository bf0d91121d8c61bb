"""Where each ``{{ ... }}`` sits in a shell command, read from the template text (spec §5).

:func:`shell_source` turns a shell command template into one whose every ``{{ ... }}`` renders as
one quoted word (:mod:`yaml2dag.format.expression_shell_words`), skipping comments and here-documents
(:class:`_ShellScanner`); :func:`shell_analysis` gives the bash context of each inserted value
(:mod:`yaml2dag.format.shell_contexts`) for the validator's rule ``shell``.
"""


from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

from jinja2.exceptions import TemplateSyntaxError

from yaml2dag.format.errors import TemplateError
from yaml2dag.format.expression_sandbox import ENV
from yaml2dag.format.shell_contexts import analyze_command


def shell_source(source: str) -> str:
    """Rewrite a command template so each ``{{ expr }}`` becomes one shell word.

    Each expression is filtered through ``_shell_word`` with the shell state around it (plain,
    inside ``'...'``, ``$'...'`` or ``"..."``, a ``# comment``, or a here-document body), tracked
    through the literal text by :class:`_ShellScanner`, so ``echo "hello {{ name }}"`` prints
    ``hello bob`` and a value such as ``x; touch pwned`` stays one literal word.

    Raises:
        TemplateError: a backslash escapes the start of an inserted value (``\\{{ x }}``), or a
            value is inserted into a quoted here-document (``<<'EOF'``), where it cannot expand.
    """
    out: list[str] = []
    scanner = _ShellScanner()
    in_var = False
    var_state: str | None = None
    tokens = _shell_tokens(source)
    contexts = iter(shell_analysis(source)[0])
    for lineno, token, value in tokens:
        if token == "variable_begin":
            if scanner.escaped:  # `\{{ x }}` would escape the opening quote of the inserted word
                raise TemplateError(f"template syntax error: a backslash right before {value} would escape "
                                    f"the inserted value; remove it (line {lineno})")
            if scanner.state == "<<'":
                raise TemplateError(f"template syntax error: a value cannot be inserted into a quoted "
                                    f"here-document (<<'{scanner.heredoc[0]}'), where the shell does not "
                                    f"expand it; leave the delimiter unquoted (line {lineno})")
            in_var = True
            var_state = scanner.state
            out.append(value + " (")
            continue
        if token == "variable_end":
            in_var = False
            label, context, _line = next(contexts)
            extra = f", {context.kind!r}, {context.where!r}, {label!r}" if context.kind else ""
            out.append(f") | _shell_word({var_state!r}{extra}) " + value)
            scanner.word_inserted()
            continue
        if token == "data" and not in_var:
            scanner.feed(value)
        out.append(value)
    return "".join(out)


def _shell_tokens(source: str) -> list:
    try:
        return list(ENV.lexer.tokeniter(source, None))
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message} (line {exc.lineno})") from None


def _label(tokens: list[tuple[str, Any]]) -> str:
    """The source of a ``{{ ... }}`` expression, rebuilt from its tokens (for messages)."""
    out = ""
    for token, value in tokens:
        text = str(value)  # the lexer's raw text (a string keeps its quotes)
        if out and out[-1] not in ".([" and text not in (".", ",", ")", "]", "(", "["):
            out += " "
        out += text
    return out


@lru_cache(maxsize=1024)
def shell_analysis(source: str) -> tuple[tuple[tuple[str, Any, int], ...], frozenset[str]]:
    """Where bash uses each ``{{ ... }}`` of a command template (:mod:`yaml2dag.format.shell_contexts`).

    Returns:
        ``(((label, Context, line), ...), arith_names)``: for each expression in order, its
        source text (``"n"``, ``"params.n | int"``), its :class:`~yaml2dag.format.shell_contexts.Context`
        and its line in the template; and the shell variables the command evaluates as arithmetic.

    Raises:
        TemplateError: the template has a syntax error.
    """
    pieces: list[str] = [""]
    labels: list[str] = []
    lines: list[int] = []
    expression: list[tuple[str, Any]] | None = None
    for lineno, token, value in _shell_tokens(source):
        if token == "variable_begin":
            expression = []
            lines.append(lineno)
        elif token == "variable_end":
            labels.append(_label(expression or []))
            pieces.append("")
            expression = None
        elif expression is not None:
            if token not in ("whitespace", "comment"):
                expression.append((token, value))
        elif token == "data":
            pieces[-1] += value
    analysis = analyze_command(pieces)
    return tuple(zip(labels, analysis.contexts, lines)), analysis.arith_names


#: An unquoted ``#`` after one of these (or at the start) begins a shell comment.
_COMMENT_AFTER = " \t\n;&|()<>"
_HEREDOC = re.compile(r"<<(-?)[ \t]*(?:'([^'\n]+)'|\"([^\"\n]+)\"|\\?([A-Za-z_][A-Za-z0-9_]*))")


class _ShellScanner:
    """Follows the quoting state of a shell command's literal text, one piece at a time.

    ``state`` is None (plain), ``'``, ``$'``, ``"``, ``#`` (a comment), ``<<`` (the body of an
    unquoted here-document, where the shell expands ``${...}`` but not quotes) or ``<<'`` (a
    quoted here-document, where nothing expands).
    """

    def __init__(self) -> None:
        self.state: str | None = None
        self.escaped = False  # the text so far ends with an escaping backslash
        self.prev = ""  # the last character (or "x" after an inserted word)
        self.line = ""  # the current line (to find here-document delimiters)
        self.pending: list[tuple[str, bool, bool]] = []  # here-documents opened on this line
        self.heredoc: tuple[str, bool, bool] | None = None  # (delimiter, strip tabs, quoted)

    def word_inserted(self) -> None:
        self.prev = "x"
        self.line += "\0"  # a line with a value in it is never a delimiter line

    def feed(self, text: str) -> None:
        for ch in text:
            self._char(ch)

    def _char(self, ch: str) -> None:
        last, self.prev = self.prev, ch
        if ch == "\n":
            self._end_of_line()
            return
        self.line += ch
        state = self.state
        if state in ("<<", "<<'"):
            return
        if state == "#":
            return
        if self.escaped:
            self.escaped, self.prev = False, "\0"  # an escaped `$` does not start a $'...' string
            return
        if ch == "\\" and state != "'":
            self.escaped = True  # also inside $'...', where \' does not end the string
        elif ch == "#" and state is None and (last == "" or last in _COMMENT_AFTER):
            self.state = "#"
        elif ch == "'" and state is None:
            self.state = "$'" if last == "$" else "'"
        elif ch == "'" and state in ("'", "$'"):
            self.state = None
        elif ch == '"' and state is None:
            self.state = '"'
        elif ch == '"' and state == '"':
            self.state = None

    def _end_of_line(self) -> None:
        line, self.line = self.line, ""
        if self.state in ("<<", "<<'"):
            assert self.heredoc is not None
            word, strip, _quoted = self.heredoc
            candidate = line.lstrip("\t") if strip else line
            if candidate == word:
                self.heredoc = self.pending.pop(0) if self.pending else None
                self.state = ("<<'" if self.heredoc[2] else "<<") if self.heredoc else None
            return
        if self.state == "#":
            self.state = None
        if self.state is None:
            for match in _HEREDOC.finditer(line):
                if line[match.start():match.start() + 3] == "<<<":
                    continue
                word = match.group(2) or match.group(3) or match.group(4)
                quoted = match.group(4) is None or match.group(0).find("\\") != -1
                self.pending.append((word, match.group(1) == "-", quoted))
            if self.pending:
                self.heredoc = self.pending.pop(0)
                self.state = "<<'" if self.heredoc[2] else "<<"
