"""The Dagster ops of a compiled workflow.

Four kinds of ops, each built as an :class:`dagster.OpDefinition` whose compute function
receives ``(context, inputs)``:

* **step op** (node name = the step id): renders the step's parameters, runs the tool action,
  and applies ``retry`` / ``on_error`` / ``fallback`` / ``timeout`` (spec §4). Its ``result``
  output is the step result dict (see :mod:`.runtime`).
* **condition op** (``<step>__when``), in front of a step that may be skipped: decides from the
  enclosing branch's decision, the skipped-ness of the steps it reads and its ``when``
  condition. It yields either ``go`` (the step runs) or ``skipped`` (a skipped-result, so steps
  ordered after it still run); the step itself then ends as a real ``STEP_SKIPPED``, as Dagster's
  conditional outputs (``Out(is_required=False)``) prescribe.
* **decision op** (node name = the branch/switch id): evaluates ``if``/``switch`` and yields
  ``decision``: the side to run (``then``, ``else``, a case key, ``default``) or None.
* **outputs op** (``workflow_outputs``): renders the workflow ``outputs`` at the end and records
  them as output metadata, so they are stored with the run and shown in the UI.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any, Mapping

import dagster as dg

from ..errors import TemplateError
from ..model import Branch, Step, StepBody, Switch, Workflow
from ..plan import Node
from ..templates import evaluate, render_value, truthy
from ..tools.base import Action, Markdown, ToolContext, ToolError, ToolLog, ToolResult
from ..tools.registry import get_tool
from . import runtime
from .config import RESOURCE_KEY

TAG_WORKFLOW = "yaml2dag/workflow"
TAG_VERSION = "yaml2dag/version"
TAG_HASH = "yaml2dag/hash"
TAG_TRIGGER = "yaml2dag/trigger"
TAG_TRIGGER_INFO = "yaml2dag/trigger_info"
TAG_STEP_KIND = "yaml2dag/kind"
TAG_PARALLEL_GROUP = "yaml2dag/parallel_group"


class DagsterToolLog(ToolLog):
    """A :class:`ToolLog` that writes to the Dagster event log of the step."""

    def __init__(self, log: Any):
        self._log = log

    def info(self, message: str) -> None:
        self._log.info(message)

    def warning(self, message: str) -> None:
        self._log.warning(message)

    def error(self, message: str) -> None:
        self._log.error(message)

    def debug(self, message: str) -> None:
        self._log.debug(message)


class CompiledWorkflow:
    """What every op of one job shares: the workflow and where it lives."""

    def __init__(self, workflow: Workflow, workflow_dir: str | None):
        self.workflow = workflow
        self.workflow_dir = workflow_dir

    def run_info(self, context: Any) -> Mapping[str, Any]:
        """``run.*`` for templates; ``started_at`` is looked up only when used."""
        tags = context.run.tags
        values = {
            "id": context.run_id,
            "workflow": self.workflow.name,
            "job": self.workflow.id,
            "version": self.workflow.version,
            "trigger": trigger_kind(tags),
        }
        return runtime.LazyMapping(values, {"started_at": lambda: _started_at(context)})

    def trigger_info(self, context: Any) -> Mapping[str, Any]:
        raw = context.run.tags.get(TAG_TRIGGER_INFO)
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def scope(self, context: Any, results: Mapping[str, Any], extra: Mapping[str, Any] | None = None) -> dict:
        params = context.resources.yaml2dag["parameters"]
        return runtime.build_scope(params, results, self.run_info(context),
                                   trigger=self.trigger_info(context), extra=extra)


def trigger_kind(tags: Mapping[str, str]) -> str:
    """What started a run: ``schedule``, ``sensor``, ``cli``, ``backfill`` or ``manual``."""
    if TAG_TRIGGER in tags:
        return tags[TAG_TRIGGER]
    if "dagster/schedule_name" in tags:
        return "schedule"
    if "dagster/sensor_name" in tags:
        return "sensor"
    if "dagster/backfill" in tags:
        return "backfill"
    return "manual"


def _started_at(context: Any) -> str:
    record = context.instance.get_run_record_by_id(context.run_id)
    stamp = record.start_time if record is not None and record.start_time else None
    moment = _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc) if stamp else _dt.datetime.now(_dt.timezone.utc)
    return moment.isoformat()


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


def result_metadata(res: Mapping[str, Any], status: str, tool_result: ToolResult | None = None) -> dict:
    """Output metadata of a step result: status, attempts, duration, a preview of the output."""
    meta: dict[str, Any] = {
        "status": dg.MetadataValue.text(status),
        "attempts": dg.MetadataValue.int(int(res.get("attempts", 1))),
        "duration (s)": dg.MetadataValue.float(float(res.get("duration", 0.0))),
    }
    if res.get("error"):
        meta["error"] = dg.MetadataValue.text(str(res["error"]))
    if res.get("output") is not None:
        meta["output"] = dg.MetadataValue.text(runtime.preview(res["output"]))
    if "exit_code" in res and isinstance(res["exit_code"], int):
        meta["exit_code"] = dg.MetadataValue.int(res["exit_code"])
    if tool_result is not None:
        for key, value in tool_result.metadata.items():
            meta[key] = _metadata_value(value)
    return meta


def _action(tool_name: str, action_name: str | None) -> Action:
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
    if retry is None or retry.max_attempts <= 1:
        return False
    if retry.backoff == "exponential":
        return False
    return max(retry.schedule() or [0.0]) <= retry.max_delay and retry.delay <= retry.max_delay


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
             step_id: str) -> ToolResult:
    """Run a ``fallback``/``compensate`` body with ``scope``; raises on failure."""
    action = _action(body.tool, body.action)
    params = runtime.render_parameters(body.parameters, scope, action)
    tctx = ToolContext(step_id, run_id=context.run_id, workflow=cw.workflow.name,
                       workflow_dir=cw.workflow_dir, log=DagsterToolLog(context.log), timeout=body.timeout)
    runtime.register_context(context.run_id, tctx)
    try:
        return runtime.run_action(action, tctx, params, body.timeout)
    finally:
        runtime.unregister_context(context.run_id, tctx)


def step_op(cw: CompiledWorkflow, node: Node, ins: dict[str, dg.In]) -> dg.OpDefinition:
    """The op that runs a step (see the module docstring)."""
    step: Step = node.entry  # type: ignore[assignment]
    action = _action(step.tool, step.action)
    reads = tuple(node.reads)
    max_attempts = step.max_attempts
    policy = retry_policy(step)
    workflow = cw.workflow

    def compute(context, inputs):
        results = {r: inputs[r] for r in reads}
        scope = cw.scope(context, results)
        attempt = context.retry_number + 1
        watch = runtime.Stopwatch()
        tctx = ToolContext(step.id, run_id=context.run_id, workflow=workflow.name,
                           workflow_dir=cw.workflow_dir, log=DagsterToolLog(context.log), timeout=step.timeout)
        runtime.register_context(context.run_id, tctx)
        try:
            params = runtime.render_parameters(step.parameters, scope, action)
            tool_result = runtime.run_action(action, tctx, params, step.timeout)
        except Exception as exc:  # noqa: BLE001 - every failure goes through on_error
            yield from _on_failure(cw, context, step, exc, attempt, max_attempts, policy, scope, watch)
            return
        finally:
            runtime.unregister_context(context.run_id, tctx)
        res = runtime.result(tool_result.output, duration=watch.elapsed, attempts=attempt,
                             fields=tool_result.fields)
        yield dg.Output(res, "result", metadata=result_metadata(res, "succeeded", tool_result))

    tags = {TAG_STEP_KIND: "step"}
    if node.group:
        tags[TAG_PARALLEL_GROUP] = node.group
    return dg.OpDefinition(
        name=f"{workflow.id}__{step.id}",
        ins=ins,
        outs={"result": dg.Out(description="The step result: output, status, succeeded, error, "
                                           "duration, attempts and the tool's fields.")},
        compute_fn=compute,
        description=_describe_step(step),
        required_resource_keys={RESOURCE_KEY},
        retry_policy=policy,
        tags=tags,
    )


def _describe_step(step: Step) -> str:
    head = step.name or step.id
    parts = [head]
    if step.description:
        parts.append(step.description)
    parts.append(f"tool: {step.tool}" + (f".{step.action}" if step.action else ""))
    return "\n\n".join(parts)


def _on_failure(cw: CompiledWorkflow, context: Any, step: Step, exc: Exception, attempt: int,
                max_attempts: int, policy: dg.RetryPolicy | None, scope: Mapping[str, Any],
                watch: runtime.Stopwatch):
    message = runtime.error_message(exc)
    fields = exc.fields if isinstance(exc, ToolError) else {}
    retryable = runtime.is_retryable(exc)
    if retryable and attempt < max_attempts:
        if policy is not None:
            raise dg.Failure(description=f"attempt {attempt}/{max_attempts} failed: {message}",
                             allow_retries=True) from None
        assert step.retry is not None
        wait = step.retry.delay_for(attempt)
        raise dg.RetryRequested(max_retries=max_attempts - 1, seconds_to_wait=wait) from dg.Failure(
            description=f"attempt {attempt}/{max_attempts} failed: {message}")
    final = step.final_on_error
    after = f" after {attempt} attempts" if attempt > 1 else ""
    if final == "continue":
        context.log.warning(f"step `{step.id}` failed{after}; continuing (on_error: continue): {message}")
        res = runtime.result(None, status=runtime.FAILED, error=message, duration=watch.elapsed,
                             attempts=attempt, fields=fields)
        yield dg.Output(res, "result", metadata=result_metadata(res, "continued"))
        return
    if final == "fallback" and step.fallback is not None:
        context.log.warning(f"step `{step.id}` failed{after}: {message}; running its fallback")
        fb_scope = dict(scope)
        fb_scope.update(error=message, failed_step=step.id)
        try:
            fb = run_body(cw, context, step.fallback, fb_scope, step.id)
        except Exception as fb_exc:  # noqa: BLE001
            raise dg.Failure(description=f"{message}; the fallback failed too: {runtime.error_message(fb_exc)}",
                             allow_retries=False) from None
        res = runtime.result(fb.output, status=runtime.FAILED, error=message, duration=watch.elapsed,
                             attempts=attempt, fields={**fb.fields, "fallback": True})
        yield dg.Output(res, "result", metadata=result_metadata(res, "fallback", fb))
        return
    raise dg.Failure(description=message + (f" ({attempt} attempts)" if attempt > 1 else ""),
                     allow_retries=False, metadata={"step": step.id}) from None


def condition_op(cw: CompiledWorkflow, node: Node, ins: dict[str, dg.In]) -> dg.OpDefinition:
    """The op in front of a step that may be skipped (see the module docstring)."""
    entry = node.entry
    when = getattr(entry, "when", None)
    reads = tuple(node.reads)
    context_side = node.context
    step_id = node.id

    def compute(context, inputs):
        reason = None
        if context_side is not None:
            decision = inputs["decision"]
            if decision != context_side[1]:
                taken = "no side" if decision is None else f"`{decision}`"
                reason = f"`{context_side[0]}` took {taken}, not `{context_side[1]}`"
        results = {}
        if reason is None:
            for r in reads:
                value = inputs[r][0] if isinstance(inputs[r], list) else inputs[r]
                results[r] = value
                if value.get("status") == runtime.SKIPPED:
                    reason = f"it reads step `{r}`, which was skipped"
                    break
        if reason is None and when is not None and when is not True:
            try:
                value = evaluate(when, cw.scope(context, results))
            except TemplateError as exc:
                raise dg.Failure(description=f"when: {exc}", allow_retries=False) from None
            if not truthy(value):
                reason = f"its condition is false: {when}"
        if reason is None:
            yield dg.Output(None, "go")
        else:
            context.log.info(f"step `{step_id}` is skipped: {reason}")
            yield dg.Output(runtime.skipped_result(reason), "skipped",
                            metadata={"reason": dg.MetadataValue.text(reason)})

    return dg.OpDefinition(
        name=f"{cw.workflow.id}__{step_id}__when",
        ins=ins,
        outs={"go": dg.Out(dg.Nothing, is_required=False, description="Emitted when the step runs."),
              "skipped": dg.Out(is_required=False, description="Emitted when the step is skipped.")},
        compute_fn=compute,
        description=f"Decides whether step `{step_id}` runs" + (f": {when}" if isinstance(when, str) else ""),
        required_resource_keys={RESOURCE_KEY},
        tags={TAG_STEP_KIND: "condition"},
    )


def decision_op(cw: CompiledWorkflow, node: Node, ins: dict[str, dg.In]) -> dg.OpDefinition:
    """The op of a branch or switch: yields the side to run (or None)."""
    entry = node.entry
    reads = tuple(node.reads)
    context_side = node.context

    def decide(scope: Mapping[str, Any]) -> str | None:
        if isinstance(entry, Branch):
            return "then" if truthy(evaluate(entry.condition, scope)) else "else"
        assert isinstance(entry, Switch)
        value = evaluate(entry.expression, scope)
        text = _case_text(value)
        for key, _entries in entry.cases:
            if key == text:
                return key
        return "default" if entry.default is not None else None

    def compute(context, inputs):
        decision = None
        note = ""
        if context_side is not None and inputs["decision"] != context_side[1]:
            note = f"not reached: `{context_side[0]}` did not take `{context_side[1]}`"
        else:
            results = {}
            for r in reads:
                value = inputs[r][0] if isinstance(inputs[r], list) else inputs[r]
                results[r] = value
                if value.get("status") == runtime.SKIPPED:
                    note = f"it reads step `{r}`, which was skipped"
            if not note:
                try:
                    decision = decide(cw.scope(context, results))
                except TemplateError as exc:
                    raise dg.Failure(description=f"{entry.kind} `{entry.id}`: {exc}", allow_retries=False) from None
                note = f"takes `{decision}`" if decision else "no case matches and there is no default"
        context.log.info(f"{entry.kind} `{entry.id}` {note}")
        yield dg.Output(decision, "decision", metadata={"decision": dg.MetadataValue.text(str(decision))})

    return dg.OpDefinition(
        name=f"{cw.workflow.id}__{entry.id}",
        ins=ins,
        outs={"decision": dg.Out(description="The side that runs, or None.")},
        compute_fn=compute,
        description=(entry.name or f"{entry.kind} {entry.id}") + (f"\n\n{entry.description}" if entry.description else ""),
        required_resource_keys={RESOURCE_KEY},
        tags={TAG_STEP_KIND: entry.kind},
    )


def _case_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def outputs_op(cw: CompiledWorkflow, name: str, reads: list[str], ins: dict[str, dg.In]) -> dg.OpDefinition:
    """The op that renders the workflow outputs and stores them with the run."""
    outputs = cw.workflow.outputs

    def compute(context, inputs):
        results = {}
        for r in reads:
            value = inputs[r]
            results[r] = value[0] if isinstance(value, list) else value
        scope = cw.scope(context, results)
        rendered = {}
        for key, template in outputs.items():
            try:
                rendered[key] = render_value(template, scope)
            except TemplateError as exc:
                raise dg.Failure(description=f"outputs.{key}: {exc}", allow_retries=False) from None
        as_json = runtime.to_jsonable(rendered)
        meta = {"outputs": dg.MetadataValue.json(as_json)}
        for key, value in as_json.items():
            meta[f"outputs.{key}"] = _metadata_value(value) if not isinstance(value, str) else dg.MetadataValue.text(value)
        yield dg.Output(rendered, "outputs", metadata=meta)

    return dg.OpDefinition(
        name=f"{cw.workflow.id}__{name}",
        ins=ins,
        outs={"outputs": dg.Out(description="The workflow outputs.")},
        compute_fn=compute,
        description="Renders the workflow outputs and stores them with the run.",
        required_resource_keys={RESOURCE_KEY},
        tags={TAG_STEP_KIND: "outputs"},
    )
