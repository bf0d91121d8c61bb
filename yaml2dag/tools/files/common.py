"""What every ``files`` action shares: the step clock, glob expansion and the result's shape.

* :class:`Clock` checks the step's deadline and the run's cancellation between units of work
  (files, 1 MiB chunks: :data:`CHUNK_BYTES`);
* ``_expand`` and friends turn a glob (``**`` spans folders) into sorted matches;
* ``_tree_stats`` counts files and bytes, ``_os_error`` turns an ``OSError`` into a
  :class:`~yaml2dag.tools.base.ToolError` (permanent errors are not retryable), ``_human`` and
  ``_table`` format the Markdown preview (at most :data:`PREVIEW_ROWS` rows), ``_temp_name`` names
  the temporary file a write goes through before its atomic rename.
"""

from __future__ import annotations

import errno
import glob
import os
import re
import stat
import uuid
from typing import Any, Iterable

from yaml2dag.tools.base import Markdown, StepTimeoutError, ToolContext, ToolError
from yaml2dag.tools.files.safety import _abspath, _within


#: Bytes read and written at a time when copying or archiving a file.
CHUNK_BYTES = 1024 * 1024

#: Rows of the markdown preview shown in the Dagster UI.
PREVIEW_ROWS = 50

_MAGIC = re.compile(r"[*?[]")


class Clock:
    """Checks the step's deadline and cancellation between units of work.

    Args:
        ctx: the step's tool context.
        what: what is running, for messages (``"backup of /data"``).
    """

    def __init__(self, ctx: ToolContext, what: str):
        self.ctx = ctx
        self.what = what
        self.cleanup_note = ""

    def check(self) -> None:
        """Raise when the step ran out of time or the run was terminated.

        Raises:
            StepTimeoutError: the step's ``timeout`` has passed.
            ToolError: the run was terminated.
        """
        if self.ctx.cancelled:
            raise ToolError(f"{self.what} was stopped: the run was terminated{self.cleanup_note}")
        left = self.ctx.time_left()
        if left is not None and left <= 0:
            raise StepTimeoutError(f"{self.what} timed out after {self.ctx.timeout:g}s and was stopped"
                                   f"{self.cleanup_note}")


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [str(value)]


def _is_glob(path: str) -> bool:
    return bool(_MAGIC.search(path))


def _glob_root(pattern: str) -> str:
    """The folder a glob pattern starts in: its leading parts without wildcards."""
    head = _abspath(pattern)
    while _is_glob(head):
        head = os.path.dirname(head)
    return head


def _expand(pattern: str) -> list[str]:
    """Matches of a glob (``**`` spans folders), sorted, without entries inside other matches."""
    matches = sorted({os.path.normpath(m) for m in glob.glob(_abspath(pattern), recursive=True)})
    kept: list[str] = []
    for match in matches:
        if any(_within(match, k) for k in kept if os.path.isdir(k) and not os.path.islink(k)):
            continue
        kept.append(match)
    return kept


def _tree_stats(path: str) -> tuple[int, int]:
    """(regular files, bytes) under ``path`` without following symbolic links."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return 0, 0
    if not stat.S_ISDIR(st.st_mode):
        return (1, st.st_size) if stat.S_ISREG(st.st_mode) else (0, 0)
    files = size = 0
    for dirpath, _dirnames, filenames in os.walk(path, followlinks=False):
        for name in filenames:
            try:
                fst = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            if stat.S_ISREG(fst.st_mode):
                files += 1
                size += fst.st_size
    return files, size


def _os_error(action: str, exc: OSError) -> ToolError:
    reason = exc.strerror or str(exc)
    where = f"{exc.filename}: " if exc.filename else ""
    permanent = exc.errno in (errno.EACCES, errno.EPERM, errno.ENOENT, errno.ENOTDIR, errno.EISDIR,
                              errno.EROFS, errno.ENOTEMPTY, errno.EEXIST)
    return ToolError(f"{action} failed: {where}{reason}", retryable=not permanent)


def _human(size: int) -> str:
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{size} B"  # pragma: no cover


def _table(header: Iterable[str], rows: Iterable[Iterable[Any]], total: int) -> Markdown:
    head = list(header)
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    shown = 0
    for row in rows:
        if shown == PREVIEW_ROWS:
            break
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
        shown += 1
    if total > shown:
        lines.append(f"\n… and {total - shown} more")
    return Markdown("\n".join(lines))


def _temp_name(target: str) -> str:
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.part")
