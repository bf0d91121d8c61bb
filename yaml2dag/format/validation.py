"""The validator: every problem in every workflow file, at once (spec §8, issue #2).

Checks, in the order a file goes through them:

1. YAML syntax (duplicate keys, unquoted ``{{ ... }}`` read as a mapping) — :mod:`.loader`;
2. the JSON Schema, unknown keys with "did you mean" — :mod:`.schema`;
3. ids: duplicates, clashes with parameter names or with the names yaml2dag generates;
4. parameters: defaults of the declared type and within ``enum``/``minimum``/``maximum``/
   ``pattern``, reserved names;
5. tools: unknown tools or actions, each step's ``parameters`` against its action's schema;
6. templates: syntax, unknown names (walking the Jinja AST), unknown result fields, ``| raw``
   (a warning), calls the sandbox refuses (``.to_csv('/path')``, ``.eval()``...), reads of
   steps that are not upstream;
7. dependencies: unknown ``depends_on`` targets and cycles — :mod:`.plan`;
8. triggers: cron expressions, IANA time zones, trigger parameters;
9. across a folder: duplicate workflow names (case-insensitive) and job ids, unknown
   sub-workflows and upstream workflows, Dagster op/graph definition names two jobs would
   share (:mod:`.naming`; Dagster refuses such a code location), and asset keys two steps
   write (a warning, :mod:`.validation_assets`).

The checks live in one module per concern (``validation_*``); this module validates files and
folders and keeps every public name importable from ``yaml2dag.format.validation``.

Nothing here imports Dagster: validating is a pre-commit / CI check and must feel instant.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Sequence

from yaml2dag.format.errors import WARNING
from yaml2dag.format.gc_pause import gc_paused
from yaml2dag.format.loader import internal_problem, iter_workflow_files
from yaml2dag.format.validation_assets import asset_writer_problems
from yaml2dag.format.validation_checker import DocumentChecker, _Checker, check_document, validate_file, validate_text  # noqa: F401 - re-exported
from yaml2dag.format.validation_ids import DAGSTER_RESERVED, RESERVED_NAMES
from yaml2dag.format.validation_lookup import _lookup, _resolver  # noqa: F401 - re-exported (name_index)
from yaml2dag.format.validation_names import (
    _name_problems,
    definition_name_problems,
    report_definition_names,
    trigger_name_problems,
)
from yaml2dag.format.validation_references import subworkflow_problems, workflow_trigger_problems
from yaml2dag.format.validation_report import FileReport, ValidationReport, dedupe as _dedupe
from yaml2dag.format.validation_templates import FOR_EACH_RESULT_FIELDS, RUN_FIELDS
from yaml2dag.format.validation_tools import UNSUPPORTED
from yaml2dag.format.validation_triggers import MAX_CONCURRENCY_LIMIT, timezone_problem, trigger_name_clashes

__all__ = [
    "DAGSTER_RESERVED", "FOR_EACH_RESULT_FIELDS", "MAX_CONCURRENCY_LIMIT", "RESERVED_NAMES", "RUN_FIELDS",
    "UNSUPPORTED", "DocumentChecker", "FileReport", "ValidationReport", "check_document",
    "definition_name_problems", "expand_paths", "folder_problems", "report_definition_names",
    "subworkflow_problems", "timezone_problem", "trigger_name_clashes", "trigger_name_problems",
    "validate_file", "validate_paths", "validate_text", "workflow_trigger_problems",
]


def expand_paths(paths: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """Files named by ``paths`` (folders expanded recursively), with their display names."""
    out: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in iter_workflow_files(path):
                out.append((file, str(file)))
        else:
            out.append((path, str(raw)))
    return out


def validate_paths(paths: Sequence[str | Path]) -> ValidationReport:
    """Validate files and folders together, including checks across files.

    Returns:
        A :class:`ValidationReport`; a missing path is reported as a problem of that path.
    """
    with gc_paused():  # as each file's validation (validate_file); the folder checks too
        reports = [validate_file(path, display) for path, display in expand_paths(paths)]
        folder_problems(reports)
    return ValidationReport(reports)


def folder_problems(reports: list[FileReport]) -> None:
    """Add cross-file problems (duplicate names and job ids, sub-workflows) to the reports,
    in place. Never raises: see :func:`_isolated`."""
    for check in (_name_problems, subworkflow_problems, workflow_trigger_problems, definition_name_problems,
                  trigger_name_problems, asset_writer_problems):
        _isolated(check, reports)
    for report in reports:
        report.problems[:] = _dedupe(report.problems)


def _isolated(check, reports: list[FileReport]) -> None:
    """Run the cross-file ``check`` over ``reports``; when it raises (a bug some file
    triggers), find the file(s) it raises on when checked alone, give each one ``internal``
    problem (so it is invalid: a stand-in job in the code location) and run the check again
    over the others, so one file never takes the others down."""
    sizes = [len(r.problems) for r in reports]
    try:
        check(reports)
        return
    except Exception:  # noqa: BLE001 - located below
        pass
    for report, size in zip(reports, sizes):
        del report.problems[size:]
    culprits: list[FileReport] = []
    for report, size in zip(reports, sizes):
        try:
            check([report])
        except Exception as exc:  # noqa: BLE001
            culprits.append(report)
            del report.problems[size:]
            report.problems.append(internal_problem(report.file, exc,
                                                    "checking this file against the other files of its folder"))
            continue
        del report.problems[size:]
    rest = [r for r in reports if not any(r is c for c in culprits)]
    if len(rest) < len(reports):
        _isolated(check, rest)
    else:  # raises only with several files together: no file is to blame, so none is made invalid
        for report in rest:
            problem = internal_problem(report.file, RuntimeError(check.__name__),
                                       "checking the files of this folder against each other")
            report.problems.append(replace(problem, severity=WARNING))
