"""The ``delete`` action of the ``files`` tool and the one function that removes paths.

:func:`remove_path` is the only place the tool removes anything (``delete`` and a ``move``
across filesystems call it); every path is checked (:mod:`yaml2dag.tools.files.safety`) before
the first removal.
"""

from __future__ import annotations

import os
import shutil

from yaml2dag.tools.base import ToolContext, ToolError, ToolResult
from yaml2dag.tools.files.common import Clock, _expand, _glob_root, _is_glob, _os_error, _table, _tree_stats
from yaml2dag.tools.files.safety import _abspath, _check_base, _guard, _location, _within


def remove_path(path: str) -> None:
    """Remove a file, a symbolic link (never its target) or a folder tree (links inside are
    unlinked, not followed)."""
    if os.path.isdir(path) and not os.path.islink(path):
        shutil.rmtree(path)
    else:
        os.unlink(path)


def delete(ctx: ToolContext, params: dict) -> ToolResult:
    """Delete a file, a folder or every match of a glob, after checking every path.

    Args (``params``):
        path: file, folder or glob.
        recursive: delete non-empty folders with their contents (default false: refused).
        missing_ok: succeed with an empty result when nothing exists/matches (default false).
        dry_run: check and report, delete nothing.
        base: optional folder every path must resolve inside.

    Returns:
        ``output``: deleted paths (list of str); fields ``count``, ``bytes`` (bytes of regular
        files removed), ``files`` (regular files removed), ``dry_run``.

    Raises:
        ToolError: a path is the filesystem root, a top-level folder, the home directory or a
            folder containing it; a glob match reached through a symbolic link out of the
            glob's folder; a path outside ``base``; a non-empty folder without ``recursive``;
            nothing to delete without ``missing_ok``. Nothing is deleted when any check fails.
    """
    raw = str(params["path"])
    recursive = bool(params.get("recursive", False))
    dry_run = bool(params.get("dry_run", False))
    base = params.get("base")
    _guard(raw, "delete")
    if _is_glob(raw):
        targets = _expand(raw)
        root = os.path.realpath(_glob_root(raw))
        for target in targets:
            if not _within(_location(target), root):
                raise ToolError(f"refusing to delete {target}: it lies outside {_glob_root(raw)} through a "
                                "symbolic link", retryable=False)
        missing = f"no file matches {raw}"
    else:
        path = _abspath(raw)
        targets = [path] if os.path.lexists(path) else []
        missing = f"{path} does not exist"
    if not targets:
        if params.get("missing_ok", False):
            ctx.log.info(f"nothing to delete: {missing}")
            return ToolResult(output=[], fields={"count": 0, "bytes": 0, "files": 0, "dry_run": dry_run})
        raise ToolError(f"nothing to delete: {missing} (set `missing_ok: true` to accept that)", retryable=False)
    for target in targets:
        _guard(target, "delete")
        _check_base(target, base, follow=False)
        if os.path.isdir(target) and not os.path.islink(target) and not recursive:
            try:
                entries = len(os.listdir(target))
            except OSError as exc:
                raise _os_error(f"delete of {target}", exc) from None
            if entries:
                raise ToolError(f"{target} is a folder with {entries} entries; set `recursive: true` to delete "
                                "it with its contents", retryable=False)
    clock = Clock(ctx, f"delete of {raw}")
    deleted: list[str] = []
    total_files = total_bytes = 0
    for target in targets:
        clock.check()
        files, size = _tree_stats(target)
        if not dry_run:
            try:
                remove_path(target)
            except OSError as exc:
                raise ToolError(f"delete of {target} failed: {exc.strerror or exc} (deleted before it: "
                                f"{len(deleted)} paths)", {"deleted": deleted}, retryable=False) from None
        ctx.log.info(("would delete " if dry_run else "deleted ") + target)
        deleted.append(target)
        total_files += files
        total_bytes += size
    fields = {"count": len(deleted), "bytes": total_bytes, "files": total_files, "dry_run": dry_run}
    metadata = {"deleted": _table(("path",), ((p,) for p in deleted), len(deleted)), "bytes": total_bytes}
    return ToolResult(output=deleted, fields=fields, metadata=metadata)
