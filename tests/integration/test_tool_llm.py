"""The `llm` tool end to end: real Dagster runs against a small OpenAI-compatible fake server.

The fake answers ``POST /v1/chat/completions`` on 127.0.0.1 (a free port, started per test,
shut down on teardown). It checks the ``Authorization`` header like the real API does, records
every request, and derives its answer from the request, so the tests prove what was sent.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from local_servers import LocalHTTPServer, QuietHandler, everything_stored, serving
from yaml2dag.format.validation import validate_text

pytestmark = pytest.mark.slow

API_KEY = "sk-test-6f1c2a9e8b7d4c3f"
WRONG_KEY = "sk-wrong-1234567890abcdef"


@dataclass
class FakeState:
    requests: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


class FakeOpenAI(QuietHandler):
    protocol_version = "HTTP/1.1"
    server: "FakeServer"

    def do_POST(self):
        state = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        if self.path == "/html/chat/completions":
            self._send(200, b"<html><body>Welcome to the web site</body></html>", "text/html")
            return
        if self.path != "/v1/chat/completions":
            self._json(404, {"error": {"message": f"Unknown request URL: POST {self.path}"}})
            return
        body = json.loads(raw)
        auth = self.headers.get("Authorization")
        with state.lock:
            state.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
            state.counts[body.get("model")] = state.counts.get(body.get("model"), 0) + 1
            count = state.counts[body.get("model")]
        if auth != f"Bearer {API_KEY}":
            given = (auth or "").removeprefix("Bearer ")
            # like OpenAI, quote (part of) the key: here all of it, to prove the tool masks it
            self._json(401, {"error": {"message": f"Incorrect API key provided: {given}",
                                       "type": "invalid_request_error", "code": "invalid_api_key"}})
            return
        model = body["model"]
        if model == "missing-model":
            self._json(404, {"error": {"message": f"The model `{model}` does not exist"}})
            return
        if model == "busy-model" and count == 1:
            self._json(429, {"error": {"message": "Rate limit reached"}}, extra={"Retry-After": "1"})
            return
        messages = body["messages"]
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        user = messages[-1]["content"]
        if "JSON" in system:
            data = json.loads(re.search(r"<data>\n(.*)\n</data>", user, re.S).group(1))
            answer = {"rows": len(data), "total": sum(row["amount"] for row in data),
                      "question": user.rsplit("\n", 1)[-1]}
            content = "```json\n" + json.dumps(answer) + "\n```"
        else:
            content = f"  ECHO[{model}|t={body.get('temperature')}|n={len(messages)}]: {user.upper()}  "
        words = sum(len(m["content"].split()) for m in messages)
        self._json(200, {
            "id": "chatcmpl-1", "object": "chat.completion", "created": 0, "model": f"{model}-2024",
            "choices": [{"index": 0, "finish_reason": "stop",
                         "message": {"role": "assistant", "content": content}}],
            "usage": {"prompt_tokens": words, "completion_tokens": 7, "total_tokens": words + 7},
        })


class FakeServer(LocalHTTPServer):
    def __init__(self):
        super().__init__(FakeOpenAI, FakeState())

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"


@pytest.fixture
def fake(monkeypatch):
    for name in ("YAML2DAG_LLM_URL", "OPENAI_BASE_URL", "YAML2DAG_LLM_MODEL", "YAML2DAG_LLM_API_KEY",
                 "OPENAI_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("TEST_LLM_KEY", API_KEY)
    monkeypatch.setenv("TEST_LLM_WRONG_KEY", WRONG_KEY)
    with serving(FakeServer()) as srv:
        yield srv


def files_containing(folder: Path, needle: str) -> list[str]:
    """Files under ``folder`` whose bytes contain ``needle`` (run storage, event log DBs, outputs)."""
    found = []
    for path in folder.rglob("*"):
        if path.is_file() and needle.encode() in path.read_bytes():
            found.append(str(path))
    return found


def test_complete_sends_prompt_context_and_key_and_returns_the_answer(run_yaml, fake, dagster_home):
    ran = run_yaml(f"""
        name: Complete
        parameters:
          topic: {{type: string, default: "release notes"}}
        steps:
          - id: ask
            tool: llm
            parameters:
              base_url: "{fake.base_url}"
              model: tiny
              api_key: "{{{{ secrets.TEST_LLM_KEY }}}}"
              system: "You write short answers."
              prompt: "Summarize the {{{{ topic }}}}"
              context: {{version: "1.2", changes: ["fix login", "faster sync"]}}
              temperature: 0.2
              max_tokens: 50
              options: {{seed: 7}}
          - id: after
            tool: shell
            parameters: {{command: "echo {{{{ ask.finish_reason }}}} {{{{ ask.usage.completion_tokens }}}}"}}
        outputs:
          answer: "{{{{ ask.output }}}}"
          model: "{{{{ ask.model }}}}"
          usage: "{{{{ ask.usage }}}}"
          after: "{{{{ after.output }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    sent = fake.state.requests[-1]
    assert sent["headers"]["authorization"] == f"Bearer {API_KEY}"
    body = sent["body"]
    assert body["model"] == "tiny" and body["temperature"] == 0.2 and body["max_tokens"] == 50
    assert body["seed"] == 7 and body["stream"] is False
    assert body["messages"][0] == {"role": "system", "content": "You write short answers."}
    user = body["messages"][1]["content"]
    assert user.startswith("Summarize the release notes\n\n<context>\n")
    assert json.loads(user.split("<context>\n", 1)[1].split("\n</context>")[0]) == {
        "version": "1.2", "changes": ["fix login", "faster sync"]}
    out = ran.result.outputs
    assert out["answer"].startswith("ECHO[tiny|t=0.2|n=2]: SUMMARIZE THE RELEASE NOTES")
    assert "FASTER SYNC" in out["answer"] and out["answer"] == out["answer"].strip()
    assert out["model"] == "tiny-2024"
    assert out["usage"]["completion_tokens"] == 7
    assert out["after"] == "stop 7"
    step_outputs = [r for r in ran.records if r.dagster_event is not None
                    and r.dagster_event.event_type_value == "STEP_OUTPUT" and r.dagster_event.step_key == "ask"]
    metadata = step_outputs[0].dagster_event.event_specific_data.metadata
    assert metadata["model"].value == "tiny-2024" and metadata["completion_tokens"].value == 7
    assert "SUMMARIZE THE RELEASE NOTES" in metadata["answer"].value
    # the key reached the server, and nothing else: not the event log, outputs or run storage
    assert API_KEY not in everything_stored(ran)
    assert files_containing(dagster_home, API_KEY) == []


