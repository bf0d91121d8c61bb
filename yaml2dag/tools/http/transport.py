"""Sending one HTTP request with ``requests`` and reading the whole answer (:func:`send`).

The request is bounded by the smaller of its own ``timeout`` and the step's time left
(:func:`effective_timeout`); a watchdog shuts down the socket at the deadline or when the run is
terminated; the body is read in 64 KiB chunks up to :data:`MAX_RESPONSE_BYTES`. Failures become
:class:`~yaml2dag.tools.base.ToolError` with a readable reason, retryable when a retry may help
(connection refused, DNS, reset; not a bad URL or a TLS problem). Shared by ``http`` and ``llm``.
"""

from __future__ import annotations

import json
import re
import socket
import threading
import time
import urllib.parse
from dataclasses import dataclass
from typing import Any, Mapping

from yaml2dag.format.durations import parse_duration
from yaml2dag.tools.base import StepTimeoutError, ToolContext, ToolError
from yaml2dag.tools.http.values import _size, format_seconds, one_line, redact_url


#: Seconds a request may take when neither ``timeout`` nor the step's ``timeout`` is set.
DEFAULT_TIMEOUT = 60.0
#: Largest response body read (bytes, after decompression); a larger one fails the step.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024

_READ_CHUNK = 64 * 1024


@dataclass
class HttpResponse:
    """A response read completely by :func:`send`.

    Attributes:
        status_code: e.g. 200.
        reason: e.g. ``"OK"`` ("" when the server sent none).
        headers: response headers, names lower-case (repeated headers joined with ``", "``).
        url: the final URL after redirects (password redacted).
        body: the body bytes, decompressed.
        elapsed: seconds from sending the request to the end of the body.
        content_type: the media type without parameters, lower-case (``"application/json"``).
        charset: the ``charset`` parameter of Content-Type, or None.
    """

    status_code: int
    reason: str
    headers: dict[str, str]
    url: str
    body: bytes
    elapsed: float
    content_type: str = ""
    charset: str | None = None

    @property
    def status_text(self) -> str:
        """``"404 Not Found"``."""
        return f"{self.status_code} {self.reason}".strip()

    @property
    def is_json(self) -> bool:
        """The Content-Type says JSON (``application/json``, ``application/*+json``, ``text/json``)."""
        ctype = self.content_type
        return ctype in ("application/json", "text/json") or (ctype.startswith("application/") and ctype.endswith("+json"))

    def text(self) -> str:
        """The body decoded with its charset (UTF-8 when none is given; bad bytes become U+FFFD)."""
        encoding = self.charset or "utf-8"
        try:
            return self.body.decode(encoding, errors="replace")
        except LookupError:  # an unknown charset name
            return self.body.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (None for an empty body).

        Raises:
            ValueError: the body is not JSON.
        """
        if not self.body.strip():
            return None
        if self.charset and self.charset.lower().replace("-", "") not in ("utf8", "utf16", "utf32"):
            return json.loads(self.text())
        return json.loads(self.body)


class _Watchdog:
    """Stops a request at its deadline (or when the run is terminated) by shutting down the
    socket the body is read from; the phases before the body are bounded by requests' own
    connect and read timeouts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._response: Any = None
        self._finished = False
        self.fired = False
        self.cancelled = False

    def attach(self, response: Any) -> None:
        with self._lock:
            self._response = response
            stop = self.fired or self.cancelled
        if stop:
            _interrupt(response)

    def time_up(self) -> None:
        self._stop(cancel=False)

    def cancel(self) -> None:
        self._stop(cancel=True)

    def _stop(self, *, cancel: bool) -> None:
        with self._lock:
            if self._finished:
                return
            if cancel:
                self.cancelled = True
            else:
                self.fired = True
            response = self._response
        if response is not None:
            _interrupt(response)

    def finish(self) -> None:
        with self._lock:
            self._finished = True


def _interrupt(response: Any) -> None:
    """Unblock a thread reading ``response``'s body (best effort)."""
    raw = getattr(response, "raw", None)
    try:
        raw.shutdown()  # urllib3 >= 2.3
        return
    except Exception:  # noqa: BLE001 - older urllib3 or connection already released
        pass
    try:
        raw.connection.sock.shutdown(socket.SHUT_RDWR)
    except Exception:  # noqa: BLE001 - nothing left to interrupt
        pass


