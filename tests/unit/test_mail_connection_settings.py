"""How `email.send`, `email.fetch` and `notify.email` pick their server, port and TLS mode from
the parameters and the YAML2DAG_SMTP_* / YAML2DAG_IMAP_* defaults, the configuration errors a
workflow author can cause (each names the parameter or variable at fault, not retried), and the
messages of connection failures with their retry decision (docs/manual/tools/email_en.md,
notify_en.md "Errors and retries"). No server: `email.send` is called directly only where it
fails before connecting, or on a closed local port.
"""

from __future__ import annotations

import smtplib
import socket
import ssl

import pytest

from yaml2dag.tools.base import ToolContext, ToolError
from yaml2dag.tools.email import TOOL as EMAIL
from yaml2dag.tools.mail.errors import network_error
from yaml2dag.tools.mail.settings import ServerSettings, resolve_server

_VARS = [f"YAML2DAG_{s}_{k}" for s in ("SMTP", "IMAP")
         for k in ("HOST", "PORT", "SSL", "STARTTLS", "USER", "PASSWORD", "CA_FILE", "FROM")]


@pytest.fixture(autouse=True)
def _no_mail_environment(monkeypatch):
    for name in _VARS:
        monkeypatch.delenv(name, raising=False)


def _mode(service: str, params: dict) -> tuple[int, bool, bool]:
    server = resolve_server(ToolContext("m"), params, service)
    return server.port, server.ssl, server.starttls


@pytest.mark.parametrize("service, params, expected", [
    ("smtp", {"host": "h"}, (25, False, False)),
    ("smtp", {"host": "h", "username": "u", "password": "pw-123"}, (587, False, True)),
    ("smtp", {"host": "h", "port": 465}, (465, True, False)),
    ("smtp", {"host": "h", "port": "587"}, (587, False, True)),
    ("smtp", {"host": "h", "port": 2525}, (2525, False, False)),
    ("smtp", {"host": "h", "ssl": "yes"}, (465, True, False)),
    ("smtp", {"host": "h", "starttls": "on"}, (587, False, True)),
    ("imap", {"host": "h"}, (993, True, False)),
    ("imap", {"host": "h", "starttls": True}, (143, False, True)),
    ("imap", {"host": "h", "ssl": 0}, (143, False, False)),
    ("imap", {"host": "h", "port": 143}, (143, False, False)),
])
def test_port_and_tls_mode_defaults(service, params, expected):
    assert _mode(service, params) == expected


def test_environment_defaults_fill_what_the_parameters_leave_out(monkeypatch, tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not checked here")
    monkeypatch.setenv("YAML2DAG_SMTP_HOST", " mail.example.test ")
    monkeypatch.setenv("YAML2DAG_SMTP_PORT", "2525")
    monkeypatch.setenv("YAML2DAG_SMTP_USER", "alerts@example.test")
    monkeypatch.setenv("YAML2DAG_SMTP_PASSWORD", "env-password")
    monkeypatch.setenv("YAML2DAG_SMTP_CA_FILE", str(ca))
    ctx = ToolContext("m")
    server = resolve_server(ctx, {"host": "", "timeout": "2m", "tls_verify": "false"}, "smtp")
    assert (server.host, server.port, server.username, server.ca_file) == \
        ("mail.example.test", 2525, "alerts@example.test", str(ca))
    assert server.timeout == 120 and server.tls_verify is False
    assert server.describe() == "SMTP server mail.example.test:2525"
    assert ctx.mask("env-password") == "***"  # the password is a step secret from now on


def test_an_ipv6_host_is_shown_in_brackets():
    server = resolve_server(ToolContext("m"), {"host": "::1", "port": 25}, "smtp")
    assert server.describe() == "SMTP server [::1]:25"


@pytest.mark.parametrize("service, params, env, message", [
    ("smtp", {}, {}, "no SMTP server: set the `host` parameter or $YAML2DAG_SMTP_HOST"),
    ("imap", {}, {}, "no IMAP server: set the `host` parameter or $YAML2DAG_IMAP_HOST"),
    ("smtp", {"host": "h"}, {"YAML2DAG_SMTP_PORT": "smtp"},
     "$YAML2DAG_SMTP_PORT must be an integer, got 'smtp'"),
    ("smtp", {"host": "h", "port": 70000}, {}, "parameter `port` must be at most 65535, got 70000"),
    ("smtp", {"host": "h", "port": 0}, {}, "parameter `port` must be at least 1, got 0"),
    ("smtp", {"host": "h", "port": True}, {}, "parameter `port` must be an integer, got True"),
    ("smtp", {"host": "h", "port": 25.5}, {}, "parameter `port` must be an integer, got 25.5"),
    ("imap", {"host": "h"}, {"YAML2DAG_IMAP_SSL": "maybe"}, "$YAML2DAG_IMAP_SSL must be true or false, got 'maybe'"),
    ("smtp", {"host": "h", "password": "pw-123"}, {},
     "SMTP: a password is set but no user name: set `username` or $YAML2DAG_SMTP_USER"),
    ("smtp", {"host": "h", "ssl": True, "starttls": True}, {},
     "SMTP: `ssl` (implicit TLS) and `starttls` cannot both be true; use `ssl: true` for port 465, "
     "`starttls: true` for port 587"),
    ("imap", {"host": "h", "ca_file": "/no/such/ca.pem"}, {}, "IMAP: ca_file '/no/such/ca.pem' does not exist"),
    ("smtp", {"host": "h", "tls_verify": "sometimes"}, {}, "tls_verify must be true or false, got 'sometimes'"),
    ("smtp", {"host": "h", "timeout": "0s"}, {}, "timeout must be more than 0 seconds"),
])
def test_configuration_errors_name_what_to_fix_and_are_not_retried(monkeypatch, service, params, env, message):
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ToolError) as info:
        resolve_server(ToolContext("m"), params, service)
    assert info.value.message == message
    assert info.value.retryable is False


