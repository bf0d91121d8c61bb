"""A run's status at a past moment (``yaml2dag status RUN --at TIME``; issue 15, point 3).

The replay is :func:`~yaml2dag.runs.history.status.status_of_log` — the computation of
``yaml2dag status`` — applied to the prefix of the run's event log up to the moment: each step's
status and attempts, the approval gates and their decisions, the annotations and the outputs as
they were then. Dagster's run status at the moment is the last run event of the prefix
(``RUN_START``, ``RUN_SUCCESS``...); the run's end time and rollback outcome count once the
moment is at or after the end.
"""

from __future__ import annotations

from typing import Any

from yaml2dag.runs.history.common import _get_run, _iso, rollback_of
from yaml2dag.runs.history.moments import MomentError, iso_ms, parse_moment, to_ms
from yaml2dag.runs.history.status import RunMoment, status_of_log

#: Dagster's run events (current and legacy ``PIPELINE_*`` names) → the run status they set.
RUN_EVENT_STATUS = {
    "RUN_ENQUEUED": "QUEUED", "PIPELINE_ENQUEUED": "QUEUED",
    "RUN_DEQUEUED": "NOT_STARTED", "PIPELINE_DEQUEUED": "NOT_STARTED",
    "RUN_STARTING": "STARTING", "PIPELINE_STARTING": "STARTING",
    "RUN_START": "STARTED", "PIPELINE_START": "STARTED",
    "RUN_SUCCESS": "SUCCESS", "PIPELINE_SUCCESS": "SUCCESS",
    "RUN_FAILURE": "FAILURE", "PIPELINE_FAILURE": "FAILURE",
    "RUN_CANCELING": "CANCELING", "PIPELINE_CANCELING": "CANCELING",
    "RUN_CANCELED": "CANCELED", "PIPELINE_CANCELED": "CANCELED",
}


def run_start(instance: Any, run: Any) -> float | None:
    """When ``run`` started (seconds since the epoch): Dagster's start time, else its creation
    time (a queued run), else None."""
    record = instance.get_run_record_by_id(run.run_id)
    if record is None:
        return None
    if record.start_time:
        return record.start_time
    return record.create_timestamp.timestamp() if record.create_timestamp else None


def run_status_at(instance: Any, run_id: str, at: str, library: Any = None) -> dict:
    """The status of a run as it was at the moment ``at``.

    Args:
        run_id: the run id or a unique prefix of it.
        at: a TIME (:mod:`yaml2dag.runs.history.moments`): ISO time, or ``+DURATION`` after the
            run's start. A moment after the run ended gives its final status; one in the future
            its current status.

    Returns:
        The dict of :func:`~yaml2dag.runs.history.status.run_status`, as of the moment (steps not
        yet ended then are ``running``, ``waiting`` or ``not_run``; ``ended_at``,
        ``duration_s`` and ``rollback`` are None before the run ended), plus ``at`` (the moment,
        ISO-8601 UTC with milliseconds), ``after_start_s`` (seconds from the run's start),
        ``events_replayed`` and ``events_total``.

    Raises:
        RunNotFoundError: no such run.
        MomentError: ``at`` is not a TIME, or it is before the run started (option ``at``).
    """
    run = _get_run(instance, run_id)
    start = run_start(instance, run)
    moment = parse_moment("at", at, start)
    if start is None or to_ms(moment) < to_ms(start):
        since = f"it started at {_iso(start)}" if start else "it has not started"
        raise MomentError("at", f"{at!r} ({_iso(moment)}) is before the run's start ({since}); "
                                f"expected a time from the start on, e.g. +0s")
    record = instance.get_run_record_by_id(run.run_id)
    end = record.end_time if record is not None else None
    records = list(instance.all_logs(run.run_id))
    cut = to_ms(moment)
    prefix = [rec for rec in records if to_ms(rec.timestamp) <= cut]
    dagster_status = "NOT_STARTED"
    for rec in prefix:
        event = rec.dagster_event
        if event is not None and event.event_type_value in RUN_EVENT_STATUS:
            dagster_status = RUN_EVENT_STATUS[event.event_type_value]
    ended = end is not None and to_ms(end) <= cut
    if ended:
        dagster_status = run.status.value
    then = RunMoment(dagster_status, record.start_time if record is not None else None, end if ended else None,
                     rollback_of(run.tags) if ended else None)
    out = status_of_log(run, prefix, then, library)
    return {**out, "at": iso_ms(moment), "after_start_s": round(moment - start, 3),
            "events_replayed": len(prefix), "events_total": len(records)}

