"""``unused`` advice for workflow outputs that nothing reads.

A workflow's ``outputs`` are read by two kinds of consumers in the same definitions folder:
a parent workflow that runs it as a sub-workflow step (``{{ tests.output.head }}``: the step's
``output`` is the child's outputs map) and a ``workflow`` trigger on it
(``{{ trigger.outputs.source }}`` in the trigger's parameters). When the workflow has at least
one consumer and none of them reads the output ``key`` — and none reads the whole map — the
output is unused. A workflow without consumers keeps its outputs: ``yaml2dag run`` prints them
and the run stores them for people, which no file shows.

Templates are read with the expression analyser (:func:`yaml2dag.format.expressions.analyze`),
the one the validator uses. Nothing here imports Dagster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

from yaml2dag.format.errors import TemplateError
from yaml2dag.format.expressions import analyze
from yaml2dag.format.model import SubWorkflow, Workflow, iter_entries
from yaml2dag.format.template_fields import template_fields
from yaml2dag.optimize.advice import Advice
from yaml2dag.optimize.edits import Change


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif hasattr(value, "values"):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def _refs(text: str, bare: bool = False) -> tuple:
    try:
        return analyze(text, bare).references
    except TemplateError:
        return ()


def _names(workflow: Workflow, file: str) -> set[str]:
    """What a ``workflow:`` reference to ``workflow`` may say: its name, job id, file name or stem."""
    path = Path(file)
    return {workflow.name.lower(), workflow.id.lower(), path.name.lower(), path.stem.lower()}


def _templates(other: Workflow) -> Iterable[tuple[str, bool]]:
    """Every template of ``other``'s steps and outputs: (text, bare)."""
    for entry in iter_entries(other.steps + other.on_failure):
        for field in template_fields(entry):
            yield field.value, field.bare
    for text in _strings(other.outputs):
        yield text, False


def _reads(other: Workflow, names: set[str]) -> tuple[list[str], set[str] | None]:
    """(how ``other`` consumes the workflow, the output keys it reads or None for all of them)."""
    how: list[str] = []
    keys: set[str] | None = set()
    step_ids = {e.id for e in iter_entries(other.steps + other.on_failure)
                if isinstance(e, SubWorkflow) and e.workflow.lower() in names}
    if step_ids:
        how += [f"{other.name} (step {s})" for s in sorted(step_ids)]
        for text, bare in _templates(other):
            for ref in _refs(text, bare):
                if ref.name in step_ids and ref.attr in (None, "output"):
                    keys = None if keys is None or ref.attr is None or ref.attr2 is None else keys | {ref.attr2}
                elif ref.name == "steps" and ref.attr in step_ids:
                    keys = None  # `steps.x.output.key`: the key is one level deeper than a reference shows
    for trigger in other.triggers:
        if trigger.type != "workflow" or str(trigger.options.get("workflow", "")).lower() not in names:
            continue
        how.append(f"{other.name} (trigger {trigger.name or 'workflow'})")
        for text in _strings(trigger.parameters):
            for ref in _refs(text):
                if ref.name == "trigger" and ref.attr == "outputs":
                    keys = None if keys is None or ref.attr2 is None else keys | {ref.attr2}
    return how, keys


def unused_outputs(workflow: Workflow, file: str, others: list[tuple[Workflow, str]], runs: int) -> list[Advice]:
    """``unused`` advice for the outputs of ``workflow`` (in ``file``) that no consumer reads.

    Args:
        others: every other valid workflow of the folder, with its file.
        runs: the number of runs analysed (recorded in the evidence).
    """
    if not workflow.outputs:
        return []
    names = _names(workflow, file)
    consumers: list[str] = []
    read: set[str] | None = set()
    for other, _other_file in others:
        how, keys = _reads(other, names)
        if not how:
            continue
        consumers += how
        read = None if read is None or keys is None else read | keys
    if not consumers or read is None:
        return []
    out = []
    for key in workflow.outputs:
        if key in read:
            continue
        note = (f"output `{key}` is not read by any workflow that uses this one ({', '.join(consumers)}): "
                "remove it from `outputs`, or read it")
        evidence = {"runs": runs, "output": key, "consumers": consumers, "outputs_read": sorted(read)}
        out.append(Advice("unused", [], evidence, None, Change("none", (), note=note),
                          f"output `{key}` is not read by {len(consumers)} consumer(s)"))
    return out
