"""Failure handling inside the failed run: ``compensate`` (saga rollback) and ``on_failure``.

When a step fails (finally: after its retries, with ``on_error: abort``), a Dagster failure
hook on every op of the job runs, once per run:

1. the ``compensate`` bodies of the steps that had succeeded, newest first, each with the
   step's own result, ``failed_step`` and ``error`` in scope;
2. then the workflow's ``on_failure`` steps, in plan order (conditions, branches, retries and
   ``on_error`` apply; they can read every step result, ``failed_step`` and ``error``).

The run still ends FAILURE. Because this happens in the run itself it also works under
``dagster job execute`` in CI, where no daemon runs. Each handler's result is an engine event
of the run (metadata ``yaml2dag/failure``), so it shows in the UI and in ``yaml2dag events``.
Steps still running in parallel when the failure happens are not compensated.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import dagster as dg

from ..model import Step, Workflow, iter_entries
from ..plan import build_plan
from ..templates import evaluate, truthy
from . import runtime
from .config import RESOURCE_KEY
from .scope import CompiledWorkflow

MARKER = "yaml2dag/failure"

_handled: set[str] = set()
_lock = threading.Lock()


def needs_failure_handling(workflow: Workflow) -> bool:
    """True when the workflow has ``on_failure`` steps or a step with ``compensate``."""
    if workflow.on_failure:
        return True
    return any(isinstance(e, Step) and e.compensate is not None for e in iter_entries(workflow.steps))


def failure_hook(cw: CompiledWorkflow) -> dg.HookDefinition:
    """The job's failure hook (see the module docstring)."""

    @dg.failure_hook(name=f"{cw.prefix}__failure_handling", required_resource_keys={RESOURCE_KEY})
    def _hook(context):
        handle_failure(context, cw)

    return _hook


def _report(context: Any, message: str, values: dict[str, Any]) -> None:
    from dagster._core.events import EngineEventData

    from ..approvals import _text

    run = context.instance.get_run_by_id(context.run_id)
    context.instance.report_engine_event(
        message, run, EngineEventData(metadata={k: _text(v) for k, v in values.items()}),
        step_key=context.step_key,
    )


def _already_handled(context: Any) -> bool:
    from dagster._core.events import DagsterEventType

    for record in context.instance.all_logs(context.run_id, of_type=DagsterEventType.ENGINE_EVENT):
        meta = getattr(record.dagster_event.engine_event_data, "metadata", None) or {}
        if MARKER in meta:
            return True
    return False


def _error_of(context: Any) -> str:
    exc = context.op_exception
    if exc is None:
        return "the step failed"
    description = getattr(exc, "description", None)
    if description:
        return str(description)
    return runtime.error_message(exc)


def handle_failure(context: Any, cw: CompiledWorkflow) -> None:
    """Run compensations and ``on_failure`` steps once for the failed run (see module doc)."""
    run_id = context.run_id
    with _lock:
        if run_id in _handled:
            return
        _handled.add(run_id)
    if _already_handled(context):
        return
    secrets = cw.secret_values()
    failed_step = context.step_key.split("[")[0]
    error = cw.mask(_error_of(context), secrets)
    params = dict(context.resources.yaml2dag["parameters"])
    recorded = runtime.recorded_results(run_id)
    results = {sid: res for key, sid, res, _owner in recorded if "." not in key}
    compensations = [
        (key, sid, res, owner) for key, sid, res, owner in recorded
        if owner is not None and res.get("status") == runtime.SUCCEEDED
        and isinstance(owner[1], Step) and owner[1].compensate is not None
    ]
    on_failure = cw.workflow.on_failure
    _report(context, f"run failed at `{failed_step}`: {error}; running {len(compensations)} compensation(s) "
            f"and {sum(1 for e in iter_entries(on_failure) if isinstance(e, Step))} on_failure step(s)",
            {MARKER: "started", "failed_step": failed_step, "error": error})
    extra = {"failed_step": failed_step, "error": error}
    for key, sid, res, owner in reversed(compensations):
        owner_cw, step = owner[0], owner[1]
        owner_params = owner[2] if len(owner) > 2 else params
        scope = owner_cw.scope(context, owner_params, {**results, sid: res}, extra)
        _run_handler(context, owner_cw, "compensate", sid, step.compensate, scope, secrets, key)
    if on_failure:
        _run_on_failure(context, cw, params, results, extra, secrets)
    _report(context, "failure handling finished", {MARKER: "finished", "failed_step": failed_step})


