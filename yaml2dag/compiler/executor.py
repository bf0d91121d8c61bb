"""A Dagster executor that runs the ready steps of one run on a thread pool.

Dagster ships an in-process executor (one step at a time) and a multiprocess executor (a new
Python process per step, about a second each); a multi-threaded executor is Dagster's open
request #4041. Workflow steps mostly wait on subprocesses, HTTP and disks, so threads give real
overlap at in-process cost. This executor is built on Dagster's ``Executor`` extension point and
its own plan machinery (``ActiveExecution``): dependencies, skips, retries
(``RetryPolicy``/``RetryRequested``), op tag concurrency limits (parallel groups'
``max_parallel``), instance concurrency pools and hooks all behave as in the in-process
executor. Step events are logged by the worker threads (Dagster's storages serialise writes);
the orchestrating thread feeds them to ``ActiveExecution`` in arrival order.

On termination (SIGINT/SIGTERM, ``dagster run terminate``) the tools of every step in flight
are cancelled (the shell tool kills its process group) before the run ends CANCELED. A step that
ignores cancellation (Python code that does not check) is left behind after
:data:`STOP_GRACE_SECONDS`: the run ends CANCELED anyway, and the step's daemon thread does not
keep the process (``yaml2dag run``, a run worker) from exiting.

The workflow ``timeout`` (run tag ``dagster/max_runtime``) is enforced by the run's executor
itself, so it holds under ``yaml2dag run``, ``dagster job execute`` and runs launched from the UI
alike, with no daemon: this executor checks it while it waits for steps; Dagster's in-process
and multiprocess executors are wrapped in :class:`TimeLimitedExecutor`, which stops them the way
Dagster's own termination does. Either way the run ends FAILURE with "the run exceeded its
timeout of Ns", after the workflow's failure handling (``compensate``, ``on_failure``) ran.
"""

from __future__ import annotations

import ctypes
import os
import queue
import signal
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import dagster as dg
from dagster import DagsterEvent, DagsterExecutionInterruptedError, Executor

from yaml2dag.dagster_internals import (
    EngineEventData,
    ExecuteRunWithPlanIterable,
    ExecutionPlan,
    MultiprocessExecutor,
    PlanExecutionContext,
    PlanExecutionContextManager,
    PlanOrchestrationContext,
    RetryMode,
    create_compute_log_file_key,
    dagster_event_sequence_for_step,
    flag_interrupt,
    pop_captured_interrupt,
    serializable_error_info_from_exc_info,
    trigger_hook,
)
from yaml2dag.compiler.run_health import DeadRunWatch
from yaml2dag.compiler.pool_claims import PoolClaims
from yaml2dag.compiler.runtime import cancel_run
from yaml2dag.compiler.failure import handle_stopped_run

#: Default number of steps of one run that may execute at once.
DEFAULT_MAX_PARALLEL = 8

#: Seconds a terminated run waits for its steps to stop before it ends anyway.
STOP_GRACE_SECONDS = 15.0

_DONE = object()

#: Dagster's run tag for a run's time limit, in seconds (set from the workflow's ``timeout``).
MAX_RUNTIME_TAG = "dagster/max_runtime"


class RunTimeoutError(Exception):
    """The run ran longer than its ``dagster/max_runtime`` tag allows."""


def _max_runtime(tags) -> float | None:
    raw = tags.get(MAX_RUNTIME_TAG) or tags.get("dagster/max_runtime_seconds")
    try:
        value = float(raw) if raw else None
    except ValueError:
        return None
    return value if value and value > 0 else None


