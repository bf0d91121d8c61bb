"""A workflow's plan → a :class:`dagster.GraphDefinition` of ops (and nested graphs).

Op definitions are named ``<prefix>__<step>`` (unique in a code location) while node names stay
the step ids, so the UI and step keys show step ids. Wiring, from the plan
(:mod:`yaml2dag.format.plan`):

* an ordering edge is a ``Nothing`` input fanned in from every "completion" output of the nodes
  waited for: a step's ``result``, its condition op's ``skipped``, a decision's ``decision``.
  Dagster skips a fanned-in input only when all sources are missing, so ordering survives a
  skip (spec §4);
* a data edge (a template reading ``<step>.…``) is a plain input from the step's ``result``:
  when that step was skipped the reader has nothing to read and Dagster skips it too (spec §4);
* a *state* read (every reference to the step is ``.status``, ``.succeeded``, ``.error``,
  ``.duration`` or ``.attempts``, :data:`yaml2dag.format.plan.STATE_FIELDS`) is a fan-in of the step's
  completion outputs instead, like an ordering edge: the reader runs after a skip and reads the
  skipped-result (``status: skipped``). A step that failed (``on_error: abort``) emits neither,
  so its state readers do not run either (the run fails anyway);
* condition, decision and outputs ops read steps through fan-ins of ``result`` and ``skipped``,
  so they always run and see a skipped step as ``status: skipped``; the condition op skips its
  step when a step it reads the result of was skipped, never for a state read;
* a ``for_each`` step is ``<step>__items`` (dynamic outputs) → ``<step>`` mapped per element →
  ``<step>__results`` (collect, in element order);
* a sub-workflow step is ``<step>__parameters`` → a nested graph named after the step, whose
  ops receive the parameters through the graph input ``workflow_parameters`` and whose output
  ``result`` is the step's result.
"""

from __future__ import annotations

from pathlib import Path

import dagster as dg

from yaml2dag.dagster_internals import DynamicCollectDependencyDefinition
from yaml2dag.format.errors import WorkflowInvalidError
from yaml2dag.format.model import Step, SubWorkflow
from yaml2dag.format.plan import Plan, build_plan, step_references
from yaml2dag.format.expressions import analyze, is_template, iter_strings
from yaml2dag.format.naming import (
    CONDITION_SUFFIX, ITEMS_SUFFIX, OUTPUTS_NODE, PARAMETERS_SUFFIX, RESULTS_SUFFIX, subworkflow_prefix,
)
from yaml2dag.format.tags import TAG_FOR_EACH, TAG_PARALLEL_GROUP
from yaml2dag.compiler.for_each_ops import items_op, results_op
from yaml2dag.compiler.gate_ops import condition_op, decision_op
from yaml2dag.compiler.ops import step_op
from yaml2dag.compiler.scope import PARAMS_INPUT, CompiledWorkflow
from yaml2dag.compiler.workflow_ops import outputs_op, subworkflow_parameters_op

#: Deepest nesting of sub-workflows (the validator rejects recursion before this matters).
MAX_DEPTH = 16


