"""Small library helpers shared by the CLI and embedding code."""

from __future__ import annotations

from pathlib import Path

from yaml2dag.format.errors import WorkflowInvalidError
from yaml2dag.format.validated import ValidatedWorkflow
from yaml2dag.format.validation import validate_file


def load_workflow(path: str | Path) -> ValidatedWorkflow:
    """Load and validate one workflow file.

    Returns:
        The :class:`~yaml2dag.format.validated.ValidatedWorkflow` (the immutable model in
        ``.workflow``, its plan in ``.plan``), what ``compile_workflow`` and ``run_workflow`` take.

    Raises:
        WorkflowInvalidError: the file does not validate; ``problems`` lists every error.
    """
    report = validate_file(path)
    if not report.valid or report.workflow is None:
        raise WorkflowInvalidError(str(path), report.errors)
    return report.validated()
