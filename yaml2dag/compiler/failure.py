"""Failure handling inside the failed run: ``compensate`` (saga rollback) and ``on_failure``.

When a step fails for good (after its retries, with ``on_error: abort``), a Dagster failure
hook on every op of the job runs, once per run (when two steps of a multiprocess run fail at
the same moment, the first ``started`` event in the run's event log decides which process
handles the failure, see :func:`.failure_events.claim`):

1. the ``compensate`` bodies of the steps that had succeeded, newest first, across the workflow
   and the sub-workflows it inlines; each sees its own step's result, ``failed_step`` and
   ``error``;
2. then the ``on_failure`` steps, in plan order (conditions, branches, retries and ``on_error``
   apply; they can read every step result, ``failed_step`` and ``error``): first those of the
   sub-workflow the failing step belongs to (``failed_step`` relative to it: ``apply``), then
   those of each workflow that includes it, up to the top-level workflow (``failed_step``:
   ``deploy.apply``).

The step results handlers read are rebuilt from the run's event log (:mod:`.stored_results`), so
handling works in whichever process the hook runs in, and in re-executions; a step a
re-execution reused is compensated unless the run that ran it already compensated it.

Conditions, branches, switches, retries and ``on_error`` of the ``on_failure`` steps mean what
they mean for the workflow's own steps: both ask :mod:`yaml2dag.format.semantics`.

A run stopped by its workflow ``timeout`` gets the same handling from its executor
(:func:`handle_stopped_run`): ``failed_step`` is the step that was running, ``error`` says that
the run exceeded its timeout.

The run still ends FAILURE. Because this happens in the run itself it also works under
``dagster job execute`` in CI, where no daemon runs. Each handler's result is an engine event
of the run (:mod:`.failure_events`), so it shows in the UI and in ``yaml2dag events``.
Steps still running in parallel when the failure happens are not compensated.
"""

from __future__ import annotations

import time
from types import SimpleNamespace
from typing import Any

import dagster as dg

from yaml2dag.format.errors import ParameterError
from yaml2dag.format.model import Step, StepBody, SubWorkflow, Workflow, iter_entries
from yaml2dag.format.naming import FAILURE_HOOK_SUFFIX, step_of_node
from yaml2dag.format.parameters import resolve
from yaml2dag.format.plan import build_plan
from yaml2dag.format.secrets import mask
from yaml2dag.format.tags import ROLLBACK_FAILED, ROLLED_BACK, TAG_ROLLBACK
from yaml2dag.format.expressions import render_value
from yaml2dag.format.semantics import (
    CONTINUE, FAILED, RETRY, RUN_FALLBACK, SKIPPED, SUCCEEDED, Gate, after_failure, decide, holds, result,
    skipped_result,
)
from yaml2dag.compiler import runtime
from yaml2dag.compiler.config import RESOURCE_KEY
from yaml2dag.compiler.failure_events import MARKER, already_handled, claim, compensated_keys, report
from yaml2dag.compiler.ops import run_body
from yaml2dag.compiler.scope import CompiledWorkflow
from yaml2dag.compiler.stored_results import StoredResult, stored_results


def _has_handlers(workflow: Workflow) -> bool:
    if workflow.on_failure:
        return True
    return any(isinstance(e, Step) and e.compensate is not None for e in iter_entries(workflow.steps))


def needs_failure_handling(compiled: CompiledWorkflow | Workflow) -> bool:
    """True when the workflow, or a sub-workflow it inlines (at any depth), has ``on_failure``
    steps or a step with ``compensate``.

    Args:
        compiled: a compiled workflow (its sub-workflows are looked at too) or a bare workflow
            (only its own steps).
    """
    if isinstance(compiled, Workflow):
        return _has_handlers(compiled)
    return any(_has_handlers(node.workflow) for node in compiled.tree())


def failure_hook(cw: CompiledWorkflow) -> dg.HookDefinition:
    """The job's failure hook (see the module docstring)."""

    @dg.failure_hook(name=cw.prefix + FAILURE_HOOK_SUFFIX, required_resource_keys={RESOURCE_KEY})
    def _hook(context):
        handle_failure(context, cw)

    return _hook


