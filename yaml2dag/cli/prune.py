"""``yaml2dag prune``: delete old finished runs from the Dagster instance, with their event logs,
compute logs and stored step outputs, after exporting their audit records when asked (issue 15,
point 5). The selection and the deletion are :mod:`yaml2dag.runs.history.prune`.

Exit codes: 0 done (also when nothing was old enough), 1 the export failed (nothing deleted) or a
run's files could not be removed, 2 usage errors.
"""

from __future__ import annotations

import click

from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand, console, fail_as, print_json, print_table
from yaml2dag.library.folder import Library
from yaml2dag.library.versions.writes import LibraryWriteError, check_writable_target
from yaml2dag.runs.history.prune import (
    PruneExportError, parse_now, parse_older_than, parse_statuses, plan_prune, prune_runs,
)
from yaml2dag.runs.history.queries import resolve_job
from yaml2dag.runs.runner import get_instance


def _library():
    library = Library()
    return library if library.folder.is_dir() else None


def _size(count: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if count < 1024 or unit == "GB":
            return f"{count} {unit}" if unit == "bytes" else f"{count:.1f} {unit}"
        count /= 1024
    return str(count)


@click.command(cls=JsonErrorsCommand)
@click.option("--older-than", "older_than", required=True, metavar="DURATION",
              help="Delete finished runs that ended more than this long ago: 90d, 12h, 2w, 30m, P90D "
                   "(a unit is required).")
@click.option("--workflow", "workflows", multiple=True, metavar="NAME",
              help="Only runs of this workflow (a name, job id or file; repeatable).")
@click.option("--status", "statuses", multiple=True, metavar="STATUS",
              help="Only finished runs with this status: completed (or success), failed (or failure), "
                   "canceled (repeatable; comma lists allowed). Default: all three.")
@click.option("--dry-run", is_flag=True, help="List the runs that would be deleted; delete and write nothing.")
@click.option("--export", "export", type=click.Path(dir_okay=False), default=None, metavar="FILE",
              help="First write the audit records of the runs to FILE (JSON Lines: one record a line); "
                   "if that fails nothing is deleted.")
@click.option("--force", is_flag=True, help="Overwrite the --export file if it exists.")
@click.option("--now", "now", default=None, metavar="TIME",
              help="Measure ages from this ISO-8601 time instead of the current time "
                   "(for reproducible runs and tests), e.g. 2026-12-01T00:00:00Z.")
@FORMAT_OPTION
def prune(older_than: str, workflows: tuple[str, ...], statuses: tuple[str, ...], dry_run: bool,
          export: str | None, force: bool, now: str | None, fmt: str) -> None:
    """Delete the finished runs older than --older-than from the Dagster instance: each run, its
    tags, its event log, its compute logs and the step outputs stored for it. A run that is not
    finished (queued, starting, running, paused at an approval gate, canceling) is never deleted,
    however old; it is counted as kept, with the reason."""
    try:
        older_than_s = parse_older_than(older_than)
    except ValueError as exc:
        fail_as(fmt, f"--older-than: {exc}", 2)
    try:
        wanted = parse_statuses(statuses)
    except ValueError as exc:
        fail_as(fmt, f"--status: {exc}", 2)
    try:
        moment = parse_now(now)
    except ValueError as exc:
        fail_as(fmt, f"--now: {exc}", 2)
    if export and not dry_run:
        try:
            check_writable_target(export, force)
        except LibraryWriteError as exc:
            fail_as(fmt, f"--export: {exc}", 2)
    library = _library()
    jobs = [resolve_job(name, library)[0] for name in workflows]
    instance = get_instance()
    plan = plan_prune(instance, older_than_s, jobs=jobs, statuses=wanted, now=moment)
    try:
        data = prune_runs(instance, plan, dry_run=dry_run, export=export, library=library)
    except PruneExportError as exc:
        fail_as(fmt, f"{exc}; nothing was deleted", 1)
    except OSError as exc:
        fail_as(fmt, f"could not remove a run's files: {exc}; run prune again to finish", 1)
    data["older_than"] = older_than
    if fmt == "json":
        print_json(data)
        return
    _print(data, export)


def _print(data: dict, export: str | None) -> None:
    out = console()
    cutoff = data["cutoff"].replace("T", " ").split("+")[0]
    if data["dry_run"]:
        out.print(f"dry run: {data['total']} run(s) that ended before {cutoff} UTC would be deleted; nothing was "
                  "deleted" + (f" and {export} was not written" if export else ""), markup=False)
        if data["runs"]:
            rows = [[r["run_id"], r["workflow"] or r["job"], r["status"], (r["ended_at"] or r["created_at"] or "-")
                     .replace("T", " ").split("+")[0]] for r in data["runs"]]
            print_table(out, ["Run", "Workflow", "Status", "Ended (UTC)"], rows, shrink=(1,))
    else:
        if data["export"]:
            out.print(f"exported {data['export']['records']} audit record(s) to {data['export']['file']} (JSON Lines)",
                      markup=False)
        out.print(f"deleted {data['deleted']} run(s) that ended before {cutoff} UTC "
                  f"({_size(data['freed_bytes'])} of files)", markup=False)
    if data["counts"]:
        rows = [[c["workflow"], c["status"], str(c["runs"])] for c in data["counts"]]
        rows.append(["total", "", str(data["total"])])
        print_table(out, ["Workflow", "Status", "Runs"], rows, shrink=(0,), right=(2,))
    if data["kept"]:
        out.print(f"kept {data['kept_total']} old run(s):", markup=False)
        for row in data["kept"]:
            out.print(f"  {row['run_id']} {row['workflow']}: {row['reason']}", markup=False)
