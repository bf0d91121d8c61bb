"""The ``notify`` tool: tell people something happened (spec §6).

Actions (``log`` is the default):

* ``log`` writes ``message`` to the Dagster event log at ``level`` info, warning or error.
* ``webhook`` POSTs a Slack-compatible JSON body ``{"text": ...}`` (plus any ``payload``
  fields) to ``url`` and checks the answer's status against ``expect_status`` (default 2xx).
* ``email`` sends a message over SMTP through :func:`yaml2dag.tools.mail.send_mail`, exactly like
  ``email.send`` (same parameters and ``YAML2DAG_SMTP_*`` defaults).

Each action returns a delivery receipt as its ``output``: a mapping whose ``channel`` is
``"log"``, ``"webhook"`` or ``"email"``.
"""

from __future__ import annotations

import json
import re
from typing import Any, Callable, Mapping

from yaml2dag.tools import mail
from yaml2dag.tools.base import Action, Tool, ToolContext, ToolError, ToolResult
from urllib.parse import urlsplit

#: Characters of a webhook's answer kept in the receipt and shown in errors.
MAX_RESPONSE_CHARS = 2000
#: Seconds a webhook call may take when `timeout` is unset.
DEFAULT_WEBHOOK_TIMEOUT_SECONDS = 30.0

LEVELS = ("info", "warning", "error")

LOG_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["message"],
    "properties": {
        "message": {"type": "string", "description": "The text written to the run's event log."},
        "level": {"enum": list(LEVELS), "description": "info (default), warning or error."},
    },
}

_STATUS_ITEM = r"(?:[1-5]xx|[1-5][0-9][0-9](?:\s*-\s*[1-5][0-9][0-9])?)"
_STATUS_TEXT = rf"^\s*{_STATUS_ITEM}(?:\s*,\s*{_STATUS_ITEM})*\s*$"
_STATUS_CODE = {"type": "integer", "minimum": 100, "maximum": 599}
_STATUS_STRING = {"type": "string", "pattern": _STATUS_TEXT}

EXPECT_STATUS_SCHEMA = {
    "anyOf": [
        _STATUS_CODE,
        _STATUS_STRING,
        {"type": "array", "minItems": 1, "items": {"anyOf": [_STATUS_CODE, _STATUS_STRING]}},
    ],
    "x-expected": "a status code (200), a range (\"2xx\", \"200-299\") or a list of them",
}

WEBHOOK_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url"],
    "anyOf": [{"required": ["text"]}, {"required": ["payload"]}],
    "x-expected": "`text` or `payload` (or both) among the parameters",
    "properties": {
        "url": {"type": "string", "pattern": r"^https?://\S+$",
                "x-expected": "an http:// or https:// URL", "description": "Where the JSON is POSTed."},
        "text": {"type": "string", "description": "The message: the body's `text` field (Slack-compatible)."},
        "payload": {"type": "object", "description": "More JSON fields merged into the body (`text` wins)."},
        "headers": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                    "description": "Extra HTTP headers (e.g. Authorization)."},
        "timeout": dict(mail.DURATION_SCHEMA, description="Limit for connecting and for the answer (default 30s)."),
        "expect_status": dict(EXPECT_STATUS_SCHEMA, description="Statuses that count as delivered (default 2xx)."),
    },
}


# --------------------------------------------------------------------------- log


def _as_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return "" if value is None else str(value)


def log(ctx: ToolContext, params: dict) -> ToolResult:
    """Write ``message`` to the event log at ``level``.

    Returns:
        ToolResult whose output is ``{"channel": "log", "level": str, "message": str}`` (secrets
        masked) and fields ``channel``, ``level``.

    Raises:
        ToolError: (not retryable) ``level`` is not info, warning or error.
    """
    level = str(params.get("level") or "info").strip().lower()
    if level not in LEVELS:
        raise ToolError(f"level must be one of {', '.join(LEVELS)}, got {params.get('level')!r}", retryable=False)
    message = ctx.mask(_as_text(params.get("message")))
    getattr(ctx.log, level)(message)
    receipt = {"channel": "log", "level": level, "message": message}
    return ToolResult(output=receipt, fields={"channel": "log", "level": level})


# --------------------------------------------------------------------------- webhook


