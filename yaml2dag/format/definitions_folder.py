"""The definitions folder setting: where the workflow files of a project are.

The folder is named by the ``YAML2DAG_DEFINITIONS`` environment variable, default
``./definitions``. It is a setting every layer may read (the validator looks there for the
sub-workflows a file names, the compiler for the jobs a run worker rebuilds, the library for
everything it manages), so it lives at the bottom, in the format layer, and asks nothing of the
library. Nothing here imports Dagster.
"""

from __future__ import annotations

import os
from pathlib import Path

#: Environment variable naming the definitions folder.
DEFINITIONS_ENV = "YAML2DAG_DEFINITIONS"


def definitions_dir() -> Path:
    """The definitions folder: ``$YAML2DAG_DEFINITIONS``, else ``./definitions`` (maybe relative,
    not resolved; it need not exist)."""
    return Path(os.environ.get(DEFINITIONS_ENV) or "definitions")


def library_root(folder: str | Path) -> Path:
    """The definitions folder that contains ``folder``: ``$YAML2DAG_DEFINITIONS`` (resolved) when
    ``folder`` is inside it or is it, else ``folder`` itself (resolved)."""
    path = Path(folder).resolve()
    configured = definitions_dir().resolve()
    if path == configured or configured in path.parents:
        return configured
    return path


__all__ = ["DEFINITIONS_ENV", "definitions_dir", "library_root"]
