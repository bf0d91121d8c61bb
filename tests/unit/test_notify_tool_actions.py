"""The `notify` tool's actions called directly (the TOOL's `Action.run` with a ToolContext, no
Dagster run, no server): the errors a workflow author can cause, with the messages and the retry
decisions of docs/manual/tools/notify_en.md ("Errors and retries"), and the less-used options
(`level` written in capitals, a list as the message, every `expect_status` form). The webhook
errors here fail before any answer: a closed local port, a bad URL, a body that is not JSON.
"""

from __future__ import annotations

import socket

import pytest

from recording_log import RecordingLog
from yaml2dag.tools.base import ToolContext, ToolError
from yaml2dag.tools.notify import TOOL, _root_reason, status_matcher


def _run(action: str, params: dict, ctx: ToolContext | None = None):
    ctx = ctx or ToolContext("n", log=RecordingLog())
    return next(a for a in TOOL.actions if a.name == action).run(ctx, params)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# --------------------------------------------------------------------------- log


def test_log_level_is_case_insensitive_and_a_list_is_written_as_json():
    log = RecordingLog()
    result = _run("log", {"message": ["disk", {"full": True}], "level": " WARNING "}, ToolContext("n", log=log))
    assert log.lines == [("warning", '["disk", {"full": true}]')]
    assert result.output == {"channel": "log", "level": "warning", "message": '["disk", {"full": true}]'}
    assert result.fields == {"channel": "log", "level": "warning"}


def test_log_of_a_null_message_writes_an_empty_line_and_a_number_as_text():
    log = RecordingLog()
    ctx = ToolContext("n", log=log)
    _run("log", {"message": None}, ctx)
    _run("log", {"message": 42, "level": "error"}, ctx)
    assert log.lines == [("info", ""), ("error", "42")]


def test_log_masks_secrets_in_the_message_and_the_receipt():
    log = RecordingLog()
    result = _run("log", {"message": "token is s3cr3t-value"}, ToolContext("n", log=log, secrets=["s3cr3t-value"]))
    assert log.lines == [("info", "token is ***")]
    assert result.output["message"] == "token is ***"


def test_log_with_an_unknown_level_is_the_one_failure_and_not_retried():
    with pytest.raises(ToolError) as info:
        _run("log", {"message": "x", "level": "loud"})
    assert info.value.message == "level must be one of info, warning, error, got 'loud'"
    assert info.value.retryable is False


# --------------------------------------------------------------------------- expect_status


@pytest.mark.parametrize("value, accepted, refused, shown", [
    (None, [200, 204, 299], [199, 300, 404], "2xx"),
    (204, [204], [200], "204"),
    ("3xx", [301, 399], [200, 400], "3xx"),
    ("299-200", [200, 250, 299], [300], "299-200"),
    ("200, 404", [200, 404], [201, 500], "200, 404"),
    ([200, "5xx", "404 - 405"], [200, 503, 404, 405], [201, 406], "200, 5xx, 404 - 405"),
])
def test_expect_status_forms(value, accepted, refused, shown):
    accepts, described = status_matcher(value)
    assert [accepts(c) for c in accepted] == [True] * len(accepted)
    assert [accepts(c) for c in refused] == [False] * len(refused)
    assert described == shown


@pytest.mark.parametrize("value, message", [
    (True, "expect_status: True is not a status code"),
    ("teapot", "expect_status: 'teapot' is not a status code or range (\"2xx\", \"200-299\")"),
    ([200, 1.5], "expect_status: 1.5 is not a status code or range (\"2xx\", \"200-299\")"),
])
def test_expect_status_that_is_not_a_status_is_refused_before_posting(value, message):
    with pytest.raises(ToolError) as info:
        _run("webhook", {"url": f"http://127.0.0.1:{_closed_port()}/x", "text": "hi", "expect_status": value})
    assert info.value.message == message
    assert info.value.retryable is False


# --------------------------------------------------------------------------- webhook


