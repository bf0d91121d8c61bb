"""Parameter values: conversion from the command line and checks against declarations (spec §3).

The same checks run in ``yaml2dag run`` (before anything starts), in the validator (for
defaults and trigger parameters) and in the compiled job's run config mapping (for launches from
the Dagster UI, schedules, sensors and ``dagster job execute -c``), so a bad value is rejected
the same way everywhere, naming the parameter.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping

from .errors import ParameterError
from .model import MISSING, Parameter, Workflow

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}


def type_name(ptype: str) -> str:
    return {"integer": "an integer", "number": "a number", "boolean": "true or false",
            "array": "a list", "object": "a mapping", "string": "a string",
            "secret": "a string"}.get(ptype, ptype)


def _is_type(value: Any, ptype: str | None) -> bool:
    if ptype is None:
        return True
    if ptype in ("string", "secret"):
        return isinstance(value, str)
    if ptype == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if ptype == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if ptype == "boolean":
        return isinstance(value, bool)
    if ptype == "array":
        return isinstance(value, list)
    if ptype == "object":
        return isinstance(value, dict)
    return True


def check_value(param: Parameter, value: Any) -> Any:
    """Check ``value`` against the declaration; return it (a whole-number float becomes int
    for integer parameters).

    Raises:
        ParameterError: wrong type, not in ``enum``, outside ``minimum``/``maximum``, not
            matching ``pattern``, or an array element of the wrong type.
    """
    if param.type == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_type(value, param.type):
        raise ParameterError(param.name, f"expected {type_name(param.type)}, got {_show(value)}")
    if param.type == "number" and value != value:  # NaN would slip past minimum and maximum
        raise ParameterError(param.name, "expected a number, got NaN")
    if param.enum is not None and value not in param.enum:
        options = ", ".join(json.dumps(v) for v in param.enum)
        raise ParameterError(param.name, f"{_show(value)} is not one of {options}")
    if param.type in ("integer", "number"):
        if param.minimum is not None and value < param.minimum:
            raise ParameterError(param.name, f"{value} is less than the minimum {param.minimum:g}")
        if param.maximum is not None and value > param.maximum:
            raise ParameterError(param.name, f"{value} is greater than the maximum {param.maximum:g}")
    if param.pattern is not None and isinstance(value, str):
        try:
            matched = re.search(param.pattern, value)
        except re.error as exc:
            raise ParameterError(param.name, f"its pattern {param.pattern!r} is not a valid regex: {exc}") from None
        if not matched:
            raise ParameterError(param.name, f"{_show(value)} does not match the pattern {param.pattern!r}")
    if param.type == "array" and param.items_type:
        for i, item in enumerate(value):
            if not _is_type(item, param.items_type):
                raise ParameterError(param.name, f"element {i} must be {type_name(param.items_type)}, got {_show(item)}")
    return value


def coerce(param: Parameter, raw: str) -> Any:
    """Convert a command-line string to the parameter's type (``"5"`` → 5 for an integer).

    Raises:
        ParameterError: the text cannot be read as that type.
    """
    ptype = param.type
    text = raw.strip()
    try:
        if ptype == "integer":
            return int(text)
        if ptype == "number":
            return float(text) if not re.fullmatch(r"[+-]?\d+", text) else int(text)
        if ptype == "boolean":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        if ptype in ("array", "object"):
            value = json.loads(text)
            if ptype == "array" and not isinstance(value, list):
                raise ValueError
            if ptype == "object" and not isinstance(value, dict):
                raise ValueError
            return value
    except (ValueError, json.JSONDecodeError):
        example = {"integer": "5", "number": "2.5", "boolean": "true", "array": '\'["a", "b"]\'',
                   "object": '\'{"key": "value"}\''}.get(ptype, "")
        raise ParameterError(param.name, f"expected {type_name(ptype)} (e.g. {param.name}={example}), got {raw!r}") from None
    return raw


def _show(value: Any) -> str:
    if isinstance(value, str):
        return repr(value)
    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)


def resolve(
    workflow: Workflow,
    given: Mapping[str, Any],
    *,
    strings: bool = False,
    allow_missing: bool = False,
) -> dict[str, Any]:
    """The full parameter values of a run: given values checked, defaults filled in.

    Args:
        workflow: the workflow.
        given: values by parameter name.
        strings: the values are command-line strings to convert first (``key=value``).
        allow_missing: do not fail on required parameters without a value.

    Returns:
        Values of every non-secret parameter (secrets never enter run config, spec §3).

    Raises:
        ParameterError: an unknown name (with a "did you mean"), a missing required value, or
            a value of the wrong type or range.
    """
    known = {p.name: p for p in workflow.parameters}
    for name in given:
        if name not in known:
            from .schema import did_you_mean

            names = ", ".join(sorted(known)) or "none"
            raise ParameterError(name, f"not a parameter of {workflow.name!r} (parameters: {names})"
                                 + did_you_mean(name, known))
        if known[name].is_secret:
            raise ParameterError(
                name, f"is a secret: set the environment variable {known[name].env_var} instead of passing a value")
    out: dict[str, Any] = {}
    for param in workflow.parameters:
        if param.is_secret:
            continue
        if param.name in given:
            value = given[param.name]
            if strings and isinstance(value, str):
                value = coerce(param, value)
            out[param.name] = check_value(param, value)
        elif param.default is not MISSING:
            out[param.name] = param.default
        elif not allow_missing:
            raise ParameterError(param.name, f"is required ({type_name(param.type)}) and has no default")
    return out


def parse_assignments(items: Iterable[str]) -> dict[str, str]:
    """``["a=1", "b=x=y"]`` → ``{"a": "1", "b": "x=y"}``.

    Raises:
        ParameterError: an item without ``=``.
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(item, "expected key=value")
        out[key.strip()] = value
    return out
