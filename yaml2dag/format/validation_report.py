"""What validating a file or a folder reports: :class:`FileReport` and :class:`ValidationReport`.

Nothing here imports Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yaml2dag.format.errors import ERROR, WARNING, Problem, WorkflowInvalidError, sort_problems
from yaml2dag.format.loader import Document
from yaml2dag.format.model import Workflow
from yaml2dag.format.plan import build_plan
from yaml2dag.format.validated import ValidatedWorkflow


@dataclass
class FileReport:
    """The result of validating one file.

    Attributes:
        file: the file as given.
        document: the parsed document (positions, content hash).
        workflow: the model, or None when the file is not a mapping.
        problems: every problem found, errors and warnings, in file order.
    """

    file: str
    document: Document
    workflow: Workflow | None
    problems: list[Problem] = field(default_factory=list)
    plan: Any = field(default=None, repr=False, compare=False)  # the yaml2dag.format.plan.Plan of its steps

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def valid(self) -> bool:
        return not self.errors and self.workflow is not None

    def validated(self) -> ValidatedWorkflow:
        """The :class:`~yaml2dag.format.validated.ValidatedWorkflow` of a valid file, what the
        compiler and the runner accept.

        Raises:
            WorkflowInvalidError: the file has errors (``problems`` lists them) or is no workflow.
        """
        if not self.valid:
            raise WorkflowInvalidError(self.file, self.errors)
        plan = self.plan if self.plan is not None else build_plan(self.workflow, self.document)
        return ValidatedWorkflow(self.workflow, plan, self.file, tuple(self.warnings))


@dataclass
class ValidationReport:
    """The result of validating several files (``yaml2dag validate``)."""

    files: list[FileReport] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return sort_problems(p for f in self.files for p in f.problems)

    @property
    def valid(self) -> bool:
        return all(f.valid for f in self.files)

    def to_json(self) -> dict:
        """``{"valid", "workflows", "errors", "warnings"}`` as documented for ``--format json``."""
        workflows = []
        for f in self.files:
            wf = f.workflow
            workflows.append({
                "file": f.file,
                "name": wf.name if wf else None,
                "id": wf.id if wf else None,
                "valid": f.valid,
                "errors": len(f.errors),
                "warnings": len(f.warnings),
            })
        problems = self.problems
        return {
            "valid": self.valid,
            "workflows": workflows,
            "errors": [p.to_dict() for p in problems if p.severity == ERROR],
            "warnings": [p.to_dict() for p in problems if p.severity == WARNING],
        }


def dedupe(problems: list[Problem]) -> list[Problem]:
    """``problems`` in file order, each (line, column, path, message) once."""
    seen = set()
    out = []
    for p in sort_problems(problems):
        key = (p.line, p.column, p.path, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out
