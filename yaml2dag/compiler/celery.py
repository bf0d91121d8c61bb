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
  (a pool slot held by a dead run is reaped, :class:`yaml2dag.compiler.run_health.DeadRunWatch`);
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

Settings (never in the workflow file): :mod:`.celery_settings`. The worker side:
:mod:`.celery_worker`. Workers:
``dagster-celery worker start -A yaml2dag.compiler.celery_app`` (:mod:`.celery_app`).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import dagster as dg
from dagster import DagsterEvent, DagsterExecutionInterruptedError, Executor

from yaml2dag.dagster_internals import (
    EngineEventData,
    ExecutionPlan,
    PlanOrchestrationContext,
    RetryMode,
    SerializableErrorInfo,
    serializable_error_info_from_exc_info,
)
from yaml2dag.compiler.executor import DEFAULT_MAX_PARALLEL, STOP_GRACE_SECONDS, RunTimeoutError, _max_runtime
from yaml2dag.compiler.pool_claims import PoolClaims
from yaml2dag.compiler.runtime import cancel_run
from yaml2dag.compiler.run_health import DeadRunWatch
from yaml2dag.compiler.celery_settings import (  # noqa: F401 - the settings are re-exported here
    BACKEND_ENV, BROKER_ENV, HEARTBEAT_ENV, KEY_PREFIX, QUEUE_ENV, TASK_NAME, CelerySettings,
    cancel_key, celery_settings, claim_key, make_app, parse_claim, passed_environment,
)
from yaml2dag.format.tags import TAG_MAX_ATTEMPTS
from dagster import deserialize_value
from yaml2dag.compiler.executor import DEFAULT_MAX_PARALLEL as _DEFAULT
from yaml2dag.compiler.failure import handle_stopped_run
from yaml2dag.dagster_internals import (
    ExecuteStepArgs,
    KeyValueStoreTable,
    StepFailureData,
    StepRetryData,
    pack_value,
)

#: Seconds a submitted step may wait for a worker before the run says so (it keeps waiting).
NO_WORKER_WARNING_SECONDS = 60.0
#: Seconds between two looks of the orchestrator at its tasks while nothing else happens.
POLL_SECONDS = 0.05


def _forget_keys(instance: Any, run_id: str) -> None:
    """Drop a finished run's keys from the key-value store (best effort: Dagster's run storage
    has no public delete; the rows are small and harmless if they stay)."""
    try:
        storage = instance.run_storage
        with storage.connect() as conn:
            conn.execute(KeyValueStoreTable.delete().where(
                KeyValueStoreTable.c.key.like(f"{KEY_PREFIX}{run_id}/%")))
    except Exception:  # noqa: BLE001 - never fail a run over housekeeping
        pass


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
        with PoolClaims(plan_context.instance, plan_context.dagster_run) as concurrency:
            try:
                yield from self._loop(plan_context, execution_plan, concurrency, app, settings)
            finally:
                _forget_keys(plan_context.instance, plan_context.run_id)

    # the loop: submit ready steps, collect results, watch heartbeats, stop on timeout/termination
    def _loop(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan,
              concurrency: PoolClaims, app: Any, settings: CelerySettings) -> Iterator[DagsterEvent]:
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
            handle_stopped_run(plan_context, self.failure_cw, stopped_keys[0] if stopped_keys else None, timed_out)
            raise RunTimeoutError(timed_out)
        if stopping:
            raise DagsterExecutionInterruptedError()

    def _submit(self, app: Any, settings: CelerySettings, plan_context: PlanOrchestrationContext, step: Any,
                active: Any, job_origin: Any, executable: dict) -> _Task:
        args = ExecuteStepArgs(
            job_origin=job_origin,
            run_id=plan_context.run_id,
            step_keys_to_execute=[step.key],
            instance_ref=plan_context.instance.get_ref(),
            retry_mode=self.retries.for_inner_plan(),
            known_state=active.get_known_state(),
            print_serialized_events=True,
        )
        options = {"heartbeat": settings.heartbeat, "env": passed_environment()}
        result = app.send_task(TASK_NAME, kwargs={"execute_step_args_packed": pack_value(args),
                                                  "executable_dict": executable, "options": options},
                               queue=settings.queue)
        return _Task(step=step, result=result, submitted=time.monotonic())

    def _collect(self, plan_context: PlanOrchestrationContext, active: Any, task: _Task,
                 stopping: bool) -> Iterator[DagsterEvent]:
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
            claim = parse_claim(values.get(storage_key))
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
            handle_stopped_run(plan_context, self.failure_cw, step.key, message)

    def failure_or_retry(self, step_context: Any, error: SerializableErrorInfo, known_state: Any) -> DagsterEvent:
        """STEP_UP_FOR_RETRY when the step has attempts left, else STEP_FAILURE.

        Attempts: the op's ``RetryPolicy`` (Dagster's rule, with its delay), else the step's
        ``retry.max_attempts`` (op tag :data:`TAG_MAX_ATTEMPTS`, retried at once); none with
        retries disabled.
        """
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


def _request_cancel(instance: Any, run_id: str, reason: str) -> None:
    try:
        instance.run_storage.set_cursor_values({cancel_key(run_id): reason})
    except Exception:  # noqa: BLE001 - the steps then stop at the grace deadline
        pass



def make_celery_executor(failure_cw: Any = None) -> dg.ExecutorDefinition:
    """The executor definition of ``executor: {type: celery}`` (see the module docstring);
    ``failure_cw`` is the job's compiled workflow, whose failure handling runs when the run
    times out or a step is lost for good. Its config is that of the thread-pool executor
    (``max_parallel``, ``tag_concurrency_limits``, ``retries``); broker and queue are settings of
    the process (:func:`celery_settings`), never run config."""
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
           "CeleryStepsExecutor", "WorkerLostError", "celery_settings", "make_app", "make_celery_executor",
           "retry_after_loss"]
