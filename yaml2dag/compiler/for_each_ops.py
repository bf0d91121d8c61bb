"""The ops around a ``for_each`` step (spec §4 ``for_each``).

* **items op** (``<step>__items``): renders the list and yields one dynamic output per element;
  the step's op is *mapped* over them (one Dagster step per element: ``step[0]``, ``step[1]``...);
* **results op** (``<step>__results``): collects the element results back in element order into
  the step's result (``succeeded`` when every element did, else ``failed`` with outcome
  ``continued``).

The elements are stored *sealed*: a secret in an element is kept as the name of its environment
variable and read back by the element's op (:meth:`CompiledWorkflow.seal`).
"""

from __future__ import annotations

import dagster as dg

from yaml2dag.format.errors import TemplateError
from yaml2dag.format.expressions import evaluate, render_value
from yaml2dag.format.masking import SecretInResultError, masker_of
from yaml2dag.format.naming import ITEMS_SUFFIX, RESULTS_SUFFIX
from yaml2dag.format.plan import Node
from yaml2dag.format.semantics import CONTINUED, FAILED, SUCCEEDED, result
from yaml2dag.format.model import Step
from yaml2dag.format.tags import TAG_STEP_KIND
from yaml2dag.tools.base import ToolError
from yaml2dag.compiler import runtime
from yaml2dag.compiler.op_io import gate_resources, in_time, op_failure, read_inputs, result_metadata
from yaml2dag.compiler.scope import CompiledWorkflow
from yaml2dag.compiler.sinks import guard_step


def items_op(cw: CompiledWorkflow, node: Node, ins: dict[str, dg.In]) -> dg.OpDefinition:
    """The fan-out op of a ``for_each`` step: one dynamic output per element."""
    step: Step = node.entry  # type: ignore[assignment]
    reads = tuple(node.reads)

    def compute(context, inputs):
        secrets = cw.secret_values()
        guard_step(context, secrets)
        results, _skipped = read_inputs(inputs, reads)
        scope = cw.scope(context, cw.params(context, inputs), results)
        try:
            values = in_time(context, step.id, lambda: evaluate(step.for_each, scope) if isinstance(step.for_each, str)
                             else render_value(step.for_each, scope), "rendering its for_each list", step.timeout)
        except (TemplateError, ToolError) as exc:
            raise op_failure(f"for_each: {exc}", None, secrets) from None
        if isinstance(values, dict):
            values = [{"key": k, "value": v} for k, v in values.items()]
        if isinstance(values, tuple):
            values = list(values)
        if not isinstance(values, list):
            raise op_failure(f"for_each must give a list, got {type(values).__name__}: {runtime.preview(values, 200)}",
                             None, secrets)
        context.log.info(f"step `{step.id}` runs for {len(values)} element(s)")
        for index, item in enumerate(values):
            # stored by the IO manager: a secret in an element is kept as its variable's name and
            # read back from the environment by the element's step (cw.unseal)
            sealed = cw.seal(item)
            leak = masker_of(secrets).find(sealed, f"element {index}")
            if leak:
                raise op_failure(f"for_each: {SecretInResultError(leak)}", None, secrets)
            yield dg.DynamicOutput({"index": index, "item": sealed}, output_name="items",
                                   mapping_key=str(index))

    return dg.OpDefinition(
        name=cw.op_name(step.id + ITEMS_SUFFIX),
        ins=ins,
        outs={"items": dg.DynamicOut(description="One element of the for_each list.")},
        compute_fn=compute,
        description=f"Elements of step `{step.id}`: {step.for_each}",
        required_resource_keys=gate_resources(cw),
        tags={TAG_STEP_KIND: "for_each_items"},
    )


def results_op(cw: CompiledWorkflow, node: Node) -> dg.OpDefinition:
    """The fan-in op of a ``for_each`` step: element results back in order, as the step result."""
    step: Step = node.entry  # type: ignore[assignment]

    def compute(context, inputs):
        secrets = cw.secret_values()
        guard_step(context, secrets)
        elements = sorted(inputs["results"], key=lambda r: r.get("index", 0))
        failed = [r for r in elements if r.get("status") != SUCCEEDED]
        status = SUCCEEDED if not failed else FAILED
        error = None
        if failed:
            error = f"{len(failed)} of {len(elements)} element(s) failed; first (index {failed[0].get('index')}): {failed[0].get('error')}"
        res = result(
            [r.get("output") for r in elements], status=status, error=error,
            duration=sum(float(r.get("duration", 0.0)) for r in elements),
            attempts=max([int(r.get("attempts", 1)) for r in elements] or [1]),
            fields={"results": elements, "count": len(elements)},
        )
        yield dg.Output(res, "result", metadata=result_metadata(res, SUCCEEDED if not failed else CONTINUED,
                                                                None, secrets))

    return dg.OpDefinition(
        name=cw.op_name(step.id + RESULTS_SUFFIX),
        ins={"results": dg.In(description="Results of every element.")},
        outs={"result": dg.Out(description="The for_each step's result: output is the list of element outputs.")},
        compute_fn=compute,
        description=f"Collects the element results of step `{step.id}` in element order.",
        tags={TAG_STEP_KIND: "for_each_results"},
    )


__all__ = ["items_op", "results_op"]
