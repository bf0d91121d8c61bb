"""Sending mail over SMTP: :func:`send_mail`, the one place ``email.send`` and ``notify.email`` send.

Connects (implicit TLS or STARTTLS as :mod:`~yaml2dag.tools.mail.settings` resolved), logs in
with ONE SASL mechanism (:data:`_MECHANISMS`), sends, and maps every refusal to a
:class:`~yaml2dag.tools.base.ToolError` (retryable for 4xx replies and connection failures).
"""

from __future__ import annotations

import os
import smtplib
import socket
from typing import Any, Callable, Mapping

from yaml2dag.tools.base import ToolContext, ToolError
from yaml2dag.tools.mail.errors import _reply_text, _transient, network_error
from yaml2dag.tools.mail.message import address_list, bare_address, build_message
from yaml2dag.tools.mail.settings import ServerSettings, _given, effective_timeout, resolve_server, tls_context


def _default_sender(server: ServerSettings) -> str:
    env = os.environ.get("YAML2DAG_SMTP_FROM")
    if env:
        return env
    if server.username and "@" in server.username:
        return server.username
    return f"yaml2dag@{socket.gethostname() or 'localhost'}"


def _smtp_connect(ctx: ToolContext, server: ServerSettings) -> smtplib.SMTP:
    """Connect, greet, upgrade with STARTTLS and log in; returns the ready SMTP session."""
    timeout = effective_timeout(ctx, server.timeout)
    local_name = socket.gethostname() or "localhost"
    doing = "connecting"
    smtp: smtplib.SMTP | None = None
    try:
        if server.ssl:
            smtp = smtplib.SMTP_SSL(server.host, server.port, local_hostname=local_name, timeout=timeout,
                                    context=tls_context(server, ctx))
        else:
            smtp = smtplib.SMTP(server.host, server.port, local_hostname=local_name, timeout=timeout)
        ctx.on_cancel(smtp.close)
        doing = "greeting"
        smtp.ehlo()
        if server.starttls:
            doing = "starting TLS"
            if not smtp.has_extn("starttls"):
                raise ToolError(f"the {server.describe()} does not offer STARTTLS; set `starttls: false` "
                                "(or `ssl: true` if the port expects implicit TLS)", retryable=False)
            smtp.starttls(context=tls_context(server, ctx))
            smtp.ehlo()
        if server.username:
            doing = "logging in"
            if not smtp.has_extn("auth"):
                hint = "" if (server.ssl or server.starttls) else \
                    "; many servers offer AUTH only over TLS: set `starttls: true` (port 587) or `ssl: true` (465)"
                raise ToolError(f"the {server.describe()} does not offer AUTH, so user {server.username!r} "
                                f"cannot log in{hint}", retryable=False)
            _login(smtp, server.username, server.password)
        return smtp
    except BaseException as exc:
        if smtp is not None:
            _close(smtp)
        if isinstance(exc, ToolError):
            raise
        raise _smtp_error(ctx, server, exc, doing) from None


#: SASL mechanisms tried, in order of preference; only the first one the server offers is used.
_MECHANISMS = ("PLAIN", "LOGIN", "CRAM-MD5")


def _login(smtp: smtplib.SMTP, user: str, password: str) -> None:
    """Log in with ONE mechanism (smtplib's ``login`` retries every mechanism after a refusal,
    which counts as several failed logins against the account)."""
    offered = (smtp.esmtp_features.get("auth") or "").upper().split()
    smtp.user, smtp.password = user, password
    methods = {"PLAIN": smtp.auth_plain, "LOGIN": smtp.auth_login, "CRAM-MD5": smtp.auth_cram_md5}
    for mechanism in _MECHANISMS:
        if mechanism in offered:
            smtp.auth(mechanism, methods[mechanism])
            return
    raise smtplib.SMTPException(f"no supported login mechanism: the server offers {' '.join(offered) or 'none'}, "
                                f"yaml2dag supports {', '.join(_MECHANISMS)}")


def close_quietly(polite: Callable[[], Any], abrupt: Callable[[], Any]) -> None:
    """End a server connection, best effort: ``polite()`` (SMTP ``QUIT``, IMAP ``LOGOUT``), else
    ``abrupt()`` (just close the socket). Never raises."""
    try:
        polite()
    except Exception:  # noqa: BLE001 - best effort
        try:
            abrupt()
        except Exception:  # noqa: BLE001
            pass


def _close(smtp: smtplib.SMTP) -> None:
    close_quietly(smtp.quit, smtp.close)


