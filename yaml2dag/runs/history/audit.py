"""A complete audit record of a run, written from its event log, with secrets masked
(``yaml2dag audit``, JSON or CSV).
"""

from __future__ import annotations

import csv as _csv
import datetime as _dt
import io as _io
import re as _re
from typing import Any

from yaml2dag.runs.history.common import (
    CANCEL_MARKER, TAG_CLI_HOST, TAG_CLI_PID, TAG_HASH, TAG_RETRY_OF, TAG_TRIGGER_INFO, TAG_USER, TAG_VERSION, TAG_WORKFLOW,
    _get_run, _iso, _meta_values, rollback_of, shown_status,
)
from yaml2dag.runs.history.annotations import annotations_in
from yaml2dag.runs.history.status import _catalog_for, _status_of, trigger_of
from yaml2dag.runs.tracking import StepTracker, owner_of, retry_message
import json as _json
from yaml2dag.format.secrets import MASK, SecretStore, mask
from yaml2dag.runs.tracking import failure_message


#: Parameter names whose values are masked in audits (besides ``secret`` parameters).
SECRET_NAME = _re.compile(r"(?i)(pass(word|wd|phrase)?|secret|token|api[_-]?key|credential|private[_-]?key|auth)")


def mask_parameters(values: Any, workflow: Any = None) -> tuple[Any, list[str]]:
    """Run config with secrets masked: ``secret`` parameters, names that look like secrets
    (:data:`SECRET_NAME`) and any current value of the workflow's secrets. Returns (masked
    copy, masked parameter paths)."""
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
        report = library.find(run.tags.get(TAG_WORKFLOW) or run.job_name)
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
        ``workflow_hash``, ``status``, ``rollback`` (``"rolled back"``, ``"rollback failed"``
        or None: :func:`~yaml2dag.runs.history.status.run_status`), ``dagster_status``, ``started_by`` (``trigger``,
        ``user``, ``host``, ``pid``, ``schedule``, ``sensor``, ``parent_run_id``,
        ``root_run_id``, ``retry_of``), ``tags``, ``parameters`` (run config, secrets masked
        as ``***``), ``masked_parameters``, ``created_at``/``started_at``/``ended_at``,
        ``duration_s``, ``steps`` (each: ``step``, ``title``, ``status``, ``attempts`` —
        ``{attempt, step_key, started_at, ended_at, duration_s, outcome
        (succeeded|continued|failed|retry|skipped|running), error}`` —, ``retries``,
        ``started_at``, ``ended_at``, ``duration_s``, ``result``, ``error``,
        ``skip_reason``), ``approvals`` (gates with every decision), ``failure_handlers``
        (compensations and on_failure steps), ``cancellations`` (reason, by, at),
        ``annotations`` (text, by, at: ``yaml2dag annotate``), ``outputs``, ``error_message``, ``failed_step``, ``event_count``, ``generated_at``.

    Raises:
        RunNotFoundError: no such run.
    """
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
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
        "workflow": tags.get(TAG_WORKFLOW, run.job_name),
        "job": run.job_name,
        "version": tags.get(TAG_VERSION),
        "workflow_hash": tags.get(TAG_HASH),
        "status": _status_of(run, instance),
        "rollback": rollback_of(tags),
        "dagster_status": run.status.value,
        "started_by": {
            "trigger": trigger_of(run),
            "user": tags.get(TAG_USER) or tags.get("dagster/user") or None,
            "host": tags.get(TAG_CLI_HOST),
            "pid": int(tags[TAG_CLI_PID]) if str(tags.get(TAG_CLI_PID, "")).isdigit() else None,
            "schedule": tags.get("dagster/schedule_name"),
            "sensor": tags.get("dagster/sensor_name"),
            "parent_run_id": run.parent_run_id,
            "root_run_id": run.root_run_id,
            "retry_of": tags.get(TAG_RETRY_OF),
            "trigger_info": tags.get(TAG_TRIGGER_INFO),
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
        "annotations": annotations_in(records),
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
    ``cancel``, ``annotation``, ``output``.
    """
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

    row("run", "", "", audit["started_at"] or audit["created_at"], shown_status(audit["status"], audit.get("rollback")),
        audit["duration_s"],
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
    for note in audit.get("annotations", []):
        row("annotation", time=note.get("at"), outcome="annotated", detail=f"by {note.get('by')}: {note.get('text')}")
    for name, value in audit["outputs"].items():
        row("output", detail=f"{name}={_json.dumps(value, ensure_ascii=False, default=str)}")
    return buffer.getvalue()
