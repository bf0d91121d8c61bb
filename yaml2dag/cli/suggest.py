"""``yaml2dag suggest``: workflows from shell history, schedules from run history (issue 12, §1).

A thin face over :func:`yaml2dag.suggest.suggest`. ``--write N|NAME`` saves a suggestion
through the library's write path (:func:`yaml2dag.library.versions.commit_change`, as ``create`` does:
validated with the folder, never overwriting an existing file; a schedule suggestion changes
the existing workflow as ``yaml2dag schedule`` does: new version, previous file kept).
Reading shell history imports no Dagster; the run history is read when the instance has run
storage (``--runs``/``--no-runs`` decide). Exit codes: 0 done (also with no suggestion),
1 nothing saved (``--write`` refused), 2 usage errors (unreadable history file, bad ``--now``,
unknown suggestion).
"""

from __future__ import annotations

from pathlib import Path

import click

from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand, console, fail_as, print_json
from rich.markup import escape
from yaml2dag.cli.library.common import _commit, _library, _report_change, _show_yaml
from yaml2dag.format.model import slugify
from yaml2dag.library.folder import Library
from yaml2dag.suggest import HistoryError, parse_now, suggest as run_suggest

def _esc(text: object) -> str:
    return escape("" if text is None else str(text))


def _sources_lines(sources: list[dict]) -> list[str]:
    lines = []
    for src in sources:
        if src.get("format") == "dagster runs":
            head = f"  run history {src['path']}: {src['entries']} runs read, {src['used']} started by hand in the window"
        else:
            stamp = "" if src.get("timestamps") else ", no timestamps"
            head = f"  {src['path']} ({src['format']}{stamp}): {src['lines']} lines, {src['used']} used"
        skipped = "; ".join(f"{n} {reason}" for reason, n in (src.get("skipped") or {}).items())
        lines.append(head + (f"; skipped {skipped}" if skipped else ""))
        if src.get("note"):
            lines.append(f"    note: {src['note']}")
    return lines


def _parameter_text(name: str, spec: dict) -> str:
    if spec["type"] == "secret":
        return f"{name} (secret, from ${name.upper()})"
    seen = ", ".join(str(v) for v in spec["values"][:5]) + (", ..." if len(spec["values"]) > 5 else "")
    return f"{name} ({spec['type']}, default {spec['default']}; seen {seen})"


def _print_report(report, out) -> None:
    out.print(f"Window: {report.window_from} → {report.window_to}", markup=False)
    out.print("Sources:", markup=False)
    for line in _sources_lines(report.sources) or ["  none: no shell history found (give files with --history)"]:
        out.print(line, markup=False)
    if not report.suggestions:
        out.print("\nNo suggestion: nothing was repeated often enough in the window "
                  "(try --days or --min-count).", markup=False)
        return
    out.print("")
    for number, item in enumerate(report.suggestions, 1):
        when = f" · last {item.last_seen[:10]}" if item.last_seen else ""
        covered = f" · [yellow]already done by {_esc(item.covered_by)}[/]" if item.covered_by else ""
        if item.kind == "schedule":
            out.print(f"[bold]{number}. Schedule {_esc(item.name)}[/]: cron \"{_esc(item.cron)}\" ({_esc(item.timezone)}) "
                      f"· started by hand on {item.occurrences} days at about the same time{when}{covered}")
        else:
            out.print(f"[bold]{number}. {_esc(item.name)}[/]  {item.occurrences}× · {item.steps} "
                      f"step{'s' if item.steps != 1 else ''}{when}{covered}")
            for command in item.commands:
                for i, line in enumerate(command.splitlines() or [""]):
                    out.print(("     $ " if i == 0 else "       ") + line, markup=False, highlight=False)
        if item.parameters:
            out.print("     parameters: " + "; ".join(_parameter_text(n, s) for n, s in item.parameters.items()),
                      markup=False)
    if report.more:
        out.print(f"\n… and {report.more} more (raise --limit, or --limit 0 for all)", markup=False)
    out.print("\nSave one with: yaml2dag suggest --write N (the same options; --format json shows each workflow)",
              markup=False)
    if report.dropped:
        out.print(f"({report.dropped} sequence(s) left out: their workflow did not validate, or would show a "
                  "credential you typed elsewhere as a plain value)", style="dim", markup=False)


