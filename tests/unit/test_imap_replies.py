"""What `email.fetch` tells a workflow author when the IMAP server refuses or drops it, and how it
shows folder names, without a server: the messages built from the server's replies (login
refused with the "wants TLS first" hint, a busy account retried, a dropped connection retried,
another refusal not retried, the password never shown) and modified-UTF-7 folder names in both
directions (docs/manual/tools/email_en.md).
"""

from __future__ import annotations

import imaplib

import pytest

from yaml2dag.tools.base import ToolContext
from yaml2dag.tools.email.imap import _imap_error, decode_folder, encode_folder
from yaml2dag.tools.mail.settings import ServerSettings

SERVER = ServerSettings(service="IMAP", host="imap.test", port=143, ssl=False, starttls=False,
                        username="ann", password="pw-s3cr3t", timeout=30, ca_file=None, tls_verify=True)


def _ctx() -> ToolContext:
    return ToolContext("f", secrets=[SERVER.password])


@pytest.mark.parametrize("reply, message, retryable", [
    (b"[AUTHENTICATIONFAILED] Authentication failed.",
     "IMAP server imap.test:143 refused login for user 'ann': [AUTHENTICATIONFAILED] Authentication failed.", False),
    (b"[PRIVACYREQUIRED] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.",
     "IMAP server imap.test:143 refused login for user 'ann': [PRIVACYREQUIRED] Plaintext authentication "
     "disallowed on non-secure (SSL/TLS) connections.; the server wants TLS first: set `starttls: true` "
     "(port 143) or `ssl: true` (port 993)", False),
    (b"Plaintext authentication disabled",
     "IMAP server imap.test:143 refused login for user 'ann': Plaintext authentication disabled; the server "
     "wants TLS first: set `starttls: true` (port 143) or `ssl: true` (port 993)", False),
    (b"[UNAVAILABLE] Temporary authentication failure (0.002 + 0.000 secs).",  # Dovecot's timing: dropped
     "IMAP server imap.test:143 refused login for user 'ann': [UNAVAILABLE] Temporary authentication failure",
     True),
    (b"[INUSE] Mailbox in use by pw-s3cr3t",
     "IMAP server imap.test:143 refused login for user 'ann': [INUSE] Mailbox in use by ***", True),
])
def test_login_refusals(reply, message, retryable):
    error = _imap_error(_ctx(), SERVER, imaplib.IMAP4.error(reply), "logging in")
    assert error.message == message
    assert error.retryable is retryable


def test_a_refusal_after_login_is_not_retried():
    error = _imap_error(_ctx(), SERVER, imaplib.IMAP4.error(b"[NONEXISTENT] Mailbox doesn't exist: Archiv"),
                        "opening the folder")
    assert error.message == ("IMAP server imap.test:143 failed while opening the folder: [NONEXISTENT] "
                             "Mailbox doesn't exist: Archiv")
    assert error.retryable is False


def test_a_dropped_connection_is_retried():
    error = _imap_error(_ctx(), SERVER, imaplib.IMAP4.abort("socket error: EOF"), "reading message 7")
    assert error.message == "the IMAP server imap.test:143 dropped the connection while reading message 7: socket error: EOF"
    assert error.retryable is True


def test_a_network_failure_is_described_and_anything_else_passed_on():
    refused = _imap_error(_ctx(), SERVER, ConnectionRefusedError(111, "Connection refused"), "connecting")
    assert refused.message == ("cannot connect to the IMAP server imap.test:143: connection refused (is the server "
                               "running and is the port right?)")
    other = KeyError("x")
    assert _imap_error(_ctx(), SERVER, other, "connecting") is other


@pytest.mark.parametrize("encoded, readable", [
    ("INBOX", "INBOX"),
    ("Entw&APw-rfe", "Entwürfe"),
    ("Tom &- Jerry", "Tom & Jerry"),
    ("&ZeVnLIqe-", "日本語"),
])
def test_folder_names_in_modified_utf7(encoded, readable):
    assert decode_folder(encoded) == readable
    assert encode_folder(readable) == '"' + encoded + '"'


def test_a_malformed_folder_name_is_shown_as_the_server_sent_it():
    assert decode_folder("Bad&AP-name") == "Bad&AP-name"  # one byte: no UTF-16 character
