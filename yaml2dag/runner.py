"""Running a workflow through a real Dagster instance, with live progress (``yaml2dag run``).

Every run lands in Dagster's run storage (``$DAGSTER_HOME``, else ``./dagster_home``), so it
shows in the Dagster UI next to runs launched there, by schedules and sensors or by
``dagster job execute``. Events are consumed as Dagster produces them
(``execute_run_iterator``) and turned into :class:`StepProgress` callbacks.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from .errors import WorkflowInvalidError
from .parameters import resolve
from .plan import build_plan
from .validation import CONDITION_SUFFIX, OUTPUTS_NODE, FileReport

DEFAULT_HOME = "dagster_home"
#: Written when the CLI creates a Dagster home that did not exist.
DEFAULT_DAGSTER_YAML = "# Created by yaml2dag: a local instance with SQLite storage in this folder.\ntelemetry:\n  enabled: false\n"

#: Values of ``steps`` in :class:`RunResult` (issue #2, CLI JSON contract).
STEP_STATUSES = ("succeeded", "failed", "continued", "skipped", "not_run")


@dataclass(frozen=True)
class StepProgress:
    """One thing that happened to a step, for live progress.

    Attributes:
        kind: ``started``, ``succeeded``, ``continued``, ``failed``, ``skipped`` or ``retry``.
        step_id: the step.
        title: its name (or id).
        index: how many steps have ended, this one included (0 for started/retry).
        total: how many steps the workflow has.
        duration: seconds the step took (ended kinds), else None.
        message: the error, the skip reason or the retry reason, if any.
    """

    kind: str
    step_id: str
    title: str
    index: int
    total: int
    duration: float | None = None
    message: str | None = None


@dataclass
class RunResult:
    """The outcome of a run (the JSON that ``yaml2dag run --format json`` prints).

    Attributes:
        run_id: the Dagster run id.
        workflow: the workflow's name.
        job: its Dagster job name.
        status: ``SUCCESS``, ``FAILURE`` or ``CANCELED``.
        steps: each step's end: one of :data:`STEP_STATUSES`.
        outputs: the workflow outputs, as JSON-compatible values.
        duration_s: wall time of the run, seconds.
        error: the first failure message, if the run failed.
        failed_step: the step that failed first, if any.
    """

    run_id: str
    workflow: str
    job: str
    status: str
    steps: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    error: str | None = None
    failed_step: str | None = None

    def to_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": self.status,
            "steps": dict(self.steps),
            "outputs": self.outputs,
            "duration_s": round(self.duration_s, 3),
        }


def instance_home() -> Path:
    """The Dagster home used by the CLI: ``$DAGSTER_HOME``, else ``./dagster_home``."""
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) if home else Path(DEFAULT_HOME)


def get_instance():
    """A :class:`dagster.DagsterInstance` for :func:`instance_home` (created if missing)."""
    from dagster import DagsterInstance

    home = instance_home().resolve()
    if not home.exists():
        home.mkdir(parents=True)
        (home / "dagster.yaml").write_text(DEFAULT_DAGSTER_YAML)
    os.environ["DAGSTER_HOME"] = str(home)
    return DagsterInstance.get()


@contextlib.contextmanager
def _quiet_stderr(enabled: bool) -> Iterator[None]:
    """Keep Dagster's console logger off the terminal; the event log has everything."""
    if not enabled:
        yield
        return
    saved = sys.stderr
    with open(os.devnull, "w") as sink:
        sys.stderr = sink
        try:
            yield
        finally:
            sys.stderr = saved


def _failure_message(event: Any) -> str:
    data = event.step_failure_data
    if data is None:
        return event.message or "failed"
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    if data.error is not None:
        return data.error.message.strip().splitlines()[-1] if data.error.message else data.error.cls_name or "error"
    return "failed"


def _retry_message(event: Any) -> str:
    data = event.event_specific_data
    error = getattr(data, "error", None)
    message = ""
    if error is not None:
        cause = error
        while getattr(cause, "cause", None) is not None:
            cause = cause.cause
        message = (cause.message or error.message or "").strip()
        if message.startswith("dagster._core.definitions.events.Failure:"):
            message = message.split(":", 1)[1].strip()
    wait = getattr(data, "seconds_to_wait", None)
    suffix = f"; retrying in {wait:g}s" if wait else "; retrying"
    return (message.splitlines()[0] if message else "attempt failed") + suffix