def _write(item, file_name: str | None, fmt: str) -> None:
    library = _library(fmt)
    out = console(stderr=fmt == "json")
    if item.covered_by:
        fail_as(fmt, f"{item.name!r} is already done by the workflow {item.covered_by!r}; nothing was saved", 1, [])
    if item.kind == "schedule":
        target = Path(item.file)
        change = _commit(fmt, library, target, item.workflow, "schedule")
    else:
        if file_name and Path(file_name).suffix.lower() not in (".yaml", ".yml"):
            fail_as(fmt, f"--file {file_name}: workflow files end in .yaml or .yml", 2, [])
        target = library.folder / (file_name or f"{slugify(item.name)}.yaml")
        if target.exists():
            fail_as(fmt, f"{target} already exists; refusing to overwrite it (use --file NAME.yaml)", 1, [])
        if fmt != "json":
            out.print(f"[bold]{_esc(target)}[/]")
            _show_yaml(out, item.workflow)
        change = _commit(fmt, library, target, item.workflow, "create", create=True, bump=False)
    if fmt == "json":
        print_json({**change.to_json(), "suggestion": item.to_json()})
        return
    _report_change(fmt, change, out)
    if item.kind == "schedule":
        out.print(f"  schedule added: cron \"{item.cron}\" ({item.timezone})", markup=False)


@click.command(cls=JsonErrorsCommand)
@click.option("--history", "histories", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="A history file (bash, zsh or fish; detected). Repeatable. Default: your own "
                   "($HISTFILE, ~/.bash_history, ~/.zsh_history, ~/.zhistory, ~/.histfile, fish's).")
@click.option("--min-count", type=click.IntRange(min=1), default=3, show_default=True,
              help="Fewest repetitions in the window worth a suggestion.")
@click.option("--days", type=click.FloatRange(min=0, min_open=True), default=7, show_default=True,
              help="The window: this many days before --now.")
@click.option("--now", "now_text", default=None, metavar="ISO",
              help="End of the window, e.g. 2026-12-03T18:00 (default: now; without an offset: UTC).")
@click.option("--runs/--no-runs", default=None,
              help="Also suggest schedules from the Dagster run history (default: when the instance has runs).")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="The most suggestions listed, best first (0: all).")
@click.option("--write", "write_ref", default=None, metavar="N|NAME",
              help="Save suggestion N (its number in the list) or NAME into the definitions folder.")
@click.option("--file", "file_name", default=None, help="With --write: the file name (default: <job id>.yaml).")
@FORMAT_OPTION
def suggest(histories: tuple[str, ...], min_count: int, days: float, now_text: str | None, runs: bool | None,
            limit: int, write_ref: str | None, file_name: str | None, fmt: str) -> None:
    """Suggest workflows from what you do by hand: command sequences repeated in your shell
    history (at least --min-count times in the last --days days, within one session), and
    schedules for workflows you start by hand at about the same time each day. Each suggestion
    is a valid workflow; secrets in your history become secret parameters, never copied."""
    try:
        now = parse_now(now_text)
    except ValueError:
        fail_as(fmt, f"--now {now_text!r}: expected an ISO 8601 date or date-time such as 2026-12-03T18:00", 2, [])
    library = Library()
    try:
        report = run_suggest(list(histories) if histories else None, min_count=min_count, days=days, now=now,
                             library=library if library.folder.is_dir() else None, runs=runs, limit=limit or None)
    except HistoryError as exc:
        fail_as(fmt, str(exc), 2, [])
    if write_ref is not None:
        item = report.find(write_ref)
        if item is None:
            fail_as(fmt, f"no suggestion {write_ref!r} (there are {len(report.suggestions)}; give a number from the "
                         "list or a name)", 2, [])
        _write(item, file_name, fmt)
        return
    if fmt == "json":
        print_json(report.to_json())
        return
    _print_report(report, console())