def _smtp_error(ctx: ToolContext, server: ServerSettings, exc: BaseException, doing: str) -> BaseException:
    """The ToolError for an exception raised while talking to an SMTP server."""
    where = server.describe()
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return ToolError(ctx.mask(f"{where} refused login for user {server.username!r}: "
                                  f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"),
                         retryable=_transient(exc.smtp_code))
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return ToolError(f"{where}: {exc}", retryable=False)
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        refused = {addr: f"{code} {_reply_text(resp)}" for addr, (code, resp) in exc.recipients.items()}
        shown = "; ".join(f"{addr}: {why}" for addr, why in refused.items())
        transient = all(_transient(code) for code, _ in exc.recipients.values())
        return ToolError(ctx.mask(f"{where} refused every recipient: {shown}"), {"refused": refused},
                         retryable=transient)
    if isinstance(exc, smtplib.SMTPSenderRefused):
        return ToolError(ctx.mask(f"{where} refused the sender {_reply_text(exc.sender)!r}: "
                                  f"{exc.smtp_code} {_reply_text(exc.smtp_error)}"),
                         retryable=_transient(exc.smtp_code))
    if isinstance(exc, smtplib.SMTPResponseException):
        return ToolError(ctx.mask(f"{where} answered {exc.smtp_code} {_reply_text(exc.smtp_error)} while {doing}"),
                         retryable=_transient(exc.smtp_code))
    net = network_error(ctx, server, exc, doing)
    if net is not None:
        return net
    if isinstance(exc, smtplib.SMTPException):
        return ToolError(ctx.mask(f"{where}: {exc} (while {doing})"), retryable=False)
    return exc


def send_mail(ctx: ToolContext, params: Mapping[str, Any]) -> dict[str, Any]:
    """Send one message over SMTP (the code behind ``email.send`` and ``notify.email``).

    Args:
        ctx: the step's tool context (log, secrets, time left).
        params: rendered :data:`SEND_PARAMETERS` (``to``, ``subject``, ``body``, ``html``,
            ``from``, connection parameters, ...).

    Returns:
        The delivery receipt: ``{"channel": "email", "from": str, "to": [str], "cc": [str],
        "subject": str, "message_id": "<...>", "recipients": [accepted envelope addresses],
        "refused": {address: "code reply"}, "server": "host:port"}``.

    Raises:
        ToolError: bad parameters and refusals a retry cannot fix (login refused, every
            recipient rejected with 5xx, TLS certificate not trusted) are not retryable;
            connection refused, timeouts and 4xx replies are.
    """
    server = resolve_server(ctx, params, "smtp")
    to = address_list(params.get("to"), "to")
    cc = address_list(params.get("cc"), "cc")
    bcc = address_list(params.get("bcc"), "bcc")
    envelope = list(dict.fromkeys(bare_address(a) for a in to + cc + bcc))
    if not envelope:
        raise ToolError("no recipients: `to`, `cc` and `bcc` are all empty", retryable=False)
    sender = str(_given(params, "from") or _default_sender(server))
    if not address_list(sender, "from"):
        raise ToolError(f"`from`: {sender!r} is not an email address", retryable=False)
    subject = "" if params.get("subject") is None else str(params["subject"])
    body = "" if params.get("body") is None else str(params["body"])
    html = None if _given(params, "html") is None else str(params["html"])
    try:
        msg = build_message(sender=sender, to=to, cc=cc, subject=subject, body=body, html=html,
                            reply_to=_given(params, "reply_to"))
    except (ValueError, TypeError) as exc:
        raise ToolError(f"cannot build the message: {exc}", retryable=False) from None
    message_id = str(msg["Message-ID"])

    smtp = _smtp_connect(ctx, server)
    try:
        refused_raw = smtp.send_message(msg, from_addr=bare_address(sender), to_addrs=envelope)
    except BaseException as exc:  # noqa: BLE001 - mapped to a ToolError
        _close(smtp)
        raise _smtp_error(ctx, server, exc, "sending") from None
    _close(smtp)
    refused = {addr: f"{code} {_reply_text(resp)}" for addr, (code, resp) in (refused_raw or {}).items()}
    accepted = [a for a in envelope if a not in refused]
    for addr, why in refused.items():
        ctx.log.warning(f"{server.describe()} refused recipient {addr}: {why}")
    ctx.log.info(f"sent email {subject!r} from {bare_address(sender)} to {', '.join(accepted)} "
                 f"via {server.describe()} (Message-ID {message_id})")
    return ctx.mask({
        "channel": "email",
        "from": sender,
        "to": to,
        "cc": cc,
        "subject": subject,
        "message_id": message_id,
        "recipients": accepted,
        "refused": refused,
        "server": server.address,
    })
