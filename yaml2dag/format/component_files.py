"""Telling Dagster component declarations apart from workflow files (no Dagster import).

A ``dg`` project declares a component in a ``defs.yaml`` (or ``defs.yml``) of its defs folder
(Dagster 1.13 Components, https://docs.dagster.io/guides/build/components). When
:class:`yaml2dag.component.WorkflowsComponent` reads its workflows from the folder of its own
``defs.yaml`` (the scaffolded layout), that file must not be taken for a broken workflow, by the
component nor by ``yaml2dag validate``/``list``/``dev`` pointed at the same folder.
"""

from __future__ import annotations

import re
from pathlib import Path

#: File names Dagster reserves for component declarations in a defs folder.
DECLARATION_NAMES = ("defs.yaml", "defs.yml")

#: A top-level ``type:`` key. Workflows cannot have one (the JSON Schema's top level has
#: ``additionalProperties: false`` and no ``type`` property), every component declaration does.
_TOP_LEVEL_TYPE = re.compile(r"^type[ \t]*:", re.MULTILINE)

#: Declarations are small; reading more than this to find ``type:`` is never needed.
_READ_LIMIT = 1 << 20


def is_component_declaration(path: str | Path) -> bool:
    """Whether ``path`` is a Dagster component declaration rather than a workflow file.

    True only for a file named ``defs.yaml``/``defs.yml`` whose text has a top-level ``type:``
    key, so no valid workflow is ever mistaken for one (a workflow named ``defs.yaml`` without
    such a key stays a workflow). Unreadable files are not declarations (the validator reports
    them as workflows).

    Args:
        path: a file path.

    Returns:
        True when the file declares a Dagster component.
    """
    path = Path(path)
    if path.name.lower() not in DECLARATION_NAMES:
        return False
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(_READ_LIMIT)
    except OSError:
        return False
    return _TOP_LEVEL_TYPE.search(text) is not None
