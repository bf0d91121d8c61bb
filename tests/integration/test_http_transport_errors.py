"""The `http` tool's `request` action called directly (no Dagster run) against real servers on
127.0.0.1: every failure a workflow author can meet gives the message and the retry decision the
tool promises (connection refused, timeouts, TLS, redirects, a server that hangs up, a broken
body, bad parameters), and the less-used options give the right result (redirects, charsets,
`save_to`, query lists).

The server is the standard library's ThreadingHTTPServer (tests/local_servers.py), one per
module; a handler that waits does so on an Event that teardown sets.
"""

from __future__ import annotations

import datetime as dt
import json
import socket
import ssl
import threading
import time
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from local_servers import LocalHTTPServer, QuietHandler, free_port, make_cert, serving, silent_port
from recording_log import RecordingLog
from yaml2dag.tools.base import StepTimeoutError, ToolContext, ToolError, check_parameters
from yaml2dag.tools.http import TOOL, effective_timeout, send

#: Longest any handler waits (seconds); teardown wakes them earlier.
MAX_HANDLER_WAIT = 20.0


class Handler(QuietHandler):
    protocol_version = "HTTP/1.1"
    server: LocalHTTPServer

    def do_GET(self):
        state = self.server.state
        parts = urlsplit(self.path)
        path = parts.path
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        state["requests"].append({"path": path, "query": parse_qs(parts.query, keep_blank_values=True),
                                  "headers": {k.lower(): v for k, v in self.headers.items()}})
        if path == "/hangup":  # accept the request, answer nothing, close
            self.close_connection = True
            return
        if path == "/truncated":  # promise 1000 bytes, send 10, close
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", "1000")
            self.end_headers()
            self.wfile.write(b"0123456789")
            self.wfile.flush()
            self.close_connection = True
            return
        if path == "/redirect":
            self._send(302, "", extra={"Location": "/final"})
        elif path == "/redirect-to-missing":
            self._send(302, "", extra={"Location": "/missing"})
        elif path == "/loop":
            self._send(302, "", extra={"Location": "/loop"})
        elif path == "/final":
            self._json(200, {"arrived": True})
        elif path == "/latin1":
            self._send(200, "caf\xe9".encode("latin-1"), "text/plain; charset=iso-8859-1")
        elif path == "/latin1-json":
            self._send(200, json.dumps({"name": "caf\xe9"}, ensure_ascii=False).encode("latin-1"),
                       "application/json; charset=latin-1")
        elif path == "/bad-charset":
            self._send(200, "plain \u00e9".encode("utf-8"), "text/plain; charset=no-such-charset")
        elif path == "/empty-json":
            self._send(200, "", "application/json")
        elif path == "/binary":
            self._send(200, bytes(range(256)), "application/octet-stream")
        elif path == "/empty-error":
            self._send(503, "")
        elif path == "/big-json":
            self._json(200, {"text": "y" * 3000})
        elif path == "/endless":  # no Content-Length: the body ends when the connection closes
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            deadline = time.monotonic() + MAX_HANDLER_WAIT
            try:
                while time.monotonic() < deadline and not state["stop"].wait(0.05):
                    self.wfile.write(b"tick\n")
                    self.wfile.flush()
            except OSError:
                pass
        elif path == "/slow":
            state["stop"].wait(MAX_HANDLER_WAIT)
            self._send(200, "late")
        elif path == "/echo-body":
            self._send(200, body, self.headers.get("Content-Type") or "text/plain")
        elif path == "/echo-headers":
            self._json(200, {k.lower(): v for k, v in self.headers.items()})
        elif path == "/teapot":
            self._send(418, "I'm a teapot " * 50)
        else:
            self._send(404, f"no route {path}")

    do_POST = do_PUT = do_DELETE = do_HEAD = do_GET


@pytest.fixture(scope="module")
def server():
    srv = LocalHTTPServer(Handler, {"requests": [], "stop": threading.Event()})
    with serving(srv, before_stop=srv.state["stop"].set):
        yield srv


def request(params: dict, ctx: ToolContext | None = None):
    """The `request` action as a step runs it: parameters checked, then the action."""
    action = TOOL.action("request")
    check_parameters(action.parameters, params, "http.request")
    return action.run(ctx or ToolContext("call"), params)


