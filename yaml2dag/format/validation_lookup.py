"""Finding the workflow a name refers to across files (sub-workflows, ``workflow`` triggers):
by name ignoring case, job id or file stem, among the files validated together first, then among
the other files of the definitions folder.

Nothing here imports Dagster.
"""

from __future__ import annotations

from pathlib import Path

from yaml2dag.format.definitions_folder import library_root
from yaml2dag.format.loader import iter_workflow_files
from yaml2dag.format.validation_checker import validate_file
from yaml2dag.format.validation_report import FileReport


def _lookup(reports: list[FileReport]):
    """name (case-insensitive), job id or file stem → report."""
    index: dict[str, FileReport] = {}
    for report in reports:
        wf = report.workflow
        if wf is None:
            continue
        for key in (wf.name.casefold() if wf.name else None, wf.id, Path(report.file).stem):
            if key and key not in index:
                index[key] = report
    return lambda name: index.get(name.casefold()) or index.get(name)


def _resolver(reports: list[FileReport]):
    """``resolve(report, name) -> FileReport | None``: a workflow named from ``report`` (a
    sub-workflow step or a ``workflow`` trigger), looked up among ``reports`` first, then among
    the other files of the definitions folder holding ``report`` (validated once, on demand)."""
    find = _lookup(reports)
    extra: dict[str, list[FileReport]] = {}

    def resolve(report: FileReport, name: str) -> FileReport | None:
        found = find(name)
        if found is not None:
            return found
        root = str(library_root(Path(report.file).parent))
        if root not in extra:
            known = {str(Path(r.file).resolve()) for r in reports}
            extra[root] = [validate_file(p) for p in iter_workflow_files(root) if str(p.resolve()) not in known]
        return _lookup(extra[root])(name)

    resolve.extra = extra  # the other files read so far, by folder (for did-you-mean lists)
    return resolve
