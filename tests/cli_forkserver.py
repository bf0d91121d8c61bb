"""``python -m yaml2dag`` as a real subprocess without paying Dagster's import in every call.

A CLI subprocess spends about a second of CPU importing Dagster before it does anything; the
integration modules that make dozens of CLI calls against the same runs (``history``,
``status``, ``events``, ``audit``, ``logs`` ...) pay that second dozens of times. Here one
*fork server* per test process (an xdist worker) imports Dagster and ``yaml2dag.cli`` once,
then does nothing else; each call forks it, and the child becomes the command:

* its own session and process group (``setsid``, as ``start_new_session=True``), killed with
  its group when it outlives its bound and after it ends (as :func:`conftest.run_process`);
* fd 0 from ``/dev/null`` (or the given input), fds 1 and 2 into files of its own (bytes, read
  after it exits: nothing a step writes straight to a file descriptor is lost);
* the working directory, the whole environment (``os.environ`` of the test at the call, less
  ``drop``, plus ``env``, ``NO_COLOR=1`` unless set) and ``sys.path[0]`` of that call;
* ``runpy.run_module("yaml2dag", run_name="__main__", alter_sys=True)``: the package's own
  ``__main__`` with ``sys.argv`` as ``python -m yaml2dag ARGS`` has it; its exit code is the
  process's (an uncaught exception: the traceback and 1, as a fresh interpreter does), and the
  interpreter exits the normal way (atexit handlers, buffers flushed).

The one difference from a fresh ``python -m yaml2dag`` is that ``dagster`` and ``yaml2dag.cli``
are already imported (by a process started with the environment this test process had before
any test changed it, ``conftest.START_ENV``): whatever importing them printed is put in front of every call's
stdout and stderr, so a test of "exactly one line on stderr" still sees it. The server checks
that importing started no thread (a fork copies only the forking thread). Tests about what a
fresh interpreter imports (``tests/integration/test_cli_static.py``) keep real ``python -m``.

``conftest.run_cli`` forks through this server by default; it starts a fresh interpreter when
asked (``fresh=True``) or when a call's environment differs from the server's in a variable the
interpreter reads while it starts (``PYTHONPATH``, ``LANG`` ...).

The server reads its requests from a pipe: when this process ends, however it ends, the pipe
closes and the server exits; its children are killed by their process group after each call.
"""

from __future__ import annotations

import atexit
import io
import json
import locale
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from conftest import CLI_TIMEOUT, START_ENV, Completed

#: Bound (seconds) for the server to import Dagster and say it is ready.
READY_TIMEOUT = 120

#: The environment the server starts with: this process's before any test changed it.
BASE_ENV = START_ENV

SERVER = r'''
import json, os, sys, runpy, threading

requests, replies = int(sys.argv[1]), int(sys.argv[2])

import dagster  # noqa: F401 - the import every CLI call would pay
import yaml2dag.cli  # noqa: F401

sys.stdout.flush()
sys.stderr.flush()


def reply(value):
    data = (json.dumps(value) + "\n").encode()
    while data:
        data = data[os.write(replies, data):]


def lines():
    buffer = b""
    while True:
        while b"\n" not in buffer:
            chunk = os.read(requests, 65536)
            if not chunk:
                return  # the test process is gone
            buffer += chunk
        line, buffer = buffer.split(b"\n", 1)
        yield json.loads(line)


def become(request):
    """In the forked child: become `python -m yaml2dag ARGS` (never returns)."""
    os.setsid()
    os.close(requests)
    os.close(replies)
    streams = [os.open(request["stdin"] or os.devnull, os.O_RDONLY),
               os.open(request["stdout"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600),
               os.open(request["stderr"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)]
    for target, fd in enumerate(streams):
        os.dup2(fd, target)
        os.close(fd)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    sys.path[0] = os.getcwd()  # python -m puts the working directory first
    sys.argv = ["-m", *request["args"]]  # run_module sets argv[0] to yaml2dag/__main__.py
    code = 0
    try:
        runpy.run_module("yaml2dag", run_name="__main__", alter_sys=True)
    except SystemExit:
        raise
    except BaseException:
        sys.excepthook(*sys.exc_info())
        code = 1
    sys.exit(code)


def serve():
    reply({"ready": True, "threads": threading.active_count()})
    ended = {}  # pid -> exit code of a child that "poll" found ended
    for request in lines():
        if request["op"] == "start":
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:
                become(request)
            reply({"pid": pid})
        else:  # "poll" (None while it runs) or "wait"
            pid = request["pid"]
            try:
                if pid not in ended:
                    done, status = os.waitpid(pid, os.WNOHANG if request["op"] == "poll" else 0)
                    if done:
                        ended[pid] = os.waitstatus_to_exitcode(status)
            except ChildProcessError as exc:  # not a child of this server (any more)
                reply({"error": str(exc)})
                continue
            reply({"code": ended.get(pid) if request["op"] == "poll" else ended.pop(pid)})


serve()
'''


