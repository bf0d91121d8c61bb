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
"""

from __future__ import annotations

import datetime as _dt
import errno
import fnmatch
import glob
import json
import os
import re
import shutil
import stat
import tarfile
import uuid
import zipfile
from typing import Any, Iterable, Mapping

from yaml2dag.tools.base import Action, Markdown, StepTimeoutError, Tool, ToolContext, ToolError, ToolResult

#: Bytes read and written at a time when copying or archiving a file.
CHUNK_BYTES = 1024 * 1024
#: Archive formats of ``backup`` and their file name extensions.
FORMATS = {"tar.gz": ".tar.gz", "zip": ".zip"}
#: Rows of the markdown preview shown in the Dagster UI.
PREVIEW_ROWS = 50

#: Folders of the operating system: nothing inside them is ever deleted or overwritten.
SYSTEM_FOLDERS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
                  "/sbin", "/sys", "/usr", "/private/etc", "/System")
#: Folders inside :data:`SYSTEM_FOLDERS` whose contents belong to the administrator
#: (``/usr/local/bin/tool`` may be replaced by a deployment; ``/usr/local`` itself stays protected).
SYSTEM_EXCEPTIONS = ("/usr/local",)

_MAGIC = re.compile(r"[*?[]")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_STAMP_FORMAT = "%Y%m%d-%H%M%S"

# --------------------------------------------------------------------------- parameter schemas

_PATH = {"type": "string", "minLength": 1}
_BASE = {
    "type": "string", "minLength": 1,
    "description": "When set, every path of the step must resolve inside this folder.",
}
_GLOBS = {
    "anyOf": [{"type": "string", "minLength": 1},
              {"type": "array", "items": {"type": "string", "minLength": 1}}],
    "x-expected": "a glob pattern such as \"*.log\" or a list of them",
}

BACKUP_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["source", "target"],
    "properties": {
        "source": dict(_PATH, description="Folder to back up."),
        "target": dict(_PATH, description="Folder the archive is written to (created if missing)."),
        "format": {"enum": list(FORMATS), "description": "Archive format (default tar.gz)."},
        "name": {"type": "string", "pattern": _NAME.pattern,
                 "x-expected": "a file name prefix of letters, digits, `.`, `_` and `-` (no `/`)",
                 "description": "Archive name prefix (default: the source folder's name)."},
        "keep_last": {"type": "integer", "minimum": 1,
                      "description": "Keep at most this many archives of this name (the new one included)."},
        "older_than_days": {"type": "number", "minimum": 0,
                            "description": "Remove archives of this name older than this many days."},
        "exclude": dict(_GLOBS, description="Glob patterns of files and folders to leave out."),
        "base": _BASE,
    },
}

_TRANSFER_PROPERTIES = {
    "source": dict(_PATH, description="A file, a folder or a glob pattern."),
    "destination": dict(_PATH, description="Target path, or folder when it ends with `/`, exists "
                                           "as a folder or the source is a glob."),
    "overwrite": {"type": "boolean", "description": "Replace existing destinations (default false)."},
    "base": _BASE,
}

COPY_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["source", "destination"],
    "properties": _TRANSFER_PROPERTIES,
}

MOVE_PARAMETERS = COPY_PARAMETERS

DELETE_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": dict(_PATH, description="A file, a folder or a glob pattern."),
        "recursive": {"type": "boolean", "description": "Delete folders with their contents (default false)."},
        "missing_ok": {"type": "boolean", "description": "Succeed when nothing matches (default false)."},
        "dry_run": {"type": "boolean", "description": "Report what would be deleted, delete nothing."},
        "base": _BASE,
    },
}

LIST_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": dict(_PATH, description="Folder to list."),
        "pattern": dict(_GLOBS, description="Glob pattern(s) matched against names (default \"*\")."),
        "recursive": {"type": "boolean", "description": "Look into sub-folders (default false)."},
        "include_dirs": {"type": "boolean", "description": "List matching folders too (default false)."},
        "include_hidden": {"type": "boolean", "description": "List names starting with `.` (default false)."},
        "sort": {"enum": ["name", "modified", "size"], "description": "Order of the result (default name)."},
        "reverse": {"type": "boolean", "description": "Reverse the order (newest/largest first)."},
        "limit": {"type": "integer", "minimum": 1, "description": "Return at most this many entries."},
    },
}


# --------------------------------------------------------------------------- shared helpers


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


def _abspath(path: str) -> str:
    return os.path.normpath(os.path.abspath(os.path.expanduser(str(path))))


def _location(path: str) -> str:
    """Absolute path with symbolic links of its parent folders resolved, the last part kept."""
    absolute = _abspath(path)
    parent, name = os.path.split(absolute)
    if not name:
        return os.path.realpath(absolute)
    return os.path.join(os.path.realpath(parent), name)


def _within(path: str, folder: str) -> bool:
    folder = folder.rstrip(os.sep) or os.sep
    return path == folder or path.startswith(folder if folder.endswith(os.sep) else folder + os.sep)


def _is_root(path: str) -> bool:
    return os.path.dirname(path) == path


def _homes() -> set[str]:
    found = {os.path.expanduser("~"), os.environ.get("HOME") or ""}
    try:
        import pwd

        found.add(pwd.getpwuid(os.getuid()).pw_dir)
    except (ImportError, KeyError, AttributeError):
        pass
    out = set()
    for home in found:
        if home and os.path.isabs(home):
            out.add(os.path.normpath(home))
            out.add(os.path.realpath(home))
    return {h for h in out if not _is_root(h)}


def _system_folders() -> tuple[str, ...]:
    folders = list(SYSTEM_FOLDERS)
    for var in ("SystemRoot", "ProgramFiles", "ProgramFiles(x86)", "ProgramData"):
        if os.environ.get(var):
            folders.append(os.path.normpath(os.environ[var]))
    return tuple(folders)


def _symlinked_parent(absolute: str) -> str | None:
    """The first parent folder of ``absolute`` that is a symbolic link, ignoring links directly
    under the filesystem root (system layout such as macOS ``/tmp`` -> ``/private/tmp``)."""
    parent = os.path.dirname(absolute)
    chain = []
    while not _is_root(parent):
        chain.append(parent)
        parent = os.path.dirname(parent)
    for folder in reversed(chain):
        if _is_root(os.path.dirname(folder)):
            continue
        if os.path.islink(folder):
            return folder
    return None


def protected_reason(path: str, *, follow: bool = False) -> str | None:
    """Why ``path`` must never be deleted or overwritten, or None when it may be.

    Protected: the filesystem root (of any drive), folders directly under it, the home
    directory and every folder containing it, anything inside the operating system's own
    folders (:data:`SYSTEM_FOLDERS`: ``/etc``, ``/usr``, ``/bin``, ...), and any path reached
    through a symbolic link among its parent folders (the link could lead out of the tree the
    user meant). The path is checked as written (after ``~`` and ``..``), with its parent
    folders' links resolved, and — with ``follow`` — with its own link resolved too (for paths
    that are written through).

    Args:
        path: the path as the user gave it.
        follow: also check what ``path`` itself points to.

    Returns:
        A reason such as ``"it is the home directory"``, or None. Never touches the path.
    """
    absolute = _abspath(path)
    candidates = [absolute, _location(absolute)]
    if follow:
        candidates.append(os.path.realpath(absolute))
    homes = _homes()
    system = _system_folders()
    for candidate in candidates:
        if _is_root(candidate):
            return "it is the root of the filesystem"
        for home in homes:
            if candidate == home:
                return "it is the home directory"
            if _within(home, candidate):
                return f"it contains the home directory {home}"
        if _is_root(os.path.dirname(candidate)):
            return "it is a top-level folder of the filesystem"
        for folder in system:
            if _within(candidate, folder) and not any(
                    _within(candidate, free) and candidate != free for free in SYSTEM_EXCEPTIONS):
                return f"it is inside the system folder {folder}"
    link = _symlinked_parent(absolute)
    if link is not None:
        return (f"its parent folder {link} is a symbolic link (to {os.path.realpath(link)}); "
                "give the real path instead")
    return None


def _guard(path: str, verb: str, *, follow: bool = False) -> None:
    reason = protected_reason(path, follow=follow)
    if reason:
        raise ToolError(f"refusing to {verb} {_abspath(path)}: {reason}", retryable=False)


def _check_base(path: str, base: str | None, *, follow: bool) -> None:
    """Raise when ``path`` does not resolve inside ``base`` (when a base is given)."""
    if not base:
        return
    real_base = os.path.realpath(_abspath(base))
    places = [_location(path)]
    if follow and os.path.lexists(path):
        places.append(os.path.realpath(_abspath(path)))
    for place in places:
        if not _within(place, real_base):
            raise ToolError(f"{_abspath(path)} is outside the allowed folder {real_base} (`base`)",
                            retryable=False)


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


# --------------------------------------------------------------------------- copying


def _temp_name(target: str) -> str:
    folder, name = os.path.split(target)
    return os.path.join(folder, f".{name}.{uuid.uuid4().hex[:8]}.part")


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
    return ToolResult(output=targets, fields=fields, metadata=metadata)


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
            _remove(source)
            stats["files"] += moved["files"]
            stats["bytes"] += moved["bytes"]
        except OSError as exc:
            raise _os_error(f"move of {source} to {target}", exc) from None
        ctx.log.info(f"moved {source} -> {target}")
    return _transfer_result("move", pairs, stats)


# --------------------------------------------------------------------------- delete


def _remove(path: str) -> None:
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
                _remove(target)
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


# --------------------------------------------------------------------------- list


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


# --------------------------------------------------------------------------- backup


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
    return ToolResult(output=archive, fields=fields, metadata=metadata)


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
