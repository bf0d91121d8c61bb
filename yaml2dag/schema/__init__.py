"""The workflow JSON Schema and structural validation with positions and hints.

``workflow.schema.json`` (draft 2020-12) is the machine-readable form of the format spec; it is
shipped in the package, printed by ``yaml2dag schema`` and usable by editors through
``# yaml-language-server: $schema=...``.

:func:`structural_problems` validates a document against it with jsonschema, one entry kind at a
time (step, parallel group, branch, switch, sub-workflow, trigger), so each error is reported
against the right sub-schema, collected rather than raised, and turned into a
:class:`~yaml2dag.errors.Problem` with the line and column of the offending node, a readable
message, and a "did you mean" hint for unknown keys (spec §8).
"""

from __future__ import annotations

import copy
import difflib
import json
from functools import lru_cache
from importlib import resources
from typing import Any, Iterable, Mapping

from ..errors import Problem
from ..loader import Document, DocPath
from ..model import entry_kind

SCHEMA_FILE = "workflow.schema.json"
TRIGGER_TYPES = ("manual", "schedule", "file", "workflow")

_YAML_TYPES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "null",
}


def schema_text() -> str:
    """The shipped JSON Schema, as text."""
    return resources.files(__package__).joinpath(SCHEMA_FILE).read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def load_schema() -> dict:
    """The shipped JSON Schema, parsed (cached; do not modify the result)."""
    return json.loads(schema_text())


@lru_cache(maxsize=1)
def _validators() -> dict[str, Any]:
    from jsonschema import Draft202012Validator

    schema = load_schema()
    defs = copy.deepcopy(schema["$defs"])
    # nested entries, triggers and parameter declarations are validated one by one by
    # structural_problems, each against its own sub-schema
    defs["entry"] = {"type": "object"}
    defs["trigger"] = {"type": "object"}
    defs["parameter_or_default"] = {}
    root = {k: v for k, v in schema.items() if k not in ("$defs", "$id", "$schema")}
    out = {"workflow": Draft202012Validator({**root, "$defs": defs})}
    for kind in ("step", "parallel", "branch", "switch", "subworkflow", "parameter",
                 "trigger_manual", "trigger_schedule", "trigger_file", "trigger_workflow"):
        out[kind] = Draft202012Validator({**defs[kind], "$defs": defs})
    out["trigger"] = Draft202012Validator({
        "type": "object", "required": ["type"],
        "properties": {"type": {"enum": list(TRIGGER_TYPES)}},
    })
    return out


@lru_cache(maxsize=256)
def validator_for(schema_json: str):
    """A cached jsonschema validator for a schema given as canonical JSON text."""
    from jsonschema import Draft202012Validator

    return Draft202012Validator(json.loads(schema_json))


def _kind_validator_name(kind: str) -> str:
    return "subworkflow" if kind == "workflow" else kind


def structural_problems(doc: Document) -> list[Problem]:
    """Every schema problem in a parsed workflow document (see the module docstring)."""
    data = doc.data
    problems: list[Problem] = []
    validators = _validators()
    if not isinstance(data, dict):
        if data is not None:
            problems.append(doc.problem((), f"a workflow must be a mapping, got {_describe(data)}"))
        return problems
    problems += errors_to_problems(doc, (), validators["workflow"].iter_errors(data))
    params = data.get("parameters")
    if isinstance(params, dict):
        for name, value in params.items():
            if isinstance(value, dict):
                problems += errors_to_problems(
                    doc, ("parameters", name), validators["parameter"].iter_errors(value))
    triggers = data.get("triggers")
    if isinstance(triggers, list):
        for i, trig in enumerate(triggers):
            if not isinstance(trig, dict):
                continue
            ttype = trig.get("type")
            name = f"trigger_{ttype}" if ttype in TRIGGER_TYPES else "trigger"
            problems += errors_to_problems(doc, ("triggers", i), validators[name].iter_errors(trig))
    for key in ("steps", "on_failure"):
        problems += _entry_problems(doc, data.get(key), (key,), validators)
    return problems


