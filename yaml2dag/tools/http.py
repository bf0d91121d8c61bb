"""The ``http`` tool: one HTTP request, sent with ``requests`` (spec §6, issue #4).

Action ``request`` (the default):

* ``method``, ``url`` (http/https), ``headers``, ``query``, and a body given either as ``json``
  (any value, sent as JSON) or as ``body`` (a string sent as-is), never both.
* ``expect_status`` says which status codes are a success (default ``200-299``): an integer, a
  list, or a string of ranges such as ``"200-299"``, ``"2xx"`` or ``"200,204"``. Any other
  status fails the step with the method, URL, status and the start of the response body.
* ``timeout`` (default :data:`DEFAULT_TIMEOUT` seconds) limits connecting, waiting for the
  response and reading it; a step ``timeout`` also applies (the smaller limit wins), because the
  action honours :meth:`ToolContext.time_left` itself (``handles_timeout``).
* ``auth`` adds basic (``{username, password}``) or bearer (``{token}``) authentication.

The result's ``output`` is the parsed JSON when the response's Content-Type says JSON
(``application/json``, ``application/*+json``, ``text/json``), else the body as text. Fields:
``status_code``, ``headers`` (lower-case names), ``url`` (after redirects) and ``elapsed``
(seconds).

Retries come from the step's ``retry`` block. Failures a retry may fix (connection refused, DNS
failure, timeouts, a broken connection, status 408/425/429 and 5xx) are retryable; the others
(a bad URL, a TLS certificate problem, any other unexpected status, a response over
:data:`MAX_RESPONSE_BYTES`) fail at once whatever ``retry`` says.

Credentials never reach the event log: the log line has no headers, the password of a URL's
``user:password@`` part is replaced with ``***``, and the values of ``auth`` and of sensitive
request headers (``Authorization``, ``Cookie``, ``X-Api-Key``, names containing ``token``,
``secret``, ``password`` or ``key``) are masked in everything the step logs or returns.

:func:`send` is the transport shared with the ``llm`` tool.
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
from yaml2dag.format.jsonable import to_jsonable
from yaml2dag.tools.base import Action, Markdown, StepTimeoutError, Tool, ToolContext, ToolError, ToolResult

#: Seconds a request may take when neither ``timeout`` nor the step's ``timeout`` is set.
DEFAULT_TIMEOUT = 60.0
#: Largest response body read (bytes, after decompression); a larger one fails the step.
MAX_RESPONSE_BYTES = 64 * 1024 * 1024
#: Characters of the response body quoted in an error message.
ERROR_BODY_CHARS = 200
#: Characters of the response body shown in the UI preview (output metadata).
PREVIEW_CHARS = 1000
#: Methods the tool sends.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
#: Statuses a retry may fix, besides every 5xx.
RETRYABLE_STATUS = frozenset({408, 425, 429})
#: The default of ``expect_status``.
DEFAULT_EXPECT = "200-299"

_READ_CHUNK = 64 * 1024
_SENSITIVE_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "x-api-key", "api-key"})
_SENSITIVE_PARTS = ("token", "secret", "password", "passwd", "apikey", "api-key", "api_key", "auth", "session")

#: JSON Schema of a duration parameter (seconds or "30s", "2m", ...).
DURATION_SCHEMA = {
    "anyOf": [
        {"type": "number", "exclusiveMinimum": 0},
        {"type": "string", "pattern": r"^\s*([0-9]+(\.[0-9]+)?\s*(ms|s|m|h|d)?\s*)+$|^P[0-9DTHMS.]+$"},
    ],
    "x-expected": "a duration such as 30, \"30s\" or \"2m\"",
}
#: JSON Schema of an http(s) URL parameter.
URL_SCHEMA = {
    "type": "string",
    "pattern": r"^\s*[Hh][Tt][Tt][Pp][Ss]?://[^\s/?#]+",
    "x-expected": "an http:// or https:// URL",
}
_STATUS_PART = r"\s*([1-5][0-9]{2}(\s*-\s*[1-5][0-9]{2})?|[1-5][xX]{2})\s*"
_STATUS_ITEM = [
    {"type": "integer", "minimum": 100, "maximum": 599},
    {"type": "string", "pattern": rf"^{_STATUS_PART}(,{_STATUS_PART})*$"},
]
_SCALAR = {"type": ["string", "number", "boolean"]}

PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "properties": {
        "method": {
            "type": "string",
            "pattern": "^(" + "|".join("".join(f"[{c}{c.lower()}]" for c in m) for m in METHODS) + ")$",
            "x-expected": "an HTTP method: " + ", ".join(METHODS),
            "description": "HTTP method (default GET; case-insensitive).",
        },
        "url": dict(URL_SCHEMA, description="The URL to request (http or https)."),
        "headers": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                    "description": "Request headers (null leaves a header out)."},
        "query": {"type": "object",
                  "additionalProperties": {"type": ["string", "number", "boolean", "null", "array"],
                                           "items": _SCALAR},
                  "description": "Query-string parameters, added to those already in `url` "
                                 "(a list repeats the key; null leaves it out)."},
        "json": {"description": "A value sent as the JSON request body."},
        "body": {"type": "string", "description": "A text request body, sent as-is (UTF-8)."},
        "expect_status": {
            "anyOf": _STATUS_ITEM + [{"type": "array", "minItems": 1, "items": {"anyOf": _STATUS_ITEM}}],
            "x-expected": "a status code such as 200, a list such as [200, 201] or ranges such as "
                          "\"200-299\", \"2xx\" or \"200,204\"",
            "description": "Statuses that count as success (default 200-299).",
        },
        "timeout": dict(DURATION_SCHEMA, description="Seconds to wait for the response (default 60)."),
        "auth": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "username": {"type": "string"},
                "password": {"type": "string", "x-credential": True},
                "token": {"type": "string", "x-credential": True},
            },
            "oneOf": [{"required": ["username"], "not": {"required": ["token"]}},
                      {"required": ["token"], "not": {"anyOf": [{"required": ["username"]},
                                                                {"required": ["password"]}]}}],
            "x-expected": "`{username, password}` for basic auth or `{token}` for a bearer token",
            "description": "Basic or bearer authentication.",
        },
        "verify": {"type": ["boolean", "string"],
                   "description": "Check the server's TLS certificate (default true), or a CA bundle path."},
        "follow_redirects": {"type": "boolean", "description": "Follow 3xx redirects (default true)."},
    },
    # "not both json and body", written as anyOf so the validator shows `x-expected`
    "anyOf": [{"not": {"required": ["json"]}}, {"not": {"required": ["body"]}}],
    "x-expected": "at most one of `json` and `body`",
}


# --------------------------------------------------------------------------- small helpers


def redact_url(url: str) -> str:
    """``url`` with the password of a ``user:password@`` part replaced by ``***``."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    if parts.password is None:
        return url
    netloc = parts.netloc
    userinfo, _, hostport = netloc.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return urllib.parse.urlunsplit(parts._replace(netloc=f"{user}:***@{hostport}"))


