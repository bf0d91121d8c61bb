"""Steps on Celery workers: ``executor: {type: celery}`` (Dagster's ``dagster-celery``).

Where one machine is not enough, the steps of a run execute on Celery workers fed through a
broker (RabbitMQ), while the run itself (the orchestrating process: ``yaml2dag run``, a run
worker launched from the UI or by the daemon, ``dagster job execute``) plans them, submits each
ready step as a Celery task and feeds the events the workers send back to Dagster's
``ActiveExecution``. The run and event storage must be shared by every worker (PostgreSQL), and
so must the IO manager's folder (the instance's storage directory) and the workflow files.

What this adds to Dagster's own ``celery_executor`` (whose worker CLI, broker settings and task
routing it reuses):

* the scheduling rules of yaml2dag's other executors: ``max_parallel`` steps of a run in flight,
  the parallel groups' ``max_parallel`` (op tag concurrency limits), instance concurrency pools
  (a pool slot held by a dead run is reaped, :class:`yaml2dag.runs.run_health.DeadRunWatch`);
* the workflow ``timeout`` and run termination: the orchestrator writes a cancel request into
  the run storage's key-value store; each task's heartbeat thread on the worker reads it and
  cancels the step's tools (the shell tool kills its process group), as the thread-pool executor
  does in its own process; a timed-out run gets its failure handling and ends FAILURE;
* lost workers: a task heartbeats into the same store (:data:`HEARTBEAT_ENV` seconds apart).
  A step whose worker stopped heartbeating for :data:`LOST_AFTER_BEATS` beats (killed, host
  down, partitioned), or whose task failed on the worker (``WorkerLostError`` when its pool
  process died), is retried on another worker when its retry policy allows (the op's
  ``RetryPolicy``, else the step's ``retry.max_attempts``, op tag
  :data:`~yaml2dag.compiler.scope.TAG_MAX_ATTEMPTS`), otherwise it fails, runs the workflow's
  failure handling and the run ends FAILURE: a run never waits forever on a dead worker.
  Tasks are acknowledged when they start (Celery's default), so a message the broker already
  handed to a worker that dies before starting it is redelivered to another one.

Settings (never in the workflow file): see :func:`celery_settings`. Workers:
``dagster-celery worker start -A yaml2dag.compiler.celery_app`` (:mod:`.celery_app`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import dagster as dg
from dagster._core.errors import DagsterExecutionInterruptedError
from dagster._core.events import DagsterEvent, EngineEventData
from dagster._core.execution.context.system import PlanOrchestrationContext
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext
from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode
from dagster._core.executor.base import Executor
from dagster._utils.error import SerializableErrorInfo, serializable_error_info_from_exc_info

from yaml2dag.format.definitions_folder import definitions_dir
from yaml2dag.format.executors import ExecutorSettingError
from yaml2dag.compiler.executor import DEFAULT_MAX_PARALLEL, STOP_GRACE_SECONDS, RunTimeoutError, _max_runtime
from yaml2dag.compiler.runtime import cancel_run, claim_failure_handling, forget_run
from yaml2dag.compiler.scope import TAG_MAX_ATTEMPTS

#: Name of the Celery task that executes one step (registered by :mod:`.celery_app`).
TASK_NAME = "yaml2dag.execute_step"

BROKER_ENV = "YAML2DAG_CELERY_BROKER"
BACKEND_ENV = "YAML2DAG_CELERY_BACKEND"
QUEUE_ENV = "YAML2DAG_CELERY_QUEUE"
HEARTBEAT_ENV = "YAML2DAG_CELERY_HEARTBEAT"
#: File of the Dagster home holding the Celery settings: the block ``dagster-celery worker
#: start -y FILE`` reads (``execution: config: {broker, backend, config_source}``).
SETTINGS_FILE = "celery.yaml"

DEFAULT_QUEUE = "yaml2dag"
DEFAULT_BACKEND = "rpc://"
#: Seconds between two heartbeats of a running step (``$YAML2DAG_CELERY_HEARTBEAT``).
DEFAULT_HEARTBEAT = 5.0
#: A step whose worker missed this many heartbeats in a row is lost (30 s by default).
LOST_AFTER_BEATS = 6
#: Seconds a submitted step may wait for a worker before the run says so (it keeps waiting).
NO_WORKER_WARNING_SECONDS = 60.0
#: Seconds between two looks of the orchestrator at its tasks while nothing else happens.
POLL_SECONDS = 0.05

#: Seconds an unused result reply queue (``rpc://``) stays on the broker.
REPLY_QUEUE_EXPIRES = 600
#: Prefix of the run storage keys (Dagster's key-value store) this executor uses.
KEY_PREFIX = "yaml2dag/celery/"


def _dagster_default_broker(env: Mapping[str, str]) -> str:
    # Dagster's default (dagster_celery.defaults.broker_url), without importing Celery
    return f"pyamqp://guest@{env.get('DAGSTER_CELERY_BROKER_HOST') or 'localhost'}:5672//"


@dataclass(frozen=True)
class CelerySettings:
    """Where the Celery tasks of a run go (:func:`celery_settings`).

    Attributes:
        broker: the broker URL (may hold a password: show it with :meth:`safe_broker` only).
        backend: the result backend URL (default ``rpc://``: results come back over the broker).
        queue: the queue the steps are sent to; workers must consume it.
        heartbeat: seconds between two heartbeats of a running step.
        config_source: extra Celery settings (lowercase names), from the settings file.
    """

    broker: str
    backend: str = DEFAULT_BACKEND
    queue: str = DEFAULT_QUEUE
    heartbeat: float = DEFAULT_HEARTBEAT
    config_source: Mapping[str, Any] = field(default_factory=dict)

    @property
    def lost_after(self) -> float:
        """Seconds without a heartbeat after which a running step's worker is lost."""
        return LOST_AFTER_BEATS * self.heartbeat

    def safe_broker(self) -> str:
        """The broker URL with its password masked (for messages)."""
        from kombu.utils.url import maybe_sanitize_url

        return maybe_sanitize_url(self.broker)


def settings_file(environ: Mapping[str, str] | None = None) -> Path | None:
    """``$DAGSTER_HOME/celery.yaml`` when DAGSTER_HOME is set, else None."""
    env = os.environ if environ is None else environ
    home = env.get("DAGSTER_HOME")
    return Path(home) / SETTINGS_FILE if home else None


def celery_settings(environ: Mapping[str, str] | None = None) -> CelerySettings:
    """The Celery settings of this process, from the environment and the Dagster home.

    Each setting comes from the first of:

    * broker: ``$YAML2DAG_CELERY_BROKER``; ``execution.config.broker`` of
      ``$DAGSTER_HOME/celery.yaml`` (``{env: VAR}`` allowed, as in Dagster's config); Dagster's
      default ``pyamqp://guest@$DAGSTER_CELERY_BROKER_HOST:5672//`` (host default
      ``localhost``);
    * backend: ``$YAML2DAG_CELERY_BACKEND``; the file's ``backend``; ``rpc://``;
    * queue: ``$YAML2DAG_CELERY_QUEUE``; the file's ``config_source.task_default_queue``;
      ``yaml2dag``;
    * heartbeat: ``$YAML2DAG_CELERY_HEARTBEAT`` (seconds, > 0); 5.

    The settings file is the one ``dagster-celery worker start -y`` takes, so orchestrators and
    workers can share it.

    Raises:
        ExecutorSettingError: the file is not valid Dagster Celery config (the message names
            the file), or a variable has a wrong value (the message names it and what is
            expected).
    """
    env = os.environ if environ is None else environ
    file_config: dict[str, Any] = {}
    path = settings_file(env)
    if path is not None and path.is_file():
        file_config = _read_settings_file(path, env)
    source = dict(file_config.get("config_source") or {})
    raw_heartbeat = (env.get(HEARTBEAT_ENV) or "").strip()
    heartbeat = DEFAULT_HEARTBEAT
    if raw_heartbeat:
        try:
            heartbeat = float(raw_heartbeat)
        except ValueError:
            heartbeat = -1.0
        if not (0 < heartbeat < 3600):
            raise ExecutorSettingError(f"{HEARTBEAT_ENV}: expected a number of seconds above 0 and below 3600, "
                                       f"got {raw_heartbeat!r}")
    queue = (env.get(QUEUE_ENV) or "").strip() or str(source.get("task_default_queue") or DEFAULT_QUEUE)
    return CelerySettings(
        broker=(env.get(BROKER_ENV) or "").strip() or file_config.get("broker") or _dagster_default_broker(env),
        backend=(env.get(BACKEND_ENV) or "").strip() or file_config.get("backend") or DEFAULT_BACKEND,
        queue=queue,
        heartbeat=heartbeat,
        config_source=source,
    )


def _read_settings_file(path: Path, env: Mapping[str, str]) -> dict[str, Any]:
    """The ``execution.config`` block of a settings file, checked against Dagster's Celery
    executor config, ``{env: VAR}`` values read from ``env``."""
    import yaml
    from dagster._config import validate_config
    from dagster_celery.executor import celery_executor

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ExecutorSettingError(f"{path}: cannot be read as Celery executor config: {first}") from None
    execution = data.get("execution") if isinstance(data, dict) else None
    if not isinstance(execution, dict):
        raise ExecutorSettingError(f"{path}: not valid Celery executor config: expected a mapping `execution: config: ...`")
    config = execution.get("config") or execution.get("celery") or {}
    checked = validate_config(celery_executor.config_schema.config_type, config)
    if not checked.success:
        details = "; ".join(e.message for e in checked.errors)
        raise ExecutorSettingError(f"{path}: not valid Celery executor config: {details}")
    out = dict(config)
    for key in ("broker", "backend"):
        value = out.get(key)
        if isinstance(value, dict) and "env" in value:
            variable = str(value["env"])
            if not env.get(variable):
                raise ExecutorSettingError(f"{path}: execution.config.{key} is read from the environment variable "
                                           f"{variable}, which is not set")
            out[key] = env[variable]
    return out


# --------------------------------------------------------------------------- storage keys


def claim_key(run_id: str, step_key: str) -> str:
    """Run storage key of the claim (and heartbeat) of a step's current task."""
    return f"{KEY_PREFIX}{run_id}/step/{step_key}"


def cancel_key(run_id: str) -> str:
    """Run storage key holding why a run's steps must stop (absent while they may run)."""
    return f"{KEY_PREFIX}{run_id}/cancel"


def _forget_keys(instance: Any, run_id: str) -> None:
    """Drop a finished run's keys from the key-value store (best effort: Dagster's run storage
    has no public delete; the rows are small and harmless if they stay)."""
    try:
        from dagster._core.storage.runs.schema import KeyValueStoreTable

        storage = instance.run_storage
        with storage.connect() as conn:
            conn.execute(KeyValueStoreTable.delete().where(
                KeyValueStoreTable.c.key.like(f"{KEY_PREFIX}{run_id}/%")))
    except Exception:  # noqa: BLE001 - never fail a run over housekeeping
        pass


# --------------------------------------------------------------------------- the orchestrator


_apps: dict[tuple, Any] = {}
_apps_lock = threading.Lock()


def make_app(settings: CelerySettings, worker: bool = False) -> Any:
    """The Celery app for ``settings`` (cached per settings in the orchestrator).

    Dagster's Celery defaults (``dagster_celery.config.DEFAULT_CONFIG``: prefetch of one task,
    fast-failing broker connections), then ``config_source``, then the queue.
    """
    from celery import Celery
    from dagster_celery.config import DEFAULT_CONFIG

    key = (settings.broker, settings.backend, settings.queue,
           json.dumps(dict(settings.config_source), sort_keys=True, default=str))
    if not worker:
        with _apps_lock:
            if key in _apps:
                return _apps[key]
    app = Celery("yaml2dag", broker=settings.broker, backend=settings.backend)
    conf = dict(DEFAULT_CONFIG)
    # the rpc backend's reply queue of a process that ended goes away after this (seconds idle)
    conf["result_expires"] = REPLY_QUEUE_EXPIRES
    conf.update(settings.config_source)
    conf.update(task_default_queue=settings.queue, task_serializer="json", result_serializer="json",
                accept_content=["json"], broker_connection_retry_on_startup=True)
    app.conf.update(conf)
    if not worker:
        with _apps_lock:
            _apps.setdefault(key, app)
            return _apps[key]
    return app


@dataclass
class _Task:
    """A step submitted to Celery and not yet ended."""

    step: Any
    result: Any
    submitted: float
    beat: Any = None
    seen: float = 0.0
    worker: str = ""
    warned: bool = False


class CeleryStepsExecutor(Executor):
    """Executes each step of a run as a Celery task (see the module docstring).

    Args:
        retries: Dagster's retry mode.
        max_parallel: steps of the run in flight at once (submitted and not ended).
        tag_concurrency_limits: op tag concurrency limits (parallel groups' ``max_parallel``).
        failure_cw: the job's compiled workflow, for failure handling when the run times out or a
            step is lost for good; None when it has no handlers.
        settings: the Celery settings (default: :func:`celery_settings` when the run starts).
    """

    def __init__(self, retries: RetryMode, max_parallel: int = DEFAULT_MAX_PARALLEL,
                 tag_concurrency_limits: list[dict[str, Any]] | None = None, failure_cw: Any = None,
                 settings: CelerySettings | None = None):
        self._retries = retries
        self.max_parallel = max(1, int(max_parallel))
        self.tag_concurrency_limits = tag_concurrency_limits or []
        self.failure_cw = failure_cw
        self._settings = settings

    @property
    def retries(self) -> RetryMode:
        return self._retries

    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        settings = self._settings or celery_settings()
        app = make_app(settings)
        if execution_plan.step_keys_to_execute and not execution_plan.artifacts_persisted:
            raise dg.DagsterInvariantViolationError(
                "the Celery executor needs an IO manager that stores outputs where every worker reads them")
        yield DagsterEvent.engine_event(
            plan_context,
            f"Executing steps on Celery workers: queue {settings.queue!r}, broker {settings.safe_broker()}, "
            f"up to {self.max_parallel} at once (orchestrator pid {os.getpid()} on {socket.gethostname()})",
            EngineEventData(metadata={"queue": settings.queue, "broker": settings.safe_broker(),
                                      "heartbeat_seconds": settings.heartbeat}),
        )
        with InstanceConcurrencyContext(plan_context.instance, plan_context.dagster_run) as concurrency:
            try:
                yield from self._loop(plan_context, execution_plan, concurrency, app, settings)
            finally:
                _forget_keys(plan_context.instance, plan_context.run_id)

    # the loop: submit ready steps, collect results, watch heartbeats, stop on timeout/termination
    def _loop(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan,
              concurrency: InstanceConcurrencyContext, app: Any, settings: CelerySettings) -> Iterator[DagsterEvent]:
        from yaml2dag.runs.run_health import DeadRunWatch

        instance = plan_context.instance
        run_id = plan_context.run_id
        in_flight: dict[str, _Task] = {}
        stopping = False
        timed_out: str | None = None
        stopped_keys: list[str] = []
        stop_deadline: float | None = None
        grace = 0.0
        max_runtime = _max_runtime(plan_context.dagster_run.tags)
        started = time.monotonic()
        next_beat_check = 0.0
        origin = plan_context.reconstructable_job
        executable = origin.to_dict()
        job_origin = origin.get_python_origin()
        reap_dead = DeadRunWatch(instance, by=f"run {run_id} waiting for a pool slot")
        try:
            with execution_plan.start(
                retry_mode=self.retries,
                max_concurrent=self.max_parallel,
                tag_concurrency_limits=self.tag_concurrency_limits,
                instance_concurrency_context=concurrency,
                step_dependency_config=self.step_dependency_config,
            ) as active:
                while (not stopping and not active.is_complete) or in_flight:
                    busy = False
                    reason = None
                    if max_runtime is not None and not stopping and time.monotonic() - started > max_runtime:
                        timed_out = reason = f"the run exceeded its timeout of {max_runtime:g}s"
                        stopped_keys = list(in_flight)
                        yield DagsterEvent.engine_event(
                            plan_context, f"{timed_out} (tag dagster/max_runtime): stopping the steps on the workers",
                            EngineEventData.interrupted(list(in_flight)))
                    elif not stopping and active.check_for_interrupts():
                        reason = "the run was terminated"
                        yield DagsterEvent.engine_event(
                            plan_context, f"Run terminated: stopping {len(in_flight)} step(s) on the Celery workers",
                            EngineEventData.interrupted(list(in_flight)))
                    if reason is not None:
                        stopping = True
                        active.mark_interrupted()
                        grace = STOP_GRACE_SECONDS + 2 * settings.heartbeat
                        stop_deadline = time.monotonic() + grace
                        _request_cancel(instance, run_id, reason)
                        cancel_run(run_id, reason)  # steps of this run in this process, if any
                        for task in in_flight.values():
                            with contextlib.suppress(Exception):
                                task.result.revoke()  # not started yet: never starts
                    # results of the tasks that ended
                    for key, task in list(in_flight.items()):
                        try:
                            ready = task.result.ready()
                        except Exception:  # noqa: BLE001 - the backend failed: treat as a lost task
                            ready = True
                        if not ready:
                            continue
                        busy = True
                        del in_flight[key]
                        yield from self._collect(plan_context, active, task, stopping)
                    # steps whose worker stopped heartbeating
                    now = time.monotonic()
                    if in_flight and now >= next_beat_check:
                        next_beat_check = now + min(1.0, settings.heartbeat / 2)
                        yield from self._watch(plan_context, active, in_flight, settings, stopping)
                    if not stopping:
                        # skipped and abandoned steps; steps a dynamic output (for_each) resolved
                        for event in active.plan_events_iterator(plan_context):
                            busy = True
                            yield event
                        yield from active.concurrency_event_iterator(plan_context)
                        free = self.max_parallel - len(in_flight)
                        for step in active.get_steps_to_execute(limit=free) if free > 0 else []:
                            busy = True
                            yield DagsterEvent.engine_event(
                                plan_context.for_step(step),
                                f'Submitting step "{step.key}" to Celery queue "{settings.queue}"',
                                EngineEventData(marker_start="celery_queue_wait"),
                            )
                            in_flight[step.key] = self._submit(app, settings, plan_context, step, active,
                                                               job_origin, executable)
                        if concurrency.has_pending_claims():
                            reap_dead()
                    if stopping and stop_deadline is not None and time.monotonic() > stop_deadline:
                        if in_flight:
                            yield DagsterEvent.engine_event(
                                plan_context,
                                f"{len(in_flight)} step(s) did not stop on their workers within "
                                f"{grace:.0f}s; the run ends without them",
                                EngineEventData.interrupted(list(in_flight)))
                        break
                    if not in_flight and not stopping and not active.is_complete and not busy:
                        active.sleep_til_ready()
                    elif not busy:
                        time.sleep(POLL_SECONDS)
        except DagsterExecutionInterruptedError:
            if timed_out is None:
                raise
        if timed_out is not None:
            from yaml2dag.compiler.failure import handle_stopped_run

            handle_stopped_run(plan_context, self.failure_cw, stopped_keys[0] if stopped_keys else None, timed_out)
            raise RunTimeoutError(timed_out)
        if stopping:
            raise DagsterExecutionInterruptedError()

    def _submit(self, app: Any, settings: CelerySettings, plan_context: PlanOrchestrationContext, step: Any,
                active: Any, job_origin: Any, executable: dict) -> _Task:
        from dagster._grpc.types import ExecuteStepArgs
        from dagster._serdes import pack_value

        args = ExecuteStepArgs(
            job_origin=job_origin,
            run_id=plan_context.run_id,
            step_keys_to_execute=[step.key],
            instance_ref=plan_context.instance.get_ref(),
            retry_mode=self.retries.for_inner_plan(),
            known_state=active.get_known_state(),
            print_serialized_events=True,
        )
        options = {"heartbeat": settings.heartbeat, "env": _passed_environment()}
        result = app.send_task(TASK_NAME, kwargs={"execute_step_args_packed": pack_value(args),
                                                  "executable_dict": executable, "options": options},
                               queue=settings.queue)
        return _Task(step=step, result=result, submitted=time.monotonic())

    def _collect(self, plan_context: PlanOrchestrationContext, active: Any, task: _Task,
                 stopping: bool) -> Iterator[DagsterEvent]:
        from dagster._serdes import deserialize_value

        key = task.step.key
        try:
            payload = task.result.get(timeout=30, propagate=True, disable_sync_subtasks=False)
        except Exception as exc:  # noqa: BLE001 - the task failed on the worker (or its process died)
            if stopping:
                return
            error = serializable_error_info_from_exc_info(sys.exc_info())
            where = f" on {task.worker}" if task.worker else ""
            message = f"the Celery task of step {key}{where} failed: {type(exc).__name__}: {exc}"
            yield from self._give_up(plan_context, active, task.step, message, error)
            return
        with contextlib.suppress(Exception):
            task.result.forget()
        events = payload.get("events", []) if isinstance(payload, dict) else payload
        for serialized in events:
            event = deserialize_value(serialized, DagsterEvent)
            yield event
            active.handle_event(event)
        if not stopping:
            active.verify_complete(plan_context, key)

    def _watch(self, plan_context: PlanOrchestrationContext, active: Any, in_flight: dict[str, _Task],
               settings: CelerySettings, stopping: bool) -> Iterator[DagsterEvent]:
        run_id = plan_context.run_id
        keys = {claim_key(run_id, k): k for k in in_flight}
        try:
            values = plan_context.instance.run_storage.get_cursor_values(set(keys))
        except Exception:  # noqa: BLE001 - storage briefly unavailable: look again next time
            return
        now = time.monotonic()
        for storage_key, step_key in keys.items():
            task = in_flight[step_key]
            claim = _parse(values.get(storage_key))
            if claim.get("task") != task.result.id:
                if not task.warned and now - task.submitted > NO_WORKER_WARNING_SECONDS and not stopping:
                    task.warned = True
                    yield DagsterEvent.engine_event(
                        plan_context.for_step(task.step),
                        f'no Celery worker has started step "{step_key}" after {NO_WORKER_WARNING_SECONDS:.0f}s on '
                        f'queue "{settings.queue}" (broker {settings.safe_broker()}); it keeps waiting. Start a '
                        f"worker: dagster-celery worker start -A yaml2dag.compiler.celery_app -q {settings.queue}",
                        EngineEventData())
                continue
            if claim.get("beat") != task.beat:
                task.beat, task.seen = claim.get("beat"), now
                task.worker = f"{claim.get('worker') or '?'} (host {claim.get('host')}, pid {claim.get('pid')})"
                continue
            if now - task.seen <= settings.lost_after:
                continue
            del in_flight[step_key]
            with contextlib.suppress(Exception):
                task.result.revoke()
            with contextlib.suppress(Exception):
                plan_context.instance.run_storage.set_cursor_values(
                    {storage_key: json.dumps({**claim, "lost": True})})
            if stopping:
                continue
            message = (f"the Celery worker {task.worker} running step {step_key} stopped heartbeating "
                       f"{now - task.seen:.0f}s ago (killed, crashed or cut off): the step is lost")
            try:
                raise WorkerLostError(message)
            except WorkerLostError:
                error = serializable_error_info_from_exc_info(sys.exc_info())
            yield from self._give_up(plan_context, active, task.step, message, error)

    def _give_up(self, plan_context: PlanOrchestrationContext, active: Any, step: Any, message: str,
                 error: SerializableErrorInfo) -> Iterator[DagsterEvent]:
        """A step whose task ended without its events: retry it (its policy allows) or fail it."""
        step_context = plan_context.for_step(step)
        yield DagsterEvent.engine_event(step_context, message, EngineEventData.engine_error(error))
        event = self.failure_or_retry(step_context, error, active.get_known_state())
        active.handle_event(event)
        yield event
        if event.is_step_failure:
            from yaml2dag.compiler.failure import handle_stopped_run

            handle_stopped_run(plan_context, self.failure_cw, step.key, message)

    def failure_or_retry(self, step_context: Any, error: SerializableErrorInfo, known_state: Any) -> DagsterEvent:
        """STEP_UP_FOR_RETRY when the step has attempts left, else STEP_FAILURE.

        Attempts: the op's ``RetryPolicy`` (Dagster's rule, with its delay), else the step's
        ``retry.max_attempts`` (op tag :data:`TAG_MAX_ATTEMPTS`, retried at once); none with
        retries disabled.
        """
        from dagster._core.execution.plan.objects import StepFailureData, StepRetryData

        done = known_state.get_retry_state().get_attempt_count(step_context.step.key) if known_state else 0
        retry, wait = retry_after_loss(step_context.op_retry_policy, step_context.step.tags, done,
                                       step_context.retry_mode.disabled)
        if retry:
            return DagsterEvent.step_retry_event(step_context, StepRetryData(error=error, seconds_to_wait=wait))
        return DagsterEvent.step_failure_event(step_context, StepFailureData(error=error, user_failure_data=None))


def retry_after_loss(policy: Any, tags: Mapping[str, str], retries_done: int, disabled: bool = False
                     ) -> tuple[bool, float | None]:
    """Whether a step whose task ended without its events is retried, and after how long.

    Args:
        policy: the op's ``dagster.RetryPolicy``, or None.
        tags: the step's op tags (:data:`TAG_MAX_ATTEMPTS` holds the step's ``retry.max_attempts``).
        retries_done: retries of the step so far in this run (0 after the first attempt).
        disabled: Dagster's retry mode is disabled.

    Returns:
        ``(retry, seconds to wait or None)``: with a policy, Dagster's rule (retry while
        ``retries_done < max_retries``, after ``policy.calculate_delay``); else retry at once
        while ``retries_done < max_attempts - 1``; never when disabled.
    """
    if policy is not None:
        allowed, wait = policy.max_retries, policy.calculate_delay(retries_done + 1)
    else:
        try:
            allowed = max(0, int(tags.get(TAG_MAX_ATTEMPTS, "1")) - 1)
        except (TypeError, ValueError):
            allowed = 0
        wait = None
    if disabled or retries_done >= allowed:
        return False, None
    return True, wait


class WorkerLostError(Exception):
    """The Celery worker running a step stopped heartbeating."""


def _parse(value: str | None) -> dict:
    if not value:
        return {}
    try:
        data = json.loads(value)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _request_cancel(instance: Any, run_id: str, reason: str) -> None:
    try:
        instance.run_storage.set_cursor_values({cancel_key(run_id): reason})
    except Exception:  # noqa: BLE001 - the steps then stop at the grace deadline
        pass


#: Variables of the orchestrator a worker takes for a task when its own environment has none:
#: how the job is rebuilt there (the definitions folder of a ``yaml2dag.definitions`` run).
PASSED_VARIABLES = ("YAML2DAG_DEFINITIONS", "YAML2DAG_EXECUTOR")


def _passed_environment() -> dict[str, str]:
    out = {name: os.environ[name] for name in PASSED_VARIABLES if os.environ.get(name)}
    out["YAML2DAG_DEFINITIONS"] = str(definitions_dir().resolve())
    return out


# --------------------------------------------------------------------------- the worker side


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
        from dagster import DagsterRunStatus

        values = self.instance.run_storage.get_cursor_values({self.key, cancel_key(self.run_id)})
        if values.get(cancel_key(self.run_id)):
            return values[cancel_key(self.run_id)]
        claim = _parse(values.get(self.key))
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
    """
    from dagster import DagsterInstance
    from dagster._core.definitions.reconstruct import ReconstructableJob
    from dagster._core.execution.api import create_execution_plan, execute_plan_iterator
    from dagster._grpc.types import ExecuteStepArgs
    from dagster._serdes import serialize_value, unpack_value

    options = dict(options or {})
    args = unpack_value(execute_step_args_packed, as_type=ExecuteStepArgs)
    step_key = (args.step_keys_to_execute or [""])[0]
    worker = str(getattr(request, "hostname", "") or "")
    out: dict[str, Any] = {"events": [], "worker": worker, "host": socket.gethostname(), "pid": os.getpid()}
    with _environment(options.get("env") or {}), DagsterInstance.from_ref(args.instance_ref) as instance:
        run = instance.get_run_by_id(args.run_id)
        if run is None:
            raise LookupError(f"run {args.run_id} is not in the storage this worker was told to use")
        heartbeat = _Heartbeat(instance, args.run_id, step_key, str(request.id), worker,
                               float(options.get("heartbeat") or DEFAULT_HEARTBEAT))
        reason = heartbeat.cancel_reason()
        if reason is not None:
            out["skipped"] = reason
            return out
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
        return out


# --------------------------------------------------------------------------- the executor definition


def make_celery_executor(failure_cw: Any = None) -> dg.ExecutorDefinition:
    """The executor definition of ``executor: {type: celery}`` (see the module docstring);
    ``failure_cw`` is the job's compiled workflow, whose failure handling runs when the run
    times out or a step is lost for good. Its config is that of the thread-pool executor
    (``max_parallel``, ``tag_concurrency_limits``, ``retries``); broker and queue are settings of
    the process (:func:`celery_settings`), never run config."""
    from yaml2dag.compiler.executor import DEFAULT_MAX_PARALLEL as _DEFAULT

    @dg.executor(
        name="yaml2dag_celery",
        config_schema={
            "max_parallel": dg.Field(int, default_value=_DEFAULT,
                                     description="Steps of one run submitted and not ended at once."),
            "tag_concurrency_limits": dg.Field(list, is_required=False,
                                               description="Op tag concurrency limits (parallel groups)."),
            "retries": dg.Field(dict, default_value={"enabled": {}}),
        },
        requirements=dg.multiple_process_executor_requirements(),
    )
    def celery_executor(init_context) -> Executor:
        """Steps of the run execute as Celery tasks on ``dagster-celery`` workers."""
        config = init_context.executor_config
        return CeleryStepsExecutor(
            retries=RetryMode.from_config(config.get("retries", {"enabled": {}})),
            max_parallel=config.get("max_parallel", _DEFAULT),
            tag_concurrency_limits=config.get("tag_concurrency_limits"),
            failure_cw=failure_cw,
        )

    return celery_executor


__all__ = ["BACKEND_ENV", "BROKER_ENV", "HEARTBEAT_ENV", "QUEUE_ENV", "TASK_NAME", "CelerySettings",
           "CeleryStepsExecutor", "WorkerLostError", "celery_settings", "execute_step_task", "make_app",
           "make_celery_executor", "retry_after_loss"]
