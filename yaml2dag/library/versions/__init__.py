"""Versions of the workflows in the library, and every write the CLI makes to it.

The definitions folder is the source of truth; this package is the only way the CLI changes it.
Every change to an existing workflow (``edit``, ``schedule``, ``import --force``, ``rollback``,
``delete``) goes through :func:`commit_change` (or :func:`rollback`/:func:`delete_workflow`):

1. the new text is validated, with the checks across the folder (a name or job id already taken
   by another file is an error) — an invalid file is never written;
2. ``version`` is bumped (patch, above every version known for the workflow) unless the new
   text sets a new one itself, which must then be new and, when both are dotted numbers,
   greater than the current one;
3. the previous file is kept, byte for byte, as ``<definitions>/.versions/<job>/<version>.yaml``
   (``.json`` for JSON workflows); the loader skips folders starting with ``.``;
4. the new file is written atomically (a temporary file renamed over it) and a line is added to
   ``.versions/<job>/log.jsonl`` (what, who, when, which versions).

Every change recorded in the log gets a **revision** number (``seq``: 1, 2, 3... per job), so
the log is the workflow's change history even when two revisions carry the same ``version``.

A rollback restores the archived bytes exactly (so the restored file hashes like the original,
its ``version`` field is the old version again, and runs are tagged with that version again).
It is itself a new revision: the file it replaces is archived, the log gets a ``rollback``
entry with the next ``seq`` (``restored``: the saved version it brought back), and
:func:`history` marks the current file as restored by that rollback. The next change after a
rollback bumps above the highest version known, so no two different contents ever share a
version number.

Writes take a lock on ``.versions/.lock`` so two CLI processes cannot interleave. Nothing here
imports Dagster.

One module per concept:

- :mod:`yaml2dag.library.versions.numbering`: version numbers (parse, order, bump);
- :mod:`yaml2dag.library.versions.writes`: the write lock, atomic writes, paths inside the folder,
  :class:`LibraryWriteError`;
- :mod:`yaml2dag.library.versions.checks`: validating a text before it is written, the version and
  job id it declares;
- :mod:`yaml2dag.library.versions.store`: the archive of saved versions and the change log, read
  back;
- :mod:`yaml2dag.library.versions.changes`: commit, rollback and delete.

The names below are re-exported for callers that import them from
``yaml2dag.library.versions``.
"""

from __future__ import annotations

from yaml2dag.library.versions.numbering import (
    DEFAULT_VERSION,
    bump_patch,
    is_newer,
    next_version,
    parse_version,
    version_key,
)
from yaml2dag.library.versions.writes import (
    VERSIONS_DIR,
    LibraryWriteError,
    check_writable_target,
    inside,
    locked,
    versions_root,
)
from yaml2dag.library.versions.checks import check_text, version_of
from yaml2dag.library.versions.store import (
    LOG_FILE,
    SavedVersion,
    archive,
    archive_dir,
    archived,
    find_archived,
    find_by_hash,
    history,
    read_log,
    text_of,
)
from yaml2dag.library.versions.changes import Change, commit_change, delete_workflow, rollback

__all__ = [
    "DEFAULT_VERSION",
    "LOG_FILE",
    "VERSIONS_DIR",
    "Change",
    "LibraryWriteError",
    "SavedVersion",
    "archive",
    "archive_dir",
    "archived",
    "bump_patch",
    "check_text",
    "check_writable_target",
    "commit_change",
    "delete_workflow",
    "find_archived",
    "find_by_hash",
    "history",
    "inside",
    "is_newer",
    "locked",
    "next_version",
    "parse_version",
    "read_log",
    "rollback",
    "text_of",
    "version_key",
    "version_of",
    "versions_root",
]
