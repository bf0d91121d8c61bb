"""``yaml2dag edit``: edit a workflow in ``$EDITOR``; an invalid file is never saved."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

import click

from yaml2dag.cli.library.common import _confirm, _esc, _fail, _find, _library, _out, _report_change
from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand, print_json
from yaml2dag.library.versions.changes import commit_change
from yaml2dag.library.versions.checks import check_text
from yaml2dag.library.versions.writes import LibraryWriteError


_EDIT_MARK = "#! yaml2dag edit: "


def _strip_marks(text: str) -> str:
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith(_EDIT_MARK):
        lines.pop(0)
    return "".join(lines)


def _editor_command(editor: str | None) -> list[str]:
    command = editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    return shlex.split(command)


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@click.option("--editor", default=None, help="Editor command (default: $VISUAL, $EDITOR, vi).")
@FORMAT_OPTION
def edit(name: str, editor: str | None, fmt: str) -> None:
    """Edit workflow NAME in your editor. On save the file is validated; on errors the editor
    opens again with the errors listed at the top; an invalid file is never saved. Saving
    bumps the version (unless you set a new one) and keeps the previous file."""
    library = _library(fmt)
    report = _find(library, name, fmt)
    path = Path(report.file)
    original = path.read_text(encoding="utf-8")
    out = _out(fmt)
    workdir = Path(tempfile.mkdtemp(prefix="yaml2dag-edit-"))
    scratch = workdir / path.name
    scratch.write_text(original, encoding="utf-8")
    last_bad: str | None = None
    try:
        while True:
            try:
                code = subprocess.call([*_editor_command(editor), str(scratch)])
            except OSError as exc:
                _fail(fmt, f"cannot start the editor: {exc}", 2)
            if code != 0:
                _fail(fmt, f"the editor exited with code {code}; nothing was saved", 1)
            text = _strip_marks(scratch.read_text(encoding="utf-8"))
            if not text.strip():
                _fail(fmt, "the file is empty; nothing was saved", 1)
            if text == original:
                if fmt == "json":
                    print_json({"action": "edit", "file": str(path), "changed": False})
                else:
                    out.print("no changes")
                return
            if text == last_bad:
                _fail(fmt, "the file still has the errors above and was not changed; nothing was saved", 1)
            problems: list = []
            message = None
            check = check_text(library.folder, text, path)
            if check.valid:
                try:
                    change = commit_change(library.folder, path, text, action="edit")
                    _report_change(fmt, change, out if fmt == "text" else None)
                    return
                except LibraryWriteError as exc:
                    message, problems = str(exc), exc.problems
            else:
                message, problems = "the file has errors; nothing was saved", check.errors
            out.print(f"[red]error[/]: {_esc(message)}")
            for problem in problems:
                out.print(problem.format(), style="red", markup=False)
            last_bad = text
            if sys.stdin.isatty() and not _confirm(out, "Open the editor again to fix them?", True):
                _fail(fmt, "nothing was saved", 1)
            header = [f"{_EDIT_MARK}fix these and save; save an empty file to give up (these lines are removed)\n"]
            header += [f"{_EDIT_MARK}{p.format()}\n" for p in problems] or [f"{_EDIT_MARK}{message}\n"]
            scratch.write_text("".join(header) + text, encoding="utf-8")
    finally:
        for leftover in workdir.iterdir():
            leftover.unlink()
        workdir.rmdir()