def _send(params: dict, ctx: ToolContext | None = None):
    action = next(a for a in EMAIL.actions if a.name == "send")
    return action.run(ctx or ToolContext("m"), params)


@pytest.mark.parametrize("params, message", [
    ({"host": "h", "to": []}, "no recipients: `to`, `cc` and `bcc` are all empty"),
    ({"host": "h", "to": "a@example.test", "from": "ops.example.test"},
     "`from`: 'ops.example.test' is not an email address"),
    # several words: the message quotes what was written, not only the part the parser kept
    ({"host": "h", "to": "a@example.test", "from": "not an address"},
     "`from`: 'not' (read from 'not an address') is not an email address"),
    ({"host": "h", "to": "Ops Team <ops at example.test>"},
     "`to`: 'ops at example.test' (read from 'Ops Team <ops at example.test>') is not an email address"),
])
def test_send_refuses_before_connecting(params, message):
    with pytest.raises(ToolError) as info:
        _send(params)
    assert info.value.message == message
    assert info.value.retryable is False


def test_send_to_a_closed_port_is_retryable_and_names_the_server():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ToolError) as info:
        _send({"host": "127.0.0.1", "port": port, "to": "a@example.test", "subject": "s", "body": "b"})
    assert info.value.message == (f"cannot connect to the SMTP server 127.0.0.1:{port}: connection refused "
                                  "(is the server running and is the port right?)")
    assert info.value.retryable is True


# --------------------------------------------------------------------------- connection failures


def _server(port: int = 25, use_ssl: bool = False) -> ServerSettings:
    return ServerSettings(service="SMTP", host="mail.test", port=port, ssl=use_ssl, starttls=False, username=None,
                          password="", timeout=7, ca_file=None, tls_verify=True)


def _cert_error() -> ssl.SSLCertVerificationError:
    exc = ssl.SSLCertVerificationError(1, "certificate verify failed")
    exc.verify_message = "self-signed certificate"
    return exc


def _wrong_version() -> ssl.SSLError:
    exc = ssl.SSLError(1, "[SSL: WRONG_VERSION_NUMBER] wrong version number")
    exc.reason = "WRONG_VERSION_NUMBER"
    return exc


@pytest.mark.parametrize("server, exc, doing, message, retryable", [
    (_server(), _cert_error(), "starting TLS",
     "TLS certificate of the SMTP server mail.test:25 could not be verified: self-signed certificate; set `ca_file` "
     "to the PEM file of the CA that signed it (or `tls_verify: false` for a server you trust)", False),
    (_server(587, True), _wrong_version(), "connecting",
     "TLS handshake with the SMTP server mail.test:587 failed: WRONG_VERSION_NUMBER; the port may not speak TLS "
     "from the first byte: use `ssl: false` (with `starttls: true` if the server offers it)", False),
    (_server(587), _wrong_version(), "starting TLS",
     "TLS handshake with the SMTP server mail.test:587 failed: WRONG_VERSION_NUMBER", False),
    (_server(), socket.gaierror(-2, "Name or service not known"), "connecting",
     "cannot resolve the host name of the SMTP server mail.test:25: Name or service not known", True),
    (_server(465), TimeoutError("timed out"), "connecting",
     "the SMTP server mail.test:465 did not answer within 7s while connecting; port 465 usually expects "
     "implicit TLS: set `ssl: true`", True),
    (_server(), smtplib.SMTPServerDisconnected("timed out"), "sending",
     "the SMTP server mail.test:25 did not answer within 7s while sending", True),
    (_server(465), smtplib.SMTPServerDisconnected("Connection unexpectedly closed"), "connecting",
     "the SMTP server mail.test:465 closed the connection while connecting: Connection unexpectedly closed; "
     "port 465 usually expects implicit TLS: set `ssl: true`", True),
    (_server(), ConnectionResetError(104, "Connection reset by peer"), "logging in",
     "connection to the SMTP server mail.test:25 failed while logging in: Connection reset by peer", True),
    (_server(), OSError(113, "No route to host"), "connecting",
     "network error with the SMTP server mail.test:25 while connecting: No route to host", True),
])
def test_connection_failures_say_what_happened_and_whether_a_retry_helps(server, exc, doing, message, retryable):
    error = network_error(ToolContext("m"), server, exc, doing)
    assert error.message == message
    assert error.retryable is retryable


def test_a_failure_after_the_step_was_stopped_says_so():
    ctx = ToolContext("m")
    ctx.cancel()
    error = network_error(ctx, _server(), ConnectionResetError(104, "reset"), "sending")
    assert error.message == ("SMTP server mail.test:25: stopped while sending (the step timed out or the run was "
                             "terminated)")


def test_errors_that_are_not_about_the_connection_are_left_to_the_caller():
    assert network_error(ToolContext("m"), _server(), ValueError("x"), "sending") is None
    assert network_error(ToolContext("m"), _server(), smtplib.SMTPException("x"), "sending") is None
