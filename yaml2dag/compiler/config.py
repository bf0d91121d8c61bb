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

from ..model import MISSING, Parameter, Workflow
from ..parameters import check_value

RESOURCE_KEY = "yaml2dag"

_SCALARS = {"string": dg.String, "integer": dg.Int, "number": dg.Float, "boolean": dg.Bool}


def _config_type(param: Parameter, job_id: str) -> Any:
    if param.type == "string" and param.enum and all(isinstance(v, str) for v in param.enum):
        return dg.Enum(f"{job_id}__{param.name}", [dg.EnumValue(v) for v in param.enum])
    if param.type in _SCALARS:
        return _SCALARS[param.type]
    if param.type == "array":
        inner = _SCALARS.get(param.items_type or "", dg.Any)
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
        for name, value in values.items():
            param = params.get(name)
            checked[name] = check_value(param, value) if param is not None else value
        return {"resources": {RESOURCE_KEY: {"config": {"parameters": checked}}}}

    return dg.ConfigMapping(
        config_fn=map_config,
        config_schema=config_schema(workflow),
    )


def parameters_resource() -> dg.ResourceDefinition:
    """Resource holding the checked parameter values of the run (``{"parameters": {...}}``)."""
    return dg.ResourceDefinition(
        resource_fn=lambda ctx: ctx.resource_config,
        config_schema={"parameters": dg.Field(dg.Permissive(), default_value={})},
        description="yaml2dag: the run's workflow parameters",
    )
