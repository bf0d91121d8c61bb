"""The op that runs a step (spec §4).

A step op (node name = the step id) renders the step's parameters, runs the tool action, and
applies ``retry`` / ``on_error`` / ``fallback`` / ``timeout`` as the semantics engine says
(:func:`yaml2dag.format.semantics.after_failure`). Its ``result`` output is the step result dict
(:func:`yaml2dag.format.semantics.result`). A ``for_each`` step's op is *mapped* over the
elements: one Dagster step per element (``step[0]``, ``step[1]``, ...).

The other ops of a compiled workflow: condition and decision ops (:mod:`.gate_ops`), the ops
around a ``for_each`` step (:mod:`.for_each_ops`), sub-workflow parameters and workflow outputs
(:mod:`.workflow_ops`); what they share in :mod:`.op_io`.

Every value that leaves an op (results, metadata, log lines, error messages) has the
workflow's secrets masked (spec §3). The two values that carry a secret to a later op — the
parameters of a sub-workflow and the elements of a ``for_each`` list — are stored *sealed*
instead: each secret is kept as the name of its environment variable and read back from the
environment by the op that uses it (:meth:`CompiledWorkflow.seal`), so the step sees the real
value and run storage never holds it. Failure handlers rebuild step results from the
``result`` output metadata (:mod:`.stored_results`).
"""

from __future__ import annotations

from typing import Any, Mapping

import dagster as dg

from yaml2dag.format.model import Step, StepBody
from yaml2dag.format.plan import Node
from yaml2dag.format.semantics import (
    CONTINUE, CONTINUED, FAILED, FALLBACK, RETRY, RUN_FALLBACK, SUCCEEDED, after_failure,
    matches_dagster_retry_policy, result,
)
from yaml2dag.format.tags import TAG_FOR_EACH, TAG_MAX_ATTEMPTS, TAG_PARALLEL_GROUP, TAG_STEP_KIND
from yaml2dag.tools.base import Action, ToolError, ToolResult, check_parameters
from yaml2dag.tools.registry import get_tool
from yaml2dag.compiler import runtime
from yaml2dag.compiler.assets import materializations
from yaml2dag.compiler.config import RESOURCE_KEY
from yaml2dag.compiler.op_io import op_failure, read_inputs, result_metadata, storable, tool_secrets
from yaml2dag.compiler.scope import CompiledWorkflow
from yaml2dag.compiler.sinks import guard_step


def tool_action(tool_name: str, action_name: str | None) -> Action:
    tool = get_tool(tool_name)
    if tool is None:
        raise dg.DagsterInvalidDefinitionError(f"unknown tool `{tool_name}`")
    action = tool.action(action_name)
    if action is None:
        raise dg.DagsterInvalidDefinitionError(f"unknown action `{action_name}` of tool `{tool_name}`")
    return action


def retry_policy(step: Step) -> dg.RetryPolicy | None:
    """The Dagster RetryPolicy of a step, when it waits as the step's ``retry`` does
    (:func:`yaml2dag.format.semantics.matches_dagster_retry_policy`); else None (the op asks
    for each retry itself, ``RetryRequested``)."""
    retry = step.retry
    if retry is None or not matches_dagster_retry_policy(retry):
        return None
    return dg.RetryPolicy(
        max_retries=retry.max_attempts - 1,
        delay=retry.delay,
        backoff=dg.Backoff.LINEAR if retry.backoff == "linear" else None,
        jitter=dg.Jitter.FULL if retry.jitter else None,
    )


def run_body(cw: CompiledWorkflow, context: Any, body: StepBody, scope: Mapping[str, Any],
             step_id: str, secrets: tuple[str, ...], step_key: str | None = None) -> ToolResult:
    """Run a ``fallback``/``compensate`` body with ``scope``; raises on failure."""
    action = tool_action(body.tool, body.action)
    tctx = cw.tool_context(context, step_id, body.timeout, secrets, step_key)
    runtime.register_context(context.run_id, tctx)
    try:
        params = runtime.within_step_time(lambda: runtime.render_parameters(body.parameters, scope, action), tctx)
        return runtime.run_action(action, tctx, params, body.timeout)
    finally:
        runtime.unregister_context(context.run_id, tctx)


def _step_tags(cw: CompiledWorkflow, node: Node, kind: str) -> dict[str, str]:
    tags = {TAG_STEP_KIND: kind}
    if node.group:
        tags[TAG_PARALLEL_GROUP] = cw.step_key(node.group)
    if getattr(node.entry, "max_attempts", 1) > 1:
        tags[TAG_MAX_ATTEMPTS] = str(node.entry.max_attempts)
    return tags


def _describe_step(step: Step) -> str:
    parts = [step.name or step.id]
    if step.description:
        parts.append(step.description)
    parts.append(f"tool: {step.tool}" + (f".{step.action}" if step.action else ""))
    if step.for_each is not None:
        parts.append(f"for each element of: {step.for_each}")
    return "\n\n".join(parts)


