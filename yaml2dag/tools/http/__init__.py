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

Modules: :mod:`~yaml2dag.tools.http.values` (URLs, expected statuses, credentials, text forms),
:mod:`~yaml2dag.tools.http.transport` (:func:`send`, the timeouts and the errors),
:mod:`~yaml2dag.tools.http.action` (the ``request`` action and its parameters); this package
assembles :data:`TOOL` and keeps the names other tools import (``from yaml2dag.tools.http import
send``).
"""

from __future__ import annotations

from yaml2dag.tools.base import Action, Tool
from yaml2dag.tools.http.action import ERROR_BODY_CHARS, METHODS, PARAMETERS, PREVIEW_CHARS, request
from yaml2dag.tools.http.transport import (
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
    HttpResponse,
    effective_timeout,
    send,
)
from yaml2dag.tools.http.values import (
    DEFAULT_EXPECT,
    DURATION_SCHEMA,
    RETRYABLE_STATUS,
    URL_SCHEMA,
    check_url,
    format_seconds,
    header_secrets,
    is_retryable_status,
    jsonable,
    one_line,
    parse_expect_status,
    redact_url,
    sensitive_header,
    status_matches,
    to_text,
)

__all__ = ["DEFAULT_EXPECT", "DEFAULT_TIMEOUT", "DURATION_SCHEMA", "ERROR_BODY_CHARS", "MAX_RESPONSE_BYTES", "METHODS",
           "PARAMETERS", "PREVIEW_CHARS", "RETRYABLE_STATUS", "TOOL", "URL_SCHEMA", "HttpResponse", "check_url",
           "effective_timeout", "format_seconds", "header_secrets", "is_retryable_status", "jsonable", "one_line",
           "parse_expect_status", "redact_url", "request", "send", "sensitive_header", "status_matches", "to_text"]


TOOL = Tool(
    name="http",
    description="Send an HTTP request.",
    actions=(
        Action(
            name="request",
            description="Send `method` to `url` and check the status against `expect_status`.",
            parameters=PARAMETERS,
            run=request,
            result_fields=("status_code", "headers", "url", "elapsed", "bytes"),
            output="the parsed JSON when the response says JSON, else the body text",
            handles_timeout=True,
        ),
    ),
)
