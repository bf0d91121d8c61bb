"""The values of an HTTP request and response, checked and shown safely (shared with ``llm``).

* URLs: :func:`check_url` (http/https with a host), :func:`redact_url` (``user:***@``);
* expected statuses: :func:`parse_expect_status` (``200``, ``"2xx"``, ``"200-299,304"``, lists),
  :func:`status_matches`, :func:`is_retryable_status` (5xx, 408, 425, 429: RFC 9110 §15.5.9,
  RFC 8470 §5.2, RFC 6585 §4);
* credentials: :func:`sensitive_header`, :func:`header_secrets` (values masked in logs and results);
* text forms: :func:`to_text`, :func:`jsonable`, :func:`format_seconds`, :func:`one_line`;
* schemas shared with the ``llm`` tool: :data:`DURATION_SCHEMA`, :data:`URL_SCHEMA`.

Everything here is pure: no network, no step state.
"""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any, Mapping

from yaml2dag.format.jsonable import to_jsonable
from yaml2dag.tools.base import ToolError


#: Statuses a retry may fix, besides every 5xx.
RETRYABLE_STATUS = frozenset({408, 425, 429})
#: The default of ``expect_status``.
DEFAULT_EXPECT = "200-299"

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
