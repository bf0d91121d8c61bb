"""What every op of a compiled workflow does with its inputs and outputs.

* inputs: the results of the steps an op reads (:func:`read_inputs`), and templates rendered
  within the step's time (:func:`in_time`);
* outputs: the metadata of a step result (:func:`result_metadata`, stored with the run and read
  back by failure handling), values checked for secrets before Dagster stores them
  (:func:`storable`), and the :class:`dagster.Failure` an op raises (:func:`op_failure`), with
  the workflow's secrets masked in every text (spec §3).
"""

from __future__ import annotations

import json
import traceback
from typing import Any, Mapping

import dagster as dg

from yaml2dag.format.errors import TemplateError
from yaml2dag.format.masking import SecretInResultError, masker_of
from yaml2dag.format.secrets import mask
from yaml2dag.format.semantics import first_skipped
from yaml2dag.tools.base import Markdown, ToolContext, ToolError, ToolResult
from yaml2dag.compiler import runtime
from yaml2dag.compiler.config import RESOURCE_KEY
from yaml2dag.compiler.scope import CompiledWorkflow

#: Largest JSON copy of a step result kept in the event log (bytes); larger ones get a preview.
MAX_RESULT_METADATA = 8192


def metadata_value(value: Any) -> Any:
    """A Dagster metadata value for a tool's metadata entry or an output (Markdown, bool, int,
    float, JSON for dicts and lists, else text)."""
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
    """Output metadata of a step result: status (the outcome,
    :data:`yaml2dag.format.semantics.OUTCOMES`), attempts, duration, the output (as JSON when
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
        for key, value in tool_result.metadata.items():
            meta[key] = metadata_value(mask(value, secrets) if not isinstance(value, Markdown)
                                       else Markdown(mask(str(value), secrets)))
    return meta


def op_failure(message: str, exc: BaseException | None, secrets: tuple[str, ...], *, retries: bool = False,
               extra: Mapping[str, Any] | None = None) -> dg.Failure:
    """A Dagster Failure whose texts have the secrets masked; a masked traceback of an
    unexpected exception is kept as metadata (the exception itself is not chained, so its
    unmasked text never reaches the event log)."""
    meta: dict[str, Any] = dict(extra or {})
    if exc is not None and not isinstance(exc, (ToolError, TemplateError)):
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        meta["traceback"] = dg.MetadataValue.text(mask(tb, secrets)[-6000:])
    return dg.Failure(description=mask(message, secrets), allow_retries=retries, metadata=meta)


def storable(value: Any, secrets: tuple[str, ...], where: str = "") -> Any:
    """``value`` with the secrets masked, ready to be stored (:meth:`yaml2dag.format.masking.Masker.check`).

    Raises:
        ToolError: (not retryable) a secret is inside an object that cannot be masked; the
            step fails instead of pickling it into run storage.
    """
    try:
        return masker_of(secrets).check(value, where)
    except SecretInResultError as exc:
        raise ToolError(str(exc), retryable=False) from None


def tool_secrets(secrets: tuple[str, ...], tctx: Any) -> tuple[str, ...]:
    """The workflow's secrets plus those the tool added while it ran (``ctx.add_secret``)."""
    extra = set(getattr(tctx, "secrets", ())) - set(secrets)
    return tuple(sorted(set(secrets) | extra, key=len, reverse=True)) if extra else secrets


def in_time(context: Any, step_id: str, render: Any, what: str, timeout: float | None = None) -> Any:
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


def read_inputs(inputs: Mapping[str, Any], reads: tuple[str, ...],
                state_reads: frozenset[str] = frozenset()) -> tuple[dict, str | None]:
    """The results of the steps ``reads`` names, by step id, and the first of them that was
    skipped whose result (not only its state, ``state_reads``) is read, if any
    (:func:`yaml2dag.format.semantics.first_skipped`).

    An input is a step result dict, or a list of one such dict when it comes through a fan-in
    (``GraphBuilder.state_read``); a skipped step's is :func:`runtime.skipped_result`.
    """
    results: dict[str, Any] = {}
    for r in reads:
        value = inputs[r]
        results[r] = value[0] if isinstance(value, list) else value
    return results, first_skipped(results, reads, state_reads)


def gate_resources(cw: CompiledWorkflow) -> set[str]:
    """Resource keys of an op that reads the parameters: the ``yaml2dag`` resource at the top
    level, none inside a sub-workflow (its parameters come as an input)."""
    return set() if cw.params_input else {RESOURCE_KEY}


__all__ = ["MAX_RESULT_METADATA", "gate_resources", "in_time", "metadata_value", "op_failure", "read_inputs",
           "result_metadata", "storable", "tool_secrets"]