class _Answered(AssertionError):
    """A call that failed with the server still in step (an error answer, or a command killed
    and reaped after outliving its bound): the server goes on serving."""


class _Server:
    """The fork server of this process (see the module docstring)."""

    closed = False

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="yaml2dag-forkserver-"))
        requests_read, self._requests = os.pipe()
        self._replies, replies_write = os.pipe()
        self._buffer = b""
        self._count = 0
        self._lock = threading.Lock()  # one request and its reply at a time
        out, err = self.folder / "server.out", self.folder / "server.err"
        with open(out, "wb") as out_sink, open(err, "wb") as err_sink:
            self.proc = subprocess.Popen(
                [sys.executable, "-c", SERVER, str(requests_read), str(replies_write)],
                pass_fds=(requests_read, replies_write), cwd=self.folder, env=BASE_ENV, stdin=subprocess.DEVNULL,
                stdout=out_sink, stderr=err_sink, start_new_session=True)
        os.close(requests_read)
        os.close(replies_write)
        try:
            ready = self._reply(READY_TIMEOUT, "the fork server to import Dagster")
        except BaseException:
            self.close()
            raise
        if ready.get("threads") != 1:
            self.close()
            raise AssertionError(f"importing Dagster started threads ({ready}): forking would lose them")
        #: What importing printed: put in front of every call's output.
        self.prefix = (out.read_bytes(), err.read_bytes())

    def alive(self) -> bool:
        return not self.closed and self.proc.poll() is None

    def _send(self, request: dict) -> None:
        data = (json.dumps(request) + "\n").encode()
        while data:
            data = data[os.write(self._requests, data):]

    def _reply(self, timeout: float, what: str) -> dict:
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            ready, _, _ = select.select([self._replies], [], [], max(0.0, left))
            if not ready:
                raise TimeoutError(f"no answer from the fork server within {timeout:g}s waiting for {what}")
            chunk = os.read(self._replies, 65536)
            if not chunk:
                raise AssertionError(f"the fork server exited (code {self.proc.wait(10)}) while waiting for {what}: "
                                     + (self.folder / "server.err").read_text(errors="replace")[-3000:])
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b"\n", 1)
        return json.loads(line)

    def _exchange(self, function, *args):
        """One request and its reply; an exchange cut short (a pytest-timeout signal, a server
        that stopped answering) leaves the pipes out of step: the server is closed, and the next
        call starts a new one."""
        with self._lock:
            if self.closed:
                raise AssertionError("the fork server was closed after an interrupted call")
            try:
                return function(*args)
            except _Answered:
                raise
            except BaseException:
                self.close()
                raise

    def start(self, args: list[str], env: dict[str, str], cwd: str, input: bytes | None) -> Call:
        return self._exchange(self._start, args, env, cwd, input)

    def _start(self, args: list[str], env: dict[str, str], cwd: str, input: bytes | None) -> Call:
        self._count += 1
        base = self.folder / f"call{self._count}"
        stdin = None
        if input is not None:
            stdin = str(base) + ".in"
            Path(stdin).write_bytes(input)
        call = Call(self, list(args), Path(str(base) + ".out"), Path(str(base) + ".err"), stdin)
        self._send({"op": "start", "args": call.args, "env": env, "cwd": cwd, "stdin": stdin,
                    "stdout": str(call.stdout), "stderr": str(call.stderr)})
        call.pid = self._reply(READY_TIMEOUT, f"yaml2dag {' '.join(args)} to start")["pid"]
        return call

    def poll(self, call: Call) -> int | None:
        return self._exchange(self._poll, call)

    def _poll(self, call: Call) -> int | None:
        self._send({"op": "poll", "pid": call.pid})
        return self._code(self._reply(60, f"the state of yaml2dag {' '.join(call.args)}"))

    @staticmethod
    def _code(reply: dict) -> int | None:
        if "error" in reply:
            raise _Answered(f"the fork server answered: {reply['error']}")
        return reply["code"]

    def wait(self, call: Call, timeout: float) -> int:
        try:
            return self._exchange(self._wait, call, timeout)
        except _Answered:
            if call.code is None:
                raise
            out, err = call.output()
            raise AssertionError(f"yaml2dag {call.args} did not finish within {timeout}s\nstdout:\n"
                                 f"{out.decode(errors='replace')}\nstderr:\n{err.decode(errors='replace')}") from None

    def _wait(self, call: Call, timeout: float) -> int:
        self._send({"op": "wait", "pid": call.pid})
        try:
            return self._code(self._reply(timeout, f"yaml2dag {' '.join(call.args)}"))
        except TimeoutError:
            _killpg(call.pid)
            call.code = self._code(self._reply(60, "the killed command to be reaped"))
        raise _Answered(f"did not finish within {timeout}s")

    def close(self) -> None:
        self.closed = True
        for fd in (self._requests, self._replies):
            try:
                os.close(fd)
            except OSError:
                pass
        _killpg(self.proc.pid)
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        shutil.rmtree(self.folder, ignore_errors=True)


