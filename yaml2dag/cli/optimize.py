"""``yaml2dag optimize NAME``: advice from a workflow's runs (issue 12, §2).

A thin face over :func:`yaml2dag.optimize.optimize`. ``--apply [KIND]`` writes the advice (all,
or one kind) into the workflow through the comment-preserving round trip and saves it as a new
version with :func:`yaml2dag.library.versions.commit_change` (validated with the folder first;
an invalid result is never written); ``--dry-run`` prints the unified diff and writes nothing.
Exit codes: 0 done (also with no advice), 1 nothing saved (the result does not validate — also
under ``--dry-run`` —, or a step moved since the runs), 2 usage errors (unknown workflow,
invalid workflow file).
"""

from __future__ import annotations

import difflib
import shlex
from pathlib import Path

import click
from rich.markup import escape

from yaml2dag.cli.library.common import _commit, _find, _library, _report_change
from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand, console, fail_as, print_json
from yaml2dag.library.roundtrip import is_json_path
from yaml2dag.library.versions.checks import check_text
from yaml2dag.optimize import DEFAULT_RUNS, KINDS, ChangeError, apply_advice, optimize as run_optimize
from yaml2dag.runs.runner import get_instance

#: ``--apply`` without a kind.
ALL = "all"
#: The kinds ``--apply`` writes (``unused`` is advice only: deleting a step is left to the user).
APPLIED = tuple(kind for kind in KINDS if kind != "unused")


def _esc(text: object) -> str:
    return escape("" if text is None else str(text))


def _evidence_text(item) -> str:
    ev = item.evidence
    if item.kind == "retry":
        return (f"failed in {ev['failures']}/{ev['runs']} runs ({ev['failure_rate']:.0%}), recovered in "
                f"{len(ev['recovered_runs'])} later run(s); median {ev['median_duration_s']}s, "
                f"p95 {ev['p95_duration_s']}s; failed runs: {', '.join(r[:8] for r in ev['failed_runs'])}")
    if item.kind == "parallel":
        steps = "; ".join(f"{s} median {d['median_duration_s']}s, p95 {d['p95_duration_s']}s"
                          for s, d in ev["steps"].items())
        return (f"one after another in {ev['sequential_runs']}/{ev['runs']} runs; {steps}; critical path "
                f"{ev['critical_path_s']}s → {ev['critical_path_after_s']}s")
    if item.kind == "timeout":
        return (f"median {ev['median_duration_s']}s, p95 {ev['p95_duration_s']}s, slowest "
                f"{ev['slowest_duration_s']}s (run {ev['slowest_run'][:8]}) over {ev['runs']} runs")
    if "output" in ev:
        return f"read by none of {', '.join(ev['consumers'])}; they read: {', '.join(ev['outputs_read']) or 'nothing'}"
    return f"skipped in {ev['skipped']}/{ev['runs']} runs"


def _print_report(report, out, name: str) -> None:
    out.print(f"[bold]{_esc(report.workflow)}[/]: {report.runs_analyzed} finished run(s) analysed")
    if not report.runs_analyzed and not report.advice:
        out.print(f"No finished run yet: run it first (yaml2dag run {shlex.quote(name)}).", markup=False)
        return
    if not report.advice:
        out.print("No advice: the runs show nothing to change.", markup=False)
        return
    for number, item in enumerate(report.advice, 1):
        saving = ""
        if item.saving_s:
            saving = (f" · saves ~{item.saving_s:g}s per run" if item.kind == "parallel"
                      else f" · would have cut the slowest run by ~{item.saving_s:g}s")
        what = ", ".join(item.steps) or f"output {item.evidence.get('output')}"
        out.print(f"\n[bold]{number}. {item.kind}[/] {_esc(what)}{saving}")
        out.print(f"   {item.summary}", markup=False)
        out.print(f"   evidence: {_evidence_text(item)}", markup=False, highlight=False)
        for line in item.text.splitlines():
            out.print(f"     {line}", markup=False, highlight=False)
    if any(a.kind == "parallel" for a in report.advice):
        out.print("\nOr say it once for the whole workflow: `dag: true` (steps wait only for what they read "
                  "and their depends_on).", markup=False)
    out.print(f"\nApply with: yaml2dag optimize {name} --apply [KIND] (--dry-run shows the diff first)", markup=False)