def failure(params: dict, ctx: ToolContext | None = None) -> ToolError:
    with pytest.raises(ToolError) as caught:
        request(params, ctx)
    return caught.value


# --------------------------------------------------------------------------- no answer


def test_connection_refused_names_host_and_port_and_may_be_retried():
    port = free_port()
    log = RecordingLog()
    err = failure({"url": f"http://127.0.0.1:{port}/x"}, ToolContext("c", log=log))
    assert err.message == (f"GET http://127.0.0.1:{port}/x: connection refused by 127.0.0.1:{port} "
                           "(is the server running and listening on that port?)")
    assert err.retryable is True
    assert err.message in log.text(), "the failure is logged as well"


def test_a_server_that_never_answers_times_out_after_the_timeout_parameter():
    with silent_port() as port:
        err = failure({"url": f"http://127.0.0.1:{port}/", "timeout": "0.3s"})
    assert err.message == f"GET http://127.0.0.1:{port}/ timed out after 0.3s (`timeout`) without a complete answer"
    assert err.retryable is True
    assert not isinstance(err, StepTimeoutError)


def test_the_step_timeout_wins_when_it_is_shorter(server):
    action = TOOL.action("request")
    with pytest.raises(StepTimeoutError) as caught:  # 3 s: time for the request to be sent on a busy machine
        action.run(ToolContext("c", timeout=3), {"url": f"{server.url}/slow", "timeout": 30})
    assert caught.value.message.startswith(f"step timed out after 3s: GET {server.url}/slow had not answered "
                                           "completely after ")


def test_a_step_without_time_left_sends_nothing(server):
    ctx = ToolContext("c", timeout=0.001)
    while ctx.time_left():  # bounded: the deadline is a millisecond away
        pass
    before = len(server.state["requests"])
    with pytest.raises(StepTimeoutError) as caught:
        request({"url": f"{server.url}/final"}, ctx)
    assert caught.value.message == "step timed out after 0.001s before the request was sent"
    assert len(server.state["requests"]) == before


def test_timeout_values_are_checked_when_the_step_runs():
    ctx = ToolContext("c")
    with pytest.raises(ToolError) as caught:
        effective_timeout(ctx, "soon", 60)
    assert caught.value.message.startswith("`timeout`: ") and caught.value.retryable is False
    with pytest.raises(ToolError) as caught:
        effective_timeout(ctx, 0, 60)
    assert caught.value.message == "`timeout` must be more than 0 seconds"
    assert effective_timeout(ctx, "2m", 60) == (120.0, False)
    assert effective_timeout(ctx, None, 60) == (60, False)


def test_an_unknown_host_is_a_dns_failure():
    err = failure({"url": "http://no-such-host.invalid/", "timeout": 10})
    assert err.message == "GET http://no-such-host.invalid/: cannot resolve host name 'no-such-host.invalid' (DNS lookup failed)"
    assert err.retryable is True


def test_a_server_hanging_up_without_an_answer_may_be_retried(server):
    err = failure({"url": f"{server.url}/hangup"})
    assert err.message.startswith(f"GET {server.url}/hangup: the server closed the connection without answering (")
    assert err.retryable is True


def test_a_body_cut_short_says_the_connection_broke_while_reading(server):
    err = failure({"url": f"{server.url}/truncated"})
    assert err.message.startswith(f"GET {server.url}/truncated: the connection broke while reading the response "
                                  "(200 OK): ")
    assert err.retryable is True


def test_https_to_a_plain_http_server_is_a_tls_error_with_the_fix(server):
    port = server.server_address[1]
    err = failure({"url": f"https://127.0.0.1:{port}/final", "timeout": 10})
    assert err.message.startswith(f"GET https://127.0.0.1:{port}/final: TLS error: ")
    assert err.message.endswith(f": the server at 127.0.0.1:{port} does not speak TLS (HTTPS); if it serves plain "
                                "HTTP, use an http:// URL")
    assert err.retryable is False