def effective_timeout(ctx: ToolContext, own: Any, default: float) -> tuple[float, bool]:
    """The seconds a request may take, and whether the step's timeout is the binding limit.

    Args:
        ctx: the step context (its ``time_left()``).
        own: the action's ``timeout`` parameter (a duration) or None.
        default: seconds used when neither limit is set.

    Raises:
        ToolError (not retryable): ``own`` is not a duration.
        StepTimeoutError: the step has no time left.
    """
    if own is not None:
        try:
            limit = parse_duration(own)
        except ValueError as exc:
            raise ToolError(f"`timeout`: {exc}", retryable=False) from None
        if limit <= 0:
            raise ToolError("`timeout` must be more than 0 seconds", retryable=False)
    else:
        limit = None
    left = ctx.time_left()
    if left is not None and left <= 0:
        raise StepTimeoutError(f"step timed out after {ctx.timeout:g}s before the request was sent")
    if left is not None and (limit is None or left < limit):
        return left, True
    return (limit if limit is not None else default), False


def send(
    ctx: ToolContext,
    method: str,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    query: Any = None,
    data: bytes | None = None,
    auth: Any = None,
    verify: bool | str = True,
    follow_redirects: bool = True,
    timeout: Any = None,
    default_timeout: float = DEFAULT_TIMEOUT,
    max_bytes: int = MAX_RESPONSE_BYTES,
) -> HttpResponse:
    """Send one request and read the whole response, whatever its status.

    Args:
        ctx: the step context: its deadline limits the request; terminating the run stops it.
        method: upper-case HTTP method.
        url: an http(s) URL (see :func:`check_url`).
        headers: request headers (string values).
        query: ``params`` for requests (a mapping or list of pairs), or None.
        data: the body bytes, or None.
        auth: a requests auth object or ``(user, password)``, or None.
        verify: TLS certificate check, or a CA bundle path.
        follow_redirects: follow 3xx answers.
        timeout: the ``timeout`` parameter (a duration), or None for ``default_timeout``.
        default_timeout: seconds when neither ``timeout`` nor the step's timeout is set.
        max_bytes: largest body read (bytes, decompressed).

    Returns:
        An :class:`HttpResponse` with the full body.

    Raises:
        StepTimeoutError: the step's timeout ran out first.
        ToolError: connection refused, DNS failure, TLS error, timeout (``timeout``), broken
            connection (retryable unless the URL or TLS setup is at fault); a body over
            ``max_bytes`` (not retryable).
    """
    # lazy: requests is heavy and optional here; kept off light paths
    import requests

    seconds, step_bound = effective_timeout(ctx, timeout, default_timeout)
    what = f"{method} {redact_url(url)}"
    dog = _Watchdog()
    ctx.on_cancel(dog.cancel)
    timer = threading.Timer(seconds, dog.time_up)
    timer.daemon = True
    session = requests.Session()
    response = None
    started = time.monotonic()

    def timed_out() -> ToolError:
        took = time.monotonic() - started
        if step_bound:
            return StepTimeoutError(f"step timed out after {ctx.timeout:g}s: {what} had not answered "
                                    f"completely after {format_seconds(took)}")
        return ToolError(f"{what} timed out after {seconds:g}s (`timeout`) without a complete answer")

    def stopped() -> ToolError:
        return ToolError(f"{what} was stopped (the run was terminated)", retryable=False)

    timer.start()
    try:
        try:
            response = session.request(
                method, url, headers=dict(headers or {}), params=query, data=data, auth=auth,
                verify=verify, allow_redirects=follow_redirects, timeout=(seconds, seconds), stream=True,
            )
        except requests.exceptions.Timeout:
            if dog.cancelled:
                raise stopped() from None
            raise timed_out() from None
        except requests.exceptions.RequestException as exc:
            if dog.cancelled:
                raise stopped() from None
            raise _transport_error(what, url, exc) from None
        except UnicodeError as exc:
            raise ToolError(f"{what}: the request cannot be encoded ({exc}); header values must be "
                            "Latin-1 text", retryable=False) from None
        except (OSError, ValueError) as exc:  # e.g. a `verify` path that does not exist
            raise ToolError(f"{what}: invalid request: {exc}", retryable=False) from None
        dog.attach(response)
        try:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(_READ_CHUNK):
                size += len(chunk)
                if size > max_bytes:
                    raise ToolError(f"{what}: the response is larger than {_size(max_bytes)}; "
                                    "it was not read", {"status_code": response.status_code}, retryable=False)
                chunks.append(chunk)
                if dog.fired or dog.cancelled:
                    break
            dog.finish()  # a deadline passing from here on does not spoil a complete response
        except requests.exceptions.RequestException as exc:
            if dog.cancelled:
                raise stopped() from None
            if dog.fired or "timed out" in str(exc).lower():
                raise timed_out() from None
            raise ToolError(f"{what}: the connection broke while reading the response "
                            f"({response.status_code} {response.reason}): {_short_reason(exc)}") from None
        if dog.cancelled:
            raise stopped()
        if dog.fired:
            raise timed_out()
        elapsed = time.monotonic() - started
        ctype_header = response.headers.get("Content-Type", "")
        ctype, charset = _content_type(ctype_header)
        return HttpResponse(
            status_code=response.status_code,
            reason=response.reason or "",
            headers={k.lower(): v for k, v in response.headers.items()},
            url=redact_url(response.url),
            body=b"".join(chunks),
            elapsed=elapsed,
            content_type=ctype,
            charset=charset,
        )
    finally:
        dog.finish()
        timer.cancel()
        if response is not None:
            response.close()
        session.close()


