"""The workflow library: the definitions folder, and finding a workflow in it.

The folder is the source of truth (files live happily in git). It is named by the
``YAML2DAG_DEFINITIONS`` environment variable, default ``./definitions``. A workflow is found
by its file path, its name (ignoring case) or its job id.

Nothing here imports Dagster: ``list``, ``show`` and ``validate`` must stay instant.
"""

from __future__ import annotations

import os
from pathlib import Path

from yaml2dag.format.errors import WorkflowNotFoundError
from yaml2dag.format.schema import did_you_mean
from yaml2dag.format.validation import FileReport, ValidationReport, folder_problems, validate_file

DEFINITIONS_ENV = "YAML2DAG_DEFINITIONS"


def definitions_dir() -> Path:
    """The definitions folder: ``$YAML2DAG_DEFINITIONS``, else ``./definitions``."""
    return Path(os.environ.get(DEFINITIONS_ENV) or "definitions")


def library_root(folder: str | Path) -> Path:
    """The definitions folder that contains ``folder``: ``$YAML2DAG_DEFINITIONS`` when
    ``folder`` is inside it, else ``folder`` itself."""
    path = Path(folder).resolve()
    configured = definitions_dir().resolve()
    if path == configured or configured in path.parents:
        return configured
    return path


class Library:
    """The workflows of one definitions folder.

    Args:
        folder: the folder (default: :func:`definitions_dir`).
    """

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else definitions_dir()
        self._reports: list[FileReport] | None = None

    def files(self) -> list[Path]:
        """Workflow files of the folder (recursively; names starting with ``.``/``_`` skipped)."""
        from yaml2dag.format.loader import iter_workflow_files

        return list(iter_workflow_files(self.folder))

    def reports(self) -> list[FileReport]:
        """Every file validated, with the checks across files (cached)."""
        if self._reports is None:
            reports = [validate_file(path) for path in self.files()]
            folder_problems(reports)
            self._reports = reports
        return self._reports

    def report(self) -> ValidationReport:
        return ValidationReport(self.reports())

    def find(self, ref: str) -> FileReport:
        """The workflow named ``ref``: a file path, a name (case-insensitive) or a job id.

        Raises:
            WorkflowNotFoundError: nothing matches; the message suggests the closest name.
        """
        path = Path(ref)
        if path.suffix.lower() in (".yaml", ".yml", ".json") and path.is_file():
            resolved = path.resolve()
            for report in self.reports() if self.folder.is_dir() else []:
                if Path(report.file).resolve() == resolved:
                    return report
            return validate_file(path)
        if not self.folder.is_dir():
            raise WorkflowNotFoundError(
                f"no workflow {ref!r}: the definitions folder {self.folder} does not exist "
                f"(set {DEFINITIONS_ENV} or run from the project folder)")
        wanted = ref.casefold()
        for report in self.reports():
            wf = report.workflow
            if wf is not None and wf.name and wf.name.casefold() == wanted:
                return report
        for report in self.reports():
            wf = report.workflow
            if wf is not None and wf.id == ref:
                return report
        for report in self.reports():
            if Path(report.file).stem == ref:
                return report
        names = [r.workflow.name for r in self.reports() if r.workflow is not None and r.workflow.name]
        hint = did_you_mean(ref, names)
        known = ", ".join(repr(n) for n in names) or "none"
        raise WorkflowNotFoundError(f"no workflow named {ref!r} in {self.folder}{hint} (workflows: {known})")
