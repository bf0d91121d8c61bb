"""The `notify` tool end to end: real Dagster runs against real servers on 127.0.0.1.

* `log` writes to the run's event log at the requested level.
* `webhook` POSTs to a stdlib HTTP server that records each JSON body.
* `email` sends to an aiosmtpd server: plain; STARTTLS + AUTH with a self-signed certificate
  (made with the `openssl` CLI) trusted through `ca_file`; implicit TLS (`ssl: true`).
"""

from __future__ import annotations

import json
import logging
import ssl
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pytest

from local_servers import (LocalHTTPServer, QuietHandler, everything_stored, free_port, make_cert, serving,
                           silent_port, start_smtp)
from yaml2dag.format.validation import validate_text

pytestmark = pytest.mark.slow

PASSWORD = "pw-Zq81-never-logged"


# --------------------------------------------------------------------------- helpers


@pytest.fixture
def tls_cert(tmp_path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1/localhost: (cert.pem, key.pem)."""
    made = make_cert(tmp_path)
    if made is None:
        pytest.skip("the `openssl` command is not installed: cannot make a test certificate")
    return made


class SmtpRecorder:
    """aiosmtpd handler and authenticator that keep what they saw."""

    def __init__(self, user: str = "alerts", password: str = PASSWORD):
        self.user, self.password = user, password
        self.messages: list[dict] = []
        self.logins: list[tuple[str, str, bool]] = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append({
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "message": message_from_bytes(envelope.original_content, policy=email_policy.default),
            "tls": server.transport.get_extra_info("ssl_object") is not None,
            "user": getattr(session.auth_data, "login", None) if session.authenticated else None,
        })
        return "250 OK queued"

    def authenticator(self, server, session, envelope, mechanism, auth_data):
        from aiosmtpd.smtp import AuthResult

        login = auth_data.login.decode()
        ok = login == self.user and auth_data.password.decode() == self.password
        self.logins.append((mechanism, login, ok))
        return AuthResult(success=ok, handled=False, auth_data=auth_data)


@pytest.fixture
def smtp(request):
    """A plain aiosmtpd server: (recorder, port)."""
    recorder = SmtpRecorder()
    return recorder, start_smtp(request, recorder)


@pytest.fixture
def smtp_tls(request, tls_cert):
    """aiosmtpd requiring STARTTLS and AUTH (user `alerts`): (recorder, port, cert path)."""
    cert, key = tls_cert
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    recorder = SmtpRecorder()
    port = start_smtp(request, recorder, tls_context=server_ctx, require_starttls=True,
                      authenticator=recorder.authenticator, auth_required=True, auth_require_tls=True)
    return recorder, port, cert


class Hook:
    """What the webhook receiver answers (`status`, `body`, `content_type`) and the POSTs it got."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.status = 200
        self.body = b"ok"
        self.content_type = "text/plain"
        self.url = ""


class HookHandler(QuietHandler):
    server: LocalHTTPServer

    def do_POST(self):  # noqa: N802 - http.server API
        hook = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length)
        hook.requests.append({"path": self.path, "headers": dict(self.headers),
                              "json": json.loads(raw.decode("utf-8"))})
        self._send(hook.status, hook.body, hook.content_type)


@pytest.fixture
def hook():
    """A stdlib HTTP server on 127.0.0.1 recording POSTs: the :class:`Hook` (``.url`` is set)."""
    with serving(LocalHTTPServer(HookHandler, Hook())) as server:
        server.state.url = server.url
        yield server.state


# --------------------------------------------------------------------------- log


