"""The ops that decide what runs: condition ops and decision ops.

* **condition op** (``<step>__when``), in front of a step that may be skipped: decides from the
  enclosing branch's decision, the skipped-ness of the steps whose result it reads (a step it
  only reads the state of, ``Node.state_reads``, is no reason to skip) and the ``when``
  condition (:meth:`yaml2dag.format.semantics.Gate.skip_reason`); then, when the run asks
  before the step (supervised mode, ``confirm: true``), waits for the answer
  (:mod:`yaml2dag.compiler.confirm_gate`). It yields either ``go`` (the
  step runs) or ``skipped`` (a skipped-result, so steps ordered after it still run); the step
  then ends as a real ``STEP_SKIPPED``, as Dagster's conditional outputs
  (``Out(is_required=False)``) prescribe.
* **decision op** (node name = the branch/switch id): evaluates ``if``/``switch``
  (:func:`yaml2dag.format.semantics.decide`) and yields ``decision``: the side to run
  (``then``, ``else``, a case key, ``default``) or None.

The failure handling runs ``on_failure`` steps with the same rules, outside Dagster's graph
(:mod:`yaml2dag.compiler.failure`).
"""

from __future__ import annotations

import dagster as dg

from yaml2dag.format.errors import TemplateError
from yaml2dag.format.naming import CONDITION_SUFFIX
from yaml2dag.format.plan import Node
from yaml2dag.format.semantics import Gate, decide, holds, read_skipped
from yaml2dag.format.tags import TAG_STEP_KIND
from yaml2dag.tools.base import ToolError
from yaml2dag.compiler import runtime
from yaml2dag.compiler.confirm_gate import asker_of, confirm_step
from yaml2dag.compiler.op_io import gate_resources, in_time, op_failure, read_inputs
from yaml2dag.compiler.scope import CompiledWorkflow
from yaml2dag.compiler.sinks import guard_step


def condition_op(cw: CompiledWorkflow, node: Node, ins: dict[str, dg.In]) -> dg.OpDefinition:
    """The op in front of a step that may be skipped (see the module docstring)."""
    entry = node.entry
    gate = Gate.of(node)
    when = gate.when
    step_id = node.id

    def compute(context, inputs):
        guard_step(context, cw.secret_values())
        results, _skipped = read_inputs(inputs, gate.reads, gate.state_reads)

        def check(condition) -> bool:
            scope = cw.scope(context, cw.params(context, inputs), results)
            return in_time(context, step_id, lambda: holds(condition, scope), "evaluating its condition",
                           getattr(entry, "timeout", None))

        try:
            reason = gate.skip_reason(inputs["decision"] if gate.context is not None else None, results, check)
        except (TemplateError, ToolError) as exc:
            raise op_failure(f"when: {exc}", None, cw.secret_values()) from None
        asker = asker_of(context, cw, entry) if reason is None else None
        if asker is not None:  # supervised mode, `confirm: true` (yaml2dag.compiler.confirm_gate)
            reason = confirm_step(context, cw, entry, asker)
        if reason is None:
            yield dg.Output(None, "go")
        else:
            context.log.info(f"step `{step_id}` is skipped: {reason}")
            yield dg.Output(runtime.skipped_result(reason), "skipped",
                            metadata={"reason": dg.MetadataValue.text(reason)})

    return dg.OpDefinition(
        name=cw.op_name(step_id + CONDITION_SUFFIX),
        ins=ins,
        outs={"go": dg.Out(dg.Nothing, is_required=False, description="Emitted when the step runs."),
              "skipped": dg.Out(is_required=False, description="Emitted when the step is skipped.")},
        compute_fn=compute,
        description=f"Decides whether step `{step_id}` runs" + (f": {when}" if isinstance(when, str) else ""),
        required_resource_keys=gate_resources(cw),
        tags={TAG_STEP_KIND: "condition"},
    )


def decision_op(cw: CompiledWorkflow, node: Node, ins: dict[str, dg.In]) -> dg.OpDefinition:
    """The op of a branch or switch: yields the side to run (or None)."""
    entry = node.entry
    gate = Gate.of(node)

    def compute(context, inputs):
        guard_step(context, cw.secret_values())
        decision = None
        results, skipped = read_inputs(inputs, gate.reads, gate.state_reads)
        not_reached = gate.not_reached(inputs["decision"]) if gate.context is not None else None
        if not_reached is not None:
            note = f"is not reached: {not_reached}"
        elif skipped is not None:
            note = f"takes no side: {read_skipped(skipped)}"
        else:
            try:
                scope = cw.scope(context, cw.params(context, inputs), results)
                decision = in_time(context, entry.id, lambda: decide(entry, scope), "evaluating its condition")
            except (TemplateError, ToolError) as exc:
                raise op_failure(f"{entry.kind} `{entry.id}`: {exc}", None, cw.secret_values()) from None
            note = f"takes `{decision}`" if decision else "takes no side: no case matches and there is no default"
        context.log.info(f"{entry.kind} `{entry.id}` {note}")
        yield dg.Output(decision, "decision", metadata={"decision": dg.MetadataValue.text(str(decision))})

    return dg.OpDefinition(
        name=cw.op_name(entry.id),
        ins=ins,
        outs={"decision": dg.Out(description="The side that runs, or None.")},
        compute_fn=compute,
        description=(entry.name or f"{entry.kind} {entry.id}") + (f"\n\n{entry.description}" if entry.description else ""),
        required_resource_keys=gate_resources(cw),
        tags={TAG_STEP_KIND: entry.kind},
    )


__all__ = ["condition_op", "decision_op"]
