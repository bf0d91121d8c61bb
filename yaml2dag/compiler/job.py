"""Workflow → Dagster job: the graph, run config, tags, executor and failure handling.

Each workflow becomes one :class:`dagster.JobDefinition` built from the
:class:`dagster.GraphDefinition` of :mod:`.graph`, with:

* the parameters as typed run config (:mod:`.config`);
* run tags ``yaml2dag/workflow``, ``yaml2dag/version``, ``yaml2dag/hash`` (the file's SHA-256),
  the workflow's tags and labels, ``dagster/priority`` (``priority``), ``dagster/max_runtime``
  (``timeout``) and the concurrency tag of ``concurrency`` (see :func:`concurrency_tag`);
* the thread-pool executor (default), Dagster's in-process/multiprocess executor or Celery
  workers (:mod:`.celery`);
* the ``io_manager`` :func:`.sinks.secret_guard_io_manager` (Dagster's pickling filesystem IO
  manager that refuses to store an output holding a secret);
* a failure hook that runs ``compensate`` bodies and ``on_failure`` steps inside the failed
  run (:mod:`.failure`).
"""

from __future__ import annotations

import json
from typing import Callable

import dagster as dg

from yaml2dag.format.definitions_folder import library_root
from yaml2dag.format.errors import WorkflowInvalidError
from yaml2dag.format.model import Workflow
from yaml2dag.format.validated import ValidatedWorkflow, require_validated
from yaml2dag.format.name_index import NameIndex
from yaml2dag.compiler.config import RESOURCE_KEY, config_mapping, parameters_resource
from yaml2dag.compiler.executor import DEFAULT_MAX_PARALLEL, make_threads_executor, threads_executor, time_limited
from yaml2dag.compiler.graph import GraphBuilder, workflow_dir_of
from yaml2dag.format.tags import (
    CONCURRENCY_TAG_PREFIX, META_AUTHOR, META_FILE, META_TAGS, META_VERSION, TAG_CONCURRENCY_KEY, TAG_HASH,
    TAG_VERSION, TAG_WORKFLOW,
)
from yaml2dag.compiler.scope import CompiledWorkflow
from yaml2dag.compiler.sinks import secret_guard_io_manager
from yaml2dag.compiler.failure import failure_hook, needs_failure_handling
from yaml2dag.format.executors import executor_type
from yaml2dag.format.expressions import render_string
from yaml2dag.format.parameters import resolve

#: Highest ``concurrency.limit`` the shipped dagster.yaml has a run-queue rule for.
MAX_CONCURRENCY_LIMIT = 20


def concurrency_tag(workflow: Workflow, key: str | None = None) -> tuple[str, str] | None:
    """The run tag that puts a run in its workflow's concurrency bucket, or None.

    The tag key carries the limit (``yaml2dag/concurrency_<limit>``); the value is
    ``<job id>`` or ``<job id>:<rendered key>``, so Dagster's run queue
    (``tag_concurrency_limits`` with ``applyLimitPerUniqueValue``) limits each bucket.
    """
    if workflow.concurrency is None:
        return None
    value = workflow.id if not key else f"{workflow.id}:{key}"
    return f"{CONCURRENCY_TAG_PREFIX}{workflow.concurrency.limit}", value


def executor_for(workflow: Workflow, limits: list[dict], failure_cw: CompiledWorkflow | None = None
                 ) -> dg.ExecutorDefinition:
    """The job's executor: threads by default, Dagster's in-process/multiprocess, or Celery
    workers (:mod:`.celery`); a file without ``executor.type`` gets the folder-wide default
    (``$YAML2DAG_EXECUTOR``, :func:`yaml2dag.format.executors.executor_type`).

    Each of them enforces the workflow ``timeout`` (:mod:`.executor`) and, when the run is
    stopped by it, runs the failure handling of ``failure_cw`` (the job's compiled workflow).

    Raises:
        yaml2dag.format.executors.ExecutorSettingError: ``$YAML2DAG_EXECUTOR`` has a wrong value.
    """
    kind = executor_type(workflow)
    if kind == "in_process":
        return _base_executor(kind, failure_cw)
    if kind == "multiprocess":
        config: dict = {}
        if workflow.executor.max_parallel:
            config["max_concurrent"] = workflow.executor.max_parallel
        if limits:
            config["tag_concurrency_limits"] = limits
        return _base_executor(kind, failure_cw).configured(config, name="multiprocess")
    config = {"max_parallel": workflow.executor.max_parallel or DEFAULT_MAX_PARALLEL}
    if limits:
        config["tag_concurrency_limits"] = limits
    if kind == "celery":
        return _base_executor(kind, failure_cw).configured(config, name="yaml2dag_celery")
    return _base_executor(kind, failure_cw).configured(config, name="yaml2dag_threads")


