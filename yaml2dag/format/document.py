"""The parsed workflow file: :class:`Document` (plain values plus the line and column of every
key and value) and document paths (:data:`DocPath`, :func:`format_path`).

Positions are recorded by the YAML loader (:mod:`yaml2dag.format.yaml_builder`); problems built
from a :class:`Document` carry the end column of their token, read as PyYAML counts lines
(YAML 1.1 line breaks). Nothing here imports Dagster or parses YAML.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from yaml2dag.format.errors import Problem

#: Path inside a document: mapping keys (str) and sequence indices (int).
DocPath = tuple


def format_path(path: DocPath) -> str:
    """``('steps', 2, 'retry')`` → ``steps[2].retry``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Document:
    """A parsed workflow file.

    Attributes:
        file: the file name as the user gave it.
        text: the file's text.
        data: the document as plain Python values (dict, list, str, int, float, bool, None);
            ``None`` when the file could not be parsed.
        problems: syntax problems found while loading (duplicate keys, unquoted templates, ...).
        content_hash: SHA-256 of the file's bytes (hex), recorded on every run.
    """

    file: str
    text: str
    data: Any = None
    problems: list[Problem] = field(default_factory=list)
    content_hash: str = ""
    _values: dict = field(default_factory=dict, repr=False)
    _keys: dict = field(default_factory=dict, repr=False)
    _literal: dict = field(default_factory=dict, repr=False)  # path -> line of a `|` block scalar
    _lines: list | None = field(default=None, repr=False)  # the text's lines, split when first needed
    _ends: dict = field(default_factory=dict, repr=False)  # path -> end mark of a scalar value

    @property
    def ok(self) -> bool:
        """True when the file parsed (it may still be an invalid workflow)."""
        return self.data is not None and not any(p.rule == "syntax" for p in self.problems)

    def position(self, path: DocPath, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the value at ``path`` (of its key when ``key``).

        Falls back to the nearest ancestor that has a position, then to (1, 1).
        """
        path = tuple(path)
        if key and path in self._keys:
            return self._keys[path]
        while path:
            if path in self._values:
                return self._values[path]
            path = path[:-1]
        return self._values.get((), (1, 1))

    def problem(
        self, path: DocPath, message: str, rule: str = "schema", *, key: bool = False, severity="error",
        keyword: str = "", expected: Any = None, actual: Any = None,
    ) -> Problem:
        """A :class:`Problem` located at ``path`` in this document (at its key when ``key``),
        with its end column (:meth:`end_column`); ``keyword``, ``expected`` and ``actual`` are
        passed on (:class:`~yaml2dag.format.errors.Problem`)."""
        line, column = self.position(path, key=key)
        inner = _INNER_LINE.search(message)
        start = self._literal.get(tuple(path))
        if inner and start is not None and not key:
            # a template error inside a `|` block: point at the line itself, not at the `|`
            lines = self.text.splitlines()
            target = start + int(inner.group(1))
            if target <= len(lines):
                text = lines[target - 1]
                line, column = target, len(text) - len(text.lstrip()) + 1
                message = message[: inner.start()].rstrip()
        return Problem(self.file, line, column, format_path(path), message, rule, severity, keyword=keyword,
                       expected=expected, actual=actual, end_column=self.end_column(line, column, path, key))

    def end_column(self, line: int, column: int, path: DocPath | None = None, key: bool = False) -> int:
        """1-based column just after the YAML token that starts at ``line``:``column`` (exclusive,
        like SARIF's ``endColumn``). The end of the scalar value at ``path`` as the YAML parser saw
        it, when it ends on that line; else read from the line: a quoted string to its closing
        quote, a flow ``[...]``/``{...}`` to its closing bracket, a key to its ``:``, a plain value
        to the end of the line (without a trailing comment); the rest of the line when the token
        goes on past it. 0 when the position is unknown or outside the text."""
        if line < 1 or column < 1:
            return 0
        mark = self._ends.get(tuple(path)) if path is not None and not key else None
        if mark is not None and mark.line + 1 == line and mark.column + 1 > column:
            return mark.column + 1
        if self._lines is None:
            self._lines = _YAML_LINE_BREAK.split(self.text)  # the lines YAML counts (not str.splitlines)
        if line > len(self._lines):
            return 0
        return _token_end(self._lines[line - 1], column - 1) + 1


_CLOSING = {"[": "]", "{": "}"}
#: The line breaks of YAML 1.1 as PyYAML reads them (its marks count lines by these).
_YAML_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _token_end(text: str, start: int) -> int:
    """0-based index just after the token of ``text`` (one line) that starts at ``start``."""
    end = len(text.rstrip())
    if start >= end:
        return min(start + 1, len(text)) if start < len(text) else start
    first = text[start]
    if first in "'\"":
        i = start + 1
        while i < len(text):
            if text[i] == first:
                if first == "'" and text[i + 1:i + 2] == "'":  # '' is a quote inside '...'
                    i += 2
                    continue
                return i + 1
            i += 2 if first == '"' and text[i] == "\\" else 1
        return end
    if first in _CLOSING:
        depth, quote = 0, ""
        for i in range(start, len(text)):
            c = text[i]
            if quote:
                quote = "" if c == quote else quote
            elif c in "'\"":
                quote = c
            elif c in "[{":
                depth += 1
            elif c in "]}":
                depth -= 1
                if depth == 0:
                    return i + 1
        return end
    # a key (`name:`), a plain scalar, a `|`/`>` indicator or `- ` item: up to `: `, ` #` or the end
    stop = end
    for marker in (": ", " #"):
        at = text.find(marker, start)
        if at != -1:
            stop = min(stop, at)
    if text.endswith(":", 0, stop) and stop == end:
        stop -= 1
    return max(len(text[:stop].rstrip()), start + 1)


#: "(line N)" at the end of a template error: the line inside the template text.
_INNER_LINE = re.compile(r"\s*\(line (\d+)\)$")