def _entry_problems(doc: Document, items: Any, path: DocPath, validators) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(items, list):
        return problems
    for i, item in enumerate(items):
        if not isinstance(item, dict):
            continue
        here = path + (i,)
        kind = entry_kind(item)
        problems += errors_to_problems(doc, here, validators[_kind_validator_name(kind)].iter_errors(item))
        if kind == "parallel":
            problems += _entry_problems(doc, item.get("parallel"), here + ("parallel",), validators)
        elif kind == "branch":
            for side in ("then", "else"):
                problems += _entry_problems(doc, item.get(side), here + (side,), validators)
        elif kind == "switch":
            cases = item.get("cases")
            if isinstance(cases, dict):
                for key, case in cases.items():
                    problems += _entry_problems(doc, case, here + ("cases", key), validators)
            problems += _entry_problems(doc, item.get("default"), here + ("default",), validators)
    return problems


def errors_to_problems(
    doc: Document, base: DocPath, errors: Iterable[Any], *, rule: str = "schema",
    skip_instance=None,
) -> list[Problem]:
    """Turn jsonschema errors into problems located in ``doc`` under ``base``.

    Args:
        doc: the document (for positions).
        base: path of the validated value inside the document.
        errors: jsonschema ``ValidationError`` objects.
        rule: the rule name recorded on each problem.
        skip_instance: optional predicate; errors whose failing value it accepts are dropped
            (used to ignore type errors on values that are templates).
    """
    out: list[Problem] = []
    for error in errors:
        if skip_instance is not None and skip_instance(error.instance):
            continue
        out.extend(_convert(doc, base, error, rule))
    return out


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the string {value!r}"
    if isinstance(value, int):
        return f"the integer {value}"
    if isinstance(value, float):
        return f"the number {value}"
    return type(value).__name__


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """``"; did you mean `depends_on`?"`` when a close match exists, else ``""``."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f"; did you mean `{match[0]}`?" if match else ""


def _expected(schema: Mapping[str, Any]) -> str | None:
    return schema.get("x-expected") if isinstance(schema, Mapping) else None


def _convert(doc: Document, base: DocPath, error: Any, rule: str) -> list[Problem]:
    path = base + tuple(error.absolute_path)
    validator = error.validator
    instance = error.instance
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    if "propertyNames" in error.relative_schema_path:
        return [doc.problem(path + (instance,), f"`{instance}` is not a valid name: use letters, digits and `_`, "
                                               "not starting with a digit", rule, key=True)]
    if validator == "additionalProperties":
        allowed = list(schema.get("properties", {}))
        out = []
        for key in instance:
            if key in allowed:
                continue
            message = f"unknown key `{key}`" + did_you_mean(key, allowed)
            out.append(doc.problem(path + (key,), message, rule, key=True))
        return out
    if validator == "required":
        return [
            doc.problem(path, f"missing required key `{key}`", rule)
            for key in error.validator_value
            if isinstance(instance, dict) and key not in instance
        ]
    if validator == "type":
        expected = error.validator_value
        names = [expected] if isinstance(expected, str) else list(expected)
        wanted = " or ".join(_YAML_TYPES.get(n, n) for n in names)
        return [doc.problem(path, f"expected {wanted}, got {_describe(instance)}", rule)]
    if validator in ("enum", "const"):
        options = error.validator_value if validator == "enum" else [error.validator_value]
        shown = ", ".join(f"`{o}`" for o in options)
        hint = did_you_mean(instance, [str(o) for o in options]) if isinstance(instance, str) else ""
        return [doc.problem(path, f"{_describe(instance)} is not one of {shown}{hint}", rule)]
    if validator == "pattern":
        expected = _expected(schema)
        if error.validator_value == "^[a-z_][a-z0-9_]*$":
            return [doc.problem(path, f"`{instance}` is not a valid id: use lowercase letters, digits and `_`, "
                                      "not starting with a digit", rule)]
        if expected:
            return [doc.problem(path, f"expected {expected}, got {_describe(instance)}", rule)]
        return [doc.problem(path, f"{_describe(instance)} does not match the pattern {error.validator_value}", rule)]
    if validator == "minimum":
        return [doc.problem(path, f"must be at least {error.validator_value}, got {instance}", rule)]
    if validator == "maximum":
        return [doc.problem(path, f"must be at most {error.validator_value}, got {instance}", rule)]
    if validator in ("minItems", "minLength", "minProperties"):
        return [doc.problem(path, "must not be empty", rule)]
    if validator in ("anyOf", "oneOf"):
        expected = _expected(schema)
        if expected:
            return [doc.problem(path, f"expected {expected}, got {_describe(instance)}", rule)]
        from jsonschema.exceptions import best_match

        best = best_match(error.context) if error.context else None
        if best is not None:
            return _convert(doc, base, best, rule)
    return [doc.problem(path, error.message, rule)]
