"""Talking IMAP for ``email.fetch``: connecting, folder names, replies, fetching messages.

``_connect`` opens the connection (implicit TLS or STARTTLS as
:func:`yaml2dag.tools.mail.resolve_server` decided) and logs in; :func:`encode_folder` /
:func:`decode_folder` convert folder names to and from IMAP's modified UTF-7 (RFC 3501 §5.1.3);
``_fetch_meta`` reads flags and arrival times in batches of ``_FETCH_CHUNK`` UIDs, ``_fetch_raw``
one message with ``BODY.PEEK[]`` (reading never marks it seen). IMAP failures become
:class:`~yaml2dag.tools.base.ToolError` (``_imap_error``).
"""

from __future__ import annotations

import datetime as dt
import imaplib
import re
from typing import Any

from yaml2dag.tools import mail
from yaml2dag.tools.base import ToolContext, ToolError
import base64


#: UIDs per FETCH command when reading message metadata.
_FETCH_CHUNK = 500

_TIMING = re.compile(r"\s*\((?:[0-9.]+ \+ )*[0-9.]+ secs\)\.?$")


def _text(value: Any) -> str:
    """A server reply as one line (Dovecot's "(0.001 + 0.000 secs)." timing suffix dropped)."""
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    if isinstance(value, (list, tuple)):
        value = " ".join(_text(v) for v in value if v is not None)
    return _TIMING.sub("", " ".join(str(value).split()))


def _imap_message(exc: BaseException) -> str:
    args = exc.args
    return _text(args[0] if len(args) == 1 else args) if args else type(exc).__name__