def test_an_untrusted_certificate_is_a_tls_error_that_names_verify(tmp_path):
    pair = make_cert(tmp_path)
    if pair is None:
        pytest.skip("no openssl to make a certificate")
    cert, key = pair
    srv = LocalHTTPServer(Handler, {"requests": [], "stop": threading.Event()})
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    srv.socket = context.wrap_socket(srv.socket, server_side=True)
    port = srv.server_address[1]
    with serving(srv, before_stop=srv.state["stop"].set):
        err = failure({"url": f"https://127.0.0.1:{port}/final", "timeout": 10})
        assert err.message.startswith(f"GET https://127.0.0.1:{port}/final: TLS error: ")
        assert err.message.endswith("If the server uses a private certificate authority, set `verify` to its CA "
                                    "bundle path (or `verify: false` for a server you trust)")
        assert err.retryable is False
        trusted = request({"url": f"https://127.0.0.1:{port}/final", "verify": str(cert)})
        assert trusted.output == {"arrived": True}


def test_a_verify_path_that_does_not_exist_is_an_invalid_request(server, tmp_path):
    port = server.server_address[1]
    err = failure({"url": f"https://127.0.0.1:{port}/", "verify": str(tmp_path / "no-ca.pem")})
    assert err.message.startswith(f"GET https://127.0.0.1:{port}/: invalid request: ")
    assert "no-ca.pem" in err.message
    assert err.retryable is False


def test_a_header_value_outside_latin1_cannot_be_sent(server):
    err = failure({"url": f"{server.url}/final", "headers": {"X-Name": "\u0107evap \u2603"}})
    assert err.message == (f"GET {server.url}/final: the request cannot be encoded ("
                           + err.message.split("(", 1)[1].rsplit(")", 1)[0]
                           + "); header values must be Latin-1 text")
    assert err.retryable is False


# --------------------------------------------------------------------------- redirects and statuses


def test_redirects_are_followed_by_default_and_the_final_url_is_reported(server):
    result = request({"url": f"{server.url}/redirect"})
    assert result.output == {"arrived": True}
    assert result.fields["url"] == f"{server.url}/final"
    assert result.fields["status_code"] == 200


def test_follow_redirects_false_fails_on_the_redirect_itself(server):
    err = failure({"url": f"{server.url}/redirect", "follow_redirects": False})
    assert err.message == f"GET {server.url}/redirect answered 302 Found (expected 200-299) with an empty body"
    assert err.fields["status_code"] == 302 and err.fields["headers"]["location"] == "/final"
    assert err.retryable is False
    result = request({"url": f"{server.url}/redirect", "follow_redirects": False, "expect_status": "3xx"})
    assert result.fields["status_code"] == 302 and result.output == ""


def test_a_failed_status_after_a_redirect_names_both_urls(server):
    err = failure({"url": f"{server.url}/redirect-to-missing"})
    assert err.message == (f"GET {server.url}/redirect-to-missing (redirected to {server.url}/missing) answered "
                           "404 Not Found (expected 200-299): no route /missing")


def test_a_redirect_loop_fails_at_once(server):
    err = failure({"url": f"{server.url}/loop"})
    assert err.message.startswith(f"GET {server.url}/loop: too many redirects (")
    assert err.retryable is False


def test_an_unexpected_status_quotes_the_start_of_the_body_and_decides_the_retry(server):
    err = failure({"url": f"{server.url}/teapot"})
    assert err.message.startswith(f"GET {server.url}/teapot answered 418 I'm a Teapot (expected 200-299): I'm a teapot")
    assert err.message.endswith("…") and len(err.message) < 400, "the body is cut to its start"
    assert err.retryable is False
    err = failure({"url": f"{server.url}/empty-error", "expect_status": [200, "204"]})
    assert err.message == f"GET {server.url}/empty-error answered 503 Service Unavailable (expected 200, 204) with an empty body"
    assert err.retryable is True
    result = request({"url": f"{server.url}/teapot", "expect_status": "400-499"})
    assert result.fields["status_code"] == 418


# --------------------------------------------------------------------------- bodies and options


def test_charsets_decide_how_the_body_is_read(server):
    assert request({"url": f"{server.url}/latin1"}).output == "caf\xe9"
    assert request({"url": f"{server.url}/latin1-json"}).output == {"name": "caf\xe9"}
    assert request({"url": f"{server.url}/bad-charset"}).output == "plain \u00e9", "an unknown charset reads as UTF-8"
    empty = request({"url": f"{server.url}/empty-json"})
    assert empty.output is None and "response preview" not in empty.metadata


