"""Building an email: recipient lists (:func:`address_list`) and the RFC 5322 message itself.

:func:`build_message` sets ``From``, ``To``, ``Cc``, ``Reply-To``, ``Subject``, ``Date`` and a fresh
``Message-ID``; with HTML it is ``multipart/alternative`` with a plain-text part.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import formatdate, getaddresses, make_msgid
from typing import Any, Iterable

from yaml2dag.tools.base import ToolError
from yaml2dag.tools.mail.html_text import html_to_text


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
                where = "" if addr == item.strip() else f" (read from {item!r})"
                raise ToolError(f"`{name}`: {addr!r}{where} is not an email address", retryable=False)
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
