"""How a workflow's plan is shown by ``yaml2dag show`` and ``yaml2dag run --dry-run``."""

from __future__ import annotations

from typing import Any, Mapping

from yaml2dag.format.durations import format_duration
from yaml2dag.format.model import MISSING, Step, SubWorkflow, Workflow
from yaml2dag.format.plan import Plan
from rich.markup import escape
from yaml2dag.format.executors import ExecutorSettingError, executor_type


def _when(node) -> Any:
    entry = node.entry
    if node.kind == "branch":
        return entry.condition
    if node.kind == "switch":
        return entry.expression
    return getattr(entry, "when", None)


def plan_json(workflow: Workflow, plan: Plan, params: Mapping[str, Any] | None = None) -> dict:
    """The plan as JSON: steps in execution order with dependencies, groups, conditions,
    retry schedules (seconds) and timeouts (seconds)."""
    steps = []
    for node_id in plan.order:
        node = plan.nodes[node_id]
        entry = node.entry
        item: dict[str, Any] = {
            "id": node_id,
            "kind": node.kind,
            "name": getattr(entry, "name", "") or node_id,
            "after": list(node.after),
            "reads": list(node.reads),
        }
        if node.group:
            item["parallel_group"] = node.group
        if node.context:
            item["inside"] = {"of": node.context[0], "side": node.context[1]}
        condition = _when(node)
        if condition is not None:
            item["condition"] = condition
        if isinstance(entry, Step):
            item["tool"] = entry.tool
            item["action"] = entry.action
            item["on_error"] = entry.on_error
            item["max_attempts"] = entry.max_attempts
            item["retry_waits_s"] = entry.retry.schedule() if entry.retry else []
            item["timeout_s"] = entry.timeout
            if entry.fallback is not None:
                item["fallback"] = {"tool": entry.fallback.tool, "action": entry.fallback.action}
        if isinstance(entry, SubWorkflow):
            item["workflow"] = entry.workflow
        if node.kind == "switch":
            item["cases"] = [k for k, _ in entry.cases] + (["default"] if entry.default is not None else [])
        steps.append(item)
    out = {
        "workflow": workflow.name,
        "job": workflow.id,
        "version": workflow.version,
        "executor": {"type": _executor(workflow), "max_parallel": workflow.executor.max_parallel},
        "steps": steps,
        "outputs": list(workflow.outputs),
    }
    if params is not None:
        out["parameters"] = dict(params)
    if plan.parallel_limits:
        out["parallel_limits"] = dict(plan.parallel_limits)
    return out


def _executor(workflow: Workflow) -> str:
    """The executor the run would use: the file's, else ``$YAML2DAG_EXECUTOR`` (a wrong value
    is shown as is, marked; `yaml2dag run` refuses it)."""
    try:
        return executor_type(workflow)
    except ExecutorSettingError as exc:
        return f"invalid ({exc})"


def print_plan(out, workflow: Workflow, plan: Plan, params: Mapping[str, Any] | None = None) -> None:
    """Human-readable plan (rich console ``out``)."""
    # steps are numbered as `yaml2dag run` counts them ("Step 2/5"); branch and switch decision
    # points are listed in their place, marked ◆, but are not steps
    count = sum(1 for n in plan.nodes.values() if not n.is_decision)
    decisions = len(plan.nodes) - count
    extra = f" and {decisions} decision point(s) (◆ branch/switch)" if decisions else ""
    out.print(f"[bold]{escape(workflow.name)}[/] (job [cyan]{workflow.id}[/], version {escape(workflow.version)}): "
              f"{count} step(s){extra}, executor {_executor(workflow)}")
    if params is not None:
        shown = ", ".join(f"{k}={v!r}" for k, v in params.items()) or "none"
        out.print(f"Parameters: {shown}", markup=False)
    number = 0
    for node_id in plan.order:
        node = plan.nodes[node_id]
        entry = node.entry
        title = getattr(entry, "name", "") or ""
        if node.is_decision:
            mark = "  ◆"
        else:
            number += 1
            mark = f"{number:>3}."
        head = f"{mark} {node_id}" + (f" — {title}" if title and title != node_id else "")
        details: list[str] = []
        if isinstance(entry, Step):
            details.append(f"{entry.tool}" + (f".{entry.action}" if entry.action else ""))
        elif node.is_decision:
            details.append(node.kind)
        elif isinstance(entry, SubWorkflow):
            details.append(f"workflow {entry.workflow!r}")
        waits = list(dict.fromkeys(node.after + node.reads))
        if node.context:
            waits.append(f"{node.context[0]}={node.context[1]}")
        details.append("after " + ", ".join(waits) if waits else "starts first")
        if node.group:
            details.append(f"parallel group {node.group}"
                           + (f" (max {plan.parallel_limits[node.group]})" if node.group in plan.parallel_limits else ""))
        condition = _when(node)
        if condition is not None and condition is not True:
            label = "switch on" if node.kind == "switch" else "if" if node.kind == "branch" else "when"
            details.append(f"{label} {condition}")
        if isinstance(entry, Step):
            if entry.retry and entry.max_attempts > 1:
                waits_s = ", ".join(format_duration(w) for w in entry.retry.schedule())
                jitter = " with jitter" if entry.retry.jitter else ""
                details.append(f"retry {entry.max_attempts} attempts ({entry.retry.backoff}, waits {waits_s}{jitter})")
            if entry.timeout:
                details.append(f"timeout {format_duration(entry.timeout)}")
            if entry.on_error not in ("abort", "retry"):
                details.append(f"on_error {entry.on_error}")
        out.print(head, markup=False)
        out.print("       " + " · ".join(details), markup=False, style="dim")
    if workflow.outputs:
        out.print("Outputs: " + ", ".join(workflow.outputs), markup=False)


def parameter_rows(workflow: Workflow) -> list[tuple[str, str, str, str]]:
    rows = []
    for p in workflow.parameters:
        default = "(required)" if p.default is MISSING else repr(p.default)
        if p.is_secret:
            default = f"${p.env_var}"
        extra = []
        if p.enum:
            extra.append("one of " + ", ".join(map(str, p.enum)))
        if p.minimum is not None:
            extra.append(f"≥ {p.minimum:g}")
        if p.maximum is not None:
            extra.append(f"≤ {p.maximum:g}")
        if p.pattern:
            extra.append(f"matches {p.pattern}")
        desc = p.description + (f" ({'; '.join(extra)})" if extra else "")
        rows.append((p.name, p.type, default, desc))
    return rows

