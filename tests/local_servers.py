"""Helpers for tests that talk to real servers on 127.0.0.1 (tests only).

* :func:`free_port` - a loopback port with nothing listening; :func:`silent_port` - one that
  accepts connections and never answers.
* :class:`QuietHandler`, :class:`LocalHTTPServer`, :func:`serving` - a stdlib HTTP server on a
  free port, served from a daemon thread while inside ``with serving(server):`` and shut down
  (thread joined, bounded) on leaving.
* :func:`make_cert` - a self-signed certificate for 127.0.0.1/localhost (the `openssl` CLI).
* :func:`start_smtp` - an aiosmtpd server on a free port, stopped when the test ends.
* :func:`everything_stored` - what a run stored, as one string to search for leaked secrets.
* :func:`shipped_dagster_home` - a DAGSTER_HOME with the repository's ``dagster_home/dagster.yaml``;
  :func:`start_dev` - ``yaml2dag dev`` (webserver + daemon + code server) on it, as a :class:`Live`
  driven over GraphQL; :func:`stop_process_tree` - stop a server and everything it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

from waiting import wait_until

#: Bound for joining a server thread after shutdown, and for making a certificate (seconds).
STOP_TIMEOUT = 10
CERT_TIMEOUT = 60

REPO = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A port on 127.0.0.1 with nothing listening (bound, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def silent_port() -> Iterator[int]:
    """While inside, a port on 127.0.0.1 that accepts connections (the kernel does, up to a
    backlog of 8) but never sends a byte: for connect/greeting timeouts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        yield silent.getsockname()[1]


# --------------------------------------------------------------------------- HTTP


class QuietHandler(BaseHTTPRequestHandler):
    """A request handler that logs nothing and answers through :meth:`_send` / :meth:`_json`."""

    def log_message(self, format, *args):  # noqa: A002 - keep test output quiet
        pass

    def _send(self, status: int, body: bytes | str, content_type: str = "text/plain; charset=utf-8",
              extra: dict | None = None) -> None:
        """Answer ``status`` with ``body`` (str is sent as UTF-8), Content-Length and ``extra`` headers.

        The body is left out for HEAD requests.
        """
        data = body.encode("utf-8") if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def _json(self, status: int, value: Any, content_type: str = "application/json",
              extra: dict | None = None) -> None:
        """Answer ``status`` with ``value`` as JSON."""
        self._send(status, json.dumps(value), content_type, extra)


class LocalHTTPServer(ThreadingHTTPServer):
    """A threading HTTP server on 127.0.0.1 (a free port, or ``port``); ``state`` is for the handler."""

    daemon_threads = True

    def __init__(self, handler: type[BaseHTTPRequestHandler], state: Any = None, port: int = 0):
        super().__init__(("127.0.0.1", port), handler)
        self.state = state

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (no trailing slash)."""
        return f"http://127.0.0.1:{self.server_address[1]}"


@contextlib.contextmanager
def serving(server: ThreadingHTTPServer, before_stop: Callable[[], Any] | None = None) -> Iterator[ThreadingHTTPServer]:
    """Serve ``server`` from a daemon thread while inside; on leaving call ``before_stop`` (to wake
    waiting handlers), shut the server down, close it and join the thread (at most STOP_TIMEOUT s)."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if before_stop is not None:
            before_stop()
        server.shutdown()
        server.server_close()
        thread.join(timeout=STOP_TIMEOUT)
        assert not thread.is_alive(), f"the server thread did not stop within {STOP_TIMEOUT}s"


# --------------------------------------------------------------------------- TLS and SMTP


