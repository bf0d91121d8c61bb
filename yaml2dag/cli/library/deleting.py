"""``yaml2dag delete``: delete a workflow file, archiving it first."""

from __future__ import annotations

import click

from yaml2dag.cli.library.common import (
    YES_OPTION,
    _confirm,
    _esc,
    _fail,
    _find,
    _job_of_report,
    _library,
    _out,
    _report_change,
)
from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand
from yaml2dag.library.versions.changes import delete_workflow
from yaml2dag.library.versions.writes import LibraryWriteError


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@YES_OPTION
@FORMAT_OPTION
def delete(name: str, yes: bool, fmt: str) -> None:
    """Delete workflow NAME from the definitions folder (asks first; --yes for scripts). The
    file is kept under .versions/<job>/ so `yaml2dag import` can bring it back."""
    library = _library(fmt)
    report = _find(library, name, fmt)
    out = _out(fmt)
    wf = report.workflow
    users = []
    for other in library.reports():
        if other is report or other.workflow is None:
            continue
        refs = {getattr(e, "workflow", None) for e in other.workflow.iter_steps()}
        refs |= {t.options.get("workflow") for t in other.workflow.triggers if t.type == "workflow"}
        if wf is not None and ({wf.name, wf.id} & {r for r in refs if r}):
            users.append(other.workflow.name)
    if users:
        out.print(f"[yellow]warning[/]: used by {_esc(', '.join(users))} (as a sub-workflow or upstream workflow)")
    label = f"{wf.name if wf else report.file} ({report.file})"
    if not yes and not _confirm(out, f"Delete {label}?", False):
        _fail(fmt, "not deleted", 1)
    try:
        change = delete_workflow(library.folder, report.file, _job_of_report(report))
    except LibraryWriteError as exc:
        _fail(fmt, str(exc), 1)
    change.workflow = wf.name if wf else None
    _report_change(fmt, change, out if fmt == "text" else None)
