"""The `llm` tool's actions called directly (no Dagster run) against a small OpenAI-compatible
stand-in on 127.0.0.1 whose answer is chosen by the request's `model`: an endpoint that errors
(each status with the hint the tool promises and its retry decision) or answers malformed (not
JSON, no `choices`, no text, a refusal, JSON asked for and not given), and the less-used
options (`options`, content parts, `max_tokens`, `headers`, an empty `api_key`).
"""

from __future__ import annotations

import json
import threading

import pytest

from local_servers import LocalHTTPServer, QuietHandler, free_port, serving, silent_port
from recording_log import RecordingLog
from yaml2dag.tools.base import ToolContext, ToolError, check_parameters
from yaml2dag.tools.llm import MAX_CONTEXT_CHARS, TOOL, endpoint

KEY = "sk-errors-test-9d8c7b6a5f4e"


def completion(content, **extra) -> dict:
    message = {"role": "assistant", "content": content}
    message.update(extra.pop("message", {}))
    return {"model": "served-model", "choices": [{"index": 0, "finish_reason": extra.pop("finish_reason", "stop"),
                                                   "message": message}],
            "usage": {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}, **extra}


#: model name -> (status, body: dict/str, content type, extra headers)
ANSWERS = {
    "ok": (200, completion("fine"), "application/json", {}),
    "forbidden": (403, {"error": {"message": "model not allowed for this project"}}, "application/json", {}),
    "unauthorized": (401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}, "application/json", {}),
    "too-long": (400, {"error": {"message": "maximum context length is 8192 tokens"}}, "application/json", {}),
    "overloaded": (503, {"detail": "the model is overloaded"}, "application/json", {}),
    "conflict": (409, {"error": "another request is running"}, "application/json", {}),
    "teapot": (418, "<html>short and stout</html>", "text/html", {}),
    "quota": (429, {"error": {"message": "quota exceeded"}}, "application/json", {}),
    "not-json": (200, "<html>a web page</html>", "text/html", {}),
    "a-list": (200, [1, 2, 3], "application/json", {}),
    "error-200": (200, {"error": {"message": "upstream model crashed"}}, "application/json", {}),
    "no-choices": (200, {"id": "x", "object": "list", "data": []}, "application/json", {}),
    "refusal": (200, completion(None, message={"refusal": "I can't help with that."}), "application/json", {}),
    "no-content": (200, completion(None, finish_reason="content_filter"), "application/json", {}),
    "parts": (200, completion([{"type": "text", "text": "part one, "}, "part two"]), "application/json", {}),
    "cut-off": (200, completion("an answer that was cu", finish_reason="length"), "application/json", {}),
    "prose": (200, completion("Sure! The answer is forty-two."), "application/json", {}),
    "fenced": (200, completion("Here you go:\n```json\n{\"answer\": 42}\n```\nAnything else?"), "application/json", {}),
    "array": (200, completion("The values are [1, 2, 3] as asked."), "application/json", {}),
    "echo-key": (200, completion(f"your key is {KEY}"), "application/json", {}),
}


class FakeLLM(QuietHandler):
    protocol_version = "HTTP/1.1"
    server: LocalHTTPServer

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length))
        state = self.server.state
        with state["lock"]:
            state["requests"].append({"path": self.path, "headers": {k.lower(): v for k, v in self.headers.items()},
                                      "body": body})
        status, answer, ctype, extra = ANSWERS.get(body.get("model"), ANSWERS["ok"])
        if status == 429:
            extra = {"Retry-After": "7"}
        data = answer if isinstance(answer, str) else json.dumps(answer)
        self._send(status, data, ctype, extra)


@pytest.fixture(scope="module")
def llm():
    srv = LocalHTTPServer(FakeLLM, {"requests": [], "lock": threading.Lock()})
    with serving(srv):
        yield srv


