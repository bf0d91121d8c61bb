"""The templated values of a workflow entry, and the steps a template reads (spec §4, §5).

:func:`template_fields` lists every string of an entry that is rendered as a template, with its
document path and how it is parsed (conditions and ``for_each`` take bare expressions); the
validator checks them and the plan (:mod:`yaml2dag.format.plan`) turns the steps they read
(:func:`step_reference_fields`) into data edges. Reading only :data:`STATE_FIELDS` of a step never
makes the reader skip with it.

Nothing here imports Dagster.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Iterator

from yaml2dag.format.expressions import Reference, is_template, iter_strings
from yaml2dag.format.model import DocPath, Entry, Branch, Step, SubWorkflow, Switch
from yaml2dag.format.toolspecs import get_tool


@dataclass(frozen=True)
class TemplateField:
    """One templated value of an entry: where it is, its text, and how it is parsed."""

    path: DocPath
    value: str
    bare: bool = False  # conditions and for_each accept expressions without braces
    scope: str = "step"  # "step", "loop" (for_each parameters), "failure" (fallback), "compensate"


def template_fields(entry: Entry) -> Iterator[TemplateField]:
    """Every string of ``entry`` that is rendered as a template, with its document path.

    Nested entries of groups, branches and switches are not included.
    """
    if isinstance(entry, Step):
        loop = entry.for_each is not None
        scope = "loop" if loop else "step"
        if isinstance(entry.when, str):
            yield TemplateField(entry.path + (entry.when_key,), entry.when, bare=True)
        if isinstance(entry.for_each, str):
            yield TemplateField(entry.path + ("for_each",), entry.for_each, bare=True)
        elif isinstance(entry.for_each, list):
            for sub, value in iter_strings(entry.for_each):
                if is_template(value):
                    yield TemplateField(entry.path + ("for_each",) + sub, value)
        yield from _parameter_strings(entry.tool, entry.action, entry.parameters, entry.path + ("parameters",), scope)
        if entry.fallback is not None:
            fb = entry.fallback
            yield from _parameter_strings(fb.tool, fb.action, fb.parameters, fb.path + ("parameters",), "failure")
        if entry.compensate is not None:
            # compensate runs after a later failure: it reads results but adds no edges
            comp = entry.compensate
            yield from _parameter_strings(comp.tool, comp.action, comp.parameters, comp.path + ("parameters",),
                                          "compensate")
    elif isinstance(entry, SubWorkflow):
        if isinstance(entry.when, str):
            yield TemplateField(entry.path + (entry.when_key,), entry.when, bare=True)
        yield from _strings(entry.parameters, entry.path + ("parameters",), "step")
    elif isinstance(entry, Branch):
        if isinstance(entry.condition, str):
            yield TemplateField(entry.path + (entry.when_key,), entry.condition, bare=True)
    elif isinstance(entry, Switch):
        if isinstance(entry.expression, str):
            yield TemplateField(entry.path + ("switch",), entry.expression, bare=True)


def _condition_parameters(tool: str | None, action: str | None) -> tuple[str, ...]:
    """The parameters of ``tool.action`` that are conditions (``Action.condition_parameters``,
    e.g. ``approval``'s ``auto_approve_if``): bare expressions, like ``when``."""
    if not tool:
        return ()
    cached = _CONDITIONS.get((tool, action))
    if cached is not None:
        return cached
    try:
        found = get_tool(tool)
        act = found.action(action) if found is not None else None
    except Exception:  # noqa: BLE001 - unknown or broken tools are the validator's business
        return ()
    if act is None:
        return ()  # not cached: a tool registered later may still define it
    _CONDITIONS[(tool, action)] = conditions = tuple(getattr(act, "condition_parameters", ()) or ())
    return conditions


#: (tool, action) -> its condition parameters, for the actions found so far (a folder of 500
#: workflows asks thousands of times).
_CONDITIONS: dict[tuple[str, str | None], tuple[str, ...]] = {}


def _parameter_strings(tool: str | None, action: str | None, parameters: Any, path: DocPath,
                       scope: str) -> Iterator[TemplateField]:
    conditions = _condition_parameters(tool, action) if isinstance(parameters, Mapping) else ()
    for key in conditions:
        value = parameters.get(key)
        if isinstance(value, str):
            yield TemplateField(path + (key,), value, bare=True, scope=scope)
    rest = {k: v for k, v in parameters.items() if k not in conditions} if conditions else parameters
    yield from _strings(rest, path, scope)


def _strings(value: Any, path: DocPath, scope: str) -> Iterator[TemplateField]:
    for sub, text in iter_strings(value):
        if is_template(text):
            yield TemplateField(path + sub, text, scope=scope)


#: The fields of a step result that describe how the step ended rather than what it produced
#: (spec §5, "Names in scope"): a skipped step has them too (``status: "skipped"``,
#: ``succeeded: false``, ``error: null``, ``duration: 0``), so reading only these never makes the
#: reader skip.
STATE_FIELDS = frozenset({"status", "succeeded", "error", "duration", "attempts"})


def step_reference_fields(refs: tuple[Reference, ...], step_ids: set[str]) -> list[tuple[str, str | None]]:
    """(step id, field) of each step reference: ``build.status`` and ``steps.build.status``
    are ``("build", "status")``; ``{{ build }}`` (the step as a whole) has field None."""
    out: list[tuple[str, str | None]] = []
    for ref in refs:
        if ref.name in step_ids:
            out.append((ref.name, ref.attr))
        elif ref.name == "steps" and ref.attr in step_ids:
            out.append((ref.attr, ref.attr2))
    return out


def step_references(refs: tuple[Reference, ...], step_ids: set[str]) -> list[str]:
    """Step ids a template reads: ``build.output`` and ``steps.build.output`` both read build."""
    return [step_id for step_id, _field in step_reference_fields(refs, step_ids)]