def run_workflow(
    report: FileReport,
    params: Mapping[str, Any] | None = None,
    *,
    strings: bool = False,
    instance: Any = None,
    on_progress: Callable[[StepProgress], None] | None = None,
    tags: Mapping[str, str] | None = None,
    quiet: bool = True,
) -> RunResult:
    """Run a validated workflow through a real Dagster instance.

    Args:
        report: the validated file (:meth:`yaml2dag.library.Library.find`).
        params: parameter values by name.
        strings: values are command-line strings to convert to the declared types.
        instance: the ``DagsterInstance`` (default: :func:`get_instance`).
        on_progress: called with each :class:`StepProgress`, as steps start and end.
        tags: extra run tags.
        quiet: keep Dagster's console logs off stderr while the run executes.

    Returns:
        The :class:`RunResult`.

    Raises:
        WorkflowInvalidError: the workflow does not validate (nothing ran).
        ParameterError: a parameter value is wrong (nothing ran).
    """
    if not report.valid or report.workflow is None:
        raise WorkflowInvalidError(report.file, report.errors)
    workflow = report.workflow
    values = resolve(workflow, params or {}, strings=strings)

    from dagster._core.execution.api import execute_run_iterator

    from .compiler import reconstructable_job
    from .compiler.ops import TAG_TRIGGER

    instance = instance or get_instance()
    recon = reconstructable_job(report.file)
    job_def = recon.get_definition()
    plan = build_plan(workflow)
    titles = {n.id: getattr(n.entry, "title", n.id) for n in plan.nodes.values() if not n.is_decision}
    total = len(titles)
    run_tags = {**job_def.run_tags, TAG_TRIGGER: "cli", **(tags or {})}
    run = instance.create_run_for_job(job_def=job_def, run_config=values, tags=run_tags)
    statuses: dict[str, str] = {}
    durations: dict[str, float] = {}
    started: dict[str, float] = {}
    reasons: dict[str, str] = {}
    outputs: dict[str, Any] = {}
    first_error: tuple[str, str] | None = None
    ended = 0

    def emit(kind: str, step_id: str, duration: float | None = None, message: str | None = None) -> None:
        if on_progress is not None:
            on_progress(StepProgress(kind, step_id, titles.get(step_id, step_id), ended if kind not in ("started", "retry") else 0,
                                     total, duration, message))

    clock = time.monotonic()
    run_error: str | None = None
    with _quiet_stderr(quiet):
        try:
            for event in execute_run_iterator(recon, run, instance):
                etype = event.event_type_value
                key = event.step_key
                if key is None:
                    if etype == "RUN_FAILURE" and event.message and run_error is None:
                        run_error = event.message
                    continue
                if key.endswith(CONDITION_SUFFIX) and etype == "STEP_OUTPUT":
                    data = event.event_specific_data
                    if data.step_output_handle.output_name == "skipped":
                        reason = data.metadata.get("reason")
                        reasons[key[: -len(CONDITION_SUFFIX)]] = getattr(reason, "value", None) or ""
                    continue
                if key == OUTPUTS_NODE:
                    if etype == "STEP_OUTPUT":
                        meta = event.event_specific_data.metadata.get("outputs")
                        if meta is not None:
                            outputs = dict(meta.value)
                    elif etype == "STEP_FAILURE" and first_error is None:
                        first_error = (OUTPUTS_NODE, _failure_message(event))
                    continue
                if key not in titles:
                    continue
                if etype == "STEP_START":
                    started.setdefault(key, time.monotonic())
                    emit("started", key)
                elif etype == "STEP_OUTPUT":
                    meta = event.event_specific_data.metadata
                    status = getattr(meta.get("status"), "value", "succeeded")
                    if status in ("continued", "fallback"):
                        statuses[key] = "continued"
                        err = meta.get("error")
                        reasons[key] = getattr(err, "value", "") if err is not None else ""
                elif etype == "STEP_UP_FOR_RETRY":
                    emit("retry", key, message=_retry_message(event))
                elif etype in ("STEP_SUCCESS", "STEP_FAILURE", "STEP_SKIPPED"):
                    ended += 1
                    duration = time.monotonic() - started[key] if key in started else 0.0
                    durations[key] = duration
                    if etype == "STEP_SUCCESS":
                        statuses.setdefault(key, "succeeded")
                        emit(statuses[key], key, duration, reasons.get(key) if statuses[key] == "continued" else None)
                    elif etype == "STEP_FAILURE":
                        statuses[key] = "failed"
                        message = _failure_message(event)
                        if first_error is None:
                            first_error = (key, message)
                        emit("failed", key, duration, message)
                    else:
                        statuses[key] = "skipped"
                        emit("skipped", key, None, reasons.get(key))
        except KeyboardInterrupt:
            pass
    final = instance.get_run_by_id(run.run_id)
    status = final.status.value if final is not None else "FAILURE"
    if status not in ("SUCCESS", "FAILURE", "CANCELED"):
        status = "CANCELED" if status in ("CANCELING",) else "FAILURE"
    steps = {sid: statuses.get(sid, "not_run") for sid in titles}
    error = first_error[1] if first_error else run_error if status != "SUCCESS" else None
    return RunResult(
        run_id=run.run_id,
        workflow=workflow.name,
        job=workflow.id,
        status=status,
        steps=steps,
        outputs=outputs,
        duration_s=time.monotonic() - clock,
        error=error,
        failed_step=first_error[0] if first_error else None,
    )
