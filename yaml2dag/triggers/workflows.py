"""``workflow`` triggers as Dagster sensors: start this workflow when another one ends (spec §7).

``workflow`` names the upstream workflow of the same definitions folder (its name, ignoring
case, its job id or its file name); ``status`` is ``success`` (default), ``failure`` or ``any``.
Each trigger becomes one :class:`dagster.SensorDefinition` per status it reacts to (``any`` =
two sensors, one for success and one for failure; canceled runs start nothing). Chains
A → B → C are just triggers on B and on C.

Every run of the upstream job recorded in the instance counts, however it was launched: the
UI, schedules, sensors, ``yaml2dag trigger``/GraphQL, and also ``yaml2dag run`` and
``dagster job execute``. That is why these are plain sensors reading the instance's
run-status events (``DagsterInstance.fetch_run_status_changes``, the query Dagster's own
run-status sensors use) and not :class:`dagster.RunStatusSensorDefinition` objects: those only
react to runs whose remote origin is a job of the sensor's code location, which runs executed
outside the deployment do not have. Like a run-status sensor:

* the cursor (kept by Dagster) is the storage id of the last run-status event looked at,
  JSON ``{"v": 1, "after": <storage id>}``; the first check only records where the event log
  stands, so runs that ended before the sensor existed start nothing;
* each upstream run requests one run, with the run key ``<upstream run id>:<status>``, so
  Dagster never starts two downstream runs for one upstream run even if the cursor were lost;
* at most :data:`MAX_RUNS_PER_CHECK` upstream runs are handled per check, oldest first.

Names: the trigger's ``name`` (with ``_success``/``_failure`` appended for ``status: any``),
else ``<job>_on_<upstream job>_<status>`` (:mod:`yaml2dag.format.trigger_names`).

``trigger.*``: ``type`` (``"workflow"``), ``sensor``, ``run_id`` (the upstream run),
``workflow`` (its workflow name), ``job`` (its job id), ``status`` (``success`` or
``failure``), ``outputs`` (the upstream run's workflow outputs, from the STEP_OUTPUT metadata
``outputs`` of its ``workflow_outputs`` step; empty when it failed before), ``parameters``
(the upstream run's parameter values), and for a failure ``error`` and ``failed_step``.

A trigger parameter that does not render or check skips that upstream run, with the message in
the sensor's tick (as a file trigger skips a file), and the sensor goes on with the next runs.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Callable, Mapping

import dagster as dg

from yaml2dag.format.errors import Yaml2DagError
from yaml2dag.format.model import Trigger, Workflow
from yaml2dag.format.tags import META_STATUS, META_UPSTREAM, META_UPSTREAM_JOB, META_WORKFLOW
from yaml2dag.triggers.common import NameRegistry, run_request
from dagster import RunStatusChangeRecordsFilter
from yaml2dag.compiler.scope import TAG_WORKFLOW
from yaml2dag.format.errors import ParameterError
from yaml2dag.format.parameters import resolve
from yaml2dag.format.trigger_names import trigger_names
from yaml2dag.runs.tracking import StepTracker
from yaml2dag.triggers.common import TriggerParameterError

KIND = "workflow"
#: Seconds between checks of a workflow trigger's sensor (Dagster's default is 30).
CHECK_INTERVAL = 10
#: Upstream runs handled per check at most; the rest follow on the next checks.
MAX_RUNS_PER_CHECK = 50
#: Run-status events read per page, and pages per check at most (events of other jobs count).
PAGE_SIZE, MAX_PAGES = 200, 10
CURSOR_VERSION = 1
#: ``status`` → the words of the run statuses it reacts to (one sensor each).
STATUSES: dict[str, tuple[str, ...]] = {"success": ("success",), "failure": ("failure",),
                                        "any": ("success", "failure")}
#: status word → the run-status event that ends such a run.
EVENTS = {"success": dg.DagsterEventType.RUN_SUCCESS, "failure": dg.DagsterEventType.RUN_FAILURE}


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
    output (as :class:`yaml2dag.runs.tracking.StepTracker` reads them); ``{}`` when that step did
    not run.
    """
    tracker = StepTracker()
    records = instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_OUTPUT, dg.DagsterEventType.STEP_FAILURE})
    for record in records:
        if record.dagster_event is not None:
            tracker.feed(record.dagster_event, record.timestamp)
    return dict(tracker.outputs), tracker.first_error


def workflow_info(sensor: str, upstream: Workflow | None, run: Any, status: str,
                  outputs: Mapping[str, Any], failure: tuple[str, str] | None) -> dict[str, Any]:
    """``trigger.*`` of a run started because ``run`` ended with ``status``."""
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

    try:
        return resolve(upstream, dict(run_config), allow_missing=True)
    except ParameterError:
        return dict(run_config)


def load_cursor(cursor: str | None) -> int | None:
    """The storage id a workflow trigger's cursor stands at (None: no or unreadable cursor)."""
    if not cursor:
        return None
    try:
        data = json.loads(cursor)
    except ValueError:
        return None
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION or not isinstance(data.get("after"), int):
        return None
    return data["after"]


def dump_cursor(after: int) -> str:
    """The cursor standing after the run-status event with storage id ``after``."""
    return json.dumps({"v": CURSOR_VERSION, "after": after})


