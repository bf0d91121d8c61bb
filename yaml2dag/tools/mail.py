"""Mail plumbing shared by the ``email`` and ``notify`` tools.

* :func:`resolve_server` turns step parameters plus ``YAML2DAG_SMTP_*`` / ``YAML2DAG_IMAP_*``
  environment defaults into a :class:`ServerSettings` (host, port, TLS mode, login, timeout).
* :func:`send_mail` is the one place that sends mail over SMTP: ``email.send`` and
  ``notify.email`` both call it, with the same parameters (:data:`SEND_PARAMETERS`).
* :func:`tls_context`, :func:`network_error` and :func:`html_to_text` are used by the IMAP code
  of ``email.fetch`` too.

Passwords are added to the step's secrets (:func:`protect`) before any connection is made, so
``ctx.log`` and ``ctx.mask`` replace them with ``***`` in everything logged, raised or returned;
no receipt, result field or metadata value ever contains one.
"""

from __future__ import annotations

import os
import smtplib
import socket
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from html.parser import HTMLParser
from typing import Any, Callable, Iterable, Mapping

from yaml2dag.format.durations import parse_duration
from yaml2dag.tools.base import ToolContext, ToolError

#: Seconds allowed for each network operation (connect, one command) when `timeout` is unset.
DEFAULT_TIMEOUT_SECONDS = 30.0
#: Smallest socket timeout used when the step's own deadline is nearly reached (seconds).
MIN_TIMEOUT_SECONDS = 0.5

DURATION_SCHEMA = {
    "anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
    "x-expected": "a duration such as 30, \"30s\" or \"2m\"",
}

ADDRESSES_SCHEMA = {
    "anyOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1},
    ],
    "x-expected": "an email address, a comma-separated string of addresses, or a list of addresses",
}


def connection_properties(service: str) -> dict[str, Any]:
    """JSON Schema ``properties`` of the connection parameters of ``service`` ("smtp"/"imap")."""
    env = f"YAML2DAG_{service.upper()}"
    name = service.upper()
    return {
        "host": {"type": "string", "minLength": 1,
                 "description": f"{name} server host name or address (default: ${env}_HOST)."},
        "port": {"type": "integer", "minimum": 1, "maximum": 65535,
                 "description": f"{name} server port (default: ${env}_PORT, else by TLS mode)."},
        "ssl": {"type": "boolean", "description": "Implicit TLS from the first byte (SMTPS 465, IMAPS 993)."},
        "starttls": {"type": "boolean", "description": "Upgrade a plain connection with STARTTLS."},
        "username": {"type": "string", "description": f"Login user (default: ${env}_USER)."},
        "password": {"type": "string", "x-credential": True,
                     "description": f"Login password (default: ${env}_PASSWORD); never logged."},
        "timeout": dict(DURATION_SCHEMA, description="Limit for connecting and for each server command."),
        "ca_file": {"type": "string", "minLength": 1,
                    "description": "PEM file of CA certificates trusted for the server's TLS certificate."},
        "tls_verify": {"type": "boolean",
                       "description": "Verify the server's TLS certificate and host name (default true)."},
    }


#: Parameters of ``email.send`` and ``notify.email`` (JSON Schema draft 2020-12).
SEND_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["to", "subject"],
    "properties": {
        "to": dict(ADDRESSES_SCHEMA, description="Recipients."),
        "cc": dict(ADDRESSES_SCHEMA, description="Copy recipients."),
        "bcc": dict(ADDRESSES_SCHEMA, description="Blind copy recipients (not shown in the headers)."),
        "subject": {"type": "string", "description": "Subject line."},
        "body": {"type": "string", "description": "Plain-text body."},
        "html": {"type": "string", "description": "HTML body (sent as an alternative to `body`)."},
        "from": {"type": "string", "minLength": 1,
                 "description": "Sender (default: $YAML2DAG_SMTP_FROM, else the username, else yaml2dag@<host>)."},
        "reply_to": {"type": "string", "minLength": 1, "description": "Reply-To address."},
        **connection_properties("smtp"),
    },
}

#: Result fields of :func:`send_mail`'s receipt that are exposed as step fields.
SEND_RESULT_FIELDS = ("message_id", "recipients")


