"""A suggested workflow from a generalized command sequence, validated (issue 12, §1).

The steps come from :mod:`.mapping` in the order the commands ran: each entry of ``steps``
depends on the one before (spec §4), as ``a && b`` does. A command joined to the next by ``;``
gets ``on_error: continue`` (``a; b`` runs ``b`` whatever ``a`` did). Parameters no step refers
to (the archive name that ``files backup`` stamps itself) are left out.

The text is checked with :func:`yaml2dag.format.validation.validate_text`; when the tool steps do
not validate, the suggestion is built again with ``shell`` steps only, and a suggestion that
still does not validate is dropped (counted, never shown). So every proposed workflow is valid.

Nothing here imports Dagster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from yaml2dag.format.model import slugify
from yaml2dag.library.roundtrip import to_yaml
from yaml2dag.format.validation import DAGSTER_RESERVED, RESERVED_NAMES, validate_text
from yaml2dag.suggest.generalize import GenCommand, Param
from yaml2dag.suggest.mapping import Context, StepDraft, apply_context, step_for

_REF = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ESCAPED = re.compile(r"\{\{ '(\{[{%#])' \}\}")


@dataclass
class Built:
    """A validated suggested workflow: ``data`` (the mapping), ``text`` (its YAML), the
    ``parameters`` it uses, its ``steps`` count and the validator's ``report``."""

    data: dict
    text: str
    parameters: dict[str, Param]
    steps: int
    report: Any


def display(gen: GenCommand, keep: set[str] | None = None) -> str:
    """A command as shown in a suggestion: the shell text, parameters as ``{{ name }}``
    (those not in ``keep``, when given, by their default: the workflow does not use them)."""
    return _ESCAPED.sub(r"\1", gen.shell(keep=keep).t)


def _label_name(text: str) -> str:
    shown = _REF.sub(lambda m: f"<{m.group(1)}>", _ESCAPED.sub(r"\1", text)).replace("\n", " ")
    return shown if len(shown) <= 80 else shown[:79] + "…"


def _step_id(label: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_")[:40] or "step"
    if base[0].isdigit():
        base = "step_" + base
    if base in RESERVED_NAMES or base in DAGSTER_RESERVED:
        base += "_step"
    candidate, n = base, 1
    while candidate in taken:
        n += 1
        candidate = f"{base}_{n}"
    taken.add(candidate)
    return candidate


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def drafts(commands: list[GenCommand], *, tools: bool = True) -> list[tuple[StepDraft, GenCommand, bool]]:
    """The steps of a sequence: ``(draft, command, continue_on_error)`` for each work command."""
    ctx = Context()
    out: list[tuple[StepDraft, GenCommand, bool]] = []
    for index, gen in enumerate(commands):
        if apply_context(gen, ctx):
            continue
        following = commands[index + 1] if index + 1 < len(commands) else None
        keep_going = following is not None and following.op == ";"
        out.append((step_for(gen, ctx, tools=tools), gen, keep_going))
    return out


def workflow_data(name: str, description: str, commands: list[GenCommand], params: dict[str, Param], *,
                  tools: bool = True) -> tuple[dict, dict[str, Param]]:
    """The workflow mapping and the parameters it uses."""
    taken = set(params)
    made = drafts(commands, tools=tools)
    used = {m.group(1) for draft, _, _ in made for text in _strings(draft.parameters) for m in _REF.finditer(text)}
    kept = {n: p for n, p in params.items() if n in used}
    steps: list[dict] = []
    for draft, gen, keep_going in made:
        step: dict[str, Any] = {"id": _step_id(draft.label, taken), "name": _label_name(display(gen, set(kept))),
                                "tool": draft.tool}
        if draft.action:
            step["action"] = draft.action
        step["parameters"] = draft.parameters
        if keep_going:
            step["on_error"] = "continue"
        steps.append(step)
    declared: dict[str, dict] = {}
    for pname, param in kept.items():
        decl: dict[str, Any] = {"type": param.type}
        if param.type != "secret":
            decl["default"] = param.default
        decl["description"] = param.description
        declared[pname] = decl
    data: dict[str, Any] = {"name": name, "version": "1.0.0", "description": description, "tags": ["suggested"]}
    if declared:
        data["parameters"] = declared
    data["steps"] = steps
    return data, kept


def build(name: str, description: str, header: str, commands: list[GenCommand],
          params: dict[str, Param]) -> tuple[Built | None, list]:
    """Build and validate a suggested workflow.

    Args:
        name: the workflow name.
        description: its ``description``.
        header: comment lines for the top of the file.
        commands: the generalized commands, in order.
        params: their parameters.

    Returns:
        ``(built, problems)``: the :class:`Built` workflow (None when neither the tool steps
        nor shell steps validate) and the validator's errors of the last attempt.
    """
    problems: list = []
    for tools in (True, False):
        data, kept = workflow_data(name, description, commands, params, tools=tools)
        if not data["steps"]:
            return None, problems
        text = to_yaml(data, header=header)
        report = validate_text(text, f"<suggestion {slugify(name)}>")
        if report.valid:
            return Built(data, text, kept, len(data["steps"]), report), []
        problems = list(report.errors)
    return None, problems


__all__ = ["Built", "build", "display", "drafts", "workflow_data"]