@pytest.fixture(autouse=True)
def no_llm_environment(monkeypatch):
    for name in ("YAML2DAG_LLM_URL", "OPENAI_BASE_URL", "YAML2DAG_LLM_MODEL", "YAML2DAG_LLM_API_KEY",
                 "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)


def ask(llm, model: str, action: str = "complete", ctx: ToolContext | None = None, **params):
    """Run the action as a step does (parameters checked, then the action)."""
    params = {"base_url": f"{llm.url}/v1", "model": model, "api_key": KEY, **params}
    if action == "complete":
        params.setdefault("prompt", "hello")
    spec = TOOL.action(action)
    check_parameters(spec.parameters, params, f"llm.{action}")
    return spec.run(ctx or ToolContext("ask"), params)


def refused(llm, model: str, **params) -> ToolError:
    with pytest.raises(ToolError) as caught:
        ask(llm, model, **params)
    return caught.value


# --------------------------------------------------------------------------- the server errors


def test_error_statuses_give_the_hint_and_the_retry_decision(llm):
    what = f"POST {llm.url}/v1/chat/completions answered"
    expected = {
        "forbidden": (f"{what} 403 Forbidden: the API key is not allowed to use this model or endpoint: "
                      "model not allowed for this project", False),
        "too-long": (f"{what} 400 Bad Request: the server refused the request: maximum context length is 8192 tokens",
                     False),
        "overloaded": (f"{what} 503 Service Unavailable: the model is overloaded", True),
        "conflict": (f"{what} 409 Conflict: another request is running", True),
        "teapot": (f"{what} 418 I'm a Teapot: <html>short and stout</html>", False),
        "quota": (f"{what} 429 Too Many Requests: rate limit or quota exceeded (the server asks to wait 7s): "
                  "quota exceeded", True),
    }
    for model, (message, retryable) in expected.items():
        err = refused(llm, model)
        assert err.message == message, model
        assert err.retryable is retryable, model


def test_a_rejected_key_quoted_back_by_the_server_is_masked_in_message_and_log(llm):
    log = RecordingLog()
    with pytest.raises(ToolError) as caught:
        ask(llm, "unauthorized", ctx=ToolContext("ask", log=log))
    assert caught.value.message == (f"POST {llm.url}/v1/chat/completions answered 401 Unauthorized: the API key was "
                                    "rejected: check the key given in `api_key` (or $OPENAI_API_KEY): "
                                    "Incorrect API key provided: ***")
    assert all(KEY not in m for _l, m in log.lines)
    assert caught.value.retryable is False


def test_an_empty_api_key_sends_no_authorization_and_a_401_says_so(llm):
    log = RecordingLog()
    with pytest.raises(ToolError) as caught:
        ask(llm, "unauthorized", ctx=ToolContext("ask", log=log), api_key="  ")
    assert "`api_key` is empty: sending the request without an API key" in log.warnings()
    assert "no API key was sent: set `api_key`" in caught.value.message
    assert "authorization" not in llm.state["requests"][-1]["headers"]


def test_malformed_answers_fail_with_what_was_wrong(llm):
    url = f"{llm.url}/v1/chat/completions"
    err = refused(llm, "not-json")
    assert err.message == (f"POST {url} answered 200 OK with text/html that is not a chat completion: "
                           "'<html>a web page</html>'. Is `base_url` the API root of an OpenAI-compatible server "
                           "(often ending in /v1)?")
    assert err.retryable is False
    err = refused(llm, "a-list")
    assert "that is not a chat completion: '[1, 2, 3]'" in err.message
    err = refused(llm, "error-200")
    assert err.message == f"POST {url} answered with an error: upstream model crashed"
    assert err.retryable is True
    err = refused(llm, "no-choices")
    assert err.message.startswith(f"POST {url} answered without `choices`: not an OpenAI-compatible chat completion (")
    assert err.retryable is False
    err = refused(llm, "refusal")
    assert err.message == "the model refused: I can't help with that."
    assert err.fields["model"] == "served-model" and err.retryable is False
    err = refused(llm, "no-content")
    assert err.message == f"POST {url}: the answer has no text content (finish_reason: content_filter)"
    assert err.fields["finish_reason"] == "content_filter"


def test_an_answer_that_is_not_the_json_asked_for_may_be_retried(llm):
    err = refused(llm, "prose", format="json")
    assert err.message.startswith("the model's answer is not valid JSON (")
    assert err.message.endswith("): 'Sure! The answer is forty-two.'")
    assert err.retryable is True
    assert err.fields["text"] == "Sure! The answer is forty-two."
    assert ask(llm, "fenced", format="json").output == {"answer": 42}
    assert ask(llm, "array", format="json").output == [1, 2, 3]


def test_unreachable_and_silent_servers(llm):
    port = free_port()
    with pytest.raises(ToolError) as caught:
        TOOL.action("complete").run(ToolContext("a"), {"prompt": "hi", "model": "m",
                                                         "base_url": f"http://127.0.0.1:{port}/v1"})
    assert caught.value.message == (f"POST http://127.0.0.1:{port}/v1/chat/completions: connection refused by "
                                    f"127.0.0.1:{port} (is the server running and listening on that port?)")
    assert caught.value.retryable is True
    with silent_port() as port:
        with pytest.raises(ToolError) as caught:
            TOOL.action("complete").run(ToolContext("a"), {"prompt": "hi", "model": "m", "timeout": 0.3,
                                                             "base_url": f"http://127.0.0.1:{port}/v1"})
    assert caught.value.message == (f"POST http://127.0.0.1:{port}/v1/chat/completions timed out after 0.3s "
                                    "(`timeout`) without a complete answer")


# --------------------------------------------------------------------------- what the author gets wrong


def test_parameters_that_fail_before_anything_is_sent(llm, monkeypatch):
    before = len(llm.state["requests"])
    complete = TOOL.action("complete")
    analyze = TOOL.action("analyze")
    base = {"base_url": f"{llm.url}/v1", "model": "ok"}
    cases = [
        (complete, {"prompt": "hi", "base_url": f"{llm.url}/v1"},
         "no model given: set `model` (e.g. gpt-4o-mini, llama3.2) or the YAML2DAG_LLM_MODEL environment variable"),
        (complete, {"prompt": "hi", "model": "m", "base_url": "ftp://models.example/v1"},
         "`base_url` 'ftp://models.example/v1' must start with http:// or https://"),
        (complete, dict(base, prompt="   "), "`prompt` is empty"),
        (complete, dict(base, prompt="hi", headers=["X-A: 1"]), "`headers` must render to a mapping"),
        (complete, dict(base, prompt="hi", options="top_p=1"), "`options` must render to a mapping"),
        (complete, dict(base, prompt="hi", options={"model": "other", "stream": True}),
         "`options` cannot set `model`, `stream`: the tool sets it"),
        (analyze, dict(base, context=None), "`context` (the data to analyze) rendered to null"),
        (complete, dict(base, prompt="hi", context="x" * (MAX_CONTEXT_CHARS + 1)),
         f"`context` is {MAX_CONTEXT_CHARS + 1:,} characters long; the limit is {MAX_CONTEXT_CHARS:,}: "
         "send a selection or a summary of the data"),
    ]
    for action, params, message in cases:
        with pytest.raises(ToolError) as caught:
            action.run(ToolContext("a"), params)
        assert caught.value.message == message, params
        assert caught.value.retryable is False, params
    assert len(llm.state["requests"]) == before, "nothing was sent"


# --------------------------------------------------------------------------- less-used options


def test_options_headers_and_max_tokens_reach_the_server(llm):
    result = ask(llm, "ok", options={"top_p": 0.5, "seed": 7}, max_tokens=20, temperature=0,
                 headers={"X-Team": "data", "X-Skip": None}, system="Be brief.")
    sent = llm.state["requests"][-1]
    assert sent["path"] == "/v1/chat/completions"
    assert sent["body"]["top_p"] == 0.5 and sent["body"]["seed"] == 7
    assert sent["body"]["max_tokens"] == 20 and sent["body"]["temperature"] == 0
    assert sent["body"]["stream"] is False
    assert sent["body"]["messages"][0] == {"role": "system", "content": "Be brief."}
    assert sent["headers"]["x-team"] == "data" and "x-skip" not in sent["headers"]
    assert sent["headers"]["authorization"] == f"Bearer {KEY}"
    assert result.output == "fine"
    assert result.fields["model"] == "served-model"
    assert result.fields["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}
    assert result.metadata["total_tokens"] == 5


def test_analyze_sends_bytes_and_data_with_the_default_question(llm):
    ask(llm, "ok", action="analyze", context=b"a,b\n1,2\n")
    user = llm.state["requests"][-1]["body"]["messages"][-1]["content"]
    assert user == ("<data>\na,b\n1,2\n\n</data>\n\n"
                    "Summarize the most important facts, trends and anomalies in this data.")
    assert ask(llm, "array", action="analyze", context=[{"n": 1}], prompt="How many?", format="json",
               system="Analyst.").output == [1, 2, 3]
    messages = llm.state["requests"][-1]["body"]["messages"]
    assert messages[0]["content"].startswith("Analyst.\n\nReply with one valid JSON value only")
    assert messages[-1]["content"].endswith("</data>\n\nHow many?")


def test_content_parts_are_joined_and_a_cut_off_answer_warns(llm):
    assert ask(llm, "parts").output == "part one, part two"
    log = RecordingLog()
    result = ask(llm, "cut-off", ctx=ToolContext("ask", log=log))
    assert result.output == "an answer that was cu"
    assert result.fields["finish_reason"] == "length"
    assert ("the answer was cut off at the token limit (finish_reason: length): raise `max_tokens` for a "
            "complete answer") in log.warnings()


def test_an_answer_echoing_the_key_is_masked_in_output_and_fields(llm):
    result = ask(llm, "echo-key")
    assert result.output == "your key is ***"
    assert KEY not in json.dumps(result.fields) and KEY not in str(result.metadata)


def test_a_base_url_given_with_the_full_path_is_used_as_is(llm):
    assert endpoint(f"{llm.url}/v1/chat/completions/") == f"{llm.url}/v1/chat/completions"
    result = ask(llm, "ok", base_url=f"{llm.url}/v1/chat/completions")
    assert result.output == "fine" and llm.state["requests"][-1]["path"] == "/v1/chat/completions"