def check_url(value: Any, name: str = "url") -> str:
    """The URL as a string, checked to be http(s) with a host.

    Raises:
        ToolError (not retryable): empty, not a string, another scheme, or no host.
    """
    if not isinstance(value, str) or not value.strip():
        raise ToolError(f"`{name}` must be an http:// or https:// URL, got {value!r}", retryable=False)
    url = value.strip()
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ToolError(f"`{name}` {redact_url(url)!r} is not a valid URL: {exc}", retryable=False) from None
    if parts.scheme.lower() not in ("http", "https"):
        raise ToolError(f"`{name}` {redact_url(url)!r} must start with http:// or https://", retryable=False)
    if not parts.hostname:
        raise ToolError(f"`{name}` {redact_url(url)!r} has no host name", retryable=False)
    return url


def parse_expect_status(value: Any) -> tuple[tuple[tuple[int, int], ...], str]:
    """Parse ``expect_status``.

    Args:
        value: an integer (``200``), a string of comma-separated codes and ranges (``"200-299"``,
            ``"2xx"``, ``"200,204"``) or a list of those.

    Returns:
        ``(ranges, text)``: inclusive ``(low, high)`` ranges, and the value as shown in messages.

    Raises:
        ToolError (not retryable): the value is not one of these forms.
    """
    items = value if isinstance(value, list) else [value]
    if not items:
        raise ToolError("`expect_status` must not be an empty list", retryable=False)
    ranges: list[tuple[int, int]] = []
    shown: list[str] = []
    for item in items:
        parts = item.split(",") if isinstance(item, str) else [item]
        for part in parts:
            rng = _status_range(part)
            if rng is None:
                raise ToolError(
                    f"`expect_status` {value!r} is not a status code, a list of codes or a range such as "
                    "\"200-299\" or \"2xx\"", retryable=False)
            ranges.append(rng)
            shown.append(str(rng[0]) if rng[0] == rng[1] else f"{rng[0]}-{rng[1]}")
    return tuple(ranges), ", ".join(shown)


