"""The Dagster ops of a compiled workflow.

Each op is an :class:`dagster.OpDefinition` whose compute function receives
``(context, inputs)``:

* **step op** (node name = the step id): renders the step's parameters, runs the tool action,
  and applies ``retry`` / ``on_error`` / ``fallback`` / ``timeout`` (spec §4). Its ``result``
  output is the step result dict (see :mod:`.runtime`). A ``for_each`` step's op is *mapped*
  over the elements: one Dagster step per element (``step[0]``, ``step[1]``, ...).
* **items op** (``<step>__items``) of a ``for_each`` step: renders the list and yields one
  dynamic output per element; **results op** (``<step>__results``) collects the element
  results back in element order into the step's result.
* **condition op** (``<step>__when``), in front of a step that may be skipped: decides from the
  enclosing branch's decision, the skipped-ness of the steps whose result it reads (a step it
  only reads the state of, ``Node.state_reads``, is no reason to skip) and the ``when``
  condition. It yields either ``go`` (the step runs) or ``skipped`` (a skipped-result, so steps
  ordered after it still run); the step then ends as a real ``STEP_SKIPPED``, as Dagster's
  conditional outputs (``Out(is_required=False)``) prescribe.
* **decision op** (node name = the branch/switch id): evaluates ``if``/``switch`` and yields
  ``decision``: the side to run (``then``, ``else``, a case key, ``default``) or None.
* **parameters op** (``<step>__parameters``) of a sub-workflow step: renders the values passed
  to the inlined workflow and checks them against its declarations.
* **outputs op** (``workflow_outputs``): renders the workflow ``outputs`` at the end and
  records them as output metadata (stored with the run, shown in the UI). Inside a
  sub-workflow it yields the sub-workflow step's result.

Every value that leaves an op (results, metadata, log lines, error messages) has the
workflow's secrets masked (spec §3). The two values that carry a secret to a later op — the
parameters of a sub-workflow and the elements of a ``for_each`` list — are stored *sealed*
instead: each secret is kept as the name of its environment variable and read back from the
environment by the op that uses it (:meth:`CompiledWorkflow.seal`), so the step sees the real
value and run storage never holds it. Failure handlers rebuild step results from the
``result`` output metadata (:mod:`.failure`).
"""

from __future__ import annotations

import json
import traceback
from typing import Any, Mapping

import dagster as dg

from yaml2dag.format.errors import ParameterError, TemplateError
from yaml2dag.format.masking import SecretInResultError, masker_of
from yaml2dag.format.model import Branch, Step, StepBody, Switch, Workflow
from yaml2dag.format.parameters import resolve
from yaml2dag.format.plan import Node
from yaml2dag.format.expressions import evaluate, render_value, truthy
from yaml2dag.tools.base import Action, Markdown, ToolContext, ToolError, ToolResult, check_parameters
from yaml2dag.tools.registry import get_tool
from yaml2dag.compiler import runtime
from yaml2dag.compiler.config import RESOURCE_KEY
from yaml2dag.compiler.scope import (
    PARAMS_INPUT,
    TAG_FOR_EACH,
    TAG_MAX_ATTEMPTS,
    TAG_PARALLEL_GROUP,
    TAG_STEP_KIND,
    CompiledWorkflow,
)
from yaml2dag.compiler.sinks import guard_step

#: Largest JSON copy of a step result kept in the event log (bytes); larger ones get a preview.
MAX_RESULT_METADATA = 8192


def _metadata_value(value: Any) -> Any:
    if isinstance(value, Markdown):
        return dg.MetadataValue.md(str(value))
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, float):
        return dg.MetadataValue.float(value)
    if isinstance(value, (dict, list)):
        return dg.MetadataValue.json(runtime.to_jsonable(value))
    return dg.MetadataValue.text(str(value))