def evaluate_upstream_runs(workflow: Workflow, trigger: Trigger, name: str, upstream: Workflow | None,
                           upstream_job: str, word: str, instance: Any, cursor: str | None,
                           log: Any = None) -> dg.SensorResult:
    """One check of a workflow trigger for one upstream status (the body of its sensor).

    Args:
        workflow: the validated downstream workflow.
        trigger: its ``workflow`` trigger.
        name: the sensor's name (``trigger.sensor``).
        upstream: the upstream workflow (None when its file is invalid).
        upstream_job: the upstream job's name (runs of this job name are looked at).
        word: ``success`` or ``failure``.
        instance: the Dagster instance (the sensor context's ``instance``).
        cursor: the sensor's cursor (None on the first check).
        log: a logger for per-run problems (the sensor context's ``log``), optional.

    Returns:
        A :class:`dagster.SensorResult` with the new cursor and one :class:`dagster.RunRequest`
        per upstream run of ``upstream_job`` that ended with ``word`` since the cursor (run key
        ``<run id>:<word>``), or a skip reason. On the first check (no cursor) nothing runs: the
        cursor is set to the latest such event.
    """
    event_type = EVENTS[word]
    after = load_cursor(cursor)
    if after is None:
        latest = instance.fetch_run_status_changes(event_type, limit=1).records
        after = latest[0].storage_id if latest else -1
        return dg.SensorResult(skip_reason=f"started watching runs of {upstream_job} that end with {word}; "
                                           "runs that ended before now start nothing",
                               cursor=dump_cursor(after))
    requests: list[dg.RunRequest] = []
    problems: list[str] = []
    for _page in range(MAX_PAGES):
        records = instance.fetch_run_status_changes(
            RunStatusChangeRecordsFilter(event_type=event_type, after_storage_id=after),
            limit=PAGE_SIZE, ascending=True).records
        for record in records:
            if len(requests) + len(problems) >= MAX_RUNS_PER_CHECK:
                break
            after = record.storage_id
            entry = record.event_log_entry
            if entry.job_name != upstream_job:
                continue
            run = instance.get_run_by_id(entry.run_id)
            if run is None:  # deleted since
                continue
            outputs, failure = upstream_result(instance, run.run_id)
            info = workflow_info(name, upstream, run, word, outputs, failure)
            try:
                requests.append(run_request(workflow, trigger, info, run_key=f"{run.run_id}:{word}"))
            except TriggerParameterError as exc:
                problems.append(f"run {run.run_id}: {exc}")
                if log is not None:
                    log.warning(f"no run for upstream run {run.run_id}: {exc}")
        else:
            if len(records) == PAGE_SIZE:
                continue  # a full page: there may be more
        break
    new_cursor = dump_cursor(after)
    if requests:
        return dg.SensorResult(run_requests=requests, cursor=new_cursor)
    if problems:
        reason = f"{len(problems)} upstream run(s) could not start a run: " + "; ".join(problems[:3])
    else:
        reason = f"no run of {upstream_job} ended with {word} since the last check"
    return dg.SensorResult(skip_reason=reason, cursor=new_cursor)


def workflow_sensor(workflow: Workflow, trigger: Trigger, job: dg.JobDefinition, name: str,
                    upstream: Workflow | None, upstream_job: dg.JobDefinition, word: str) -> dg.SensorDefinition:
    """The sensor of one ``workflow`` trigger for one upstream status.

    Args:
        workflow: the validated downstream workflow.
        trigger: its ``workflow`` trigger.
        job: the downstream job (the target of the run requests).
        name: the sensor name (unique in the code location).
        upstream: the upstream workflow (None when its file is invalid).
        upstream_job: the upstream job (its runs are watched).
        word: ``success`` or ``failure``.

    Each check is :func:`evaluate_upstream_runs`.
    """
    upstream_name = upstream_job.name

    def evaluation_fn(context: dg.SensorEvaluationContext):
        return evaluate_upstream_runs(workflow, trigger, name, upstream, upstream_name, word,
                                      context.instance, context.cursor, log=context.log)

    shown = upstream.name if upstream is not None else upstream_name
    return dg.SensorDefinition(
        name=name,
        evaluation_fn=evaluation_fn,
        minimum_interval_seconds=CHECK_INTERVAL,
        description=trigger.description or f"{workflow.name}: starts when {shown!r} ends with {word}",
        job=job,
        default_status=(dg.DefaultSensorStatus.RUNNING if trigger.enabled else dg.DefaultSensorStatus.STOPPED),
        metadata={META_WORKFLOW: workflow.name, META_UPSTREAM: shown,
                  META_UPSTREAM_JOB: upstream_name, META_STATUS: word},
    )


def workflow_sensors_for(workflow: Workflow, job: dg.JobDefinition,
                         find: Callable[[str], tuple[Workflow | None, str] | None],
                         jobs: Mapping[str, dg.JobDefinition],
                         names: NameRegistry | None = None) -> list[dg.SensorDefinition]:
    """The sensors of every ``workflow`` trigger of ``workflow``, in file order.

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

    def upstream_job(ref: str) -> str | None:
        found = find(ref)
        return found[1] if found is not None else None

    out = []
    for trigger, own in zip(workflow.triggers, trigger_names(workflow, upstream_job)):
        if trigger.type != KIND:
            continue
        ref = str(trigger.options.get("workflow", ""))
        found = find(ref)
        if found is None or found[1] not in jobs:
            raise UnknownUpstreamError(f"{workflow.name!r}: trigger names an unknown workflow {ref!r}")
        upstream, upstream_job_name = found
        words = STATUSES[str(trigger.options.get("status") or "success")]
        for word, preferred in zip(words, own):
            name = names.claim(preferred, workflow.id)
            out.append(workflow_sensor(workflow, trigger, job, name, upstream, jobs[upstream_job_name], word))
    return out
