"""The dependency plan of a workflow: which node waits for which (spec §4 and §5).

The plan is shared by the validator (cycles, "not upstream" references), ``yaml2dag run
--dry-run`` (the printed plan) and the compiler (the Dagster graph). Nodes are steps,
sub-workflow steps and the decision points of branches and switches; parallel groups are not
nodes, only sets of nodes.

Edges come from four places, as the spec says:

* list order: each entry waits for the entry before it, as a whole — except under the
  workflow's ``dag: true`` (:attr:`~yaml2dag.format.model.Workflow.dag`, as in Argo's ``dag``
  template against its ``steps``), where list order makes no edge: an entry waits only for what
  it reads and its ``depends_on`` (and, inside a branch or switch, for its decision);
* ``depends_on`` / ``needs``: replaces the list-order edge;
* ``parallel``: members wait for the entry before the group, not for each other;
* templates: a node that reads ``<step>.…`` waits for that step (a "data" edge). A read that
  would close a cycle is an error instead.

A data edge reads either the step's *result* (``.output``, the tool's fields, or the step as a
whole) or only its *state* (:data:`STATE_FIELDS`: ``.status``, ``.succeeded``, ``.error``,
``.duration``, ``.attempts``). A node whose every reference to a step is a state field is a
"state reader" of it (:attr:`Node.state_reads`): it runs when that step was skipped and sees
``status: "skipped"``; a reader of the result is skipped with it (spec §4).

Steps inside a branch or switch also wait for its decision. A node "may skip" when it has a
condition, sits inside a branch/switch, asks before it runs (``confirm: true``, or every step of
a run in supervised mode: ``build_plan(..., confirm_all=True)``; the answer may be "skip"), or
reads the result of a step that may skip; such steps get a condition op in the Dagster graph
(see :mod:`yaml2dag.compiler.graph`).
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from typing import Any

from yaml2dag.format.errors import Problem, TemplateError
from yaml2dag.format.model import Branch, DocPath, Entry, ParallelGroup, Step, SubWorkflow, Switch, Workflow
from yaml2dag.format.expressions import analyze
from yaml2dag.format.reachability import Reachability
from yaml2dag.format.template_fields import (  # noqa: F401 - re-exported: the plan's public names
    STATE_FIELDS,
    TemplateField,
    step_reference_fields,
    step_references,
    template_fields,
)
from yaml2dag.format.loader import format_path
from yaml2dag.format.schema import did_you_mean


@dataclass
class Node:
    """A node of the plan: a step, a sub-workflow step, or a branch/switch decision.

    Attributes:
        id: the node's name in the Dagster graph (the step, branch or switch id).
        kind: ``step``, ``workflow``, ``branch`` or ``switch``.
        entry: the model entry.
        after: nodes this one waits for because of list order or ``depends_on``.
        reads: steps whose results this node's templates read (data edges).
        state_reads: the steps of ``reads`` of which every reference is a state field
            (:data:`STATE_FIELDS`): the node runs when such a step was skipped.
        context: (decision node, side) of the innermost branch/switch around it, if any.
        may_skip: whether the node can end SKIPPED (see the module docstring).
        group: id of the parallel group it belongs to (for ``max_parallel``), if any.
    """

    id: str
    kind: str
    entry: Entry
    after: list[str] = field(default_factory=list)
    reads: list[str] = field(default_factory=list)
    state_reads: list[str] = field(default_factory=list)
    context: tuple[str, str] | None = None
    may_skip: bool = False
    group: str | None = None
    _explicit: tuple[str, ...] | None = None

    @property
    def is_decision(self) -> bool:
        return self.kind in ("branch", "switch")

    @property
    def gated(self) -> bool:
        """True when the compiler puts a condition op in front of this node."""
        return not self.is_decision and self.may_skip

    def upstream(self) -> list[str]:
        """Every node this one directly waits for (ordering, data and decision)."""
        out = list(self.after)
        out += [r for r in self.reads if r not in out]
        if self.context and self.context[0] not in out:
            out.append(self.context[0])
        return out


@dataclass
class Plan:
    """The plan of one step list (the workflow's ``steps`` or its ``on_failure``).

    Attributes:
        nodes: every node, in file order.
        groups: id of each parallel group, branch and switch → the nodes that complete it.
        sinks: the nodes that complete the whole list (what workflow outputs wait for).
        order: the nodes in a topological order that follows the file where it can.
        problems: unknown ``depends_on`` targets, cycles (each independent one once), reads of
            steps that run later (checked even when the list has a cycle).
        parallel_limits: parallel group key → its ``max_parallel``.
    """

    nodes: dict[str, Node] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    sinks: list[str] = field(default_factory=list)
    order: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    parallel_limits: dict[str, int] = field(default_factory=dict)

    def completion(self, target: str) -> list[str]:
        """Nodes whose end means ``target`` (a node or a group id) has ended."""
        if target in self.groups:
            return self.groups[target]
        return [target]

    def ancestors(self, node_id: str) -> set[str]:
        """Every node ``node_id`` waits for, directly or not."""
        seen: set[str] = set()
        stack = list(self.nodes[node_id].upstream()) if node_id in self.nodes else []
        while stack:
            current = stack.pop()
            if current in seen or current not in self.nodes:
                continue
            seen.add(current)
            stack.extend(self.nodes[current].upstream())
        return seen


class _Builder:
    def __init__(self, workflow: Workflow, doc=None, step_ids: set[str] | None = None,
                 analyses: dict | None = None):
        self.workflow = workflow
        self.analyses = analyses if analyses is not None else {}
        self.doc = doc
        self.plan = Plan()
        self.step_ids = step_ids if step_ids is not None else {s.id for s in workflow.iter_steps()}
        self._group_seq = 0
        self._raw_groups: dict[str, list[str]] = {}
        self._reach: Reachability | None = None  # set by add_reads: the "waits for" order
        self.dag = workflow.dag  # `dag: true`: list order makes no edge

    def problem(self, path: DocPath, message: str, rule: str) -> None:
        if self.doc is not None:
            self.plan.problems.append(self.doc.problem(path, message, rule))
        else:
            self.plan.problems.append(Problem(self.workflow.source.file, 0, 0, format_path(path), message, rule))

    # -- laying out entries
    def lay_list(self, entries: tuple[Entry, ...], prev: list[str], context, group) -> list[str]:
        completion: list[str] = []
        for entry in entries:
            comp = self.lay_entry(entry, prev, context, group, entry.depends_on)
            completion += comp
            if not self.dag:
                prev = comp
        return completion

    def lay_entry(self, entry: Entry, prev: list[str], context, group, explicit) -> list[str]:
        if isinstance(entry, (Step, SubWorkflow)):
            node = Node(entry.id, "step" if isinstance(entry, Step) else "workflow", entry,
                        after=list(prev) if explicit is None else [], context=context, group=group,
                        _explicit=explicit)
            self._add(node)
            return [entry.id]
        if isinstance(entry, ParallelGroup):
            self._group_seq += 1
            key = entry.id or f"parallel_{self._group_seq}"
            if entry.max_parallel:
                self.plan.parallel_limits[key] = entry.max_parallel
            comp: list[str] = []
            for member in entry.entries:
                own = member.depends_on if member.depends_on is not None else explicit
                comp += self.lay_entry(member, prev, context, key, own)
            if entry.id:
                self._raw_groups[entry.id] = comp
            return comp
        if isinstance(entry, (Branch, Switch)):
            node = Node(entry.id, entry.kind, entry, after=list(prev) if explicit is None else [],
                        context=context, group=group, _explicit=explicit)
            self._add(node)
            comp = [entry.id]
            for side_key, side_entries, _path in entry.sides:
                comp += self.lay_list(side_entries, [entry.id], (entry.id, side_key), None)
            self._raw_groups[entry.id] = comp
            return comp
        return []  # pragma: no cover

    def _add(self, node: Node) -> None:
        if node.id and node.id not in self.plan.nodes:
            self.plan.nodes[node.id] = node

    # -- edges
    def resolve_explicit(self) -> None:
        for node in self.plan.nodes.values():
            if node._explicit is None:
                continue
            field_name = node.entry.depends_key
            entry_data_path = node.entry.path
            for i, target in enumerate(node._explicit):
                path = entry_data_path + (field_name, i)
                if target == node.id:
                    self.problem(path, f"`{node.id}` cannot depend on itself", "dependency")
                    continue
                if target in self._raw_groups:
                    members = self._raw_groups[target]
                    if node.id in members:
                        self.problem(path, f"`{node.id}` cannot depend on `{target}`, which contains it", "cycle")
                        continue
                    for member in members:
                        if member not in node.after:
                            node.after.append(member)
                elif target in self.plan.nodes:
                    if target not in node.after:
                        node.after.append(target)
                else:
                    known = list(self.plan.nodes) + list(self._raw_groups)
                    self.problem(path, f"`{target}` is not a step or group of this workflow"
                                 + did_you_mean(target, known), "dependency")

    def add_reads(self) -> None:
        """Add data edges in file order; a read that would close a cycle is an error.

        Ordering cycles are reported first (:meth:`find_cycles`); the reads of every other
        step are still checked, so a file with a cycle gets all its other problems too. A read
        between two steps of one ordering cycle is not reported again. Whether a read closes a
        cycle is answered by a :class:`~yaml2dag.format.reachability.Reachability` kept up to
        date as reads are added (near-linear in steps and reads, issue 13), not by a walk over
        the plan per read.
        """
        cycle_of: dict[str, int] = {}
        components = self.find_cycles()
        for i, component in enumerate(components):
            for member in component:
                cycle_of[member] = i
        reach = self._reach = Reachability({n: node.upstream() for n, node in self.plan.nodes.items()}, components)
        analyzed = self.analyses  # (text, bare) -> Analysis or TemplateError: one parse per template
        for node in self.plan.nodes.values():
            result_reads: set[str] = set()
            for tf in template_fields(node.entry):
                if tf.scope == "compensate":
                    continue
                key = (tf.value, tf.bare)
                found = analyzed.get(key)
                if found is None:
                    try:
                        found = analyze(tf.value, tf.bare)
                    except TemplateError as exc:
                        found = exc
                    analyzed[key] = found
                refs = () if isinstance(found, TemplateError) else found.references
                for step_id, attr in step_reference_fields(refs, self.step_ids):
                    if attr not in STATE_FIELDS:
                        result_reads.add(step_id)
                    if step_id == node.id:
                        self.problem(tf.path, f"`{node.id}` cannot read its own result", "reference")
                        continue
                    if step_id not in self.plan.nodes:
                        continue  # a step of another list (on_failure): checked by the validator
                    if node.id in cycle_of and cycle_of.get(step_id) == cycle_of[node.id]:
                        continue  # both on one ordering cycle, already reported
                    if reach.waits_for(step_id, node.id) or node.id in self._raw_groups.get(step_id, ()):
                        fix = "drop the reference or the depends_on that closes the cycle" if self.dag \
                            else f"move `{step_id}` earlier or drop the reference"
                        self.problem(tf.path, f"`{node.id}` reads step `{step_id}`, which runs after it "
                                     f"(a dependency cycle); {fix}", "reference")
                        continue
                    other = self._other_side(node, self.plan.nodes[step_id])
                    if other is not None:
                        decision, side = other
                        self.problem(tf.path, f"`{node.id}` reads step `{step_id}`, which only runs on the "
                                     f"`{side}` side of `{decision}`, never together with `{node.id}`; "
                                     f"move `{step_id}` before `{decision}` or read it after", "reference")
                        continue
                    if step_id not in node.reads:
                        node.reads.append(step_id)
                        reach.add(node.id, step_id)
            node.state_reads = [r for r in node.reads if r not in result_reads]

    def _sides(self, node: Node) -> dict[str, str]:
        """Every branch/switch around ``node``: decision id -> the side it is on."""
        out: dict[str, str] = {}
        context = node.context
        while context is not None and context[0] not in out:
            out[context[0]] = context[1]
            parent = self.plan.nodes.get(context[0])
            context = parent.context if parent is not None else None
        return out

    def _other_side(self, reader: Node, target: Node) -> tuple[str, str] | None:
        """(decision, side of ``target``) when the two are on different sides of one decision."""
        mine = self._sides(reader)
        for decision, side in self._sides(target).items():
            if decision in mine and mine[decision] != side:
                return decision, side
        return None

    def find_cycles(self) -> list[list[str]]:
        """Report every ordering cycle, one problem per independent cycle; return the cycles'
        node sets.

        "Independent" cycles are the strongly connected components of the "waits for" graph
        (Tarjan's algorithm) that hold more than one node; each is reported once, at its first
        node in file order, with one closed path through it (``dependency cycle: a → b → a``,
        in run order).
        """
        nodes = self.plan.nodes
        index: dict[str, int] = {}
        low: dict[str, int] = {}
        on_stack: set[str] = set()
        stack: list[str] = []
        components: list[list[str]] = []

        def ups(n: str) -> list[str]:
            return [u for u in nodes[n].upstream() if u in nodes]

        def strongconnect(start: str) -> None:  # iterative, so long step lists cannot hit the recursion limit
            work = [(start, iter(ups(start)))]
            index[start] = low[start] = len(index)
            stack.append(start)
            on_stack.add(start)
            while work:
                n, it = work[-1]
                advanced = False
                for u in it:
                    if u not in index:
                        index[u] = low[u] = len(index)
                        stack.append(u)
                        on_stack.add(u)
                        work.append((u, iter(ups(u))))
                        advanced = True
                        break
                    if u in on_stack:
                        low[n] = min(low[n], index[u])
                if advanced:
                    continue
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[n])
                if low[n] == index[n]:
                    component = []
                    while True:
                        m = stack.pop()
                        on_stack.discard(m)
                        component.append(m)
                        if m == n:
                            break
                    if len(component) > 1:
                        components.append(component)

        for n in nodes:
            if n not in index:
                strongconnect(n)
        position = {n: i for i, n in enumerate(nodes)}
        out: list[list[str]] = []
        for component in sorted(components, key=lambda c: min(position[m] for m in c)):
            members = set(component)
            first_id = min(component, key=position.get)
            cycle = self._path_back(first_id, members)
            chain = " → ".join(reversed(cycle))
            first = nodes[cycle[0]]
            self.problem(first.entry.path + (first.entry.depends_key,) if first._explicit is not None else first.entry.path,
                         f"dependency cycle: {chain}", "cycle")
            out.append(sorted(component, key=position.get))
        return out

    def _path_back(self, start: str, members: set[str]) -> list[str]:
        """A closed path ``[start, ..., start]`` along "waits for" edges inside ``members``
        (a strongly connected component, so one exists); depth-first in upstream order."""
        nodes = self.plan.nodes
        path = [start]
        seen = {start}
        iters = [iter(nodes[start].upstream())]
        while iters:
            for u in iters[-1]:
                if u == start:
                    return path + [start]
                if u in members and u not in seen:
                    seen.add(u)
                    path.append(u)
                    iters.append(iter(nodes[u].upstream()))
                    break
            else:
                iters.pop()
                path.pop()
        return [start, start]  # pragma: no cover - members is strongly connected

    def finish(self, outputs: Any = None, confirm_all: bool = False) -> Plan:
        plan = self.plan
        # topological order, preferring file order (the ready node first in the file next)
        upstream = self._upstream = {n: node.upstream() for n, node in plan.nodes.items()}
        indeg = {n: 0 for n in plan.nodes}
        down: dict[str, list[str]] = {n: [] for n in plan.nodes}
        for n, ups in upstream.items():
            for up in ups:
                if up in plan.nodes:
                    indeg[n] += 1
                    down[up].append(n)
        position = {n: i for i, n in enumerate(plan.nodes)}
        ready = [(position[n], n) for n, d in indeg.items() if d == 0]
        heapq.heapify(ready)
        order: list[str] = []
        while ready:
            _, n = heapq.heappop(ready)
            order.append(n)
            for d in down[n]:
                indeg[d] -= 1
                if indeg[d] == 0:
                    heapq.heappush(ready, (position[d], d))
        plan.order = order if len(order) == len(plan.nodes) else list(plan.nodes)
        # may_skip, in topological order
        for n in plan.order:
            node = plan.nodes[n]
            cond = getattr(node.entry, "when", None) if not node.is_decision else None
            node.may_skip = (
                (not node.is_decision and cond is not None and cond is not True)
                or confirm_all or getattr(node.entry, "confirm", False) is True
                or node.context is not None
                or any(plan.nodes[r].may_skip for r in node.reads
                       if r in plan.nodes and r not in node.state_reads)
            )
            if node.is_decision:
                node.may_skip = False  # a decision always ends; its decision may be "no side"
        # groups and sinks, pruned to the nodes not waited for by another member
        for gid, members in self._raw_groups.items():
            plan.groups[gid] = self.prune(members)
        plan.sinks = self.prune(list(plan.nodes))
        return plan

    def prune(self, members: list[str]) -> list[str]:
        """``members`` without those another member waits for, directly or not.

        One walk from all members at once (the union of their ancestors), and only over nodes
        placed at or after the earliest member in the topological order: a group costs the
        span of the plan it covers, not the whole plan (issue 13).
        """
        members = [m for m in dict.fromkeys(members) if m in self.plan.nodes]
        upstream = getattr(self, "_upstream", None) or {n: node.upstream() for n, node in self.plan.nodes.items()}
        if self._reach is not None:
            covered = self._reach.ancestors_among(members, upstream)
        else:  # pragma: no cover - build_plan always adds reads first
            covered = set()
            stack = [up for m in members for up in upstream[m]]
            while stack:
                current = stack.pop()
                if current in covered or current not in upstream:
                    continue
                covered.add(current)
                stack.extend(upstream[current])
        return [m for m in members if m not in covered]


def build_plan(workflow: Workflow, doc=None, entries: tuple[Entry, ...] | None = None,
               step_ids: set[str] | None = None, analyses: dict | None = None, *,
               confirm_all: bool = False) -> Plan:
    """Lay out the dependency plan of ``workflow.steps`` (or of ``entries``).

    Args:
        workflow: the workflow.
        doc: its :class:`~yaml2dag.format.loader.Document`, for problem positions (optional).
        entries: another step list of the workflow (``on_failure``) to plan instead.
        step_ids: ids that count as steps in templates (default: every step of the workflow).
        analyses: ``(template text, bare)`` → its :class:`~yaml2dag.format.expressions.Analysis`
            or the ``TemplateError`` it raised, shared with the validator so each template of a
            file is parsed once (filled in as templates are analyzed).
        confirm_all: every step asks before it runs (the job of a supervised run): every node
            but the decisions may skip.

    Returns:
        The :class:`Plan`; its ``problems`` list unknown ``depends_on`` targets, cycles and
        reads of steps that run later.
    """
    builder = _Builder(workflow, doc, step_ids, analyses)
    builder.lay_list(workflow.steps if entries is None else entries, [], None, None)
    builder.resolve_explicit()
    builder.add_reads()
    return builder.finish(confirm_all=confirm_all)
