"""Finding workflow files: the ``.yaml``/``.yml``/``.json`` files of a definitions folder, in a
stable order, without hidden or helper folders and Dagster component declarations. Nothing here
reads or parses a workflow, nor imports Dagster.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from yaml2dag.format.component_files import is_component_declaration


WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json")


def iter_workflow_files(folder: str | Path) -> Iterator[Path]:
    """Workflow files under ``folder``, recursively, in a stable (sorted) order.

    Files and folders whose names start with ``.`` or ``_`` are skipped (issue #2, code
    location): that keeps version archives (``.versions/``) and helper folders out. So are
    Dagster component declarations (a ``defs.yaml`` with a top-level ``type:``, issue 14:
    :func:`yaml2dag.format.component_files.is_component_declaration`).
    """
    root = Path(folder)
    if root.is_file():
        yield root
        return
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if any(part.startswith((".", "_")) for part in rel):
            continue
        if path.suffix.lower() in WORKFLOW_SUFFIXES and path.is_file() and not is_component_declaration(path):
            yield path
