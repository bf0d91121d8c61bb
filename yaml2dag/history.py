"""Reading runs back from Dagster's run storage: status of one run (``yaml2dag status``).

Dagster's run storage is the history: nothing is kept beside it. The status of a run combines
Dagster's run status, the run's event log folded into workflow steps
(:class:`~yaml2dag.tracking.StepTracker`) and the approval gates waiting in it.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from .errors import Yaml2DagError
from .tracking import StepTracker, step_catalog

#: Dagster run status → yaml2dag run status (issue #6, ``status``).
STATUS_MAP = {
    "QUEUED": "pending",
    "NOT_STARTED": "pending",
    "STARTING": "pending",
    "STARTED": "running",
    "SUCCESS": "completed",
    "FAILURE": "failed",
    "CANCELING": "canceled",
    "CANCELED": "canceled",
}


class RunNotFoundError(Yaml2DagError):
    """No run with that id in the instance."""


def _iso(stamp: float | None) -> str | None:
    if not stamp:
        return None
    return _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc).isoformat(timespec="seconds")


def _catalog_for(run: Any, library: Any) -> dict:
    if library is None:
        return {}
    name = run.tags.get("yaml2dag/workflow")
    if not name:
        return {}
    try:
        report = library.find(name)
    except Exception:  # noqa: BLE001 - the file may have moved; events still tell the story
        return {}
    if report.workflow is None:
        return {}
    from .compiler.job import folder_resolver

    return step_catalog(report.workflow, folder_resolver(None, library))


def run_status(instance: Any, run_id: str, library: Any = None) -> dict:
    """The status of a run as a JSON-compatible dict.

    Keys: ``workflow_id`` (job), ``workflow`` (name), ``run_id``, ``status``
    (pending|running|paused|completed|failed|canceled), ``dagster_status``, ``current_step``,
    ``started_at``/``ended_at`` (ISO-8601 UTC), ``duration_s``, ``step_statuses``, ``outputs``,
    ``error_message``, ``failed_step``, ``waiting`` (approval gates waiting for a decision),
    ``handlers`` (compensations and on_failure steps that ran).

    Raises:
        RunNotFoundError: no such run.
    """
    from .approvals import gates

    run = instance.get_run_by_id(run_id)
    if run is None:
        raise RunNotFoundError(f"no run with id {run_id!r} in the Dagster instance at {instance.root_directory}")
    record = instance.get_run_record_by_id(run_id)
    tracker = StepTracker(_catalog_for(run, library))
    for rec in instance.all_logs(run_id):
        if rec.dagster_event is not None:
            tracker.feed(rec.dagster_event, rec.timestamp)
    waiting = [] if run.is_finished else [g.to_json() for g in gates(instance, run_id) if g.waiting]
    dagster_status = run.status.value
    status = STATUS_MAP.get(dagster_status, dagster_status.lower())
    if status == "running" and waiting:
        status = "paused"
    current = None
    if waiting:
        current = waiting[0]["step"]
    elif tracker.running:
        current = sorted(tracker.running, key=lambda k: tracker.started.get(k, 0))[0]
    start = record.start_time if record else None
    end = record.end_time if record else None
    error = None
    failed_step = None
    if tracker.first_error:
        failed_step, error = tracker.first_error
    elif status in ("failed", "canceled"):
        error = tracker.run_error
    return {
        "workflow_id": run.job_name,
        "workflow": run.tags.get("yaml2dag/workflow", run.job_name),
        "run_id": run_id,
        "status": status,
        "dagster_status": dagster_status,
        "current_step": current,
        "started_at": _iso(start),
        "ended_at": _iso(end),
        "duration_s": round(end - start, 3) if start and end else None,
        "step_statuses": tracker.step_statuses(),
        "outputs": tracker.outputs,
        "error_message": error,
        "failed_step": failed_step,
        "waiting": waiting,
        "handlers": tracker.handlers,
    }
