"""The ops at a workflow's boundaries: the parameters passed to a sub-workflow, and the outputs.

* **parameters op** (``<step>__parameters``) of a sub-workflow step: renders the values passed
  to the inlined workflow and checks them against its declarations; they are stored *sealed*
  (secrets kept as the names of their environment variables, :meth:`CompiledWorkflow.seal`);
* **outputs op** (``workflow_outputs``): renders the workflow ``outputs`` at the end and
  records them as output metadata (stored with the run, shown in the UI). Inside a
  sub-workflow it yields the sub-workflow step's result (and its ``result`` metadata, which
  failure handlers of the including workflow read).
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from yaml2dag.format.errors import ParameterError, TemplateError
from yaml2dag.format.expressions import render_value
from yaml2dag.format.masking import masker_of
from yaml2dag.format.model import Workflow
from yaml2dag.format.naming import PARAMETERS_SUFFIX
from yaml2dag.format.parameters import resolve
from yaml2dag.format.plan import Node
from yaml2dag.format.semantics import result
from yaml2dag.format.tags import TAG_STEP_KIND
from yaml2dag.tools.base import ToolError
from yaml2dag.compiler import runtime
from yaml2dag.compiler.op_io import gate_resources, in_time, metadata_value, op_failure, read_inputs, storable
from yaml2dag.compiler.scope import CompiledWorkflow
from yaml2dag.compiler.sinks import guard_step


def subworkflow_parameters_op(cw: CompiledWorkflow, node: Node, ins: dict[str, dg.In],
                              child: Workflow) -> dg.OpDefinition:
    """Renders the parameters a sub-workflow step passes and checks them against the child."""
    entry = node.entry
    reads = tuple(node.reads)

    def compute(context, inputs):
        secrets = cw.secret_values()
        guard_step(context, secrets)
        results, _skipped = read_inputs(inputs, reads)
        scope = cw.scope(context, cw.params(context, inputs), results)
        try:
            given = in_time(context, entry.id, lambda: render_value(dict(entry.parameters), scope), "rendering its parameters")
            values = resolve(child, given)
        except (TemplateError, ParameterError, ToolError) as exc:
            raise op_failure(f"sub-workflow `{entry.id}` ({child.name}): {exc}", None, secrets) from None
        # the IO manager pickles this output into run storage: secrets are sealed (kept as the
        # names of their environment variables) and read back by the child's ops (cw.params)
        yield dg.Output(cw.seal(values), "parameters", metadata={
            "parameters": dg.MetadataValue.json(runtime.to_jsonable(cw.mask(values, secrets)))})

    return dg.OpDefinition(
        name=cw.op_name(entry.id + PARAMETERS_SUFFIX),
        ins=ins,
        outs={"parameters": dg.Out(description=f"Parameters of the sub-workflow {child.name!r}.")},
        compute_fn=compute,
        description=f"Parameters passed to the sub-workflow {child.name!r}",
        required_resource_keys=gate_resources(cw),
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
        results, _skipped = read_inputs(inputs, tuple(reads))
        scope = cw.scope(context, cw.params(context, inputs), results)
        rendered = {}
        for key, template in outputs.items():
            try:
                rendered[key] = in_time(context, "outputs", lambda: render_value(template, scope), f"rendering outputs.{key}")
            except (TemplateError, ToolError) as exc:
                raise op_failure(f"outputs.{key}: {exc}", None, secrets) from None
        try:
            rendered = storable(rendered, secrets, "outputs")
        except ToolError as leak:
            raise op_failure(f"outputs: {leak}", None, secrets) from None
        as_json = masker_of(secrets).value(runtime.to_jsonable(rendered))
        meta = {"outputs": dg.MetadataValue.json(as_json)}
        for key, value in as_json.items():
            meta[f"outputs.{key}"] = dg.MetadataValue.text(value) if isinstance(value, str) else metadata_value(value)
        value: Any = rendered
        if as_step:
            value = result(rendered)
            # the sub-workflow step's result, for failure handlers of the including workflow
            meta["result"] = dg.MetadataValue.json(runtime.to_jsonable(value))
        yield dg.Output(value, out_name, metadata=meta)

    return dg.OpDefinition(
        name=cw.op_name(name),
        ins=ins,
        outs={out_name: dg.Out(description="The workflow outputs.")},
        compute_fn=compute,
        description="Renders the workflow outputs and stores them with the run.",
        required_resource_keys=gate_resources(cw),
        tags={TAG_STEP_KIND: "outputs"},
    )


__all__ = ["outputs_op", "subworkflow_parameters_op"]