class GraphBuilder:
    """Builds the graph of one :class:`CompiledWorkflow`.

    Attributes:
        limits: tag concurrency limits the job's executor must apply (parallel groups'
            and for_each steps' ``max_parallel``), collected from nested graphs too.
    """

    def __init__(self, cw: CompiledWorkflow, plan: Plan | None = None):
        self.cw = cw
        # a supervised run asks before every step: each gets a condition op (format.run_modes)
        self.plan = build_plan(cw.workflow, confirm_all=True) if cw.supervised else plan or build_plan(cw.workflow)
        if self.plan.problems:
            raise WorkflowInvalidError(cw.workflow.source.file, list(self.plan.problems))
        self.node_defs: list = []
        self.deps: dict = {}
        self.param_targets: list[str] = []
        self.limits: list[dict] = []

    # -- handles
    def result_handle(self, node_id: str) -> tuple[str, str]:
        node = self.plan.nodes[node_id]
        if isinstance(node.entry, Step) and node.entry.for_each is not None:
            return (node_id + RESULTS_SUFFIX, "result")
        return (node_id, "result")

    def completion_handles(self, node_id: str) -> list[tuple[str, str]]:
        """(node, output) pairs of which exactly one appears once ``node_id`` has ended."""
        node = self.plan.nodes[node_id]
        if node.is_decision:
            return [(node_id, "decision")]
        handles = [self.result_handle(node_id)]
        if node.gated:
            handles.append((node_id + CONDITION_SUFFIX, "skipped"))
        return handles

    def after_handles(self, node_ids: list[str]) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        for node_id in node_ids:
            for handle in self.completion_handles(node_id):
                if handle not in out:
                    out.append(handle)
        return out

    @staticmethod
    def fan_in(handles: list[tuple[str, str]]):
        deps = [dg.DependencyDefinition(node, output) for node, output in handles]
        return deps[0] if len(deps) == 1 else dg.MultiDependencyDefinition(deps)

    # -- assembly
    def add(self, definition, alias: str, dep_map: dict) -> None:
        self.node_defs.append(definition)
        self.deps[dg.NodeInvocation(definition.name, alias=alias)] = dep_map
        if self.cw.params_input and isinstance(definition, dg.OpDefinition) and PARAMS_INPUT in definition.ins:
            self.param_targets.append(alias)

    def with_params(self, ins: dict) -> dict:
        if self.cw.params_input:
            ins[PARAMS_INPUT] = dg.In(description="Parameter values of this sub-workflow.")
        return ins

    def gate_inputs(self, node) -> tuple[dict, dict]:
        """Inputs of an op that decides (condition, decision): ordering, fan-in reads, decision."""
        ins: dict = {}
        deps: dict = {}
        after = self.after_handles([a for a in node.after if a not in node.reads])
        if after:
            ins["after"] = dg.In(dg.Nothing)
            deps["after"] = self.fan_in(after)
        for r in node.reads:
            ins[r] = dg.In(description=f"result of step `{r}` (or its skip)")
            deps[r] = self.state_read(r)
        if node.context is not None:
            ins["decision"] = dg.In(description=f"decision of `{node.context[0]}`")
            deps["decision"] = dg.DependencyDefinition(node.context[0], "decision")
        return self.with_params(ins), deps

    def state_read(self, node_id: str) -> dg.MultiDependencyDefinition:
        """A fan-in of ``node_id``'s completion outputs: its result or its skipped-result (a
        list of one element at run time, see ``op_io.read_inputs``)."""
        return dg.MultiDependencyDefinition(
            [dg.DependencyDefinition(n, o) for n, o in self.completion_handles(node_id)])

    def read_inputs(self, node) -> tuple[dict, dict]:
        """The data inputs of an op that does the work: a plain input from the ``result`` of
        each step whose result it reads (so Dagster skips it when that step was skipped), a
        fan-in (:meth:`state_read`) for each step it only reads the state of."""
        ins: dict = {}
        deps: dict = {}
        for r in node.reads:
            if r in node.state_reads:
                ins[r] = dg.In(description=f"state of step `{r}` (its result or its skip)")
                deps[r] = self.state_read(r)
            else:
                ins[r] = dg.In(description=f"result of step `{r}`")
                deps[r] = dg.DependencyDefinition(*self.result_handle(r))
        return ins, deps

    def runner_inputs(self, node, gate_deps: dict) -> tuple[dict, dict]:
        """Inputs of an op that does the work: go/after, data reads (:meth:`read_inputs`)."""
        ins: dict = {}
        deps: dict = {}
        if node.gated:
            ins["go"] = dg.In(dg.Nothing)
            deps["go"] = dg.DependencyDefinition(node.id + CONDITION_SUFFIX, "go")
        elif "after" in gate_deps:
            ins["after"] = dg.In(dg.Nothing)
            deps["after"] = gate_deps["after"]
        read_ins, read_deps = self.read_inputs(node)
        ins.update(read_ins)
        deps.update(read_deps)
        return self.with_params(ins), deps

    def build(self) -> dg.GraphDefinition:
        cw = self.cw
        if len(cw.node_path) > MAX_DEPTH:
            raise WorkflowInvalidError(cw.workflow.source.file, [])
        for group, limit in self.plan.parallel_limits.items():
            self.limits.append({"key": TAG_PARALLEL_GROUP, "value": cw.step_key(group), "limit": limit})
        for node_id in self.plan.order:
            node = self.plan.nodes[node_id]
            gate_ins, gate_deps = self.gate_inputs(node)
            if node.is_decision:
                self.add(decision_op(cw, node, gate_ins), node_id, gate_deps)
                continue
            if node.gated:
                self.add(condition_op(cw, node, gate_ins), node_id + CONDITION_SUFFIX, gate_deps)
            run_ins, run_deps = self.runner_inputs(node, gate_deps)
            entry = node.entry
            if isinstance(entry, SubWorkflow):
                self.add_subworkflow(node, run_ins, run_deps)
            elif entry.for_each is not None:
                self.add_for_each(node, run_ins, run_deps)
            else:
                self.add(step_op(cw, node, run_ins), node_id, run_deps)
        if cw.workflow.outputs or cw.params_input:
            self.add_outputs()
        input_mappings = [
            dg.InputMapping(graph_input_name=PARAMS_INPUT, mapped_node_name=alias, mapped_node_input_name=PARAMS_INPUT)
            for alias in self.param_targets
        ]
        output_mappings = []
        if cw.params_input:
            output_mappings.append(dg.OutputMapping(graph_output_name="result", mapped_node_name=OUTPUTS_NODE,
                                                    mapped_node_output_name="result"))
        return dg.GraphDefinition(
            name=cw.prefix,
            node_defs=self.node_defs,
            dependencies=self.deps,
            description=cw.workflow.description or cw.workflow.name,
            input_mappings=input_mappings or None,
            output_mappings=output_mappings or None,
        )

    def add_for_each(self, node, run_ins: dict, run_deps: dict) -> None:
        cw = self.cw
        step: Step = node.entry  # type: ignore[assignment]
        self.add(items_op(cw, node, run_ins), node.id + ITEMS_SUFFIX, run_deps)
        ins = {"element": dg.In(description="One element: {index, item}.")}
        deps: dict = {"element": dg.DependencyDefinition(node.id + ITEMS_SUFFIX, "items")}
        read_ins, read_deps = self.read_inputs(node)
        ins.update(read_ins)
        deps.update(read_deps)
        self.add(step_op(cw, node, self.with_params(ins), element=True), node.id, deps)
        self.add(results_op(cw, node), node.id + RESULTS_SUFFIX,
                 {"results": DynamicCollectDependencyDefinition(node.id, "result")})
        if step.max_parallel:
            self.limits.append({"key": TAG_FOR_EACH, "value": cw.step_key(step.id), "limit": step.max_parallel})

    def add_subworkflow(self, node, run_ins: dict, run_deps: dict) -> None:
        cw = self.cw
        entry: SubWorkflow = node.entry  # type: ignore[assignment]
        if cw.resolver is None:
            raise WorkflowInvalidError(cw.workflow.source.file, [])
        child, child_dir = cw.resolver(entry.workflow)
        self.add(subworkflow_parameters_op(cw, node, run_ins, child), node.id + PARAMETERS_SUFFIX, run_deps)
        child_cw = CompiledWorkflow(child, child_dir, prefix=subworkflow_prefix(cw.prefix, node.id), params_input=True,
                                    resolver=cw.resolver, parent=cw, node_path=cw.node_path + (node.id,))
        cw.children[node.id] = child_cw
        builder = GraphBuilder(child_cw)
        graph = builder.build()
        self.limits += builder.limits
        self.add(graph, node.id, {PARAMS_INPUT: dg.DependencyDefinition(node.id + PARAMETERS_SUFFIX, "parameters")})

    def add_outputs(self) -> None:
        plan = self.plan
        reads = outputs_reads(self.cw.workflow, plan)
        ins: dict = {"after": dg.In(dg.Nothing)} if plan.sinks else {}
        deps: dict = {"after": self.fan_in(self.after_handles(plan.sinks))} if plan.sinks else {}
        for r in reads:
            ins[r] = dg.In()
            deps[r] = self.state_read(r)
        self.add(outputs_op(self.cw, OUTPUTS_NODE, reads, self.with_params(ins)), OUTPUTS_NODE, deps)


def outputs_reads(workflow, plan: Plan) -> list[str]:
    """Steps the workflow outputs read, in first-use order."""
    reads: list[str] = []
    for value in workflow.outputs.values():
        for _path, text in iter_strings(value):
            if not is_template(text):
                continue
            for step_id in step_references(analyze(text).references, set(plan.nodes)):
                if step_id not in reads and not plan.nodes[step_id].is_decision:
                    reads.append(step_id)
    return reads


def workflow_dir_of(workflow) -> str | None:
    if workflow.source.file in ("", "<string>"):
        return None
    return str(Path(workflow.source.file).resolve().parent)
