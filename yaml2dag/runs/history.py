"""Reading runs back from Dagster's run storage: ``status``, ``history``, ``events``, ``logs``,
``audit``, ``stats`` — and acting on runs: ``retry`` and ``cancel``.

Dagster's run storage is the history: nothing is kept beside it. The status of a run combines
Dagster's run status, the run's event log folded into workflow steps
(:class:`~yaml2dag.runs.tracking.StepTracker`) and the approval gates waiting in it.
"""

from __future__ import annotations

import csv as _csv
import datetime as _dt
import io as _io
import os as _os
import re as _re
import time as _time
from pathlib import Path as _Path
from typing import Any

from yaml2dag.format.errors import Yaml2DagError
from yaml2dag.runs.tracking import StepTracker, owner_of, retry_message, step_catalog

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
    from yaml2dag.compiler.job import folder_resolver

    return step_catalog(report.workflow, folder_resolver(None, library))


def run_status(instance: Any, run_id: str, library: Any = None) -> dict:
    """The status of a run as a JSON-compatible dict.

    Keys: ``workflow_id`` (job), ``workflow`` (name), ``run_id``, ``status``
    (pending|running|paused|completed|failed|canceled), ``canceling`` (True while a cancel is
    stopping the run: Dagster's CANCELING, shown as ``running``), ``dagster_status``, ``current_step``,
    ``started_at``/``ended_at`` (ISO-8601 UTC), ``duration_s``, ``step_statuses`` (each step's
    status: :data:`~yaml2dag.runs.tracking.STEP_STATUSES`, and while the run is in progress
    ``running`` or ``waiting`` — at its approval gate —, see
    :meth:`~yaml2dag.runs.tracking.StepTracker.step_statuses`), ``outputs``,
    ``error_message``, ``failed_step``, ``waiting`` (approval gates waiting for a decision),
    ``handlers`` (compensations and on_failure steps that ran).

    Raises:
        RunNotFoundError: no such run.
    """
    from yaml2dag.runs.approvals import gates

    run = _get_run(instance, run_id)
    run_id = run.run_id
    record = instance.get_run_record_by_id(run_id)
    tracker = StepTracker(_catalog_for(run, library))
    for rec in instance.all_logs(run_id):
        if rec.dagster_event is not None:
            tracker.feed(rec.dagster_event, rec.timestamp)
    waiting = [] if run.is_finished else [g.to_json() for g in gates(instance, run_id) if g.waiting]
    dagster_status = run.status.value
    status = STATUS_MAP.get(dagster_status, dagster_status.lower())
    if dagster_status == "STARTED" and waiting:
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
        "canceling": dagster_status == "CANCELING",
        "dagster_status": dagster_status,
        "current_step": current,
        "started_at": _iso(start),
        "ended_at": _iso(end),
        "duration_s": round(end - start, 3) if start and end else None,
        "step_statuses": tracker.step_statuses(live=not run.is_finished),
        "outputs": tracker.outputs,
        "error_message": error,
        "failed_step": failed_step,
        "waiting": waiting,
        "handlers": tracker.handlers,
    }


# =========================================================================== history, events,
# logs, audit, stats, retry and cancel (issue #6). Everything is read from (and, for retry and
# cancel, written to) the Dagster instance; nothing is kept beside it. Dagster is imported inside
# the functions, so importing this module stays cheap (``list`` uses :func:`last_runs_sqlite`).

#: yaml2dag run statuses → the Dagster statuses they cover (``--status`` filters).
STATUS_FILTERS = {
    "pending": ("QUEUED", "NOT_STARTED", "STARTING"),
    "running": ("STARTED", "CANCELING"),
    "paused": ("STARTED",),
    "completed": ("SUCCESS",),
    "failed": ("FAILURE",),
    "canceled": ("CANCELED",),
}
#: Metadata key of the engine event ``yaml2dag cancel`` records (the reason, who, when).
CANCEL_MARKER = "yaml2dag/cancel"
#: Run tags that say who started a run and how it relates to others.
TAG_USER = "yaml2dag/user"
TAG_RETRY_OF = "yaml2dag/retry_of"
TAG_RETRY_MODE = "yaml2dag/retry_mode"
#: Parameter names whose values are masked in audits (besides ``secret`` parameters).
SECRET_NAME = _re.compile(r"(?i)(pass(word|wd|phrase)?|secret|token|api[_-]?key|credential|private[_-]?key|auth)")


class RunStateError(Yaml2DagError):
    """The run is not in a state that allows the operation (retry of a running run, cancel of a
    finished one, a retry whose workflow file changed...)."""


def parse_since(text: str | None) -> float | None:
    """``"30d"``, ``"12h"``, ``"2w"``, ``"90m"`` → seconds; None/empty → None.

    Raises:
        ValueError: not a duration.
    """
    if text is None or not str(text).strip():
        return None
    from yaml2dag.format.durations import parse_duration

    value = str(text).strip().lower()
    match = _re.fullmatch(r"(\d+(?:\.\d+)?)\s*w(?:eeks?)?", value)
    if match:
        return float(match.group(1)) * 7 * 86400
    match = _re.fullmatch(r"(\d+(?:\.\d+)?)\s*days?", value)
    if match:
        return float(match.group(1)) * 86400
    return parse_duration(value)


def trigger_of(run: Any) -> str:
    """What started a run: :func:`yaml2dag.format.run_trigger.trigger_kind` of its tags and origin
    (``cli``, ``schedule``, ``sensor``, ``backfill``, ``ui`` or ``manual``)."""
    from yaml2dag.format.run_trigger import trigger_kind

    return trigger_kind(run.tags, getattr(run, "remote_job_origin", None) is not None)


