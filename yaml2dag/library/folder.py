"""The workflow library: the definitions folder, and finding a workflow in it.

The folder is the source of truth (files live happily in git). It is named by the
``YAML2DAG_DEFINITIONS`` environment variable, default ``./definitions``
(:mod:`yaml2dag.format.definitions_folder`, a setting). A workflow is found by its file path, its
name (ignoring case) or its job id (:class:`yaml2dag.format.workflow_folder.WorkflowFolder`, which
the compiler and the runner use too); :class:`Library` adds what the library keeps beside the
files: their saved versions (:mod:`yaml2dag.library.versions`).

Nothing here imports Dagster: ``list``, ``show`` and ``validate`` must stay instant.
"""

from __future__ import annotations

from pathlib import Path

# the setting and the folder lookup are the format layer's; re-exported under their old names
from yaml2dag.format.definitions_folder import DEFINITIONS_ENV, definitions_dir, library_root  # noqa: F401
from yaml2dag.format.workflow_folder import WorkflowFolder
from yaml2dag.library import versions


class Library(WorkflowFolder):
    """The workflows of one definitions folder (see :class:`WorkflowFolder`), with their saved
    versions.

    Args:
        folder: the folder (default: :func:`definitions_dir`).
    """

    def saved_version(self, job_id: str, content_hash: str) -> versions.SavedVersion | None:
        """The saved version of workflow ``job_id`` whose bytes hash (SHA-256, hex) to
        ``content_hash``, or None (:func:`yaml2dag.library.versions.find_by_hash`)."""
        return versions.find_by_hash(self.folder, job_id, content_hash)

    def archive_dir(self, job_id: str) -> Path:
        """The folder holding the saved versions of workflow ``job_id``."""
        return versions.archive_dir(self.folder, job_id)


__all__ = ["DEFINITIONS_ENV", "Library", "WorkflowFolder", "definitions_dir", "library_root"]