@pytest.mark.parametrize("params, message", [
    ({"url": "ftp://example.test/x", "text": "hi"},
     "webhook url must start with http:// or https://, got 'ftp://example.test/x'"),
    ({"url": "http://127.0.0.1/x", "payload": ["a"]}, "`payload` must be a mapping, got list"),
    ({"url": "http://127.0.0.1/x"}, "webhook needs `text` or `payload`"),
    ({"url": "http://127.0.0.1/x", "text": "hi", "timeout": "soon"}, None),
    ({"url": "http://127.0.0.1/x", "text": "hi", "timeout": 0}, "timeout must be more than 0 seconds"),
])
def test_webhook_configuration_errors_are_not_retried(params, message):
    with pytest.raises(ToolError) as info:
        _run("webhook", params)
    if message is None:
        assert info.value.message.startswith("timeout: ") and "soon" in info.value.message
    else:
        assert info.value.message == message
    assert info.value.retryable is False


def test_webhook_url_with_a_password_is_masked_in_the_bad_url_message():
    with pytest.raises(ToolError) as info:
        _run("webhook", {"url": "ftp://bot:hunter22@example.test/x", "text": "hi"})
    assert "hunter22" not in info.value.message
    assert info.value.message == "webhook url must start with http:// or https://, got 'ftp://bot:***@example.test/x'"


def test_webhook_body_that_is_not_json_is_refused():
    payload: dict = {"a": 1}
    payload["self"] = payload  # a loop: no JSON for it
    with pytest.raises(ToolError) as info:
        _run("webhook", {"url": "http://127.0.0.1/x", "payload": payload})
    assert info.value.message.startswith("webhook body is not JSON-serializable: ")
    assert "Circular reference" in info.value.message
    assert info.value.retryable is False


def test_webhook_connection_refused_is_retryable_and_masks_credentials():
    port = _closed_port()
    ctx = ToolContext("n", log=RecordingLog())
    with pytest.raises(ToolError) as info:
        _run("webhook", {"url": f"http://bot:pa55word@127.0.0.1:{port}/hook", "text": "hi",
                         "headers": {"Authorization": "Bearer tok-abcdef", "X-Retries": 3}}, ctx)
    assert info.value.message == f"webhook POST to http://bot:***@127.0.0.1:{port}/hook failed: connection refused"
    assert info.value.retryable is True
    # the credentials stay masked in whatever the step logs or returns afterwards
    assert ctx.mask("pa55word Bearer tok-abcdef tok-abcdef") == "*** *** ***"


def test_webhook_to_a_malformed_address_is_not_retried():
    with pytest.raises(ToolError) as info:
        _run("webhook", {"url": "http://127.0.0.1:99999999/x", "text": "hi"})
    assert info.value.message.startswith("webhook POST to http://127.0.0.1:99999999/x: ")
    assert info.value.retryable is False


def test_webhook_stopped_by_the_run_says_so():
    ctx = ToolContext("n", log=RecordingLog())
    ctx.cancel("the run was terminated")  # the session is closed as soon as it opens
    with pytest.raises(ToolError) as info:
        _run("webhook", {"url": f"http://127.0.0.1:{_closed_port()}/x", "text": "hi"}, ctx)
    assert info.value.message.endswith("was stopped (the step timed out or the run was terminated)")
    assert info.value.retryable is True


@pytest.mark.parametrize("error, reason", [
    ("HTTPConnectionPool(host='x', port=80): Max retries exceeded (Caused by NewConnectionError("
     "'<conn>: Failed to establish a new connection: [Errno 111] Connection refused'))", "connection refused"),
    ("Failed to resolve 'nohost.invalid' ([Errno -2] Name or service not known)", "unknown host name"),
    ("[Errno -3] Temporary failure in name resolution", "unknown host name"),
    ("SSLError(SSLCertVerificationError(1, '[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed'))",
     "TLS certificate could not be verified"),
    ("('Connection aborted.', ConnectionResetError(104, 'Connection reset by peer'))",
     "connection reset by the server"),
    ("('Connection aborted.', RemoteDisconnected('Remote end closed connection without response'))",
     "the server closed the connection without answering"),
    ("[Errno 113] No route to host", "No route to host"),
    ("something odd", "something odd"),
])
def test_root_reason_keeps_what_a_user_can_act_on(error, reason):
    assert _root_reason(Exception(error)) == reason