def encode_folder(name: str) -> str:
    """A mailbox name as an IMAP quoted string, non-ASCII in modified UTF-7 (RFC 3501 §5.1.3)."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            raw = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(raw).decode("ascii").rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for ch in name:
        if 0x20 <= ord(ch) <= 0x7E:
            flush()
            out.append("&-" if ch == "&" else ch)
        else:
            pending.append(ch)
    flush()
    encoded = "".join(out)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def decode_folder(name: str) -> str:
    """The readable form of a modified-UTF-7 mailbox name (``Entw&APw-rfe`` → ``Entwürfe``)."""
    def one(match: re.Match) -> str:
        body = match.group(1)
        if not body:
            return "&"
        raw = body.replace(",", "/")
        try:
            return base64.b64decode(raw + "=" * (-len(raw) % 4)).decode("utf-16-be")
        except (ValueError, UnicodeDecodeError):
            return match.group(0)

    return re.sub(r"&([A-Za-z0-9+,]*)-", one, name)


def _folders(conn: imaplib.IMAP4) -> list[str]:
    try:
        typ, data = conn.list()
    except Exception:  # noqa: BLE001 - only for a hint
        return []
    if typ != "OK":
        return []
    names = []
    for line in data or []:
        text = _text(line)
        match = re.search(r'"((?:[^"\\]|\\.)*)"\s*$', text) or re.search(r"(\S+)\s*$", text)
        if match:
            names.append(decode_folder(match.group(1).replace('\\"', '"').replace("\\\\", "\\")))
    names.sort(key=lambda n: (n.upper() != "INBOX", n.lower()))
    return names[:30]


def _connect(ctx: ToolContext, server: mail.ServerSettings) -> imaplib.IMAP4:
    """Connect (TLS as configured) and log in."""
    timeout = mail.effective_timeout(ctx, server.timeout)
    doing = "connecting"
    conn: imaplib.IMAP4 | None = None
    try:
        if server.ssl:
            conn = imaplib.IMAP4_SSL(server.host, server.port, ssl_context=mail.tls_context(server, ctx),
                                     timeout=timeout)
        else:
            conn = imaplib.IMAP4(server.host, server.port, timeout=timeout)
        ctx.on_cancel(conn.shutdown)
        if server.starttls:
            doing = "starting TLS"
            if "STARTTLS" not in conn.capabilities:
                raise ToolError(f"the {server.describe()} does not offer STARTTLS; set `starttls: false` "
                                "(or `ssl: true` if the port expects implicit TLS)", retryable=False)
            conn.starttls(ssl_context=mail.tls_context(server, ctx))
        doing = "logging in"
        conn.login(server.username, server.password)
        return conn
    except BaseException as exc:
        if conn is not None:
            _logout(conn)
        if isinstance(exc, ToolError):
            raise
        raise _imap_error(ctx, server, exc, doing) from None


def _imap_error(ctx: ToolContext, server: mail.ServerSettings, exc: BaseException, doing: str) -> BaseException:
    where = server.describe()
    if isinstance(exc, imaplib.IMAP4.abort):
        return ToolError(ctx.mask(f"the {where} dropped the connection while {doing}: {_imap_message(exc)}"))
    if isinstance(exc, imaplib.IMAP4.error):
        reply = _imap_message(exc)
        if doing == "logging in":
            hint = ""
            if "PRIVACYREQUIRED" in reply.upper() or "LOGINDISABLED" in reply.upper() \
                    or "disabled" in reply.lower():
                hint = "; the server wants TLS first: set `starttls: true` (port 143) or `ssl: true` (port 993)"
            transient = "UNAVAILABLE" in reply.upper() or "INUSE" in reply.upper()
            return ToolError(ctx.mask(f"{where} refused login for user {server.username!r}: {reply}{hint}"),
                             retryable=transient)
        return ToolError(ctx.mask(f"{where} failed while {doing}: {reply}"), retryable=False)
    net = mail.network_error(ctx, server, exc, doing)
    return net if net is not None else exc


def _logout(conn: imaplib.IMAP4) -> None:
    mail.close_quietly(conn.logout, conn.shutdown)


def _ok(ctx: ToolContext, server: mail.ServerSettings, reply: tuple[str, list], doing: str) -> list:
    typ, data = reply
    if typ != "OK":
        raise ToolError(ctx.mask(f"{server.describe()} answered {typ} while {doing}: {_text(data)}"),
                        retryable=False)
    return data


_META_UID = re.compile(rb"\bUID (\d+)")
_META_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_META_DATE = re.compile(rb'\bINTERNALDATE "([^"]+)"')


def _parse_internaldate(raw: bytes | None) -> dt.datetime | None:
    if not raw:
        return None
    try:
        return dt.datetime.strptime(raw.decode("ascii").strip(), "%d-%b-%Y %H:%M:%S %z")
    except ValueError:
        return None


def _fetch_meta(ctx, server, conn, uids: list[int]) -> dict[int, dict]:
    meta: dict[int, dict] = {}
    for start in range(0, len(uids), _FETCH_CHUNK):
        chunk = ",".join(str(u) for u in uids[start:start + _FETCH_CHUNK])
        data = _ok(ctx, server, conn.uid("FETCH", chunk, "(UID FLAGS INTERNALDATE)"), "reading message flags")
        for item in data:
            line = item[0] if isinstance(item, tuple) else item
            if not isinstance(line, bytes):
                continue
            uid = _META_UID.search(line)
            if not uid:
                continue
            flags = _META_FLAGS.search(line)
            when = _META_DATE.search(line)
            meta[int(uid.group(1))] = {
                "seen": bool(flags and b"\\seen" in flags.group(1).lower()),
                "received": _parse_internaldate(when.group(1) if when else None),
            }
    return meta


def _fetch_raw(ctx, server, conn, uid: int) -> bytes | None:
    data = _ok(ctx, server, conn.uid("FETCH", str(uid), "(BODY.PEEK[])"), f"reading message {uid}")
    for item in data:
        if isinstance(item, tuple) and len(item) >= 2 and isinstance(item[1], bytes):
            return item[1]
    return None  # expunged meanwhile
