"""Run observability: ``history``, ``events``, ``logs``, ``audit``, ``stats``, ``retry``,
``cancel`` (issue #6).

Everything is read from Dagster's run storage through a ``DagsterInstance`` ($DAGSTER_HOME,
else ./dagster_home): the runs of ``yaml2dag run``, of the UI, of schedules and sensors alike.
Every command prints a rich table for people and one JSON document with ``--format json``
(errors too: ``{"error": ...}``). A RUN_ID may be given as a unique prefix of at least 6
characters (``history`` shows the first 8 on narrow terminals). Exit codes: 0 done, 1 the
run is unknown or not in a state that allows the operation (and, for ``retry``, the
re-execution failed), 2 usage errors.
"""

from __future__ import annotations

import json
from typing import Any

import click

from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand, console, fail_as, print_json, print_table, stdout_to_stderr
from rich.markup import escape
from rich.table import Table
from yaml2dag.format.durations import format_duration
from yaml2dag.library.folder import Library
from yaml2dag.library.versions.writes import LibraryWriteError, check_writable_target
from yaml2dag.runs.history.actions import cancel_run, retry_run
from yaml2dag.runs.history.audit import audit_csv, run_audit
from yaml2dag.runs.history.audit_html import audit_html
from yaml2dag.runs.history.common import RunNotFoundError, RunStateError, shown_status
from yaml2dag.runs.history.events import run_events
from yaml2dag.runs.history.logs import run_logs
from yaml2dag.runs.history.moments import MomentError
from yaml2dag.runs.history.queries import list_runs, parse_since
from yaml2dag.cli.workflow_names import resolve_job
from yaml2dag.runs.history.stats import run_stats
from yaml2dag.runs.runner import get_instance

STATUS_STYLE = {"completed": "green", "failed": "red", "canceled": "yellow", "running": "cyan",
                "paused": "magenta", "pending": "dim"}
STEP_ICONS = {"succeeded": "[green]✓[/]", "continued": "[yellow]![/]", "failed": "[red]✗[/]",
              "skipped": "[dim]⊘[/]", "not_run": "[dim]·[/]", "retry": "[yellow]↻[/]", "running": "[cyan]…[/]",
              "reused": "[dim]=[/]"}


def _instance():
    return get_instance()


def _library():
    library = Library()
    return library if library.folder.is_dir() else None


def _esc(text: Any) -> str:
    return escape("" if text is None else str(text))


def _when(iso: str | None) -> str:
    """``2026-11-22T05:42:14+00:00`` → ``2026-11-22 05:42:14`` (UTC), ``-`` for None."""
    if not iso:
        return "-"
    return iso.replace("T", " ").split("+")[0].split(".")[0]


def _took(seconds: float | None) -> str:
    if seconds is None:
        return "-"

    return format_duration(seconds)


def _status(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/]" if style else status


def _table(*columns: str, no_wrap: tuple[str, ...] = (), **kwargs):
    table = Table(box=None, pad_edge=False, show_edge=False, **kwargs)
    for col in columns:
        table.add_column(col, overflow="fold", no_wrap=col in no_wrap)
    return table


# --------------------------------------------------------------------------- history


@click.command(cls=JsonErrorsCommand)
@click.argument("name", required=False)
@click.option("--limit", type=click.IntRange(min=1), default=20, show_default=True, help="At most this many runs.")
@click.option("--status", "statuses", multiple=True,
              help="Only runs with this status: pending, running, paused, completed, failed, canceled "
                   "(repeatable; comma lists allowed).")
