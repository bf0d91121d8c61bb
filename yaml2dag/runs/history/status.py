"""The status of one run: Dagster's run status, its event log folded into workflow steps and the
approval gates waiting in it (``yaml2dag status``, the rows of ``history``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yaml2dag.runs.history.annotations import annotations_in
from yaml2dag.runs.history.common import TAG_USER, TAG_VERSION, TAG_WORKFLOW, _get_run, _iso, rollback_of
from yaml2dag.runs.tracking import StepTracker, owner_of, step_catalog
from yaml2dag.format.run_trigger import trigger_kind


#: Dagster run status → yaml2dag run status (issue #6, ``status``). A CANCELING run is still
#: ``running`` (its steps are being stopped; it may even still succeed or fail) until Dagster
#: marks it CANCELED; the dicts of such a run say ``"canceling": true``.
STATUS_MAP = {
    "QUEUED": "pending",
    "NOT_STARTED": "pending",
    "STARTING": "pending",
    "STARTED": "running",
    "SUCCESS": "completed",
    "FAILURE": "failed",
    "CANCELING": "running",
    "CANCELED": "canceled",
}


def _catalog_for(run: Any, library: Any) -> dict:
    if library is None:
        return {}
    name = run.tags.get(TAG_WORKFLOW)
    if not name:
        return {}
    try:
        report = library.find(name)
    except Exception:  # noqa: BLE001 - the file may have moved; events still tell the story
        return {}
    if report.workflow is None:
        return {}
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.compiler.job import folder_resolver

    return step_catalog(report.workflow, folder_resolver(None, library))


@dataclass(frozen=True)
class RunMoment:
    """Where a run stood at a moment: Dagster's run status then, and the run's start and end
    (seconds since the epoch; None when it had not started or ended yet).

    Attributes:
        dagster_status: Dagster's run status name (``STARTED``, ``SUCCESS``...).
        start, end: the run's start and end times, or None.
        rollback: the rollback outcome known then (:func:`~yaml2dag.runs.history.common.rollback_of`).
    """

    dagster_status: str
    start: float | None
    end: float | None
    rollback: str | None = None

    @property
    def finished(self) -> bool:
        return self.dagster_status in FINISHED


#: Dagster's run statuses of a finished run.
FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


def run_status(instance: Any, run_id: str, library: Any = None) -> dict:
    """The status of a run as a JSON-compatible dict: :func:`status_of_log` of its whole event log.

    Keys: ``workflow_id`` (job), ``workflow`` (name), ``run_id``, ``status``
    (pending|running|paused|completed|failed|canceled), ``canceling`` (True while a cancel is
    stopping the run: Dagster's CANCELING, shown as ``running``), ``dagster_status``, ``current_step``,
    ``started_at``/``ended_at`` (ISO-8601 UTC), ``duration_s``, ``step_statuses`` (each step's
    status: :data:`~yaml2dag.runs.tracking.STEP_STATUSES`, and while the run is in progress
    ``running`` or ``waiting`` — at its approval gate —, see
    :meth:`~yaml2dag.runs.tracking.StepTracker.step_statuses`), ``attempts`` (step → attempts
    started, for the steps that started: the most any of its Dagster steps took, e.g. any
    element of a ``for_each``), ``outputs``, ``error_message``, ``failed_step``, ``waiting``
    (approval gates waiting for a decision), ``approvals`` (every approval gate so far, with its
    decisions: :meth:`~yaml2dag.runs.approvals.Gate.to_json`), ``annotations`` (``{text, by,
    at}``: :mod:`~yaml2dag.runs.history.annotations`), ``handlers`` (compensations and
    on_failure steps that ran), ``rollback`` (``"rolled back"`` when every ``compensate``
    succeeded, ``"rollback failed"``, None when none ran: the run tag
    :data:`~yaml2dag.format.tags.TAG_ROLLBACK`).

    Raises:
        RunNotFoundError: no such run.
    """
    run = _get_run(instance, run_id)
    record = instance.get_run_record_by_id(run.run_id)
    now = RunMoment(run.status.value, record.start_time if record else None, record.end_time if record else None,
                    rollback_of(run.tags))
    return status_of_log(run, list(instance.all_logs(run.run_id)), now, library)


def status_of_log(run: Any, records: list, moment: RunMoment, library: Any = None) -> dict:
    """The status of ``run`` as :func:`run_status` gives it, folded from ``records`` (its event log
    entries in order: the whole log, or the prefix up to a past moment, see
    :mod:`yaml2dag.runs.history.replay`) with the run's state ``moment``."""
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.runs.approvals import gates_in

    tracker = StepTracker(_catalog_for(run, library))
    tries: dict[str, int] = {}
    for rec in records:
        event = rec.dagster_event
        if event is None:
            continue
        tracker.feed(event, rec.timestamp)
        if event.event_type_value in ("STEP_START", "STEP_RESTARTED") and rec.step_key:
            tries[rec.step_key] = tries.get(rec.step_key, 0) + 1
    attempts: dict[str, int] = {}
    for step_key, count in tries.items():
        owner, role = owner_of(step_key)
        if role in ("step", "element"):
            attempts[owner] = max(attempts.get(owner, 0), count)
    all_gates = [g.to_json() for g in gates_in(records)]
    waiting = [] if moment.finished else [g for g in all_gates if g["resolved"] is None]
    dagster_status = moment.dagster_status
    status = STATUS_MAP.get(dagster_status, dagster_status.lower())
    if dagster_status == "STARTED" and waiting:
        status = "paused"
    current = None
    if waiting:
        current = waiting[0]["step"]
    elif tracker.running:
        current = sorted(tracker.running, key=lambda k: tracker.started.get(k, 0))[0]
    start, end = moment.start, moment.end
    error = None
    failed_step = None
    if tracker.first_error:
        failed_step, error = tracker.first_error
    elif status in ("failed", "canceled"):
        error = tracker.run_error
    return {
        "workflow_id": run.job_name,
        "workflow": run.tags.get(TAG_WORKFLOW, run.job_name),
        "run_id": run.run_id,
        "status": status,
        "canceling": dagster_status == "CANCELING",
        "dagster_status": dagster_status,
        "current_step": current,
        "started_at": _iso(start),
        "ended_at": _iso(end),
        "duration_s": round(end - start, 3) if start and end else None,
        "step_statuses": tracker.step_statuses(live=not moment.finished),
        "attempts": {key: attempts[key] for key in tracker.catalog if key in attempts},
        "outputs": tracker.outputs,
        "error_message": error,
        "failed_step": failed_step,
        "waiting": waiting,
        "approvals": all_gates,
        "annotations": annotations_in(records),
        "handlers": tracker.handlers,
        "rollback": moment.rollback,
    }


def trigger_of(run: Any) -> str:
    """What started a run: :func:`yaml2dag.format.run_trigger.trigger_kind` of its tags and origin
    (``cli``, ``schedule``, ``sensor``, ``backfill``, ``ui`` or ``manual``)."""
    return trigger_kind(run.tags, getattr(run, "remote_job_origin", None) is not None)


def _status_of(run: Any, instance: Any = None) -> str:
    status = STATUS_MAP.get(run.status.value, run.status.value.lower())
    if run.status.value == "STARTED" and instance is not None:
        # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
        from yaml2dag.runs.approvals import gates

        if any(g.waiting for g in gates(instance, run.run_id)):
            return "paused"
    return status


def run_summary(record: Any, instance: Any = None) -> dict:
    """One run as a JSON-compatible dict (a row of ``history``).

    Keys: ``run_id``, ``workflow``, ``job``, ``status`` (yaml2dag status; ``paused`` needs
    ``instance``), ``canceling`` (Dagster's CANCELING: ``running`` until it stops),
    ``dagster_status``, ``trigger``, ``version``, ``created_at``,
    ``started_at``, ``ended_at`` (ISO-8601 UTC), ``duration_s`` (None while running),
    ``parent_run_id``, ``root_run_id``, ``user``, ``rollback`` (``"rolled back"``,
    ``"rollback failed"`` or None: see :func:`run_status`).
    """
    run = record.dagster_run
    start, end = record.start_time, record.end_time
    created = record.create_timestamp.timestamp() if record.create_timestamp else None
    return {
        "run_id": run.run_id,
        "workflow": run.tags.get(TAG_WORKFLOW, run.job_name),
        "job": run.job_name,
        "status": _status_of(run, instance),
        "canceling": run.status.value == "CANCELING",
        "dagster_status": run.status.value,
        "trigger": trigger_of(run),
        "version": run.tags.get(TAG_VERSION),
        "created_at": _iso(created),
        "started_at": _iso(start),
        "ended_at": _iso(end),
        "duration_s": round(end - start, 3) if start and end else None,
        "parent_run_id": run.parent_run_id,
        "root_run_id": run.root_run_id,
        "user": run.tags.get(TAG_USER),
        "rollback": rollback_of(run.tags),
    }