def status_matcher(value: Any) -> tuple[Callable[[int], bool], str]:
    """Parse ``expect_status``.

    Args:
        value: None (2xx), an int, a string (``"2xx"``, ``"200-299"``, ``"200, 204"``) or a list
            of those.

    Returns:
        ``(accepts(status_code) -> bool, description)``.

    Raises:
        ToolError: (not retryable) the value is none of those forms.
    """
    if value is None:
        return (lambda code: 200 <= code < 300), "2xx"
    items = value if isinstance(value, list) else [value]
    ranges: list[tuple[int, int]] = []
    shown: list[str] = []
    for item in items:
        if isinstance(item, bool):
            raise ToolError(f"expect_status: {item!r} is not a status code", retryable=False)
        if isinstance(item, int):
            ranges.append((item, item))
            shown.append(str(item))
            continue
        if not isinstance(item, str) or not re.match(_STATUS_TEXT, item):
            raise ToolError(f"expect_status: {item!r} is not a status code or range (\"2xx\", \"200-299\")",
                            retryable=False)
        for part in item.split(","):
            part = part.strip()
            if part.endswith("xx"):
                low = int(part[0]) * 100
                ranges.append((low, low + 99))
            elif "-" in part:
                a, b = (int(x) for x in part.split("-"))
                ranges.append((min(a, b), max(a, b)))
            else:
                ranges.append((int(part), int(part)))
            shown.append(part)
    return (lambda code: any(lo <= code <= hi for lo, hi in ranges)), ", ".join(shown)


def _root_reason(exc: BaseException) -> str:
    text = str(exc)
    lowered = text.lower()
    if "connection refused" in lowered:
        return "connection refused"
    if "name or service not known" in lowered or "temporary failure in name resolution" in lowered \
            or "nodename nor servname" in lowered or "getaddrinfo failed" in lowered:
        return "unknown host name"
    if "certificate verify failed" in lowered:
        return "TLS certificate could not be verified"
    if "connection reset" in lowered:
        return "connection reset by the server"
    if "remotedisconnected" in lowered or "remote end closed" in lowered:
        return "the server closed the connection without answering"
    match = re.search(r"\]\s*([^\]()'\"]+)['\")]*$", text)
    return (match.group(1).strip() if match else text)[:300]


_CREDENTIAL_HEADERS = {"authorization", "proxy-authorization", "cookie", "x-api-key"}
_CREDENTIAL_WORDS = ("token", "secret", "password", "auth", "session")


def _protect_credentials(ctx: ToolContext, url: str, headers: Mapping[str, str]) -> None:
    """Mask credential-like header values and a password in the URL from here on."""
    values = []
    for name, value in headers.items():
        lowered = name.lower()
        if lowered in _CREDENTIAL_HEADERS or lowered.endswith("key") or any(w in lowered for w in _CREDENTIAL_WORDS):
            values.append(value)
            scheme, _, token = value.partition(" ")
            if token and scheme.lower() in ("bearer", "basic", "token"):
                values.append(token)
    try:
        password = urlsplit(url).password
    except ValueError:
        password = None
    ctx.add_secret(*values, password)


def _response_body(response: Any) -> Any:
    text = response.text or ""
    if "json" in (response.headers.get("Content-Type") or "").lower():
        try:
            return response.json()
        except ValueError:
            pass
    return text[:MAX_RESPONSE_CHARS]


