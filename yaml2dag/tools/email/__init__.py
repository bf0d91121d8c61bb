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

Modules: :mod:`~yaml2dag.tools.email.since` (the ``since`` forms), :mod:`~yaml2dag.tools.email.imap`
(IMAP connection, folders, fetching), :mod:`~yaml2dag.tools.email.parsing` (a message as a
mapping), :mod:`~yaml2dag.tools.email.actions` (``fetch``, ``send``); SMTP and the connection
settings are in :mod:`yaml2dag.tools.mail`. This package assembles :data:`TOOL`.
"""

from __future__ import annotations

from yaml2dag.tools import mail
from yaml2dag.tools.base import Action, Tool
from yaml2dag.tools.email.actions import DEFAULT_LIMIT, FETCH_PARAMETERS, fetch, send
from yaml2dag.tools.email.imap import decode_folder, encode_folder
from yaml2dag.tools.email.parsing import DEFAULT_MAX_TEXT_CHARS, TRUNCATED_MARK, message_text, parse_message
from yaml2dag.tools.email.since import imap_date, parse_since

__all__ = ["DEFAULT_LIMIT", "DEFAULT_MAX_TEXT_CHARS", "FETCH_PARAMETERS", "TOOL", "TRUNCATED_MARK", "decode_folder",
           "encode_folder", "fetch", "imap_date", "message_text", "parse_message", "parse_since", "send"]


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
