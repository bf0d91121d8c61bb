"""``yaml2dag run NAME|FILE [key=value ...]``: run a workflow with live progress."""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand, console, fail_as, print_json, stdout_to_stderr
import json
from rich.markup import escape
from yaml2dag.cli.planview import plan_json, print_plan
from yaml2dag.cli.advice_hint import hint_pending_advice
from yaml2dag.cli import supervise
from yaml2dag.format.durations import format_duration
from yaml2dag.format.errors import ParameterError, WorkflowNotFoundError
from yaml2dag.format.executors import ExecutorSettingError
from yaml2dag.format.loader import load_file
from yaml2dag.format.name_index import NameIndex
from yaml2dag.format.parameters import check_size, coerce, parse_assignments, resolve
from yaml2dag.format.plan import build_plan
from yaml2dag.format.secrets import SecretStore
from yaml2dag.library.workflow_templates import template_report
from yaml2dag.runs.history.estimates import load_estimates, run_report
from yaml2dag.runs.progress import NO_ETA, Estimates
from yaml2dag.runs.runner import ConcurrencyLimitError, RunResult, run_workflow


def _error(fmt: str, message: str, problems: list | None = None, code: int = 2) -> None:
    """:func:`fail_as`; the JSON error always lists the problems (maybe none)."""
    fail_as(fmt, message, code, problems or [])


