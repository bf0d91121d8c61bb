"""Schedule suggestions from the run history (issue 12, §1, last bullet).

A workflow started by hand — trigger ``cli`` (``yaml2dag run``) or ``ui`` (the Dagster UI),
as :func:`yaml2dag.runs.history.trigger_of` reads it from the run's tags — on at least
``min_count`` different days of the window, at about the same time of day (all within one
hour: ±30 minutes around the middle), with the same parameters, gets a suggestion to add a
``schedule`` trigger:

* the time is the median start time of those runs, rounded to 5 minutes, in the time zone
  ``tz`` (default: the ``TZ`` environment variable, else the system's zone, else UTC);
* the days are ``1-5`` (Monday to Friday) when every run was on a weekday, else every day;
* the trigger's ``parameters`` are the values the runs used that differ from the workflow's
  defaults (a run's parameters are its run config, merged over the defaults).

Runs are read through Dagster's public instance API (``DagsterInstance.get_run_records``
with a ``RunsFilter`` on creation time); the time of a run is its ``start_time`` (when the
``RUN_START`` event was stored), else its creation time. Dagster is imported inside
:func:`schedule_suggestions` only, which keeps it out of the shell-history path (reading shell
history must stay fast and work without a Dagster instance).

A suggestion is marked ``covered_by`` the workflow when it already has a schedule that fires
within 30 minutes of the proposed time. A differing parameter whose name looks like a
credential is never written into a trigger: such a group gets no suggestion.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
from collections import defaultdict
from pathlib import Path
from typing import Any

from yaml2dag.suggest.report import Suggestion, iso
from zoneinfo import ZoneInfo
from ruamel.yaml.comments import CommentedMap
from yaml2dag.format import cron
from yaml2dag.format.model import MISSING
from yaml2dag.format.validation import validate_text
from yaml2dag.library.roundtrip import RoundTripDocument, is_json_path
from yaml2dag.runs.history.audit import SECRET_NAME
from yaml2dag.runs.history.status import trigger_of
from yaml2dag.runs.runner import get_instance

#: How far (minutes) from the middle of a cluster a start time may be: "about the same time".
TOLERANCE_MIN = 30
#: Triggers that mean "started by hand".
BY_HAND = ("cli", "ui")


def local_timezone() -> str:
    """The IANA name of this machine's time zone: ``$TZ``, else ``/etc/localtime``'s target,
    else ``UTC``."""
    candidates = [os.environ.get("TZ", "").lstrip(":")]
    try:
        target = os.path.realpath("/etc/localtime")
        if "zoneinfo/" in target:
            candidates.append(target.split("zoneinfo/", 1)[1])
    except OSError:
        pass
    for name in candidates:
        if not name:
            continue
        try:
            ZoneInfo(name)
            return name
        except Exception:  # noqa: BLE001 - not an IANA name (e.g. "CET-1CEST")
            continue
    return "UTC"


def _cluster(times: list[tuple[_dt.date, int, Any]]) -> list[tuple[_dt.date, int, Any]]:
    """The largest set of ``(day, minute of day, run)`` within one hour of each other
    (circular over midnight), counted by distinct days; one run per day (the first)."""
    ordered = sorted(times, key=lambda t: t[1])
    best: list = []
    for _, start, _ in ordered:
        window = [t for t in ordered if (t[1] - start) % 1440 <= 2 * TOLERANCE_MIN]
        per_day: dict[_dt.date, tuple] = {}
        for item in sorted(window, key=lambda t: (t[0], (t[1] - start) % 1440)):
            per_day.setdefault(item[0], item)
        if len(per_day) > len(best):
            best = list(per_day.values())
    return sorted(best, key=lambda t: t[0])


def _cron_for(cluster: list[tuple[_dt.date, int, Any]]) -> tuple[str, int]:
    """The cron expression for a cluster, and its time of day in minutes."""
    anchor = cluster[0][1]
    offsets = sorted((m - anchor + 720) % 1440 - 720 for _, m, _ in cluster)
    middle = offsets[len(offsets) // 2] if len(offsets) % 2 else (offsets[len(offsets) // 2 - 1] + offsets[len(offsets) // 2]) / 2
    minute = int(round((anchor + middle) / 5.0) * 5) % 1440
    weekdays = all(day.weekday() < 5 for day, _, _ in cluster)
    return f"{minute % 60} {minute // 60} * * {'1-5' if weekdays else '*'}", minute


def _fires_near(workflow: Any, minute: int) -> bool:
    for trigger in workflow.schedules:
        try:
            parsed = cron.parse(str(trigger.options.get("cron") or ""))
        except cron.CronError:
            continue
        for hour in parsed.hours:
            for m in parsed.minutes:
                if min((hour * 60 + m - minute) % 1440, (minute - hour * 60 - m) % 1440) <= TOLERANCE_MIN:
                    return True
    return False


def _with_schedule(text: str, path: str, cron_expression: str, timezone: str, overrides: dict) -> str:
    """The workflow text with a schedule trigger added (comments and key order kept)."""
    doc = RoundTripDocument(text, is_json_path(path))
    existing = doc.schedules()
    if not existing:
        doc.set_schedule(cron_expression, timezone)
        trigger = doc.data["triggers"][-1]
    else:
        trigger = {"type": "schedule", "cron": cron_expression, "timezone": timezone}
        if not doc.json_format:
            trigger = CommentedMap(trigger)
        doc.data["triggers"].append(trigger)
    if overrides:
        trigger["parameters"] = dict(overrides)
    return doc.dump()


def schedule_suggestions(*, start: float, end: float, min_count: int, library: Any, instance: Any = None,
                         tz: str | None = None) -> tuple[list[Suggestion], dict]:
    """Schedule suggestions from the runs of the Dagster instance.

    Args:
        start, end: the window (Unix seconds).
        min_count: the fewest days with a run at about the same time.
        library: the :class:`yaml2dag.library.folder.Library` (runs of workflows not in it are skipped).
        instance: a ``DagsterInstance`` (default: :func:`yaml2dag.runs.runner.get_instance`).
        tz: IANA time zone for times of day and the trigger (default :func:`local_timezone`).

    Returns:
        ``(suggestions, source)``: the suggestions and the source report (a dict as in
        :attr:`~.report.SuggestionReport.sources`).
    """
    # Dagster is imported here, not at module level: it keeps Dagster out of the shell-history path.
    from dagster import RunsFilter

    if instance is None:
        instance = get_instance()

    tz = tz or local_timezone()
    zone = ZoneInfo(tz)
    source = {"path": str(instance.root_directory), "format": "dagster runs", "timestamps": True, "lines": None,
              "entries": 0, "used": 0, "skipped": {}, "note": None}
    skipped: dict[str, int] = defaultdict(int)
    after = _dt.datetime.fromtimestamp(start, _dt.timezone.utc) - _dt.timedelta(days=1)
    records = instance.get_run_records(RunsFilter(created_after=after), limit=None)
    reports: dict[str, Any] = {}
    for report in library.reports() if library is not None and library.folder.is_dir() else []:
        if report.workflow is not None:
            reports.setdefault(report.workflow.id, report)
    groups: dict[tuple[str, str], list] = defaultdict(list)
    for record in records:
        run = record.dagster_run
        source["entries"] += 1
        stamp = record.start_time or (record.create_timestamp.timestamp() if record.create_timestamp else None)
        if stamp is None or not start <= stamp <= end:
            skipped["outside the window"] += 1
            continue
        if trigger_of(run) not in BY_HAND:
            skipped["not started by hand (schedule, sensor...)"] += 1
            continue
        report = reports.get(run.job_name)
        if report is None or not report.valid:
            skipped["workflow not in the library (or not valid)"] += 1
            continue
        defaults = {p.name: p.default for p in report.workflow.parameters if not p.is_secret and p.default is not MISSING}
        values = {**defaults, **dict(run.run_config or {})}
        source["used"] += 1
        groups[(run.job_name, json.dumps(values, sort_keys=True, default=str))].append((stamp, run, values))
    out: list[Suggestion] = []
    for (job, _), runs in sorted(groups.items()):
        report = reports[job]
        workflow = report.workflow
        times = []
        for stamp, run, _values in runs:
            local = _dt.datetime.fromtimestamp(stamp, zone)
            times.append((local.date(), local.hour * 60 + local.minute, (stamp, run)))
        cluster = _cluster(times)
        if len(cluster) < min_count:
            continue
        values = runs[0][2]
        defaults = {p.name: p.default for p in workflow.parameters if not p.is_secret}
        overrides = {k: v for k, v in values.items() if defaults.get(k) != v}
        if any(SECRET_NAME.search(k) for k in overrides):
            skipped["parameters that look like credentials"] += len(cluster)
            continue
        cron_expression, minute = _cron_for(cluster)
        text = Path(report.file).read_text(encoding="utf-8")
        covered = _fires_near(workflow, minute)
        # a workflow that already runs then is shown as it is (covered_by says so)
        new_text = text if covered else _with_schedule(text, report.file, cron_expression, tz, overrides)
        if not validate_text(new_text, report.file).valid:
            skipped["the workflow with a schedule would not validate"] += len(cluster)
            continue
        declared = {p.name: p for p in workflow.parameters}
        parameters = {k: {"type": declared[k].type if k in declared else "string", "default": v, "values": [v]}
                      for k, v in values.items() if not SECRET_NAME.search(k)}
        stamps = [item[2][0] for item in cluster]
        out.append(Suggestion(
            name=workflow.name, commands=[], occurrences=len(cluster), first_seen=iso(min(stamps)),
            last_seen=iso(max(stamps)), parameters=parameters,
            covered_by=workflow.name if covered else None, workflow=new_text,
            steps=max(1, sum(1 for _ in workflow.iter_steps(include_on_failure=False))), kind="schedule",
            cron=cron_expression, timezone=tz, file=report.file, evidence=[item[2][1].run_id for item in cluster]))
    source["skipped"] = dict(skipped)
    return out, source


__all__ = ["BY_HAND", "TOLERANCE_MIN", "local_timezone", "schedule_suggestions"]
