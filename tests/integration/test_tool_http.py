"""The `http` tool end to end: real Dagster runs against a real HTTP server on 127.0.0.1.

The server is the standard library's ThreadingHTTPServer on a free port, started per test and
shut down on teardown; every handler that waits does so on an Event that teardown sets, so no
wait outlives the test.
"""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pytest

from local_servers import LocalHTTPServer, QuietHandler, everything_stored, free_port, serving
from yaml2dag.format.validation import validate_text

pytestmark = pytest.mark.slow

#: Longest any handler waits (seconds); teardown wakes them earlier.
MAX_HANDLER_WAIT = 20.0


@dataclass
class ServerState:
    requests: list = field(default_factory=list)
    counts: dict = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def hits(self, path: str) -> int:
        with self.lock:
            return sum(1 for r in self.requests if r["path"] == path)


class Handler(QuietHandler):
    protocol_version = "HTTP/1.1"
    server: LocalHTTPServer

    def do_GET(self):
        self._handle()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _handle(self):
        state = self.server.state
        parts = urlsplit(self.path)
        path = parts.path
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        record = {
            "method": self.command,
            "path": path,
            "query": parse_qs(parts.query, keep_blank_values=True),
            "headers": {k.lower(): v for k, v in self.headers.items()},
            "body": raw.decode("utf-8", errors="replace"),
        }
        with state.lock:
            state.requests.append(record)
        if path == "/json":
            self._json(200, {"hello": "world", "items": [1, 2, 3], "nested": {"ok": True}})
        elif path == "/text":
            self._send(200, "plain text from the server\nsecond line\n")
        elif path == "/badjson":
            self._send(200, "not json {", "application/json")
        elif path == "/problem":
            self._json(200, {"type": "about:blank", "title": "fine"}, "application/problem+json; charset=utf-8")
        elif path == "/echo":
            try:
                parsed = json.loads(raw) if raw else None
            except ValueError:
                parsed = None
            self._json(200, {"method": self.command, "path": path, "query": record["query"],
                             "headers": record["headers"], "body": record["body"], "json": parsed})
        elif path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            self._send(code, f"status {code} body from the server " + "x" * 400)
        elif path.startswith("/flaky/"):
            with state.lock:
                state.counts[path] = state.counts.get(path, 0) + 1
                n = state.counts[path]
            if n <= 2:
                self._send(503, f"temporarily unavailable (call {n})")
            else:
                self._json(200, {"ok": True, "calls": n})
        elif path.startswith("/slow/"):
            state.stop.wait(min(float(path.rsplit("/", 1)[1]), MAX_HANDLER_WAIT))
            self._send(200, "finally")
        elif path == "/drip":
            # headers at once, then one byte of a 1000-byte body every 0.2s
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.flush()
            deadline = time.monotonic() + MAX_HANDLER_WAIT
            try:
                while time.monotonic() < deadline and not state.stop.wait(0.2):
                    self.wfile.write(b"x")
                    self.wfile.flush()
            except OSError:
                pass
            self.close_connection = True
        elif path == "/created":
            self._send(201, json.dumps({"id": 7}), "application/json",
                       extra={"Location": "/items/7", "X-Request-Id": "req-42"})
        else:
            self._send(404, f"no route {path}")


@pytest.fixture
def server():
    srv = LocalHTTPServer(Handler, ServerState())
    with serving(srv, before_stop=srv.state.stop.set):
        yield srv


# --------------------------------------------------------------------------- successes


