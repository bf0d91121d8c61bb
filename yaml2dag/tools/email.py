"""The ``email`` tool: read a mailbox over IMAP, send mail over SMTP (spec §6).

Actions (``fetch`` is the default):

* ``fetch`` logs in to an IMAP server, opens ``folder`` (read-only unless ``mark_seen``),
  searches (``unseen_only``, ``since``), keeps the newest ``limit`` messages and returns them as
  plain mappings: ``uid``, ``message_id``, ``from``, ``to``, ``cc``, ``subject``, ``date``,
  ``received``, ``text``, ``attachments``, ``seen``. Bodies are fetched with ``BODY.PEEK`` so
  reading never marks a message seen; ``mark_seen: true`` marks exactly the returned ones.
* ``send`` sends one message over SMTP through :func:`yaml2dag.tools.mail.send_mail` (the same
  code as ``notify.email``).

Connection parameters fall back to ``YAML2DAG_IMAP_*`` / ``YAML2DAG_SMTP_*`` environment
variables; passwords are step secrets and never appear in logs, results or metadata.
"""

from __future__ import annotations

import datetime as dt
import email as _stdlib_email
import imaplib
from email import policy as _email_policy
import re
from typing import Any

from yaml2dag.format.durations import parse_duration
from yaml2dag.tools import mail
from yaml2dag.tools.base import Action, Markdown, Tool, ToolContext, ToolError, ToolResult

_POLICY = _email_policy.default

#: Characters of a message's text kept in the result; longer texts are cut and end with
#: :data:`TRUNCATED_MARK`.
DEFAULT_MAX_TEXT_CHARS = 100_000
TRUNCATED_MARK = "\n[… truncated]"
#: Messages returned when `limit` is unset.
DEFAULT_LIMIT = 50
#: UIDs per FETCH command when reading message metadata.
_FETCH_CHUNK = 500

_SINCE_PATTERN = (
    r"^\s*("
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"                                             # date
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?"  # date-time
    r"|today|yesterday"
    r"|[0-9]+(\.[0-9]+)?\s*(minute|hour|day|week)s?\s+ago"                       # 2 days ago
    r"|([0-9]+(\.[0-9]+)?\s*(ms|s|m|h|d)?\s*)+"                                  # 36h, 1d12h
    r"|P[0-9DTHMS.]+"                                                            # ISO-8601 duration
    r")\s*$"
)

FETCH_PARAMETERS: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **mail.connection_properties("imap"),
        "folder": {"type": "string", "minLength": 1, "description": "Mailbox to read (default INBOX)."},
        "unseen_only": {"type": "boolean", "description": "Only messages without the \\Seen flag (default true)."},
        "since": {
            "type": "string", "pattern": _SINCE_PATTERN,
            "x-expected": "a date (\"2026-11-01\"), a date-time (\"2026-11-01T08:00:00Z\"), "
                          "\"today\", \"yesterday\" or an age (\"2 days ago\", \"36h\")",
            "description": "Only messages received since then.",
        },
        "limit": {"type": "integer", "minimum": 1, "description": "Most messages returned (default 50)."},
        "order": {"enum": ["newest_first", "oldest_first"],
                  "description": "Which messages `limit` keeps and the output order (default newest_first)."},
        "mark_seen": {"type": "boolean", "description": "Set \\Seen on the returned messages (default false)."},
        "max_text_chars": {"type": "integer", "minimum": 1,
                           "description": "Characters of each message's text kept (default 100000)."},
    },
}

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_AGO = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(minute|hour|day|week)s?\s+ago\s*$", re.I)
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}


# --------------------------------------------------------------------------- since


