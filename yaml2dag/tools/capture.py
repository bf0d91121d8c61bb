"""Per-thread capture of ``sys.stdout``/``sys.stderr`` for steps that run Python in-process.

Steps of one run execute on several threads, so redirecting ``sys.stdout`` for one step would
swallow the others' output. :func:`capture_output` installs (once) a router as ``sys.stdout``
and ``sys.stderr`` that sends each thread's writes to that thread's sink, or to the original
stream when the thread has none. A python step's prints become lines in the Dagster event log,
with secrets masked, like the shell tool's output.

What reaches file descriptors 1 and 2 directly (``os.system``, subprocesses, C extensions, other
threads) never passes through ``sys.stdout``: :func:`masked_fds` points both descriptors at pipes
while a step runs, and a thread per pipe masks every form of the run's secrets
(:mod:`yaml2dag.format.masking`) before it writes the bytes on to where the descriptor pointed before
(Dagster's compute log, or the terminal).
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import threading
from typing import Any, Callable, Iterable, Iterator
from yaml2dag.format.masking import masker_of, register, registered, registry_version

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
        # the original may be a stream without a descriptor (a Celery worker's LoggingProxy has
        # no fileno at all): say so the way io streams do, which callers such as Dagster's
        # compute log capture expect
        fileno = getattr(self.original, "fileno", None)
        if fileno is None:
            raise io.UnsupportedOperation(f"sys.{self.name} has no file descriptor")
        return fileno()

    def isatty(self) -> bool:
        try:
            return self.original.isatty()
        except Exception:  # noqa: BLE001
            return False

    @property
    def buffer(self) -> "_BinaryRouter":
        """``sys.stdout.buffer``: bytes a step writes are routed like its text."""
        return _BinaryRouter(self)


class _BinaryRouter(io.RawIOBase):
    """The binary side of a :class:`_Router`: a captured thread's bytes have the registered
    secrets masked in every binary form (UTF-8, UTF-16...) and become text lines (UTF-8,
    undecodable bytes as ``\\x..``); other threads write to the original stream's buffer."""

    def __init__(self, router: _Router):
        super().__init__()
        self.router = router

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        data = bytes(data)
        if threading.get_ident() not in _sinks:
            return self.router.original.buffer.write(data)

        self.router.write(masker_of(registered()).data(data).decode("utf-8", errors="backslashreplace"))
        return len(data)

    def flush(self) -> None:
        if threading.get_ident() not in _sinks:
            try:
                self.router.original.buffer.flush()
            except Exception:  # noqa: BLE001 - a closed original stream is not our failure
                pass

    def fileno(self) -> int:
        return self.router.fileno()


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


# --------------------------------------------------------------------------- file descriptors

#: Bytes read from a descriptor's pipe at a time.
_CHUNK = 65536
#: Seconds :func:`masked_fds` waits, when the last step leaves, for the pipe's reader to pass on
#: what was written; a background process that keeps the pipe open outlives this wait (its
#: output is still masked: the reader runs until the pipe closes).
DRAIN_SECONDS = 5.0

_fd_lock = threading.Lock()


class _Secrets:
    """The secrets a pipe's reader masks: every secret registered in this process while the
    pipe is open (a run that ended and was forgotten stays masked for a background process
    that still writes)."""

    def __init__(self) -> None:
        self.known: set[str] = set()
        self.version = -1
        self.masker: Any = None

    def current(self) -> Any:
        version = registry_version()
        if version != self.version or self.masker is None:
            self.known |= set(registered())
            self.masker = masker_of(self.known)
            self.version = version
        return self.masker


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            written = os.write(fd, view)
        except InterruptedError:
            continue
        except OSError:
            return  # the target is gone (closed terminal, broken pipe): drop the output
        view = view[written:]


def _pump(read_fd: int, write_fd: int) -> None:
    """Copy ``read_fd`` to ``write_fd`` until end of file, masking secrets; a tail that could be
    the start of a secret is kept until the next read (or the end)."""
    pending = b""
    secrets = _Secrets()
    try:
        while True:
            try:
                chunk = os.read(read_fd, _CHUNK)
            except InterruptedError:
                continue
            except OSError:
                break
            if not chunk:
                break
            masker = secrets.current()
            pending = masker.data(pending + chunk)
            hold = masker.held_back(pending)
            cut = len(pending) - hold
            if cut > 0:
                _write_all(write_fd, pending[:cut])
                pending = pending[cut:]
        if pending:
            _write_all(write_fd, secrets.current().data(pending))
    finally:
        for fd in (read_fd, write_fd):
            try:
                os.close(fd)
            except OSError:
                pass


def _identity(fd: int) -> tuple[int, int] | None:
    try:
        st = os.fstat(fd)
    except OSError:
        return None
    return st.st_dev, st.st_ino


class _Diversion:
    """One descriptor pointed at a masking pipe (see :func:`masked_fds`)."""

    def __init__(self, fd: int):
        self.fd = fd
        self.holders = 0
        self.saved = os.dup(fd)  # where the descriptor pointed: the pump writes there
        try:
            read_fd, write_fd = os.pipe()
        except OSError:
            os.close(self.saved)
            raise
        self.pipe = _identity(write_fd)
        self.thread = threading.Thread(target=_pump, args=(read_fd, self.saved),
                                       name=f"yaml2dag-mask-fd{fd}", daemon=True)
        self.thread.start()
        try:
            os.dup2(write_fd, fd)
        finally:
            os.close(write_fd)

    def active(self) -> bool:
        """The descriptor still points at this pipe (nobody re-pointed it since)."""
        return self.pipe is not None and _identity(self.fd) == self.pipe

    def restore(self) -> None:
        """Point the descriptor back where it was (unless someone else re-pointed it), closing
        the pipe's last write end held here, and wait a bounded time for the reader to finish."""
        if self.active():
            os.dup2(self.saved, self.fd)
        self.thread.join(DRAIN_SECONDS)


_diversions: dict[int, _Diversion] = {}


def _flush_python_streams() -> None:
    for stream in (sys.stdout, sys.stderr, sys.__stdout__, sys.__stderr__):
        try:
            if stream is not None:
                stream.flush()
        except Exception:  # noqa: BLE001 - a closed or odd stream is not the step's failure
            pass


@contextlib.contextmanager
def masked_fds(run_id: str | None, secrets: Iterable[str]) -> Iterator[None]:
    """While inside, bytes written to file descriptors 1 and 2 by anything in this process or
    its children have every form of every registered secret masked (:mod:`yaml2dag.format.masking`).

    Process-wide and re-entrant: steps running at once on several threads share one pipe per
    descriptor, which is put back when the last of them leaves. ``secrets`` are registered for
    ``run_id`` first (:func:`yaml2dag.format.masking.register`); with no secret registered at all,
    nothing is diverted.

    Args:
        run_id: the run the secrets belong to.
        secrets: the secret values the step knows.
    """
    register(run_id, secrets)
    if not registered():
        yield
        return
    held: list[_Diversion] = []
    with _fd_lock:
        _flush_python_streams()
        for fd in (1, 2):
            current = _diversions.get(fd)
            if current is None or not current.active():
                try:
                    current = _Diversion(fd)
                except OSError:
                    continue  # no such descriptor (a daemon without stdout): nothing to mask
                _diversions[fd] = current
            current.holders += 1
            held.append(current)
    try:
        yield
    finally:
        with _fd_lock:
            _flush_python_streams()
            for diversion in held:
                diversion.holders -= 1
                if diversion.holders <= 0:
                    if _diversions.get(diversion.fd) is diversion:
                        del _diversions[diversion.fd]
                    diversion.restore()
