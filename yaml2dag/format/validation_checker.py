"""The checks of one workflow document, in the order a file goes through them (spec §8).

:class:`DocumentChecker` runs the loader's problems, the JSON Schema, then the model's checks —
limits (:mod:`.validation_limits`), parameters and ids (:mod:`.validation_ids`), steps and tools
(:mod:`.validation_tools`), templates (:mod:`.validation_templates`), the dependency plan
(:mod:`.plan`: unknown targets, cycles, reads of later steps) and triggers
(:mod:`.validation_triggers`) — and gives a :class:`~.validation_report.FileReport`.

Nothing here imports Dagster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yaml2dag.format.errors import ERROR, WARNING, Problem, TemplateError
from yaml2dag.format.expressions import analyze
from yaml2dag.format.gc_pause import gc_paused
from yaml2dag.format.limits import RULE as LIMIT_RULE
from yaml2dag.format.loader import Document, DocPath, format_path, internal_problem, load_file, load_text
from yaml2dag.format.model import Workflow, iter_entries
from yaml2dag.format.model_builder import build_workflow
from yaml2dag.format.plan import build_plan
from yaml2dag.format.schema import structural_problems
from yaml2dag.format.simple_templates import simple_analysis
from yaml2dag.format.validation_gates import GateChecks
from yaml2dag.format.validation_ids import IdChecks
from yaml2dag.format.validation_limits import LimitChecks
from yaml2dag.format.validation_report import FileReport, dedupe as _dedupe
from yaml2dag.format.validation_templates import TemplateChecks
from yaml2dag.format.validation_tools import ToolChecks
from yaml2dag.format.validation_triggers import TriggerChecks


class DocumentChecker(LimitChecks, IdChecks, ToolChecks, GateChecks, TemplateChecks, TriggerChecks):
    """The checks of one document; :meth:`run` gives its report. Each mixin adds one concern."""

    def __init__(self, doc: Document):
        self.doc = doc
        self.problems: list[Problem] = []
        self.workflow: Workflow | None = None
        self.refused: set[str] = set()  # paths of values the loader refused (yaml2dag.format.limits)
        # template text, bare -> its Analysis or TemplateError: each template is parsed once per
        # file (the shared LRU cache of 4,096 entries misses on every pass over a larger file)
        self.analyses: dict[tuple[str, bool], Any] = {}
        self.simple: set[tuple[str, bool]] = set()  # the keys of analyses that simple_analysis gave
        self._ids: set[str] | None = None

    def analyze(self, value: str, bare: bool = False):
        """:func:`yaml2dag.format.expressions.analyze`, memoized for this file."""
        key = (value, bare)
        found = self.analyses.get(key)
        if found is None:
            found = simple_analysis(value, bare)  # the usual template, without Jinja's parser
            if found is not None:
                self.simple.add(key)
            else:
                try:
                    found = analyze(value, bare)
                except TemplateError as exc:
                    found = exc
            self.analyses[key] = found
        if isinstance(found, TemplateError):
            raise found
        return found

    @property
    def _entry_ids(self) -> set[str]:
        """Ids of every entry of ``steps`` and ``on_failure`` (computed once)."""
        if self._ids is None:
            wf = self.workflow
            self._ids = ({e.id for e in (*iter_entries(wf.steps), *iter_entries(wf.on_failure)) if getattr(e, "id", None)}
                         if wf is not None else set())
        return self._ids

    def add(self, path: DocPath, message: str, rule: str, *, key: bool = False, warning: bool = False) -> None:
        if not key and self.refused and format_path(path) in self.refused:
            return  # the loader refused this value (None now) and said why: checks of the None would only add noise
        self.problems.append(self.doc.problem(path, message, rule, key=key, severity=WARNING if warning else ERROR))

    def run(self) -> FileReport:
        doc = self.doc
        self.problems += doc.problems
        if doc.data is None:
            return FileReport(doc.file, doc, None, self.problems)
        if isinstance(doc.data, dict):
            too_many = self.step_count_problem(doc.data)
            if too_many is not None:  # refused before the schema and the model see the steps
                return FileReport(doc.file, doc, None, self.problems + [too_many])
        # a value the loader refused (an integer outside 64 bits, NaN) is None now: the schema's
        # "got null" about it would only repeat the loader's problem
        refused = self.refused = {p.path for p in doc.problems if p.rule in (LIMIT_RULE, "number")}
        self.problems += [p for p in structural_problems(doc) if not (p.path in refused and p.message.endswith("got null"))]
        if not isinstance(doc.data, dict):
            return FileReport(doc.file, doc, None, self.problems)
        wf = build_workflow(doc.data, doc.file, doc.content_hash)
        self.workflow = wf
        self.check_limits(wf)
        self.check_parameters(wf)
        ids = self.check_ids(wf)
        self.check_steps(wf)
        self.check_gate_reminders(wf)
        self.check_templates(wf, ids)
        plan = build_plan(wf, doc, analyses=self.analyses)
        self.problems += plan.problems
        if wf.on_failure:
            self.problems += build_plan(wf, doc, entries=wf.on_failure, analyses=self.analyses).problems
        self.check_triggers(wf)
        self.check_unsupported(wf)
        return FileReport(doc.file, doc, wf, _dedupe(self.problems), plan=plan)

    def _data(self, path: DocPath) -> Any:
        value: Any = self.doc.data
        for part in path:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return None
        return value


_Checker = DocumentChecker  # the name tests patch


def check_document(doc: Document) -> FileReport:
    """Validate one parsed document (without folder-level checks).

    Never raises: an exception escaping a check is a bug, and becomes one problem with rule
    ``internal`` naming the file, so the file counts as invalid (a stand-in job in the code
    location) and the other files of a folder are still validated, listed and run.
    """
    try:
        return DocumentChecker(doc).run()
    except Exception as exc:  # noqa: BLE001 - one file never takes the others down
        return FileReport(doc.file, doc, None, _dedupe(list(doc.problems) + [internal_problem(doc.file, exc)]))


def validate_text(text: str, file: str = "<string>") -> FileReport:
    """Validate workflow text. Never raises for bad input (the collector paused, as in :func:`validate_file`)."""
    with gc_paused():
        return check_document(load_text(text, file))


def validate_file(path: str | Path, display: str | None = None) -> FileReport:
    """Validate one file (without folder-level checks). Never raises for bad input.

    The cyclic garbage collector is paused meanwhile (:func:`yaml2dag.format.gc_pause.gc_paused`:
    about 40% of the CPU time of a 10,000-step file was the collector re-walking the parse)."""
    with gc_paused():
        try:
            doc = load_file(path, display)
        except Exception as exc:  # noqa: BLE001 - as in check_document
            name = display if display is not None else str(path)
            doc = Document(file=name, text="")
            doc.problems.append(internal_problem(name, exc, "reading this file"))
        return check_document(doc)