# --------------------------------------------------------------------------- settings


@dataclass
class ServerSettings:
    """Where and how to connect to a mail server.

    Attributes:
        service: ``"SMTP"`` or ``"IMAP"`` (for messages).
        host: host name or address.
        port: TCP port.
        ssl: implicit TLS.
        starttls: STARTTLS upgrade after connecting.
        username: login user, or None for no login.
        password: login password ("" when none); already registered as a step secret.
        timeout: seconds for connecting and for each command.
        ca_file: PEM file of trusted CA certificates, or None for the system store.
        tls_verify: verify the server certificate and host name.
    """

    service: str
    host: str
    port: int
    ssl: bool
    starttls: bool
    username: str | None
    password: str
    timeout: float
    ca_file: str | None
    tls_verify: bool

    @property
    def address(self) -> str:
        """``host:port`` as shown in messages (IPv6 addresses in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def describe(self) -> str:
        """e.g. ``SMTP server 127.0.0.1:2525``."""
        return f"{self.service} server {self.address}"


_DEFAULT_PORTS = {
    # service: (implicit TLS, STARTTLS, plain)
    "smtp": (465, 587, 25),
    "imap": (993, 143, 143),
}

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def as_bool(value: Any, name: str) -> bool:
    """``value`` as a boolean: bools, or the strings true/false/yes/no/on/off/1/0.

    Raises:
        ToolError: (not retryable) anything else, naming ``name``.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ToolError(f"{name} must be true or false, got {value!r}", retryable=False)


