"""Turning a raw message into the plain mapping ``email.fetch`` returns (:func:`parse_message`).

Headers decoded, addresses listed, the text taken from the plain part (else the HTML converted to
text), cut at ``max_text_chars`` (default :data:`DEFAULT_MAX_TEXT_CHARS`, marked with
:data:`TRUNCATED_MARK`), attachments listed by file name.
"""

from __future__ import annotations

import datetime as dt
import email as _stdlib_email
from email import policy as _email_policy
from typing import Any

from yaml2dag.tools import mail
import codecs


_POLICY = _email_policy.default

#: Characters of a message's text kept in the result; longer texts are cut and end with
#: :data:`TRUNCATED_MARK`.
DEFAULT_MAX_TEXT_CHARS = 100_000
TRUNCATED_MARK = "\n[… truncated]"


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
