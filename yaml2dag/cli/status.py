"""``yaml2dag status RUN_ID``: where a run is (running, paused at an approval, done...)."""

from __future__ import annotations

import click

from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand, console, fail_as, print_json
import json
from rich.markup import escape
from yaml2dag.library.folder import Library
from yaml2dag.runs.history.common import RunNotFoundError, shown_status
from yaml2dag.runs.history.estimates import run_progress
from yaml2dag.runs.history.moments import MomentError
from yaml2dag.runs.history.replay import run_status_at
from yaml2dag.runs.history.status import run_status
from yaml2dag.runs.runner import get_instance
from yaml2dag.runs.tracking import ENDED

ICONS = {"succeeded": "[green]✓[/]", "continued": "[yellow]![/]", "failed": "[red]✗[/]",
         "skipped": "[dim]⊘[/]", "not_run": "[dim]·[/]", "running": "[cyan]…[/]", "waiting": "[yellow]⏸[/]"}


@click.command(cls=JsonErrorsCommand)
@click.argument("run_id")
@click.option("--at", "at", default=None, metavar="TIME",
              help="Replay the event log up to TIME: an ISO time (UTC without an offset) or +DURATION after "
                   "the run's start (+30s, +5m): step statuses, attempts and gate decisions as they were then.")
@FORMAT_OPTION
def status(run_id: str, at: str | None, fmt: str) -> None:
    """Show the status of RUN_ID from the Dagster instance ($DAGSTER_HOME).

    Statuses: pending, running (also while a cancel is stopping it: "canceling": true),
    paused (an approval gate is waiting), completed, failed, canceled. RUN_ID may be a unique
    prefix (at least 6 characters). With --at TIME, the status the run had at that moment (its
    event log replayed up to it). Exits 0 when the run is found, 1 when it is not, 2 for a bad
    --at.
    """
    library = Library()
    found = library if library.folder.is_dir() else None
    try:
        info = run_status(get_instance(), run_id, found) if at is None else \
            run_status_at(get_instance(), run_id, at, found)
    except RunNotFoundError as exc:
        fail_as(fmt, str(exc), 1)
    except MomentError as exc:
        fail_as(fmt, f"--{exc.option}: {exc}", 2)
    # percent done and time left, from the earlier successful runs of the workflow (issue 15.6)
    progress = run_progress(get_instance(reap=False), info["run_id"], found) if at is None else None
    if progress is not None:
        info["progress"] = progress.to_json()
    if fmt == "json":
        print_json(info)
        return
    out = console()
    # the step states are the JSON's (history.run_status): one source for both views

    steps = info["step_statuses"]
    done = sum(1 for s in steps.values() if s in ENDED)
    when = ""
    if info["duration_s"] is not None:
        when = f" (started {info['started_at']}, took {info['duration_s']:.1f}s)"
    elif info["started_at"]:
        when = f" since {info['started_at']}"
    shown = shown_status(info["status"], info.get("rollback"), info.get("canceling"))
    out.print(f"[bold]{escape(info['workflow'])}[/] run {info['run_id']}: [bold]{shown}[/]{when}")
    if at is not None:
        out.print(f"[dim]as of {info['at']} (+{info['after_start_s']:g}s from the start): "
                  f"{info['events_replayed']} of {info['events_total']} events replayed[/]")
    if steps:
        width = 30
        filled = int(width * done / len(steps)) if steps else 0
        # markup off: rich would read "[###---]" as a style tag and swallow the bar
        shown_progress = f" · {progress.text()}" if progress is not None else ""
        out.print(f"[{'#' * filled}{'-' * (width - filled)}] {done}/{len(steps)} steps{shown_progress}", markup=False)
    for key, state in steps.items():
        tries = info["attempts"].get(key, 0)
        out.print(f"  {ICONS.get(state, '?')} {escape(key)}: {state}" + (f" ({tries} attempts)" if tries > 1 else ""))
    for gate in info["waiting"]:
        have = len(gate["approved_by"])
        out.print(f"[yellow]⏸ waiting for approval at {escape(gate['step'])}[/]: {escape(gate['message'])} "
                  f"({have}/{gate['required_approvals']} approvals)")
        rid = info["run_id"]
        out.print(f"    yaml2dag approve {rid} --step {escape(gate['step'])}   |   yaml2dag reject {rid} --step {escape(gate['step'])}")
    for gate in info["approvals"]:
        for decision in gate["decisions"]:
            verb = {"approve": "approved", "reject": "rejected"}.get(decision.get("decision"), decision.get("decision"))
            out.print(f"approval {escape(gate['step'])}: {escape(str(verb))} by "
                      f"{escape(str(decision.get('by')))} at {decision.get('at')}"
                      + (f": {escape(decision['comment'])}" if decision.get("comment") else ""))
    if info["error_message"]:
        out.print(f"[red]error[/]: {escape(info['error_message'])}")
    for handler in info["handlers"]:
        out.print(f"  ↩ {handler['kind']} {escape(str(handler['step']))}: {handler['status']}")
    for note in info["annotations"]:
        out.print(f"✎ {note['at']} {escape(str(note['by']))}: {escape(str(note['text']))}")
    if info["outputs"]:
        out.print("[bold]Outputs[/]")
        for key, value in info["outputs"].items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            out.print(f"  {escape(key)}: {escape(text[:2000])}")