def parse_since(value: Any, now: dt.datetime | None = None) -> tuple[dt.date, dt.datetime | None]:
    """Interpret a ``since`` value.

    Args:
        value: ``"2026-11-01"`` (a whole day: IMAP ``SINCE`` semantics), an ISO date-time
            (UTC when it has no offset), ``"today"``/``"yesterday"`` (UTC dates), or an age:
            ``"2 days ago"``, ``"36h"``, ``"PT12H"``, a number of seconds.
        now: the current time (UTC, for tests); default now.

    Returns:
        ``(search_date, moment)``: the date for the server-side ``SINCE`` search, and the exact
        instant messages must have been received at or after (None for whole dates).

    Raises:
        ToolError: (not retryable) none of these forms.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _moment(now - dt.timedelta(seconds=float(value)))
    text = str(value).strip()
    lowered = text.lower()
    if lowered == "today":
        return now.date(), None
    if lowered == "yesterday":
        return now.date() - dt.timedelta(days=1), None
    if re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", text):
        try:
            return dt.date.fromisoformat(text), None
        except ValueError:
            raise ToolError(f"since: {text!r} is not a valid date", retryable=False) from None
    if re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]", text):
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ToolError(f"since: {text!r} is not a valid date-time", retryable=False) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return _moment(moment)
    ago = _AGO.match(text)
    if ago:
        seconds = float(ago.group(1)) * _UNIT_SECONDS[ago.group(2).lower()]
        return _moment(now - dt.timedelta(seconds=seconds))
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise ToolError(f"since: expected a date (\"2026-11-01\"), a date-time, \"today\", \"yesterday\" or an "
                        f"age (\"2 days ago\", \"36h\"), got {text!r}", retryable=False) from None
    return _moment(now - dt.timedelta(seconds=seconds))


def _moment(moment: dt.datetime) -> tuple[dt.date, dt.datetime]:
    # IMAP SINCE compares dates in the server's time zone: search a day earlier, filter exactly.
    return (moment.astimezone(dt.timezone.utc) - dt.timedelta(days=1)).date(), moment


def imap_date(day: dt.date) -> str:
    """``01-Nov-2026`` (RFC 3501 date, English month names whatever the locale)."""
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year}"


# --------------------------------------------------------------------------- IMAP helpers


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
            import base64

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
    import base64

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


# --------------------------------------------------------------------------- parsing


def _header(msg: Any, name: str) -> str:
    try:
        value = msg.get(name)
    except Exception:  # noqa: BLE001 - malformed header
        value = None
    if value is None:
        return ""
    return " ".join(str(value).split())


def _addresses(msg: Any, name: str) -> list[str]:
    try:
        headers = msg.get_all(name) or []
    except Exception:  # noqa: BLE001
        return []
    out: list[str] = []
    for header in headers:
        try:
            addresses = header.addresses
        except AttributeError:
            out.extend(a.strip() for a in str(header).split(",") if a.strip())
            continue
        for address in addresses:
            text = str(address)
            if text:
                out.append(text)
    return out


def _part_text(part: Any) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, AssertionError, KeyError):
        payload = part.get_payload(decode=True) or b""
        content = payload.decode(part.get_content_charset() or "utf-8", errors="replace") \
            if _known_charset(part.get_content_charset()) else payload.decode("utf-8", errors="replace")
    if isinstance(content, bytes):
        content = content.decode("utf-8", errors="replace")
    return str(content)


def _known_charset(name: str | None) -> bool:
    import codecs

    if not name:
        return False
    try:
        codecs.lookup(name)
        return True
    except LookupError:
        return False


def message_text(msg: Any) -> str:
    """The plain-text body of a parsed message: the ``text/plain`` part, else the ``text/html``
    part converted to text (crudely), else ""."""
    try:
        body = msg.get_body(preferencelist=("plain", "html"))
    except Exception:  # noqa: BLE001 - malformed structure
        body = None
    if body is None:
        return ""
    text = _part_text(body)
    if body.get_content_type() == "text/html":
        text = mail.html_to_text(text)
    return text.replace("\r\n", "\n").strip()


def parse_message(raw: bytes, *, uid: int | None = None, received: dt.datetime | None = None,
                  seen: bool = False, max_text_chars: int = DEFAULT_MAX_TEXT_CHARS) -> dict[str, Any]:
    """One message as a plain mapping.

    Args:
        raw: the RFC 5322 bytes.
        uid: its IMAP UID.
        received: its INTERNALDATE (arrival time).
        seen: whether it had ``\\Seen`` before it was fetched.
        max_text_chars: characters of ``text`` kept.

    Returns:
        ``{"uid", "message_id", "from", "to": [str], "cc": [str], "subject", "date" (ISO 8601
        from the Date header, else the arrival time), "received" (ISO 8601 or None), "text",
        "attachments": [file names], "seen"}``.
    """
    msg = _stdlib_email.message_from_bytes(raw, policy=_POLICY)
    date_value = None
    try:
        header = msg.get("date")
        date_value = getattr(header, "datetime", None)
    except Exception:  # noqa: BLE001 - unparseable Date header
        date_value = None
    if date_value is None:
        date_value = received
    text = message_text(msg)
    if len(text) > max_text_chars:
        text = text[:max_text_chars] + TRUNCATED_MARK
    attachments = []
    for part in msg.walk():
        try:
            name = part.get_filename()
        except Exception:  # noqa: BLE001
            name = None
        if name or part.get_content_disposition() == "attachment":
            attachments.append(name or "(unnamed)")
    return {
        "uid": uid,
        "message_id": _header(msg, "message-id"),
        "from": _header(msg, "from"),
        "to": _addresses(msg, "to"),
        "cc": _addresses(msg, "cc"),
        "subject": _header(msg, "subject"),
        "date": date_value.isoformat() if date_value else None,
        "received": received.isoformat() if received else None,
        "text": text,
        "attachments": attachments,
        "seen": seen,
    }


# --------------------------------------------------------------------------- actions


def fetch(ctx: ToolContext, params: dict) -> ToolResult:
    """Read messages from an IMAP folder (see the module docstring).

    Returns:
        ToolResult whose output is the list of messages (see :func:`parse_message`), newest
        first unless ``order: oldest_first``, and field ``count``.

    Raises:
        ToolError: login refused, folder missing, TLS certificate not trusted, bad parameters
            (not retryable); connection refused, timeouts, dropped connections (retryable).
    """
    server = mail.resolve_server(ctx, params, "imap")
    if not server.username:
        raise ToolError("IMAP needs a user: set `username` or $YAML2DAG_IMAP_USER", retryable=False)
    folder = str(params.get("folder") or "INBOX")
    unseen_only = mail.as_bool(params["unseen_only"], "unseen_only") if params.get("unseen_only") is not None else True
    mark_seen = mail.as_bool(params["mark_seen"], "mark_seen") if params.get("mark_seen") is not None else False
    limit = mail.as_int(params["limit"], "limit", 1) if params.get("limit") is not None else DEFAULT_LIMIT
    max_chars = mail.as_int(params["max_text_chars"], "max_text_chars", 1) \
        if params.get("max_text_chars") is not None else DEFAULT_MAX_TEXT_CHARS
    order = str(params.get("order") or "newest_first")
    if order not in ("newest_first", "oldest_first"):
        raise ToolError(f"order must be newest_first or oldest_first, got {order!r}", retryable=False)
    since_date, since_moment = parse_since(params["since"]) if params.get("since") not in (None, "") else (None, None)

    conn = _connect(ctx, server)
    doing = f"opening folder {folder!r}"
    try:
        typ, data = conn.select(encode_folder(folder), readonly=not mark_seen)
        if typ != "OK":
            known = _folders(conn)
            listed = f"; folders: {', '.join(known)}" if known else ""
            raise ToolError(ctx.mask(f"cannot open folder {folder!r} on the {server.describe()}: "
                                     f"{_text(data)}{listed}"), retryable=False)
        criteria: list[str] = []
        if unseen_only:
            criteria.append("UNSEEN")
        if since_date is not None:
            criteria += ["SINCE", imap_date(since_date)]
        doing = "searching"
        data = _ok(ctx, server, conn.uid("SEARCH", None, *(criteria or ["ALL"])), "searching")
        uids = sorted({int(x) for x in b" ".join(d for d in data if isinstance(d, bytes)).split()})
        doing = "reading message flags"
        meta: dict[int, dict] = {}
        if since_moment is not None and uids:
            meta = _fetch_meta(ctx, server, conn, uids)
            uids = [u for u in uids if meta.get(u, {}).get("received") is None or meta[u]["received"] >= since_moment]
        matched = len(uids)
        if order == "newest_first":
            uids.reverse()
        chosen = uids[:limit]
        if chosen and since_moment is None:
            meta = _fetch_meta(ctx, server, conn, chosen)
        messages = []
        doing = "reading messages"
        for uid in chosen:
            raw = _fetch_raw(ctx, server, conn, uid)
            if raw is None:
                continue
            info = meta.get(uid, {})
            try:
                messages.append(parse_message(raw, uid=uid, received=info.get("received"),
                                              seen=info.get("seen", False), max_text_chars=max_chars))
            except Exception as exc:  # noqa: BLE001 - one unreadable message must not hide the others
                ctx.log.warning(f"message UID {uid} in {folder!r} cannot be parsed and is left out "
                                f"(and not marked seen): {type(exc).__name__}: {exc}")
        if mark_seen and messages:
            doing = "marking messages seen"
            uid_set = ",".join(str(m["uid"]) for m in messages)
            _ok(ctx, server, conn.uid("STORE", uid_set, "+FLAGS.SILENT", "(\\Seen)"), doing)
    except ToolError:
        raise
    except BaseException as exc:  # noqa: BLE001 - mapped to a ToolError
        raise _imap_error(ctx, server, exc, doing) from None
    finally:
        _logout(conn)

    more = f" (of {matched} matching; limit {limit})" if matched > len(messages) else ""
    ctx.log.info(f"fetched {len(messages)} message(s){more} from {folder!r} on the {server.describe()} "
                 f"as {server.username}" + (", marked seen" if mark_seen and messages else ""))
    messages = ctx.mask(messages)
    return ToolResult(output=messages, fields={"count": len(messages)},
                      metadata={"count": len(messages), "messages": _preview(messages)})


def _preview(messages: list[dict]) -> Markdown:
    def cell(value: Any) -> str:
        return str(value or "").replace("|", "\\|").replace("\n", " ")[:80]

    rows = ["| date | from | subject |", "|---|---|---|"]
    rows += [f"| {cell(m['date'])} | {cell(m['from'])} | {cell(m['subject'])} |" for m in messages[:20]]
    if len(messages) > 20:
        rows.append(f"| … | {len(messages) - 20} more | |")
    return Markdown("\n".join(rows) if messages else "no messages")


def send(ctx: ToolContext, params: dict) -> ToolResult:
    """Send one message over SMTP (see :func:`yaml2dag.tools.mail.send_mail` for the receipt
    and errors); fields ``message_id``, ``recipients``."""
    receipt = mail.send_mail(ctx, params)
    return ToolResult(
        output=receipt,
        fields={"message_id": receipt["message_id"], "recipients": receipt["recipients"]},
        metadata={"recipients": receipt["recipients"], "message_id": receipt["message_id"]},
    )


TOOL = Tool(
    name="email",
    description="Read a mailbox over IMAP or send mail over SMTP.",
    actions=(
        Action(
            name="fetch",
            description="Read messages from an IMAP folder (unseen only, since, limit).",
            parameters=FETCH_PARAMETERS,
            run=fetch,
            result_fields=("count",),
            output="list of messages {uid, message_id, from, to, cc, subject, date, received, text, "
                   "attachments, seen}",
        ),
        Action(
            name="send",
            description="Send an email over SMTP (STARTTLS, login from parameters or YAML2DAG_SMTP_*).",
            parameters=mail.SEND_PARAMETERS,
            run=send,
            result_fields=mail.SEND_RESULT_FIELDS,
            output="receipt {channel: email, to, message_id, recipients, ...}",
        ),
    ),
)
