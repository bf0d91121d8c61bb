"""Connection-level mail failures as :class:`~yaml2dag.tools.base.ToolError` (SMTP and IMAP).

:func:`network_error` decides what a retry may fix (refused connections, timeouts, resets, DNS)
and what it cannot (TLS certificates and handshakes); reply codes 4xx count as transient
(RFC 5321 §4.2.1).
"""

from __future__ import annotations

import smtplib
import socket
import ssl
from typing import Any

from yaml2dag.tools.base import ToolContext, ToolError
from yaml2dag.tools.mail.settings import ServerSettings


def _reply_text(resp: Any) -> str:
    if isinstance(resp, bytes):
        resp = resp.decode("utf-8", errors="replace")
    return " ".join(str(resp).split())


def _transient(code: int | None) -> bool:
    return code is not None and 400 <= code < 500


def network_error(ctx: ToolContext, server: ServerSettings, exc: BaseException, doing: str) -> ToolError | None:
    """A :class:`ToolError` for a connection-level failure, or None if ``exc`` is not one.

    Connection refused, timeouts, resets and DNS failures are retryable; TLS certificate and
    handshake failures are not (the configuration must change).

    Args:
        doing: what was being done, e.g. ``"connecting"``, for the message.
    """
    where = server.describe()
    if ctx.cancelled:
        return ToolError(f"{where}: stopped while {doing} (the step timed out or the run was terminated)")
    if isinstance(exc, ssl.SSLCertVerificationError):
        reason = exc.verify_message or exc.reason or str(exc)
        return ToolError(
            f"TLS certificate of the {where} could not be verified: {reason}; set `ca_file` to the PEM "
            "file of the CA that signed it (or `tls_verify: false` for a server you trust)", retryable=False)
    if isinstance(exc, ssl.SSLError):
        hint = ""
        if "WRONG_VERSION_NUMBER" in str(exc) or "wrong version number" in str(exc):
            hint = ("; the port may not speak TLS from the first byte: use `ssl: false` (with `starttls: true` "
                    "if the server offers it)" if server.ssl else "")
        return ToolError(f"TLS handshake with the {where} failed: {exc.reason or exc}{hint}", retryable=False)
    if isinstance(exc, ConnectionRefusedError):
        return ToolError(f"cannot connect to the {where}: connection refused (is the server running and "
                         "is the port right?)")
    if isinstance(exc, socket.gaierror):
        return ToolError(f"cannot resolve the host name of the {where}: {exc.strerror or exc}")
    timed_out = isinstance(exc, smtplib.SMTPServerDisconnected) and "timed out" in str(exc)
    if isinstance(exc, (TimeoutError, socket.timeout)) or timed_out:
        hint = ""
        if doing == "connecting" and not server.ssl and server.port in (465, 993):
            hint = f"; port {server.port} usually expects implicit TLS: set `ssl: true`"
        return ToolError(f"the {where} did not answer within {server.timeout:g}s while {doing}{hint}")
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        hint = ""
        if doing == "connecting" and not server.ssl and server.port == 465:
            hint = "; port 465 usually expects implicit TLS: set `ssl: true`"
        return ToolError(f"the {where} closed the connection while {doing}: {exc}{hint}")
    if isinstance(exc, ConnectionError):
        return ToolError(f"connection to the {where} failed while {doing}: {exc.strerror or exc}")
    if isinstance(exc, OSError) and not isinstance(exc, smtplib.SMTPException):
        return ToolError(f"network error with the {where} while {doing}: {exc.strerror or exc}")
    return None
