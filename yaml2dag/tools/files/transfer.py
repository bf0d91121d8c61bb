"""The ``copy`` and ``move`` actions of the ``files`` tool.

Every (source, destination) pair is planned and checked first (``_plan_transfer``: missing
sources, existing destinations without ``overwrite``, protected paths, ``base``, a folder into
itself); only then is anything written. Files are written through a temporary file renamed into
place; ``move`` renames, or copies then removes the source across filesystems.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
from typing import Any, Mapping

from yaml2dag.tools.base import ToolContext, ToolError, ToolResult
from yaml2dag.tools.files.common import (
    CHUNK_BYTES,
    Clock,
    _expand,
    _glob_root,
    _is_glob,
    _os_error,
    _table,
    _temp_name,
    _tree_stats,
)
from yaml2dag.tools.files import removal
from yaml2dag.tools.files.safety import _abspath, _check_base, _guard, _location, _within


def _copy_file(src: str, dst: str, clock: Clock, stats: dict, *, follow: bool) -> None:
    """Copy one file (or symbolic link, when not ``follow``) to ``dst`` through a temporary file
    renamed into place, so ``dst`` is never half-written and a link at ``dst`` is replaced, not
    written through."""
    clock.check()
    st = os.stat(src) if follow else os.lstat(src)
    tmp = _temp_name(dst)
    try:
        if stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(src), tmp)
        elif stat.S_ISREG(st.st_mode):
            with open(src, "rb") as fin, open(tmp, "xb") as fout:
                while True:
                    chunk = fin.read(CHUNK_BYTES)
                    if not chunk:
                        break
                    fout.write(chunk)
                    clock.check()
            shutil.copystat(src, tmp)
            stats["files"] += 1
            stats["bytes"] += st.st_size
        else:
            stats["skipped"].append(src)
            clock.ctx.log.warning(f"skipped {src}: not a regular file (a pipe, socket or device)")
            return
        if os.path.isdir(dst) and not os.path.islink(dst):
            raise ToolError(f"cannot replace the folder {dst} with a file", retryable=False)
        os.replace(tmp, dst)
    except BaseException:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        raise


def _copy_tree(src: str, dst: str, clock: Clock, stats: dict) -> None:
    """Copy a folder into ``dst`` (merged when it exists); links inside are copied as links."""
    folders = []
    for dirpath, dirnames, filenames in os.walk(src, followlinks=False):
        clock.check()
        rel = os.path.relpath(dirpath, src)
        out = os.path.normpath(os.path.join(dst, rel))
        if os.path.lexists(out) and not (os.path.isdir(out) and not os.path.islink(out)):
            raise ToolError(f"cannot replace the file {out} with a folder", retryable=False)
        os.makedirs(out, exist_ok=True)
        folders.append((dirpath, out))
        for name in list(dirnames):
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                _copy_file(path, os.path.join(out, name), clock, stats, follow=False)
        for name in filenames:
            _copy_file(os.path.join(dirpath, name), os.path.join(out, name), clock, stats, follow=False)
    for dirpath, out in reversed(folders):
        try:
            shutil.copystat(dirpath, out)
        except OSError:
            pass


def _copy_item(src: str, dst: str, clock: Clock, stats: dict, *, follow: bool) -> None:
    os.makedirs(os.path.dirname(dst) or ".", exist_ok=True)
    if os.path.isdir(src) and not (os.path.islink(src) and not follow):
        _copy_tree(os.path.realpath(src) if follow else src, dst, clock, stats)
    else:
        _copy_file(src, dst, clock, stats, follow=follow)


def _plan_transfer(params: Mapping[str, Any], verb: str) -> list[tuple[str, str]]:
    """(source, target) pairs of a copy or move, checked before anything is written.

    Raises:
        ToolError: a source is missing, a target exists without ``overwrite``, a path is
            protected or outside ``base``, or a folder would be copied into itself.
    """
    raw_source = str(params["source"])
    raw_dest = str(params["destination"])
    overwrite = bool(params.get("overwrite", False))
    base = params.get("base")
    dest = _abspath(raw_dest)
    if _is_glob(raw_source):
        root = _glob_root(raw_source)
        matches = _expand(raw_source)
        if not matches:
            raise ToolError(f"no file matches {raw_source}", retryable=False)
        real_root = os.path.realpath(root)
        pairs = []
        for match in matches:
            if not _within(_location(match), real_root):
                raise ToolError(f"refusing to {verb} {match}: it lies outside {root} through a symbolic link",
                                retryable=False)
            rel = os.path.relpath(match, root)
            pairs.append((match, dest if rel == "." else os.path.join(dest, rel)))
    else:
        source = _abspath(raw_source)
        if not os.path.lexists(source):
            raise ToolError(f"source {source} does not exist", retryable=False)
        into = raw_dest.endswith(("/", os.sep)) or (os.path.isdir(dest) and not os.path.islink(dest))
        pairs = [(source, os.path.join(dest, os.path.basename(source)) if into else dest)]

    conflicts = []
    for source, target in pairs:
        _check_base(source, base, follow=verb == "copy")
        _check_base(target, base, follow=True)
        if verb == "move":
            _guard(source, "move")
        if os.path.lexists(target):
            if os.path.realpath(source) == os.path.realpath(target):
                raise ToolError(f"source and destination are the same: {target}", retryable=False)
            if not overwrite:
                conflicts.append(target)
                continue
            _guard(target, "overwrite", follow=True)
            src_dir = os.path.isdir(source) and not (verb == "move" and os.path.islink(source))
            dst_dir = os.path.isdir(target) and not os.path.islink(target)
            if src_dir != dst_dir:
                kind = "folder" if dst_dir else "file"
                raise ToolError(f"cannot replace the {kind} {target} with a {'folder' if src_dir else 'file'}",
                                retryable=False)
        if os.path.isdir(source) and not os.path.islink(source):
            if _within(_location(target), os.path.realpath(source)):
                raise ToolError(f"cannot {verb} the folder {source} into itself ({target})", retryable=False)
    if conflicts:
        shown = ", ".join(conflicts[:5]) + (f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else "")
        what = "destination already exists" if len(conflicts) == 1 else f"{len(conflicts)} destinations already exist"
        raise ToolError(f"{what}: {shown}; set `overwrite: true` to replace", retryable=False)
    return pairs


def _transfer_result(verb: str, pairs: list[tuple[str, str]], stats: dict) -> ToolResult:
    targets = [t for _s, t in pairs]
    fields = {"count": len(targets), "bytes": stats["bytes"], "files": stats["files"],
              "sources": [s for s, _t in pairs]}
    rows = ((s, t) for s, t in pairs)
    metadata = {f"{verb}": _table(("source", "destination"), rows, len(pairs)),
                "files": stats["files"], "bytes": stats["bytes"]}
    return ToolResult(output=targets, fields=fields, metadata=metadata, written=tuple(targets))


def copy(ctx: ToolContext, params: dict) -> ToolResult:
    """Copy a file, a folder or every match of a glob.

    Args (``params``):
        source: file, folder or glob (``**`` spans folders; matches keep their path relative
            to the glob's leading folder under ``destination``).
        destination: target path; a folder to copy into when it ends with ``/``, is an
            existing folder, or the source is a glob.
        overwrite: replace existing files (folders are merged file by file). Default false.
        base: optional folder every path must resolve inside.

    Returns:
        ``output``: destination paths (list of str); fields ``count`` (items), ``files``
        (regular files copied), ``bytes`` (bytes copied), ``sources``.

    Raises:
        ToolError: missing source, existing destination without ``overwrite``, protected path,
            path outside ``base``, I/O error. StepTimeoutError: the step's timeout passed.
    """
    pairs = _plan_transfer(params, "copy")
    clock = Clock(ctx, f"copy of {params['source']}")
    stats = {"files": 0, "bytes": 0, "skipped": []}
    for source, target in pairs:
        try:
            _copy_item(source, target, clock, stats, follow=True)
        except OSError as exc:
            raise _os_error(f"copy of {source} to {target}", exc) from None
        ctx.log.info(f"copied {source} -> {target}")
    return _transfer_result("copy", pairs, stats)


def move(ctx: ToolContext, params: dict) -> ToolResult:
    """Move a file, a folder or every match of a glob (rename when on the same filesystem,
    else copy then delete the source).

    Args and returns: as :func:`copy`; ``bytes``/``files`` count what was moved.

    Raises:
        ToolError: as :func:`copy`, and when the source is protected (root, home, top level).
    """
    pairs = _plan_transfer(params, "move")
    clock = Clock(ctx, f"move of {params['source']}")
    stats = {"files": 0, "bytes": 0, "skipped": []}
    for source, target in pairs:
        clock.check()
        files, size = _tree_stats(source)
        try:
            os.makedirs(os.path.dirname(target) or ".", exist_ok=True)
            target_dir = os.path.isdir(target) and not os.path.islink(target)
            if not target_dir:
                try:
                    os.replace(source, target)
                    stats["files"] += files
                    stats["bytes"] += size
                    ctx.log.info(f"moved {source} -> {target}")
                    continue
                except OSError as exc:
                    if exc.errno != errno.EXDEV:
                        raise
            moved = {"files": 0, "bytes": 0, "skipped": []}
            _copy_item(source, target, clock, moved, follow=False)
            if moved["skipped"]:
                raise ToolError(f"moved {source} only in part: {len(moved['skipped'])} special files could "
                                f"not be copied (e.g. {moved['skipped'][0]}); the source was kept", retryable=False)
            removal.remove_path(source)  # looked up on the module: one place to replace in tests
            stats["files"] += moved["files"]
            stats["bytes"] += moved["bytes"]
        except OSError as exc:
            raise _os_error(f"move of {source} to {target}", exc) from None
        ctx.log.info(f"moved {source} -> {target}")
    return _transfer_result("move", pairs, stats)
