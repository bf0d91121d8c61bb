"""Checking a workflow text before it is written: validation with the checks across the folder, and
the version and job id the text declares.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from yaml2dag.library.versions.numbering import DEFAULT_VERSION
from yaml2dag.format.loader import iter_workflow_files, load_text
from yaml2dag.format.model import slugify
from yaml2dag.format.validation import folder_problems, validate_file, validate_text


def check_text(root: str | Path, text: str, target: str | Path) -> Any:
    """Validate ``text`` as the content of ``target`` in the library at ``root``.

    Runs the validator, then the checks across the folder with every *other* workflow file
    (duplicate names and job ids, unknown sub-workflows).

    Returns:
        The :class:`~yaml2dag.format.validation.FileReport` (check ``.valid``).
    """
    target_resolved = Path(target).resolve()
    report = validate_text(text, str(target))
    if report.workflow is not None and Path(root).is_dir():
        others = [validate_file(p) for p in iter_workflow_files(root) if Path(p).resolve() != target_resolved]
        # the new text comes last, so a name or job id it shares with another file is its problem
        folder_problems(others + [report])
    return report


def version_of(text: str) -> str:
    """The ``version`` a workflow text declares (default ``1.0.0``)."""
    doc = load_text(text)
    data = doc.data if isinstance(doc.data, dict) else {}
    value = data.get("version")
    return str(value) if value not in (None, "") else DEFAULT_VERSION


def _job_of(text: str, fallback: str) -> str:
    doc = load_text(text)
    data = doc.data if isinstance(doc.data, dict) else {}
    if isinstance(data.get("id"), str) and data["id"]:
        return data["id"]
    if isinstance(data.get("name"), str) and data["name"]:
        return slugify(data["name"])
    return fallback