@click.option("--since", default=None, help="Only runs created in this period, e.g. 7d, 12h, 2w.")
@FORMAT_OPTION
def history(name: str | None, limit: int, statuses: tuple[str, ...], since: str | None, fmt: str) -> None:
    """List the runs of workflow NAME (a name, job id or file; runs of a deleted workflow are
    found by its job id), newest first: id, status, trigger, version, start, duration. Without
    NAME, the recent runs of every workflow, with a Workflow column."""
    wanted = [s for item in statuses for s in item.split(",") if s.strip()]
    try:
        since_s = parse_since(since)
    except ValueError as exc:
        fail_as(fmt, f"--since: {exc}", 2)
    job, workflow = resolve_job(name, _library()) if name else (None, None)
    try:
        rows = list_runs(_instance(), job, limit=limit, statuses=wanted, since_s=since_s)
    except ValueError as exc:
        fail_as(fmt, str(exc), 2)
    if fmt == "json":
        print_json({"workflow": workflow, "job": job, "runs": rows})
        return
    out = console()
    if not rows:
        what = f"of {_esc(workflow)} (job {_esc(job)})" if name else "of any workflow"
        out.print(f"no runs {what}" + (" match" if wanted or since else ""))
        return
    # one line a run at any width: full run ids from 100 columns, else their first 8 characters
    # (status, events, logs, audit, retry and cancel accept such a prefix); minutes are enough for the start
    full = out.width >= 100
    table = []
    for row in rows:
        run_id = (row["run_id"] if full else row["run_id"][:8]) + (" ↻" if row["parent_run_id"] else "")
        status = shown_status(row["status"], row.get("rollback"), row.get("canceling"))
        table.append([run_id, (status, STATUS_STYLE.get(row["status"])), row["trigger"], row["version"] or "-",
                      _when(row["started_at"] or row["created_at"])[:16], _took(row["duration_s"])])
    headers = ["Run", "Status", "Trigger", "Version", "Started (UTC)", "Duration"]
    if name:
        out.print(f"[bold]{_esc(workflow)}[/] [dim](job {_esc(job)})[/]")
        print_table(out, headers, table, shrink=(3,))
        return
    # every workflow: which one each run belongs to (the name its run recorded), cut last
    for cells, row in zip(table, rows):
        cells.insert(1, row["workflow"] or row["job"])
    print_table(out, headers[:1] + ["Workflow"] + headers[1:], table, shrink=(1, 4))


# --------------------------------------------------------------------------- events


@click.command(cls=JsonErrorsCommand)
@click.argument("run_id")
@click.option("--type", "types", multiple=True,
              help="Only these event types (Dagster's, case-insensitive), e.g. STEP_FAILURE,STEP_UP_FOR_RETRY "
                   "(LOG: log messages); an unknown type is an error.")
@click.option("--step", default=None, help="Only events of this step (its conditions and elements included).")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="At most this many events.")
@click.option("--offset", type=click.IntRange(min=0), default=0, show_default=True, help="Skip this many events first.")
@click.option("--since", default=None, metavar="TIME",
              help="Only events at or after TIME: an ISO time (UTC without an offset) or +DURATION after the run's start (+30s).")
@click.option("--until", default=None, metavar="TIME", help="Only events at or before TIME (same forms as --since).")
@FORMAT_OPTION
def events(run_id: str, types: tuple[str, ...], step: str | None, limit: int | None, offset: int,
           since: str | None, until: str | None, fmt: str) -> None:
    """Show the event log of RUN_ID (filtered by type, step and time, paged with --limit/--offset)."""
    wanted = [t for item in types for t in item.split(",") if t.strip()]
    try:
        data = run_events(_instance(), run_id, types=wanted, step=step, limit=limit, offset=offset,
                          since=since, until=until)
    except MomentError as exc:  # a bad --since/--until
        fail_as(fmt, f"--{exc.option}: {exc}", 2)
    except ValueError as exc:  # an unknown --type
        fail_as(fmt, f"--type: {exc}", 2)
    except RunNotFoundError as exc:
        fail_as(fmt, str(exc), 1)
    if fmt == "json":
        print_json(data)
        return
    out = console()
    table = _table("#", "Time (UTC)", "Type", "Step", "Message")
    for row in data["events"]:
        kind = row["type"]
        style = "red" if "FAILURE" in kind else "yellow" if kind in ("STEP_UP_FOR_RETRY", "RUN_CANCELING") else \
            "green" if "SUCCESS" in kind else "dim" if kind == "LOG" and row["level"] == "DEBUG" else None
        message = row.get("error") or row["message"] or ""
        table.add_row(str(row["index"]), _when(row["timestamp"]).split(" ")[-1] if row["timestamp"] else "-",
                      f"[{style}]{kind}[/]" if style else kind, _esc(row["step_key"] or ""), _esc(message))
    out.print(table)
    shown = len(data["events"])
    out.print(f"[dim]{shown} of {data['total']} event(s)" + (f" from #{offset}" if offset else "") + "[/]")


