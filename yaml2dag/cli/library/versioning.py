"""``yaml2dag versions``, ``rollback`` and ``diff``: the saved versions of a workflow."""

from __future__ import annotations

import difflib
from pathlib import Path

import click

from yaml2dag.cli.library.common import _esc, _fail, _find, _job_of_report, _library, _report_change
from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand, console, print_json
from rich.table import Table
from yaml2dag.library.versions.changes import rollback as do_rollback
from yaml2dag.library.versions.checks import version_of
from yaml2dag.library.versions.store import history, read_log, text_of
from yaml2dag.library.versions.writes import LibraryWriteError


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@FORMAT_OPTION
def versions(name: str, fmt: str) -> None:
    """List the versions of workflow NAME: the saved ones (.versions/<job>/) and the current
    file, with the change log (who changed what, when)."""
    library = _library(fmt)
    report = _find(library, name, fmt)
    job = _job_of_report(report)
    items = history(library.folder, report.file, job)
    log = read_log(library.folder, job)
    current = next((v for v in items if v.current), None)
    revision = log[-1]["seq"] if log else None
    if fmt == "json":
        print_json({"workflow": report.workflow.name if report.workflow else None, "job": job, "file": report.file,
                    "revision": revision,
                    "current": {"version": current.version, "revision": revision, "hash": current.content_hash,
                                "rollback": current.rollback} if current is not None else None,
                    "versions": [v.to_json() for v in items], "log": log})
        return

    out = console()
    if current is not None:
        line = f"[bold]{_esc(report.workflow.name if report.workflow else job)}[/]: current version {_esc(current.version)}"
        if revision is not None:
            line += f", revision #{revision}"
        if current.rollback:
            line += (f" — [bold]rolled back[/] to saved version {_esc(current.rollback.get('restored'))} "
                     f"(replacing {_esc(current.rollback.get('previous') or '-')})")
        out.print(line)
    table = Table(box=None, pad_edge=False, show_edge=False)
    for col in ("Version", "Revisions", "Saved (UTC)", "Hash", "File"):
        table.add_column(col, overflow="fold", no_wrap=col != "File")
    for item in items:
        mark = " [bold](current)[/]" if item.current else " (= current)" if item.same_as_current else ""
        try:
            shown = str(Path(item.file).resolve().relative_to(library.folder.resolve()))
        except ValueError:
            shown = item.file
        revs = ", ".join(f"#{n}" for n in item.revisions[-3:]) or "-"
        if item.current and item.rollback:
            revs += " (rollback)"
        table.add_row(_esc(item.version) + mark, revs, item.saved_at.replace("T", " ")[:16],
                      item.content_hash[:12], _esc(shown))
    out.print(table)
    if log:
        out.print("[bold]Changes[/]")
        for entry in log[-20:]:
            what = entry.get("action")
            detail = f"{entry.get('previous') or '-'} → {entry.get('version') or '-'}"
            if entry.get("restored"):
                detail += f" (restored saved version {entry['restored']})"
            out.print(f"  #{entry.get('seq')}  {entry.get('at', '')[:19].replace('T', ' ')}  {what:<9} {detail}  "
                      f"by {entry.get('by')}", markup=False, style="bold" if what == "rollback" else None)


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@click.argument("version")
@FORMAT_OPTION
def rollback(name: str, version: str, fmt: str) -> None:
    """Restore saved VERSION of workflow NAME, byte for byte (its `version` field is VERSION
    again). The rollback is a new revision in the change log; the file it replaces is kept as a
    version, so a rollback can itself be rolled back, and the next change bumps above every
    saved version."""
    library = _library(fmt)
    report = _find(library, name, fmt)
    try:
        change = do_rollback(library.folder, report.file, _job_of_report(report), version)
    except LibraryWriteError as exc:
        _fail(fmt, str(exc), 1, exc.problems)
    _report_change(fmt, change)


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@click.argument("v1")
@click.argument("v2", required=False, default="current")
@click.option("--context", "-U", "context", type=click.IntRange(min=0), default=3, show_default=True,
              help="Lines of context.")
@FORMAT_OPTION
def diff(name: str, v1: str, v2: str, context: int, fmt: str) -> None:
    """Show a unified diff between versions V1 and V2 (default: the current file) of workflow
    NAME. `current` names the file in the definitions folder."""
    library = _library(fmt)
    report = _find(library, name, fmt)
    job = _job_of_report(report)
    texts = []
    labels = []
    for version in (v1, v2):
        try:
            if version == "current":
                text = Path(report.file).read_text(encoding="utf-8")
                labels.append(f"{job}@{version_of(text)} (current)")
            else:
                text = text_of(library.folder, report.file, job, version)
                labels.append(f"{job}@{version}")
        except LibraryWriteError as exc:
            _fail(fmt, str(exc), 2)
        texts.append(text)
    lines = list(difflib.unified_diff(texts[0].splitlines(keepends=True), texts[1].splitlines(keepends=True),
                                      fromfile=labels[0], tofile=labels[1], n=context))
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    if fmt == "json":
        print_json({"workflow": report.workflow.name if report.workflow else None, "job": job, "from": v1, "to": v2,
                    "changed": bool(lines), "diff": text})
        return
    if not lines:
        console().print(f"{labels[0]} and {labels[1]} are identical", markup=False)
        return
    out = console()
    for line in text.splitlines():
        style = "bold" if line.startswith(("+++", "---")) else "green" if line.startswith("+") else \
            "red" if line.startswith("-") else "cyan" if line.startswith("@@") else None
        out.print(line, style=style, markup=False, highlight=False)
