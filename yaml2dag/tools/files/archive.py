"""The ``backup`` action of the ``files`` tool: timestamped archives and their retention.

``backup`` writes ``NAME-YYYYMMDD-HHMMSS[-N].tar.gz`` (or ``.zip``; the time is UTC) through a
temporary file, then removes old archives of *that name pattern only* (:func:`archive_pattern`)
by ``keep_last`` and ``older_than_days``.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import os
import re
import stat
import tarfile
import zipfile
from typing import Any

from yaml2dag.tools.base import ToolContext, ToolError, ToolResult
from yaml2dag.tools.files.common import CHUNK_BYTES, Clock, _as_list, _human, _os_error, _table, _temp_name
from yaml2dag.tools.files.params import FORMATS
from yaml2dag.tools.files.safety import _abspath, _check_base


_STAMP_FORMAT = "%Y%m%d-%H%M%S"


def archive_pattern(name: str) -> re.Pattern:
    """The names of the archives ``backup`` creates for ``name``: ``NAME-YYYYMMDD-HHMMSS[-N].ext``."""
    exts = "|".join(re.escape(e) for e in FORMATS.values())
    return re.compile(rf"^{re.escape(name)}-(\d{{8}}-\d{{6}})(?:-(\d+))?({exts})$")


def _default_name(source: str) -> str:
    base = os.path.basename(os.path.realpath(source)) or "root"
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "_", base).lstrip("._-")
    return cleaned or "backup"


def _excluded(rel: str, name: str, is_dir: bool, patterns: list[str]) -> bool:
    for pattern in patterns:
        dir_only = pattern.endswith("/")
        pat = pattern.rstrip("/")
        if dir_only and not is_dir:
            continue
        if fnmatch.fnmatchcase(name, pat) or fnmatch.fnmatchcase(rel, pat):
            return True
    return False


class _LimitedReader:
    """A file object that checks the clock on every read (tarfile copies through it)."""

    def __init__(self, handle: Any, clock: Clock):
        self._handle = handle
        self._clock = clock

    def read(self, size: int = -1) -> bytes:
        self._clock.check()
        return self._handle.read(size if size is not None and size >= 0 else CHUNK_BYTES)


def _collect(source: str, excludes: list[str], skip: set[str], clock: Clock, ctx: ToolContext) -> list[tuple[str, str]]:
    """(path, relative path) of every entry to archive, folders before their contents."""
    out: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(source, followlinks=False):
        clock.check()
        dirnames.sort()
        keep = []
        for name in dirnames:
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, source).replace(os.sep, "/")
            if os.path.realpath(path) in skip or _excluded(rel, name, True, excludes):
                continue
            if os.path.islink(path):
                out.append((path, rel))  # stored as a link, never followed
                continue
            keep.append(name)
        dirnames[:] = keep
        rel_dir = os.path.relpath(dirpath, source).replace(os.sep, "/")
        if rel_dir != ".":
            out.append((dirpath, rel_dir))
        for name in sorted(filenames):
            path = os.path.join(dirpath, name)
            rel = os.path.relpath(path, source).replace(os.sep, "/")
            if name.endswith(".part") and name.startswith("."):
                continue
            if _excluded(rel, name, False, excludes):
                continue
            out.append((path, rel))
    out.sort(key=lambda item: item[1])
    return out


def _write_tar(tmp: str, root: str, entries: list[tuple[str, str]], clock: Clock, ctx: ToolContext) -> tuple[int, int]:
    files = size = 0
    with tarfile.open(tmp, "w:gz") as tar:
        for path, rel in entries:
            clock.check()
            try:
                info = tar.gettarinfo(path, f"{root}/{rel}")
            except FileNotFoundError:
                ctx.log.warning(f"skipped {path}: it disappeared during the backup")
                continue
            if info is None:  # a socket or similar: tarfile cannot store it
                ctx.log.warning(f"skipped {path}: not a regular file, folder or link")
                continue
            if info.isreg():
                try:
                    with open(path, "rb") as handle:
                        tar.addfile(info, _LimitedReader(handle, clock))
                except FileNotFoundError:
                    ctx.log.warning(f"skipped {path}: it disappeared during the backup")
                    continue
                files += 1
                size += info.size
            else:
                tar.addfile(info)
    return files, size


def _zip_time(mtime: float) -> tuple:
    stamp = _dt.datetime.fromtimestamp(mtime).timetuple()[:6]
    return max(stamp, (1980, 1, 1, 0, 0, 0))


def _write_zip(tmp: str, root: str, entries: list[tuple[str, str]], clock: Clock, ctx: ToolContext) -> tuple[int, int]:
    files = size = 0
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True,
                         strict_timestamps=False) as zf:
        for path, rel in entries:
            clock.check()
            arcname = f"{root}/{rel}"
            try:
                st = os.lstat(path)
            except FileNotFoundError:
                ctx.log.warning(f"skipped {path}: it disappeared during the backup")
                continue
            if stat.S_ISLNK(st.st_mode):
                info = zipfile.ZipInfo(arcname, _zip_time(st.st_mtime))
                info.create_system = 3  # unix: keeps the mode bits, so unzip restores the link
                info.external_attr = (stat.S_IFLNK | 0o777) << 16
                zf.writestr(info, os.readlink(path))
            elif stat.S_ISDIR(st.st_mode):
                zf.write(path, arcname + "/")
            elif stat.S_ISREG(st.st_mode):
                info = zipfile.ZipInfo.from_file(path, arcname, strict_timestamps=False)
                info.compress_type = zipfile.ZIP_DEFLATED
                try:
                    with open(path, "rb") as fin, zf.open(info, "w", force_zip64=True) as fout:
                        while True:
                            chunk = fin.read(CHUNK_BYTES)
                            if not chunk:
                                break
                            fout.write(chunk)
                            clock.check()
                except FileNotFoundError:
                    ctx.log.warning(f"skipped {path}: it disappeared during the backup")
                    continue
                files += 1
                size += st.st_size
            else:
                ctx.log.warning(f"skipped {path}: not a regular file, folder or link")
    return files, size


def _archives(target: str, name: str) -> list[tuple[_dt.datetime, int, str]]:
    """This action's archives of ``name`` in ``target``, newest first."""
    pattern = archive_pattern(name)
    found = []
    with os.scandir(target) as it:
        for entry in it:
            match = pattern.match(entry.name)
            if not match or not entry.is_file(follow_symlinks=False):
                continue
            try:
                stamp = _dt.datetime.strptime(match.group(1), _STAMP_FORMAT).replace(tzinfo=_dt.timezone.utc)
            except ValueError:
                continue
            found.append((stamp, int(match.group(2) or 0), entry.path))
    found.sort(reverse=True)
    return found