@dataclass
class Call:
    """A command started through the fork server; :meth:`finish` waits for it."""

    server: _Server
    args: list[str]
    stdout: Path
    stderr: Path
    stdin: str | None
    pid: int = 0
    code: int | None = None  #: its exit code, once finished

    def output(self) -> tuple[bytes, bytes]:
        out = self.stdout.read_bytes() if self.stdout.exists() else b""
        err = self.stderr.read_bytes() if self.stderr.exists() else b""
        return self.server.prefix[0] + out, self.server.prefix[1] + err

    def poll(self) -> int | None:
        """Its exit code if it has ended, else None (as ``Popen.poll``)."""
        return self.code if self.code is not None else self.server.poll(self)

    def kill(self) -> None:
        """If it still runs: kill its process group (SIGKILL) and reap it."""
        if self.code is None:
            _killpg(self.pid)
            self.finish_bytes(60)

    def finish_bytes(self, timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
        """Wait at most ``timeout`` seconds (then kill its process group and fail); the exit
        code and the output as bytes. Its process group is killed in any case afterwards."""
        if self.code is None:
            try:
                self.code = self.server.wait(self, timeout)
            finally:
                _killpg(self.pid)
        out, err = self.output()
        return subprocess.CompletedProcess(self.args, self.code, out, err)

    def finish(self, timeout: float = CLI_TIMEOUT) -> Completed:
        """As :meth:`finish_bytes`, the output as text the way ``Popen(text=True)`` reads it."""
        done = self.finish_bytes(timeout)
        return Completed(done.returncode, _text(done.stdout), _text(done.stderr))


def _text(data: bytes) -> str:
    """Bytes as a text-mode pipe reads them (locale encoding, universal newlines)."""
    return io.TextIOWrapper(io.BytesIO(data), encoding=locale.getpreferredencoding(False)).read()


def _killpg(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


_SERVER: _Server | None = None
_LOCK = threading.Lock()


def _server() -> _Server:
    global _SERVER
    if _SERVER is None or not _SERVER.alive():
        if _SERVER is not None:
            _SERVER.close()
        _SERVER = _Server()
    return _SERVER


@atexit.register
def _close() -> None:
    if _SERVER is not None:
        _SERVER.close()


def start_cli_env(args, env: dict[str, str], cwd: Path | str | None = None, input: str | bytes | None = None) -> Call:
    """Start ``yaml2dag ARGS`` with exactly the environment ``env``; :meth:`Call.finish` it."""
    if isinstance(input, str):
        input = input.encode()
    with _LOCK:
        server = _server()
    return server.start([str(a) for a in args], dict(env), str(cwd or os.getcwd()), input)


def full_environment(env: dict | None = None, drop: tuple[str, ...] = ()) -> dict[str, str]:
    """The environment :func:`conftest.run_process` gives a child: ``os.environ`` less ``drop``,
    updated with ``env``, ``NO_COLOR=1`` unless set."""
    full = {name: value for name, value in os.environ.items() if name not in drop}
    full.update(env or {})
    full.setdefault("NO_COLOR", "1")
    return full


def start_cli(*args: str, env: dict | None = None, cwd: Path | str | None = None, input: str | None = None,
              drop: tuple[str, ...] = ()) -> Call:
    """Start ``yaml2dag ARGS`` with the environment :func:`conftest.run_cli` would give it."""
    return start_cli_env(args, full_environment(env, drop), cwd, input)


def run_cli(*args: str, env: dict | None = None, cwd: Path | str | None = None, input: str | None = None,
            timeout: float = CLI_TIMEOUT, drop: tuple[str, ...] = ()) -> Completed:
    """:func:`conftest.run_cli` through the fork server: same arguments, same result."""
    return start_cli(*args, env=env, cwd=cwd, input=input, drop=drop).finish(timeout)


def run_cli_env(args, env: dict[str, str], cwd: Path | str | None = None,
                timeout: float = CLI_TIMEOUT) -> subprocess.CompletedProcess:
    """``yaml2dag ARGS`` with exactly the environment ``env``; output as bytes."""
    return start_cli_env(args, env, cwd).finish_bytes(timeout)