# --------------------------------------------------------------------------- logs


@click.command(cls=JsonErrorsCommand)
@click.argument("run_id")
@click.option("--step", default=None, help="Only the output of this step.")
@click.option("--compute", is_flag=True, help="Also print Dagster's compute logs (raw stdout/stderr of the process).")
@click.option("--output-only", is_flag=True, help="Only the steps' stdout/stderr lines, not yaml2dag's notes.")
@FORMAT_OPTION
def logs(run_id: str, step: str | None, compute: bool, output_only: bool, fmt: str) -> None:
    """Show the captured stdout/stderr of the steps of RUN_ID (from the event log)."""
    try:
        data = run_logs(_instance(), run_id, step=step, compute=compute, include_notes=not output_only)
    except RunNotFoundError as exc:
        fail_as(fmt, str(exc), 1)
    if fmt == "json":
        print_json(data)
        return
    out = console()
    if not data["lines"]:
        out.print("no captured output" + (f" for step {_esc(step)}" if step else ""))
    width = max((len(line["step_key"]) for line in data["lines"]), default=0)
    for line in data["lines"]:
        label = f"[cyan]{_esc(line['step_key'].ljust(width))}[/]"
        text = _esc(line["text"])
        if line["stream"] == "stderr":
            text = f"[red]{text}[/]"
        elif line["stream"] == "log":
            text = f"[dim]{text}[/]"
        out.print(f"{label} │ {text}")
    for item in data["compute_logs"]:
        size = item["stdout_bytes"] + item["stderr_bytes"]
        if compute:
            out.print(f"[bold]compute log {item['file_key']}[/] ({len(item['steps'])} step(s))")
            for stream in ("stdout", "stderr"):
                if item.get(stream):
                    out.print(f"[dim]--- {stream} ---[/]")
                    out.print(item[stream], markup=False, highlight=False, end="")
        else:
            out.print(f"[dim]compute log {item['file_key']}: {size} bytes (show with --compute)[/]")


# --------------------------------------------------------------------------- audit


@click.command(cls=JsonErrorsCommand)
@click.argument("run_id")
@click.option("--format", "fmt", type=click.Choice(["text", "json", "csv", "html"]), default="text", show_default=True,
              help="A summary for people, the complete record as JSON or CSV, or a self-contained HTML report.")
@click.option("--file", "-o", "file", type=click.Path(dir_okay=False), default=None,
              help="Write the JSON, CSV or HTML record to this file instead of stdout.")
