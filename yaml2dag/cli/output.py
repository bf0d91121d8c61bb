"""Console helpers shared by the CLI commands: colours that degrade, JSON printing."""

from __future__ import annotations

import contextlib
import json
import os
import sys
from typing import Any, NoReturn, Sequence, TextIO

import click
from rich.console import Console
import textwrap
from rich.cells import cell_len
from rich.text import Text


#: The line width of a console whose stream is not a terminal (a pipe, a file, a CI log) and
#: ``COLUMNS`` is not set: wide enough that no table row is ever cut or wrapped.
UNBOUNDED_WIDTH = 1_000_000


def _is_terminal(stream: TextIO) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def console(file: TextIO | None = None, stderr: bool = False) -> Console:
    """A rich console on ``file`` (default: stdout, or stderr with ``stderr``).

    Plain text when the stream is not a terminal or ``NO_COLOR`` is set. Its width: the
    terminal's; ``$COLUMNS`` when set; otherwise, when the stream is not a terminal,
    :data:`UNBOUNDED_WIDTH`, so tables printed into a pipe or a CI log keep every column and
    every character of their rows (rich would assume 80 columns, or the width of a terminal
    on stdin, and cut them).
    """
    stream = file if file is not None else sys.stderr if stderr else sys.stdout
    width = None
    columns = os.environ.get("COLUMNS", "")
    if not (columns.isdigit() and int(columns) > 0) and not _is_terminal(stream):
        width = UNBOUNDED_WIDTH
    return Console(file=file, stderr=stderr, highlight=False, soft_wrap=True, width=width,
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


def asks_for_json(args: Sequence[str]) -> bool:
    """True when a command line asks for ``--format json`` (``--format json`` or ``--format=json``)."""
    items = list(args)
    for i, arg in enumerate(items):
        if arg == "--format=json" or (arg == "--format" and i + 1 < len(items) and items[i + 1] == "json"):
            return True
    return False


class JsonErrorsCommand(click.Command):
    """A click command whose usage errors (a bad option value, a missing argument, a file that
    does not exist, an unknown option) are printed as one JSON document ``{"error": message}``
    on stdout when its command line has ``--format json``; the exit code stays click's (2).
    Without ``--format json`` click reports them as usual.

    A subclass with ``problem_list = True`` adds ``"errors": []`` to that document, for commands
    whose JSON errors always carry a problem list (``yaml2dag run``: ``{"error", "errors"}``)."""

    problem_list = False

    def _usage_error_json(self, exc: click.UsageError) -> None:
        document: dict[str, Any] = {"error": exc.format_message()}
        if self.problem_list:
            document["errors"] = []
        print_json(document)

    def make_context(self, info_name: str | None, args: list[str], parent: click.Context | None = None,
                     **extra: Any) -> click.Context:
        wants_json = asks_for_json(args)
        try:
            ctx = super().make_context(info_name, args, parent=parent, **extra)
        except click.UsageError as exc:
            if not wants_json:
                raise
            self._usage_error_json(exc)
            raise SystemExit(exc.exit_code) from None
        ctx.yaml2dag_json_errors = wants_json  # type: ignore[attr-defined]
        return ctx

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            if not getattr(ctx, "yaml2dag_json_errors", False):
                raise
            self._usage_error_json(exc)
            raise SystemExit(exc.exit_code) from None


FORMAT_OPTION = click.option(
    "--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True,
    help="Output for people (text) or scripts (json).",
)


#: One table cell: its text, or (text, rich style) for a coloured cell.
Cell = "str | tuple[str, str | None]"


def print_table(out: Console, headers: Sequence[str], rows: Sequence[Sequence[Any]], *,
                shrink: Sequence[int] = (), right: Sequence[int] = (), wrap: Sequence[int] = (),
                optional: Sequence[int] = ()) -> None:
    """Print an aligned table, much faster than ``rich.table.Table`` on long lists.

    Args:
        out: the console (its width, in terminal cells, bounds the line; colours follow it).
        headers: column titles, printed bold.
        rows: each row's cells, as text or ``(text, style)`` with a rich style such as ``"red"``.
            Text is printed as it is (never read as markup); a ``\\n`` in it starts another line
            of the same cell (the row is as tall as its tallest cell).
        shrink: indexes of the columns narrowed when the line is wider than the console, the
            last one first; the other columns are never narrowed. Text that no longer fits is
            cut with ``…``, or wrapped at spaces onto more lines for the columns in ``wrap``.
        right: indexes of right-aligned columns.
        wrap: indexes (among ``shrink``) of columns wrapped rather than cut; they are not
            narrowed below 24 cells (or their widest word) while other columns can give way.
        optional: indexes of columns left out, the last first, when the table would otherwise
            have to narrow some column below its floor (a narrow terminal: say 80 cells).
    """
    if optional:
        keep = _columns_that_fit(out.width, headers, rows, shrink, wrap, optional)
        if len(keep) < len(headers):
            def pick(seq: Sequence[Any]) -> list[Any]:
                return [seq[i] for i in keep]

            def moved(indexes: Sequence[int]) -> tuple[int, ...]:
                return tuple(keep.index(i) for i in indexes if i in keep)

            print_table(out, pick(headers), [pick(r) for r in rows], shrink=moved(shrink), right=moved(right),
                        wrap=moved(wrap))
            return

    def split(cell: Any) -> tuple[list[str], str | None]:
        text, style = (cell[0], cell[1]) if isinstance(cell, tuple) else (str(cell), None)
        return str(text).split("\n"), style

    table = [[([h], "bold") for h in headers]] + [[split(c) for c in row] for row in rows]
    widths = [max(cell_len(line) for r in table for line in r[i][0]) for i in range(len(headers))]
    excess = sum(widths) + 2 * (len(widths) - 1) - out.width

    def floor(index: int, last_resort: bool) -> int:
        if index in wrap and not last_resort:
            words = max((cell_len(w) for r in table[1:] for line in r[index][0] for w in line.split()), default=1)
            return max(cell_len(headers[index]), min(widths[index], max(24, min(words, 40))))
        return 1 if last_resort else cell_len(headers[index])

    # narrow the shrinkable columns, the last first: down to their floor, then to one cell
    for last_resort in (False, True):
        for index in reversed(list(shrink)):
            if excess <= 0:
                break
            cut = min(excess, max(widths[index] - floor(index, last_resort), 0))
            widths[index] -= cut
            excess -= cut
    lines = []
    for row in table:
        cells = []
        for i, (texts, style) in enumerate(row):
            fitted: list[str] = []
            for text in texts:
                if cell_len(text) <= widths[i]:
                    fitted.append(text)
                elif i in wrap and widths[i] > 1:
                    fitted += textwrap.wrap(text, widths[i], break_on_hyphens=False) or [""]
                else:
                    fitted.append(text[: max(widths[i] - 1, 0)] + "…")
            cells.append((fitted, style))
        for n in range(max(len(c[0]) for c in cells)):
            parts: list[tuple[str, str | None]] = []
            for i, (fitted, style) in enumerate(cells):
                text = fitted[n] if n < len(fitted) else ""
                if i:
                    parts.append(("  ", None))
                if cell_len(text) > widths[i]:  # a word wider than a wrapped column
                    text = text[: max(widths[i] - 1, 0)] + "…"
                pad = " " * (widths[i] - cell_len(text))
                if i in right:
                    parts.append((pad, None))
                parts.append((text, style))
                if i not in right and i != len(cells) - 1:
                    parts.append((pad, None))
            lines.append(parts)
    if out.color_system is None:
        # no terminal: plain text straight to the stream (styles would be dropped anyway, and
        # building rich Text objects took a fifth of `yaml2dag list` on 500 workflows)
        # continuation lines end where their last non-empty cell does
        out.file.write("".join("".join(t for t, _ in parts).rstrip() + "\n" for parts in lines))
        out.file.flush()
        return
    texts = []
    for parts in lines:
        line = Text(no_wrap=True, overflow="ellipsis")
        for text, style in parts:
            line.append(text, style)
        line.rstrip()  # continuation lines end where their last non-empty cell does
        texts.append(line)
    out.print(Text("\n").join(texts), crop=False, soft_wrap=True)


def _columns_that_fit(width: int, headers: Sequence[str], rows: Sequence[Sequence[Any]], shrink: Sequence[int],
                      wrap: Sequence[int], optional: Sequence[int]) -> list[int]:
    """The column indexes :func:`print_table` keeps: all of them, less the ``optional`` ones
    (the last first) while the table cannot fit ``width`` cells with every column at or above
    its floor (its header; 24 cells, or the widest word, for a wrapped column)."""
    def cell_lines(cell: Any) -> list[str]:
        return str(cell[0] if isinstance(cell, tuple) else cell).split("\n")

    widths, floors = [], []
    for i, header in enumerate(headers):
        lines = [header] + [line for row in rows for line in cell_lines(row[i])]
        widths.append(max(cell_len(line) for line in lines))
        if i not in shrink:
            floors.append(widths[i])
        elif i in wrap:
            words = max((cell_len(w) for line in lines[1:] for w in line.split()), default=1)
            floors.append(max(cell_len(header), min(widths[i], max(24, min(words, 40)))))
        else:
            floors.append(min(widths[i], cell_len(header)))
    keep = list(range(len(headers)))
    for index in reversed(list(optional)):
        if sum(floors[i] for i in keep) + 2 * (len(keep) - 1) <= width:
            break
        keep.remove(index)
    return keep


@contextlib.contextmanager
def stdout_to_stderr(enabled: bool):
    """While inside, file descriptor 1 (and ``sys.stdout``) point at stderr; then back.

    For commands that execute a run in this process under ``--format json`` (``run``,
    ``retry``): their stdout must be one JSON document, but a run writes to descriptor 1 from
    places yaml2dag does not control (``os.system`` in a python step, a C extension, the
    ``tail`` process that mirrors Dagster's compute logs to the terminal).

    Args:
        enabled: divert (else nothing changes).
    """
    if not enabled:
        yield
        return
    try:
        sys.stdout.flush()
        saved = os.dup(1)
        os.dup2(2, 1)
    except (OSError, ValueError, AttributeError):
        yield  # no descriptors to juggle (stdout replaced by a test runner): nothing to divert
        return
    try:
        yield
    finally:
        try:
            sys.stdout.flush()
        except Exception:  # noqa: BLE001 - a stream closed by the run is not the run's result
            pass
        os.dup2(saved, 1)
        os.close(saved)
