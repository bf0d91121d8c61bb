"""``yaml2dag schedule``: add, replace or remove a workflow's schedule trigger."""

from __future__ import annotations

from pathlib import Path

import click

from yaml2dag.cli.library.common import _commit, _fail, _find, _library, _report_change
from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand, console, print_json
from yaml2dag.format import cron
from yaml2dag.format.validation import timezone_problem, validate_file
from yaml2dag.library.describe import DescribeError, parse_schedule
from yaml2dag.library.roundtrip import RoundTripDocument, is_json_path


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@click.argument("cron_expression", metavar="CRON", required=False)
@click.option("--timezone", "timezone", default=None, help="IANA time zone, e.g. Europe/Berlin (default: keep, else UTC).")
@click.option("--index", type=click.IntRange(min=1), default=None,
              help="Which schedule trigger to replace or remove when the workflow has several (1-based).")
@click.option("--remove", is_flag=True, help="Remove the schedule trigger(s) instead.")
@FORMAT_OPTION
def schedule(name: str, cron_expression: str | None, timezone: str | None, index: int | None, remove: bool,
             fmt: str) -> None:
    """Add or replace the schedule trigger of workflow NAME. CRON is a 5-field cron expression,
    a shorthand (@daily) or a phrase such as "every weekday at 9am". The file keeps its
    comments and key order; the version is bumped and the previous file kept."""
    if remove == bool(cron_expression):
        _fail(fmt, "give a CRON expression, or --remove", 2)
    library = _library(fmt)
    report = _find(library, name, fmt)
    path = Path(report.file)
    if cron_expression:
        try:
            cron.parse(cron_expression)
        except cron.CronError as exc:
            try:
                cron_expression, phrase_tz = parse_schedule(cron_expression)
            except DescribeError:
                _fail(fmt, f"{cron_expression!r} is not a cron expression ({exc}) nor a schedule phrase "
                           "such as \"every weekday at 9am\"", 2)
            timezone = timezone or phrase_tz
    if timezone:
        problem = timezone_problem(timezone)
        if problem:
            _fail(fmt, f"--timezone: {problem}", 2)
    try:
        doc = RoundTripDocument(path.read_text(encoding="utf-8"), is_json_path(path))
        if remove:
            if doc.remove_schedule(index) == 0:
                _fail(fmt, f"{report.file} has no schedule trigger", 1)
            how = "removed"
        else:
            how = doc.set_schedule(cron_expression, timezone, index)
    except ValueError as exc:
        _fail(fmt, str(exc), 2)
    change = _commit(fmt, library, path, doc.dump(), "schedule")
    if fmt == "json":
        data = change.to_json()
        data.update({"schedule": how, "cron": cron_expression, "timezone": timezone})
        print_json(data)
        return
    out = console()
    _report_change(fmt, change, out)
    if not cron_expression:
        out.print("  schedule removed", markup=False)
        return

    saved = validate_file(path).workflow
    for trigger in saved.schedules if saved is not None else ():
        expr, tz = trigger.options.get("cron", ""), trigger.options.get("timezone") or "UTC"
        mark = f"{how}: " if expr == cron_expression else ""
        out.print(f"  schedule {mark}{cron.describe(expr, tz)}", markup=False)
