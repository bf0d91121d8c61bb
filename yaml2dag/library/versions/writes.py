"""Safe writes to the library: the write lock (``.versions/.lock``), atomic file replacement, the
check that a path is inside the definitions folder (or a writable export target), and the
error every refused write raises.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from typing import Iterator

from yaml2dag.format.errors import Problem, Yaml2DagError
from filelock import FileLock


VERSIONS_DIR = ".versions"


class LibraryWriteError(Yaml2DagError):
    """A change the library refuses: invalid text, a taken name, an unsafe path, a version that
    goes backwards... ``problems`` holds validator problems when there are any."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


def versions_root(root: str | Path) -> Path:
    """``<definitions>/.versions``."""
    return Path(root) / VERSIONS_DIR


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked(root: str | Path) -> Iterator[None]:
    """Hold the library's write lock (``.versions/.lock``, with ``filelock``: an ``flock`` where
    the file system has one, else a lock file of its own) while inside; blocks while another
    process holds it."""
    folder = versions_root(root)
    folder.mkdir(parents=True, exist_ok=True)
    with FileLock(folder / ".lock"):
        yield


def inside(root: str | Path, path: str | Path) -> Path:
    """``path`` resolved, checked to be a file path inside the definitions folder ``root``.

    Both are paths as the caller holds them: a relative ``root`` or ``path`` is relative to the
    current directory (``definitions/x.yaml`` with ``root`` = ``definitions``), never to
    ``root``; joining a relative path to ``root`` wrote ``definitions/definitions/x.yaml``
    (issue #10, point 1).

    Returns:
        The absolute, resolved path.

    Raises:
        LibraryWriteError: the path (after following symlinks) is outside ``root`` or is
            ``root`` itself, or is inside a hidden/underscore folder of it that the loader skips.
    """
    base = Path(root).resolve()
    resolved = Path(path).resolve()
    if base not in resolved.parents:
        raise LibraryWriteError(f"{path} is outside the definitions folder {root}")
    rel = resolved.relative_to(base).parts
    if any(part.startswith((".", "_")) for part in rel):
        raise LibraryWriteError(f"{path} is in a folder the library skips (names starting with . or _)")
    return resolved


def check_writable_target(path: str | Path, force: bool = False) -> Path:
    """A path outside the library the user asked us to write (``export --file``): refused when
    it is a folder, or an existing file and ``force`` is not set.

    Raises:
        LibraryWriteError: see above.
    """
    target = Path(path)
    if target.is_dir():
        raise LibraryWriteError(f"{path} is a folder; give a file name")
    if target.exists() and not force:
        raise LibraryWriteError(f"{path} exists; use --force to overwrite it")
    if not target.parent.exists():
        raise LibraryWriteError(f"the folder {target.parent} does not exist")
    return target