def test_the_preview_of_a_long_json_answer_is_cut(server):
    result = request({"url": f"{server.url}/big-json"})
    assert result.output == {"text": "y" * 3000}
    preview = result.metadata["response preview"]
    assert preview.startswith("```json\n{") and preview.endswith("\n…\n```")
    assert len(preview) < 1100


def test_save_to_writes_the_body_and_returns_the_path(server, tmp_path):
    target = tmp_path / "downloads" / "deep" / "blob.bin"
    result = request({"url": f"{server.url}/binary", "save_to": str(target)})
    assert target.read_bytes() == bytes(range(256))
    assert result.output == str(target) and result.written == (str(target),)
    assert result.fields["bytes"] == 256 and result.fields["status_code"] == 200


def test_save_to_below_a_file_fails_with_the_path(server, tmp_path):
    (tmp_path / "plain").write_text("a file")
    err = failure({"url": f"{server.url}/binary", "save_to": str(tmp_path / "plain" / "blob.bin")})
    assert err.message.startswith(f"could not write the response to {tmp_path / 'plain' / 'blob.bin'}: ")
    assert err.fields["status_code"] == 200


def test_query_lists_repeat_the_key_and_null_leaves_it_out(server):
    request({"url": f"{server.url}/final?keep=1", "query": {"tag": ["a", "b"], "flag": True, "none": None,
                                                          "n": 3}})
    assert server.state["requests"][-1]["query"] == {"keep": ["1"], "tag": ["a", "b"], "flag": ["true"], "n": ["3"]}


def test_a_password_in_the_url_never_reaches_the_message_or_the_log(server):
    port = free_port()
    log = RecordingLog()
    err = failure({"url": f"http://alice:s3cr3t-pw@127.0.0.1:{port}/x"}, ToolContext("c", log=log))
    assert "s3cr3t-pw" not in err.message and "s3cr3t-pw" not in log.text()
    assert f"GET http://alice:***@127.0.0.1:{port}/x: connection refused" in err.message


def test_parameter_values_a_template_can_get_wrong_fail_without_retry(server):
    action = TOOL.action("request")
    ctx = ToolContext("c")
    cases = [
        ({"url": "ftp://example.com/file"}, "`url` 'ftp://example.com/file' must start with http:// or https://"),
        ({"url": "http://example.com:99999/"}, "`url` 'http://example.com:99999/' is not a valid URL: "),
        ({"url": "http:///path"}, "`url` 'http:///path' has no host name"),
        ({"url": "   "}, "`url` must be an http:// or https:// URL, got '   '"),
        ({"url": f"{server.url}/final", "method": "FETCH"}, "`method` 'FETCH' is not one of GET, POST"),
        ({"url": f"{server.url}/final", "expect_status": "299-200"}, "`expect_status` '299-200' is not a status code"),
        ({"url": "http://[::1/x"}, "`url` 'http://[::1/x' is not a valid URL: Invalid IPv6 URL"),
        ({"url": f"{server.url}/final", "expect_status": []}, "`expect_status` must not be an empty list"),
        ({"url": f"{server.url}/final", "expect_status": "ok"}, "`expect_status` 'ok' is not a status code"),
        ({"url": f"{server.url}/final", "expect_status": [200, None]}, "`expect_status` [200, None] is not a status"),
        ({"url": f"{server.url}/final", "expect_status": True}, "`expect_status` True is not a status code"),
        ({"url": f"{server.url}/final", "headers": ["X-A: 1"]}, "`headers` must render to a mapping, got list"),
        ({"url": f"{server.url}/final", "headers": {"X-A": "1\r\nX-Injected: 2"}}, "header `X-A` contains a line break"),
        ({"url": f"{server.url}/final", "query": "a=1"}, "`query` must render to a mapping, got str"),
        ({"url": f"{server.url}/final", "auth": "alice"}, "`auth` must be `{username, password}` or `{token}`"),
        ({"url": f"{server.url}/final", "auth": {"password": "pw"}}, "`auth` must be `{username, password}` or `{token}`"),
        ({"url": f"{server.url}/final", "json": {}, "body": "x"}, "give either `json` or `body`, not both"),
        ({"url": f"{server.url}/final", "body": 12}, "`body` must be a string (use `json` for structured data), got int"),
    ]
    for params, message in cases:
        with pytest.raises(ToolError) as caught:
            action.run(ctx, params)  # what a template rendered, past the validator's reach
        assert caught.value.message.startswith(message), (params, caught.value.message)
        assert caught.value.retryable is False, params