def make_cert(folder: Path) -> tuple[Path, Path] | None:
    """A self-signed certificate for 127.0.0.1/localhost in ``folder``: (cert.pem, key.pem), or
    None without the `openssl` command."""
    openssl = shutil.which("openssl")
    if openssl is None:
        return None
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run([openssl, "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
                    "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True, timeout=CERT_TIMEOUT)
    return cert, key


def start_smtp(request, handler: Any, **kwargs: Any) -> int:
    """Start an aiosmtpd server with ``handler`` (and Controller ``kwargs``) on a free port of
    127.0.0.1, stopped when the test of ``request`` ends; returns the port."""
    from aiosmtpd.controller import Controller

    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port, ready_timeout=10, **kwargs)
    controller.start()
    request.addfinalizer(controller.stop)
    return port


# --------------------------------------------------------------------------- leaks


def everything_stored(ran) -> str:
    """Every event log record (serialized the way Dagster stores it, and as its repr), the outputs
    and the error of a run (a conftest ``Ran``), as one string to search for leaked secrets."""
    try:
        from dagster._serdes import serialize_value
    except ImportError:  # pragma: no cover - older layout
        serialize_value = repr
    parts = []
    for record in ran.records:
        try:
            parts.append(serialize_value(record))
        except Exception:  # noqa: BLE001 - a record that does not serialize is still searched as repr
            pass
        parts.append(repr(record))
    parts.append(json.dumps(ran.result.outputs, default=str))
    parts.append(str(ran.result.error))
    return "\n".join(parts)


# --------------------------------------------------------------------------- Dagster servers

#: Bound for `yaml2dag dev` to come up (code server, webserver, daemon on a slow 2-core machine).
DEV_START_TIMEOUT = 180
#: Default bound of :meth:`Live.wait_for` (a reload, a run finishing).
LIVE_WAIT_TIMEOUT = 90

JOBS_QUERY = "{ repositoriesOrError { ... on RepositoryConnection { nodes { jobs { name description } " \
             "sensors { name } schedules { name } } } } }"


def shipped_dagster_home(path: Path) -> Path:
    """Make ``path`` a DAGSTER_HOME holding a copy of the repository's ``dagster_home/dagster.yaml``
    (queued run coordinator, pools, run monitoring); returns it."""
    path.mkdir(parents=True)
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", path / "dagster.yaml")
    return path


@dataclass
class Live:
    """A running `yaml2dag dev` on 127.0.0.1: its URL, folders, process and combined log."""

    url: str
    root: Path
    home: Path
    folder: Path
    proc: subprocess.Popen
    log: Path

    def graphql(self, query: str, variables: dict | None = None) -> dict:
        """POST ``query`` to /graphql; returns ``data`` (asserts there are no errors)."""
        import requests

        response = requests.post(self.url + "/graphql", json={"query": query, "variables": variables or {}}, timeout=30)
        response.raise_for_status()
        body = response.json()
        assert not body.get("errors"), body
        return body["data"]

    def location(self) -> dict:
        """jobs (name → description), sensors and schedules of the loaded code location."""
        nodes = self.graphql(JOBS_QUERY)["repositoriesOrError"].get("nodes") or []
        jobs = {j["name"]: j["description"] for n in nodes for j in n["jobs"] if not j["name"].startswith("__")}
        return {"jobs": jobs, "sensors": {s["name"] for n in nodes for s in n["sensors"]},
                "schedules": {s["name"] for n in nodes for s in n["schedules"]}}

    def wait_for(self, what: str, check: Callable[[], Any], timeout: float = LIVE_WAIT_TIMEOUT, poll: float = 1.0):
        """Call ``check`` every ``poll`` seconds until it returns a true value (returned), at most
        ``timeout`` seconds; request errors, AssertionError and KeyError count as "not yet".
        Fails at once if the server exits."""
        import requests

        return wait_until(check, timeout, poll, what, process=self.proc, details=self.tail,
                          ignore=(requests.RequestException, AssertionError, KeyError))

    def tail(self) -> str:
        """The last 4000 characters of the server's log."""
        return self.log.read_text(errors="replace")[-4000:]

    def run_status(self, run_id: str) -> str:
        """The run's status as the webserver reports it (``SUCCESS``...), or "" if unknown."""
        data = self.graphql("query($id: ID!) { runOrError(runId: $id) { ... on Run { status } } }", {"id": run_id})
        return data["runOrError"].get("status", "")


def descendants(pid: int) -> list:
    """The running descendants of ``pid`` (psutil.Process objects), or [] if it is gone. Zombies
    (ended, not reaped yet: this machine's PID 1 does not reap orphans) are not running."""
    import psutil

    try:
        found = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    return [p for p in found if command_line(p) is not None]


def command_line(process) -> str | None:
    """The command line of ``process`` (a psutil.Process) as one string; None once it has ended
    (gone, or a zombie)."""
    import psutil

    try:
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None


def kill_groups(processes: list) -> None:
    """SIGKILL the process groups of ``processes`` (psutil.Process objects) still running.

    psutil's ``is_running`` compares creation times, so a pid reused by an unrelated process
    is never touched.
    """
    groups = set()
    for process in processes:
        try:
            if process.is_running():
                groups.add(os.getpgid(process.pid))
        except (ProcessLookupError, OSError):
            pass
    for group in groups:
        try:
            os.killpg(group, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def stop_process_tree(proc: subprocess.Popen, timeout: float = 60) -> None:
    """Stop ``proc`` (started with ``start_new_session=True``) and everything it started: SIGTERM
    to its process group, up to ``timeout`` seconds for it to exit (0: no SIGTERM), then SIGKILL
    to the groups of whatever of it and its descendants (listed before and after) still runs."""
    import psutil

    leftovers = descendants(proc.pid)
    if proc.poll() is None:
        try:
            leftovers.append(psutil.Process(proc.pid))
            if timeout > 0:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=timeout)
        except (psutil.NoSuchProcess, ProcessLookupError, subprocess.TimeoutExpired):
            pass
        leftovers += descendants(proc.pid)
    kill_groups(leftovers)
    proc.wait(timeout=10)


@contextlib.contextmanager
def start_dev(root: Path, folder: Path, jobs: set[str], *, timeout: float = DEV_START_TIMEOUT,
              debounce: float = 0.5, stop_timeout: float = 60) -> Iterator[Live]:
    """Run `yaml2dag dev` on a free port with cwd ``root``, DAGSTER_HOME ``root/dagster_home``
    (the shipped dagster.yaml) and definitions ``folder``, until the code location has ``jobs``
    (at most ``timeout`` seconds). Yields a :class:`Live`; on leaving, stops the server (SIGTERM,
    ``stop_timeout`` seconds to exit; 0 for SIGKILL at once) and kills every process it started
    (:func:`stop_process_tree`). The server's output goes to ``root/dev.log``."""
    home = shipped_dagster_home(root / "dagster_home")
    port = free_port()
    env = dict(os.environ, DAGSTER_HOME=str(home), YAML2DAG_DEFINITIONS=str(folder), NO_COLOR="1")
    log = root / "dev.log"
    with open(log, "w") as sink:
        # no workspace.yaml in root: yaml2dag dev writes its own, with the location "yaml2dag"
        proc = subprocess.Popen([sys.executable, "-m", "yaml2dag", "dev", "--port", str(port), "--debounce", str(debounce)],
                                cwd=root, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    server = Live(f"http://127.0.0.1:{port}", root, home, folder, proc, log)
    try:
        server.wait_for("the code location to load", lambda: set(jobs) <= set(server.location()["jobs"]),
                        timeout=timeout, poll=0.5)
        yield server
    finally:
        stop_process_tree(proc, timeout=stop_timeout)
