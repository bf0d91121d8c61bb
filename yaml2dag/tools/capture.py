"""Per-thread capture of ``sys.stdout``/``sys.stderr`` for steps that run Python in-process.

Steps of one run execute on several threads, so redirecting ``sys.stdout`` for one step would
swallow the others' output. :func:`capture_output` installs (once) a router as ``sys.stdout``
and ``sys.stderr`` that sends each thread's writes to that thread's sink, or to the original
stream when the thread has none. A python step's prints become lines in the Dagster event log,
with secrets masked, like the shell tool's output.
"""

from __future__ import annotations

import contextlib
import io
import sys
import threading
from typing import Callable, Iterator

_sinks: dict[int, Callable[[str], None]] = {}
_lock = threading.Lock()


class _Router(io.TextIOBase):
    def __init__(self, original, name: str):
        self.original = original
        self.name = name
        self._buffers: dict[int, str] = {}

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        ident = threading.get_ident()
        sink = _sinks.get(ident)
        if sink is None:
            return self.original.write(text)
        buffered = self._buffers.get(ident, "") + text
        *lines, rest = buffered.split("\n")
        for line in lines:
            sink(line if self.name == "stdout" else f"[stderr] {line}")
        self._buffers[ident] = rest
        return len(text)

    def flush_thread(self) -> None:
        ident = threading.get_ident()
        rest = self._buffers.pop(ident, "")
        sink = _sinks.get(ident)
        if rest and sink is not None:
            sink(rest if self.name == "stdout" else f"[stderr] {rest}")

    def flush(self) -> None:
        if threading.get_ident() not in _sinks:
            try:
                self.original.flush()
            except Exception:  # noqa: BLE001 - a closed original stream is not our failure
                pass

    def fileno(self) -> int:
        return self.original.fileno()

    def isatty(self) -> bool:
        try:
            return self.original.isatty()
        except Exception:  # noqa: BLE001
            return False


def _install() -> tuple[_Router, _Router]:
    with _lock:
        if not isinstance(sys.stdout, _Router):
            sys.stdout = _Router(sys.stdout, "stdout")
        if not isinstance(sys.stderr, _Router):
            sys.stderr = _Router(sys.stderr, "stderr")
        return sys.stdout, sys.stderr  # type: ignore[return-value]


@contextlib.contextmanager
def capture_output(sink: Callable[[str], None]) -> Iterator[None]:
    """Send what the current thread prints to ``sink``, one line at a time, while inside."""
    out, err = _install()
    ident = threading.get_ident()
    _sinks[ident] = sink
    try:
        yield
    finally:
        for router in (out, err):
            if isinstance(router, _Router):
                router.flush_thread()
        _sinks.pop(ident, None)