def test_send_with_a_bytes_body_and_basic_auth_reaches_the_server(server):
    response = send(ToolContext("c"), "POST", f"{server.url}/final", data=b"raw", auth=("u", "p"),
                    headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 200 and response.json() == {"arrived": True}
    assert server.state["requests"][-1]["headers"]["authorization"].startswith("Basic ")
    result = request({"url": f"{server.url}/final", "method": "put", "body": b"bytes body"})
    assert result.output == {"arrived": True}
    assert server.state["requests"][-1]["headers"]["content-type"] == "text/plain; charset=utf-8"


def test_a_file_path_for_save_to_is_expanded_from_home(server, tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path))
    result = request({"url": f"{server.url}/binary", "save_to": "~/got.bin"})
    assert result.output == str(Path(tmp_path) / "got.bin")
    assert (tmp_path / "got.bin").stat().st_size == 256


def test_a_terminated_run_reports_the_termination_not_a_timeout_or_refusal():
    refused_port = free_port()
    with silent_port() as port:
        for url in (f"http://127.0.0.1:{port}/", f"http://127.0.0.1:{refused_port}/"):
            ctx = ToolContext("c")
            ctx.cancel()
            err = failure({"url": url, "timeout": 0.5}, ctx)
            assert err.message == f"GET {url} was stopped (the run was terminated)"
            assert err.retryable is False


def test_a_host_name_with_a_space_fails_at_once():
    err = failure({"url": "http://exa mple.com/"})
    assert err.message == ("GET http://exa mple.com/: Failed to parse: Host 'exa mple.com' contains invalid "
                           "character ' '")
    assert err.retryable is False


def test_a_credential_header_echoed_by_the_server_is_masked_in_the_output(server):
    result = request({"url": f"{server.url}/echo-headers",
                      "headers": {"X-Api-Key": "k3y-v4lue-123", "Authorization": "Token abc-def-ghi",
                                  "X-Left-Out": None}})
    assert result.output["x-api-key"] == "***"
    assert result.output["authorization"] == "Token ***"
    assert "x-left-out" not in result.output
    assert "k3y-v4lue-123" not in str(result.metadata)


def test_json_values_that_are_not_json_types_are_sent_as_their_json_form(server):
    result = request({"url": f"{server.url}/echo-body", "method": "POST",
                      "json": {"day": dt.date(2026, 1, 2), "ids": (1, 2)}, "expect_status": 200.0})
    assert result.output == {"day": "2026-01-02", "ids": [1, 2]}
    assert server.state["requests"][-1]["headers"]["content-type"] == "application/json"


def test_a_body_without_a_length_still_streaming_at_the_deadline_is_a_timeout_not_a_short_answer(server):
    err = failure({"url": f"{server.url}/endless", "timeout": 0.5})
    assert err.message == f"GET {server.url}/endless timed out after 0.5s (`timeout`) without a complete answer"
    assert err.retryable is True


def test_terminating_the_run_while_a_body_without_a_length_streams_stops_the_request(server):
    ctx = ToolContext("c")
    timer = threading.Timer(0.3, ctx.cancel)
    timer.start()
    try:
        err = failure({"url": f"{server.url}/endless", "timeout": 30}, ctx)
    finally:
        timer.cancel()
    assert err.message == f"GET {server.url}/endless was stopped (the run was terminated)"
    assert err.retryable is False


def test_an_ipv6_address_is_shown_in_brackets_with_its_port():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as probe:
            probe.bind(("::1", 0))
            port = probe.getsockname()[1]
    except OSError:
        pytest.skip("no IPv6 loopback on this machine")
    err = failure({"url": f"http://[::1]:{port}/x"})
    assert err.message == (f"GET http://[::1]:{port}/x: connection refused by [::1]:{port} (is the server running "
                           "and listening on that port?)")
