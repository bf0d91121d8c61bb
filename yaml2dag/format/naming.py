"""Names of the Dagster definitions a workflow compiles to (issue #2: "op definition names must be
unique per code location").

Dagster keeps every op and graph definition of a code location in one namespace
(``RepositoryData._check_node_defs``: "Conflicting definitions found in repository with name
...", which fails the whole load). A workflow's job contributes:

* its root graph, named after the job id;
* one op per node of its plan, named ``<prefix>__<node>`` (:func:`op_name`), where the nodes
  are the steps, branch/switch decisions, ``<step>__when`` condition ops, ``<step>__items`` /
  ``<step>__results`` around a ``for_each`` step, ``<step>__parameters`` in front of a
  sub-workflow step and ``workflow_outputs``;
* for a sub-workflow step, a nested graph named ``<prefix>__<step>`` whose ops use that name
  as their prefix, recursively.

The compiler (:mod:`yaml2dag.compiler.graph`, :mod:`yaml2dag.compiler.scope`) builds names with
these functions, and the validator lists them with :func:`definition_names` without importing
Dagster, so the two cannot drift (a test compares them with the compiled jobs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Iterator

from yaml2dag.format.model import DocPath, Step, SubWorkflow, Workflow

#: Separator between a prefix and a node in op definition names.
SEPARATOR = "__"
#: Suffix of the condition op in front of a step that may be skipped.
CONDITION_SUFFIX = "__when"
#: Suffixes of the ops around a ``for_each`` step and in front of a sub-workflow step.
ITEMS_SUFFIX = "__items"
RESULTS_SUFFIX = "__results"
PARAMETERS_SUFFIX = "__parameters"
#: Nodes yaml2dag generates next to a step: suffix → what it is.
GENERATED_SUFFIXES = {CONDITION_SUFFIX: "condition", ITEMS_SUFFIX: "for_each elements",
                      RESULTS_SUFFIX: "for_each results", PARAMETERS_SUFFIX: "sub-workflow parameters"}
#: Every suffix of a node yaml2dag generates next to a step; a failure in one of them is a failure
#: of the step (:func:`step_of_node`).
HELPER_SUFFIXES = (CONDITION_SUFFIX, ITEMS_SUFFIX, RESULTS_SUFFIX, PARAMETERS_SUFFIX)
#: Name of the node that renders the workflow outputs.
OUTPUTS_NODE = "workflow_outputs"
#: Suffix of the name of a job's failure hook (``<job id>__failure_handling``).
FAILURE_HOOK_SUFFIX = "__failure_handling"
#: Name of the only node of the stand-in job of an invalid file (:func:`yaml2dag.location.broken_job`).
INVALID_NODE = "invalid_workflow"


def op_name(prefix: str, node: str) -> str:
    """The op definition name of ``node`` in the graph whose prefix is ``prefix``: ``build__test``."""
    return f"{prefix}{SEPARATOR}{node}"


def step_of_node(node: str) -> str:
    """The step a graph node (or a step key's last part) belongs to: ``deploy__when`` →
    ``deploy``, ``each[2]`` → ``each``, ``each__results`` → ``each``; other nodes unchanged."""
    node = node.split("[")[0]
    for suffix in HELPER_SUFFIXES:
        if node.endswith(suffix) and len(node) > len(suffix):
            return node[: -len(suffix)]
    return node


def subworkflow_prefix(prefix: str, step_id: str) -> str:
    """The prefix (and nested graph name) of the sub-workflow included by step ``step_id``."""
    return op_name(prefix, step_id)


@dataclass(frozen=True)
class DefinitionName:
    """One Dagster definition name a workflow produces.

    Attributes:
        name: the op or graph definition name.
        kind: ``job`` (the root graph), ``graph`` (a sub-workflow) or ``op``.
        path: where it comes from in the workflow's own file (the step, or ``id``/``name``).
        what: a short description for messages (``op of step `b```).
    """

    name: str
    kind: str
    path: DocPath
    what: str


#: ``resolve(name) -> (workflow, plan) | None``: a sub-workflow by the name a step uses.
Resolver = Callable[[str], "tuple[Workflow, object] | None"]


def definition_names(workflow: Workflow, plan, resolve: Resolver | None = None,
                     root_path: DocPath = ("id",)) -> list[DefinitionName]:
    """Every op and graph definition name the job of ``workflow`` will have, in build order.

    Args:
        workflow: a workflow whose plan has no problems.
        plan: its :class:`yaml2dag.format.plan.Plan`.
        resolve: finds the workflow and plan of a sub-workflow step's ``workflow`` (None, or
            returning None: that sub-workflow's own names are left out).
        root_path: where the job id comes from in the file (``("id",)`` or ``("name",)``).

    Returns:
        The names; the root graph comes first. Recursion through sub-workflows stops at a
        depth of 16 (the compiler's limit).
    """
    out = [DefinitionName(workflow.id, "job", root_path, f"job of workflow {workflow.name!r}")]
    out += _graph_names(workflow, plan, workflow.id, resolve, None, 0)
    return out


def _graph_names(workflow: Workflow, plan, prefix: str, resolve: Resolver | None,
                 via: tuple[DocPath, str] | None, depth: int) -> Iterator[DefinitionName]:
    # via: (path of the including step in the top-level file, "step `s`") inside a sub-workflow
    def named(node: str, path: DocPath, what: str, kind: str = "op", name: str | None = None) -> DefinitionName:
        full = name or op_name(prefix, node)
        if via is not None:  # inside a sub-workflow: point at the including step
            return DefinitionName(full, kind, via[0], f"{what} of sub-workflow {workflow.name!r} (included by {via[1]})")
        return DefinitionName(full, kind, path, what)

    for node_id in plan.order:
        node = plan.nodes[node_id]
        entry = node.entry
        path = tuple(entry.path) + ("id",)
        if node.is_decision:
            yield named(node_id, path, f"op of {node.kind} `{node_id}`")
            continue
        if node.gated:
            yield named(node_id + CONDITION_SUFFIX, path, f"condition op of step `{node_id}`")
        if isinstance(entry, SubWorkflow):
            yield named(node_id + PARAMETERS_SUFFIX, path, f"parameters op of step `{node_id}`")
            child_prefix = subworkflow_prefix(prefix, node_id)
            yield named(node_id, path, f"graph of sub-workflow step `{node_id}`", kind="graph", name=child_prefix)
            found = resolve(entry.workflow) if resolve is not None and entry.workflow and depth < 16 else None
            if found is not None:
                child, child_plan = found
                inner = (path, f"step `{node_id}`") if via is None else (via[0], f"{via[1]} → step `{node_id}`")
                yield from _graph_names(child, child_plan, child_prefix, resolve, inner, depth + 1)
        elif isinstance(entry, Step) and entry.for_each is not None:
            yield named(node_id + ITEMS_SUFFIX, path, f"for_each elements op of step `{node_id}`")
            yield named(node_id, path, f"op of step `{node_id}`")
            yield named(node_id + RESULTS_SUFFIX, path, f"for_each results op of step `{node_id}`")
        else:
            yield named(node_id, path, f"op of step `{node_id}`")
    if workflow.outputs or via is not None:
        yield named(OUTPUTS_NODE, ("outputs",), "outputs op")


__all__ = [
    "CONDITION_SUFFIX", "DefinitionName", "FAILURE_HOOK_SUFFIX", "GENERATED_SUFFIXES", "HELPER_SUFFIXES",
    "INVALID_NODE", "ITEMS_SUFFIX", "OUTPUTS_NODE", "PARAMETERS_SUFFIX", "RESULTS_SUFFIX", "SEPARATOR",
    "definition_names", "op_name", "step_of_node", "subworkflow_prefix",
]
