"""The inter-process locks (``filelock``) of the storage creation, the library writes and the
dead-run reaper: each holds an exclusive lock on its documented file while inside, and releases it
after, also when the block raises. A second process is stood in for by a second ``FileLock`` on the
same path (another open file description: ``flock`` refuses it as it would another process)."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from filelock import FileLock, Timeout

from yaml2dag.library.versions.writes import locked
from yaml2dag.runs.storage import LOCK_FILE, creation_lock


def _held(path: Path) -> bool:
    try:
        with FileLock(path, timeout=0):
            return False
    except Timeout:
        return True


def _reap_lock():
    try:
        from yaml2dag.compiler import run_health
    except ImportError:  # before the move of run_health into the compiler
        from yaml2dag.runs import run_health
    return run_health._reap_lock


class _Instance:
    def __init__(self, root: Path):
        self.root_directory = str(root)


@pytest.mark.parametrize("which", ["storage creation", "library writes", "dead-run reaper"])
def test_the_lock_is_held_inside_and_released_after(tmp_path, which):
    if which == "storage creation":
        path, hold = tmp_path / LOCK_FILE, lambda: creation_lock(tmp_path)
    elif which == "library writes":
        path, hold = tmp_path / ".versions" / ".lock", lambda: locked(tmp_path)
    else:
        path, hold = tmp_path / ".yaml2dag-reap.lock", lambda: _reap_lock()(_Instance(tmp_path))
    with hold():
        assert _held(path)
    assert not _held(path)
    with contextlib.suppress(RuntimeError), hold():
        raise RuntimeError("the block failed")
    assert not _held(path)