def test_log_is_the_default_action_and_writes_the_event_log_at_its_level(run_yaml):
    ran = run_yaml("""
        name: Notify Log
        parameters:
          who: {type: string, default: ops}
        steps:
          - id: tell
            tool: notify
            parameters: {message: "disk almost full, paging {{ who }}", level: warning}
          - id: plain
            tool: notify
            action: log
            parameters: {message: "all good"}
        outputs:
          receipt: "{{ tell.output }}"
          channel: "{{ tell.channel }}"
          level: "{{ plain.level }}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.outputs["receipt"] == {"channel": "log", "level": "warning",
                                             "message": "disk almost full, paging ops"}
    assert ran.result.outputs["channel"] == "log"
    assert ran.result.outputs["level"] == "info"
    warned = [r for r in ran.records if r.dagster_event is None and r.step_key == "tell"
              and r.user_message == "disk almost full, paging ops"]
    assert [r.level for r in warned] == [logging.WARNING]
    infos = [r for r in ran.records if r.dagster_event is None and r.step_key == "plain"
             and r.user_message == "all good"]
    assert [r.level for r in infos] == [logging.INFO]


def test_a_required_parameter_rendered_to_null_names_the_template(run_yaml):
    ran = run_yaml("""
        name: Null message
        parameters:
          note: {type: string, default: ""}
        steps:
          - id: tell
            tool: notify
            on_error: continue
            retry: {max_attempts: 3, delay: 1}
            parameters: {message: "{{ note or none }}"}
          - id: after
            tool: notify
            parameters: {message: "{{ tell.error }}"}
        outputs:
          error: "{{ tell.error }}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.outputs["error"] == (
        "notify.log: parameters.message rendered to null (from the template '{{ note or none }}'); it is "
        "required: make the template give a value, e.g. `{{ ... or 'default' }}`")
    assert [r for r in ran.events("STEP_UP_FOR_RETRY") if r.dagster_event.step_key == "tell"] == []


def test_check_parameters_names_a_missing_key_plainly():
    from yaml2dag.tools.base import ToolError, check_parameters
    from yaml2dag.tools.registry import get_tool

    action = get_tool("notify").action("log")
    with pytest.raises(ToolError) as info:
        check_parameters(action.parameters, {"level": "info"}, "notify.log", {"level": "info"})
    assert str(info.value) == "notify.log: parameters: missing required key `message`"


# --------------------------------------------------------------------------- webhook


