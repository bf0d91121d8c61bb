"""A run's event log, filtered and paged (``yaml2dag events``)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from yaml2dag.format.tags import PREFIX as TAGS_PREFIX
from yaml2dag.runs.history.common import _get_run, _meta_values, _step_matches
from yaml2dag.runs.history.moments import MomentError, parse_moment, to_ms
from yaml2dag.runs.history.replay import run_start
from yaml2dag.runs.tracking import owner_of, retry_message
import logging
from yaml2dag.runs.tracking import failure_message


def _event_row(index: int, rec: Any) -> dict:
    event = rec.dagster_event

    etype = event.event_type_value if event is not None else "LOG"
    if etype.startswith("PIPELINE_"):  # Dagster's legacy names of run events
        etype = "RUN_" + etype[len("PIPELINE_"):]
    step_key = rec.step_key
    row: dict[str, Any] = {
        "index": index,
        "timestamp": _dt.datetime.fromtimestamp(rec.timestamp, _dt.timezone.utc).isoformat(timespec="milliseconds"),
        "type": etype,
        "level": logging.getLevelName(rec.level) if isinstance(rec.level, int) else str(rec.level),
        "step_key": step_key,
        "step": owner_of(step_key)[0] if step_key else None,
        "message": rec.user_message if event is None else (event.message or rec.user_message),
    }
    if event is not None:
        if etype == "STEP_FAILURE":
            row["error"] = failure_message(event)
        elif etype == "STEP_UP_FOR_RETRY":
            row["error"] = retry_message(event)
        elif etype in ("ENGINE_EVENT", "STEP_OUTPUT"):
            values = _meta_values(event)
            if etype == "ENGINE_EVENT":
                values = {k: v for k, v in values.items() if k.startswith(TAGS_PREFIX) or k in
                          ("step", "reason", "by", "at", "decision", "status", "error", "output", "message", "text")}
            if values:
                row["metadata"] = values
    return row


def event_type_names() -> set[str]:
    """The event types ``events --type`` accepts, upper case: Dagster's ``DagsterEventType``
    names (``STEP_FAILURE``, ``RUN_START``...) and values (``PIPELINE_START``...), and ``LOG``
    (log messages, which have no Dagster event)."""
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import DagsterEventType

    return {e.name for e in DagsterEventType} | {str(e.value) for e in DagsterEventType} | {"LOG"}


def run_events(instance: Any, run_id: str, *, types: list[str] | None = None, step: str | None = None,
               limit: int | None = None, offset: int = 0, since: str | None = None,
               until: str | None = None) -> dict:
    """A run's event log, filtered and paged.

    Args:
        types: Dagster event type names (``STEP_FAILURE``, ``ENGINE_EVENT``...; ``LOG`` for log
            messages); case-insensitive. None: every event.
        step: a workflow step id (its conditions, ``for_each`` elements and sub-steps
            included) or a Dagster step key.
        limit, offset: page of the filtered events.
        since, until: only events at or after ``since`` and at or before ``until`` (TIMEs:
            :mod:`yaml2dag.runs.history.moments`, an ISO time or ``+DURATION`` after the run's
            start; compared to the millisecond, as the rows show times).

    Returns:
        ``{"run_id", "total" (after filtering), "offset", "limit", "events": [row]}``; each
        row has ``index`` (position in the whole log), ``timestamp``, ``type``, ``level``,
        ``step_key``, ``step``, ``message`` and, where relevant, ``error`` or ``metadata``.

    Raises:
        ValueError: an unknown event type (the message lists the valid ones: Dagster's
            ``DagsterEventType`` names, and ``LOG``).
        MomentError: ``since`` or ``until`` is not a TIME, or ``since`` is after ``until``
            (a ``ValueError`` naming the option in ``option``).
        RunNotFoundError: no such run.
    """
    wanted = {t.strip().upper() for t in types or [] if t.strip()}
    valid = event_type_names()
    unknown = sorted(wanted - valid - {"PIPELINE_" + t[4:] for t in valid if t.startswith("RUN_")})
    if unknown:
        shown = sorted(t for t in valid if not t.startswith("PIPELINE_"))
        raise ValueError(f"unknown event type{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
                         f"(event types: {', '.join(shown)})")
    run = _get_run(instance, run_id)
    run_id = run.run_id
    start = run_start(instance, run) if since is not None or until is not None else None
    low = to_ms(parse_moment("since", since, start)) if since is not None else None
    high = to_ms(parse_moment("until", until, start)) if until is not None else None
    if low is not None and high is not None and low > high:
        raise MomentError("since", f"{since!r} is after the end of the range ({until!r}); expected since <= until")
    wanted |= {"PIPELINE_" + t[4:] for t in wanted if t.startswith("RUN_")}
    wanted |= {"RUN_" + t[9:] for t in wanted if t.startswith("PIPELINE_")}
    rows = []
    for index, rec in enumerate(instance.all_logs(run_id)):
        event = rec.dagster_event
        etype = event.event_type_value if event is not None else "LOG"
        if wanted and etype not in wanted:
            continue
        if step and not _step_matches(rec.step_key, step):
            continue
        if (low is not None and to_ms(rec.timestamp) < low) or (high is not None and to_ms(rec.timestamp) > high):
            continue
        rows.append((index, rec))
    total = len(rows)
    page = rows[offset:offset + limit] if limit is not None else rows[offset:]
    return {"run_id": run_id, "total": total, "offset": offset, "limit": limit,
            "events": [_event_row(i, rec) for i, rec in page]}
