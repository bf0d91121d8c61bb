"""The ``llm`` tool: chat completions from any OpenAI-compatible server (spec §6, issue #4).

Both actions send one ``POST {base_url}/chat/completions`` request with ``requests`` (no vendor
SDK) and return the assistant's answer:

* ``complete`` (the default): ``prompt``, optionally followed by ``context`` (strings as-is,
  other values as JSON) inside ``<context>`` tags, under an optional ``system`` message.
* ``analyze``: ``context`` is the data (required) inside ``<data>`` tags, ``prompt`` the question
  about it (default :data:`DEFAULT_ANALYZE_PROMPT`), under a system message that tells the model
  to answer from the data only (:data:`ANALYZE_SYSTEM`).

``format: json`` (either action) asks for a JSON answer and parses it: ``output`` is then the
parsed value and ``text`` the raw answer.

Where things come from when not given:

* ``base_url``: ``$YAML2DAG_LLM_URL``, ``$OPENAI_BASE_URL``, else :data:`DEFAULT_BASE_URL`.
* ``model``: ``$YAML2DAG_LLM_MODEL`` (a step without either fails before sending anything).
* ``api_key``: ``$YAML2DAG_LLM_API_KEY``, ``$OPENAI_API_KEY``; without a key no
  ``Authorization`` header is sent (local servers such as Ollama need none).

The API key is sent only in the ``Authorization: Bearer`` header. It is added to the step's
masked secrets, so it cannot appear in a log line, an error message, the result or the output
metadata, even when a server echoes it back.

Errors: 401/403 (key rejected or missing), 404 (wrong ``base_url`` or ``model``) and 400 (a
request the server refuses, e.g. too long) fail at once; 408/409/425/429 and 5xx, connection
errors and timeouts are retryable through the step's ``retry``; so is an answer that is not the
JSON ``format: json`` asked for (models are not deterministic). A response without ``choices``
fails with a hint to check ``base_url``.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any, Mapping

from yaml2dag.tools.base import Action, Markdown, Tool, ToolContext, ToolError, ToolResult
from yaml2dag.tools.http import (
    DURATION_SCHEMA,
    URL_SCHEMA,
    one_line,
    format_seconds,
    check_url,
    header_secrets,
    is_retryable_status,
    jsonable,
    send,
    to_text,
)

DEFAULT_BASE_URL = "https://api.openai.com/v1"
#: Environment variables read, in order, when a parameter is not given.
BASE_URL_ENV = ("YAML2DAG_LLM_URL", "OPENAI_BASE_URL")
MODEL_ENV = ("YAML2DAG_LLM_MODEL",)
API_KEY_ENV = ("YAML2DAG_LLM_API_KEY", "OPENAI_API_KEY")
#: Seconds a completion may take when neither ``timeout`` nor the step's timeout is set.
DEFAULT_TIMEOUT = 300.0
#: Largest ``context`` sent, in characters (after converting it to text).
MAX_CONTEXT_CHARS = 1_000_000
#: Largest response read (bytes).
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
#: Characters of a server's error text quoted in a message.
ERROR_TEXT_CHARS = 300

ANALYZE_SYSTEM = (
    "You are a careful analyst. Answer using only the data given between <data> and </data>. "
    "Quote the figures you rely on. If the data does not contain the answer, say so instead of guessing. "
    "Be concise."
)
DEFAULT_ANALYZE_PROMPT = "Summarize the most important facts, trends and anomalies in this data."
JSON_INSTRUCTION = (
    "Reply with one valid JSON value only: no explanation, no Markdown, no code fences."
)

_COMMON = {
    "base_url": dict(URL_SCHEMA, description="The API root, e.g. https://api.openai.com/v1 or http://localhost:11434/v1."),
    "model": {"type": "string", "minLength": 1, "description": "Model name (default $YAML2DAG_LLM_MODEL)."},
    "api_key": {"type": "string", "x-credential": True,
                "description": "API key; normally \"{{ secrets.OPENAI_API_KEY }}\"."},
    "system": {"type": "string", "description": "System message."},
    "context": {"description": "Data sent with the prompt: strings as-is, other values as JSON."},
    "temperature": {"type": "number", "minimum": 0, "maximum": 2, "description": "Sampling temperature."},
    "max_tokens": {"type": "integer", "minimum": 1, "description": "Longest answer, in tokens."},
    "format": {"enum": ["text", "json"], "description": "`json`: ask for JSON and parse the answer."},
    "timeout": dict(DURATION_SCHEMA, description="Seconds to wait for the answer (default 300)."),
    "headers": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
                "description": "Extra request headers."},
    "options": {"type": "object", "description": "Extra fields of the request body (top_p, seed, ...)."},
}

COMPLETE_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["prompt"],
    "properties": {
        "prompt": {"type": "string", "minLength": 1, "description": "The instruction or question."},
        **_COMMON,
    },
}

ANALYZE_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["context"],
    "properties": {
        "prompt": {"type": "string", "minLength": 1, "description": "The question about the data."},
        **_COMMON,
    },
}

#: Request body keys set by the tool itself; ``options`` cannot replace them.
_RESERVED = ("model", "messages", "stream")


def _env(names: tuple[str, ...]) -> str | None:
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return None


def endpoint(base_url: str) -> str:
    """``{base_url}/chat/completions`` (a base URL that already ends so is used as-is)."""
    base = base_url.strip().rstrip("/")
    if base.endswith("/chat/completions"):
        return base
    return base + "/chat/completions"


def context_text(value: Any) -> str:
    """``context`` as text: strings as-is, bytes decoded as UTF-8, anything else as JSON
    (DataFrames as a list of records).

    Raises:
        ToolError (not retryable): the text is longer than :data:`MAX_CONTEXT_CHARS`.
    """
    if isinstance(value, str):
        text = value
    elif isinstance(value, bytes):
        text = value.decode("utf-8", errors="replace")
    else:
        text = json.dumps(jsonable(value), ensure_ascii=False, indent=1, default=str)
    if len(text) > MAX_CONTEXT_CHARS:
        raise ToolError(f"`context` is {len(text):,} characters long; the limit is {MAX_CONTEXT_CHARS:,}: "
                        "send a selection or a summary of the data", retryable=False)
    return text


def build_messages(action: str, params: Mapping[str, Any]) -> list[dict[str, str]]:
    """The ``messages`` list for ``action`` (``complete`` or ``analyze``); see the module docstring."""
    fmt = params.get("format") or "text"
    system = params.get("system")
    system = to_text(system) if system is not None else None
    has_context = params.get("context") is not None
    if action == "analyze":
        if not has_context:
            raise ToolError("`context` (the data to analyze) rendered to null", retryable=False)
        system = system if system is not None else ANALYZE_SYSTEM
        prompt = to_text(params.get("prompt") or DEFAULT_ANALYZE_PROMPT)
        user = f"<data>\n{context_text(params['context'])}\n</data>\n\n{prompt}"
    else:
        prompt = to_text(params.get("prompt"))
        if not prompt.strip():
            raise ToolError("`prompt` is empty", retryable=False)
        user = prompt
        if has_context:
            user += f"\n\n<context>\n{context_text(params['context'])}\n</context>"
    if fmt == "json":
        system = f"{system}\n\n{JSON_INSTRUCTION}" if system else JSON_INSTRUCTION
    messages = []
    if system:
        messages.append({"role": "system", "content": system})
    messages.append({"role": "user", "content": user})
    return messages


def parse_json_answer(text: str) -> Any:
    """The JSON value in a model's answer: the whole text, or inside a ```json fence, or the
    first ``{...}``/``[...]`` span.

    Raises:
        ValueError: no JSON value found.
    """
    stripped = text.strip()
    candidates = [stripped]
    fence = re.search(r"```(?:json|JSON)?\s*\n(.*?)```", stripped, re.S)
    if fence:
        candidates.append(fence.group(1).strip())
    for opener, closer in (("{", "}"), ("[", "]")):
        start, end = stripped.find(opener), stripped.rfind(closer)
        if 0 <= start < end:
            candidates.append(stripped[start:end + 1])
    error: ValueError | None = None
    for candidate in candidates:
        try:
            return json.loads(candidate)
        except ValueError as exc:
            error = error or exc
    raise error or ValueError("empty answer")


def _server_message(resp: Any) -> str:
    """The error text of an OpenAI-style error body (``{"error": {"message": ...}}``), else the
    start of the body."""
    try:
        data = resp.json()
    except ValueError:
        data = None
    if isinstance(data, dict):
        err = data.get("error", data)
        if isinstance(err, dict):
            for key in ("message", "detail", "error"):
                if isinstance(err.get(key), str) and err[key].strip():
                    return one_line(err[key], ERROR_TEXT_CHARS)
        elif isinstance(err, str) and err.strip():
            return one_line(err, ERROR_TEXT_CHARS)
    return one_line(resp.text(), ERROR_TEXT_CHARS)


def _status_error(resp: Any, what: str, model: str, key_sent: bool) -> ToolError:
    status = resp.status_code
    detail = _server_message(resp)
    said = f": {detail}" if detail else ""
    head = f"{what} answered {resp.status_text}"
    if status in (401, 403):
        if not key_sent:
            hint = ("no API key was sent: set `api_key` (e.g. \"{{ secrets.OPENAI_API_KEY }}\") or the "
                    "OPENAI_API_KEY environment variable")
        elif status == 401:
            hint = "the API key was rejected: check the key given in `api_key` (or $OPENAI_API_KEY)"
        else:
            hint = "the API key is not allowed to use this model or endpoint"
        return ToolError(f"{head}: {hint}{said}", retryable=False)
    if status == 404:
        return ToolError(f"{head}: check `base_url` (OpenAI-compatible APIs usually end in /v1) and `model` "
                         f"({model!r}){said}", retryable=False)
    if status == 429:
        after = resp.headers.get("retry-after")
        wait = f" (the server asks to wait {after}s)" if after else ""
        return ToolError(f"{head}: rate limit or quota exceeded{wait}{said}", retryable=True)
    if status == 400:
        return ToolError(f"{head}: the server refused the request{said}", retryable=False)
    return ToolError(f"{head}{said}", retryable=is_retryable_status(status) or status == 409)


def _answer_text(content: Any) -> str | None:
    if isinstance(content, str):
        return content
    if isinstance(content, list):  # content parts: [{"type": "text", "text": "..."}]
        texts = [part.get("text", "") for part in content if isinstance(part, dict)]
        texts += [part for part in content if isinstance(part, str)]
        return "".join(t for t in texts if isinstance(t, str))
    return None


def _run(action: str, ctx: ToolContext, params: dict) -> ToolResult:
    base_url = params.get("base_url") or _env(BASE_URL_ENV) or DEFAULT_BASE_URL
    url = endpoint(check_url(base_url, "base_url"))
    model = params.get("model") or _env(MODEL_ENV)
    if not model:
        raise ToolError("no model given: set `model` (e.g. gpt-4o-mini, llama3.2) or the YAML2DAG_LLM_MODEL "
                        "environment variable", retryable=False)
    model = to_text(model)
    if "api_key" in params:
        api_key = to_text(params["api_key"]).strip() if params["api_key"] is not None else ""
        if not api_key:
            ctx.log.warning("`api_key` is empty: sending the request without an API key")
    else:
        api_key = _env(API_KEY_ENV) or ""
    ctx.add_secret(api_key)
    extra_headers = params.get("headers") or {}
    if not isinstance(extra_headers, Mapping):
        raise ToolError("`headers` must render to a mapping", retryable=False)
    headers = {str(k): to_text(v) for k, v in extra_headers.items() if v is not None}
    ctx.add_secret(*header_secrets(headers))
    credentials_sent = bool(api_key) or bool(header_secrets(headers))
    headers["Content-Type"] = "application/json"
    headers.setdefault("Accept", "application/json")
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    body: dict[str, Any] = {}
    options = params.get("options")
    if options is not None:
        if not isinstance(options, Mapping):
            raise ToolError("`options` must render to a mapping", retryable=False)
        clash = [k for k in options if k in _RESERVED]
        if clash:
            raise ToolError(f"`options` cannot set {', '.join(f'`{k}`' for k in clash)}: the tool sets it",
                            retryable=False)
        body.update(jsonable(dict(options)))
    body["model"] = model
    body["messages"] = build_messages(action, params)
    if params.get("temperature") is not None:
        body["temperature"] = params["temperature"]
    if params.get("max_tokens") is not None:
        body["max_tokens"] = params["max_tokens"]
    body["stream"] = False
    what = f"POST {url}"
    data = json.dumps(body, ensure_ascii=False).encode("utf-8")
    try:
        resp = send(ctx, "POST", url, headers=headers, data=data, timeout=params.get("timeout"),
                    default_timeout=DEFAULT_TIMEOUT, max_bytes=MAX_RESPONSE_BYTES)
    except ToolError as exc:
        exc.message = ctx.mask(exc.message)
        exc.args = (exc.message,)
        ctx.log.warning(exc.message)
        raise
    if resp.status_code >= 300:
        error = _status_error(resp, what, model, credentials_sent)
        error.message = ctx.mask(error.message)
        error.args = (error.message,)
        ctx.log.warning(error.message)
        raise error
    try:
        data_out = resp.json()
    except ValueError:
        data_out = None
    if not isinstance(data_out, dict):
        raise ToolError(ctx.mask(
            f"{what} answered {resp.status_text} with {resp.content_type or 'a body'} that is not a chat "
            f"completion: {one_line(resp.text(), 200)!r}. Is `base_url` the API root of an "
            "OpenAI-compatible server (often ending in /v1)?"), retryable=False)
    choices = data_out.get("choices")
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        if data_out.get("error"):
            raise ToolError(ctx.mask(f"{what} answered with an error: {_server_message(resp)}"))
        raise ToolError(ctx.mask(f"{what} answered without `choices`: not an OpenAI-compatible chat completion "
                                 f"({one_line(resp.text(), 200)!r})"), retryable=False)
    choice = choices[0]
    message = choice.get("message") if isinstance(choice.get("message"), dict) else {}
    finish_reason = choice.get("finish_reason")
    usage = data_out.get("usage") if isinstance(data_out.get("usage"), dict) else {}
    fields = {"model": to_text(data_out.get("model") or model), "usage": usage,
              "finish_reason": finish_reason}
    text = _answer_text(message.get("content"))
    if text is None:
        refusal = message.get("refusal")
        if refusal:
            raise ToolError(ctx.mask(f"the model refused: {one_line(to_text(refusal), 300)}"),
                            ctx.mask(fields), retryable=False)
        raise ToolError(ctx.mask(f"{what}: the answer has no text content (finish_reason: {finish_reason})"),
                        ctx.mask(fields), retryable=False)
    text = ctx.mask(text.strip())
    fields["text"] = text
    fields = ctx.mask(fields)
    tokens = ", ".join(f"{k.replace('_tokens', '')} {v}" for k, v in usage.items()
                       if k.endswith("_tokens") and isinstance(v, int))
    ctx.log.info(f"llm {action}: {what} model {fields['model']} → {finish_reason or 'done'}"
                 + (f", tokens: {tokens}" if tokens else "") + f", {format_seconds(resp.elapsed)}")
    if finish_reason == "length":
        ctx.log.warning("the answer was cut off at the token limit (finish_reason: length): raise "
                        "`max_tokens` for a complete answer")
    output: Any = text
    if (params.get("format") or "text") == "json":
        try:
            output = parse_json_answer(text)
        except ValueError as exc:
            raise ToolError(f"the model's answer is not valid JSON ({exc}): {one_line(text, 200)!r}",
                            fields, retryable=True) from None
    metadata: dict[str, Any] = {"model": fields["model"], "finish_reason": str(finish_reason)}
    for key in ("prompt_tokens", "completion_tokens", "total_tokens"):
        if isinstance(usage.get(key), int):
            metadata[key] = usage[key]
    metadata["elapsed (s)"] = round(resp.elapsed, 3)
    preview = text if len(text) <= 1000 else text[:1000] + "…"
    metadata["answer"] = Markdown(preview)
    return ToolResult(output=output, fields=fields, metadata=metadata)


def complete(ctx: ToolContext, params: dict) -> ToolResult:
    """Send ``prompt`` (and ``context``) and return the answer.

    Returns:
        ``output``: the answer text (stripped), or the parsed value with ``format: json``;
        fields ``model`` (str), ``usage`` (dict of token counts as the server reports them),
        ``finish_reason`` (str or None), ``text`` (the raw answer).

    Raises:
        ToolError: no model, bad ``base_url``, the server refused or failed (the message has the
            URL, status and the server's error text, never the key), or an answer that is not
            a chat completion or not the JSON asked for.
        StepTimeoutError: the step's timeout ran out.
    """
    return _run("complete", ctx, params)


def analyze(ctx: ToolContext, params: dict) -> ToolResult:
    """Ask ``prompt`` about the data in ``context``; returns and raises like :func:`complete`."""
    return _run("analyze", ctx, params)


_RESULT_FIELDS = ("model", "usage", "finish_reason", "text")

TOOL = Tool(
    name="llm",
    description="Ask a language model through an OpenAI-compatible chat-completions API.",
    actions=(
        Action(
            name="complete",
            description="Send `prompt` (with optional `context`) and return the answer.",
            parameters=COMPLETE_PARAMETERS,
            run=complete,
            result_fields=_RESULT_FIELDS,
            output="the answer text (parsed JSON with `format: json`)",
            handles_timeout=True,
        ),
        Action(
            name="analyze",
            description="Answer `prompt` about the data in `context`, from that data only.",
            parameters=ANALYZE_PARAMETERS,
            run=analyze,
            result_fields=_RESULT_FIELDS,
            output="the answer text (parsed JSON with `format: json`)",
            handles_timeout=True,
        ),
    ),
)
