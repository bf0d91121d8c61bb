"""Which job a workflow name given on the command line means, for the commands that read runs
(``history``, ``stats``, ``prune``): a workflow of the library, else a built-in workflow template
(``yaml2dag run "Backup Files"`` runs one directly when the library has no workflow of that name),
else the name taken as a job name (runs of deleted workflows stay readable)."""

from __future__ import annotations

from typing import Any

from yaml2dag.format.errors import WorkflowNotFoundError
from yaml2dag.library.workflow_templates import find_template
from yaml2dag.runs.history.queries import resolve_job as _resolve_in_library


def resolve_job(name: str, library: Any = None) -> tuple[str, str]:
    """(job id, workflow name) for ``name``: a library workflow (name, id or file), else a built-in
    template (name, job id or file stem), else ``(name, name)``. ``library``: a
    :class:`~yaml2dag.library.folder.Library` or ``None`` (no definitions folder)."""
    found = _resolve_in_library(name, library)
    if found != (name, name):
        return found
    try:
        info = find_template(name)
    except WorkflowNotFoundError:
        return found
    if info.workflow is None or not info.workflow.id:
        return found
    return info.workflow.id, info.name