def _status_range(part: Any) -> tuple[int, int] | None:
    if isinstance(part, bool):
        return None
    if isinstance(part, float) and part.is_integer():
        part = int(part)
    if isinstance(part, int):
        return (part, part) if 100 <= part <= 599 else None
    if not isinstance(part, str):
        return None
    text = part.strip().lower()
    match = re.fullmatch(r"([1-5])xx", text)
    if match:
        low = int(match.group(1)) * 100
        return low, low + 99
    match = re.fullmatch(r"([0-9]{3})(?:\s*-\s*([0-9]{3}))?", text)
    if not match:
        return None
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if not (100 <= low <= high <= 599):
        return None
    return low, high


def status_matches(status: int, ranges: tuple[tuple[int, int], ...]) -> bool:
    """True when ``status`` is inside one of the inclusive ``ranges``."""
    return any(low <= status <= high for low, high in ranges)


def is_retryable_status(status: int) -> bool:
    """Statuses a retry may fix: 5xx, 408 Request Timeout, 425 Too Early, 429 Too Many Requests."""
    return status >= 500 or status in RETRYABLE_STATUS


def to_text(value: Any) -> str:
    """A header, query or prompt value as text: booleans lower-case, lists and maps as JSON."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(jsonable(value), ensure_ascii=False)
    return str(value)


def jsonable(value: Any) -> Any:
    """``value`` as JSON-compatible data (DataFrames become lists of records, dates ISO text)."""
    try:
        json.dumps(value, allow_nan=False)
        return value
    except (TypeError, ValueError):
        return to_jsonable(value)


def sensitive_header(name: str) -> bool:
    """True for request headers whose values are credentials (never logged, always masked)."""
    low = name.lower()
    return low in _SENSITIVE_HEADERS or any(part in low for part in _SENSITIVE_PARTS) or low.endswith("key")


def header_secrets(headers: Mapping[str, str]) -> list[str]:
    """The credential values in ``headers`` (see :func:`sensitive_header`); for ``Scheme value``
    only the value, so ``Bearer ***`` stays readable."""
    out = []
    for name, value in headers.items():
        if sensitive_header(name) and value:
            scheme, _, credential = value.strip().partition(" ")
            if credential.strip() and scheme.isalpha():  # "Bearer abc": mask "abc", keep "Bearer"
                out.append(credential.strip())
            else:
                out.append(value)
    return out


def format_seconds(value: float) -> str:
    """``0.0123`` → ``"0.0123s"``, ``42.4`` → ``"42s"``."""
    return f"{value:.3g}s" if value < 10 else f"{value:.0f}s"


def _size(n: int) -> str:
    if n < 1024:
        return f"{n} B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f} KiB"
    return f"{n / 1024 / 1024:.1f} MiB"


def one_line(text: str, limit: int) -> str:
    """``text`` with runs of whitespace collapsed, cut to ``limit`` characters (with "…")."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