def _content_type(value: str) -> tuple[str, str | None]:
    media, _, params = value.partition(";")
    charset = None
    for param in params.split(";"):
        key, _, val = param.partition("=")
        if key.strip().lower() == "charset" and val.strip():
            charset = val.strip().strip('"')
    return media.strip().lower(), charset


def _short_reason(exc: BaseException) -> str:
    """The innermost useful text of a requests/urllib3 exception."""
    reason: Any = exc
    for _ in range(5):
        inner = getattr(reason, "reason", None)
        if not isinstance(inner, BaseException):  # ssl.SSLError.reason is a str ("WRONG_VERSION_NUMBER")
            inner = None
        if inner is None and reason.args and isinstance(reason.args[0], BaseException):
            inner = reason.args[0]
        if inner is None or inner is reason:
            break
        reason = inner
    text = str(reason)
    # "HTTPConnection(host=..., port=...): Failed to establish a new connection: [Errno 111] ..."
    text = re.sub(r"^<?[\w.]+(Connection|Pool)\w*\(?[^)]*\)?>?:\s*", "", text)
    return one_line(text, 300) or type(reason).__name__


def _transport_error(what: str, url: str, exc: BaseException) -> ToolError:
    """A ToolError for a request that got no response (see :func:`send`)."""
    # lazy: requests is heavy and optional here; kept off light paths
    import requests

    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"  # an IPv6 address in brackets
    reason = _short_reason(exc)
    low = str(exc).lower() + " " + reason.lower()
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)):
        return ToolError(f"{what}: {reason}", retryable=False)
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return ToolError(f"{what}: too many redirects ({reason})", retryable=False)
    if isinstance(exc, requests.exceptions.SSLError) and "wrong_version_number" in low:
        return ToolError(f"{what}: TLS error: {reason}: the server at {where} does not speak TLS "
                         "(HTTPS); if it serves plain HTTP, use an http:// URL", retryable=False)
    if isinstance(exc, requests.exceptions.SSLError):
        return ToolError(f"{what}: TLS error: {reason}. If the server uses a private certificate "
                         "authority, set `verify` to its CA bundle path (or `verify: false` for a "
                         "server you trust)", retryable=False)
    if "connection refused" in low or "errno 111" in low:
        return ToolError(f"{what}: connection refused by {where} (is the server running and "
                         "listening on that port?)")
    if ("name or service not known" in low or "nodename nor servname" in low or "getaddrinfo failed" in low
            or "name resolution" in low or "no address associated" in low or "nameresolutionerror" in low):
        return ToolError(f"{what}: cannot resolve host name {host!r} (DNS lookup failed)")
    if "connection reset" in low or "remotedisconnected" in low or "connection aborted" in low:
        return ToolError(f"{what}: the server closed the connection without answering ({reason})")
    if "network is unreachable" in low or "no route to host" in low:
        return ToolError(f"{what}: {where} is unreachable ({reason})")
    return ToolError(f"{what}: request failed: {reason}")
