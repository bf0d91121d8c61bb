"""Where and how to reach a mail server: :class:`ServerSettings` from parameters and environment.

:func:`resolve_server` reads each connection parameter, else ``YAML2DAG_SMTP_*`` /
``YAML2DAG_IMAP_*``, picks the port and TLS mode (SMTP 465 implicit TLS, 587 STARTTLS, 25 plain;
IMAP 993 implicit TLS, 143 otherwise) and registers the password as a step secret;
:func:`tls_context` builds the client TLS context; :func:`parse_timeout` and
:func:`effective_timeout` bound every network operation (default
:data:`DEFAULT_TIMEOUT_SECONDS`, never below :data:`MIN_TIMEOUT_SECONDS`).
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from typing import Any, Mapping

from yaml2dag.format.durations import parse_duration
from yaml2dag.tools.base import ToolContext, ToolError


#: Seconds allowed for each network operation (connect, one command) when `timeout` is unset.
DEFAULT_TIMEOUT_SECONDS = 30.0
#: Smallest socket timeout used when the step's own deadline is nearly reached (seconds).
MIN_TIMEOUT_SECONDS = 0.5


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
