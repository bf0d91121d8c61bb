"""The ``fetch`` and ``send`` actions of the ``email`` tool and ``fetch``'s parameters.

``fetch`` searches an IMAP folder (``unseen_only``, ``since``), keeps ``limit`` messages
(default :data:`DEFAULT_LIMIT`) in ``order`` and returns them parsed; ``send`` is
:func:`yaml2dag.tools.mail.send_mail` as a step.
"""

from __future__ import annotations

from typing import Any

from yaml2dag.tools import mail
from yaml2dag.tools.base import Markdown, ToolContext, ToolError, ToolResult
from yaml2dag.tools.email.imap import (
    _connect,
    _fetch_meta,
    _fetch_raw,
    _folders,
    _imap_error,
    _logout,
    _ok,
    _text,
    encode_folder,
)
from yaml2dag.tools.email.parsing import DEFAULT_MAX_TEXT_CHARS, parse_message
from yaml2dag.tools.email.since import _SINCE_PATTERN, imap_date, parse_since


#: Messages returned when `limit` is unset.
DEFAULT_LIMIT = 50

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
