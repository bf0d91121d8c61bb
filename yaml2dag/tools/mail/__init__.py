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

Modules: :mod:`~yaml2dag.tools.mail.params` (parameter schemas), :mod:`~yaml2dag.tools.mail.settings`
(server settings, timeouts, TLS), :mod:`~yaml2dag.tools.mail.errors` (connection failures),
:mod:`~yaml2dag.tools.mail.message` (addresses, building a message),
:mod:`~yaml2dag.tools.mail.html_text` (HTML to text), :mod:`~yaml2dag.tools.mail.smtp` (sending).
This package re-exports their public names (``from yaml2dag.tools import mail``; ``mail.send_mail``).
"""

from __future__ import annotations

from yaml2dag.tools.mail.errors import network_error
from yaml2dag.tools.mail.html_text import html_to_text
from yaml2dag.tools.mail.message import address_list, bare_address, build_message
from yaml2dag.tools.mail.params import (
    ADDRESSES_SCHEMA,
    DURATION_SCHEMA,
    SEND_PARAMETERS,
    SEND_RESULT_FIELDS,
    connection_properties,
)
from yaml2dag.tools.mail.settings import (
    DEFAULT_TIMEOUT_SECONDS,
    MIN_TIMEOUT_SECONDS,
    ServerSettings,
    as_bool,
    as_int,
    effective_timeout,
    parse_timeout,
    resolve_server,
    setting,
    tls_context,
)
from yaml2dag.tools.mail.smtp import close_quietly, send_mail

__all__ = ["ADDRESSES_SCHEMA", "DEFAULT_TIMEOUT_SECONDS", "DURATION_SCHEMA", "MIN_TIMEOUT_SECONDS", "SEND_PARAMETERS",
           "SEND_RESULT_FIELDS", "ServerSettings", "address_list", "as_bool", "as_int", "bare_address", "build_message",
           "close_quietly", "connection_properties", "effective_timeout", "html_to_text", "network_error",
           "parse_timeout", "resolve_server", "send_mail", "setting", "tls_context"]