class ThreadsExecutor(Executor):
    """Executes ready steps concurrently on up to ``max_parallel`` threads of this process."""

    def __init__(self, retries: RetryMode, max_parallel: int = DEFAULT_MAX_PARALLEL,
                 tag_concurrency_limits: list[dict[str, Any]] | None = None, failure_cw: Any = None):
        self._retries = retries
        self.max_parallel = max(1, int(max_parallel))
        self.tag_concurrency_limits = tag_concurrency_limits or []
        #: the job's compiled workflow, for failure handling when the run times out
        self.failure_cw = failure_cw

    @property
    def retries(self) -> RetryMode:
        return self._retries

    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        yield DagsterEvent.engine_event(
            plan_context,
            f"Executing steps on up to {self.max_parallel} threads (pid: {os.getpid()})",
            event_specific_data=EngineEventData.in_process(os.getpid(), execution_plan.step_keys_to_execute),
        )
        yield from iter(
            ExecuteRunWithPlanIterable(
                execution_plan=plan_context.execution_plan,
                iterator=self._iterator,
                execution_context_manager=PlanExecutionContextManager(
                    job=plan_context.job,
                    retry_mode=plan_context.retry_mode,
                    execution_plan=plan_context.execution_plan,
                    run_config=plan_context.run_config,
                    dagster_run=plan_context.dagster_run,
                    instance=plan_context.instance,
                    raise_on_error=plan_context.raise_on_error,
                    output_capture=plan_context.output_capture,
                ),
            )
        )

    def _iterator(self, job_context: PlanExecutionContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        with PoolClaims(job_context.instance, job_context.dagster_run) as concurrency:
            yield from self._run(job_context, execution_plan, concurrency)

    def _run(self, job_context: PlanExecutionContext, execution_plan: ExecutionPlan,
             concurrency: PoolClaims) -> Iterator[DagsterEvent]:
        compute_log_manager = job_context.instance.compute_log_manager
        step_keys = [step.key for step in execution_plan.get_steps_to_execute_in_topo_order()]
        events: queue.Queue = queue.Queue()
        # submission id -> (step key, step context, its events); a step that is retried at
        # once may be submitted again before the worker of its previous attempt has ended
        in_flight: dict[int, tuple[str, Any, list[DagsterEvent]]] = {}
        latest: dict[str, int] = {}
        next_id = 0
        stopping = False
        worker_error: BaseException | None = None
        timed_out: str | None = None
        stopped_keys: list[str] = []
        max_runtime = _max_runtime(job_context.dagster_run.tags)
        started = time.monotonic()
        try:
            with ExitStack() as stack:
                active = stack.enter_context(execution_plan.start(
                    retry_mode=job_context.retry_mode,
                    max_concurrent=self.max_parallel,
                    tag_concurrency_limits=self.tag_concurrency_limits,
                    instance_concurrency_context=concurrency,
                    step_dependency_config=job_context.step_dependency_config,
                ))
                log_key = compute_log_manager.build_log_key_for_run(job_context.run_id, create_compute_log_file_key())
                try:
                    log_context = stack.enter_context(compute_log_manager.capture_logs(log_key))
                    yield DagsterEvent.capture_logs(job_context, step_keys, log_key, log_context)
                except Exception:  # noqa: BLE001 - same handling as Dagster's in-process executor
                    yield DagsterEvent.engine_event(
                        plan_context=job_context,
                        message="Exception while setting up compute log capture",
                        event_specific_data=EngineEventData(error=serializable_error_info_from_exc_info(sys.exc_info())),
                    )
                stop_deadline = None
                # a pool slot held by a run whose process died would be waited for forever
                reap_dead = DeadRunWatch(job_context.instance, by=f"run {job_context.run_id} waiting for a pool slot")
                while (not stopping and not active.is_complete) or in_flight:
                    if max_runtime is not None and not stopping and time.monotonic() - started > max_runtime:
                        timed_out = f"the run exceeded its timeout of {max_runtime:g}s"
                        stopped_keys = [v[0] for v in in_flight.values()]
                        stopping = True
                        active.mark_interrupted()
                        cancel_run(job_context.run_id, timed_out)
                        stop_deadline = time.monotonic() + STOP_GRACE_SECONDS
                        yield DagsterEvent.engine_event(job_context, f"{timed_out} (tag {MAX_RUNTIME_TAG}): stopping "
                                                        "the running steps", EngineEventData.interrupted([v[0] for v in in_flight.values()]))
                    if active.check_for_interrupts() and not stopping:
                        stopping = True
                        active.mark_interrupted()
                        cancelled = cancel_run(job_context.run_id)
                        stop_deadline = time.monotonic() + STOP_GRACE_SECONDS
                        yield DagsterEvent.engine_event(
                            job_context,
                            f"Run terminated: stopping {len(in_flight)} running step(s) ({cancelled} tool(s) cancelled)",
                            EngineEventData.interrupted([v[0] for v in in_flight.values()]),
                        )
                    if not stopping:
                        yield from active.concurrency_event_iterator(job_context)
                        free = self.max_parallel - len(in_flight)
                        steps = active.get_steps_to_execute(limit=free) if free > 0 else []
                        for step in steps:
                            step_context = job_context.for_step(step, active.get_known_state())
                            next_id += 1
                            in_flight[next_id] = (step.key, step_context, [])
                            latest[step.key] = next_id
                            _start_step(next_id, step_context, events)
                        # skipped and abandoned steps resolve without running
                        for event in active.plan_events_iterator(job_context):
                            yield event
                    if not stopping and concurrency.has_pending_claims():
                        reap_dead()
                    if not in_flight:
                        if stopping or active.is_complete:
                            break
                        active.sleep_til_ready()
                        continue
                    if stopping and stop_deadline is not None and time.monotonic() > stop_deadline:
                        break  # steps that ignore cancellation are left behind; the run still ends
                    try:
                        submission, item = events.get(timeout=0.5)
                    except queue.Empty:
                        continue
                    key, step_context, step_events = in_flight[submission]
                    if item is _DONE:
                        del in_flight[submission]
                        if not stopping and latest.get(key) == submission:
                            active.verify_complete(job_context, key)
                            for event in active.plan_events_iterator(job_context):
                                step_events.append(event)
                                yield event
                            yield from trigger_hook(step_context, step_events)
                    elif isinstance(item, BaseException):
                        if isinstance(item, DagsterExecutionInterruptedError):
                            if not stopping:
                                stopping = True
                                active.mark_interrupted()
                                cancel_run(job_context.run_id)
                                stop_deadline = time.monotonic() + STOP_GRACE_SECONDS
                        elif worker_error is None:
                            worker_error = item
                            stopping = True
                            cancel_run(job_context.run_id)
                            stop_deadline = time.monotonic() + STOP_GRACE_SECONDS
                    else:
                        step_events.append(item)
                        yield item
                        active.handle_event(item)
        except DagsterExecutionInterruptedError:
            # ActiveExecution refuses to close with steps left after mark_interrupted(); for a
            # timeout, the run fails with the timeout's own error below
            if timed_out is None:
                raise
        if worker_error is not None:
            raise worker_error
        if timed_out is not None:
            handle_stopped_run(job_context, self.failure_cw, stopped_keys[0] if stopped_keys else None, timed_out)
            raise RunTimeoutError(timed_out)
        if stopping:
            raise DagsterExecutionInterruptedError()


def _start_step(submission: int, step_context: Any, events: queue.Queue) -> None:
    # one daemon thread per step (at most max_parallel run at once: the loop submits no more):
    # a step that ignores cancellation must not keep the process alive once its run has ended,
    # as a ThreadPoolExecutor's workers would (they are joined when the interpreter exits)
    threading.Thread(target=_run_step, args=(submission, step_context, events),
                     name=f"yaml2dag-step-{submission}", daemon=True).start()


def _run_step(submission: int, step_context: Any, events: queue.Queue) -> None:
    try:
        for event in dagster_event_sequence_for_step(step_context):
            events.put((submission, event))
    except BaseException as exc:  # noqa: BLE001 - handed to the orchestrating thread
        events.put((submission, exc))
    finally:
        events.put((submission, _DONE))


def make_threads_executor(failure_cw: Any = None) -> dg.ExecutorDefinition:
    """yaml2dag's default executor definition (see :func:`threads_executor`); ``failure_cw`` is
    the job's compiled workflow, whose failure handling runs when the run times out."""

    @dg.executor(
        name="yaml2dag_threads",
        config_schema={
            "max_parallel": dg.Field(int, default_value=DEFAULT_MAX_PARALLEL,
                                     description="Steps of one run executing at once."),
            "tag_concurrency_limits": dg.Field(list, is_required=False,
                                               description="Op tag concurrency limits (parallel groups)."),
            "retries": dg.Field(dict, default_value={"enabled": {}}),
        },
    )
    def threads_executor(init_context) -> Executor:
        """yaml2dag's default executor: ready steps of a run execute on a thread pool.

        Config: ``max_parallel`` (int, default 8), ``tag_concurrency_limits`` (list of
        ``{key, value, limit}``, as Dagster's multiprocess executor), ``retries``.
        """
        config = init_context.executor_config
        return ThreadsExecutor(
            retries=RetryMode.from_config(config.get("retries", {"enabled": {}})),
            max_parallel=config.get("max_parallel", DEFAULT_MAX_PARALLEL),
            tag_concurrency_limits=config.get("tag_concurrency_limits"),
            failure_cw=failure_cw,
        )

    return threads_executor


#: yaml2dag's default executor: ready steps of a run execute on a thread pool.
threads_executor = make_threads_executor()


# --------------------------------------------------------------------------- Dagster's executors

#: Seconds a step of an in-process run may ignore cancellation before it is interrupted.
INTERRUPT_GRACE_SECONDS = 5.0


def _async_interrupt(thread: threading.Thread) -> None:
    if thread.ident is not None:
        ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident),
                                                   ctypes.py_object(DagsterExecutionInterruptedError))