def test_analyze_with_format_json_parses_the_answer(run_yaml, fake):
    ran = run_yaml(f"""
        name: Analyze
        steps:
          - id: sales
            tool: python
            parameters:
              callable: "json:loads"
              args: ['[{{"region": "north", "amount": 120}}, {{"region": "south", "amount": 80}}, {{"region": "east", "amount": 5}}]']
          - id: report
            tool: llm
            action: analyze
            parameters:
              base_url: "{fake.base_url}"
              model: analyst
              api_key: "{{{{ env.TEST_LLM_KEY }}}}"
              context: "{{{{ sales.output }}}}"
              prompt: "Which region sold most?"
              format: json
        outputs:
          result: "{{{{ report.output }}}}"
          raw: "{{{{ report.text }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.outputs["result"] == {"rows": 3, "total": 205, "question": "Which region sold most?"}
    assert ran.result.outputs["raw"].startswith("```json")
    system = fake.state.requests[-1]["body"]["messages"][0]
    assert system["role"] == "system" and "only the data" in system["content"] and "JSON" in system["content"]


def test_defaults_come_from_the_environment(run_yaml, fake, monkeypatch):
    monkeypatch.setenv("YAML2DAG_LLM_URL", fake.base_url)
    monkeypatch.setenv("YAML2DAG_LLM_MODEL", "env-model")
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    ran = run_yaml("""
        name: From env
        steps:
          - id: ask
            tool: llm
            parameters: {prompt: "hello"}
        outputs:
          answer: "{{ ask.output }}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.outputs["answer"] == "ECHO[env-model|t=None|n=1]: HELLO"
    assert API_KEY not in everything_stored(ran)


def test_rejected_key_fails_at_once_without_revealing_it(run_yaml, fake, dagster_home):
    ran = run_yaml(f"""
        name: Bad key
        steps:
          - id: ask
            tool: llm
            retry: {{max_attempts: 3, delay: 0.1}}
            parameters:
              base_url: "{fake.base_url}"
              model: tiny
              api_key: "{{{{ env.TEST_LLM_WRONG_KEY }}}}"
              prompt: "hello"
    """)
    assert ran.result.status == "FAILURE"
    error = ran.result.error
    assert f"POST {fake.base_url}/chat/completions answered 401 Unauthorized: the API key was rejected" in error
    assert "Incorrect API key provided: ***" in error
    assert len(fake.state.requests) == 1, "a rejected key is not retried"
    assert WRONG_KEY not in everything_stored(ran)
    assert files_containing(dagster_home, WRONG_KEY) == []


def test_missing_key_and_wrong_model_name_the_fix(run_yaml, fake):
    ran = run_yaml(f"""
        name: No key
        steps:
          - id: ask
            tool: llm
            parameters: {{base_url: "{fake.base_url}", model: tiny, prompt: "hello"}}
    """)
    assert ran.result.status == "FAILURE"
    assert "answered 401 Unauthorized: no API key was sent: set `api_key`" in ran.result.error
    assert "authorization" not in fake.state.requests[-1]["headers"]

    ran = run_yaml(f"""
        name: Wrong model
        steps:
          - id: ask
            tool: llm
            parameters:
              base_url: "{fake.base_url}"
              model: missing-model
              api_key: "{{{{ env.TEST_LLM_KEY }}}}"
              prompt: "hello"
    """)
    assert ran.result.status == "FAILURE"
    assert "answered 404 Not Found: check `base_url`" in ran.result.error
    assert "'missing-model'" in ran.result.error and "does not exist" in ran.result.error


def test_rate_limit_is_retried(run_yaml, fake):
    ran = run_yaml(f"""
        name: Busy
        steps:
          - id: ask
            tool: llm
            retry: {{max_attempts: 2, delay: 0.1}}
            parameters:
              base_url: "{fake.base_url}"
              model: busy-model
              api_key: "{{{{ env.TEST_LLM_KEY }}}}"
              prompt: "hello"
        outputs:
          answer: "{{{{ ask.output }}}}"
          attempts: "{{{{ ask.attempts }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.outputs == {"answer": "ECHO[busy-model|t=None|n=1]: HELLO", "attempts": 2}
    assert fake.state.counts["busy-model"] == 2
    assert any("rate limit or quota exceeded (the server asks to wait 1s)" in m for m in ran.messages("ask"))


def test_a_base_url_that_is_not_an_api_fails_with_a_hint(run_yaml, fake):
    base = fake.base_url.replace("/v1", "/html")
    ran = run_yaml(f"""
        name: Not an API
        steps:
          - id: ask
            tool: llm
            parameters: {{base_url: "{base}", model: tiny, api_key: "{{{{ env.TEST_LLM_KEY }}}}", prompt: "hi"}}
    """)
    assert ran.result.status == "FAILURE"
    assert "text/html that is not a chat completion" in ran.result.error
    assert "Is `base_url` the API root of an OpenAI-compatible server" in ran.result.error


def test_validator_rejects_bad_llm_parameters_with_positions():
    report = validate_text("""\
name: Bad llm
steps:
  - id: ask
    tool: llm
    parameters:
      promt: "hello"
      temperature: 3
      base_url: "localhost:11434"
  - id: study
    tool: llm
    action: analyse
    parameters: {prompt: "x"}
  - id: study2
    tool: llm
    action: analyze
    parameters: {prompt: "x", format: yaml}
""", file="wf.yaml")
    problems = {(p.line, p.path): p.message for p in report.problems if p.is_error}
    assert "unknown key `promt`; did you mean `prompt`?" in problems[(6, "steps[0].parameters.promt")]
    assert "missing required key `prompt`" in problems[(6, "steps[0].parameters")]
    assert "must be at most 2" in problems[(7, "steps[0].parameters.temperature")]
    assert "http:// or https:// URL" in problems[(8, "steps[0].parameters.base_url")]
    assert "did you mean `analyze`?" in problems[(11, "steps[1].action")]
    assert "missing required key `context`" in problems[(16, "steps[2].parameters")]
    assert "is not one of `text`, `json`" in problems[(16, "steps[2].parameters.format")]
