"""What `email.send` and `notify.email` tell a workflow author when the SMTP server refuses, without
a server: the message built from each refusal and whether a `retry` block retries it
(docs/manual/tools/notify_en.md "Errors and retries": 4xx replies yes; login refused, every
recipient or the sender refused with 5xx no), credentials never shown.
"""

from __future__ import annotations

import smtplib

import pytest

from yaml2dag.tools.base import ToolContext
from yaml2dag.tools.mail.settings import ServerSettings
from yaml2dag.tools.mail.smtp import _smtp_error

SERVER = ServerSettings(service="SMTP", host="smtp.test", port=587, ssl=False, starttls=True,
                        username="alerts@example.test", password="pw-s3cr3t", timeout=30, ca_file=None,
                        tls_verify=True)


def _ctx() -> ToolContext:
    return ToolContext("m", secrets=[SERVER.password])


@pytest.mark.parametrize("exc, doing, message, retryable", [
    (smtplib.SMTPAuthenticationError(535, b"5.7.8 Authentication credentials invalid"), "logging in",
     "SMTP server smtp.test:587 refused login for user 'alerts@example.test': 535 5.7.8 Authentication "
     "credentials invalid", False),
    (smtplib.SMTPAuthenticationError(454, b"4.7.0 Temporary authentication failure"), "logging in",
     "SMTP server smtp.test:587 refused login for user 'alerts@example.test': 454 4.7.0 Temporary "
     "authentication failure", True),
    (smtplib.SMTPRecipientsRefused({"a@x.test": (550, b"5.1.1 No such user"), "b@x.test": (450, b"mailbox busy")}),
     "sending",
     "SMTP server smtp.test:587 refused every recipient: a@x.test: 550 5.1.1 No such user; b@x.test: 450 mailbox busy",
     False),
    (smtplib.SMTPRecipientsRefused({"a@x.test": (451, b"4.7.1 Greylisted, try again")}), "sending",
     "SMTP server smtp.test:587 refused every recipient: a@x.test: 451 4.7.1 Greylisted, try again", True),
    (smtplib.SMTPSenderRefused(553, b"5.7.1 Sender not owned by user", b"boss@example.test"), "sending",
     "SMTP server smtp.test:587 refused the sender 'boss@example.test': 553 5.7.1 Sender not owned by user", False),
    (smtplib.SMTPDataError(452, b"4.3.1 Insufficient system storage"), "sending",
     "SMTP server smtp.test:587 answered 452 4.3.1 Insufficient system storage while sending", True),
    (smtplib.SMTPDataError(554, b"5.7.1 Message rejected as spam"), "sending",
     "SMTP server smtp.test:587 answered 554 5.7.1 Message rejected as spam while sending", False),
    (smtplib.SMTPNotSupportedError("SMTPUTF8 not supported by server"), "sending",
     "SMTP server smtp.test:587: SMTPUTF8 not supported by server", False),
    (smtplib.SMTPException("no supported login mechanism: the server offers GSSAPI, yaml2dag supports PLAIN, "
                           "LOGIN, CRAM-MD5"), "logging in",
     "SMTP server smtp.test:587: no supported login mechanism: the server offers GSSAPI, yaml2dag supports PLAIN, "
     "LOGIN, CRAM-MD5 (while logging in)", False),
])
def test_refusals_say_what_was_refused_and_whether_a_retry_helps(exc, doing, message, retryable):
    error = _smtp_error(_ctx(), SERVER, exc, doing)
    assert error.message == message
    assert error.retryable is retryable


def test_every_refused_recipient_is_kept_as_a_field():
    exc = smtplib.SMTPRecipientsRefused({"a@x.test": (550, b"5.1.1 No such user")})
    assert _smtp_error(_ctx(), SERVER, exc, "sending").fields == {"refused": {"a@x.test": "550 5.1.1 No such user"}}


def test_a_password_echoed_in_a_reply_is_masked():
    exc = smtplib.SMTPAuthenticationError(535, b"bad password pw-s3cr3t")
    assert _smtp_error(_ctx(), SERVER, exc, "logging in").message.endswith("535 bad password ***")


def test_a_timeout_is_retried_and_anything_else_passed_on():
    timed_out = _smtp_error(_ctx(), SERVER, smtplib.SMTPServerDisconnected("timed out"), "sending")
    assert timed_out.message == "the SMTP server smtp.test:587 did not answer within 30s while sending"
    assert timed_out.retryable is True
    other = KeyError("x")
    assert _smtp_error(_ctx(), SERVER, other, "sending") is other
