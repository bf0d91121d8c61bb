"""Local HTTP services for the example workflows, so they run with no setup and no network.

"Resilient API Fetch" (resilient_api_fetch.yaml) and "Call an API with a Secret Token"
(call_an_api_with_a_secret_token.yaml) call an HTTP API. When their `url` parameter is empty, their first step
calls one of the functions below, which starts a small demo API on 127.0.0.1 (a free port) in a
daemon thread of the process that runs the steps, and returns its base URL; with a `url` the
function returns it unchanged and starts nothing. The server ends with that process (with the
default `threads` executor: the run's process; `yaml2dag run` runs in its own process).

Each server counts the requests it answered per path: GET ``/stats`` returns them as JSON
(``{"/rates": 3, ...}``), so a workflow (or a test) can show how many attempts reached it.
Standard library only; nothing here imports Dagster or yaml2dag.
"""

from __future__ import annotations

import hmac
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

#: Servers started by this process, by base URL (kept so they are not garbage-collected).
_SERVERS: dict[str, ThreadingHTTPServer] = {}

#: What the demo exchange-rate endpoint answers once it works (EUR base, fixed demo values).
RATES = {"base": "EUR", "date": "2015-12-31", "rates": {"USD": 1.0887, "GBP": 0.7340, "JPY": 131.07}}

#: What the demo forecast cache answers (the live forecast endpoint is always down).
CACHED_FORECAST = {"source": "cache", "city": "Seattle",
                   "days": [{"day": 1, "weather": "rain", "temp_max_c": 9.0},
                            {"day": 2, "weather": "drizzle", "temp_max_c": 10.5}]}

#: The account the token API reports for a valid token, and its reports.
ACCOUNT = {"user": "example-bot", "scopes": ["reports:read"]}
REPORTS = [{"id": 1, "title": "Rainy days per year"}, {"id": 2, "title": "Warmest months"}]


class _Handler(BaseHTTPRequestHandler):
    """Routes GET requests to ``self.server.routes[path](handler) -> (status, body)``."""

    server_version = "yaml2dag-example"

    def log_message(self, format, *args):  # noqa: A002 - stay quiet in the run's log
        pass

    def do_GET(self):  # noqa: N802 - the http.server naming
        path = urlsplit(self.path).path.rstrip("/") or "/"
        server = self.server
        with server.lock:
            server.counts[path] += 1
            count = server.counts[path]
        if path == "/stats":
            with server.lock:
                status, body = 200, dict(server.counts)
        elif path in server.routes:
            status, body = server.routes[path](self, count)
        else:
            status, body = 404, {"error": f"no such path: {path}"}
        data = json.dumps(body).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        if status == 503:
            self.send_header("Retry-After", "1")
        self.end_headers()
        self.wfile.write(data)


def _start(routes: dict) -> str:
    """Serve ``routes`` on 127.0.0.1 (a free port) from a daemon thread; returns the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    server.routes = routes
    server.counts = Counter()
    server.lock = threading.Lock()
    thread = threading.Thread(target=server.serve_forever, name="yaml2dag-example-api", daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    _SERVERS[url] = server
    return url


def flaky_api(url: str = "", failures: int = 2) -> str:
    """The base URL of the API "Resilient API Fetch" calls: ``url``, or a local demo API.

    Args:
        url: an API's base URL (returned without a trailing ``/``); empty starts the demo API.
        failures: how many requests to ``/rates`` the demo API answers with 503 Service
            Unavailable before it answers 200 (0 or more).

    Returns:
        The base URL, e.g. ``http://127.0.0.1:40123``. The demo API answers GET ``/rates``
        (503 ``failures`` times, then :data:`RATES`), ``/forecast`` (always 503: the primary
        forecast service is down), ``/forecast/cached`` (:data:`CACHED_FORECAST`) and
        ``/stats`` (requests per path).

    Raises:
        ValueError: ``failures`` is negative.
    """
    if url:
        return url.rstrip("/")
    if failures < 0:
        raise ValueError(f"failures must be 0 or more, got {failures}")

    def rates(_handler, count):
        if count <= failures:
            return 503, {"error": f"rates service overloaded (request {count}), try again"}
        return 200, RATES

    return _start({
        "/rates": rates,
        "/forecast": lambda _h, _n: (503, {"error": "forecast service is down for maintenance"}),
        "/forecast/cached": lambda _h, _n: (200, CACHED_FORECAST),
    })


def token_api(url: str = "", token: str = "") -> str:
    """The base URL of the API "Call an API with a Secret Token" calls: ``url``, or a local demo
    API that requires ``Authorization: Bearer <token>``.

    Args:
        url: an API's base URL (returned without a trailing ``/``); empty starts the demo API.
        token: the bearer token the demo API accepts (compared in constant time).

    Returns:
        The base URL. The demo API answers GET ``/v1/me`` (:data:`ACCOUNT`) and ``/v1/reports``
        (:data:`REPORTS`) with the right token, 401 without it.

    Raises:
        ValueError: ``url`` is empty and so is ``token``.
    """
    if url:
        return url.rstrip("/")
    if not token:
        raise ValueError("the demo API needs a token to accept")
    expected = f"Bearer {token}".encode("utf-8")

    def guarded(body):
        def route(handler, _count):
            given = (handler.headers.get("Authorization") or "").encode("utf-8")
            if not hmac.compare_digest(given, expected):
                return 401, {"error": "missing or wrong bearer token"}
            return 200, body
        return route

    return _start({"/v1/me": guarded(ACCOUNT), "/v1/reports": guarded(REPORTS)})