#: The executor definitions of jobs without failure handling, shared by all of them: one
#: definition per job would cost every job its own config-schema snapshot when a code location
#: of hundreds of workflows loads (docs/benchmarks.md, "Loading 500 workflows").
_SHARED_EXECUTORS: dict[str, dg.ExecutorDefinition] = {}


def _base_executor(kind: str, failure_cw: CompiledWorkflow | None) -> dg.ExecutorDefinition:
    """The unconfigured executor definition of ``kind`` (threads, in_process, multiprocess, celery)."""
    if failure_cw is None and kind in _SHARED_EXECUTORS:
        return _SHARED_EXECUTORS[kind]
    if kind == "in_process":
        made = time_limited(dg.in_process_executor, failure_cw)
    elif kind == "multiprocess":
        made = time_limited(dg.multiprocess_executor, failure_cw)
    elif kind == "celery":
        # dagster-celery and Celery (about 0.18 s to import) load only for a workflow run on Celery
        from yaml2dag.compiler.celery import make_celery_executor

        made = make_celery_executor(failure_cw)
    else:
        made = threads_executor if failure_cw is None else make_threads_executor(failure_cw)
    if failure_cw is None:
        _SHARED_EXECUTORS[kind] = made
    return made


def job_tags(workflow: Workflow) -> dict[str, str]:
    """Run tags of every run of the workflow (spec §2; issue #2 and #3)."""
    tags = {tag: "" for tag in workflow.tags}
    tags.update(workflow.labels)
    tags[TAG_WORKFLOW] = workflow.name
    tags[TAG_VERSION] = workflow.version
    tags[TAG_HASH] = workflow.source.content_hash
    if workflow.priority is not None:
        tags["dagster/priority"] = str(workflow.priority)
    if workflow.timeout:
        tags["dagster/max_runtime"] = str(int(workflow.timeout) if float(workflow.timeout).is_integer() else workflow.timeout)
    conc = concurrency_tag(workflow, default_concurrency_key(workflow))
    if conc is not None:
        tags[conc[0]] = conc[1]
        if workflow.concurrency.key:
            # for the run coordinator, which re-renders the key with the run's own run config
            defaults = resolve_defaults(workflow)
            tags[TAG_CONCURRENCY_KEY] = json.dumps({"key": workflow.concurrency.key, "defaults": defaults},
                                                   sort_keys=True, default=str)
    return tags


def resolve_defaults(workflow: Workflow) -> dict:
    """The non-secret parameter defaults of ``workflow`` (name -> value)."""
    secret = {p.name for p in workflow.parameters if p.is_secret}
    return {k: v for k, v in resolve(workflow, {}, allow_missing=True).items() if k not in secret}


def rendered_concurrency_tags(tags: dict[str, str], run_config: dict | None) -> dict[str, str]:
    """The concurrency tag of a run, with the key rendered from the run's own run config.

    Runs launched from the Dagster UI or over GraphQL carry the job's tags, whose concurrency key
    was rendered with the parameter defaults; the run coordinator
    (:class:`yaml2dag.runs.run_coordinator.WorkflowRunCoordinator`) calls this to put the run in the
    bucket of the parameters it was really launched with (issue #3, "Locks and run limits").

    Args:
        tags: the run's tags.
        run_config: the run's run config: the workflow's parameters at the top level.

    Returns:
        ``{"yaml2dag/concurrency_<limit>": "<job id>:<key>"}`` to set on the run, or ``{}`` when
        the run has no templated concurrency key or the key cannot be rendered.
    """
    spec = tags.get(TAG_CONCURRENCY_KEY)
    names = [k for k in tags if k.startswith(CONCURRENCY_TAG_PREFIX) and k[len(CONCURRENCY_TAG_PREFIX):].isdigit()]
    if not spec or len(names) != 1:
        return {}
    try:
        data = json.loads(spec)
        params = dict(data.get("defaults") or {})
        params.update({k: v for k, v in (run_config or {}).items() if k not in ("ops", "resources", "execution", "loggers")})
        key = _render_key(str(data["key"]), params)
    except (ValueError, KeyError, TypeError, AttributeError):
        return {}
    if key is None:
        return {}
    job_id = tags[names[0]].split(":", 1)[0]
    return {names[0]: f"{job_id}:{key}" if key else job_id}


def default_concurrency_key(workflow: Workflow) -> str | None:
    """The concurrency key rendered with the parameter defaults (runs launched from the UI)."""
    if workflow.concurrency is None or not workflow.concurrency.key:
        return None

    return render_concurrency_key(workflow, resolve(workflow, {}, allow_missing=True))