@click.option("--force", is_flag=True, help="Overwrite --file if it exists.")
def audit(run_id: str, fmt: str, file: str | None, force: bool) -> None:
    """Export a complete audit record of RUN_ID: who or what started it, its parameters
    (secrets masked), every step's attempts, retries and outcome, approval decisions, failure
    handlers, outputs, cancellations and timings — all from the run's event log."""
    if file and fmt == "text":
        fail_as("text", "--file needs --format json, csv or html", 2)
    if file:
        try:
            check_writable_target(file, force)
        except LibraryWriteError as exc:
            fail_as(fmt, str(exc), 2)
    try:
        record = run_audit(_instance(), run_id, _library())
    except RunNotFoundError as exc:
        fail_as("json" if fmt == "json" else "text", str(exc), 1)
    if fmt in ("json", "csv", "html"):
        text = (json.dumps(record, indent=2, ensure_ascii=False, default=str) + "\n" if fmt == "json"
                else audit_csv(record) if fmt == "csv" else audit_html(record))
        if file:
            with open(file, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
            click.echo(f"wrote the audit of run {record['run_id']} to {file}", err=True)
        else:
            click.echo(text, nl=False)
        return
    out = console()
    by = record["started_by"]
    who = ", ".join(f"{k} {v}" for k, v in by.items() if v not in (None, "") and k != "trigger_info")
    rollback = f" ({_esc(record['rollback'])})" if record.get("rollback") else ""
    out.print(f"[bold]{_esc(record['workflow'])}[/] run {record['run_id']}: {_status(record['status'])}{rollback} "
              f"(version {_esc(record['version'])}, {_took(record['duration_s'])})")
    out.print(f"started by: {_esc(who)}", markup=True)
    if record["parameters"]:
        out.print("parameters: " + _esc(json.dumps(record["parameters"], ensure_ascii=False, default=str)))
    table = _table("Step", "Status", "Attempts", "Retries", "Started (UTC)", "Duration", "Error / reason")
    for step in record["steps"]:
        table.add_row(_esc(step["step"]), f"{STEP_ICONS.get(step['status'], '')} {step['status']}",
                      str(len(step["attempts"])), str(step["retries"]), _when(step["started_at"]),
                      _took(step["duration_s"]), _esc(step["error"] or step["skip_reason"] or ""))
    out.print(table)
    for gate in record["approvals"]:
        for decision in gate["decisions"]:
            out.print(f"approval {_esc(gate['step'])}: {_esc(decision.get('decision'))} by {_esc(decision.get('by'))}"
                      + (f": {_esc(decision['comment'])}" if decision.get("comment") else ""))
    for handler in record["failure_handlers"]:
        out.print(f"↩ {handler['kind']} {_esc(handler['step'])}: {_esc(handler['status'])}")
    for cancel in record["cancellations"]:
        out.print(f"cancel requested by {_esc(cancel['by'])} at {_when(cancel['at'])}: {_esc(cancel['reason'] or '')}")
    for note in record["annotations"]:
        out.print(f"✎ {_when(note['at'])} {_esc(note['by'])}: {_esc(note['text'])}")
    if record["error_message"]:
        out.print(f"[red]error[/]: {_esc(record['error_message'])}")
    out.print("[dim]the complete record: --format json or --format csv[/]")


# --------------------------------------------------------------------------- stats


@click.command(cls=JsonErrorsCommand)
@click.argument("name", required=False)
@click.option("--since", default="30d", show_default=True, help="Period to count, e.g. 30d, 12h, 2w; 'all' for every run.")
@FORMAT_OPTION
def stats(name: str | None, since: str, fmt: str) -> None:
    """Runs, success rate, mean and p95 duration, and per-step failure and retry rates, for
    workflow NAME or for every workflow with runs."""
    try:
        since_s = None if since.strip().lower() in ("all", "") else parse_since(since)
    except ValueError as exc:
        fail_as(fmt, f"--since: {exc}", 2)
    library = _library()
    job = None
    names: dict[str, str] = {}
    if name:
        job, workflow = resolve_job(name, library)
        names[job] = workflow
    elif library is not None:
        for report in library.reports():
            if report.workflow is not None and report.workflow.id:
                names[report.workflow.id] = report.workflow.name
    data = run_stats(_instance(), job, since_s=since_s, names=names)
    if fmt == "json":
        print_json(data)
        return
    out = console()
    if not data["workflows"] or not any(w["runs"] for w in data["workflows"]):
        out.print("no runs" + (f" since {_when(data['since'])} UTC" if data["since"] else ""))
        return
    table = _table("Workflow", "Runs", "OK", "Failed", "Canceled", "Success", "Mean", "p95")
    for w in data["workflows"]:
        rate = f"{w['success_rate'] * 100:.0f}%" if w["success_rate"] is not None else "-"
        table.add_row(_esc(w["workflow"]), str(w["runs"]), str(w["completed"]), str(w["failed"]), str(w["canceled"]),
                      rate, _took(w["mean_duration_s"]), _took(w["p95_duration_s"]))
    out.print(table)
    for w in data["workflows"]:
        if not w["steps"]:
            continue
        steps = _table("Step", "Ran", "Failure rate", "Retry rate", "Mean", title=f"{w['workflow']}: steps",
                       title_justify="left")
        for key, item in w["steps"].items():
            steps.add_row(_esc(key), str(item["runs"]), f"{(item['failure_rate'] or 0) * 100:.0f}%",
                          f"{(item['retry_rate'] or 0) * 100:.0f}%", _took(item["mean_duration_s"]))
        out.print(steps)


# --------------------------------------------------------------------------- retry


@click.command(cls=JsonErrorsCommand)
@click.argument("run_id")
@click.option("--from-failure", is_flag=True, help="Re-run the failed steps and those after them (default for failed runs).")
@click.option("--from-step", "from_step", default=None, help="Re-run this step and everything downstream of it.")
@click.option("--all", "all_steps", is_flag=True, help="Re-run every step (default for successful runs).")
@click.option("--use-current", is_flag=True,
              help="Use the current workflow file even if it changed since the run and no saved version matches.")
@FORMAT_OPTION
def retry(run_id: str, from_failure: bool, from_step: str | None, all_steps: bool, use_current: bool, fmt: str) -> None:
    """Re-execute RUN_ID through Dagster, reusing the outputs of the steps that are not re-run.

    The new run is linked to its parent (shown as a re-execution in the Dagster UI). The
    workflow is rebuilt from the file version the run used (the current file, or the saved
    version with the run's hash). Exits 0 when the new run succeeds, 1 otherwise.
    """
    if sum(bool(x) for x in (from_failure, from_step, all_steps)) > 1:
        fail_as(fmt, "choose one of --from-failure, --from-step and --all", 2)
    library = Library()
    if not library.folder.is_dir():
        fail_as(fmt, f"the definitions folder {library.folder} does not exist (set YAML2DAG_DEFINITIONS)", 2)
    out = console(stderr=True) if fmt == "json" else console()
    if fmt == "text":
        out.print(f"↻ re-executing run {_esc(run_id)}…", style="dim")
    try:
        with stdout_to_stderr(fmt == "json"):  # the run's own output must not precede the JSON
            info = retry_run(_instance(), run_id, library, from_step=from_step, from_failure=from_failure,
                             all_steps=all_steps, use_current=use_current)
    except (RunNotFoundError, RunStateError) as exc:
        fail_as(fmt, str(exc), 1)
    if fmt == "json":
        print_json(info)
    else:
        if info["note"]:
            out.print(f"[yellow]note[/]: {_esc(info['note'])}")
        out.print(f"run {info['run_id']} ({info['mode'].replace('_', ' ')} of {info['parent_run_id']}): "
                  f"[bold]{_status(info['status'])}[/]")
        for key, state in info["step_statuses"].items():
            out.print(f"  {STEP_ICONS.get(state, '?')} {_esc(key)}: {state}")
        if info["error_message"]:
            out.print(f"[red]error[/]: {_esc(info['error_message'])}")
    raise SystemExit(0 if info["status"] == "completed" else 1)


# --------------------------------------------------------------------------- cancel


@click.command(cls=JsonErrorsCommand)
@click.argument("run_id")
@click.option("--reason", default=None, help="Why; recorded in the run's event log.")
@click.option("--by", default=None, help="Who cancels (default: $YAML2DAG_USER or the login name).")
@click.option("--wait", "wait_s", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds to wait for the run to end.")
@FORMAT_OPTION
def cancel(run_id: str, reason: str | None, by: str | None, wait_s: float, fmt: str) -> None:
    """Terminate a running or queued run (RUN_ID) and record the reason.

    A run of `yaml2dag run` on this machine is stopped through its process (its steps in
    flight are cancelled, shell commands killed); runs launched by the webserver or daemon
    through the run launcher. Exits 0 when the run is canceled (or canceling), 1 when it is
    unknown or already finished.
    """
    try:
        info = cancel_run(_instance(), run_id, reason=reason, by=by, wait_s=wait_s)
    except (RunNotFoundError, RunStateError) as exc:
        fail_as(fmt, str(exc), 1)
    if fmt == "json":
        print_json(info)
        return
    out = console()
    state = info["status"]
    run_id = info["run_id"]
    if info["ended"]:
        out.print(f"run {run_id}: [bold]{_status(state)}[/] (was {info['previous_status'].lower()}; via {info['method']})")
    else:
        out.print(f"run {run_id}: cancel requested ({info['method']}); it is still {_status(state)}"
                  f"{' (canceling)' if info.get('canceling') else ''} after {wait_s:g}s")
    if info["method"] == "requested":
        out.print("[yellow]the run executes on another machine: its process stops it, or Dagster's run "
                  "monitoring marks it canceled[/]")