def _error_of(context: Any) -> str:
    exc = context.op_exception
    if exc is None:
        return "the step failed"
    description = getattr(exc, "description", None)
    if description:
        return str(description)
    return runtime.error_message(exc)


class _RunState:
    """Results and parameters of each workflow level of a failed run, for its handlers."""

    def __init__(self, context: Any, cw: CompiledWorkflow, stored: list[StoredResult]):
        self.context = context
        self.cw = cw
        self.stored = stored
        self._results: dict[tuple[str, ...], dict[str, Any]] = {}
        for item in stored:
            self._results.setdefault(item.path, {})[item.step_id] = item.result
        self._params: dict[tuple[str, ...], dict] = {(): dict(context.resources.yaml2dag["parameters"])}

    def results(self, path: tuple[str, ...]) -> dict[str, Any]:
        return dict(self._results.get(path, {}))

    def params(self, path: tuple[str, ...]) -> dict:
        """Parameters of the workflow at ``path``: a sub-workflow's are rendered again from the
        including step's ``parameters`` (secrets read from the environment, never stored)."""
        if path in self._params:
            return self._params[path]
        parent_path = path[:-1]
        parent = self.cw.at(parent_path)
        child = self.cw.at(path)
        values: dict = {}
        if parent is not None and child is not None:
            entry = next((e for e in iter_entries(parent.workflow.steps)
                          if isinstance(e, SubWorkflow) and e.id == path[-1]), None)
            if entry is not None:
                try:
                    scope = parent.scope(self.context, self.params(parent_path), self.results(parent_path))
                    values = resolve(child.workflow, render_value(dict(entry.parameters), scope))
                except Exception as exc:  # noqa: BLE001 - handlers still run, without them
                    self.context.log.warning(f"parameters of sub-workflow `{'.'.join(path)}` could not be "
                                             f"rendered for failure handling: "
                                             f"{mask(runtime.error_message(exc), _all_secrets(self.cw))}")
        self._params[path] = values
        return values

    def compensations(self, run_id: str) -> list[tuple[StoredResult, CompiledWorkflow, Step]]:
        """Succeeded steps with ``compensate``, oldest first (reused ones not compensated yet)."""
        done: dict[str, set[str]] = {}
        out = []
        for item in self.stored:
            owner = self.cw.at(item.path)
            if owner is None or item.result.get("status") != SUCCEEDED:
                continue
            step = next((e for e in iter_entries(owner.workflow.steps)
                         if isinstance(e, Step) and e.id == item.step_id), None)
            if step is None or step.compensate is None:
                continue
            if item.run_id != run_id:
                if item.run_id not in done:
                    done[item.run_id] = compensated_keys(self.context.instance, item.run_id)
                if item.key in done[item.run_id]:
                    continue
            out.append((item, owner, step))
        return out


def _all_secrets(cw: CompiledWorkflow) -> tuple[str, ...]:
    values: set[str] = set()
    for node in cw.tree():
        values |= set(node.secret_values())
    return tuple(sorted(values, key=len, reverse=True))


# --------------------------------------------------------------------------- handling


