"""Which runs: runs of a workflow filtered by status and age (``history``), the newest run of each
job, and the ``--since``/``--status`` arguments that select them.
"""

from __future__ import annotations

import datetime as _dt
import re as _re
from typing import Any

from yaml2dag.runs.history.status import run_summary
from yaml2dag.format.durations import parse_duration


#: yaml2dag run statuses → the Dagster statuses they cover (``--status`` filters).
STATUS_FILTERS = {
    "pending": ("QUEUED", "NOT_STARTED", "STARTING"),
    "running": ("STARTED", "CANCELING"),
    "paused": ("STARTED",),
    "completed": ("SUCCESS",),
    "failed": ("FAILURE",),
    "canceled": ("CANCELED",),
}


def parse_since(text: str | None) -> float | None:
    """``"30d"``, ``"12h"``, ``"2w"``, ``"90m"`` → seconds; None/empty → None.

    Raises:
        ValueError: not a duration.
    """
    if text is None or not str(text).strip():
        return None

    value = str(text).strip().lower()
    match = _re.fullmatch(r"(\d+(?:\.\d+)?)\s*w(?:eeks?)?", value)
    if match:
        return float(match.group(1)) * 7 * 86400
    match = _re.fullmatch(r"(\d+(?:\.\d+)?)\s*days?", value)
    if match:
        return float(match.group(1)) * 86400
    return parse_duration(value)


def resolve_job(name: str, library: Any = None) -> tuple[str, str]:
    """(job id, workflow name) for a workflow reference: a library workflow (name, id or file),
    else ``name`` taken as a job name (runs of deleted workflows stay readable)."""
    if library is not None:
        try:
            report = library.find(name)
        except Exception:  # noqa: BLE001 - not in the library: maybe a job name
            report = None
        if report is not None and report.workflow is not None and report.workflow.id:
            return report.workflow.id, report.workflow.name
    return name, name


def _dagster_statuses(statuses: list[str] | None) -> list[Any] | None:
    if not statuses:
        return None
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import DagsterRunStatus

    out = []
    for status in statuses:
        key = status.strip().lower()
        names = STATUS_FILTERS.get(key) or (status.strip().upper(),)
        for name in names:
            try:
                out.append(DagsterRunStatus(name))
            except ValueError:
                raise ValueError(f"unknown run status {status!r} (use {', '.join(STATUS_FILTERS)})") from None
    return out


def list_runs(instance: Any, job: str | None = None, *, limit: int | None = None,
              statuses: list[str] | None = None, since_s: float | None = None) -> list[dict]:
    """Runs, newest first, as :func:`run_summary` dicts.

    Args:
        instance: the Dagster instance.
        job: only runs of this job (None: all).
        limit: at most this many.
        statuses: yaml2dag statuses (:data:`STATUS_FILTERS`) or Dagster status names.
        since_s: only runs created in the last ``since_s`` seconds.

    Raises:
        ValueError: an unknown status.
    """
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import RunsFilter

    wanted = [s.strip().lower() for s in statuses or []]
    kwargs: dict[str, Any] = {}
    if job:
        kwargs["job_name"] = job
    dagster_statuses = _dagster_statuses(statuses)
    if dagster_statuses:
        kwargs["statuses"] = dagster_statuses
    if since_s is not None:
        kwargs["created_after"] = _dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(seconds=since_s)
    only_paused = wanted == ["paused"]
    records = instance.get_run_records(RunsFilter(**kwargs), limit=None if only_paused else limit)
    rows = [run_summary(r, instance) for r in records]
    if "paused" in wanted and "running" not in wanted:
        rows = [r for r in rows if r["status"] != "running"]
    if "running" in wanted and "paused" not in wanted:
        rows = [r for r in rows if r["status"] != "paused"]
    return rows[:limit] if limit else rows


def last_runs(instance: Any, jobs: list[str]) -> dict[str, dict]:
    """The newest run of each job: ``{job: run_summary}`` (jobs without runs are absent); a
    run waiting at an approval gate is ``paused``."""
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import RunsFilter

    out = {}
    for job in jobs:
        records = instance.get_run_records(RunsFilter(job_name=job), limit=1)
        if records:
            out[job] = run_summary(records[0], instance)
    return out
