"""What the library commands share: the definitions folder and a workflow in it, errors, yes/no
questions on stdin, and printing a change.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import click

from yaml2dag.cli.output import console, fail_as, print_json
from rich.markup import escape
from rich.syntax import Syntax
from yaml2dag.format.errors import WorkflowNotFoundError
from yaml2dag.format.model import slugify
from yaml2dag.library.folder import Library
from yaml2dag.library.versions.changes import commit_change
from yaml2dag.library.versions.writes import LibraryWriteError, inside


YES_OPTION = click.option("--yes", "-y", "yes", is_flag=True, help="Do not ask for confirmation.")


class _Ended(Exception):
    """stdin ended while a question was waiting for an answer."""


def _fail(fmt: str, message: str, code: int = 1, problems: list | None = None) -> None:
    """:func:`fail_as`; the JSON error always lists the problems (maybe none)."""
    fail_as(fmt, message, code, problems or [])


def _library(fmt: str):
    library = Library()
    if not library.folder.is_dir():
        _fail(fmt, f"the definitions folder {library.folder} does not exist (set YAML2DAG_DEFINITIONS "
                   "or run from the project folder)", 2)
    return library


def _find(library, name: str, fmt: str):
    """The library workflow ``name`` (must be a file inside the folder)."""
    try:
        report = library.find(name)
    except WorkflowNotFoundError as exc:
        _fail(fmt, str(exc), 2)
    try:
        inside(library.folder, report.file)
    except LibraryWriteError:
        _fail(fmt, f"{report.file} is not in the definitions folder {library.folder}; "
                   "use `yaml2dag import` to add it first", 2)
    return report


def _job_of_report(report) -> str:
    wf = report.workflow
    if wf is not None and wf.id:
        return wf.id
    return slugify(Path(report.file).stem)


def _out(fmt: str):
    """The console for people: stdout, or stderr when stdout carries JSON."""
    return console(stderr=fmt == "json")


def _esc(text: Any) -> str:
    return escape("" if text is None else str(text))


def _read_line(out=None) -> str:
    """One answer from stdin; echoed to ``out`` when stdin is not a terminal (so a piped
    session reads like a typed one). Raises _Ended at end of input."""
    line = sys.stdin.readline()
    if line == "":
        raise _Ended()
    answer = line.rstrip("\r\n")
    if out is not None and not sys.stdin.isatty():
        out.print(answer, markup=False, highlight=False)
    return answer


def _confirm(out, question: str, default: bool) -> bool:
    """Ask a yes/no question on stdin; end of input answers ``no``."""
    hint = "[Y/n]" if default else "[y/N]"
    while True:
        out.print(f"{question} {hint} ", end="", markup=False)
        try:
            answer = _read_line(out).strip().lower()
        except _Ended:
            out.print("")
            return False
        if not answer:
            return default
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        out.print("please answer y or n", style="yellow")


def _show_yaml(out, text: str) -> None:
    if out.is_terminal and not os.environ.get("NO_COLOR"):
        out.print(Syntax(text, "yaml", background_color="default"))
    else:
        out.print(text, markup=False, highlight=False, end="" if text.endswith("\n") else "\n")


def _report_change(fmt: str, change, out=None, message: str | None = None) -> None:
    if fmt == "json":
        print_json(change.to_json())
        return
    out = out or console()
    if message:
        out.print(message)
    elif not change.changed:
        out.print(f"no changes: {_esc(change.file)} is already version {_esc(change.version)}")
    else:
        what = {"create": "created", "import": "imported", "edit": "saved", "schedule": "saved",
                "rollback": "restored", "delete": "deleted"}.get(change.action, change.action)
        version = f" version {_esc(change.version)}" if change.version else ""
        before = f" (was {_esc(change.previous_version)})" if change.previous_version and change.version else ""
        revision = f" as revision #{change.revision}" if change.revision and change.action != "create" else ""
        out.print(f"[green]✓[/] {what} {_esc(change.workflow or change.job)}{version}{before}{revision}: "
                  f"{_esc(change.file)}")
        if change.archived:
            out.print(f"  previous file kept as {_esc(change.archived)}", style="dim", markup=False)
    for warning in change.warnings:
        out.print(warning, style="yellow", markup=False)


def _commit(fmt: str, library, path, text: str, action: str, *, create: bool = False, bump: bool = True):
    try:
        return commit_change(library.folder, path, text, action=action, create=create, bump=bump)
    except LibraryWriteError as exc:
        _fail(fmt, str(exc), 1, exc.problems)