def result_metadata(res: Mapping[str, Any], status: str, tool_result: ToolResult | None = None,
                    secrets: tuple[str, ...] = ()) -> dict:
    """Output metadata of a step result: status, attempts, duration, the output (as JSON when
    small, else a preview) and the tool's own metadata; secrets masked."""
    meta: dict[str, Any] = {
        "status": dg.MetadataValue.text(status),
        "attempts": dg.MetadataValue.int(int(res.get("attempts", 1))),
        "duration (s)": dg.MetadataValue.float(float(res.get("duration", 0.0))),
    }
    masker = masker_of(secrets)
    if res.get("error"):
        meta["error"] = dg.MetadataValue.text(masker.text(str(res["error"])))
    if res.get("output") is not None:
        # the text of an object (str(), to_string()) may show what masking its type could not
        meta["output"] = dg.MetadataValue.text(masker.text(runtime.preview(res["output"])))
    if "exit_code" in res and isinstance(res["exit_code"], int):
        meta["exit_code"] = dg.MetadataValue.int(res["exit_code"])
    try:
        compact = masker.value(runtime.to_jsonable(res))
        text = json.dumps(compact, default=str)
        if len(text) <= MAX_RESULT_METADATA:
            meta["result"] = dg.MetadataValue.json(compact)
    except (TypeError, ValueError):
        pass
    if tool_result is not None:
        from yaml2dag.format.secrets import mask

        for key, value in tool_result.metadata.items():
            meta[key] = _metadata_value(mask(value, secrets) if not isinstance(value, Markdown)
                                        else Markdown(mask(str(value), secrets)))
    return meta


def tool_action(tool_name: str, action_name: str | None) -> Action:
    tool = get_tool(tool_name)
    if tool is None:
        raise dg.DagsterInvalidDefinitionError(f"unknown tool `{tool_name}`")
    action = tool.action(action_name)
    if action is None:
        raise dg.DagsterInvalidDefinitionError(f"unknown action `{action_name}` of tool `{tool_name}`")
    return action


def _uses_retry_policy(step: Step) -> bool:
    """RetryPolicy's formulas match ours for constant and linear backoff when the cap never
    bites; exponential (Dagster: delay*(2^n-1), ours: delay*2^(n-1)) uses RetryRequested."""
    retry = step.retry
    if retry is None or retry.max_attempts <= 1 or retry.backoff == "exponential":
        return False
    # the longest uncapped wait (schedule() is already capped at max_delay, so it cannot tell)
    longest = retry.delay * (retry.max_attempts - 1 if retry.backoff == "linear" else 1)
    return longest <= retry.max_delay


def retry_policy(step: Step) -> dg.RetryPolicy | None:
    """The Dagster RetryPolicy of a step, when its semantics match (see _uses_retry_policy)."""
    if not _uses_retry_policy(step):
        return None
    retry = step.retry
    assert retry is not None
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


def _failure(message: str, exc: BaseException | None, secrets: tuple[str, ...], *, retries: bool = False,
             extra: Mapping[str, Any] | None = None) -> dg.Failure:
    """A Dagster Failure whose texts have the secrets masked; a masked traceback of an
    unexpected exception is kept as metadata (the exception itself is not chained, so its
    unmasked text never reaches the event log)."""
    from yaml2dag.format.secrets import mask

    meta: dict[str, Any] = dict(extra or {})
    if exc is not None and not isinstance(exc, (ToolError, TemplateError)):
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        meta["traceback"] = dg.MetadataValue.text(mask(tb, secrets)[-6000:])
    return dg.Failure(description=mask(message, secrets), allow_retries=retries, metadata=meta)


def _storable(value: Any, secrets: tuple[str, ...], where: str = "") -> Any:
    """``value`` with the secrets masked, ready to be stored (:meth:`yaml2dag.format.masking.Masker.check`).

    Raises:
        ToolError: (not retryable) a secret is inside an object that cannot be masked; the
            step fails instead of pickling it into run storage.
    """
    try:
        return masker_of(secrets).check(value, where)
    except SecretInResultError as exc:
        raise ToolError(str(exc), retryable=False) from None


def _tool_secrets(secrets: tuple[str, ...], tctx: Any) -> tuple[str, ...]:
    """The workflow's secrets plus those the tool added while it ran (``ctx.add_secret``)."""
    extra = set(getattr(tctx, "secrets", ())) - set(secrets)
    return tuple(sorted(set(secrets) | extra, key=len, reverse=True)) if extra else secrets