def webhook(ctx: ToolContext, params: dict) -> ToolResult:
    """POST ``{"text": text, **payload}`` as JSON to ``url``.

    Returns:
        ToolResult whose output is ``{"channel": "webhook", "url": str, "status_code": int,
        "response": parsed JSON or text (at most 2000 characters)}`` and fields ``channel``,
        ``status_code``.

    Raises:
        ToolError: an unexpected status (retryable for 408, 429 and 5xx; its ``status_code``
            is kept as a field), connection failures and timeouts (retryable), a bad URL or
            parameter (not retryable). Messages name the URL.
    """
    # lazy: requests is heavy and optional here; kept off light paths
    import requests

    url = str(params.get("url") or "").strip()
    headers = {str(k): v if isinstance(v, str) else json.dumps(v) for k, v in (params.get("headers") or {}).items()}
    _protect_credentials(ctx, url, headers)
    shown_url = ctx.mask(url)
    if not re.match(r"^https?://\S+$", url):
        raise ToolError(f"webhook url must start with http:// or https://, got {shown_url!r}", retryable=False)
    body: dict[str, Any] = {}
    payload = params.get("payload")
    if payload is not None:
        if not isinstance(payload, Mapping):
            raise ToolError(f"`payload` must be a mapping, got {type(payload).__name__}", retryable=False)
        body.update(payload)
    if params.get("text") is not None:
        body["text"] = _as_text(params["text"])
    if not body:
        raise ToolError("webhook needs `text` or `payload`", retryable=False)
    accepts, expected = status_matcher(params.get("expect_status"))
    timeout = mail.effective_timeout(ctx, mail.parse_timeout(params.get("timeout"), DEFAULT_WEBHOOK_TIMEOUT_SECONDS))
    try:
        data = json.dumps(body, default=str, ensure_ascii=False).encode("utf-8")
    except (TypeError, ValueError) as exc:
        raise ToolError(f"webhook body is not JSON-serializable: {exc}", retryable=False) from None
    headers.setdefault("Content-Type", "application/json; charset=utf-8")

    session = requests.Session()
    ctx.on_cancel(session.close)
    try:
        response = session.post(url, data=data, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.exceptions.Timeout:
        raise ToolError(f"webhook POST to {shown_url} got no answer within {timeout:g}s") from None
    except (requests.exceptions.MissingSchema, requests.exceptions.InvalidSchema,
            requests.exceptions.InvalidURL, requests.exceptions.InvalidHeader) as exc:
        raise ToolError(ctx.mask(f"webhook POST to {shown_url}: {exc}"), retryable=False) from None
    except requests.exceptions.RequestException as exc:
        if ctx.cancelled:
            raise ToolError(f"webhook POST to {shown_url} was stopped (the step timed out or the run "
                            "was terminated)") from None
        raise ToolError(ctx.mask(f"webhook POST to {shown_url} failed: {_root_reason(exc)}")) from None
    finally:
        session.close()
    answer = ctx.mask(_response_body(response))
    code = response.status_code
    if not accepts(code):
        snippet = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        snippet = " ".join(snippet.split())[:300]
        retryable = code >= 500 or code in (408, 425, 429)
        raise ToolError(
            f"webhook POST to {shown_url} answered {code} {response.reason or ''}".rstrip()
            + f" (expected {expected})" + (f": {snippet}" if snippet else ""),
            {"status_code": code, "channel": "webhook"}, retryable=retryable)
    ctx.log.info(f"webhook POST to {shown_url} answered {code}")
    receipt = {"channel": "webhook", "url": shown_url, "status_code": code, "response": answer}
    return ToolResult(output=receipt, fields={"channel": "webhook", "status_code": code})


# --------------------------------------------------------------------------- email


def email(ctx: ToolContext, params: dict) -> ToolResult:
    """Send an email over SMTP (see :func:`yaml2dag.tools.mail.send_mail` for the receipt and
    errors); fields ``channel``, ``message_id``, ``recipients``."""
    receipt = mail.send_mail(ctx, params)
    return ToolResult(
        output=receipt,
        fields={"channel": "email", "message_id": receipt["message_id"], "recipients": receipt["recipients"]},
        metadata={"recipients": receipt["recipients"], "message_id": receipt["message_id"]},
    )


TOOL = Tool(
    name="notify",
    description="Send a notification: event log, webhook (Slack-compatible) or email.",
    actions=(
        Action(
            name="log",
            description="Write `message` to the run's event log at `level`.",
            parameters=LOG_PARAMETERS,
            run=log,
            result_fields=("channel", "level"),
            output="receipt {channel: log, level, message}",
        ),
        Action(
            name="webhook",
            description="POST a Slack-compatible JSON body {\"text\": ...} to `url`.",
            parameters=WEBHOOK_PARAMETERS,
            run=webhook,
            result_fields=("channel", "status_code"),
            output="receipt {channel: webhook, url, status_code, response}",
        ),
        Action(
            name="email",
            description="Send an email over SMTP (STARTTLS, login from parameters or YAML2DAG_SMTP_*).",
            parameters=mail.SEND_PARAMETERS,
            run=email,
            result_fields=("channel",) + mail.SEND_RESULT_FIELDS,
            output="receipt {channel: email, to, message_id, recipients, ...}",
        ),
    ),
)