def handle_failure(context: Any, cw: CompiledWorkflow, *, failed_key: str | None = None,
                   error: str | None = None) -> None:
    """Run compensations and ``on_failure`` steps once for the failed run (see module doc).

    Args:
        context: a Dagster hook context, or anything with the same ``run_id``, ``instance``,
            ``step_key``, ``op_exception``, ``log`` and ``resources.yaml2dag`` (see
            :func:`handle_stopped_run`).
        cw: the top-level compiled workflow of the job.
        failed_key: the step key that failed (default: ``context.step_key``).
        error: the error message (default: from ``context.op_exception``).
    """
    run_id = context.run_id
    if not runtime.claim_failure_handling(run_id):
        return
    if already_handled(context):
        return
    secrets = _all_secrets(cw)
    failed_key = (failed_key if failed_key is not None else context.step_key) or ""
    parts = [p for p in failed_key.split("[")[0].split(".") if p]
    if parts:
        parts[-1] = step_of_node(parts[-1])
    failed_step = ".".join(parts)
    error = mask(error if error is not None else _error_of(context), secrets)
    run = context.instance.get_run_by_id(run_id)
    state = _RunState(context, cw, stored_results(context.instance, run))
    compensations = state.compensations(run_id)
    # on_failure levels: the workflow the failing step belongs to first, then those including it
    levels = []
    for depth in range(max(len(parts) - 1, 0), -1, -1):
        level = cw.at(tuple(parts[:depth]))
        if level is not None and level.workflow.on_failure:
            levels.append((tuple(parts[:depth]), level))
    n_steps = sum(1 for _p, level in levels for e in iter_entries(level.workflow.on_failure) if isinstance(e, Step))
    if not claim(context, f"run failed at `{failed_step}`: {error}; running {len(compensations)} compensation(s) "
                 f"and {n_steps} on_failure step(s)", {"failed_step": failed_step, "error": error}):
        return

    def extra_for(path: tuple[str, ...]) -> dict[str, Any]:
        inside = tuple(parts[:len(path)]) == path and len(parts) > len(path)
        return {"failed_step": ".".join(parts[len(path):]) if inside else failed_step, "error": error}

    rollback: list[bool] = []
    for item, owner, step in reversed(compensations):
        scope = owner.scope(context, state.params(item.path), {**state.results(item.path), item.step_id: item.result},
                            extra_for(item.path))
        res = _run_handler(context, owner, "compensate", item.step_id, step.compensate, scope, secrets, item.key,
                           label=".".join(item.path + (item.step_id,)))
        rollback.append(res.get("status") == SUCCEEDED)
    for path, level in levels:
        _run_on_failure(context, level, state.params(path), state.results(path), extra_for(path), secrets,
                        prefix="".join(p + "." for p in path))
    outcome = (ROLLED_BACK if all(rollback) else ROLLBACK_FAILED) if rollback else None
    report(context, "failure handling finished" + (f": {outcome}" if outcome else ""),
           {MARKER: "finished", "failed_step": failed_step, "rollback": outcome or ""})
    if outcome:
        # a run tag (public DagsterInstance API): the UI's run list shows it and filters by it
        context.instance.add_run_tags(run_id, {TAG_ROLLBACK: outcome})


def params_from_run_config(workflow: Workflow, run_config: Any) -> dict:
    """The parameter values of a run, from its run config (the parameters at the top level),
    defaults filled in as the job's config mapping does."""
    names = {p.name for p in workflow.parameters if not p.is_secret}
    given = {k: v for k, v in dict(run_config or {}).items() if k in names}
    try:
        return resolve(workflow, given)
    except ParameterError:
        return given


class _StoppedRunContext:
    """What :func:`handle_failure` uses of a hook context, for a run its executor stopped."""

    def __init__(self, instance: Any, run: Any, log: Any, step_key: str, params: dict):
        self.instance = instance
        self.run = run
        self.run_id = run.run_id
        self.log = log
        self.step_key = step_key
        self.op_exception = None
        self.resources = SimpleNamespace(**{RESOURCE_KEY: {"parameters": params}})


def handle_stopped_run(plan_context: Any, cw: CompiledWorkflow | None, failed_key: str | None,
                       error: str) -> None:
    """Failure handling for a run its executor stopped (the workflow ``timeout``).

    Args:
        plan_context: the executor's Dagster plan context (``instance``, ``dagster_run``, ``log``).
        cw: the job's top-level compiled workflow; None when it has no handlers (nothing to do).
        failed_key: the step key that was running when the run was stopped, if any.
        error: why the run was stopped.

    Handler failures are logged, never raised: the run ends FAILURE either way.
    """
    if cw is None or not needs_failure_handling(cw):
        return
    run = plan_context.dagster_run
    context = _StoppedRunContext(plan_context.instance, run, plan_context.log, failed_key or "",
                                 params_from_run_config(cw.workflow, run.run_config))
    try:
        handle_failure(context, cw, failed_key=failed_key or "", error=error)
    except Exception as exc:  # noqa: BLE001 - the run is failing anyway; say why handling broke
        plan_context.log.error(f"failure handling stopped: {mask(runtime.error_message(exc), _all_secrets(cw))}")