def _in_time(context: Any, step_id: str, render: Any, what: str, timeout: float | None = None) -> Any:
    """Render a template in an op other than a step's own (a condition, a ``for_each`` list, a
    sub-workflow's parameters, the outputs) so that it stops when the run is terminated or times
    out, and after ``timeout`` (the step's own, for its ``when`` and ``for_each``): see
    :func:`runtime.within_step_time`.

    Raises:
        TemplateError: the template failed.
        ToolError: the time ran out or the run was stopped (StepTimeoutError for a timeout).
    """
    tctx = ToolContext(step_id, run_id=context.run_id, timeout=timeout)
    runtime.register_context(context.run_id, tctx)
    try:
        return runtime.within_step_time(render, tctx, what)
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
        results, _skipped = _read_inputs(inputs, reads)
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
            secrets = _tool_secrets(secrets, tctx)
            res = runtime.result(tool_result.output, duration=watch.elapsed, attempts=attempt,
                                 fields=tool_result.fields)
            if extra:
                res.update(extra)
            # masked as the same kind of value; a secret inside an object that cannot be masked
            # fails the step (under its on_error) instead of being pickled into run storage
            res = _storable(res, secrets)
        except Exception as exc:  # noqa: BLE001 - every failure goes through on_error
            yield from _on_failure(cw, context, step, exc, attempt, max_attempts, policy, scope, watch,
                                   _tool_secrets(secrets, tctx), step_key, extra)
            return
        finally:
            runtime.unregister_context(context.run_id, tctx)
        # failure handlers rebuild results from this metadata (``result``), in any process
        yield dg.Output(res, "result", metadata=result_metadata(res, "succeeded", tool_result, secrets))

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
    message = cw.mask(runtime.error_message(exc), secrets)
    fields = cw.mask(exc.fields, secrets) if isinstance(exc, ToolError) else {}
    if runtime.is_retryable(exc) and attempt < max_attempts:
        if policy is not None:
            raise _failure(f"attempt {attempt}/{max_attempts} failed: {message}", exc, secrets, retries=True) from None
        assert step.retry is not None
        wait = step.retry.delay_for(attempt)
        raise dg.RetryRequested(max_retries=max_attempts - 1, seconds_to_wait=wait) from _failure(
            f"attempt {attempt}/{max_attempts} failed: {message}", exc, secrets)
    final = step.final_on_error
    after = f" after {attempt} attempts" if attempt > 1 else ""
    if final == "continue":
        context.log.warning(f"step `{step.id}` failed{after}; continuing (on_error: continue): {message}")
        res = runtime.result(None, status=runtime.FAILED, error=message, duration=watch.elapsed,
                             attempts=attempt, fields=fields)
        if extra:
            res.update(extra)
        try:
            res = _storable(res, secrets)
        except ToolError as leak:
            raise _failure(f"{message}; {leak}", None, secrets) from None
        yield dg.Output(res, "result", metadata=result_metadata(res, "continued", None, secrets))
        return
    if final == "fallback" and step.fallback is not None:
        context.log.warning(f"step `{step.id}` failed{after}: {message}; running its fallback")
        fb_scope = dict(scope)
        fb_scope.update(error=message, failed_step=step.id)
        try:
            fb = run_body(cw, context, step.fallback, fb_scope, step.id, secrets, step_key)
        except Exception as fb_exc:  # noqa: BLE001
            raise _failure(f"{message}; the fallback failed too: {runtime.error_message(fb_exc)}", fb_exc,
                           secrets) from None
        res = runtime.result(fb.output, status=runtime.FAILED, error=message, duration=watch.elapsed,
                             attempts=attempt, fields={**fb.fields, "fallback": True})
        if extra:
            res.update(extra)
        try:
            res = _storable(res, secrets)
        except ToolError as leak:
            raise _failure(f"{message}; the fallback's result: {leak}", None, secrets) from None
        yield dg.Output(res, "result", metadata=result_metadata(res, "fallback", fb, secrets))
        return
    raise _failure(message + (f" ({attempt} attempts)" if attempt > 1 else ""), exc, secrets,
                   extra={"step": dg.MetadataValue.text(step.id)}) from None