def step_op(cw: CompiledWorkflow, node: Node, ins: dict[str, dg.In], *, element: bool = False) -> dg.OpDefinition:
    """The op that runs a step (or, with ``element``, one element of a ``for_each`` step)."""
    step: Step = node.entry  # type: ignore[assignment]
    action = tool_action(step.tool, step.action)
    reads = tuple(node.reads)
    max_attempts = step.max_attempts
    policy = retry_policy(step)

    def compute(context, inputs):
        secrets = cw.secret_values()
        guard_step(context, secrets)
        params = cw.params(context, inputs)
        results, _skipped = read_inputs(inputs, reads)
        extra = None
        if element:
            el = inputs["element"]
            extra = {"item": cw.unseal(el["item"]), "index": el["index"]}
        scope = cw.scope(context, params, results, extra)
        attempt = context.retry_number + 1
        watch = runtime.Stopwatch()
        step_key = context.get_step_execution_context().step.key
        tctx = cw.tool_context(context, step.id, step.timeout, secrets, step_key)
        runtime.register_context(context.run_id, tctx)
        try:
            rendered = runtime.within_step_time(lambda: runtime.render_parameters(step.parameters, scope, action), tctx)
            check_parameters(action.parameters, rendered, f"{step.tool}.{action.name}", step.parameters)
            tool_result = runtime.run_action(action, tctx, rendered, step.timeout)
            secrets = tool_secrets(secrets, tctx)
            res = result(tool_result.output, duration=watch.elapsed, attempts=attempt, fields=tool_result.fields)
            if extra:
                res.update(extra)
            # masked as the same kind of value; a secret inside an object that cannot be masked
            # fails the step (under its on_error) instead of being pickled into run storage
            res = storable(res, secrets)
        except Exception as exc:  # noqa: BLE001 - every failure goes through on_error
            yield from _on_failure(cw, context, step, exc, attempt, max_attempts, policy, scope, watch,
                                   tool_secrets(secrets, tctx), step_key, extra)
            return
        finally:
            runtime.unregister_context(context.run_id, tctx)
        # the data assets the step declares (``assets``), before its result
        yield from materializations(context, cw.workflow, step, scope, res, tool_result.written,
                                    lambda text: cw.mask(text, secrets))
        # failure handlers rebuild results from this metadata (``result``), in any process
        yield dg.Output(res, "result", metadata=result_metadata(res, SUCCEEDED, tool_result, secrets))

    tags = _step_tags(cw, node, "for_each_element" if element else "step")
    if element:
        tags[TAG_FOR_EACH] = cw.step_key(step.id)
    return dg.OpDefinition(
        name=cw.op_name(step.id),
        ins=ins,
        outs={"result": dg.Out(description="The step result: output, status, succeeded, error, "
                                           "duration, attempts and the tool's fields.")},
        compute_fn=compute,
        description=_describe_step(step),
        required_resource_keys=set() if cw.params_input else {RESOURCE_KEY},
        retry_policy=policy,
        tags=tags,
        pool=step.pool,
    )


def _on_failure(cw: CompiledWorkflow, context: Any, step: Step, exc: Exception, attempt: int,
                max_attempts: int, policy: dg.RetryPolicy | None, scope: Mapping[str, Any],
                watch: runtime.Stopwatch, secrets: tuple[str, ...], step_key: str,
                extra: Mapping[str, Any] | None):
    """A failed attempt: retry, continue, run the fallback or fail the step, as
    :func:`yaml2dag.format.semantics.after_failure` says."""
    message = cw.mask(runtime.error_message(exc), secrets)
    fields = cw.mask(exc.fields, secrets) if isinstance(exc, ToolError) else {}
    then = after_failure(step, attempt, runtime.is_retryable(exc))
    if then.action == RETRY:
        if policy is not None:
            raise op_failure(f"attempt {attempt}/{max_attempts} failed: {message}", exc, secrets, retries=True) from None
        raise dg.RetryRequested(max_retries=max_attempts - 1, seconds_to_wait=then.wait) from op_failure(
            f"attempt {attempt}/{max_attempts} failed: {message}", exc, secrets)
    after = f" after {attempt} attempts" if attempt > 1 else ""
    if then.action == CONTINUE:
        context.log.warning(f"step `{step.id}` failed{after}; continuing (on_error: continue): {message}")
        res = result(None, status=FAILED, error=message, duration=watch.elapsed, attempts=attempt, fields=fields)
        if extra:
            res.update(extra)
        try:
            res = storable(res, secrets)
        except ToolError as leak:
            raise op_failure(f"{message}; {leak}", None, secrets) from None
        yield dg.Output(res, "result", metadata=result_metadata(res, CONTINUED, None, secrets))
        return
    if then.action == RUN_FALLBACK:
        assert step.fallback is not None
        context.log.warning(f"step `{step.id}` failed{after}: {message}; running its fallback")
        fb_scope = dict(scope)
        fb_scope.update(error=message, failed_step=step.id)
        try:
            fb = run_body(cw, context, step.fallback, fb_scope, step.id, secrets, step_key)
        except Exception as fb_exc:  # noqa: BLE001
            raise op_failure(f"{message}; the fallback failed too: {runtime.error_message(fb_exc)}", fb_exc,
                             secrets) from None
        res = result(fb.output, status=FAILED, error=message, duration=watch.elapsed,
                     attempts=attempt, fields={**fb.fields, "fallback": True})
        if extra:
            res.update(extra)
        try:
            res = storable(res, secrets)
        except ToolError as leak:
            raise op_failure(f"{message}; the fallback's result: {leak}", None, secrets) from None
        yield dg.Output(res, "result", metadata=result_metadata(res, FALLBACK, fb, secrets))
        return
    raise op_failure(message + (f" ({attempt} attempts)" if attempt > 1 else ""), exc, secrets,
                     extra={"step": dg.MetadataValue.text(step.id)}) from None


__all__ = ["retry_policy", "run_body", "step_op", "tool_action"]
