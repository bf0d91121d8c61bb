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

from yaml2dag.format.errors import ParameterError
from yaml2dag.format.limits import MAX_DEPTH, integer_problem, integer_text_problem
from yaml2dag.format.model import MISSING, Parameter, Workflow
from yaml2dag.format.limits import float_problem, integer_problem, pattern_problem
from yaml2dag.format.schema import did_you_mean

_TRUE = {"true", "yes", "on", "1"}
_FALSE = {"false", "no", "off", "0"}

#: The most levels a parameter value may have: the value is level 1, each list or mapping adds
#: one for its elements (``5`` has 1, ``[]`` 1, ``[5]`` 2, ``[[]]`` 2, ``{"a": [5]}`` 3). It is the
#: limit of a workflow file (:data:`yaml2dag.format.limits.MAX_DEPTH`) counted as in a parameter file,
#: where each value sits one level below the document, so a value given on the command line, in
#: a ``--param-file`` or as run config is refused exactly when it would be refused in a file.
#: Python's recursion limit (1,000 frames) is shared with Dagster's run config processing, which
#: recurses once per level: a value 600 levels deep crashed a run.
MAX_VALUE_DEPTH = MAX_DEPTH


def _depth_exceeds(value: Any, limit: int) -> bool:
    """True when ``value`` has more than ``limit`` levels (see :data:`MAX_VALUE_DEPTH`;
    iterative, so a value too deep for Python's recursion limit is measured too)."""
    stack = [(value, 1)]
    while stack:
        item, level = stack.pop()
        if level > limit:
            return True
        if isinstance(item, dict):
            stack.extend((child, level + 1) for child in item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend((child, level + 1) for child in item)
    return False


def check_size(name: str, value: Any) -> None:
    """Refuse a value nested deeper than :data:`MAX_VALUE_DEPTH` levels of lists and mappings.

    Raises:
        ParameterError: naming parameter ``name`` and the limit.
    """
    if _depth_exceeds(value, MAX_VALUE_DEPTH):
        raise _too_deep(name)


def _too_deep(name: str) -> ParameterError:
    return ParameterError(name, f"the value is nested more than {MAX_VALUE_DEPTH} levels deep (lists and "
                                f"mappings inside each other, the value itself being the first); at most "
                                f"{MAX_VALUE_DEPTH} are allowed")


def _parse_int(name: str, text: str) -> int:
    """``int(text)`` for a string of digits, within the 64-bit range of every integer of a
    workflow (:mod:`yaml2dag.format.limits`), as in a workflow or parameter file; an integer longer
    than any 64-bit one is refused before it is converted (Python converts at most 4,300
    digits, and long conversions are slow)."""
    problem = integer_text_problem(text)
    if problem is None:
        value = int(text)
        problem = integer_problem(value)
        if problem is None:
            return value
    raise ParameterError(name, problem)


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
            matching ``pattern``, or an array element of the wrong type; NaN or an infinity
            (no parameter value may be one: NaN would slip past ``minimum`` and ``maximum``,
            and run config is JSON, which has neither); an integer outside 64 bits
            (:mod:`yaml2dag.format.limits`); a ``pattern`` that cannot be used safely
            (:func:`yaml2dag.format.limits.pattern_problem`).
    """
    check_size(param.name, value)
    if param.type == "integer" and isinstance(value, float) and value.is_integer():
        value = int(value)
    if not _is_type(value, param.type):
        raise ParameterError(param.name, f"expected {type_name(param.type)}, got {_show(value)}")
    if param.type == "number" and value != value:  # NaN would slip past minimum and maximum
        raise ParameterError(param.name, "expected a number, got NaN")
    if isinstance(value, float) and float_problem(value):
        raise ParameterError(param.name, f"expected a finite number, got {value}")
    if param.type in ("integer", "number") and isinstance(value, int) and integer_problem(value):
        raise ParameterError(param.name, integer_problem(value))
    if param.enum is not None and value not in param.enum:
        options = ", ".join(json.dumps(v) for v in param.enum)
        raise ParameterError(param.name, f"{_show(value)} is not one of {options}")
    if param.type in ("integer", "number"):
        if param.minimum is not None and value < param.minimum:
            raise ParameterError(param.name, f"{value} is less than the minimum {param.minimum:g}")
        if param.maximum is not None and value > param.maximum:
            raise ParameterError(param.name, f"{value} is greater than the maximum {param.maximum:g}")
    if param.pattern is not None and isinstance(value, str):
        unsafe = pattern_problem(param.pattern)
        if unsafe is not None:  # never compiled or matched (recursion, exponential backtracking)
            invalid = unsafe[0] == "parameter"  # "the pattern '[' is not a valid regex: ..."
            raise ParameterError(param.name, "its " + unsafe[1][len("the "):] if invalid
                                 else f"its pattern cannot be used: {unsafe[1]}")
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
            if isinstance(item, float) and float_problem(item):
                raise ParameterError(param.name, f"element {i} must be a finite number, got {item}")
    return value


def coerce(param: Parameter, raw: str) -> Any:
    """Convert a command-line string to the parameter's type (``"5"`` → 5 for an integer).

    Raises:
        ParameterError: the text cannot be read as that type; an integer outside 64 bits
            (:mod:`yaml2dag.format.limits`; also inside JSON, as in a file); a list or mapping nested
            more than :data:`MAX_VALUE_DEPTH` levels deep.
    """
    ptype = param.type
    text = raw.strip()
    try:
        if ptype == "integer":
            return _parse_int(param.name, text)
        if ptype == "number":
            return float(text) if not re.fullmatch(r"[+-]?\d+", text) else _parse_int(param.name, text)
        if ptype == "boolean":
            if text.lower() in _TRUE:
                return True
            if text.lower() in _FALSE:
                return False
            raise ValueError
        if ptype in ("array", "object"):
            try:
                value = json.loads(text, parse_int=lambda digits: _parse_int(param.name, digits))
            except RecursionError:
                raise _too_deep(param.name) from None
            if ptype == "array" and not isinstance(value, list):
                raise ValueError
            if ptype == "object" and not isinstance(value, dict):
                raise ValueError
            check_size(param.name, value)
            return value
    except (ValueError, json.JSONDecodeError):
        example = {"integer": "5", "number": "2.5", "boolean": "true", "array": '\'["a", "b"]\'',
                   "object": '\'{"key": "value"}\''}.get(ptype, "")
        raise ParameterError(param.name, f"expected {type_name(ptype)} (e.g. {param.name}={example}), "
                                         f"got {_clip(raw)}") from None
    return raw


def _clip(raw: str, limit: int = 80) -> str:
    """``repr(raw)``, cut to about ``limit`` characters (a 5,000-character value is not echoed)."""
    text = repr(raw)
    return text if len(text) <= limit else f"{text[:limit]}… ({len(raw)} characters)"


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
        ParameterError: an item without ``=``; a name given twice (``req=r req=s``: which one
            was meant cannot be told, so neither silently wins).
    """
    out: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ParameterError(item, "expected key=value")
        name = key.strip()
        if name in out:
            raise ParameterError(name, f"given twice ({name}={_clip(out[name], 40)} and {name}={_clip(value, 40)}); "
                                       "give each parameter once")
        out[name] = value
    return out