def _diff(old: str, new: str, file: str) -> str:
    return "".join(difflib.unified_diff(old.splitlines(keepends=True), new.splitlines(keepends=True),
                                        fromfile=f"{file} (current)", tofile=f"{file} (optimized)"))


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@click.option("--runs", type=click.IntRange(min=1), default=DEFAULT_RUNS, show_default=True,
              help="How many of the newest finished runs to analyse.")
@click.option("--apply", "apply_kind", is_flag=False, flag_value=ALL, default=None,
              type=click.Choice([ALL, *APPLIED]), metavar="[KIND]",
              help="Write the advice as a new version of the workflow: all of it (--apply alone), or one kind. "
                   "unused steps are never deleted for you.")
@click.option("--dry-run", is_flag=True, help="Show the diff --apply would write; write nothing.")
@FORMAT_OPTION
def optimize(name: str, runs: int, apply_kind: str | None, dry_run: bool, fmt: str) -> None:
    """Advice for workflow NAME from its last --runs finished runs: retry a flaky step, run
    independent steps in parallel, limit a step that sometimes hangs, drop a step that never
    runs. Each piece of advice shows its evidence (run ids, counts, rates, median and p95
    durations), the seconds it saves per run, and the YAML it proposes."""
    library = _library(fmt)
    found = _find(library, name, fmt)
    if not found.valid or found.workflow is None:
        fail_as(fmt, f"{found.file} is not a valid workflow; fix it first (yaml2dag validate)", 2, list(found.errors))
    others = [(r.workflow, str(r.file)) for r in library.reports()
              if r.valid and r.workflow is not None and Path(r.file).resolve() != Path(found.file).resolve()]
    report = run_optimize(found, get_instance(), runs, others)
    if apply_kind is None and not dry_run:
        if fmt == "json":
            print_json(report.to_json())
        else:
            _print_report(report, console(), name)
        return
    kind = None if apply_kind in (None, ALL) else apply_kind
    old = found.document.text
    try:
        new, done = apply_advice(old, is_json_path(found.file), report.advice, kind)
    except ChangeError as exc:
        fail_as(fmt, f"cannot apply the advice: {exc}; run `yaml2dag optimize {name}` again", 1, [])
    out = console(stderr=fmt == "json")
    if not done:
        message = f"nothing to apply: no {kind + ' ' if kind else ''}advice that changes the file"
        if any(a.kind == "unused" for a in report.advice):
            message += " (unused steps are left to you to delete)"
        if fmt == "json":
            print_json({**report.to_json(), "applied": [], "diff": "", "saved": None})
        else:
            out.print(message, markup=False)
        return
    diff = _diff(old, new, found.file)
    if dry_run:
        checked = check_text(library.folder, new, found.file)
        if fmt == "json":
            print_json({**report.to_json(), "applied": done, "diff": diff, "valid": checked.valid, "saved": None})
        else:
            out.print(diff, markup=False, highlight=False, end="")
            state = "valid" if checked.valid else "NOT valid: it would not be saved"
            out.print(f"Dry run: nothing written ({len(done)} change(s); the result is {state}).", markup=False)
            for problem in checked.errors:
                out.print(f"  {problem.format()}", markup=False, highlight=False)
        if not checked.valid:
            raise SystemExit(1)
        return
    change = _commit(fmt, library, Path(found.file), new, "optimize")
    if fmt == "json":
        print_json({**report.to_json(), "applied": done, "diff": diff, "saved": change.to_json()})
        return
    for line in done:
        out.print(f"  applied: {line}", markup=False)
    before = f" (was {_esc(change.previous_version)})" if change.previous_version else ""
    _report_change(fmt, change, out, f"[green]✓[/] saved {_esc(change.workflow)} version {_esc(change.version)}"
                                     f"{before} as revision #{change.revision}: {_esc(change.file)}")
    if change.archived:
        out.print(f"  previous file kept as {change.archived}", style="dim", markup=False)
