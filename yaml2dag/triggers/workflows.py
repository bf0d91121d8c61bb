"""``workflow`` triggers as Dagster run-status sensors: start this workflow when another one
ends (spec §7).

``workflow`` names the upstream workflow of the same definitions folder (its name, ignoring
case, its job id or its file name); ``status`` is ``success`` (default), ``failure`` or ``any``.
Each trigger becomes a :class:`dagster.RunStatusSensorDefinition` per status it reacts to
(``any`` = two sensors, one for success and one for failure; canceled runs start nothing),
monitoring the upstream job. Chains A → B → C are just triggers on B and on C.

Names: the trigger's ``name`` (with ``_success``/``_failure`` appended for ``status: any``),
else ``<job>_on_<upstream job>_<status>``.

``trigger.*``: ``type`` (``"workflow"``), ``sensor``, ``run_id`` (the upstream run),
``workflow`` (its workflow name), ``job`` (its job id), ``status`` (``success`` or
``failure``), ``outputs`` (the upstream run's workflow outputs, from the STEP_OUTPUT metadata
``outputs`` of its ``workflow_outputs`` step; empty when it failed before), ``parameters``
(the upstream run's parameter values), and for a failure ``error`` and ``failed_step``.

Like every Dagster run-status sensor, these react to runs of the upstream job launched
through the deployment (UI, schedules, sensors, ``yaml2dag trigger``, GraphQL). Runs executed
outside it (``yaml2dag run``, ``dagster job execute``) have no code location origin and are
not seen. The first check of a new sensor only records where the event log stands: runs that
ended before it do not fire.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping

import dagster as dg

from ..errors import Yaml2DagError
from ..model import Trigger, Workflow
from .common import NameRegistry, run_request

KIND = "workflow"
#: Seconds between checks of a workflow trigger's sensor (Dagster's default is 30).
CHECK_INTERVAL = 10
#: ``status`` → the Dagster run statuses it reacts to.
STATUSES: dict[str, tuple[dg.DagsterRunStatus, ...]] = {
    "success": (dg.DagsterRunStatus.SUCCESS,),
    "failure": (dg.DagsterRunStatus.FAILURE,),
    "any": (dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE),
}
_WORD = {dg.DagsterRunStatus.SUCCESS: "success", dg.DagsterRunStatus.FAILURE: "failure"}


class UnknownUpstreamError(Yaml2DagError):
    """A ``workflow`` trigger names no workflow of the folder (validation reports it first)."""


def upstream_lookup(entries: list[tuple[Workflow | None, str, str]],
                    ) -> Callable[[str], tuple[Workflow | None, str] | None]:
    """A finder for upstream workflows: ``ref`` → ``(workflow, job name)`` or None.

    Args:
        entries: ``(workflow or None, job name, file)`` for every file of the folder (an
            invalid file's job is its broken-workflow job).

    Returns:
        A function matching, in this order, a workflow name (ignoring case), a job id and a
        file name without extension — the same rules as sub-workflows.
    """
    by_name: dict[str, tuple[Workflow | None, str]] = {}
    by_id: dict[str, tuple[Workflow | None, str]] = {}
    by_stem: dict[str, tuple[Workflow | None, str]] = {}
    for workflow, job, file in entries:
        if workflow is not None and workflow.name:
            by_name.setdefault(workflow.name.casefold(), (workflow, job))
        by_id.setdefault(job, (workflow, job))
        if workflow is not None and workflow.id:
            by_id.setdefault(workflow.id, (workflow, job))
        by_stem.setdefault(Path(file).stem, (workflow, job))

    def find(ref: str) -> tuple[Workflow | None, str] | None:
        return by_name.get(ref.casefold()) or by_id.get(ref) or by_stem.get(ref)

    return find


def upstream_result(instance: Any, run_id: str) -> tuple[dict[str, Any], tuple[str, str] | None]:
    """The workflow outputs and the first failure ``(step, message)`` of a finished run.

    Outputs are the ``outputs`` metadata of the run's top-level ``workflow_outputs`` step
    output (as :class:`yaml2dag.tracking.StepTracker` reads them); ``{}`` when that step did
    not run.
    """
    from ..tracking import StepTracker

    tracker = StepTracker()
    records = instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_OUTPUT, dg.DagsterEventType.STEP_FAILURE})
    for record in records:
        if record.dagster_event is not None:
            tracker.feed(record.dagster_event, record.timestamp)
    return dict(tracker.outputs), tracker.first_error


def workflow_info(sensor: str, upstream: Workflow | None, run: Any, status: str,
                  outputs: Mapping[str, Any], failure: tuple[str, str] | None) -> dict[str, Any]:
    """``trigger.*`` of a run started because ``run`` ended with ``status``."""
    from ..compiler.scope import TAG_WORKFLOW

    info: dict[str, Any] = {
        "type": KIND,
        "sensor": sensor,
        "run_id": run.run_id,
        "workflow": upstream.name if upstream is not None else run.tags.get(TAG_WORKFLOW, run.job_name),
        "job": run.job_name,
        "status": status,
        "outputs": dict(outputs),
        "parameters": _parameters_of(upstream, run.run_config or {}),
    }
    if failure is not None:
        info["failed_step"], info["error"] = failure
    return info


def _parameters_of(upstream: Workflow | None, run_config: Mapping[str, Any]) -> dict[str, Any]:
    """The upstream run's parameter values: its run config with the defaults filled in."""
    if upstream is None:
        return dict(run_config)
    from ..errors import ParameterError
    from ..parameters import resolve

    try:
        return resolve(upstream, dict(run_config), allow_missing=True)
    except ParameterError:
        return dict(run_config)


def workflow_sensor(workflow: Workflow, trigger: Trigger, job: dg.JobDefinition, name: str,
                    upstream: Workflow | None, upstream_job: dg.JobDefinition,
                    run_status: dg.DagsterRunStatus) -> dg.RunStatusSensorDefinition:
    """The run-status sensor of one ``workflow`` trigger for one upstream run status.

    Args:
        workflow: the validated downstream workflow.
        trigger: its ``workflow`` trigger.
        job: the downstream job (the target of the run requests).
        name: the sensor name (unique in the code location).
        upstream: the upstream workflow (None when its file is invalid).
        upstream_job: the upstream job (monitored).
        run_status: ``SUCCESS`` or ``FAILURE``.

    The sensor requests one run per upstream run (run key ``<upstream run id>:<status>``). A
    trigger parameter that does not render or check fails the sensor's tick with the message
    (the upstream run is not retried).
    """
    word = _WORD[run_status]

    def evaluation_fn(context: dg.RunStatusSensorContext):
        run = context.dagster_run
        if run.job_name != upstream_job.name:  # only monitored jobs reach here
            return dg.SkipReason(f"run {run.run_id} of {run.job_name} is not a run of {upstream_job.name}")
        outputs, failure = upstream_result(context.instance, run.run_id)
        info = workflow_info(name, upstream, run, word, outputs, failure)
        return run_request(workflow, trigger, info, run_key=f"{run.run_id}:{word}")

    shown = upstream.name if upstream is not None else upstream_job.name
    return dg.RunStatusSensorDefinition(
        name=name,
        run_status=run_status,
        run_status_sensor_fn=evaluation_fn,
        minimum_interval_seconds=CHECK_INTERVAL,
        description=trigger.description or f"{workflow.name}: starts when {shown!r} ends with {word}",
        monitored_jobs=[upstream_job],
        default_status=(dg.DefaultSensorStatus.RUNNING if trigger.enabled else dg.DefaultSensorStatus.STOPPED),
        request_job=job,
        metadata={"yaml2dag/workflow": workflow.name, "yaml2dag/upstream": shown, "yaml2dag/status": word},
    )


def workflow_sensors_for(workflow: Workflow, job: dg.JobDefinition,
                         find: Callable[[str], tuple[Workflow | None, str] | None],
                         jobs: Mapping[str, dg.JobDefinition],
                         names: NameRegistry | None = None) -> list[dg.RunStatusSensorDefinition]:
    """The run-status sensors of every ``workflow`` trigger of ``workflow``, in file order.

    Args:
        workflow: the validated workflow.
        job: its job.
        find: upstream finder (:func:`upstream_lookup`).
        jobs: every job of the code location by name.
        names: the code location's name registry.

    Raises:
        UnknownUpstreamError: a trigger names no workflow of the folder.
    """
    names = names if names is not None else NameRegistry()
    out = []
    for trigger in workflow.triggers:
        if trigger.type != KIND:
            continue
        ref = str(trigger.options.get("workflow", ""))
        found = find(ref)
        if found is None or found[1] not in jobs:
            raise UnknownUpstreamError(f"{workflow.name!r}: trigger names an unknown workflow {ref!r}")
        upstream, upstream_job_name = found
        status = str(trigger.options.get("status") or "success")
        statuses = STATUSES[status]
        for run_status in statuses:
            word = _WORD[run_status]
            if trigger.name:
                preferred = trigger.name if len(statuses) == 1 else f"{trigger.name}_{word}"
            else:
                preferred = f"{workflow.id}_on_{upstream_job_name}_{word}"
            name = names.claim(preferred, workflow.id)
            out.append(workflow_sensor(workflow, trigger, job, name, upstream, jobs[upstream_job_name], run_status))
    return out
