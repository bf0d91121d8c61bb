"""Console helpers shared by the CLI commands: colours that degrade, JSON printing."""

from __future__ import annotations

import json
import os
import sys
from typing import Any, NoReturn, Sequence, TextIO

import click
from rich.console import Console


def console(file: TextIO | None = None, stderr: bool = False) -> Console:
    """A rich console; plain text when the stream is not a terminal or ``NO_COLOR`` is set."""
    return Console(file=file, stderr=stderr, highlight=False, soft_wrap=True,
                   no_color=bool(os.environ.get("NO_COLOR")))


def print_json(data: Any, file: TextIO | None = None) -> None:
    """Print exactly one JSON document and a newline."""
    stream = file or sys.stdout
    stream.write(json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n")
    stream.flush()


def fail(message: str, code: int = 2) -> NoReturn:
    """Print ``error: message`` to stderr and exit with ``code``."""
    fail_as("text", message, code)


def fail_as(fmt: str, message: str, code: int, problems: Sequence[Any] | None = None) -> NoReturn:
    """Report an error in the command's output format and exit with ``code``.

    Args:
        fmt: ``"json"``: one JSON document on stdout, ``{"error": message}``, plus
            ``"errors": [problem.to_dict(), ...]`` when ``problems`` is given (even empty).
            Anything else: ``error: message`` on stderr, then each problem's ``format()`` line.
        message: what went wrong, one line.
        code: the exit code (1 nothing done, 2 usage error).
        problems: validation problems (objects with ``to_dict()`` and ``format()``), or None for
            commands whose JSON errors carry no problem list.
    """
    if fmt == "json":
        document: dict[str, Any] = {"error": message}
        if problems is not None:
            document["errors"] = [p.to_dict() for p in problems]
        print_json(document)
    else:
        click.echo(f"error: {message}", err=True)
        for problem in problems or []:
            click.echo(problem.format(), err=True)
    raise SystemExit(code)


FORMAT_OPTION = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="Output for people (text) or scripts (json).",
)


#: One table cell: its text, or (text, rich style) for a coloured cell.
Cell = "str | tuple[str, str | None]"


def print_table(out: Console, headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
                shrink: Sequence[int] = (), right: Sequence[int] = ()) -> None:
    """Print an aligned table, one line a row, much faster than ``rich.table.Table`` on long lists.

    Args:
        out: the console (its width, in terminal cells, bounds the line; colours follow it).
        headers: column titles, printed bold.
        rows: each row's cells, as text or ``(text, style)`` with a rich style such as ``"red"``.
            Text is printed as it is (never read as markup).
        shrink: indexes of the columns cut with ``…`` when the line is wider than the console,
            the last one first; the other columns are never cut.
        right: indexes of right-aligned columns.
    """
    from rich.cells import cell_len
    from rich.text import Text

    def split(cell: Any) -> tuple[str, str | None]:
        return (cell[0], cell[1]) if isinstance(cell, tuple) else (str(cell), None)

    table = [[(h, "bold") for h in headers]] + [[split(c) for c in row] for row in rows]
    widths = [max(cell_len(r[i][0]) for r in table) for i in range(len(headers))]
    excess = sum(widths) + 2 * (len(widths) - 1) - out.width
    # narrow the shrinkable columns, the last first: down to their title's width, then to one cell
    for floors in ([cell_len(headers[i]) for i in range(len(headers))], [1] * len(headers)):
        for index in reversed(list(shrink)):
            if excess <= 0:
                break
            cut = min(excess, max(widths[index] - floors[index], 0))
            widths[index] -= cut
            excess -= cut
    lines = []
    for row in table:
        line = Text(no_wrap=True, overflow="ellipsis")
        for i, (text, style) in enumerate(row):
            if i:
                line.append("  ")
            length = cell_len(text)
            if length > widths[i]:
                text = text[: max(widths[i] - 1, 0)] + "…"
                length = cell_len(text)
            pad = " " * (widths[i] - length)
            if i in right:
                line.append(pad)
            line.append(text, style)
            if i not in right and i != len(row) - 1:
                line.append(pad)
        lines.append(line)
    out.print(Text("\n").join(lines), crop=False, soft_wrap=True)
