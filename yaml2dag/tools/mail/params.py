"""Parameter schemas shared by the mail tools: connection parameters and those of sending.

:func:`connection_properties` gives the ``host``/``port``/``ssl``/``starttls``/``username``/
``password``/``timeout``/``ca_file``/``tls_verify`` properties of an SMTP or IMAP step;
:data:`SEND_PARAMETERS` are those of ``email.send`` and ``notify.email``.
"""

from __future__ import annotations

from typing import Any


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
