"""The worker side of a Celery run: the task that executes one step (:data:`TASK_NAME`, registered
by :mod:`.celery_app`), its heartbeat into the run storage and its cancellation watch.

A task claims its step under :func:`.celery_settings.claim_key` and heartbeats there; the
orchestrator (:class:`.celery.CeleryStepsExecutor`) declares the step lost when the beats stop,
and writes the run's cancel request (:func:`.celery_settings.cancel_key`) that stops the step's
tools here when the run is terminated or times out.

A pool process keeps the Dagster instances it opened (:data:`KEPT_INSTANCES`, by instance
reference) for its next tasks instead of opening one per step.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from typing import Any

from yaml2dag.compiler.celery import CeleryStepsExecutor
from yaml2dag.compiler.celery_settings import DEFAULT_HEARTBEAT, PASSED_VARIABLES, cancel_key, claim_key, parse_claim
from yaml2dag.compiler.runtime import cancel_run, claim_failure_handling, forget_run
from yaml2dag.dagster_internals import EngineEventData
from dagster import DagsterInstance, DagsterRunStatus, serialize_value
from yaml2dag.dagster_internals import (
    ExecuteStepArgs,
    ReconstructableJob,
    create_execution_plan,
    execute_plan_iterator,
    unpack_value,
)


#: Dagster instances a pool process keeps open between its tasks, one per instance reference (the
#: most recently used): opening one costs connections to its storage (PostgreSQL: about 0.3 s and
#: 50 ms of CPU a step), and the next step of the run, or of another run on the same storage, reuses it.
KEPT_INSTANCES = 4
#: Steps after which a kept instance is closed and the next step opens a new one (Dagster's instance
#: keeps an entry per run it wrote events for: this bounds what a long-lived worker accumulates).
KEPT_STEPS = 1000


class _KeptInstances(threading.local):
    """The instances this pool process keeps between its tasks, by serialized instance reference,
    the most recently used last. Per thread: Celery's prefork pool runs a process's tasks one at
    a time on its main thread (a thread pool would keep a set per thread).

    A task takes its instance out (:meth:`take`) and gives it back (:meth:`keep`) only when it
    ended without an exception: an instance whose storage failed is closed, and the next task
    opens a fresh one. Dagster's PostgreSQL and SQLite storages connect for each use (SQLAlchemy's
    ``NullPool``), so a kept instance holds no connection between tasks.
    """

    def __init__(self) -> None:
        self.open: OrderedDict[str, tuple[DagsterInstance, int]] = OrderedDict()

    def take(self, key: str) -> tuple[DagsterInstance, int] | None:
        """``(instance, steps it ran)`` kept for the serialized reference ``key`` (no longer
        kept), or None."""
        return self.open.pop(key, None)

    def keep(self, key: str, instance: DagsterInstance, steps: int) -> None:
        """Keep ``instance``, which ran ``steps`` steps, for the reference ``key`` (closed instead
        after :data:`KEPT_STEPS`); close the least recently used beyond :data:`KEPT_INSTANCES`."""
        if steps >= KEPT_STEPS:
            _close(instance)
            return
        self.open[key] = (instance, steps)
        while len(self.open) > KEPT_INSTANCES:
            _close(self.open.popitem(last=False)[1][0])


_KEPT = _KeptInstances()


def _close(instance: DagsterInstance) -> None:
    """Dispose of an instance that is no longer kept (its storage may be gone: errors are ignored)."""
    with contextlib.suppress(Exception):
        instance.__exit__(None, None, None)


def _open_run(args: Any, key: str) -> tuple[DagsterInstance, Any, int]:
    """The instance of ``args.instance_ref`` (the kept one, else a new one), the run
    ``args.run_id`` read from it and the steps the instance ran before. A kept instance whose
    storage fails (the database was dropped, the server restarted) is closed and a new one opened.

    Raises:
        LookupError: the run is not in the storage.
        Exception: what opening or reading the storage raises with a new instance.
    """
    kept = _KEPT.take(key)
    if kept is not None:
        instance, steps = kept
        try:
            run = instance.get_run_by_id(args.run_id)
        except Exception:  # noqa: BLE001 - a storage that went away since: open it afresh below
            _close(instance)
        else:
            if run is not None:
                # what `with instance:` does first, again for this task (the instance's
                # definitions-state storage is the current one while the step runs)
                instance.__enter__()
                return instance, run, steps
            _close(instance)  # checked again below on a new instance: a kept one may be stale
    instance = DagsterInstance.from_ref(args.instance_ref).__enter__()
    try:
        run = instance.get_run_by_id(args.run_id)
    except BaseException:
        _close(instance)
        raise
    if run is None:
        _close(instance)
        raise LookupError(f"run {args.run_id} is not in the storage this worker was told to use")
    return instance, run, 0


class _Heartbeat:
    """A running step's claim and heartbeat in the run storage, and its cancellation watch."""

    def __init__(self, instance: Any, run_id: str, step_key: str, task_id: str, worker: str, interval: float):
        self.instance = instance
        self.run_id = run_id
        self.task_id = task_id
        self.interval = interval
        self.key = claim_key(run_id, step_key)
        self.info = {"task": task_id, "worker": worker, "host": socket.gethostname(), "pid": os.getpid()}
        self.beat = 0
        self.cancelled: str | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"yaml2dag-heartbeat-{step_key}", daemon=True)

    def cancel_reason(self) -> str | None:
        """Why the step must not run (the run is stopping, or another task took it over), or None."""
        values = self.instance.run_storage.get_cursor_values({self.key, cancel_key(self.run_id)})
        if values.get(cancel_key(self.run_id)):
            return values[cancel_key(self.run_id)]
        claim = parse_claim(values.get(self.key))
        if claim.get("task") == self.task_id and claim.get("lost"):
            return "the run gave this step up: its worker was considered lost"
        if claim.get("task") not in (None, self.task_id) and claim.get("beat") is not None and self.beat:
            return "another task runs this step now"
        run = self.instance.get_run_by_id(self.run_id)
        if run is None:
            return "the run no longer exists"
        if run.status in (DagsterRunStatus.CANCELING, DagsterRunStatus.CANCELED, DagsterRunStatus.FAILURE,
                          DagsterRunStatus.SUCCESS):
            return f"the run is {run.status.value}"
        return None

    def _write(self) -> None:
        self.beat += 1
        self.instance.run_storage.set_cursor_values({self.key: json.dumps({**self.info, "beat": self.beat})})

    def __enter__(self) -> "_Heartbeat":
        self._write()
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=max(5.0, 2 * self.interval))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                if self.cancelled is None:
                    reason = self.cancel_reason()
                    if reason is not None:
                        self.cancelled = reason
                        # the step fails because the run is stopping: its failure hook must not
                        # run the workflow's failure handling here (the orchestrator does, with
                        # the reason, as the thread-pool executor does for the steps it stops)
                        claim_failure_handling(self.run_id)
                        cancel_run(self.run_id, reason)
                        continue
                self._write()
            except Exception:  # noqa: BLE001 - storage briefly unavailable: beat again next time
                continue