def _read_inputs(inputs: Mapping[str, Any], reads: tuple[str, ...],
                 state_reads: frozenset[str] = frozenset()) -> tuple[dict, str | None]:
    """The results of the steps ``reads`` names, by step id, and the first of them that was
    skipped whose result (not only its state, ``state_reads``) is read, if any.

    An input is a step result dict, or a list of one such dict when it comes through a fan-in
    (``GraphBuilder.state_read``); a skipped step's is :func:`runtime.skipped_result`.
    """
    results: dict[str, Any] = {}
    skipped = None
    for r in reads:
        value = inputs[r]
        value = value[0] if isinstance(value, list) else value
        results[r] = value
        if (skipped is None and r not in state_reads and isinstance(value, dict)
                and value.get("status") == runtime.SKIPPED):
            skipped = r
    return results, skipped


def _gate_ins(cw: CompiledWorkflow) -> set[str]:
    return set() if cw.params_input else {RESOURCE_KEY}


def condition_op(cw: CompiledWorkflow, node: Node, ins: dict[str, dg.In]) -> dg.OpDefinition:
    """The op in front of a step that may be skipped (see the module docstring)."""
    entry = node.entry
    when = getattr(entry, "when", None)
    reads = tuple(node.reads)
    state_reads = frozenset(node.state_reads)
    context_side = node.context
    step_id = node.id

    def compute(context, inputs):
        guard_step(context, cw.secret_values())
        reason = None
        if context_side is not None:
            decision = inputs["decision"]
            if decision != context_side[1]:
                taken = "no side" if decision is None else f"`{decision}`"
                reason = f"`{context_side[0]}` took {taken}, not `{context_side[1]}`"
        results, skipped = _read_inputs(inputs, reads, state_reads)
        if reason is None and skipped is not None:
            reason = f"it reads step `{skipped}`, which was skipped"
        if reason is None and when is not None and when is not True:
            try:
                scope = cw.scope(context, cw.params(context, inputs), results)
                value = _in_time(context, step_id, lambda: evaluate(when, scope), "evaluating its condition",
                                 getattr(entry, "timeout", None))
            except (TemplateError, ToolError) as exc:
                raise _failure(f"when: {exc}", None, cw.secret_values()) from None
            if not truthy(value):
                reason = f"its condition is false: {when}"
        if reason is None:
            yield dg.Output(None, "go")
        else:
            context.log.info(f"step `{step_id}` is skipped: {reason}")
            yield dg.Output(runtime.skipped_result(reason), "skipped",
                            metadata={"reason": dg.MetadataValue.text(reason)})

    return dg.OpDefinition(
        name=cw.op_name(f"{step_id}__when"),
        ins=ins,
        outs={"go": dg.Out(dg.Nothing, is_required=False, description="Emitted when the step runs."),
              "skipped": dg.Out(is_required=False, description="Emitted when the step is skipped.")},
        compute_fn=compute,
        description=f"Decides whether step `{step_id}` runs" + (f": {when}" if isinstance(when, str) else ""),
        required_resource_keys=_gate_ins(cw),
        tags={TAG_STEP_KIND: "condition"},
    )


def _case_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def decision_op(cw: CompiledWorkflow, node: Node, ins: dict[str, dg.In]) -> dg.OpDefinition:
    """The op of a branch or switch: yields the side to run (or None)."""
    entry = node.entry
    reads = tuple(node.reads)
    state_reads = frozenset(node.state_reads)
    context_side = node.context

    def decide(scope: Mapping[str, Any]) -> str | None:
        if isinstance(entry, Branch):
            return "then" if truthy(evaluate(entry.condition, scope)) else "else"
        assert isinstance(entry, Switch)
        text = _case_text(evaluate(entry.expression, scope))
        for key, _entries in entry.cases:
            if key == text:
                return key
        return "default" if entry.default is not None else None

    def compute(context, inputs):
        guard_step(context, cw.secret_values())
        decision = None
        results, skipped = _read_inputs(inputs, reads, state_reads)
        if context_side is not None and inputs["decision"] != context_side[1]:
            note = f"is not reached: `{context_side[0]}` did not take `{context_side[1]}`"
        elif skipped is not None:
            note = f"takes no side: it reads step `{skipped}`, which was skipped"
        else:
            try:
                scope = cw.scope(context, cw.params(context, inputs), results)
                decision = _in_time(context, entry.id, lambda: decide(scope), "evaluating its condition")
            except (TemplateError, ToolError) as exc:
                raise _failure(f"{entry.kind} `{entry.id}`: {exc}", None, cw.secret_values()) from None
            note = f"takes `{decision}`" if decision else "takes no side: no case matches and there is no default"
        context.log.info(f"{entry.kind} `{entry.id}` {note}")
        yield dg.Output(decision, "decision", metadata={"decision": dg.MetadataValue.text(str(decision))})

    return dg.OpDefinition(
        name=cw.op_name(entry.id),
        ins=ins,
        outs={"decision": dg.Out(description="The side that runs, or None.")},
        compute_fn=compute,
        description=(entry.name or f"{entry.kind} {entry.id}") + (f"\n\n{entry.description}" if entry.description else ""),
        required_resource_keys=_gate_ins(cw),
        tags={TAG_STEP_KIND: entry.kind},
    )


