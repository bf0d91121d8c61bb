"""Small library helpers shared by the CLI and embedding code."""

from __future__ import annotations

from pathlib import Path

from .errors import WorkflowInvalidError
from .model import Workflow
from .validation import validate_file


def load_workflow(path: str | Path) -> Workflow:
    """Load and validate one workflow file.

    Returns:
        The :class:`~yaml2dag.model.Workflow`.

    Raises:
        WorkflowInvalidError: the file does not validate; ``problems`` lists every error.
    """
    report = validate_file(path)
    if not report.valid or report.workflow is None:
        raise WorkflowInvalidError(str(path), report.errors)
    return report.workflow