# --------------------------------------------------------------------------- transport


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
    import requests

    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or "?"
    port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    reason = _short_reason(exc)
    low = str(exc).lower() + " " + reason.lower()
    if isinstance(exc, (requests.exceptions.InvalidURL, requests.exceptions.MissingSchema,
                        requests.exceptions.InvalidSchema, requests.exceptions.InvalidHeader)):
        return ToolError(f"{what}: {reason}", retryable=False)
    if isinstance(exc, requests.exceptions.TooManyRedirects):
        return ToolError(f"{what}: too many redirects ({reason})", retryable=False)
    if isinstance(exc, requests.exceptions.SSLError):
        return ToolError(f"{what}: TLS error: {reason}. If the server uses a private certificate "
                         "authority, set `verify` to its CA bundle path (or `verify: false` for a "
                         "server you trust)", retryable=False)
    if "connection refused" in low or "errno 111" in low:
        return ToolError(f"{what}: connection refused by {host}:{port} (is the server running and "
                         "listening on that port?)")
    if ("name or service not known" in low or "nodename nor servname" in low or "getaddrinfo failed" in low
            or "name resolution" in low or "no address associated" in low or "nameresolutionerror" in low):
        return ToolError(f"{what}: cannot resolve host name {host!r} (DNS lookup failed)")
    if "connection reset" in low or "remotedisconnected" in low or "connection aborted" in low:
        return ToolError(f"{what}: the server closed the connection without answering ({reason})")
    if "network is unreachable" in low or "no route to host" in low:
        return ToolError(f"{what}: {host}:{port} is unreachable ({reason})")
    return ToolError(f"{what}: request failed: {reason}")


# --------------------------------------------------------------------------- the action


def _headers(value: Any) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise ToolError(f"`headers` must render to a mapping, got {type(value).__name__}", retryable=False)
    out = {}
    for key, val in value.items():
        if val is None:
            continue
        text = to_text(val)
        if "\n" in text or "\r" in text:
            raise ToolError(f"header `{key}` contains a line break", retryable=False)
        out[str(key)] = text
    return out


def _query(value: Any) -> list[tuple[str, str]] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ToolError(f"`query` must render to a mapping, got {type(value).__name__}", retryable=False)
    pairs: list[tuple[str, str]] = []
    for key, val in value.items():
        if val is None:
            continue
        for item in (val if isinstance(val, (list, tuple)) else [val]):
            if item is not None:
                pairs.append((str(key), to_text(item)))
    return pairs


def _auth(value: Any, headers: dict[str, str]) -> Any:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise ToolError("`auth` must be `{username, password}` or `{token}`", retryable=False)
    if value.get("token") is not None:
        headers["Authorization"] = f"Bearer {to_text(value['token'])}"
        return None
    if value.get("username") is None:
        raise ToolError("`auth` must be `{username, password}` or `{token}`", retryable=False)
    return (to_text(value["username"]), to_text(value.get("password") or ""))


def _has_header(headers: Mapping[str, str], name: str) -> bool:
    return any(k.lower() == name.lower() for k in headers)


