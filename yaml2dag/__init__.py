"""yaml2dag: declarative YAML workflows compiled into Dagster jobs.

The library API (the CLI and the code location are thin faces over it)::

    from yaml2dag import load_workflow, validate_paths, build_definitions, run_workflow

* :func:`validate_paths` / :func:`validate_file` / :func:`validate_text` — the linter;
* :func:`load_workflow` — a validated :class:`~yaml2dag.format.model.Workflow` (or an error);
* :func:`compile_workflow` — one workflow → one ``dagster.JobDefinition``;
* :func:`build_definitions` — a folder → ``dagster.Definitions``;
* :func:`run_workflow` — run through a real ``DagsterInstance``, with progress callbacks;
* :class:`WorkflowsComponent` — a folder as a Dagster Component of a ``dg`` project.

Importing ``yaml2dag`` does not import Dagster; the Dagster-facing names load on first use.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_LAZY = {
    "validate_paths": ("yaml2dag.format.validation", "validate_paths"),
    "validate_file": ("yaml2dag.format.validation", "validate_file"),
    "validate_text": ("yaml2dag.format.validation", "validate_text"),
    "load_workflow": ("yaml2dag.api", "load_workflow"),
    "Library": ("yaml2dag.library.folder", "Library"),
    "Workflow": ("yaml2dag.format.model", "Workflow"),
    "Problem": ("yaml2dag.format.errors", "Problem"),
    "WorkflowInvalidError": ("yaml2dag.format.errors", "WorkflowInvalidError"),
    "ParameterError": ("yaml2dag.format.errors", "ParameterError"),
    "compile_workflow": ("yaml2dag.compiler.job", "compile_workflow"),
    "build_definitions": ("yaml2dag.location", "build_definitions"),
    "run_workflow": ("yaml2dag.runs.runner", "run_workflow"),
    "RunResult": ("yaml2dag.runs.runner", "RunResult"),
    "WorkflowsComponent": ("yaml2dag.component", "WorkflowsComponent"),
}

__all__ = sorted(_LAZY) + ["__version__"]


def __dir__() -> list[str]:
    """The module's names, lazy ones included: ``dg`` lists the components of a registry module
    (``dagster_dg_cli.registry_modules`` entry point ``yaml2dag``) by walking ``dir()``."""
    return sorted(set(globals()) | set(_LAZY))


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'yaml2dag' has no attribute {name!r}")
    value = getattr(importlib.import_module(target[0]), target[1])
    globals()[name] = value
    return value
