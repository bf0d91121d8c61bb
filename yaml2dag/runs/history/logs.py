"""The captured output of a run's steps: stdout/stderr lines, yaml2dag's notes, Dagster's compute
logs (``yaml2dag logs``).
"""

from __future__ import annotations

import datetime as _dt
import re as _re
from typing import Any

from yaml2dag.runs.history.common import _get_run, _step_matches
from yaml2dag.runs.tracking import owner_of
import logging


#: Messages the framework writes in a step's log that are not the step's output.
_FRAMEWORK = _re.compile(r"^(Skipping step |step `[^`]+` (is skipped|runs for|failed)|(if|switch|branch) `|"
                         r"Writing file at|Loading file from)")


def _stream_of(rec: Any) -> str:
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