def test_get_json_is_parsed_and_fields_reach_downstream_templates(run_yaml, server):
    ran = run_yaml(f"""
        name: Get JSON
        steps:
          - id: call
            tool: http
            parameters:
              url: "{server.url}/json"
          - id: use
            tool: shell
            parameters:
              command: "echo {{{{ call.status_code }}}} {{{{ call.output.hello }}}} {{{{ call.output['items'] | length }}}}"
        outputs:
          body: "{{{{ call.output }}}}"
          status: "{{{{ call.status_code }}}}"
          ctype: "{{{{ call.headers['content-type'] }}}}"
          url: "{{{{ call.url }}}}"
          elapsed_ok: "{{{{ call.elapsed >= 0 }}}}"
          line: "{{{{ use.output }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    assert out["body"] == {"hello": "world", "items": [1, 2, 3], "nested": {"ok": True}}
    assert out["status"] == 200
    assert out["ctype"] == "application/json"
    assert out["url"] == f"{server.url}/json"
    assert out["elapsed_ok"] is True
    assert out["line"] == "200 world 3"
    assert server.state.hits("/json") == 1
    summary = [m for m in ran.messages("call") if "GET " in m and "/json" in m]
    assert summary and "200 OK" in summary[0], ran.messages("call")
    outputs = [e for e in ran.events("STEP_OUTPUT") if e.dagster_event.step_key == "call"]
    metadata = outputs[0].dagster_event.event_specific_data.metadata
    assert metadata["status_code"].value == 200
    assert metadata["content_type"].value == "application/json"
    assert '"hello": "world"' in metadata["response preview"].value


def test_text_response_is_text_and_json_suffix_types_are_parsed(run_yaml, server):
    ran = run_yaml(f"""
        name: Text
        steps:
          - id: text
            tool: http
            parameters: {{url: "{server.url}/text"}}
          - id: problem
            tool: http
            parameters: {{url: "{server.url}/problem"}}
        outputs:
          text: "{{{{ text.output }}}}"
          title: "{{{{ problem.output.title }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.outputs == {"text": "plain text from the server\nsecond line\n", "title": "fine"}


def test_post_json_body_is_sent_and_echoed(run_yaml, server):
    ran = run_yaml(f"""
        name: Post JSON
        parameters:
          who: {{type: string, default: "Ada"}}
        steps:
          - id: post
            tool: http
            parameters:
              method: post
              url: "{server.url}/echo"
              json: {{name: "{{{{ who }}}}", tags: [a, b], count: 2, nothing: null}}
        outputs:
          echoed: "{{{{ post.output }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    echoed = ran.result.outputs["echoed"]
    assert echoed["method"] == "POST"
    assert echoed["json"] == {"name": "Ada", "tags": ["a", "b"], "count": 2, "nothing": None}
    assert echoed["headers"]["content-type"] == "application/json"


def test_text_body_query_and_headers_are_sent(run_yaml, server):
    ran = run_yaml(f"""
        name: Query and headers
        steps:
          - id: put
            tool: http
            parameters:
              method: PUT
              url: "{server.url}/echo?fixed=1"
              query: {{q: "a b&c", n: 3, flag: true, multi: [x, y], skipped: null}}
              headers: {{X-Test: "yes", X-Number: 42}}
              body: "héllo body"
        outputs:
          echoed: "{{{{ put.output }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    seen = server.state.requests[-1]
    assert seen["method"] == "PUT"
    assert seen["query"] == {"fixed": ["1"], "q": ["a b&c"], "n": ["3"], "flag": ["true"], "multi": ["x", "y"]}
    assert seen["headers"]["x-test"] == "yes" and seen["headers"]["x-number"] == "42"
    assert seen["body"] == "héllo body"
    assert seen["headers"]["content-type"] == "text/plain; charset=utf-8"
    assert ran.result.outputs["echoed"]["body"] == "héllo body"


def test_expect_status_list_and_range_accept_other_codes(run_yaml, server):
    ran = run_yaml(f"""
        name: Expect
        steps:
          - id: missing_ok
            tool: http
            parameters: {{url: "{server.url}/status/404", expect_status: [200, 404]}}
          - id: teapot
            tool: http
            parameters: {{url: "{server.url}/status/418", expect_status: "400-499"}}
          - id: created
            tool: http
            parameters: {{method: POST, url: "{server.url}/created", json: {{}}, expect_status: 201}}
          - id: any2xx
            tool: http
            parameters: {{url: "{server.url}/created", expect_status: "2xx"}}
        outputs:
          missing: "{{{{ missing_ok.status_code }}}}"
          teapot: "{{{{ teapot.status_code }}}}"
          teapot_text: "{{{{ teapot.output[:14] }}}}"
          created: "{{{{ created.output.id }}}}"
          location: "{{{{ created.headers.location }}}}"
          any: "{{{{ any2xx.status_code }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.outputs == {"missing": 404, "teapot": 418, "teapot_text": "status 418 bod",
                                  "created": 7, "location": "/items/7", "any": 201}


def test_basic_auth_is_sent_and_bearer_token_is_never_logged(run_yaml, server):
    token = "tok-0123456789-abcdef"
    ran = run_yaml(f"""
        name: Auth
        steps:
          - id: basic
            tool: http
            parameters:
              url: "{server.url}/echo"
              auth: {{username: alice, password: "hunter22"}}
          - id: bearer
            tool: http
            parameters:
              url: "{server.url}/echo"
              auth: {{token: "{token}"}}
          - id: header
            tool: http
            parameters:
              url: "{server.url}/status/500"
              headers: {{Authorization: "Bearer {token}"}}
            on_error: continue
        outputs:
          bearer_seen: "{{{{ bearer.output.headers.authorization }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    first, second, third = server.state.requests[-3:]
    assert first["headers"]["authorization"] == "Basic " + base64.b64encode(b"alice:hunter22").decode()
    assert second["headers"]["authorization"] == f"Bearer {token}"
    assert third["headers"]["authorization"] == f"Bearer {token}"
    # the server echoed the token back; the step result masks it
    assert ran.result.outputs["bearer_seen"] == "Bearer ***"
    text = everything_stored(ran)
    assert token not in text
    assert "hunter22" not in text


# --------------------------------------------------------------------------- failures


def test_unexpected_404_fails_at_once_with_url_status_and_body(run_yaml, server):
    ran = run_yaml(f"""
        name: Not found
        steps:
          - id: call
            tool: http
            parameters: {{url: "{server.url}/status/404"}}
            retry: {{max_attempts: 3, delay: 0.1}}
          - id: after
            tool: shell
            parameters: {{command: "true"}}
    """)
    assert ran.result.status == "FAILURE"
    assert ran.result.steps == {"call": "failed", "after": "not_run"}
    error = ran.result.error
    assert f"GET {server.url}/status/404 answered 404 Not Found (expected 200-299): status 404 body" in error
    assert "x" * 150 in error and "x" * 300 not in error, "the body is quoted, cut to ~200 characters"
    # a 404 is not retried, whatever `retry` says
    assert server.state.hits("/status/404") == 1


def test_unexpected_500_is_retried_then_fails(run_yaml, server):
    ran = run_yaml(f"""
        name: Server error
        steps:
          - id: call
            tool: http
            parameters: {{method: DELETE, url: "{server.url}/status/500"}}
            retry: {{max_attempts: 2, delay: 0.1}}
    """)
    assert ran.result.status == "FAILURE"
    assert f"DELETE {server.url}/status/500 answered 500 Internal Server Error (expected 200-299)" in ran.result.error
    assert server.state.hits("/status/500") == 2


def test_failed_request_keeps_status_fields_with_on_error_continue(run_yaml, server):
    ran = run_yaml(f"""
        name: Continue after failure
        steps:
          - id: call
            tool: http
            parameters: {{url: "{server.url}/status/409"}}
            on_error: continue
        outputs:
          status: "{{{{ call.status_code }}}}"
          succeeded: "{{{{ call.succeeded }}}}"
          error: "{{{{ call.error }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.outputs["status"] == 409
    assert ran.result.outputs["succeeded"] is False
    assert "answered 409 Conflict" in ran.result.outputs["error"]


def test_server_failing_twice_then_succeeding_passes_under_retry(run_yaml, server):
    ran = run_yaml(f"""
        name: Flaky
        steps:
          - id: call
            tool: http
            parameters: {{url: "{server.url}/flaky/a"}}
            retry: {{max_attempts: 3, delay: 0.1}}
        outputs:
          body: "{{{{ call.output }}}}"
          attempts: "{{{{ call.attempts }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.outputs == {"body": {"ok": True, "calls": 3}, "attempts": 3}
    assert server.state.hits("/flaky/a") == 3


def test_connection_refused_fails_clearly_and_is_retried(run_yaml):
    port = free_port()
    ran = run_yaml(f"""
        name: Refused
        steps:
          - id: call
            tool: http
            parameters: {{url: "http://127.0.0.1:{port}/health"}}
            retry: {{max_attempts: 2, delay: 0.1}}
    """)
    assert ran.result.status == "FAILURE"
    assert f"GET http://127.0.0.1:{port}/health: connection refused by 127.0.0.1:{port}" in ran.result.error
    assert "(2 attempts)" in ran.result.error
    assert "Traceback" not in ran.result.error


def test_timeout_parameter_stops_a_slow_server(run_yaml, server):
    started = time.monotonic()
    ran = run_yaml(f"""
        name: Slow
        steps:
          - id: call
            tool: http
            parameters: {{url: "{server.url}/slow/15", timeout: 0.5}}
    """)
    took = time.monotonic() - started
    assert ran.result.status == "FAILURE"
    assert f"GET {server.url}/slow/15 timed out after 0.5s" in ran.result.error
    assert took < 14, "the request must not wait for the slow server to answer"


def test_step_timeout_also_limits_the_request_even_while_the_body_trickles_in(run_yaml, server):
    started = time.monotonic()
    ran = run_yaml(f"""
        name: Drip
        steps:
          - id: call
            tool: http
            timeout: 1
            parameters: {{url: "{server.url}/drip", timeout: 30}}
    """)
    took = time.monotonic() - started
    assert ran.result.status == "FAILURE"
    assert "step timed out after 1s" in ran.result.error
    assert f"GET {server.url}/drip" in ran.result.error
    assert took < 14, "the body (200 s at the server's pace) must not be waited for"


def test_runtime_parameter_errors_fail_without_retry(run_yaml, server):
    ran = run_yaml(f"""
        name: Bad at runtime
        parameters:
          target: {{type: string, default: "ftp://example.com/file"}}
        steps:
          - id: call
            tool: http
            parameters: {{url: "{{{{ target }}}}"}}
            retry: {{max_attempts: 3, delay: 0.1}}
    """)
    assert ran.result.status == "FAILURE"
    assert "parameters.url: expected an http:// or https:// URL, got 'ftp://example.com/file'" in ran.result.error
    assert "attempts" not in ran.result.error
    assert ran.events("STEP_UP_FOR_RETRY") == []


# --------------------------------------------------------------------------- validation


def _problems(text: str) -> list:
    report = validate_text(text, file="wf.yaml")
    return [p for p in report.problems if p.is_error]


def test_validator_rejects_bad_parameters_with_positions():
    problems = _problems("""\
name: Bad http
steps:
  - id: call
    tool: http
    parameters:
      method: FETCH
      urll: "http://example.com"
      expect_status: "abc"
      timeout: "soon"
  - id: both
    tool: http
    parameters:
      url: "ftp://example.com"
      json: {a: 1}
      body: "text"
  - id: reader
    tool: shell
    parameters: {command: "echo {{ call.status }} {{ call.statuscode }}"}
""")
    lines = {(p.line, p.path): p for p in problems}
    method = lines[(6, "steps[0].parameters.method")]
    assert "expected an HTTP method" in method.message and "'FETCH'" in method.message
    assert method.column == 15
    urll = lines[(7, "steps[0].parameters.urll")]
    assert "unknown key `urll`; did you mean `url`?" in urll.message
    assert "missing required key `url`" in lines[(6, "steps[0].parameters")].message
    assert "\"200-299\"" in lines[(8, "steps[0].parameters.expect_status")].message
    assert "expected a duration" in lines[(9, "steps[0].parameters.timeout")].message
    assert "expected an http:// or https:// URL" in lines[(13, "steps[1].parameters.url")].message
    assert "at most one of `json` and `body`" in lines[(13, "steps[1].parameters")].message
    reader = [p for p in problems if p.path == "steps[2].parameters.command"]
    assert len(reader) == 1 and "no result field `statuscode`; did you mean `status_code`?" in reader[0].message
    assert len(problems) == 8, "\n".join(p.format() for p in problems)


def test_validator_accepts_templates_and_every_documented_form():
    problems = _problems("""\
name: Good http
parameters:
  base: "http://localhost:8080"
  code: 200
steps:
  - id: a
    tool: http
    parameters:
      method: "{{ 'post' }}"
      url: "{{ base }}/items"
      expect_status: "{{ code }}"
      json: {x: 1}
      timeout: "1m30s"
  - id: b
    tool: http
    action: request
    parameters:
      method: head
      url: "https://example.com/?q=1"
      expect_status: [200, "3xx", "400-403"]
      auth: {username: u, password: p}
      verify: false
      follow_redirects: false
      query: {a: [1, 2], b: null}
      headers: {X-Flag: true}
      timeout: 2.5
""")
    assert problems == []


# --------------------------------------------------------------------------- the transport on its own


def test_send_refuses_a_body_over_the_size_limit(server):
    from yaml2dag.tools.base import ToolContext, ToolError
    from yaml2dag.tools.http import send

    with pytest.raises(ToolError) as caught:
        send(ToolContext("s"), "GET", f"{server.url}/text", max_bytes=10)
    assert "the response is larger than 10 B" in caught.value.message
    assert caught.value.retryable is False
    ok = send(ToolContext("s"), "GET", f"{server.url}/text", max_bytes=1000)
    assert ok.status_code == 200 and ok.text().startswith("plain text")


def test_terminating_the_run_stops_a_request_in_flight(server):
    from yaml2dag.tools.base import ToolContext, ToolError
    from yaml2dag.tools.http import send

    ctx = ToolContext("s")
    timer = threading.Timer(0.5, ctx.cancel)
    timer.start()
    started = time.monotonic()
    try:
        with pytest.raises(ToolError) as caught:
            send(ctx, "GET", f"{server.url}/drip", timeout=30)
    finally:
        timer.cancel()
    assert "was stopped (the run was terminated)" in caught.value.message
    assert time.monotonic() - started < 14


def test_head_request_and_json_content_type_with_a_bad_body(run_yaml, server):
    ran = run_yaml(f"""
        name: Head
        steps:
          - id: bad
            tool: http
            parameters: {{url: "{server.url}/badjson"}}
          - id: head
            tool: http
            parameters: {{method: HEAD, url: "{server.url}/json"}}
        outputs:
          bad: "{{{{ bad.output }}}}"
          output: "{{{{ head.output }}}}"
          length: "{{{{ head.headers['content-length'] }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.outputs["bad"] == "not json {", "a JSON type with a bad body falls back to the text"
    assert any("is not valid JSON" in m for m in ran.messages("bad"))
    assert ran.result.outputs["output"] is None
    assert int(ran.result.outputs["length"]) > 20
    assert server.state.requests[-1]["method"] == "HEAD"