def _run_handler(context: Any, cw: CompiledWorkflow, kind: str, step_id: str, body: Any, scope: dict,
                 secrets: tuple[str, ...], step_key: str, step: Step | None = None,
                 label: str | None = None) -> dict:
    """Run one compensation, on_failure step or fallback body; record its result as an engine
    event. An ``on_failure`` step (``step``) is retried as
    :func:`yaml2dag.format.semantics.after_failure` says."""
    watch = runtime.Stopwatch()
    error = None
    output = None
    fields: dict = {}
    attempt = 0
    while True:
        attempt += 1
        try:
            tool_result = run_body(cw, context, body, scope, step_id, secrets, step_key or "failure_handling")
            output, fields, error = tool_result.output, tool_result.fields, None
            break
        except Exception as exc:  # noqa: BLE001 - a handler failure is recorded, not raised
            error = cw.mask(runtime.error_message(exc), secrets)
            then = after_failure(step, attempt, runtime.is_retryable(exc)) if step is not None else None
            if then is None or then.action != RETRY:
                break
            time.sleep(then.wait)
    status = SUCCEEDED if error is None else FAILED
    res = cw.mask(result(output, status=status, error=error, duration=watch.elapsed, attempts=attempt, fields=fields),
                  secrets)
    label = label or step_id
    verdict = "succeeded" if error is None else f"failed: {error}"
    message = f"{kind} `{label}` {verdict}"
    if error is None and output not in (None, ""):
        message += f": {runtime.preview(res['output'], 300)}"
    report(context, message, {MARKER: kind, "step": label, "step_key": step_key, "status": status,
                              "error": error or "",
                              "output": runtime.preview(res["output"], 2000) if res["output"] is not None else ""})
    return res


def _run_on_failure(context: Any, cw: CompiledWorkflow, params: dict, results: dict, extra: dict,
                    secrets: tuple[str, ...], prefix: str = "") -> None:
    """Run the ``on_failure`` steps of ``cw``'s workflow in plan order: branches, switches and
    ``when`` decide with :mod:`yaml2dag.format.semantics` as the condition and decision ops do;
    a step that failed for good (``on_error: abort``) keeps the steps waiting for it from
    running."""
    workflow = cw.workflow
    plan = build_plan(workflow, entries=workflow.on_failure,
                      step_ids={s.id for s in workflow.iter_steps()})
    decisions: dict[str, Any] = {}
    ended: dict[str, dict] = {}
    blocked: set[str] = set()
    for node_id in plan.order:
        node = plan.nodes[node_id]
        label = prefix + node_id
        if any(a in blocked for a in node.upstream()):
            blocked.add(node_id)
            context.log.warning(f"on_failure `{label}` not run: a step it waits for failed")
            continue
        gate = Gate.of(node)
        scope_results = {**results, **ended}
        decision = decisions.get(node.context[0]) if node.context is not None else None
        scope = cw.scope(context, params, scope_results, extra)
        if node.is_decision:
            reached = gate.not_reached(decision) is None and gate.skipped_read(scope_results) is None
            decisions[node_id] = decide(node.entry, scope) if reached else None
            continue
        step: Step = node.entry  # type: ignore[assignment]
        reason = gate.skip_reason(decision, scope_results, lambda when: holds(when, scope))
        if reason is not None:
            ended[node_id] = skipped_result(reason)
            context.log.info(f"on_failure `{label}` skipped: {reason}")
            report(context, f"on_failure `{label}` skipped: {reason}",
                   {MARKER: "on_failure", "step": label, "status": SKIPPED, "error": "", "output": ""})
            continue
        body = StepBody(tool=step.tool, action=step.action, parameters=step.parameters, name=step.name,
                        timeout=step.timeout, path=step.path)
        res = _run_handler(context, cw, "on_failure", node_id, body, scope, secrets, context.step_key,
                           step=step, label=label)
        if res["status"] != SUCCEEDED:
            then = after_failure(step, step.max_attempts, retryable=False)
            if then.action == RUN_FALLBACK:
                fb_scope = dict(scope)
                fb_scope.update(error=res["error"], failed_step=node_id)
                res = _run_handler(context, cw, "fallback", node_id, step.fallback, fb_scope, secrets,
                                   context.step_key, label=label)
            elif then.action != CONTINUE:
                blocked.add(node_id)
        ended[node_id] = res


__all__ = ["failure_hook", "handle_failure", "handle_stopped_run", "needs_failure_handling",
           "params_from_run_config"]