@contextlib.contextmanager
def _environment(values: Mapping[str, str]) -> Iterator[None]:
    """The orchestrator's :data:`PASSED_VARIABLES` that this worker's environment lacks, set
    for one task (Celery's prefork pool runs one task at a time per process)."""
    added = {k: v for k, v in values.items() if k in PASSED_VARIABLES and v and not os.environ.get(k)}
    os.environ.update(added)
    try:
        yield
    finally:
        for name in added:
            os.environ.pop(name, None)


def execute_step_task(request: Any, execute_step_args_packed: dict, executable_dict: dict,
                      options: Mapping[str, Any] | None = None) -> dict:
    """Body of the Celery task :data:`TASK_NAME`: execute one step of a run on this worker.

    Args:
        request: the Celery task request (``id``, ``hostname``).
        execute_step_args_packed: Dagster's ``ExecuteStepArgs``, packed.
        executable_dict: the run's ``ReconstructableJob`` as a dict.
        options: ``heartbeat`` (seconds) and ``env`` (see :data:`PASSED_VARIABLES`).

    Returns:
        ``{"events": [serialized DagsterEvent...], "worker", "host", "pid"}``; ``events`` is
        empty when the step was not run (``skipped`` says why: the run is stopping).

    Raises:
        LookupError: the run is not in the storage of ``instance_ref``.
        Exception: what the storage raises when it cannot be opened or read (the instance is
            then closed, not kept).
    """
    options = dict(options or {})
    args = unpack_value(execute_step_args_packed, as_type=ExecuteStepArgs)
    worker = str(getattr(request, "hostname", "") or "")
    out: dict[str, Any] = {"events": [], "worker": worker, "host": socket.gethostname(), "pid": os.getpid()}
    key = serialize_value(args.instance_ref)
    with _environment(options.get("env") or {}):
        instance, run, steps = _open_run(args, key)
        try:
            _execute(instance, run, args, request, executable_dict, options, out)
        except BaseException:
            _close(instance)  # it may be what failed: the next task opens a new one
            raise
        _KEPT.keep(key, instance, steps + 1)
    return out


def _execute(instance: DagsterInstance, run: Any, args: Any, request: Any, executable_dict: dict,
             options: Mapping[str, Any], out: dict[str, Any]) -> None:
    """Execute the step of ``args`` on ``instance``, putting its serialized events (or why it was
    skipped) into ``out``."""
    step_key = (args.step_keys_to_execute or [""])[0]
    worker = out["worker"]
    heartbeat = _Heartbeat(instance, args.run_id, step_key, str(request.id), worker,
                           float(options.get("heartbeat") or DEFAULT_HEARTBEAT))
    reason = heartbeat.cancel_reason()
    if reason is not None:
        out["skipped"] = reason
        return
    recon_job = ReconstructableJob.from_dict(executable_dict)
    plan = create_execution_plan(recon_job, run.run_config, step_keys_to_execute=args.step_keys_to_execute,
                                 known_state=args.known_state)
    events = [instance.report_engine_event(
        f'Executing step "{step_key}" on Celery worker {worker} (host {out["host"]}, pid {out["pid"]})',
        run,
        EngineEventData({"Celery worker": worker, "host": out["host"], "pid": out["pid"]},
                        marker_end="celery_queue_wait"),
        CeleryStepsExecutor,
        step_key=step_key,
    )]
    try:
        with heartbeat:
            for event in execute_plan_iterator(execution_plan=plan, job=recon_job, dagster_run=run,
                                               instance=instance, retry_mode=args.retry_mode,
                                               run_config=run.run_config):
                events.append(event)
    finally:
        # this pool process serves other runs next: forget what it noted about this one
        # (failure handling is kept to once per run by the markers in the event log)
        forget_run(args.run_id)
    out["events"] = [serialize_value(e) for e in events]


__all__ = ["execute_step_task"]