def items_op(cw: CompiledWorkflow, node: Node, ins: dict[str, dg.In]) -> dg.OpDefinition:
    """The fan-out op of a ``for_each`` step: one dynamic output per element."""
    step: Step = node.entry  # type: ignore[assignment]
    reads = tuple(node.reads)

    def compute(context, inputs):
        secrets = cw.secret_values()
        guard_step(context, secrets)
        results, _skipped = _read_inputs(inputs, reads)
        scope = cw.scope(context, cw.params(context, inputs), results)
        try:
            values = _in_time(context, step.id, lambda: evaluate(step.for_each, scope) if isinstance(step.for_each, str)
                              else render_value(step.for_each, scope), "rendering its for_each list", step.timeout)
        except (TemplateError, ToolError) as exc:
            raise _failure(f"for_each: {exc}", None, secrets) from None
        if isinstance(values, dict):
            values = [{"key": k, "value": v} for k, v in values.items()]
        if isinstance(values, tuple):
            values = list(values)
        if not isinstance(values, list):
            raise _failure(f"for_each must give a list, got {type(values).__name__}: {runtime.preview(values, 200)}",
                           None, secrets)
        context.log.info(f"step `{step.id}` runs for {len(values)} element(s)")
        for index, item in enumerate(values):
            # stored by the IO manager: a secret in an element is kept as its variable's name and
            # read back from the environment by the element's step (cw.unseal)
            sealed = cw.seal(item)
            leak = masker_of(secrets).find(sealed, f"element {index}")
            if leak:
                raise _failure(f"for_each: {SecretInResultError(leak)}", None, secrets)
            yield dg.DynamicOutput({"index": index, "item": sealed}, output_name="items",
                                   mapping_key=str(index))

    return dg.OpDefinition(
        name=cw.op_name(f"{step.id}__items"),
        ins=ins,
        outs={"items": dg.DynamicOut(description="One element of the for_each list.")},
        compute_fn=compute,
        description=f"Elements of step `{step.id}`: {step.for_each}",
        required_resource_keys=_gate_ins(cw),
        tags={TAG_STEP_KIND: "for_each_items"},
    )


def results_op(cw: CompiledWorkflow, node: Node) -> dg.OpDefinition:
    """The fan-in op of a ``for_each`` step: element results back in order, as the step result."""
    step: Step = node.entry  # type: ignore[assignment]

    def compute(context, inputs):
        secrets = cw.secret_values()
        guard_step(context, secrets)
        elements = sorted(inputs["results"], key=lambda r: r.get("index", 0))
        failed = [r for r in elements if r.get("status") != runtime.SUCCEEDED]
        status = runtime.SUCCEEDED if not failed else runtime.FAILED
        error = None
        if failed:
            error = f"{len(failed)} of {len(elements)} element(s) failed; first (index {failed[0].get('index')}): {failed[0].get('error')}"
        res = runtime.result(
            [r.get("output") for r in elements], status=status, error=error,
            duration=sum(float(r.get("duration", 0.0)) for r in elements),
            attempts=max([int(r.get("attempts", 1)) for r in elements] or [1]),
            fields={"results": elements, "count": len(elements)},
        )
        yield dg.Output(res, "result", metadata=result_metadata(res, "succeeded" if not failed else "continued",
                                                                None, secrets))

    return dg.OpDefinition(
        name=cw.op_name(f"{step.id}__results"),
        ins={"results": dg.In(description="Results of every element.")},
        outs={"result": dg.Out(description="The for_each step's result: output is the list of element outputs.")},
        compute_fn=compute,
        description=f"Collects the element results of step `{step.id}` in element order.",
        tags={TAG_STEP_KIND: "for_each_results"},
    )