def _retention(target: str, name: str, keep_last: int | None, older_than_days: float | None,
               current: str, now: _dt.datetime) -> list[tuple[str, str]]:
    """(path, reason) of the archives retention removes: an archive goes only when every
    rule given says so; the archive just written always stays."""
    if keep_last is None and older_than_days is None:
        return []
    doomed = []
    cutoff = now - _dt.timedelta(days=float(older_than_days)) if older_than_days is not None else None
    for position, (stamp, _seq, path) in enumerate(_archives(target, name)):
        if os.path.normpath(path) == os.path.normpath(current):
            continue
        reasons = []
        if keep_last is not None:
            if position < keep_last:
                continue
            reasons.append(f"beyond the newest {keep_last}")
        if cutoff is not None:
            if stamp >= cutoff:
                continue
            reasons.append(f"older than {older_than_days:g} days")
        doomed.append((path, " and ".join(reasons)))
    return doomed


def backup(ctx: ToolContext, params: dict) -> ToolResult:
    """Archive a folder into a timestamped ``.tar.gz``/``.zip`` and apply retention.

    Args (``params``):
        source: folder to archive (its contents go under a top folder of the same name).
        target: folder for the archive (created if missing; left out of the archive when it
            lies inside ``source``).
        format: ``tar.gz`` (default) or ``zip``.
        name: archive name prefix (default: the source folder's name).
        keep_last: keep the newest N archives of this name (N >= 1).
        older_than_days: remove archives of this name older than this many days (by the time
            in their name). With both rules, an archive is removed only when both say so.
        exclude: globs matched against each entry's name and its path relative to ``source``
            (``node_modules``, ``*.tmp``, ``cache/``: a trailing ``/`` matches folders only).
        base: optional folder ``source`` and ``target`` must resolve inside.

    Returns:
        ``output``: the archive's path; fields ``archive``, ``bytes`` (archive size in bytes),
        ``count`` (files archived), ``source_bytes`` (their total size), ``removed`` (paths of
        old archives deleted by retention), ``format``.

    Raises:
        ToolError: the source folder is missing, the target is not a folder or outside
            ``base``, an entry cannot be read. StepTimeoutError: the step's timeout passed (the
            partial archive is removed).
    """
    source = _abspath(params["source"])
    target = _abspath(params["target"])
    if not os.path.exists(source):
        raise ToolError(f"source folder {source} does not exist", retryable=False)
    if not os.path.isdir(source):
        raise ToolError(f"source {source} is not a folder", retryable=False)
    if os.path.lexists(target) and not os.path.isdir(target):
        raise ToolError(f"target {target} exists and is not a folder", retryable=False)
    _check_base(source, params.get("base"), follow=True)
    _check_base(target, params.get("base"), follow=True)
    fmt = params.get("format", "tar.gz")
    name = params.get("name") or _default_name(source)
    excludes = _as_list(params.get("exclude"))
    try:
        os.makedirs(target, exist_ok=True)
    except OSError as exc:
        raise _os_error(f"creating the target folder {target}", exc) from None

    now = _dt.datetime.now(_dt.timezone.utc)
    stem = f"{name}-{now.strftime(_STAMP_FORMAT)}"
    archive = os.path.join(target, stem + FORMATS[fmt])
    seq = 0
    while os.path.lexists(archive):
        seq += 1
        archive = os.path.join(target, f"{stem}-{seq}{FORMATS[fmt]}")
    tmp = _temp_name(archive)
    clock = Clock(ctx, f"backup of {source}")
    clock.cleanup_note = "; the partial archive was removed"
    skip = {os.path.realpath(target)}
    root = os.path.basename(os.path.realpath(source)) or "root"
    ctx.log.info(f"archiving {source} into {archive}")
    try:
        entries = _collect(source, excludes, skip, clock, ctx)
        writer = _write_tar if fmt == "tar.gz" else _write_zip
        files, source_bytes = writer(tmp, root, entries, clock, ctx)
        os.replace(tmp, archive)
    except PermissionError as exc:
        raise ToolError(f"backup of {source} failed: cannot read {exc.filename}: permission denied "
                        "(leave it out with `exclude`)", retryable=False) from None
    except OSError as exc:
        raise _os_error(f"backup of {source}", exc) from None
    finally:
        if os.path.lexists(tmp):
            try:
                os.unlink(tmp)
            except OSError:
                pass
    size = os.path.getsize(archive)
    ctx.log.info(f"wrote {archive}: {files} files, {_human(size)}")

    removed = []
    for path, reason in _retention(target, name, params.get("keep_last"), params.get("older_than_days"),
                                   archive, now):
        try:
            os.unlink(path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            ctx.log.warning(f"retention could not remove {path}: {exc.strerror or exc}")
            continue
        ctx.log.info(f"retention removed {path} ({reason})")
        removed.append(path)

    fields = {"archive": archive, "bytes": size, "count": files, "source_bytes": source_bytes,
              "removed": removed, "format": fmt}
    summary = [("archive", archive), ("format", fmt), ("files", files), ("archive size", _human(size)),
               ("source size", _human(source_bytes)), ("removed by retention", len(removed))]
    metadata = {"backup": _table(("", ""), summary, len(summary)), "archive": archive, "bytes": size,
                "count": files}
    if removed:
        metadata["removed"] = removed
    return ToolResult(output=archive, fields=fields, metadata=metadata, written=(archive,))