def _run_handler(context: Any, cw: CompiledWorkflow, kind: str, step_id: str, body: Any, scope: dict,
                 secrets: tuple[str, ...], step_key: str, attempts: int = 1, retry: Any = None) -> dict:
    """Run one compensation or on_failure step body; record its result as an engine event."""
    from .ops import run_body

    watch = runtime.Stopwatch()
    error = None
    output = None
    fields: dict = {}
    attempt = 0
    for attempt in range(1, attempts + 1):
        try:
            tool_result = run_body(cw, context, body, scope, step_id, secrets, step_key)
            output, fields, error = tool_result.output, tool_result.fields, None
            break
        except Exception as exc:  # noqa: BLE001 - a handler failure is recorded, not raised
            error = cw.mask(runtime.error_message(exc), secrets)
            if attempt < attempts and retry is not None:
                time.sleep(retry.delay_for(attempt))
    status = runtime.SUCCEEDED if error is None else runtime.FAILED
    res = cw.mask(runtime.result(output, status=status, error=error, duration=watch.elapsed,
                                 attempts=attempt, fields=fields), secrets)
    verdict = "succeeded" if error is None else f"failed: {error}"
    message = f"{kind} `{step_id}` {verdict}"
    if error is None and output not in (None, ""):
        message += f": {runtime.preview(res['output'], 300)}"
    _report(context, message, {MARKER: kind, "step": step_id, "status": status, "error": error or "",
                               "output": runtime.preview(res["output"], 2000) if res["output"] is not None else ""})
    return res


def _run_on_failure(context: Any, cw: CompiledWorkflow, params: dict, results: dict, extra: dict,
                    secrets: tuple[str, ...]) -> None:
    workflow = cw.workflow
    plan = build_plan(workflow, entries=workflow.on_failure,
                      step_ids={s.id for s in workflow.iter_steps()})
    decisions: dict[str, Any] = {}
    ended: dict[str, dict] = {}
    blocked: set[str] = set()
    for node_id in plan.order:
        node = plan.nodes[node_id]
        if any(a in blocked for a in node.upstream()):
            blocked.add(node_id)
            context.log.warning(f"on_failure `{node_id}` not run: a step it waits for failed")
            continue
        reason = None
        if node.context is not None and decisions.get(node.context[0]) != node.context[1]:
            reason = f"`{node.context[0]}` did not take `{node.context[1]}`"
        scope_results = {**results, **ended}
        if reason is None:
            for r in node.reads:
                if scope_results.get(r, {}).get("status") == runtime.SKIPPED:
                    reason = f"it reads `{r}`, which was skipped"
        scope = cw.scope(context, params, scope_results, extra)
        if node.is_decision:
            from .ops import _case_text

            entry = node.entry
            if reason is not None:
                decisions[node_id] = None
                continue
            if node.kind == "branch":
                decisions[node_id] = "then" if truthy(evaluate(entry.condition, scope)) else "else"
            else:
                text = _case_text(evaluate(entry.expression, scope))
                keys = [k for k, _ in entry.cases]
                decisions[node_id] = text if text in keys else ("default" if entry.default is not None else None)
            continue
        step: Step = node.entry  # type: ignore[assignment]
        if reason is None and step.when is not None and step.when is not True:
            if not truthy(evaluate(step.when, scope)):
                reason = f"its condition is false: {step.when}"
        if reason is not None:
            ended[node_id] = runtime.skipped_result(reason)
            context.log.info(f"on_failure `{node_id}` skipped: {reason}")
            _report(context, f"on_failure `{node_id}` skipped: {reason}",
                    {MARKER: "on_failure", "step": node_id, "status": "skipped", "error": "", "output": ""})
            continue
        from ..model import StepBody

        body = StepBody(tool=step.tool, action=step.action, parameters=step.parameters, name=step.name,
                        timeout=step.timeout, path=step.path)
        res = _run_handler(context, cw, "on_failure", node_id, body, scope, secrets, context.step_key,
                           attempts=step.max_attempts, retry=step.retry)
        if res["status"] != runtime.SUCCEEDED:
            if step.final_on_error == "fallback" and step.fallback is not None:
                fb_scope = dict(scope)
                fb_scope.update(error=res["error"], failed_step=node_id)
                res = _run_handler(context, cw, "fallback", node_id, step.fallback, fb_scope, secrets,
                                   context.step_key)
            elif step.final_on_error != "continue":
                blocked.add(node_id)
        ended[node_id] = res
