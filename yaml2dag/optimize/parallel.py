"""``parallel`` advice: steps that run one after another only because of list order.

Two steps are independent when neither reads the other (a template that references the other
step's result or state) nor depends on it (``depends_on``/``needs``), directly or through
other steps: that is, when neither waits for the other in the workflow's plan built as under
``dag: true`` (:mod:`yaml2dag.format.plan`, where list order makes no edge). Consecutive
entries of one step list that are plain steps without ``depends_on``, pairwise independent,
and chained in the actual plan form one candidate ``parallel`` group (the longest run of such
entries, from the first). Grouping them keeps every other order: the group waits for the entry
before it, and the entry after it waits for the whole group.

The saving is the critical-path difference: the longest path through the plan, each step
weighted by its median duration in the analysed runs, before and after the group is made (the
changed text is validated and planned again). Advice is given when the saving is at least
:data:`MIN_SAVING_S` and the runs show the steps one after another.

What the plan cannot see (a file one step writes and another reads) is the user's to check
before applying; the guide says so.

Nothing here imports Dagster.
"""

from __future__ import annotations

from dataclasses import replace

from yaml2dag.format.model import Branch, Entry, Step, SubWorkflow, Switch, Workflow
from yaml2dag.format.plan import Plan, build_plan
from yaml2dag.format.validation import validate_text
from yaml2dag.library.roundtrip import RoundTripDocument
from yaml2dag.optimize.advice import Advice, rounded
from yaml2dag.optimize.edits import Change, ChangeError, apply_changes
from yaml2dag.optimize.observations import Observations

#: Fewest seconds a group must save per run (by the critical path) to be advised.
MIN_SAVING_S = 1.0


def critical_path(plan: Plan, weights: dict[str, float]) -> float:
    """Seconds of the longest path through ``plan``, each node weighing ``weights`` (0 when absent)."""
    finish: dict[str, float] = {}
    for node_id in plan.order:
        node = plan.nodes[node_id]
        start = max((finish.get(u, 0.0) for u in node.upstream() if u in plan.nodes), default=0.0)
        finish[node_id] = start + weights.get(node_id, 0.0)
    return max(finish.values(), default=0.0)


def _step_lists(entries: tuple[Entry, ...]) -> list[tuple[Entry, ...]]:
    """``entries`` and every branch side and switch case inside it (parallel groups are parallel already)."""
    out = [entries]
    for entry in entries:
        if isinstance(entry, (Branch, Switch)):
            for _key, side, _path in entry.sides:
                out += _step_lists(side)
    return out


def _candidates(workflow: Workflow, plan: Plan, free: Plan) -> list[tuple[str, ...]]:
    """Runs of consecutive, pairwise independent, chained plain steps (see the module docstring)."""
    ancestors = {n: free.ancestors(n) for n in free.nodes}
    chained = {n: plan.ancestors(n) for n in plan.nodes}

    def independent(a: str, b: str) -> bool:
        return a not in ancestors.get(b, ()) and b not in ancestors.get(a, ())

    out = []
    for entries in _step_lists(workflow.steps):
        run: list[str] = []
        for entry in list(entries) + [None]:
            fits = (isinstance(entry, (Step, SubWorkflow)) and entry.depends_on is None and bool(run)
                    and all(independent(entry.id, other) for other in run) and run[-1] in chained.get(entry.id, ()))
            if fits:
                run.append(entry.id)
                continue
            if len(run) > 1:
                out.append(tuple(run))
            eligible = isinstance(entry, (Step, SubWorkflow)) and entry.depends_on is None
            run = [entry.id] if eligible else []
    return out


def _planned(text: str, json_format: bool, change: Change) -> Plan | None:
    """The plan of ``text`` with ``change`` applied (None when it does not apply or validate)."""
    doc = RoundTripDocument(text, json_format)
    try:
        apply_changes(doc, [change])
    except ChangeError:
        return None
    report = validate_text(doc.dump(), "optimized.json" if json_format else "optimized.yaml")
    return report.plan if report.valid and report.plan is not None else None


def parallel_advice(workflow: Workflow, obs: Observations, text: str, json_format: bool = False) -> list[Advice]:
    """``parallel`` advice for ``workflow`` (whose file text is ``text``).

    Returns:
        One :class:`Advice` per candidate group that saves at least :data:`MIN_SAVING_S`
        seconds on the critical path and that the runs show one after another.
    """
    plan = build_plan(workflow)
    free = build_plan(replace(workflow, dag=True))
    weights = {key: median for key in plan.nodes if (median := obs.median(key)) is not None}
    before = critical_path(plan, weights)
    out = []
    for group in _candidates(workflow, plan, free):
        change = Change("group", group)
        after_plan = _planned(text, json_format, change)
        if after_plan is None:
            continue
        after = critical_path(after_plan, weights)
        saving = before - after
        together = _runs_together(obs, group)
        sequential = [run_id for run_id, ordered in together if ordered]
        if saving < MIN_SAVING_S or not sequential:
            continue
        evidence = {"runs": len(together), "sequential_runs": len(sequential), "run_ids": [r for r, _ in together],
                    "steps": {s: {"median_duration_s": rounded(obs.median(s)), "p95_duration_s": rounded(obs.p95(s))}
                              for s in group},
                    "critical_path_s": rounded(before), "critical_path_after_s": rounded(after)}
        summary = (f"{', '.join(f'`{s}`' for s in group)} ran one after another in {len(sequential)} of "
                   f"{len(together)} runs but neither reads nor depends on another: run them in parallel")
        out.append(Advice("parallel", list(group), evidence, rounded(saving), change, summary))
    return out


def _runs_together(obs: Observations, group: tuple[str, ...]) -> list[tuple[str, bool]]:
    """(run id, whether the steps ran one after another) for each run in which all of ``group`` ran."""
    by_run: dict[str, dict[str, tuple[float, float]]] = {}
    for step_id in group:
        for record in obs.ran(step_id):
            if record.started_at is not None and record.ended_at is not None:
                by_run.setdefault(record.run_id, {})[step_id] = (record.started_at, record.ended_at)
    out = []
    for run_id in obs.run_ids:
        spans = by_run.get(run_id, {})
        if len(spans) != len(group):
            continue
        ordered = sorted(spans.values())
        out.append((run_id, all(ordered[i][1] <= ordered[i + 1][0] for i in range(len(ordered) - 1))))
    return out