def render_concurrency_key(workflow: Workflow, params: dict) -> str | None:
    """The ``concurrency.key`` template rendered with ``params`` (None without a key)."""
    if workflow.concurrency is None or not workflow.concurrency.key:
        return None
    return _render_key(workflow.concurrency.key, params)


def _render_key(template: str, params: dict) -> str | None:
    scope = dict(params)
    scope["params"] = params
    try:
        return str(render_string(template, scope))
    except Exception:  # noqa: BLE001 - a key that cannot render falls back to the workflow bucket
        return None


def compile_workflow(
    validated: ValidatedWorkflow,
    *,
    workflow_dir: str | None = None,
    resolver: Callable[[str], tuple[Workflow, str | None]] | None = None,
    supervised: bool = False,
) -> dg.JobDefinition:
    """Build the Dagster job of a validated workflow.

    Args:
        validated: the :class:`~yaml2dag.format.validated.ValidatedWorkflow` of a file
            (``FileReport.validated()``): its model and the plan validation built.
        workflow_dir: folder of the workflow file (python callables may be imported from it).
            Default: the folder of ``workflow.source.file``.
        resolver: finds the workflows its sub-workflow steps name (``name -> (Workflow,
            folder)``); default: the other workflows of the same folder.
        supervised: the job of a supervised run (``yaml2dag run --mode supervised``): a
            condition op asks before every step (:mod:`.confirm_gate`); same job name.

    Returns:
        The job, named ``workflow.id``.

    Raises:
        TypeError: ``validated`` is not a ``ValidatedWorkflow`` (a bare ``Workflow`` included).
        dagster.DagsterInvalidDefinitionError: Dagster rejected the graph (a bug: please report).
    """
    validated = require_validated(validated, "compile_workflow")
    workflow, plan = validated.workflow, validated.plan
    if workflow_dir is None:
        workflow_dir = workflow_dir_of(workflow)
    if resolver is None:
        resolver = folder_resolver(workflow_dir)
    cw = CompiledWorkflow(workflow, workflow_dir, resolver=resolver, supervised=supervised)
    builder = GraphBuilder(cw, plan)
    graph = builder.build()
    handled = needs_failure_handling(cw)  # the workflow's or a sub-workflow's handlers
    hooks = {failure_hook(cw)} if handled else set()
    return graph.to_job(
        name=workflow.id,
        description=_job_description(workflow),
        # Dagster's pickling IO manager, refusing to store an output that holds a secret
        resource_defs={RESOURCE_KEY: parameters_resource(), "io_manager": secret_guard_io_manager},
        config=config_mapping(workflow),
        tags=job_tags(workflow),
        metadata=_job_metadata(workflow),
        executor_def=executor_for(workflow, builder.limits, cw if handled else None),
        hooks=hooks,
    )


def folder_resolver(folder: str | None, library=None) -> Callable[[str], tuple[Workflow, str | None]]:
    """A resolver that finds sub-workflows among the workflow files of the definitions folder
    that contains ``folder`` (or of ``library``: anything with ``find(name) -> FileReport``, such as
    :class:`~yaml2dag.format.name_index.NameIndex` or :class:`~yaml2dag.format.workflow_folder.WorkflowFolder`)."""
    state: dict = {"library": library}

    def resolve_name(name: str) -> tuple[Workflow, str | None]:
        if state["library"] is None:
            if folder is None:
                raise WorkflowInvalidError(name, [])
            # the name index: only the named workflow (and those it names) is validated
            state["library"] = NameIndex(library_root(folder))
        report = state["library"].find(name)
        if not report.valid or report.workflow is None:
            raise WorkflowInvalidError(report.file, report.errors)
        return report.workflow, workflow_dir_of(report.workflow)

    return resolve_name


def _job_description(workflow: Workflow) -> str:
    lines = [workflow.name]
    if workflow.description:
        lines += ["", workflow.description]
    meta = [f"version {workflow.version}"]
    if workflow.author:
        meta.append(f"by {workflow.author}")
    lines += ["", " · ".join(meta)]
    return "\n".join(lines)


def _job_metadata(workflow: Workflow) -> dict:
    meta = {
        META_FILE: dg.MetadataValue.path(workflow.source.file),
        META_VERSION: dg.MetadataValue.text(workflow.version),
    }
    if workflow.author:
        meta[META_AUTHOR] = dg.MetadataValue.text(workflow.author)
    if workflow.tags:
        meta[META_TAGS] = dg.MetadataValue.text(", ".join(workflow.tags))
    return meta
