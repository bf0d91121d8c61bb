"""A folder of workflow files, validated together, and finding a workflow in it by name.

A workflow is found by its file path, its name (ignoring case), its job id or its file name
(:meth:`WorkflowFolder.find`). The validator, the compiler (sub-workflows, the jobs a run worker
rebuilds) and the runner all look workflows up this way, so it sits in the format layer;
:class:`yaml2dag.library.folder.Library` adds what the library keeps beside the files (saved
versions). The folder is a setting (:mod:`yaml2dag.format.definitions_folder`).

Nothing here imports Dagster: ``list``, ``show`` and ``validate`` must stay instant.
"""

from __future__ import annotations

from pathlib import Path

from yaml2dag.format.definitions_folder import DEFINITIONS_ENV, definitions_dir
from yaml2dag.format.errors import WorkflowNotFoundError
from yaml2dag.format.loader import iter_workflow_files
from yaml2dag.format.schema import did_you_mean
from yaml2dag.format.validation import FileReport, ValidationReport, folder_problems, validate_file


class WorkflowFolder:
    """The workflows of one definitions folder, validated together and found by name.

    Args:
        folder: the folder (default: :func:`definitions_dir`).
    """

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else definitions_dir()
        self._reports: list[FileReport] | None = None

    def files(self) -> list[Path]:
        """Workflow files of the folder (recursively; names starting with ``.``/``_`` skipped)."""
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


__all__ = ["WorkflowFolder"]
