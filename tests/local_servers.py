"""Helpers for tests that talk to real servers on 127.0.0.1 (tests only).

* :func:`free_port` - a loopback port with nothing listening; :func:`silent_port` - one that
  accepts connections and never answers.
* :class:`QuietHandler`, :class:`LocalHTTPServer`, :func:`serving` - a stdlib HTTP server on a
  free port, served from a daemon thread while inside ``with serving(server):`` and shut down
  (thread joined, bounded) on leaving.
* :func:`make_cert` - a self-signed certificate for 127.0.0.1/localhost (the `openssl` CLI).
* :func:`start_smtp` - an aiosmtpd server on a free port, stopped when the test ends.
* :func:`everything_stored` - what a run stored, as one string to search for leaked secrets.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import socket
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Iterator

#: Bound for joining a server thread after shutdown, and for making a certificate (seconds).
STOP_TIMEOUT = 10
CERT_TIMEOUT = 60


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
