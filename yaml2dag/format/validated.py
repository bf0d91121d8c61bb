"""A workflow that passed validation: what the compiler and the runner accept (issue 11).

Validation (:mod:`yaml2dag.format.validation`) gives a :class:`~.validation_report.FileReport` for
every file, valid or not; :meth:`FileReport.validated() <.validation_report.FileReport.validated>`
turns a report without errors into a :class:`ValidatedWorkflow` and refuses any other with
:class:`~yaml2dag.format.errors.WorkflowInvalidError`. :func:`yaml2dag.compiler.job.compile_workflow`
and :func:`yaml2dag.runs.runner.run_workflow` take only this type, so an unvalidated model cannot
reach Dagster by mistake.

Nothing here imports Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass

from yaml2dag.format.errors import Problem
from yaml2dag.format.model import Source, Workflow
from yaml2dag.format.plan import Plan


@dataclass(frozen=True)
class ValidatedWorkflow:
    """One workflow file that validated without errors.

    Attributes:
        workflow: the immutable model (:class:`~yaml2dag.format.model.Workflow`).
        plan: its dependency plan (:class:`~yaml2dag.format.plan.Plan` of ``steps``), as the
            validator built it; the compiler reuses it.
        file: the file as the user named it.
        warnings: the warnings validation found (there are no errors), in file order.
    """

    workflow: Workflow
    plan: Plan
    file: str
    warnings: tuple[Problem, ...] = ()

    @property
    def id(self) -> str:
        """The job id (``workflow.id``)."""
        return self.workflow.id

    @property
    def name(self) -> str:
        """The workflow's name (``workflow.name``)."""
        return self.workflow.name

    @property
    def source(self) -> Source:
        """Where the workflow came from (file and content hash)."""
        return self.workflow.source


def require_validated(value: object, who: str) -> ValidatedWorkflow:
    """``value`` when it is a :class:`ValidatedWorkflow`; otherwise a ``TypeError`` naming ``who``
    (the function that was called) and how to get one."""
    if isinstance(value, ValidatedWorkflow):
        return value
    raise TypeError(f"{who} takes a ValidatedWorkflow (FileReport.validated() of yaml2dag.format.validation), "
                    f"got {type(value).__name__}")
