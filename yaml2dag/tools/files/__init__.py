"""The ``files`` tool: back up, copy, move, delete and list files (spec §6, issue #4).

Actions (``backup`` is the default, as listed first in spec §6):

* ``backup`` — archive a folder into ``NAME-YYYYMMDD-HHMMSS.tar.gz`` (or ``.zip``; the time is
  UTC) in a target folder, then apply retention (``keep_last``, ``older_than_days``) to the
  archives *this action names that way* in that folder — nothing else is ever removed.
* ``copy`` / ``move`` — a file, a folder or a glob to a destination; never overwrite unless
  ``overwrite: true``.
* ``delete`` — a path or a glob; folders only with ``recursive: true``.
* ``list`` — the files of a folder matching glob patterns.

Safety rules, checked for every path *before* anything is deleted or overwritten:

* never the filesystem root (``/``, ``C:\\``), a folder directly under it (``/usr``, ``/etc``,
  ``/tmp``, ...), the home directory or a folder that contains it, or anything inside the
  operating system's folders (``/etc``, ``/usr`` but ``/usr/local/...``, ``/bin``, ...) — also
  when the path reaches them through ``..`` or symbolic links of its parent folders;
* never a path reached through a symbolic link among its parent folders (it could lead out of
  the tree the user meant);
* when ``base`` is given, every path must resolve inside that folder;
* deleting removes a symbolic link itself, never what it points to, and a glob never reaches
  through a symbolic link out of the folder it starts in;
* an existing destination is replaced only with ``overwrite: true``, by an atomic rename of a
  fully written temporary file.

Every action honours the step ``timeout`` itself (``handles_timeout``): it stops between files
and between 1 MiB chunks, removes its partial output (a half-written archive never remains) and
fails with :class:`~yaml2dag.tools.base.StepTimeoutError`.

Modules (one per group of actions; this package assembles :data:`TOOL` from them):
:mod:`~yaml2dag.tools.files.params` (parameter schemas), :mod:`~yaml2dag.tools.files.safety`
(protected paths, ``base``), :mod:`~yaml2dag.tools.files.common` (clock, globs, result tables),
:mod:`~yaml2dag.tools.files.transfer` (``copy``, ``move``), :mod:`~yaml2dag.tools.files.removal`
(``delete``), :mod:`~yaml2dag.tools.files.listing` (``list``), :mod:`~yaml2dag.tools.files.archive`
(``backup``).
"""

from __future__ import annotations

from yaml2dag.tools.base import Action, Tool
from yaml2dag.tools.files.archive import archive_pattern, backup
from yaml2dag.tools.files.common import CHUNK_BYTES, PREVIEW_ROWS, Clock
from yaml2dag.tools.files.listing import list_files
from yaml2dag.tools.files.params import (
    BACKUP_PARAMETERS,
    COPY_PARAMETERS,
    DELETE_PARAMETERS,
    FORMATS,
    LIST_PARAMETERS,
    MOVE_PARAMETERS,
)
from yaml2dag.tools.files.removal import delete, remove_path
from yaml2dag.tools.files.safety import SYSTEM_EXCEPTIONS, SYSTEM_FOLDERS, protected_reason
from yaml2dag.tools.files.transfer import copy, move

__all__ = ["BACKUP_PARAMETERS", "CHUNK_BYTES", "COPY_PARAMETERS", "DELETE_PARAMETERS", "FORMATS", "LIST_PARAMETERS",
           "MOVE_PARAMETERS", "PREVIEW_ROWS", "SYSTEM_EXCEPTIONS", "SYSTEM_FOLDERS", "TOOL", "Clock", "archive_pattern",
           "backup", "copy", "delete", "list_files", "move", "protected_reason", "remove_path"]


TOOL = Tool(
    name="files",
    description="Back up, copy, move, delete and list files, with path safety checks.",
    actions=(
        Action(
            name="backup",
            description="Archive a folder into a timestamped .tar.gz/.zip and apply retention.",
            parameters=BACKUP_PARAMETERS,
            run=backup,
            result_fields=("archive", "bytes", "count", "source_bytes", "removed", "format"),
            output="the archive's path",
            handles_timeout=True,
        ),
        Action(
            name="copy",
            description="Copy a file, a folder or a glob's matches; never overwrite unless asked.",
            parameters=COPY_PARAMETERS,
            run=copy,
            result_fields=("count", "bytes", "files", "sources"),
            output="destination paths",
            handles_timeout=True,
        ),
        Action(
            name="move",
            description="Move a file, a folder or a glob's matches; never overwrite unless asked.",
            parameters=MOVE_PARAMETERS,
            run=move,
            result_fields=("count", "bytes", "files", "sources"),
            output="destination paths",
            handles_timeout=True,
        ),
        Action(
            name="delete",
            description="Delete a file, a folder or a glob's matches (never /, top-level folders or home).",
            parameters=DELETE_PARAMETERS,
            run=delete,
            result_fields=("count", "bytes", "files", "dry_run"),
            output="deleted paths",
            handles_timeout=True,
        ),
        Action(
            name="list",
            description="List a folder's entries matching glob patterns.",
            parameters=LIST_PARAMETERS,
            run=list_files,
            result_fields=("count", "bytes", "entries"),
            output="paths",
            handles_timeout=True,
        ),
    ),
)