def subworkflow_parameters_op(cw: CompiledWorkflow, node: Node, ins: dict[str, dg.In],
                              child: Workflow) -> dg.OpDefinition:
    """Renders the parameters a sub-workflow step passes and checks them against the child."""
    entry = node.entry
    reads = tuple(node.reads)

    def compute(context, inputs):
        secrets = cw.secret_values()
        guard_step(context, secrets)
        results, _skipped = _read_inputs(inputs, reads)
        scope = cw.scope(context, cw.params(context, inputs), results)
        try:
            given = _in_time(context, entry.id, lambda: render_value(dict(entry.parameters), scope), "rendering its parameters")
            values = resolve(child, given)
        except (TemplateError, ParameterError, ToolError) as exc:
            raise _failure(f"sub-workflow `{entry.id}` ({child.name}): {exc}", None, secrets) from None
        # the IO manager pickles this output into run storage: secrets are sealed (kept as the
        # names of their environment variables) and read back by the child's ops (cw.params)
        yield dg.Output(cw.seal(values), "parameters", metadata={
            "parameters": dg.MetadataValue.json(runtime.to_jsonable(cw.mask(values, secrets)))})

    return dg.OpDefinition(
        name=cw.op_name(f"{entry.id}__parameters"),
        ins=ins,
        outs={"parameters": dg.Out(description=f"Parameters of the sub-workflow {child.name!r}.")},
        compute_fn=compute,
        description=f"Parameters passed to the sub-workflow {child.name!r}",
        required_resource_keys=_gate_ins(cw),
        tags={TAG_STEP_KIND: "subworkflow_parameters"},
    )


def outputs_op(cw: CompiledWorkflow, name: str, reads: list[str], ins: dict[str, dg.In]) -> dg.OpDefinition:
    """Renders the workflow outputs; as a sub-workflow, yields the step result instead."""
    outputs = cw.workflow.outputs
    as_step = cw.params_input
    out_name = "result" if as_step else "outputs"

    def compute(context, inputs):
        secrets = cw.secret_values()
        guard_step(context, secrets)
        results, _skipped = _read_inputs(inputs, tuple(reads))
        scope = cw.scope(context, cw.params(context, inputs), results)
        rendered = {}
        for key, template in outputs.items():
            try:
                rendered[key] = _in_time(context, "outputs", lambda: render_value(template, scope), f"rendering outputs.{key}")
            except (TemplateError, ToolError) as exc:
                raise _failure(f"outputs.{key}: {exc}", None, secrets) from None
        try:
            rendered = _storable(rendered, secrets, "outputs")
        except ToolError as leak:
            raise _failure(f"outputs: {leak}", None, secrets) from None
        as_json = masker_of(secrets).value(runtime.to_jsonable(rendered))
        meta = {"outputs": dg.MetadataValue.json(as_json)}
        for key, value in as_json.items():
            meta[f"outputs.{key}"] = dg.MetadataValue.text(value) if isinstance(value, str) else _metadata_value(value)
        value: Any = rendered
        if as_step:
            value = runtime.result(rendered)
            # the sub-workflow step's result, for failure handlers of the including workflow
            meta["result"] = dg.MetadataValue.json(runtime.to_jsonable(value))
        yield dg.Output(value, out_name, metadata=meta)

    return dg.OpDefinition(
        name=cw.op_name(name),
        ins=ins,
        outs={out_name: dg.Out(description="The workflow outputs.")},
        compute_fn=compute,
        description="Renders the workflow outputs and stores them with the run.",
        required_resource_keys=_gate_ins(cw),
        tags={TAG_STEP_KIND: "outputs"},
    )
