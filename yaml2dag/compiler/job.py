"""Workflow → Dagster job: the graph of ops, run config, tags and executor (issue #2, part 3).

Each workflow becomes one :class:`dagster.JobDefinition` built from a
:class:`dagster.GraphDefinition`. Op definitions are named ``<job>__<step>`` (unique in a code
location) while node names stay the step ids, so the UI and step keys show step ids.

Wiring, from the plan (:mod:`yaml2dag.plan`):

* an ordering edge is a ``Nothing`` input fanned in from every "completion" output of the
  nodes waited for: a step's ``result``, its condition op's ``skipped``, a decision's
  ``decision``. Dagster skips a fanned-in input only when all sources are missing, so ordering
  survives a skip (spec §4);
* a data edge (a template reading ``<step>.…``) is a plain input from the step's ``result``: when
  that step was skipped the reader has nothing to read and Dagster skips it too (spec §4);
* condition, decision and outputs ops read steps through fan-ins of ``result`` and ``skipped``,
  so they always run and see a skipped step as ``status: skipped``.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from ..errors import WorkflowInvalidError
from ..model import Workflow
from ..plan import Plan, build_plan
from ..validation import CONDITION_SUFFIX, OUTPUTS_NODE
from .config import RESOURCE_KEY, config_mapping, parameters_resource
from .executor import DEFAULT_MAX_PARALLEL, threads_executor
from .ops import (
    TAG_HASH,
    TAG_PARALLEL_GROUP,
    TAG_VERSION,
    TAG_WORKFLOW,
    CompiledWorkflow,
    condition_op,
    decision_op,
    outputs_op,
    step_op,
)


def completion_handles(plan: Plan, node_id: str) -> list[tuple[str, str]]:
    """(node, output) pairs of which exactly one appears once ``node_id`` has ended."""
    node = plan.nodes[node_id]
    if node.is_decision:
        return [(node_id, "decision")]
    if node.gated:
        return [(node_id, "result"), (node_id + CONDITION_SUFFIX, "skipped")]
    return [(node_id, "result")]


def _fan_in(handles: list[tuple[str, str]]):
    deps = [dg.DependencyDefinition(node, output) for node, output in handles]
    if len(deps) == 1:
        return deps[0]
    return dg.MultiDependencyDefinition(deps)


def _after_handles(plan: Plan, node_ids: list[str]) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    for node_id in node_ids:
        for handle in completion_handles(plan, node_id):
            if handle not in out:
                out.append(handle)
    return out


def executor_for(workflow: Workflow, plan: Plan) -> dg.ExecutorDefinition:
    """The job's executor: threads by default, or Dagster's in-process/multiprocess."""
    kind = workflow.executor.type
    limits = [{"key": TAG_PARALLEL_GROUP, "value": key, "limit": limit}
              for key, limit in plan.parallel_limits.items()]
    if kind == "in_process":
        return dg.in_process_executor
    if kind == "multiprocess":
        config: dict = {}
        if workflow.executor.max_parallel:
            config["max_concurrent"] = workflow.executor.max_parallel
        if limits:
            config["tag_concurrency_limits"] = limits
        return dg.multiprocess_executor.configured(config, name="multiprocess")
    config = {"max_parallel": workflow.executor.max_parallel or DEFAULT_MAX_PARALLEL}
    if limits:
        config["tag_concurrency_limits"] = limits
    return threads_executor.configured(config, name="yaml2dag_threads")


def job_tags(workflow: Workflow) -> dict[str, str]:
    """Run tags of every run of the workflow (spec §2 tags and labels; issue #2)."""
    tags = {tag: "" for tag in workflow.tags}
    tags.update(workflow.labels)
    tags[TAG_WORKFLOW] = workflow.name
    tags[TAG_VERSION] = workflow.version
    tags[TAG_HASH] = workflow.source.content_hash
    if workflow.priority is not None:
        tags["dagster/priority"] = str(workflow.priority)
    return tags


def compile_workflow(workflow: Workflow, *, workflow_dir: str | None = None, plan: Plan | None = None) -> dg.JobDefinition:
    """Build the Dagster job of a validated workflow.

    Args:
        workflow: a workflow that passed validation.
        workflow_dir: folder of the workflow file (python callables may be imported from it).
            Default: the folder of ``workflow.source.file``.
        plan: its plan, if already built.

    Returns:
        The job, named ``workflow.id``.

    Raises:
        WorkflowInvalidError: the plan has problems (the workflow was not validated).
        dagster.DagsterInvalidDefinitionError: Dagster rejected the graph (a bug: please report).
    """
    plan = plan or build_plan(workflow)
    if plan.problems:
        raise WorkflowInvalidError(workflow.source.file, list(plan.problems))
    if workflow_dir is None and workflow.source.file not in ("", "<string>"):
        workflow_dir = str(Path(workflow.source.file).resolve().parent)
    cw = CompiledWorkflow(workflow, workflow_dir)
    node_defs: list[dg.OpDefinition] = []
    deps: dict[dg.NodeInvocation, dict] = {}

    def add(op: dg.OpDefinition, alias: str, dep_map: dict) -> None:
        node_defs.append(op)
        deps[dg.NodeInvocation(op.name, alias=alias)] = dep_map

    for node_id in plan.order:
        node = plan.nodes[node_id]
        after = _after_handles(plan, [a for a in node.after if a not in node.reads])
        gate_ins: dict[str, dg.In] = {}
        gate_deps: dict = {}
        if after:
            gate_ins["after"] = dg.In(dg.Nothing)
            gate_deps["after"] = _fan_in(after)
        for r in node.reads:
            gate_ins[r] = dg.In(description=f"result of step `{r}` (or its skip)")
            gate_deps[r] = dg.MultiDependencyDefinition(
                [dg.DependencyDefinition(n, o) for n, o in completion_handles(plan, r)])
        if node.context is not None:
            gate_ins["decision"] = dg.In(description=f"decision of `{node.context[0]}`")
            gate_deps["decision"] = dg.DependencyDefinition(node.context[0], "decision")

        if node.is_decision:
            add(decision_op(cw, node, gate_ins), node_id, gate_deps)
            continue
        if node.kind != "step":
            raise WorkflowInvalidError(workflow.source.file, [])  # sub-workflows: not supported yet
        step_ins: dict[str, dg.In] = {}
        step_deps: dict = {}
        if node.gated:
            add(condition_op(cw, node, gate_ins), node_id + CONDITION_SUFFIX, gate_deps)
            step_ins["go"] = dg.In(dg.Nothing)
            step_deps["go"] = dg.DependencyDefinition(node_id + CONDITION_SUFFIX, "go")
        elif after:
            step_ins["after"] = dg.In(dg.Nothing)
            step_deps["after"] = gate_deps["after"]
        for r in node.reads:
            step_ins[r] = dg.In(description=f"result of step `{r}`")
            step_deps[r] = dg.DependencyDefinition(r, "result")
        add(step_op(cw, node, step_ins), node_id, step_deps)

    if workflow.outputs:
        reads = _outputs_reads(workflow, plan)
        ins = {"after": dg.In(dg.Nothing)} if plan.sinks else {}
        dep_map: dict = {"after": _fan_in(_after_handles(plan, plan.sinks))} if plan.sinks else {}
        for r in reads:
            ins[r] = dg.In()
            dep_map[r] = dg.MultiDependencyDefinition(
                [dg.DependencyDefinition(n, o) for n, o in completion_handles(plan, r)])
        add(outputs_op(cw, OUTPUTS_NODE, reads, ins), OUTPUTS_NODE, dep_map)

    graph = dg.GraphDefinition(
        name=workflow.id,
        node_defs=node_defs,
        dependencies=deps,
        description=workflow.description or workflow.name,
    )
    return graph.to_job(
        name=workflow.id,
        description=_job_description(workflow),
        resource_defs={RESOURCE_KEY: parameters_resource()},
        config=config_mapping(workflow),
        tags=job_tags(workflow),
        metadata=_job_metadata(workflow),
        executor_def=executor_for(workflow, plan),
    )


def _outputs_reads(workflow: Workflow, plan: Plan) -> list[str]:
    from ..plan import step_references
    from ..templates import analyze, is_template, iter_strings

    reads: list[str] = []
    for value in workflow.outputs.values():
        for _path, text in iter_strings(value):
            if not is_template(text):
                continue
            for step_id in step_references(analyze(text).references, set(plan.nodes)):
                if step_id not in reads and not plan.nodes[step_id].is_decision:
                    reads.append(step_id)
    return reads


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
        "yaml2dag/file": dg.MetadataValue.path(workflow.source.file),
        "yaml2dag/version": dg.MetadataValue.text(workflow.version),
    }
    if workflow.author:
        meta["yaml2dag/author"] = dg.MetadataValue.text(workflow.author)
    if workflow.tags:
        meta["yaml2dag/tags"] = dg.MetadataValue.text(", ".join(workflow.tags))
    return meta
