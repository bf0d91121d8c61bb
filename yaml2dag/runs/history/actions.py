"""Acting on runs: ``cancel`` (terminate a running or queued run and record why) and ``retry``
(re-execute a finished run, reusing the outputs of the steps not re-run).
"""

from __future__ import annotations

import datetime as _dt
import os as _os
import time as _time
from pathlib import Path as _Path
from typing import Any

from yaml2dag.format.run_modes import DEFAULT_MODE, TAG_MODE
from yaml2dag.format.tags import CLI_TAG_PREFIX, TAG_CLI_HOST, TAG_CLI_PID, TAG_HASH, TAG_TRIGGER, TAG_VERSION, TAG_WORKFLOW
from yaml2dag.runs.history.common import (
    CANCEL_MARKER,
    TAG_RETRY_MODE,
    TAG_RETRY_OF,
    TAG_USER,
    RunStateError,
    _get_run,
    _step_matches,
)
from yaml2dag.runs.history.status import run_status, _status_of
from yaml2dag.runs.tracking import owner_of
import hashlib
import signal
import socket
from yaml2dag.compiler import reconstructable_job, runtime as _runtime
from yaml2dag.compiler.run_health import cli_tags
from yaml2dag.runs.runner import _quiet_stderr


def _report_marker(instance: Any, run: Any, message: str, values: dict[str, Any]) -> None:
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.dagster_internals import EngineEventData
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.runs.approvals import _text

    instance.report_engine_event(message, run, EngineEventData(metadata={k: _text(v) for k, v in values.items()}))


def _cli_process(run: Any, created: float | None = None) -> int | None:
    """The pid of the live ``yaml2dag`` process on this host that executes ``run``, if any.

    Checked with psutil: the process exists, was started before the run was created, and its
    command line mentions yaml2dag or Python (so a recycled pid is never signalled).
    """
    pid_text = run.tags.get(TAG_CLI_PID)
    if not pid_text or not str(pid_text).isdigit() or run.tags.get(TAG_CLI_HOST) != socket.gethostname():
        return None
    pid = int(pid_text)
    try:
        # lazy: psutil is heavy and optional here; kept off light paths
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
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
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
    elif run.tags.get(TAG_CLI_HOST) and run.tags.get(TAG_CLI_HOST) != socket.gethostname():
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
    ``yaml2dag/hash`` tag: the current file, else an archived version of it (``library`` is a
    :class:`yaml2dag.library.folder.Library`: its ``find``, ``saved_version`` and ``archive_dir``;
    passed in, so run history does not import the library above it).

    Raises:
        RunStateError: the workflow is not in the library, or it changed and no archived
            version matches (unless ``use_current``).
    """
    name = run.tags.get(TAG_WORKFLOW) or run.job_name
    try:
        report = library.find(name)
    except Exception:  # noqa: BLE001
        try:
            report = library.find(run.job_name)
        except Exception:  # noqa: BLE001
            raise RunStateError(f"the workflow {name!r} of run {run.run_id} is not in the library "
                                f"{library.folder}; cannot rebuild its job") from None
    path = report.file
    wanted = run.tags.get(TAG_HASH)
    current = hashlib.sha256(_Path(path).read_bytes()).hexdigest()
    if not wanted or wanted == current:
        return path, None
    saved = library.saved_version(run.job_name, wanted)
    if saved is not None:
        return saved.file, f"the workflow changed since the run; re-executing its version {saved.version} ({saved.file})"
    if use_current:
        return path, "the workflow changed since the run and no saved version matches; using the current file"
    raise RunStateError(f"the workflow file {path} changed since run {run.run_id} and no saved version in "
                        f"{library.archive_dir(run.job_name)} matches the run's hash; "
                        "use --use-current to re-execute with the current file")


def retry_run(instance: Any, run_id: str, library: Any, *, from_step: str | None = None,
              from_failure: bool = False, all_steps: bool = False, use_current: bool = False,
              quiet: bool = True) -> dict:
    """Re-execute a finished run through Dagster, reusing the outputs of the steps that are not
    re-run (they are read from the parent run's storage). The new run is linked to its parent
    (``parent_run_id``/``root_run_id``, tag ``yaml2dag/retry_of``) and tagged like a CLI run
    (so ``yaml2dag cancel`` can stop it). A retry of a supervised or hybrid run asks nothing
    (its ``yaml2dag/mode`` is ``autopilot``), on the parent's job (the same step keys).

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
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import ReexecutionOptions, execute_job

    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.runs.approvals import default_user

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
    # the job of a supervised run has a condition op before every step: the retry keeps its step keys
    recon = reconstructable_job(path, str(library.folder), parent.tags.get(TAG_MODE))
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
    # TAG_TRIGGER is a prefix of TAG_TRIGGER_INFO: both are replaced
    skip = ("dagster/", CLI_TAG_PREFIX, TAG_TRIGGER, TAG_USER, TAG_RETRY_OF, TAG_RETRY_MODE,
            TAG_WORKFLOW, TAG_VERSION, TAG_HASH, ".dagster/")
    tags = {k: v for k, v in parent.tags.items() if not k.startswith(skip)}

    # this process executes the re-execution (pid, host, start time; see yaml2dag.compiler.run_health)
    tags.update({TAG_TRIGGER: "cli", **cli_tags(), TAG_USER: default_user(), TAG_RETRY_OF: run_id,
                 TAG_RETRY_MODE: mode})
    if TAG_MODE in tags:  # nobody at a terminal answers a retry's questions: it asks nothing
        tags[TAG_MODE] = DEFAULT_MODE
    with _quiet_stderr(quiet):
        try:
            result = execute_job(recon, instance, reexecution_options=options, tags=tags)
        except KeyboardInterrupt:
            result = None
    new_id = result.run_id if result is not None else None
    if new_id is None:
        # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
        from dagster import RunsFilter

        records = instance.get_run_records(RunsFilter(tags={TAG_RETRY_OF: run_id}), limit=1)
        if not records:
            raise RunStateError("the re-execution was interrupted before it started")
        new_id = records[0].dagster_run.run_id
    _runtime.forget_run(new_id)
    info = run_status(instance, new_id, library)
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import DagsterEventType

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
