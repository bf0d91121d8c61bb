"""The ``request`` action of the ``http`` tool: its parameters (:data:`PARAMETERS`) and :func:`request`.

Turns the step's parameters into headers, query, body and authentication, registers every
credential for masking, sends through :func:`yaml2dag.tools.http.transport.send`, checks the
status against ``expect_status`` and returns the parsed JSON or the text, with a preview of at
most :data:`PREVIEW_CHARS` characters in the output metadata.
"""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path
from typing import Any, Mapping

from yaml2dag.tools.base import Markdown, ToolContext, ToolError, ToolResult
from yaml2dag.tools.http.transport import send
from yaml2dag.tools.http.values import (
    DEFAULT_EXPECT,
    DURATION_SCHEMA,
    URL_SCHEMA,
    _size,
    check_url,
    format_seconds,
    header_secrets,
    is_retryable_status,
    jsonable,
    one_line,
    parse_expect_status,
    redact_url,
    status_matches,
    to_text,
)


#: Characters of the response body quoted in an error message.
ERROR_BODY_CHARS = 200
#: Characters of the response body shown in the UI preview (output metadata).
PREVIEW_CHARS = 1000
#: Methods the tool sends.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")

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
        "save_to": {"type": "string", "minLength": 1,
                    "description": "Download: write the response body to this file (folders created, an existing "
                                   "file replaced); the output is then the file's absolute path."},
    },
    # "not both json and body", written as anyOf so the validator shows `x-expected`
    "anyOf": [{"not": {"required": ["json"]}}, {"not": {"required": ["body"]}}],
    "x-expected": "at most one of `json` and `body`",
}


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
        ``output``: parsed JSON or text (None for an empty JSON body or a HEAD request), or with
        ``save_to`` the absolute path of the file the body was written to (also in
        :attr:`ToolResult.written`, field ``bytes``); fields ``status_code`` (int), ``headers``
        (dict, lower-case names), ``url`` (str), ``elapsed`` (seconds).

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
    if params.get("save_to"):
        return _save(ctx, params["save_to"], resp, fields)
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


def _save(ctx: ToolContext, save_to: Any, resp: Any, fields: dict) -> ToolResult:
    """Write the response body to ``save_to`` (a download); the result's output is its path."""
    target = Path(to_text(save_to)).expanduser().absolute()
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(resp.body)
    except OSError as exc:
        raise ToolError(f"could not write the response to {target}: {exc.strerror or exc}", fields) from None
    ctx.log.info(f"saved {len(resp.body):,} bytes to {target}")
    fields = {**fields, "bytes": len(resp.body)}
    metadata = {"status_code": resp.status_code, "url": fields["url"], "path": str(target),
                "bytes": len(resp.body)}
    return ToolResult(output=str(target), fields=fields, metadata=metadata, written=(str(target),))