def _terminal_stream():
    """A stream on the terminal that Dagster's compute-log capture (fd 1) does not swallow."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return sys.stdout
    return os.fdopen(os.dup(fd), "w", buffering=1, encoding="utf-8", errors="replace")


def _load_param_file(path: str) -> dict[str, Any]:
    """The values of a ``--param-file`` (``run``, ``trigger``): a YAML or JSON mapping of
    parameter name to value, read like a workflow file (safe loader, the limits of
    :mod:`yaml2dag.format.limits`: nesting depth, 64-bit integers, finite numbers, file size).

    Raises:
        click.UsageError: the file does not parse, goes past a limit (the loader's
            ``FILE:LINE:COL`` problems), or is not a mapping; anything else the loader raises
            on such input too, named with the file (never a traceback).
        yaml2dag.format.errors.ParameterError: a value nested more than
            :data:`~yaml2dag.format.parameters.MAX_VALUE_DEPTH` levels deep, naming its parameter.
    """
    try:
        doc = load_file(path)
    except RecursionError:
        raise click.UsageError(f"{path}: values are nested too deeply to be read") from None
    except (ValueError, OverflowError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise click.UsageError(f"{path}: cannot be read as a parameter file: {reason[:200]}") from None
    if doc.problems:
        raise click.UsageError("; ".join(p.format() for p in doc.problems))
    if doc.data is None:
        return {}
    if not isinstance(doc.data, dict):
        raise click.UsageError(f"{path}: a parameter file must be a mapping of name: value")
    for name, value in doc.data.items():
        check_size(str(name), value)
    return dict(doc.data)


class _RunCommand(JsonErrorsCommand):
    """Usage errors under ``--format json`` are ``{"error": ..., "errors": []}`` on stdout, exit 2."""

    problem_list = True


@click.command(cls=_RunCommand)
@click.argument("workflow")
@click.argument("assignments", nargs=-1)
@click.option("--param-file", "param_file", type=click.Path(exists=True, dir_okay=False),
              help="YAML or JSON mapping of parameter values (key=value arguments win).")
@click.option("--dry-run", is_flag=True, help="Validate, resolve parameters and print the plan; run nothing.")
@click.option("--no-wait", is_flag=True,
              help="Fail at once (exit 1) when the workflow's concurrency limit is reached, instead of waiting.")
@click.option("--mode", type=click.Choice(supervise.MODE_CHOICES), default=supervise.MODE_DEFAULT,
              show_default=True, help=supervise.MODE_HELP)
@FORMAT_OPTION
def run(workflow: str, assignments: tuple[str, ...], param_file: str | None, dry_run: bool, no_wait: bool,
        mode: str, fmt: str) -> None:
    """Run WORKFLOW (a name, job id or file) with parameters given as key=value.

    When no workflow of the definitions folder has that name, a built-in template of that name
    runs as it is (see `yaml2dag templates`), and stderr says so.

    Values are converted to the declared types (retries=5, dry_run=true, arrays and mappings
    as JSON). The run is stored in the Dagster instance ($DAGSTER_HOME, else ./dagster_home),
    so it shows in the UI. Exits 0 on success, 1 when the run failed, 2 when nothing ran
    (invalid workflow or parameters).
    """
    index = NameIndex()
    try:
        # the folder's name index finds the file; only it and the workflows it names are
        # validated (issue 13: a run's start does not grow with the folder)
        report = index.find(workflow)
    except WorkflowNotFoundError as exc:
        # no such workflow in the library: a built-in template of that name runs as it is
        # (issue 15, "templates by name"); else the library's "not found" with its suggestions
        try:
            report = template_report(workflow)
        except WorkflowNotFoundError:
            _error(fmt, str(exc))
        name = report.workflow.name if report.workflow is not None else workflow
        click.echo(f"no workflow named {workflow!r} in {index.folder}; running the built-in template {name!r}",
                   err=True)
    if not report.valid or report.workflow is None:
        _error(fmt, f"{report.file} is not a valid workflow", report.errors)
    wf = report.workflow
    try:
        given: dict[str, Any] = _load_param_file(param_file) if param_file else {}
        known = {p.name: p for p in wf.parameters}
        for key, raw in parse_assignments(assignments).items():
            given[key] = coerce(known[key], raw) if key in known and not known[key].is_secret else raw
        values = resolve(wf, given)
    except ParameterError as exc:
        _error(fmt, str(exc))
    except click.UsageError as exc:
        _error(fmt, exc.message)

    if dry_run:
        plan = build_plan(wf)
        secrets = {name: {"variable": var, "set": var not in dict(SecretStore(wf).missing()).values()}
                   for name, var in SecretStore(wf).parameters.items()}
        if fmt == "json":
            data = plan_json(wf, plan, values)
            data["dry_run"] = True
            data["secrets"] = secrets
            print_json(data)
        else:
            out = console()
            out.print("[bold]Dry run[/]: nothing will run.")
            print_plan(out, wf, plan, values)
            for name, info in secrets.items():
                state = "set" if info["set"] else "NOT SET"
                out.print(f"Secret {name}: from ${info['variable']} ({state})", markup=False)
        raise SystemExit(0)

    if supervise.terminal_problem(mode):  # supervised/hybrid ask on the terminal (yaml2dag.cli.supervise)
        _error(fmt, supervise.terminal_problem(mode))
    ask = supervise.terminal_asker(fmt) if mode != supervise.MODE_DEFAULT else None
    stream = _terminal_stream() if fmt == "text" else None
    out = console(file=stream) if stream is not None else None
    progress = _Progress(out) if out is not None else None
    history = _History(out, wf.id) if out is not None else None
    if out is not None:
        out.print(f"[bold]▶ {_esc(wf.name)}[/] [dim]({_esc(report.file)})[/]")
    try:
        # under --format json, stdout carries exactly one JSON document: whatever the run writes
        # to file descriptor 1 meanwhile (steps' subprocesses, Dagster's compute-log mirror) goes
        # to stderr
        with stdout_to_stderr(fmt == "json"):
            result = run_workflow(report.validated(), values, on_progress=progress, wait_for_concurrency=not no_wait,
                                  estimates_of=history, mode=mode, ask=ask)
    except ParameterError as exc:
        _error(fmt, str(exc))
    except ConcurrencyLimitError as exc:
        _error(fmt, f"not started: {exc}", code=1)
    except ExecutorSettingError as exc:
        _error(fmt, f"not started: {exc}")
    if fmt == "json":
        print_json(result.to_json())
    else:
        _summary(out, result)
        if history is not None and history.instance is not None:
            _report(out, run_report(history.instance, result.run_id, result.steps, history.estimates))
        hint_pending_advice(out, report)  # last line: the pointer to `yaml2dag optimize` (issue 12 §2)
    raise SystemExit(0 if result.status == "SUCCESS" else 1)


class _History:
    """What earlier successful runs of the workflow took, loaded when the runner has opened the
    instance (after its checks: a run that does not start stores nothing) and said on the terminal;
    live progress and the final summary measure the run against it."""

    def __init__(self, out, job: str):
        self.out, self.job = out, job
        self.instance = None
        self.estimates = Estimates()

    def __call__(self, instance) -> Estimates:
        self.instance = instance
        self.estimates = load_estimates(instance, self.job)
        self.out.print(f"  {_usually(self.estimates)}", style="dim", markup=False)
        return self.estimates


class _Progress:
    def __init__(self, out):
        self.out = out

    def __call__(self, event) -> None:
        label = f"Step {event.index}/{event.total}: {event.title}"
        took = f" ({format_duration(event.duration)})" if event.duration is not None else ""
        if event.progress is not None and event.kind in ("succeeded", "continued", "failed", "skipped"):
            # without history the header said why there is no ETA
            took += f" · {event.progress.text(why_no_eta=False)}"
        if event.kind == "started":
            self.out.print(f"  … {event.title}", style="dim", markup=False)
        elif event.kind == "succeeded":
            self.out.print(f"[green]✓[/] {_esc(label)}{took}")
        elif event.kind == "continued":
            self.out.print(f"[yellow]![/] {_esc(label)} failed, continuing{took}: {_esc(event.message or '')}")
        elif event.kind == "failed":
            self.out.print(f"[red]✗[/] {_esc(label)} failed{took}: {_esc(event.message or '')}")
        elif event.kind == "skipped":
            reason = f": {event.message}" if event.message else ""
            self.out.print(f"[dim]⊘ {_esc(label)} skipped{_esc(reason)}{took}[/]")
        elif event.kind == "retry":
            self.out.print(f"[yellow]↻[/] {_esc(event.title)}: {_esc(event.message or 'retrying')}")
        elif event.kind == "waiting":
            self.out.print(f"[yellow]⏸[/] {_esc(event.message or 'waiting')}")
        elif event.kind == "handler":
            self.out.print(f"[magenta]↩[/] {_esc(event.message or '')}")


def _esc(text: str) -> str:
    return escape(text)


def _summary(out, result) -> None:
    assert isinstance(result, RunResult)
    not_run = [sid for sid, status in result.steps.items() if status == "not_run"]
    if not_run and result.status != "SUCCESS":
        out.print(f"[dim]· not run: {', '.join(not_run)}[/]")
    took = format_duration(result.duration_s)
    if result.status == "SUCCESS":
        out.print(f"[bold green]✓ {_esc(result.workflow)} succeeded[/] in {took} · run {result.run_id}")
    elif result.status == "CANCELED":
        out.print(f"[bold yellow]■ {_esc(result.workflow)} was canceled[/] after {took} · run {result.run_id}")
    else:
        where = f" at step {result.failed_step}" if result.failed_step else ""
        out.print(f"[bold red]✗ {_esc(result.workflow)} failed{where}[/] after {took} · run {result.run_id}")
        if result.error:
            out.print(f"  {_esc(result.error)}")
    if result.outputs:
        out.print("[bold]Outputs[/]")

        for key, value in result.outputs.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
            if len(text) > 2000:
                text = text[:2000] + "…"
            out.print(f"  {key}: {_esc(text)}")


def _usually(estimates: Estimates) -> str:
    """The header's estimate: ``usually 12s (median of 5 successful runs)``, or :data:`NO_ETA`."""
    if not estimates.runs or estimates.run_s is None:
        return NO_ETA
    return f"usually {format_duration(estimates.run_s)} (median of {estimates.runs} successful run(s))"


def _report(out, report: dict) -> None:
    """The summary after the final line (:func:`yaml2dag.runs.history.estimates.run_report`)."""
    counts = report["counts"]
    parts = [f"{counts[k]} {k}" for k in ("succeeded", "continued", "skipped", "failed")]
    if counts.get("not_run"):
        parts.append(f"{counts['not_run']} not run")
    out.print("[bold]Summary[/]: " + " · ".join(parts))
    slowest = report["slowest"]
    if slowest is not None:
        usual = (f"usual {format_duration(slowest['usual_s'])}" if slowest["usual_s"] is not None
                 else "no usual duration yet")
        out.print(f"  slowest step: {_esc(slowest['step'])} {format_duration(slowest['duration_s'])} ({usual})")
    run = report["run"]
    usual = (f"usual {format_duration(run['usual_s'])}, the median of {report['runs']} earlier successful run(s)"
             if run["usual_s"] is not None else "no earlier successful run to compare with")
    out.print(f"  run: {format_duration(run['duration_s'])} ({usual})")
