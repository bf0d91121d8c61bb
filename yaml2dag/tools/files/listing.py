"""The ``list`` action of the ``files`` tool: a folder's entries matching glob patterns."""

from __future__ import annotations

import datetime as _dt
import fnmatch
import os

from yaml2dag.tools.base import ToolContext, ToolError, ToolResult
from yaml2dag.tools.files.common import Clock, _as_list, _human, _table
from yaml2dag.tools.files.safety import _abspath


def _iso(timestamp: float) -> str:
    return _dt.datetime.fromtimestamp(timestamp, _dt.timezone.utc).isoformat()


def _matches(name: str, rel: str, patterns: list[str]) -> bool:
    return any(fnmatch.fnmatchcase(rel if "/" in p else name, p) for p in patterns)


def list_files(ctx: ToolContext, params: dict) -> ToolResult:
    """List the entries of a folder whose name (or relative path, for patterns with ``/``)
    matches a glob.

    Args (``params``):
        path: folder to list.
        pattern: glob or list of globs (default ``*``); any may match.
        recursive: look into sub-folders (symbolic links to folders are listed, not entered).
        include_dirs: list matching folders too. include_hidden: list names starting with ``.``.
        sort: ``name`` (default), ``modified`` or ``size``; reverse: reverse it; limit: at most N.

    Returns:
        ``output``: absolute paths (list of str); fields ``count``, ``bytes`` (total size of the
        listed files), ``entries`` (``{path, name, size, modified, is_dir}``; ``modified`` is
        ISO-8601 UTC).

    Raises:
        ToolError: the folder does not exist or is not a folder.
    """
    folder = _abspath(params["path"])
    if not os.path.exists(folder):
        raise ToolError(f"folder {folder} does not exist", retryable=False)
    if not os.path.isdir(folder):
        raise ToolError(f"{folder} is not a folder", retryable=False)
    patterns = _as_list(params.get("pattern")) or ["*"]
    recursive = bool(params.get("recursive", False))
    include_dirs = bool(params.get("include_dirs", False))
    include_hidden = bool(params.get("include_hidden", False))
    clock = Clock(ctx, f"listing of {folder}")
    entries: list[dict] = []
    stack = [folder]
    seen = 0
    while stack:
        current = stack.pop()
        try:
            with os.scandir(current) as it:
                items = list(it)
        except PermissionError:
            ctx.log.warning(f"skipped {current}: permission denied")
            continue
        for entry in items:
            seen += 1
            if seen % 1000 == 0:
                clock.check()
            if entry.name.startswith(".") and not include_hidden:
                continue
            rel = os.path.relpath(entry.path, folder).replace(os.sep, "/")
            try:
                is_dir = entry.is_dir()
                st = entry.stat() if not entry.is_symlink() or os.path.exists(entry.path) else entry.stat(
                    follow_symlinks=False)
            except OSError:
                continue
            if is_dir and recursive and not entry.is_symlink():
                stack.append(entry.path)
            if is_dir and not include_dirs:
                continue
            if not _matches(entry.name, rel, patterns):
                continue
            entries.append({"path": entry.path, "name": entry.name, "size": 0 if is_dir else st.st_size,
                            "modified": _iso(st.st_mtime), "is_dir": is_dir, "_mtime": st.st_mtime})
    key = params.get("sort", "name")
    reverse = bool(params.get("reverse", False))
    if key == "modified":
        entries.sort(key=lambda e: (e["_mtime"], e["path"]), reverse=reverse)
    elif key == "size":
        entries.sort(key=lambda e: (e["size"], e["path"]), reverse=reverse)
    else:
        entries.sort(key=lambda e: e["path"], reverse=reverse)
    if params.get("limit"):
        entries = entries[: int(params["limit"])]
    for entry in entries:
        entry.pop("_mtime")
    total = sum(e["size"] for e in entries if not e["is_dir"])
    paths = [e["path"] for e in entries]
    metadata = {"files": _table(("path", "size", "modified"),
                                ((e["path"], "folder" if e["is_dir"] else _human(e["size"]), e["modified"])
                                 for e in entries), len(entries)),
                "bytes": total}
    return ToolResult(output=paths, fields={"count": len(paths), "bytes": total, "entries": entries},
                      metadata=metadata)