def _status_of(run: Any, instance: Any = None) -> str:
    status = STATUS_MAP.get(run.status.value, run.status.value.lower())
    if run.status.value == "STARTED" and instance is not None:
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
    ``parent_run_id``, ``root_run_id``, ``user``.
    """
    run = record.dagster_run
    start, end = record.start_time, record.end_time
    created = record.create_timestamp.timestamp() if record.create_timestamp else None
    return {
        "run_id": run.run_id,
        "workflow": run.tags.get("yaml2dag/workflow", run.job_name),
        "job": run.job_name,
        "status": _status_of(run, instance),
        "canceling": run.status.value == "CANCELING",
        "dagster_status": run.status.value,
        "trigger": trigger_of(run),
        "version": run.tags.get("yaml2dag/version"),
        "created_at": _iso(created),
        "started_at": _iso(start),
        "ended_at": _iso(end),
        "duration_s": round(end - start, 3) if start and end else None,
        "parent_run_id": run.parent_run_id,
        "root_run_id": run.root_run_id,
        "user": run.tags.get(TAG_USER),
    }


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
    from dagster import RunsFilter

    out = {}
    for job in jobs:
        records = instance.get_run_records(RunsFilter(job_name=job), limit=1)
        if records:
            out[job] = run_summary(records[0], instance)
    return out


#: The shortest run id prefix accepted for a run (the tables show the first 8 characters).
MIN_RUN_PREFIX = 6


def find_run(instance: Any, run_id: str) -> Any:
    """The run with id ``run_id``, or the only run whose id starts with it (a prefix of at
    least :data:`MIN_RUN_PREFIX` characters, such as the 8-character ids the tables show).

    Raises:
        RunNotFoundError: no such run, or a prefix that several runs share.
    """
    run = instance.get_run_by_id(run_id)
    if run is not None:
        return run
    prefix = str(run_id).strip().lower()
    if _re.fullmatch(r"[0-9a-f-]+", prefix) and MIN_RUN_PREFIX <= len(prefix) < 36:
        matches = [rid for rid in instance.get_run_ids() if rid.startswith(prefix)]
        if len(matches) > 1:
            raise RunNotFoundError(f"{len(matches)} runs have ids starting with {run_id!r} "
                                   f"({', '.join(sorted(matches)[:5])}{'...' if len(matches) > 5 else ''}); "
                                   "give more characters")
        if matches:
            run = instance.get_run_by_id(matches[0])
            if run is not None:
                return run
    raise RunNotFoundError(f"no run with id {run_id!r} in the Dagster instance at {instance.root_directory}")


_get_run = find_run


def _meta_values(event: Any) -> dict:
    data = getattr(event, "event_specific_data", None)
    meta = getattr(data, "metadata", None) or {}
    try:
        return {k: getattr(v, "value", v) for k, v in meta.items()}
    except AttributeError:
        return {}


def _event_row(index: int, rec: Any) -> dict:
    event = rec.dagster_event
    import logging

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
            from yaml2dag.runs.tracking import failure_message

            row["error"] = failure_message(event)
        elif etype == "STEP_UP_FOR_RETRY":
            row["error"] = retry_message(event)
        elif etype in ("ENGINE_EVENT", "STEP_OUTPUT"):
            values = _meta_values(event)
            if etype == "ENGINE_EVENT":
                values = {k: v for k, v in values.items() if k.startswith("yaml2dag/") or k in
                          ("step", "reason", "by", "at", "decision", "status", "error", "output", "message")}
            if values:
                row["metadata"] = values
    return row


def event_type_names() -> set[str]:
    """The event types ``events --type`` accepts, upper case: Dagster's ``DagsterEventType``
    names (``STEP_FAILURE``, ``RUN_START``...) and values (``PIPELINE_START``...), and ``LOG``
    (log messages, which have no Dagster event)."""
    from dagster._core.events import DagsterEventType

    return {e.name for e in DagsterEventType} | {str(e.value) for e in DagsterEventType} | {"LOG"}


def _step_matches(row_step_key: str | None, wanted: str) -> bool:
    if not row_step_key:
        return False
    owner = owner_of(row_step_key)[0]
    return wanted in (row_step_key, owner) or owner.startswith(wanted + ".")


def run_events(instance: Any, run_id: str, *, types: list[str] | None = None, step: str | None = None,
               limit: int | None = None, offset: int = 0) -> dict:
    """A run's event log, filtered and paged.

    Args:
        types: Dagster event type names (``STEP_FAILURE``, ``ENGINE_EVENT``...; ``LOG`` for log
            messages); case-insensitive. None: every event.
        step: a workflow step id (its conditions, ``for_each`` elements and sub-steps
            included) or a Dagster step key.
        limit, offset: page of the filtered events.

    Returns:
        ``{"run_id", "total" (after filtering), "offset", "limit", "events": [row]}``; each
        row has ``index`` (position in the whole log), ``timestamp``, ``type``, ``level``,
        ``step_key``, ``step``, ``message`` and, where relevant, ``error`` or ``metadata``.

    Raises:
        ValueError: an unknown event type (the message lists the valid ones: Dagster's
            ``DagsterEventType`` names, and ``LOG``).
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
        rows.append((index, rec))
    total = len(rows)
    page = rows[offset:offset + limit] if limit is not None else rows[offset:]
    return {"run_id": run_id, "total": total, "offset": offset, "limit": limit,
            "events": [_event_row(i, rec) for i, rec in page]}


# --------------------------------------------------------------------------- logs

#: Messages the framework writes in a step's log that are not the step's output.
_FRAMEWORK = _re.compile(r"^(Skipping step |step `[^`]+` (is skipped|runs for|failed)|(if|switch|branch) `|"
                         r"Writing file at|Loading file from)")


def _stream_of(rec: Any) -> str:
    import logging

    message = rec.user_message or ""
    if message.startswith("[stderr] "):
        return "stderr"
    role = owner_of(rec.step_key)[1] if rec.step_key else ""
    if rec.level != logging.INFO or role not in ("step", "element") or _FRAMEWORK.match(message):
        return "log"
    return "stdout"


