"""Workflow parameters as the job's typed run config (spec §3).

The job gets a :class:`dagster.ConfigMapping` whose schema is exactly the workflow's
parameters, so the Dagster launchpad shows each parameter with its type and default, and
``dagster job execute -c params.yaml`` takes a file such as ``{branch: dev, retries: 5}``. The
mapping function applies the checks Dagster's config types cannot express (``minimum``,
``maximum``, ``pattern``, array element types) with the same code as ``yaml2dag run``, so a bad
value is rejected before any step runs, naming the parameter. The checked values reach the ops
through the ``yaml2dag`` resource.

Secret parameters are not part of run config: they are read from the environment when a step
runs (spec §3).
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from yaml2dag.format.errors import ParameterError
from yaml2dag.format.model import MISSING, Parameter, Workflow
from yaml2dag.format.parameters import check_value
from yaml2dag.dagster_internals import (
    DagsterEvaluationErrorReason,
    EvaluationError,
    EvaluationStackRoot,
    SerializableErrorInfo,
)

RESOURCE_KEY = "yaml2dag"

_SCALARS = {"string": dg.String, "integer": dg.Int, "number": dg.Float, "boolean": dg.Bool}


def _config_type(param: Parameter, job_id: str) -> Any:
    if param.type == "string" and param.enum and all(isinstance(v, str) for v in param.enum):
        return dg.Enum(f"{job_id}__{param.name}", [dg.EnumValue(v) for v in param.enum])
    if param.type in _SCALARS:
        return _SCALARS[param.type]
    if param.type == "array":
        # elements of any type may be null, as in JSON ([1, "a", null]): Dagster's Array refuses
        # null members unless they are Noneable (a default with one failed the whole job)
        inner = _SCALARS.get(param.items_type or "", dg.Noneable(dg.Any))
        return dg.Array(inner)
    if param.type == "object":
        return dg.Permissive()
    return dg.Any


def config_schema(workflow: Workflow) -> dict[str, dg.Field]:
    """The Dagster config fields of the workflow's non-secret parameters."""
    fields: dict[str, dg.Field] = {}
    for param in workflow.parameters:
        if param.is_secret:
            continue
        kwargs: dict[str, Any] = {"description": param.description or None}
        if param.default is not MISSING:
            kwargs["default_value"] = param.default
        else:
            kwargs["is_required"] = True
        fields[param.name] = dg.Field(_config_type(param, workflow.id), **kwargs)
    return fields


def config_mapping(workflow: Workflow) -> dg.ConfigMapping:
    """The job's config mapping: parameters in, ``resources.yaml2dag.config`` out."""
    params = {p.name: p for p in workflow.parameters if not p.is_secret}

    def map_config(values: dict) -> dict:
        checked = {}
        problems: list[ParameterError] = []
        for name, value in values.items():
            param = params.get(name)
            try:
                checked[name] = check_value(param, value) if param is not None else value
            except ParameterError as exc:
                problems.append(exc)
        if problems:
            raise invalid_config_error(workflow.id, problems, values)
        return {"resources": {RESOURCE_KEY: {"config": {"parameters": checked}}}}

    return dg.ConfigMapping(
        config_fn=map_config,
        config_schema=config_schema(workflow),
    )


def invalid_config_error(job_name: str, problems: list[ParameterError], values: Any) -> dg.DagsterInvalidConfigError:
    """Dagster's own "invalid run config" error for parameter values that fail a check Dagster's
    config types cannot express (``minimum``, ``maximum``, ``pattern``, array element types).

    Raised from the config mapping, a :class:`dagster.DagsterInvalidConfigError` passes through
    Dagster's user-code boundary unchanged (Dagster wraps any other exception in a
    ``DagsterConfigMappingFunctionError`` whose message says only that the mapping "has thrown an
    unexpected error"). So ``dagster job execute -c``, the launchpad and sensors report it as they
    report a value of the wrong type, one line per parameter::

        Error in config for job deploy
            Error 1: parameter `count` (path root:count): 9 is greater than the maximum 5

    Args:
        job_name: the job.
        problems: one :class:`ParameterError` per rejected parameter.
        values: the run config as given.
    """
    errors = []
    for problem in problems:
        message = f"parameter `{problem.name}` (path root:{problem.name}): {problem.detail}"
        errors.append(EvaluationError(
            stack=EvaluationStackRoot().for_field(problem.name),
            reason=DagsterEvaluationErrorReason.FAILED_POST_PROCESSING,
            message=message,
            error_data=SerializableErrorInfo(message=message, stack=[], cls_name="ParameterError"),
        ))
    return dg.DagsterInvalidConfigError(f"Error in config for job {job_name}", errors, values)


def parameters_resource() -> dg.ResourceDefinition:
    """Resource holding the checked parameter values of the run (``{"parameters": {...}}``)."""
    return dg.ResourceDefinition(
        resource_fn=lambda ctx: ctx.resource_config,
        config_schema={"parameters": dg.Field(dg.Permissive(), default_value={})},
        description="yaml2dag: the run's workflow parameters",
    )