def request(ctx: ToolContext, params: dict) -> ToolResult:
    """Send the request described by ``params`` (see :data:`PARAMETERS` and the module docstring).

    Returns:
        ``output``: parsed JSON or text (None for an empty JSON body or a HEAD request); fields
        ``status_code`` (int), ``headers`` (dict, lower-case names), ``url`` (str), ``elapsed``
        (seconds).

    Raises:
        ToolError: the request failed or answered an unexpected status (the message names the
            method, URL and status, and quotes the start of the body).
        StepTimeoutError: the step's timeout ran out.
    """
    method = to_text(params.get("method") or "GET").strip().upper()
    if method not in METHODS:
        raise ToolError(f"`method` {method!r} is not one of {', '.join(METHODS)}", retryable=False)
    url = check_url(params.get("url"))
    raw_expect = params.get("expect_status")
    ranges, expected = parse_expect_status(DEFAULT_EXPECT if raw_expect is None else raw_expect)
    headers = _headers(params.get("headers"))
    auth = _auth(params.get("auth"), headers)
    ctx.add_secret(*header_secrets(headers))
    if isinstance(params.get("auth"), Mapping):
        ctx.add_secret(*(to_text(params["auth"][key]) for key in ("password", "token")
                         if params["auth"].get(key) is not None))
    parsed_url = urllib.parse.urlsplit(url)
    if parsed_url.password:
        ctx.add_secret(urllib.parse.unquote(parsed_url.password))
    has_json = "json" in params
    has_body = params.get("body") is not None
    if has_json and has_body:
        raise ToolError("give either `json` or `body`, not both", retryable=False)
    data: bytes | None = None
    if has_json:
        try:
            data = json.dumps(jsonable(params["json"]), ensure_ascii=False, allow_nan=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise ToolError(f"`json` cannot be sent as JSON: {exc}", retryable=False) from None
        if not _has_header(headers, "Content-Type"):
            headers["Content-Type"] = "application/json"
    elif has_body:
        body = params["body"]
        if isinstance(body, bytes):
            data = body
        elif isinstance(body, str):
            data = body.encode("utf-8")
        else:
            raise ToolError(f"`body` must be a string (use `json` for structured data), got "
                            f"{type(body).__name__}", retryable=False)
        if not _has_header(headers, "Content-Type"):
            headers["Content-Type"] = "text/plain; charset=utf-8"
    verify = params.get("verify", True)
    follow = params.get("follow_redirects", True)
    what = f"{method} {redact_url(url)}"
    try:
        resp = send(ctx, method, url, headers=headers, query=_query(params.get("query")), data=data,
                    auth=auth, verify=True if verify is None else verify,
                    follow_redirects=True if follow is None else bool(follow), timeout=params.get("timeout"))
    except ToolError as exc:
        exc.message = ctx.mask(exc.message)
        exc.args = (exc.message,)
        ctx.log.warning(exc.message)
        raise
    fields = ctx.mask({"status_code": resp.status_code, "headers": resp.headers, "url": resp.url,
                       "elapsed": round(resp.elapsed, 6)})
    summary = (f"{what} → {resp.status_text} ({resp.content_type or 'no content type'}, "
               f"{_size(len(resp.body))}, {format_seconds(resp.elapsed)})")
    if not status_matches(resp.status_code, ranges):
        ctx.log.warning(summary)
        body = one_line(ctx.mask(resp.text()), ERROR_BODY_CHARS)
        shown_url = redact_url(url) if resp.url == redact_url(url) else f"{redact_url(url)} (redirected to {resp.url})"
        message = f"{method} {shown_url} answered {resp.status_text} (expected {expected})"
        message += f": {body}" if body else " with an empty body"
        raise ToolError(ctx.mask(message), fields, retryable=is_retryable_status(resp.status_code))
    ctx.log.info(summary)
    output: Any
    if method == "HEAD":
        output = None
    elif resp.is_json:
        try:
            output = resp.json()
        except ValueError as exc:
            ctx.log.warning(f"{what}: the response says {resp.content_type} but is not valid JSON "
                            f"({exc}); the output is the text")
            output = resp.text()
    else:
        output = resp.text()
    output = ctx.mask(output)
    metadata: dict[str, Any] = {
        "status_code": resp.status_code,
        "url": fields["url"],
        "content_type": resp.content_type or "",
        "response_bytes": len(resp.body),
        "elapsed (s)": round(resp.elapsed, 3),
    }
    if resp.body:
        metadata["response preview"] = Markdown(_preview(output, resp.is_json and not isinstance(output, str)))
    return ToolResult(output=output, fields=fields, metadata=metadata)


def _preview(output: Any, is_json: bool) -> str:
    if is_json:
        text = json.dumps(output, indent=2, ensure_ascii=False, default=str)
        lang = "json"
    else:
        text = str(output)
        lang = ""
    if len(text) > PREVIEW_CHARS:
        text = text[:PREVIEW_CHARS] + "\n…"
    text = text.replace("```", "ˋˋˋ")
    return f"```{lang}\n{text}\n```"


TOOL = Tool(
    name="http",
    description="Send an HTTP request.",
    actions=(
        Action(
            name="request",
            description="Send `method` to `url` and check the status against `expect_status`.",
            parameters=PARAMETERS,
            run=request,
            result_fields=("status_code", "headers", "url", "elapsed"),
            output="the parsed JSON when the response says JSON, else the body text",
            handles_timeout=True,
        ),
    ),
)