def run_logs(instance: Any, run_id: str, *, step: str | None = None, compute: bool = False,
             include_notes: bool = True) -> dict:
    """The captured output of a run's steps.

    Shell and python steps write each stdout/stderr line to the event log as an INFO
    message (stderr lines start with ``[stderr] ``); yaml2dag's own notes about a step (skips,
    continued failures, retries) are warnings or info messages of its condition ops. Dagster's
    compute logs (the raw stdout/stderr of the process that ran the steps) are listed too, and
    read with ``compute``.

    Args:
        step: only this workflow step (or Dagster step key).
        compute: include the compute log contents (``stdout``/``stderr`` text, last 1 MB).
        include_notes: include yaml2dag's notes (``stream == "log"``), not only output lines.

    Returns:
        ``{"run_id", "lines": [{"timestamp", "step", "step_key", "stream" (stdout|stderr|log),
        "level", "text"}], "compute_logs": [{"file_key", "steps", "stdout_bytes",
        "stderr_bytes", "stdout"?, "stderr"?}]}``.

    Raises:
        RunNotFoundError: no such run.
    """
    import logging

    run_id = _get_run(instance, run_id).run_id
    lines = []
    captures = []
    for rec in instance.all_logs(run_id):
        event = rec.dagster_event
        if event is not None:
            if event.event_type_value == "LOGS_CAPTURED":
                captures.append(event.event_specific_data)
            continue
        if not rec.step_key or rec.level < logging.INFO:
            continue
        if step and not _step_matches(rec.step_key, step):
            continue
        stream = _stream_of(rec)
        if stream == "log" and not include_notes:
            continue
        text = rec.user_message or ""
        if stream == "stderr":
            text = text[len("[stderr] "):]
        lines.append({
            "timestamp": _dt.datetime.fromtimestamp(rec.timestamp, _dt.timezone.utc).isoformat(timespec="milliseconds"),
            "step": owner_of(rec.step_key)[0], "step_key": rec.step_key, "stream": stream,
            "level": logging.getLevelName(rec.level), "text": text,
        })
    compute_logs = []
    manager = instance.compute_log_manager
    for data in captures:
        steps = list(getattr(data, "step_keys", None) or [])
        if step and not any(_step_matches(k, step) for k in steps):
            continue
        file_key = getattr(data, "file_key", None)
        item: dict[str, Any] = {"file_key": file_key, "steps": steps, "stdout_bytes": 0, "stderr_bytes": 0}
        try:
            log_key = manager.build_log_key_for_run(run_id, file_key)
            captured = manager.get_log_data(log_key, max_bytes=None)
        except Exception:  # noqa: BLE001 - a compute log manager that cannot read back
            captured = None
        if captured is not None:
            out, err = captured.stdout or b"", captured.stderr or b""
            item["stdout_bytes"], item["stderr_bytes"] = len(out), len(err)
            if compute:
                item["stdout"] = out[-1_000_000:].decode("utf-8", errors="replace")
                item["stderr"] = err[-1_000_000:].decode("utf-8", errors="replace")
        compute_logs.append(item)
    return {"run_id": run_id, "lines": lines, "compute_logs": compute_logs}


# --------------------------------------------------------------------------- audit


def mask_parameters(values: Any, workflow: Any = None) -> tuple[Any, list[str]]:
    """Run config with secrets masked: ``secret`` parameters, names that look like secrets
    (:data:`SECRET_NAME`) and any current value of the workflow's secrets. Returns (masked
    copy, masked parameter paths)."""
    from yaml2dag.format.secrets import MASK, SecretStore, mask

    declared = {p.name for p in workflow.parameters if p.is_secret} if workflow is not None else set()
    secret_values = SecretStore(workflow).values() if workflow is not None else ()
    masked: list[str] = []

    def walk(value: Any, path: str) -> Any:
        if isinstance(value, dict):
            out = {}
            for key, item in value.items():
                sub = f"{path}.{key}" if path else str(key)
                if (not path and key in declared) or SECRET_NAME.search(str(key)):
                    out[key] = MASK
                    masked.append(sub)
                else:
                    out[key] = walk(item, sub)
            return out
        if isinstance(value, list):
            return [walk(item, f"{path}[{i}]") for i, item in enumerate(value)]
        if isinstance(value, str) and secret_values:
            new = mask(value, secret_values)
            if new != value:
                masked.append(path)
            return new
        return value

    return walk(dict(values or {}), ""), masked


def _workflow_for(run: Any, library: Any) -> Any:
    if library is None:
        return None
    try:
        report = library.find(run.tags.get("yaml2dag/workflow") or run.job_name)
    except Exception:  # noqa: BLE001
        return None
    return report.workflow


def _attempts(records: list) -> dict[str, list[dict]]:
    """Attempts of each Dagster step key, from its events, in order."""
    out: dict[str, list[dict]] = {}
    for rec in records:
        event = rec.dagster_event
        if event is None or not rec.step_key:
            continue
        etype = event.event_type_value
        attempts = out.setdefault(rec.step_key, [])
        if etype in ("STEP_START", "STEP_RESTARTED"):
            attempts.append({"attempt": len(attempts) + 1, "step_key": rec.step_key, "started_at": rec.timestamp,
                             "ended_at": None, "duration_s": None, "outcome": "running", "error": None})
            continue
        if not attempts:
            if etype == "STEP_SKIPPED":
                attempts.append({"attempt": 0, "step_key": rec.step_key, "started_at": None, "ended_at": rec.timestamp,
                                 "duration_s": None, "outcome": "skipped", "error": None})
            continue
        current = attempts[-1]
        if etype == "STEP_OUTPUT":
            status = _meta_values(event).get("status")
            if status in ("continued", "fallback"):
                current["outcome_hint"] = status
                current["error"] = _meta_values(event).get("error")
            continue
        outcome = {"STEP_UP_FOR_RETRY": "retry", "STEP_FAILURE": "failed", "STEP_SUCCESS": "succeeded"}.get(etype)
        if outcome is None:
            continue
        if outcome == "succeeded" and current.pop("outcome_hint", None):
            outcome = "continued"
        current["outcome"] = outcome
        current["ended_at"] = rec.timestamp
        current["duration_s"] = round(rec.timestamp - current["started_at"], 3) if current["started_at"] else None
        if outcome == "retry":
            current["error"] = retry_message(event)
        elif outcome == "failed":
            from yaml2dag.runs.tracking import failure_message

            current["error"] = failure_message(event)
    for attempts in out.values():
        for item in attempts:
            item.pop("outcome_hint", None)
            for key in ("started_at", "ended_at"):
                item[key] = _iso_ms(item[key])
    return out


def _iso_ms(stamp: float | None) -> str | None:
    if not stamp:
        return None
    return _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc).isoformat(timespec="milliseconds")


def _outputs_by_step(records: list) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for rec in records:
        event = rec.dagster_event
        if event is None or event.event_type_value != "STEP_OUTPUT" or not rec.step_key:
            continue
        key, role = owner_of(rec.step_key)
        if role not in ("step", "results"):
            continue
        values = _meta_values(event)
        result = values.get("result")
        if isinstance(result, dict):
            out[key] = {"output": result.get("output"), **{k: v for k, v in result.items()
                                                          if k not in ("output", "status", "succeeded", "error",
                                                                       "duration", "attempts", "results")}}
        elif "output" in values:
            out[key] = {"output": values.get("output")}
    return out