def test_webhook_posts_slack_compatible_json_with_payload_and_headers(run_yaml, hook, monkeypatch):
    monkeypatch.setenv("HOOK_TOKEN", "tok-123")
    ran = run_yaml(f"""
        name: Notify Hook
        parameters:
          host: {{type: string, default: web-1}}
        steps:
          - id: alert
            tool: notify
            action: webhook
            parameters:
              url: "{hook.url}/services/T000/B000"
              text: "CPU high on {{{{ host }}}}"
              payload: {{username: yaml2dag, icon_emoji: ":warning:", text: "overridden"}}
              headers: {{Authorization: "Bearer {{{{ env.HOOK_TOKEN }}}}"}}
        outputs:
          status: "{{{{ alert.status_code }}}}"
          receipt: "{{{{ alert.output }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert len(hook.requests) == 1
    req = hook.requests[0]
    assert req["path"] == "/services/T000/B000"
    assert req["json"] == {"text": "CPU high on web-1", "username": "yaml2dag", "icon_emoji": ":warning:"}
    assert req["headers"]["Authorization"] == "Bearer tok-123"
    assert req["headers"]["Content-Type"].startswith("application/json")
    assert ran.result.outputs["status"] == 200
    assert ran.result.outputs["receipt"] == {"channel": "webhook", "url": f"{hook.url}/services/T000/B000",
                                             "status_code": 200, "response": "ok"}
    assert "tok-123" not in everything_stored(ran)


def test_webhook_masks_credentials_a_server_echoes_back(run_yaml, hook):
    hook.content_type = "application/json"
    hook.body = b'{"ok": true, "seen_token": "s3cr3t-token", "user": "bot:pa55word-x"}'
    ran = run_yaml(f"""
        name: Hook Echo
        steps:
          - id: alert
            tool: notify
            action: webhook
            parameters:
              url: "http://bot:pa55word-x@{hook.url[len('http://'):]}/echo"
              text: hi
              headers: {{X-Hook-Token: s3cr3t-token}}
        outputs:
          receipt: "{{{{ alert.output }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert hook.requests[0]["headers"]["X-Hook-Token"] == "s3cr3t-token"
    assert hook.requests[0]["headers"]["Authorization"].startswith("Basic ")  # from the URL's user:password
    assert ran.result.outputs["receipt"]["response"] == {"ok": True, "seen_token": "***", "user": "bot:***"}
    assert ran.result.outputs["receipt"]["url"] == f"http://bot:***@{hook.url[len('http://'):]}/echo"
    stored = everything_stored(ran)
    assert "s3cr3t-token" not in stored and "pa55word-x" not in stored


def test_webhook_500_fails_naming_url_and_status_and_is_retried(run_yaml, hook):
    hook.status, hook.body = 500, b"internal trouble"
    ran = run_yaml(f"""
        name: Hook Fails
        steps:
          - id: alert
            tool: notify
            action: webhook
            parameters: {{url: "{hook.url}/hook", text: "hello"}}
            retry: {{max_attempts: 2, delay: 0.1}}
    """)
    assert ran.result.status == "FAILURE"
    assert f"{hook.url}/hook" in ran.result.error
    assert "500" in ran.result.error and "expected 2xx" in ran.result.error
    assert "internal trouble" in ran.result.error
    assert len(hook.requests) == 2, "a 5xx answer is retryable: the step's retry must run it again"


def test_webhook_4xx_is_not_retried_and_expect_status_accepts_other_codes(run_yaml, hook):
    hook.status, hook.body = 404, b"no such hook"
    ran = run_yaml(f"""
        name: Hook 404
        steps:
          - id: alert
            tool: notify
            action: webhook
            parameters: {{url: "{hook.url}/gone", text: "hello"}}
            retry: {{max_attempts: 3, delay: 0.1}}
    """)
    assert ran.result.status == "FAILURE"
    assert "answered 404" in ran.result.error and f"{hook.url}/gone" in ran.result.error
    assert len(hook.requests) == 1, "a 404 cannot be fixed by retrying"

    hook.requests.clear()
    ran = run_yaml(f"""
        name: Hook Expect 404
        steps:
          - id: alert
            tool: notify
            action: webhook
            parameters: {{url: "{hook.url}/gone", text: "hello", expect_status: [200, "404"]}}
        outputs:
          status: "{{{{ alert.status_code }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.outputs["status"] == 404


def test_webhook_connection_refused_is_a_clear_retryable_error(run_yaml):
    port = free_port()  # nothing listens there
    ran = run_yaml(f"""
        name: Hook Refused
        steps:
          - id: alert
            tool: notify
            action: webhook
            parameters: {{url: "http://127.0.0.1:{port}/x", text: "hello", timeout: 5}}
    """)
    assert ran.result.status == "FAILURE"
    assert f"webhook POST to http://127.0.0.1:{port}/x failed: connection refused" in ran.result.error


# --------------------------------------------------------------------------- email


def test_email_sends_plain_and_html_to_smtp_server(run_yaml, smtp):
    recorder, port = smtp
    ran = run_yaml(f"""
        name: Notify Mail
        parameters:
          host: {{type: string, default: web-1}}
        steps:
          - id: mail
            tool: notify
            action: email
            parameters:
              host: 127.0.0.1
              port: {port}
              from: "yaml2dag <robot@example.test>"
              to: "Ops <ops@example.test>, dev@example.test"
              bcc: [audit@example.test]
              subject: "Alert: {{{{ host }}}} — disk 95%"
              body: "Disk on {{{{ host }}}} is at 95%."
              html: "<p>Disk on <b>{{{{ host }}}}</b> is at 95%.</p>"
        outputs:
          receipt: "{{{{ mail.output }}}}"
          message_id: "{{{{ mail.message_id }}}}"
          recipients: "{{{{ mail.recipients }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert len(recorder.messages) == 1
    got = recorder.messages[0]
    assert got["mail_from"] == "robot@example.test"
    assert got["rcpt_tos"] == ["ops@example.test", "dev@example.test", "audit@example.test"]
    msg = got["message"]
    assert msg["Subject"] == "Alert: web-1 — disk 95%"
    assert msg["To"] == "Ops <ops@example.test>, dev@example.test"
    assert msg["Bcc"] is None, "bcc recipients must not appear in the headers"
    assert msg.get_body(("plain",)).get_content().strip() == "Disk on web-1 is at 95%."
    assert "<b>web-1</b>" in msg.get_body(("html",)).get_content()
    receipt = ran.result.outputs["receipt"]
    assert receipt["channel"] == "email"
    assert receipt["to"] == ["Ops <ops@example.test>", "dev@example.test"]
    assert receipt["message_id"] == msg["Message-ID"] == ran.result.outputs["message_id"]
    assert ran.result.outputs["recipients"] == ["ops@example.test", "dev@example.test", "audit@example.test"]
    assert receipt["server"] == f"127.0.0.1:{port}"


def test_email_starttls_and_login_from_env_defaults_never_leak_the_password(run_yaml, smtp_tls, monkeypatch):
    recorder, port, cert = smtp_tls
    monkeypatch.setenv("YAML2DAG_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("YAML2DAG_SMTP_PORT", str(port))
    monkeypatch.setenv("YAML2DAG_SMTP_USER", "alerts")
    monkeypatch.setenv("YAML2DAG_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("YAML2DAG_SMTP_FROM", "alerts@example.test")
    ran = run_yaml(f"""
        name: Notify Mail TLS
        steps:
          - id: mail
            tool: notify
            action: email
            parameters:
              to: ops@example.test
              subject: "nightly report"
              body: "all {{{{ 'green' }}}}"
              starttls: true
              ca_file: "{cert}"
        outputs:
          receipt: "{{{{ mail.output }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert recorder.logins == [("PLAIN", "alerts", True)]
    assert len(recorder.messages) == 1
    got = recorder.messages[0]
    assert got["tls"] is True and got["user"] == b"alerts"
    assert got["message"]["From"] == "alerts@example.test"
    assert ran.result.outputs["receipt"]["recipients"] == ["ops@example.test"]
    assert PASSWORD not in everything_stored(ran)


def test_email_password_from_a_template_is_masked_and_wrong_password_is_not_retried(run_yaml, smtp_tls,
                                                                                     monkeypatch):
    recorder, port, cert = smtp_tls
    monkeypatch.setenv("SMTP_PASSWORD", "wrong-" + PASSWORD)
    ran = run_yaml(f"""
        name: Notify Mail Bad Login
        steps:
          - id: mail
            tool: notify
            action: email
            parameters:
              host: 127.0.0.1
              port: {port}
              starttls: true
              ca_file: "{cert}"
              username: alerts
              password: "{{{{ env.SMTP_PASSWORD }}}}"
              to: ops@example.test
              subject: "x"
            retry: {{max_attempts: 3, delay: 0.1}}
    """)
    assert ran.result.status == "FAILURE"
    assert f"SMTP server 127.0.0.1:{port} refused login for user 'alerts': 535" in ran.result.error
    assert len(recorder.logins) == 1, "a refused login must not be retried"
    assert recorder.logins[0][2] is False
    assert recorder.messages == []
    assert "wrong-" + PASSWORD not in everything_stored(ran)


def test_email_login_with_a_secrets_template(run_yaml, smtp_tls, monkeypatch):
    recorder, port, cert = smtp_tls
    monkeypatch.setenv("SMTP_PASSWORD", PASSWORD)
    ran = run_yaml(f"""
        name: Notify Mail Secret
        steps:
          - id: mail
            tool: notify
            action: email
            parameters:
              host: 127.0.0.1
              port: {port}
              starttls: true
              ca_file: "{cert}"
              username: alerts
              password: "{{{{ secrets.SMTP_PASSWORD }}}}"
              from: alerts@example.test
              to: ops@example.test
              subject: "sent with a secret"
        outputs:
          recipients: "{{{{ mail.recipients }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert recorder.logins == [("PLAIN", "alerts", True)]
    assert ran.result.outputs["recipients"] == ["ops@example.test"]
    assert PASSWORD not in everything_stored(ran)


def test_email_server_that_never_answers_times_out(run_yaml):
    with silent_port() as port:  # the kernel accepts connections; nobody ever says hello
        ran = run_yaml(f"""
            name: Notify Mail Silent
            steps:
              - id: mail
                tool: notify
                action: email
                parameters: {{host: 127.0.0.1, port: {port}, to: a@example.test, subject: x, timeout: 1}}
        """)
    assert ran.result.status == "FAILURE"
    assert f"the SMTP server 127.0.0.1:{port} did not answer within 1s while connecting" in ran.result.error


def test_email_untrusted_certificate_fails_with_a_hint(run_yaml, smtp_tls):
    recorder, port, _cert = smtp_tls
    ran = run_yaml(f"""
        name: Notify Mail Untrusted
        steps:
          - id: mail
            tool: notify
            action: email
            parameters: {{host: 127.0.0.1, port: {port}, starttls: true, to: ops@example.test, subject: x}}
            retry: {{max_attempts: 2, delay: 0.1}}
    """)
    assert ran.result.status == "FAILURE"
    assert f"TLS certificate of the SMTP server 127.0.0.1:{port} could not be verified" in ran.result.error
    assert "ca_file" in ran.result.error
    assert "(2 attempts)" not in ran.result.error, "a certificate problem is not retryable"
    assert recorder.messages == []


def test_email_implicit_tls_with_ssl_true(run_yaml, request, tls_cert):
    cert, key = tls_cert
    server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server_ctx.load_cert_chain(cert, key)
    recorder = SmtpRecorder()
    port = start_smtp(request, recorder, ssl_context=server_ctx)
    ran = run_yaml(f"""
        name: Notify Mail SMTPS
        steps:
          - id: mail
            tool: notify
            action: email
            parameters: {{host: localhost, port: {port}, ssl: true, ca_file: "{cert}",
                          from: a@example.test, to: [b@example.test], subject: smtps}}
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert [m["message"]["Subject"] for m in recorder.messages] == ["smtps"]
    assert recorder.messages[0]["tls"] is True


def test_email_connection_refused_is_retryable_and_names_the_server(run_yaml):
    port = free_port()
    ran = run_yaml(f"""
        name: Notify Mail Refused
        steps:
          - id: mail
            tool: notify
            action: email
            parameters: {{host: 127.0.0.1, port: {port}, to: a@example.test, subject: x}}
            retry: {{max_attempts: 2, delay: 0.1}}
    """)
    assert ran.result.status == "FAILURE"
    assert f"cannot connect to the SMTP server 127.0.0.1:{port}: connection refused" in ran.result.error
    assert "(2 attempts)" in ran.result.error


def test_email_without_host_is_a_configuration_error(run_yaml, monkeypatch):
    monkeypatch.delenv("YAML2DAG_SMTP_HOST", raising=False)
    ran = run_yaml("""
        name: Notify Mail No Host
        steps:
          - id: mail
            tool: notify
            action: email
            parameters: {to: a@example.test, subject: x}
            retry: {max_attempts: 3, delay: 0.1}
    """)
    assert ran.result.status == "FAILURE"
    assert "no SMTP server: set the `host` parameter or $YAML2DAG_SMTP_HOST" in ran.result.error
    assert "attempts" not in ran.result.error


# --------------------------------------------------------------------------- validation


def test_validator_warns_about_credentials_written_literally():
    report = validate_text(
        "name: Literal secrets\n"                                   # 1
        "steps:\n"                                                  # 2
        "  - id: mail\n"                                            # 3
        "    tool: notify\n"                                        # 4
        "    action: email\n"                                       # 5
        "    parameters:\n"                                         # 6
        "      to: ops@example.test\n"                              # 7
        "      subject: s\n"                                        # 8
        "      username: ops\n"                                     # 9
        "      password: hunter22\n"                                # 10
        "  - id: ask\n"                                             # 11
        "    tool: llm\n"                                           # 12
        "    parameters: {base_url: \"http://127.0.0.1:9/v1\", model: m, prompt: hi, api_key: sk-abc123}\n"
        "  - id: get\n"                                             # 14
        "    tool: http\n"                                          # 15
        "    parameters: {url: \"http://127.0.0.1:9/\", auth: {username: me, password: pw123}}\n"
        "  - id: fine\n"                                            # 17
        "    tool: notify\n"                                        # 18
        "    action: email\n"                                       # 19
        "    parameters:\n"                                         # 20
        "      to: ops@example.test\n"                              # 21
        "      subject: s\n"                                        # 22
        "      password: \"{{ secrets.SMTP_PASSWORD }}\"\n"         # 23
        "    fallback:\n"                                           # 24
        "      tool: email\n"                                       # 25
        "      action: fetch\n"                                     # 26
        "      parameters: {password: \"{{ env.IMAP_PASSWORD }}\"}\n"
        "    on_error: fallback\n"                                  # 28
        "  - id: imap\n"                                            # 29
        "    tool: email\n"                                         # 30
        "    action: fetch\n"                                       # 31
        "    parameters: {password: \"\"}\n",                         # 32 (empty: no warning)
        "creds.yaml")
    assert report.valid, [p.format() for p in report.errors]  # a warning, not an error
    warned = {(p.line, p.path, p.rule): p.message for p in report.warnings}
    assert set(warned) == {(10, "steps[0].parameters.password", "credential"),
                           (13, "steps[1].parameters.api_key", "credential"),
                           (16, "steps[2].parameters.auth.password", "credential")}
    assert warned[(10, "steps[0].parameters.password", "credential")] == (
        "`password` is written literally in the workflow file, where anyone who can read the file sees it: "
        "use a template such as \"{{ secrets.PASSWORD }}\" or \"{{ env.PASSWORD }}\"")


def test_validator_reports_bad_notify_parameters_with_line_numbers():
    report = validate_text(
        "name: Bad Notify\n"                                    # 1
        "steps:\n"                                              # 2
        "  - id: a\n"                                           # 3
        "    tool: notify\n"                                    # 4
        "    parameters:\n"                                     # 5
        "      message: hi\n"                                   # 6
        "      level: loud\n"                                   # 7
        "  - id: b\n"                                           # 8
        "    tool: notify\n"                                    # 9
        "    action: webhook\n"                                 # 10
        "    parameters:\n"                                     # 11
        "      url: ftp://example.test/x\n"                     # 12
        "      text: hi\n"                                      # 13
        "      expect_status: teapot\n"                         # 14
        "  - id: c\n"                                           # 15
        "    tool: notify\n"                                    # 16
        "    action: email\n"                                   # 17
        "    parameters:\n"                                     # 18
        "      to: ops@example.test\n"                          # 19
        "      subjet: typo\n"                                  # 20
        "      port: smtp\n"                                    # 21
        "  - id: d\n"                                           # 22
        "    tool: notify\n"                                    # 23
        "    action: webhook\n"                                 # 24
        "    parameters: {url: \"{{ env.HOOK }}\"}\n"           # 25
        "  - id: e\n"                                           # 26
        "    tool: notify\n"                                    # 27
        "    action: email\n"                                   # 28
        "    parameters: {to: a@example.test, subject: s, port: \"{{ env.PORT }}\", starttls: \"{{ env.TLS }}\"}\n"
    )
    assert not report.valid
    found = {(p.line, p.path): p for p in report.problems if p.is_error}
    assert found[(7, "steps[0].parameters.level")].message == \
        "the string 'loud' is not one of `info`, `warning`, `error`"
    assert "http:// or https:// URL" in found[(12, "steps[1].parameters.url")].message
    assert "range" in found[(14, "steps[1].parameters.expect_status")].message
    assert "did you mean `subject`" in found[(20, "steps[2].parameters.subjet")].message
    assert "missing required key `subject`" in found[(19, "steps[2].parameters")].message
    assert "integer" in found[(21, "steps[2].parameters.port")].message
    assert "`text` or `payload` (or both)" in found[(25, "steps[3].parameters")].message
    assert not [p for p in report.problems if p.path.startswith("steps[4]")], \
        "template values skip type checks"
    assert found[(7, "steps[0].parameters.level")].column == 14