def as_int(value: Any, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
    """``value`` as an integer (integers or digit strings), within the bounds.

    Raises:
        ToolError: (not retryable) not an integer or out of bounds, naming ``name``.
    """
    if isinstance(value, bool):
        raise ToolError(f"{name} must be an integer, got {value!r}", retryable=False)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise ToolError(f"{name} must be an integer, got {value!r}", retryable=False)
    if minimum is not None and value < minimum:
        raise ToolError(f"{name} must be at least {minimum}, got {value}", retryable=False)
    if maximum is not None and value > maximum:
        raise ToolError(f"{name} must be at most {maximum}, got {value}", retryable=False)
    return value


def _given(params: Mapping[str, Any], key: str) -> Any:
    value = params.get(key)
    if value is None or (isinstance(value, str) and value == ""):
        return None
    return value


def setting(params: Mapping[str, Any], key: str, env_var: str) -> tuple[Any, str]:
    """A parameter, else its environment default.

    Returns:
        ``(value, source)``: ``source`` names where the value came from (``parameter `port```
        or ``$YAML2DAG_SMTP_PORT``) for error messages; ``(None, "")`` when neither is set.
        Empty strings count as unset.
    """
    value = _given(params, key)
    if value is not None:
        return value, f"parameter `{key}`"
    env = os.environ.get(env_var)
    if env not in (None, ""):
        return env, f"${env_var}"
    return None, ""


def effective_timeout(ctx: ToolContext, seconds: float) -> float:
    """``seconds`` capped by what is left of the step's timeout (never below 0.5 s)."""
    left = ctx.time_left()
    if left is not None:
        seconds = min(seconds, left)
    return max(MIN_TIMEOUT_SECONDS, seconds)


def parse_timeout(value: Any, default: float = DEFAULT_TIMEOUT_SECONDS) -> float:
    """Seconds in a ``timeout`` parameter (a duration), ``default`` when None.

    Raises:
        ToolError: (not retryable) not a duration.
    """
    if value is None:
        return default
    try:
        seconds = parse_duration(value)
    except ValueError as exc:
        raise ToolError(f"timeout: {exc}", retryable=False) from None
    if seconds <= 0:
        raise ToolError("timeout must be more than 0 seconds", retryable=False)
    return seconds


def resolve_server(ctx: ToolContext, params: Mapping[str, Any], service: str) -> ServerSettings:
    """Connection settings of ``service`` ("smtp" or "imap") from ``params`` and the environment.

    Every parameter falls back to ``YAML2DAG_<SERVICE>_<NAME>`` (``HOST``, ``PORT``, ``SSL``,
    ``STARTTLS``, ``USER``, ``PASSWORD``, ``CA_FILE``). Defaults: SMTP uses implicit TLS on
    port 465 and STARTTLS on port 587; without a port it uses 587 + STARTTLS when a user is
    set, else 25 in plain text. IMAP uses implicit TLS on 993 unless ``ssl: false`` or
    ``starttls: true`` (then port 143). The password is registered as a step secret.

    Raises:
        ToolError: (not retryable) no host, both ``ssl`` and ``starttls``, a password without a
            user, or a malformed value.
    """
    prefix = f"YAML2DAG_{service.upper()}_"
    name = service.upper()
    implicit_port, starttls_port, plain_port = _DEFAULT_PORTS[service]

    password, _ = setting(params, "password", prefix + "PASSWORD")
    password = "" if password is None else str(password)
    ctx.add_secret(password)

    host, _ = setting(params, "host", prefix + "HOST")
    if host is None:
        raise ToolError(f"no {name} server: set the `host` parameter or ${prefix}HOST", retryable=False)
    host = str(host).strip()

    raw_port, port_source = setting(params, "port", prefix + "PORT")
    port = as_int(raw_port, port_source, 1, 65535) if raw_port is not None else None

    username, _ = setting(params, "username", prefix + "USER")
    username = None if username is None else str(username)
    if password and not username:
        raise ToolError(f"{name}: a password is set but no user name: set `username` or ${prefix}USER",
                        retryable=False)

    raw_ssl, ssl_source = setting(params, "ssl", prefix + "SSL")
    raw_starttls, starttls_source = setting(params, "starttls", prefix + "STARTTLS")
    starttls = as_bool(raw_starttls, starttls_source) if raw_starttls is not None else None
    if raw_ssl is not None:
        use_ssl = as_bool(raw_ssl, ssl_source)
    elif port is not None:
        use_ssl = port == implicit_port
    else:  # IMAP: implicit TLS (993) unless STARTTLS was asked for; SMTP: see below
        use_ssl = service == "imap" and not starttls
    if starttls is None:
        if use_ssl:
            starttls = False
        elif port is not None:
            starttls = service == "smtp" and port == starttls_port
        else:  # SMTP without a port: authenticated submission (587 + STARTTLS) when logging in
            starttls = service == "smtp" and bool(username)
    if use_ssl and starttls:
        raise ToolError(f"{name}: `ssl` (implicit TLS) and `starttls` cannot both be true; "
                        f"use `ssl: true` for port {implicit_port}, `starttls: true` for port {starttls_port}",
                        retryable=False)
    if port is None:
        port = implicit_port if use_ssl else starttls_port if starttls else plain_port

    raw_ca, _ = setting(params, "ca_file", prefix + "CA_FILE")
    ca_file = None if raw_ca is None else str(raw_ca)
    if ca_file and not os.path.isfile(ca_file):
        raise ToolError(f"{name}: ca_file {ca_file!r} does not exist", retryable=False)
    tls_verify = as_bool(params["tls_verify"], "tls_verify") if params.get("tls_verify") is not None else True

    return ServerSettings(
        service=name, host=host, port=port, ssl=use_ssl, starttls=bool(starttls),
        username=username, password=password, timeout=parse_timeout(params.get("timeout")),
        ca_file=ca_file, tls_verify=tls_verify,
    )


def tls_context(server: ServerSettings, ctx: ToolContext | None = None) -> ssl.SSLContext:
    """The client TLS context for ``server``: system CAs (or ``ca_file``), host name checked.

    With ``tls_verify: false`` certificates are not checked (a warning is logged).
    """
    context = ssl.create_default_context(cafile=server.ca_file) if server.ca_file else ssl.create_default_context()
    if not server.tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        if ctx is not None:
            ctx.log.warning(f"TLS certificate of the {server.describe()} is not verified (tls_verify: false)")
    return context


# --------------------------------------------------------------------------- errors


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
            hint = (f"; the port may not speak TLS from the first byte: use `ssl: false` (with `starttls: true` "
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


# --------------------------------------------------------------------------- addresses


def address_list(value: Any, name: str) -> list[str]:
    """Addresses of a ``to``/``cc``/``bcc`` parameter, each as ``"Name <addr>"`` or ``"addr"``.

    Args:
        value: None, a string (comma-separated addresses allowed) or a list of strings.

    Raises:
        ToolError: (not retryable) an entry is not an email address.
    """
    if value is None or value == "":
        return []
    items: Iterable[Any] = value if isinstance(value, (list, tuple)) else [value]
    out: list[str] = []
    for item in items:
        if not isinstance(item, str):
            raise ToolError(f"`{name}`: expected email addresses, got {item!r}", retryable=False)
        pairs = [(display, addr) for display, addr in getaddresses([item]) if addr]
        if not pairs:
            raise ToolError(f"`{name}`: {item!r} is not an email address", retryable=False)
        for display, addr in pairs:
            local, at, domain = addr.rpartition("@")
            if not at or not local or not domain or any(c.isspace() for c in addr):
                raise ToolError(f"`{name}`: {addr!r} is not an email address", retryable=False)
            out.append(_format_address(display, addr))
    return out


_SPECIALS = set('()<>@,;:\\".[]')


def _format_address(display: str, addr: str) -> str:
    if not display:
        return addr
    if any(c in _SPECIALS for c in display):
        display = '"' + display.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return f"{display} <{addr}>"


def bare_address(address: str) -> str:
    """``a@example.com`` from ``"Ann <a@example.com>"``."""
    pairs = getaddresses([address])
    return pairs[0][1] if pairs and pairs[0][1] else address


def _one_line(text: Any) -> str:
    return " ".join(str(text).splitlines()).strip()


def build_message(*, sender: str, to: list[str], cc: list[str], subject: str, body: str,
                  html: str | None, reply_to: str | None) -> EmailMessage:
    """An RFC 5322 message with a fresh ``Message-ID`` and ``Date``.

    With ``html``, the message is ``multipart/alternative`` with a plain-text part (``body``, or
    the HTML converted to text when ``body`` is empty) and the HTML part.
    """
    msg = EmailMessage()
    msg["From"] = sender
    if to:
        msg["To"] = ", ".join(to)
    if cc:
        msg["Cc"] = ", ".join(cc)
    if reply_to:
        msg["Reply-To"] = _one_line(reply_to)
    msg["Subject"] = _one_line(subject)
    msg["Date"] = formatdate(localtime=True)
    domain = bare_address(sender).rpartition("@")[2] or "yaml2dag.localhost"
    msg["Message-ID"] = make_msgid(domain=domain)
    text = body if body else (html_to_text(html) if html else "")
    msg.set_content(text if text.endswith("\n") else text + "\n")
    if html:
        msg.add_alternative(html, subtype="html")
    return msg


# --------------------------------------------------------------------------- sending


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


# --------------------------------------------------------------------------- html → text

_BLOCK_TAGS = {"p", "div", "br", "tr", "li", "ul", "ol", "table", "section", "article", "header", "footer",
               "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre", "hr", "dt", "dd"}
_SKIP_TAGS = {"script", "style", "head", "title", "template", "noscript"}


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list) -> None:
        if tag in _SKIP_TAGS:
            self.skip += 1
        elif tag in _BLOCK_TAGS:
            self.parts.append("\n")
            if tag == "li":
                self.parts.append("- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")

    def handle_startendtag(self, tag: str, attrs: list) -> None:
        if tag in _BLOCK_TAGS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIP_TAGS:
            self.skip = max(0, self.skip - 1)
        elif tag in _BLOCK_TAGS and tag != "li":
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """A crude plain-text rendering of ``html``: tags dropped, scripts and styles removed,
    block elements on their own lines, list items as ``- item``, entities decoded, runs of
    blank lines collapsed."""
    parser = _TextExtractor()
    try:
        parser.feed(html)
        parser.close()
    except Exception:  # noqa: BLE001 - malformed HTML: keep what was parsed
        pass
    lines = [" ".join(line.split()) for line in "".join(parser.parts).splitlines()]
    out: list[str] = []
    for line in lines:
        if line or (out and out[-1]):
            out.append(line)
    return "\n".join(out).strip()