def run_audit(instance: Any, run_id: str, library: Any = None) -> dict:
    """A complete audit record of a run, written from its event log.

    Returns:
        A JSON-compatible dict: ``run_id``, ``workflow``, ``job``, ``version``,
        ``workflow_hash``, ``status``, ``dagster_status``, ``started_by`` (``trigger``,
        ``user``, ``host``, ``pid``, ``schedule``, ``sensor``, ``parent_run_id``,
        ``root_run_id``, ``retry_of``), ``tags``, ``parameters`` (run config, secrets masked
        as ``***``), ``masked_parameters``, ``created_at``/``started_at``/``ended_at``,
        ``duration_s``, ``steps`` (each: ``step``, ``title``, ``status``, ``attempts`` —
        ``{attempt, step_key, started_at, ended_at, duration_s, outcome
        (succeeded|continued|failed|retry|skipped|running), error}`` —, ``retries``,
        ``started_at``, ``ended_at``, ``duration_s``, ``result``, ``error``,
        ``skip_reason``), ``approvals`` (gates with every decision), ``failure_handlers``
        (compensations and on_failure steps), ``cancellations`` (reason, by, at),
        ``outputs``, ``error_message``, ``failed_step``, ``event_count``, ``generated_at``.

    Raises:
        RunNotFoundError: no such run.
    """
    from yaml2dag.runs.approvals import gates

    run = _get_run(instance, run_id)
    run_id = run.run_id
    record = instance.get_run_record_by_id(run_id)
    workflow = _workflow_for(run, library)
    records = list(instance.all_logs(run_id))
    tracker = StepTracker(_catalog_for(run, library))
    cancellations = []
    for rec in records:
        event = rec.dagster_event
        if event is None:
            continue
        tracker.feed(event, rec.timestamp)
        if event.event_type_value == "ENGINE_EVENT":
            values = _meta_values(event)
            if values.get(CANCEL_MARKER):
                cancellations.append({"reason": values.get("reason") or None, "by": values.get("by"),
                                      "at": values.get("at"), "method": values.get("method") or None})
    attempts = _attempts(records)
    results = _outputs_by_step(records)
    by_step: dict[str, list[dict]] = {}
    for key, items in attempts.items():
        owner, role = owner_of(key)
        if role in ("step", "element") or (role == "subworkflow_done"):
            by_step.setdefault(owner, []).extend(items)
    steps = []
    for key, status in tracker.step_statuses().items():
        items = sorted(by_step.get(key, []), key=lambda a: (a["started_at"] or a["ended_at"] or ""))
        runs = [a for a in items if a["outcome"] != "skipped"]
        starts = [a["started_at"] for a in runs if a["started_at"]]
        ends = [a["ended_at"] for a in runs if a["ended_at"]]
        started = min(starts) if starts else None
        ended = max(ends) if ends else None
        duration = None
        if started and ended:
            duration = round(_dt.datetime.fromisoformat(ended).timestamp() - _dt.datetime.fromisoformat(started).timestamp(), 3)
        error = next((a["error"] for a in reversed(runs) if a["outcome"] in ("failed", "continued") and a["error"]), None)
        entry = tracker.catalog.get(key)
        steps.append({
            "step": key, "title": entry.title if entry else key, "kind": entry.kind if entry else "step",
            "status": status, "attempts": runs, "retries": sum(1 for a in runs if a["outcome"] == "retry"),
            "started_at": started, "ended_at": ended, "duration_s": duration,
            "result": results.get(key), "error": error,
            "skip_reason": tracker.reasons.get(key) if status == "skipped" else None,
        })
    masked_config, masked = mask_parameters(run.run_config, workflow)
    start = record.start_time if record else None
    end = record.end_time if record else None
    created = record.create_timestamp.timestamp() if record and record.create_timestamp else None
    failed_step, error = (tracker.first_error if tracker.first_error else (None, tracker.run_error))
    tags = dict(run.tags)
    return {
        "run_id": run_id,
        "workflow": tags.get("yaml2dag/workflow", run.job_name),
        "job": run.job_name,
        "version": tags.get("yaml2dag/version"),
        "workflow_hash": tags.get("yaml2dag/hash"),
        "status": _status_of(run, instance),
        "dagster_status": run.status.value,
        "started_by": {
            "trigger": trigger_of(run),
            "user": tags.get(TAG_USER) or tags.get("dagster/user") or None,
            "host": tags.get("yaml2dag/cli_host"),
            "pid": int(tags["yaml2dag/cli_pid"]) if str(tags.get("yaml2dag/cli_pid", "")).isdigit() else None,
            "schedule": tags.get("dagster/schedule_name"),
            "sensor": tags.get("dagster/sensor_name"),
            "parent_run_id": run.parent_run_id,
            "root_run_id": run.root_run_id,
            "retry_of": tags.get(TAG_RETRY_OF),
            "trigger_info": tags.get("yaml2dag/trigger_info"),
        },
        "tags": tags,
        "parameters": masked_config,
        "masked_parameters": masked,
        "created_at": _iso(created),
        "started_at": _iso(start),
        "ended_at": _iso(end),
        "duration_s": round(end - start, 3) if start and end else None,
        "steps": steps,
        "approvals": [g.to_json() for g in gates(instance, run_id)],
        "failure_handlers": tracker.handlers,
        "cancellations": cancellations,
        "outputs": tracker.outputs,
        "error_message": error,
        "failed_step": failed_step,
        "event_count": len(records),
        "generated_at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


#: Columns of the CSV audit (one row per fact, in time order within each section).
AUDIT_CSV_COLUMNS = ("run_id", "section", "step", "attempt", "time", "outcome", "duration_s", "detail")


def audit_csv(audit: dict) -> str:
    """An audit (:func:`run_audit`) as CSV text with :data:`AUDIT_CSV_COLUMNS`.

    Sections: ``run`` (one row), ``started_by``, ``parameter``, ``attempt`` (one row per step
    attempt), ``skip``, ``approval`` (one row per decision and per outcome), ``handler``,
    ``cancel``, ``output``.
    """
    import json as _json

    buffer = _io.StringIO()
    writer = _csv.writer(buffer, lineterminator="\n")
    writer.writerow(AUDIT_CSV_COLUMNS)
    rid = audit["run_id"]

    def row(section: str, step: Any = "", attempt: Any = "", time: Any = "", outcome: Any = "",
            duration: Any = "", detail: Any = "") -> None:
        if not isinstance(detail, str):
            detail = _json.dumps(detail, ensure_ascii=False, default=str)
        writer.writerow([rid, section, step or "", attempt if attempt != "" else "", time or "", outcome or "",
                         "" if duration is None else duration, detail])

    row("run", "", "", audit["started_at"] or audit["created_at"], audit["status"], audit["duration_s"],
        f"workflow={audit['workflow']} job={audit['job']} version={audit['version']} hash={audit['workflow_hash']}")
    for key, value in audit["started_by"].items():
        if value not in (None, ""):
            row("started_by", detail=f"{key}={value}")
    for name, value in audit["parameters"].items():
        row("parameter", detail=f"{name}={_json.dumps(value, ensure_ascii=False, default=str)}")
    for step in audit["steps"]:
        if step["status"] == "skipped":
            row("skip", step["step"], outcome="skipped", detail=step["skip_reason"] or "")
        if step["status"] == "not_run" and not step["attempts"]:
            row("attempt", step["step"], outcome="not_run")
        for attempt in step["attempts"]:
            row("attempt", step["step"], attempt["attempt"], attempt["started_at"], attempt["outcome"],
                attempt["duration_s"], attempt["error"] or "")
    for gate in audit["approvals"]:
        for decision in gate["decisions"]:
            row("approval", gate["step"], time=decision.get("at"), outcome=decision.get("decision"),
                detail=f"by {decision.get('by')}" + (f": {decision['comment']}" if decision.get("comment") else ""))
        if gate["resolved"]:
            row("approval", gate["step"], outcome=gate["resolved"].get("decision"),
                detail="approved by " + ", ".join(gate["resolved"].get("approved_by") or []) if gate["resolved"].get("approved_by") else "")
    for handler in audit["failure_handlers"]:
        row("handler", handler.get("step"), outcome=handler.get("status"),
            detail=f"{handler.get('kind')}: {handler.get('error') or handler.get('output') or ''}".rstrip(": "))
    for cancel in audit["cancellations"]:
        row("cancel", time=cancel.get("at"), outcome="cancel_requested",
            detail=f"by {cancel.get('by')}: {cancel.get('reason') or ''}")
    for name, value in audit["outputs"].items():
        row("output", detail=f"{name}={_json.dumps(value, ensure_ascii=False, default=str)}")
    return buffer.getvalue()


# --------------------------------------------------------------------------- stats


def _p95(values: list[float]) -> float | None:
    """95th percentile, nearest-rank method (the smallest value ≥ 95 % of the values)."""
    if not values:
        return None
    ordered = sorted(values)
    import math

    rank = max(1, math.ceil(0.95 * len(ordered)))
    return ordered[rank - 1]


def _step_outcomes(instance: Any, run_id: str) -> dict[str, dict]:
    """Per workflow step of one run: ``{ran, failed, retried, duration}``."""
    from dagster._core.events import DagsterEventType

    kinds = {DagsterEventType.STEP_START, DagsterEventType.STEP_RESTARTED, DagsterEventType.STEP_OUTPUT,
             DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED,
             DagsterEventType.STEP_UP_FOR_RETRY}
    tracker = StepTracker()
    retried: set[str] = set()
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    for rec in instance.all_logs(run_id, of_type=kinds):
        event = rec.dagster_event
        tracker.feed(event, rec.timestamp)
        key, role = owner_of(rec.step_key or "")
        if role not in ("step", "element"):
            continue
        if event.event_type_value == "STEP_UP_FOR_RETRY":
            retried.add(key)
        elif event.event_type_value == "STEP_START":
            started[key] = min(started.get(key, rec.timestamp), rec.timestamp)
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            ended[key] = max(ended.get(key, rec.timestamp), rec.timestamp)
    out = {}
    for key, status in tracker.statuses.items():
        if status in ("skipped",) or key == "":
            continue
        out[key] = {"status": status, "failed": status in ("failed", "continued"), "retried": key in retried,
                    "duration": ended[key] - started[key] if key in started and key in ended else None}
    return out


def run_stats(instance: Any, job: str | None = None, *, since_s: float | None = None,
              names: dict[str, str] | None = None) -> dict:
    """Success rates and durations of runs, per workflow (job), and per step.

    Args:
        job: only this job (None: every job with runs).
        since_s: only runs created in the last ``since_s`` seconds (None: all).
        names: job id → workflow name, for display.

    Returns:
        ``{"since", "since_s", "workflows": [{"workflow", "job", "runs", "completed", "failed",
        "canceled", "in_progress", "success_rate" (completed / (completed + failed), None
        when no run finished either way), "mean_duration_s", "p95_duration_s" (finished
        runs), "last_run_at", "steps": {step: {"runs", "failures", "retries",
        "failure_rate", "retry_rate", "mean_duration_s"}}}]}``. A step's ``runs`` counts the
        runs in which it ran (skipped and not-run are left out); ``failures`` counts failed
        and continued-after-failure outcomes; ``retries`` the runs in which it was retried.
    """
    runs = list_runs(instance, job, since_s=since_s)
    by_job: dict[str, list[dict]] = {}
    for row in runs:
        by_job.setdefault(row["job"], []).append(row)
    if job and job not in by_job:
        by_job[job] = []
    workflows = []
    for job_name, rows in sorted(by_job.items()):
        completed = sum(1 for r in rows if r["status"] == "completed")
        failed = sum(1 for r in rows if r["status"] == "failed")
        canceled = sum(1 for r in rows if r["status"] == "canceled")
        durations = [r["duration_s"] for r in rows if r["duration_s"] is not None
                     and r["status"] in ("completed", "failed", "canceled")]
        steps: dict[str, dict] = {}
        for r in rows:
            for key, info in _step_outcomes(instance, r["run_id"]).items():
                item = steps.setdefault(key, {"runs": 0, "failures": 0, "retries": 0, "_durations": []})
                item["runs"] += 1
                item["failures"] += int(info["failed"])
                item["retries"] += int(info["retried"])
                if info["duration"] is not None:
                    item["_durations"].append(info["duration"])
        for item in steps.values():
            durs = item.pop("_durations")
            item["failure_rate"] = round(item["failures"] / item["runs"], 4) if item["runs"] else None
            item["retry_rate"] = round(item["retries"] / item["runs"], 4) if item["runs"] else None
            item["mean_duration_s"] = round(sum(durs) / len(durs), 3) if durs else None
        decided = completed + failed
        workflows.append({
            "workflow": (names or {}).get(job_name) or (rows[0]["workflow"] if rows else job_name),
            "job": job_name,
            "runs": len(rows),
            "completed": completed,
            "failed": failed,
            "canceled": canceled,
            "in_progress": len(rows) - completed - failed - canceled,
            "success_rate": round(completed / decided, 4) if decided else None,
            "mean_duration_s": round(sum(durations) / len(durations), 3) if durations else None,
            "p95_duration_s": round(_p95(durations), 3) if durations else None,
            "last_run_at": rows[0]["created_at"] if rows else None,
            "steps": steps,
        })
    since = None
    if since_s is not None:
        since = (_dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(seconds=since_s)).isoformat(timespec="seconds")
    return {"since": since, "since_s": since_s, "workflows": workflows}


# --------------------------------------------------------------------------- cancel


def _report_marker(instance: Any, run: Any, message: str, values: dict[str, Any]) -> None:
    from dagster._core.events import EngineEventData

    from yaml2dag.runs.approvals import _text

    instance.report_engine_event(message, run, EngineEventData(metadata={k: _text(v) for k, v in values.items()}))


def _cli_process(run: Any, created: float | None = None) -> int | None:
    """The pid of the live ``yaml2dag`` process on this host that executes ``run``, if any.

    Checked with psutil: the process exists, was started before the run was created, and its
    command line mentions yaml2dag or Python (so a recycled pid is never signalled).
    """
    import socket

    pid_text = run.tags.get("yaml2dag/cli_pid")
    if not pid_text or not str(pid_text).isdigit() or run.tags.get("yaml2dag/cli_host") != socket.gethostname():
        return None
    pid = int(pid_text)
    try:
        import psutil

        proc = psutil.Process(pid)
        cmdline = " ".join(proc.cmdline()).lower()
        if "yaml2dag" not in cmdline and "python" not in cmdline:
            return None
        if created is not None and proc.create_time() > created + 1.0:
            return None  # a newer process that got the same pid
        return pid
    except Exception:  # noqa: BLE001 - gone, or not ours to inspect
        return None


def cancel_run(instance: Any, run_id: str, *, reason: str | None = None, by: str | None = None,
               wait_s: float = 30.0, poll_s: float = 0.25) -> dict:
    """Terminate a running or queued run and record why.

    How: the reason is recorded first (an engine event with metadata ``yaml2dag/cancel``:
    reason, by, at, method). A queued run is canceled through the run coordinator. A run
    executed by a ``yaml2dag run``/``retry`` process on this host (run tags
    ``yaml2dag/cli_pid`` and ``yaml2dag/cli_host``) is marked CANCELING and that process gets
    SIGINT: yaml2dag's executor stops the steps in flight (a shell step's whole process group
    is killed) and the run ends CANCELED. A run launched through the webserver or daemon is
    terminated by the instance's run launcher. A run whose process is gone is marked CANCELED.
    A run executing on another host is marked CANCELING; Dagster's run monitoring (enabled in
    the shipped dagster.yaml) finishes it.

    Args:
        reason: why (recorded in the event log).
        by: who (default: ``$YAML2DAG_USER`` or the login name).
        wait_s: how long to wait for the run to end (0: do not wait).

    Returns:
        ``{"run_id", "previous_status", "status", "canceling" (still stopping: ``status`` is
        ``running``), "dagster_status", "method" (queue|signal|launcher|marked|requested),
        "reason", "by", "ended" (bool)}``.

    Raises:
        RunNotFoundError: no such run.
        RunStateError: the run has already finished.
    """
    import signal
    import socket

    from yaml2dag.runs.approvals import default_user

    run = _get_run(instance, run_id)
    run_id = run.run_id
    if run.is_finished:
        raise RunStateError(f"run {run_id} has already finished ({run.status.value}); nothing to cancel")
    who = by or default_user()
    previous = run.status.value
    record = instance.get_run_record_by_id(run_id)
    created = record.create_timestamp.timestamp() if record is not None and record.create_timestamp else None
    pid = _cli_process(run, created)
    if previous == "QUEUED":
        method = "queue"
    elif pid is not None:
        method = "signal"
    elif getattr(run, "remote_job_origin", None) is not None:
        method = "launcher"
    elif run.tags.get("yaml2dag/cli_host") and run.tags.get("yaml2dag/cli_host") != socket.gethostname():
        method = "requested"
    else:
        method = "marked"
    text = f"cancel requested by {who}" + (f": {reason}" if reason else "")
    _report_marker(instance, run, text, {CANCEL_MARKER: "requested", "reason": reason or "", "by": who,
                                         "at": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
                                         "method": method})
    message = f"Run canceled by {who}" + (f": {reason}" if reason else "")
    if method == "queue":
        if not instance.run_coordinator.cancel_run(run_id):
            instance.report_run_canceled(instance.get_run_by_id(run_id), message=message)
    elif method == "signal":
        if run.status.value != "CANCELING":
            instance.report_run_canceling(run, message=message)
        try:
            _os.kill(pid, signal.SIGINT)
        except ProcessLookupError:
            method = "marked"
    elif method == "launcher":
        if not instance.run_coordinator.cancel_run(run_id):
            method = "marked"
    elif method == "requested":
        if run.status.value != "CANCELING":
            instance.report_run_canceling(run, message=message)
    if method == "marked":
        current = instance.get_run_by_id(run_id)
        if current is not None and not current.is_finished:
            instance.report_run_canceled(current, message=message + " (its process was not running)")
    deadline = _time.monotonic() + max(0.0, wait_s)
    current = instance.get_run_by_id(run_id)
    while current is not None and not current.is_finished and _time.monotonic() < deadline:
        _time.sleep(poll_s)
        current = instance.get_run_by_id(run_id)
    if current is None:  # a run still waiting for a concurrency slot is removed by its process
        return {"run_id": run_id, "previous_status": previous, "status": "deleted", "canceling": False, "dagster_status": None,
                "method": method, "reason": reason, "by": who, "ended": True}
    return {"run_id": run_id, "previous_status": previous, "status": _status_of(current),
            "canceling": current.status.value == "CANCELING",
            "dagster_status": current.status.value, "method": method, "reason": reason, "by": who,
            "ended": current.is_finished}


# --------------------------------------------------------------------------- retry


def _plan_steps(instance: Any, run: Any) -> dict[str, list[str]]:
    """The parent's execution plan: step key → keys of the steps it reads from."""
    snapshot = instance.get_execution_plan_snapshot(run.execution_plan_snapshot_id)
    return {s.key: [h.step_key for i in s.inputs for h in i.upstream_output_handles] for s in snapshot.steps}


def _downstream(graph: dict[str, list[str]], roots: set[str]) -> set[str]:
    children: dict[str, set[str]] = {}
    for key, ups in graph.items():
        for up in ups:
            children.setdefault(up, set()).add(key)
    seen = set(roots)
    todo = list(roots)
    while todo:
        for child in children.get(todo.pop(), ()):
            if child not in seen:
                seen.add(child)
                todo.append(child)
    return seen


def _workflow_file_for(run: Any, library: Any, use_current: bool) -> tuple[str, str | None]:
    """(file to rebuild the job from, note). The file whose hash matches the run's
    ``yaml2dag/hash`` tag: the current file, else an archived version of it.

    Raises:
        RunStateError: the workflow is not in the library, or it changed and no archived
            version matches (unless ``use_current``).
    """
    import hashlib

    from yaml2dag.library import versions

    name = run.tags.get("yaml2dag/workflow") or run.job_name
    try:
        report = library.find(name)
    except Exception:  # noqa: BLE001
        try:
            report = library.find(run.job_name)
        except Exception:  # noqa: BLE001
            raise RunStateError(f"the workflow {name!r} of run {run.run_id} is not in the library "
                                f"{library.folder}; cannot rebuild its job") from None
    path = report.file
    wanted = run.tags.get("yaml2dag/hash")
    current = hashlib.sha256(_Path(path).read_bytes()).hexdigest()
    if not wanted or wanted == current:
        return path, None
    saved = versions.find_by_hash(library.folder, run.job_name, wanted)
    if saved is not None:
        return saved.file, f"the workflow changed since the run; re-executing its version {saved.version} ({saved.file})"
    if use_current:
        return path, "the workflow changed since the run and no saved version matches; using the current file"
    raise RunStateError(f"the workflow file {path} changed since run {run.run_id} and no saved version in "
                        f"{versions.archive_dir(library.folder, run.job_name)} matches the run's hash; "
                        "use --use-current to re-execute with the current file")


def retry_run(instance: Any, run_id: str, library: Any, *, from_step: str | None = None,
              from_failure: bool = False, all_steps: bool = False, use_current: bool = False,
              quiet: bool = True) -> dict:
    """Re-execute a finished run through Dagster, reusing the outputs of the steps that are not
    re-run (they are read from the parent run's storage). The new run is linked to its parent
    (``parent_run_id``/``root_run_id``, tag ``yaml2dag/retry_of``) and tagged like a CLI run
    (so ``yaml2dag cancel`` can stop it).

    Args:
        from_step: re-run this workflow step (its conditions, elements and sub-steps) and
            everything downstream of it.
        from_failure: re-run the steps that failed or did not run (Dagster's "from failure");
            the default for failed and canceled runs.
        all_steps: re-run every step (the default for successful runs).
        use_current: rebuild the job from the current file even when it changed since the run.

    Returns:
        ``{"run_id" (new), "parent_run_id", "root_run_id", "mode", "status", "dagster_status",
        "step_statuses" (``reused`` for steps whose parent outputs were reused),
        "reused_steps", "executed_steps" (Dagster step keys started in the new run),
        "error_message", "failed_step", "note"}``.

    Raises:
        RunNotFoundError: no such run.
        RunStateError: the run is not finished, ``from_failure`` on a successful run, unknown
            ``from_step``, or the workflow file changed (see ``use_current``).
    """
    from dagster import ReexecutionOptions, execute_job

    from yaml2dag.runs.approvals import default_user
    from yaml2dag.compiler import reconstructable_job
    from yaml2dag.compiler import runtime as _runtime
    from yaml2dag.runs.runner import _quiet_stderr

    parent = _get_run(instance, run_id)
    run_id = parent.run_id
    if not parent.is_finished:
        raise RunStateError(f"run {run_id} is {parent.status.value}; only finished runs can be retried")
    status = parent.status.value
    if from_step:
        mode = "from_step"
    elif from_failure:
        mode = "from_failure"
    elif all_steps:
        mode = "all"
    else:
        mode = "from_failure" if status in ("FAILURE", "CANCELED") else "all"
    if mode == "from_failure" and status not in ("FAILURE", "CANCELED"):
        raise RunStateError(f"run {run_id} did not fail ({status}); use --from-step ID or --all")
    path, note = _workflow_file_for(parent, library, use_current)
    recon = reconstructable_job(path, str(library.folder))
    if mode == "from_failure":
        options = ReexecutionOptions.from_failure(run_id, instance)
    elif mode == "from_step":
        graph = _plan_steps(instance, parent)
        roots = {key for key in graph if _step_matches(key, from_step)}
        if not roots:
            known = sorted({owner_of(k)[0] for k in graph if owner_of(k)[0]})
            raise RunStateError(f"run {run_id} has no step `{from_step}` (steps: {', '.join(known)})")
        options = ReexecutionOptions(parent_run_id=run_id, step_selection=sorted(_downstream(graph, roots)))
    else:
        options = ReexecutionOptions(parent_run_id=run_id, step_selection=[])
    skip = ("dagster/", "yaml2dag/cli_", "yaml2dag/trigger", "yaml2dag/user", TAG_RETRY_OF, TAG_RETRY_MODE,
            "yaml2dag/workflow", "yaml2dag/version", "yaml2dag/hash", ".dagster/")
    tags = {k: v for k, v in parent.tags.items() if not k.startswith(skip)}
    from yaml2dag.runs.run_health import cli_tags

    # this process executes the re-execution (pid, host, start time; see yaml2dag.runs.run_health)
    tags.update({"yaml2dag/trigger": "cli", **cli_tags(), TAG_USER: default_user(), TAG_RETRY_OF: run_id,
                 TAG_RETRY_MODE: mode})
    with _quiet_stderr(quiet):
        try:
            result = execute_job(recon, instance, reexecution_options=options, tags=tags)
        except KeyboardInterrupt:
            result = None
    new_id = result.run_id if result is not None else None
    if new_id is None:
        from dagster import RunsFilter

        records = instance.get_run_records(RunsFilter(tags={TAG_RETRY_OF: run_id}), limit=1)
        if not records:
            raise RunStateError("the re-execution was interrupted before it started")
        new_id = records[0].dagster_run.run_id
    _runtime.forget_run(new_id)
    info = run_status(instance, new_id, library)
    from dagster._core.events import DagsterEventType

    executed = [r.step_key for r in instance.all_logs(new_id, of_type=DagsterEventType.STEP_START)]
    child = instance.get_run_by_id(new_id)
    planned = set(child.step_keys_to_execute or [])
    statuses = dict(info["step_statuses"])
    reused = []
    if planned:
        for key, state in statuses.items():
            if state == "not_run" and not any(owner_of(k)[0] == key or owner_of(k)[0].startswith(key + ".")
                                              for k in planned):
                statuses[key] = "reused"
                reused.append(key)
    return {"run_id": new_id, "parent_run_id": child.parent_run_id, "root_run_id": child.root_run_id,
            "mode": mode, "status": info["status"], "dagster_status": info["dagster_status"],
            "step_statuses": statuses, "reused_steps": reused, "executed_steps": executed,
            "error_message": info["error_message"], "failed_step": info["failed_step"],
            "outputs": info["outputs"], "note": note}


# --------------------------------------------------------------------------- instance detection


def has_run_storage(home: str | _Path | None = None) -> bool:
    """True when the Dagster instance may hold runs, decided without importing Dagster: its
    ``dagster.yaml`` configures a storage (PostgreSQL, MySQL...), or the default SQLite run
    database ``history/runs.db`` exists. ``list`` uses this to stay fast on a fresh home."""
    if home is None:
        from yaml2dag.runs.runner import instance_home

        home = instance_home()
    home = _Path(home)
    if not home.is_dir():
        return False
    if (home / "history" / "runs.db").exists():
        return True
    config = home / "dagster.yaml"
    if config.is_file():
        try:
            import yaml

            data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except Exception:  # noqa: BLE001 - a broken dagster.yaml: let Dagster report it
            return True
        if isinstance(data, dict) and any(k in data for k in ("storage", "run_storage")):
            return True
    return False


def _configured_storage(home: _Path) -> bool:
    config = home / "dagster.yaml"
    if not config.is_file():
        return False
    try:
        import yaml

        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except Exception:  # noqa: BLE001
        return True
    return isinstance(data, dict) and any(k in data for k in ("storage", "run_storage"))


def _serialized_metadata(entry: Any) -> dict[str, Any]:
    """The metadata of a serialized ``EventLogEntry`` (the JSON Dagster stores in SQLite), as
    ``{label: value}``: ``metadata_entries`` lists (``label`` + ``entry_data.text|value``) and
    ``metadata`` mappings are both read."""
    event = entry.get("dagster_event") if isinstance(entry, dict) else None
    data = event.get("event_specific_data") if isinstance(event, dict) else None
    if not isinstance(data, dict):
        return {}
    values: dict[str, Any] = {}
    for item in data.get("metadata_entries") or []:
        if isinstance(item, dict) and isinstance(item.get("entry_data"), dict):
            body = item["entry_data"]
            values[str(item.get("label"))] = body.get("text", body.get("value"))
    metadata = data.get("metadata")
    if isinstance(metadata, dict):
        for key, body in metadata.items():
            values[str(key)] = body.get("text", body.get("value")) if isinstance(body, dict) else body
    return values


def _paused_sqlite(home: _Path, run_id: str) -> bool:
    """True when the run's SQLite event log (``<home>/history/runs/<run_id>.db``, Dagster's
    default per-run event storage) has an approval gate waiting: a ``waiting`` marker of
    :mod:`yaml2dag.runs.approvals` without a later ``resolved`` one for the same gate. False when
    that database is not there (another event storage): the run then shows as ``running``."""
    import json as _json
    import sqlite3

    from yaml2dag.runs.approvals import MARKER

    db = home / "history" / "runs" / f"{run_id}.db"
    if not db.is_file():
        return False
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error:
        return False
    waiting: dict[str, bool] = {}
    try:
        rows = conn.execute("SELECT event FROM event_logs WHERE dagster_event_type = 'ENGINE_EVENT' "
                            "AND event LIKE ? ORDER BY id", (f"%{MARKER}%",)).fetchall()
        for (body,) in rows:
            try:
                entry = _json.loads(body)
            except ValueError:
                continue
            values = _serialized_metadata(entry)
            key = str(values.get("step") or entry.get("step_key") or "")
            if values.get(MARKER) == "waiting":
                waiting[key] = True
            elif values.get(MARKER) == "resolved":
                waiting[key] = False
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return any(waiting.values())


def last_runs_sqlite(home: str | _Path, jobs: list[str]) -> dict[str, dict] | None:
    """:func:`last_runs` read straight from the default SQLite run storage, without importing
    Dagster (``list`` must stay instant: a ``DagsterInstance`` takes over a second to build).

    Reads ``<home>/history/runs.db`` read-only (tables ``runs`` and ``run_tags``); for a
    started run, its event log ``<home>/history/runs/<run_id>.db`` tells whether an approval
    gate is waiting (``paused``). Returns None when this fast path does not apply (a configured
    storage such as PostgreSQL, no database, a schema it does not recognise, or a last run whose
    yaml2dag process is gone, which :func:`yaml2dag.runs.runner.get_instance` ends first): the caller
    then uses the Dagster API.
    """
    import json as _json
    import sqlite3

    home = _Path(home)
    db = home / "history" / "runs.db"
    if _configured_storage(home) or not db.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error:
        return None
    out: dict[str, dict] = {}
    try:
        for job in jobs:
            row = conn.execute("SELECT run_id, status, run_body, create_timestamp, start_time, end_time FROM runs "
                               "WHERE pipeline_name = ? ORDER BY id DESC LIMIT 1", (job,)).fetchone()
            if row is None:
                continue
            run_id, status, body, created, start, end = row
            tags = dict(conn.execute("SELECT key, value FROM run_tags WHERE run_id = ?", (run_id,)).fetchall())
            try:
                parsed = _json.loads(body) if body else {}
            except ValueError:
                parsed = {}
            origin = parsed.get("remote_job_origin") or parsed.get("external_pipeline_origin")
            fake = type("Run", (), {"tags": tags, "remote_job_origin": origin})()
            if status in ("NOT_STARTED", "STARTING", "STARTED", "CANCELING") and tags.get("yaml2dag/cli_pid"):
                from yaml2dag.runs.run_health import process_state

                if process_state(tags)[0] == "dead":
                    return None  # its process is gone: the Dagster path ends the run first (run_health)
            created_iso = None
            if created:
                try:
                    moment = _dt.datetime.fromisoformat(str(created))
                    created_iso = moment.replace(tzinfo=moment.tzinfo or _dt.timezone.utc).isoformat(timespec="seconds")
                except ValueError:
                    created_iso = None
            out[job] = {
                "run_id": run_id, "workflow": tags.get("yaml2dag/workflow", job), "job": job,
                "status": "paused" if status == "STARTED" and _paused_sqlite(home, run_id)
                else STATUS_MAP.get(status, str(status).lower()),
                "canceling": status == "CANCELING", "dagster_status": status,
                "trigger": trigger_of(fake), "version": tags.get("yaml2dag/version"),
                "created_at": created_iso, "started_at": _iso(start), "ended_at": _iso(end),
                "duration_s": round(end - start, 3) if start and end else None,
                "parent_run_id": parsed.get("parent_run_id"), "root_run_id": parsed.get("root_run_id"),
                "user": tags.get(TAG_USER),
            }
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return out
