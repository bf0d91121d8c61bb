"""Path safety of the ``files`` tool: what may never be deleted or overwritten, and ``base``.

:func:`protected_reason` says why a path is protected (filesystem root, top-level folders, the
home directory and its parents, the operating system's folders of :data:`SYSTEM_FOLDERS`, paths
reached through a symbolic link among their parent folders); the actions call ``_guard`` (raises
:class:`~yaml2dag.tools.base.ToolError`) and ``_check_base`` (every path inside ``base``)
before they touch anything. Nothing here modifies the filesystem.
"""

from __future__ import annotations

import os

from yaml2dag.tools.base import ToolError


#: Folders of the operating system: nothing inside them is ever deleted or overwritten.
SYSTEM_FOLDERS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib32", "/lib64", "/libx32", "/proc",
                  "/sbin", "/sys", "/usr", "/private/etc", "/System")
#: Folders inside :data:`SYSTEM_FOLDERS` whose contents belong to the administrator
#: (``/usr/local/bin/tool`` may be replaced by a deployment; ``/usr/local`` itself stays protected).
SYSTEM_EXCEPTIONS = ("/usr/local",)


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
        # optional: may be missing
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