class TimeLimitedExecutor(Executor):
    """One of Dagster's executors (in-process, multiprocess) that also enforces the run's
    ``dagster/max_runtime`` tag (the workflow ``timeout``), without a daemon.

    At the deadline a watchdog thread records an engine event, cancels the tools running in
    this process (the shell tool kills its process group) and interrupts the executor as
    Dagster's termination does: the multiprocess executor stops its step processes; in-process
    steps stop at their next Dagster checkpoint, and one that ignores cancellation is interrupted
    after :data:`INTERRUPT_GRACE_SECONDS`. The run then gets its failure handling
    (:func:`yaml2dag.compiler.failure.handle_stopped_run`) and ends FAILURE with
    :class:`RunTimeoutError`.

    Args:
        inner: the executor to run.
        failure_cw: the job's compiled workflow (failure handling), or None.
    """

    def __init__(self, inner: Executor, failure_cw: Any = None):
        self.inner = inner
        self.failure_cw = failure_cw

    @property
    def retries(self) -> RetryMode:
        return self.inner.retries

    @property
    def step_dependency_config(self):
        return self.inner.step_dependency_config

    def execute(self, plan_context: PlanOrchestrationContext, execution_plan: ExecutionPlan) -> Iterator[DagsterEvent]:
        limit = _max_runtime(plan_context.dagster_run.tags)
        if limit is None:
            yield from self.inner.execute(plan_context, execution_plan)
            return
        record = plan_context.instance.get_run_record_by_id(plan_context.run_id)
        started = record.start_time if record is not None and record.start_time else time.time()
        executing = threading.current_thread()
        multiprocess = isinstance(self.inner, MultiprocessExecutor)
        done = threading.Event()
        lock = threading.Lock()
        fired: dict[str, Any] = {"message": None, "flagged": False, "running": []}
        running: list[str] = []  # step keys started and not ended, in start order

        def watchdog() -> None:
            if done.wait(max(0.0, started + limit - time.time())):
                return
            message = f"the run exceeded its timeout of {limit:g}s"
            with lock:
                if done.is_set():
                    return
                fired["message"] = message
                fired["running"] = list(running)
                plan_context.instance.report_engine_event(
                    f"{message} (tag {MAX_RUNTIME_TAG}): stopping the running steps", plan_context.dagster_run,
                    EngineEventData(), step_key=None)
                if multiprocess or executing is threading.main_thread():
                    flag_interrupt()  # as Dagster's SIGINT/SIGTERM handler does
                    fired["flagged"] = True
            cancel_run(plan_context.run_id, message)
            if multiprocess or done.wait(0.5 if executing is not threading.main_thread() else INTERRUPT_GRACE_SECONDS):
                return
            with lock:  # an in-process step that ignored cancellation
                if done.is_set():
                    return
                if executing is threading.main_thread():
                    signal.pthread_kill(executing.ident, signal.SIGINT)  # Dagster's handler takes it
                else:
                    _async_interrupt(executing)

        guard = threading.Thread(target=watchdog, name=f"yaml2dag-timeout-{plan_context.run_id[:8]}", daemon=True)
        guard.start()
        try:
            for event in self.inner.execute(plan_context, execution_plan):
                if event.is_step_start:
                    running.append(event.step_key)
                elif event.step_key in running and (event.is_step_success or event.is_step_failure
                                                    or event.is_step_skipped or event.is_step_up_for_retry):
                    running.remove(event.step_key)
                yield event
        except (DagsterExecutionInterruptedError, KeyboardInterrupt):
            if fired["message"] is None:
                raise
        finally:
            with lock:
                done.set()
            if fired["flagged"]:
                pop_captured_interrupt()
        if fired["message"] is not None:
            stopped = fired["running"] or running
            handle_stopped_run(plan_context, self.failure_cw, stopped[-1] if stopped else None, fired["message"])
            raise RunTimeoutError(fired["message"])


def time_limited(executor_def: dg.ExecutorDefinition, failure_cw: Any = None) -> dg.ExecutorDefinition:
    """``executor_def`` (Dagster's in-process or multiprocess executor) whose executors are
    wrapped in :class:`TimeLimitedExecutor`; same name, config and requirements."""
    create = executor_def.executor_creation_fn
    assert create is not None

    def _create(init_context) -> Executor:
        return TimeLimitedExecutor(create(init_context), failure_cw)

    return dg.ExecutorDefinition(
        name=executor_def.name,
        config_schema=executor_def.config_schema,
        requirements=executor_def._requirements_fn,  # noqa: SLF001 - keep Dagster's requirements
        executor_creation_fn=_create,
        description=executor_def.description,
    )


__all__ = ["DEFAULT_MAX_PARALLEL", "ThreadsExecutor", "TimeLimitedExecutor", "make_threads_executor",
           "threads_executor", "time_limited"]
