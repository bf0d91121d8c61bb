"""Finding credentials in shell commands, so a suggestion never copies one (issue 12, §1).

What counts as a secret (each becomes a ``secret`` parameter without a default; the value is
never written to a suggestion, its JSON, its workflow or a saved file):

* the value of an assignment whose name contains ``TOKEN``, ``PASSWORD``, ``PASSWD``,
  ``PASSPHRASE``, ``SECRET``, ``KEY`` or ``CREDENTIAL``, or has ``PASS``/``PWD``... as one of its
  ``_``-separated parts (``API_TOKEN=...``, ``export DB_PASS=...``, ``PGPASSWORD=... psql``),
  the same names in query strings, form bodies and JSON bodies (``?access_token=...``,
  ``-d 'password=...'``, ``{"api_key": "..."}``);
* the value of an option whose name says so: ``--password x``, ``--password=x``,
  ``--token``, ``--api-key``, ``--secret``... (:func:`is_secret_option`), and the
  ``-p<value>`` password of the MySQL/MariaDB clients (``mysql -uroot -phunter2``), the
  ``-p`` of ``sshpass``, and the password half of ``curl -u user:password``;
* the password (or a bare token) in a URL's user-info (``https://user:pw@host``,
  ``https://ghp_xxx@github.com``);
* the credential of an ``Authorization``/``Proxy-Authorization`` header (the scheme such as
  ``Bearer`` is kept) and the value of ``X-API-Key``-like headers;
* values that have a well-known credential format anywhere: GitHub (``ghp_``,
  ``github_pat_``), GitLab (``glpat-``), Slack (``xox?-``), AWS access key ids (``AKIA``),
  Google API keys (``AIza``), npm (``npm_``), Stripe, ``sk-`` keys and JWTs.

Sources of the rules: the issue's list; the token prefixes documented by GitHub
("About authentication to GitHub"), GitLab ("Personal access tokens"), Slack ("Token types"),
AWS ("Understanding unique ID prefixes") and Google ("API keys").

Parts are ``(text, role, hint)`` triples: role ``lit`` (structure), ``var`` (may vary) or
``secret``; ``hint`` is a parameter name suggestion for a secret (``api_token``). Nothing here
imports Dagster.
"""

from __future__ import annotations

import re

_SECRET_WORDS = ("TOKEN", "PASSWORD", "PASSWD", "PASSPHRASE", "SECRET", "KEY", "CREDENTIAL")
_SECRET_PARTS = frozenset({"PASS", "PW", "AUTH", "PAT", "APIKEY", "SIG", "SIGNATURE"})
#: Client programs whose ``-p<value>`` (attached) is a password.
ATTACHED_PASSWORD_PROGRAMS = frozenset({"mysql", "mysqldump", "mysqladmin", "mysqlimport", "mysqlshow",
                                        "mysqlcheck", "mariadb", "mariadb-dump", "mariadb-admin"})
#: Headers whose whole value is a credential.
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "x-api-key", "api-key", "apikey",
                            "x-auth-token", "private-token", "x-access-token", "cookie", "x-vault-token"})
_SCHEMES = ("bearer", "basic", "token", "digest", "apikey", "bot")

_TOKEN_FORMATS = [
    (re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"), "github_token"),
    (re.compile(r"\bgithub_pat_[A-Za-z0-9_]{20,}"), "github_token"),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}"), "gitlab_token"),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"), "slack_token"),
    (re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"), "aws_access_key_id"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}"), "google_api_key"),
    (re.compile(r"\bnpm_[A-Za-z0-9]{36}"), "npm_token"),
    (re.compile(r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,}"), "stripe_key"),
    (re.compile(r"\bsk-[A-Za-z0-9_-]{16,}"), "api_key"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "token"),
]
_URL_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?P<user>[^:/@\s'\"]*):(?P<secret>[^@/\s'\"]+)@")
_URL_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://(?P<secret>[A-Za-z0-9_-]{20,})@")
_PAIR = re.compile(r"(?<![A-Za-z0-9_.-])(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)=(?P<secret>[^\s&;'\"`$|<>()]+)")
_JSON_PAIR = re.compile(r"\"(?P<name>[A-Za-z_][A-Za-z0-9_.-]*)\"\s*:\s*\"(?P<secret>[^\"\\]+)\"")
_HEADER = re.compile(r"(?i)(?P<name>[A-Za-z][A-Za-z0-9-]*)\s*:\s*(?:(?:%s)\s+)?(?P<secret>[^\s'\"]+)"
                     % "|".join(_SCHEMES))
_LONG_OPTION = re.compile(r"(?<!\S)--(?P<name>[A-Za-z][A-Za-z0-9-]*)(?:=|\s+)(?P<q>['\"]?)(?P<secret>[^\s'\"]+)(?P=q)")
_ATTACHED_P = re.compile(r"(?<!\S)-p(?P<secret>[^\s'\"]+)")
#: Text that none of the patterns above can match in has no secret (a fast first check).
_MAYBE = re.compile(r"[=:@]|--|-p|gh[pousr]_|github_pat_|glpat-|xox[abprs]-|AKIA|ASIA|AIza|npm_|[sr]k_|sk-|eyJ")


def is_secret_name(name: str) -> bool:
    """True for names of credentials: ``API_TOKEN``, ``db_password``, ``DB_PASS``,
    ``aws_secret_access_key``, ``X-Api-Key``; not ``PWD``, ``PATH``, ``PASSAGE``."""
    upper = name.upper().replace("-", "_").replace(".", "_")
    if any(word in upper for word in _SECRET_WORDS):
        return True
    return any(part in _SECRET_PARTS for part in upper.split("_"))


def is_secret_option(option: str) -> bool:
    """True for long options that carry a credential (``--password``, ``--api-key``,
    ``--token``, ``--client-secret``); not for ``--password-stdin``, ``--password-file`` or
    ``--token-file`` (they name where the secret is, not the secret)."""
    name = option.lstrip("-").split("=", 1)[0]
    if not option.startswith("--") or name.lower().endswith(("-stdin", "-file", "-path", "-env", "-cmd", "-command")):
        return False
    return is_secret_name(name)


def header_is_secret(name: str) -> bool:
    """True for headers that carry credentials (``Authorization``, ``X-API-Key``, ``Private-Token``...)."""
    lower = name.strip().lower()
    return lower in SECRET_HEADERS or is_secret_name(lower)


def _slug(name: str) -> str:
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower()).strip("_")
    return slug or "secret"


def find_spans(text: str, *, options: bool = False, program: str | None = None) -> list[tuple[int, int, str]]:
    """Secret values inside ``text``: ``[(start, end, name hint), ...]``, sorted, not overlapping.

    Args:
        text: a value (one word) or, for an opaque command, the command's raw text.
        options: also look for ``--password value`` options and ``-p<value>`` (raw text).
        program: the command's program, for ``-p<value>``.
    """
    if not _MAYBE.search(text):
        return []
    spans: list[tuple[int, int, str]] = []

    def add(m: re.Match, hint: str) -> None:
        start, end = m.span("secret")
        if end > start:
            spans.append((start, end, hint))

    for m in _URL_PASSWORD.finditer(text):
        add(m, "password")
    for m in _URL_TOKEN.finditer(text):
        add(m, "token")
    for m in _PAIR.finditer(text):
        if is_secret_name(m.group("name")):
            add(m, _slug(m.group("name")))
    for m in _JSON_PAIR.finditer(text):
        if is_secret_name(m.group("name")):
            add(m, _slug(m.group("name")))
    for m in _HEADER.finditer(text):
        if header_is_secret(m.group("name")) and m.group("secret").lower() not in _SCHEMES:
            add(m, header_hint(m.group(0)))
    for pattern, hint in _TOKEN_FORMATS:
        for m in pattern.finditer(text):
            spans.append((m.start(), m.end(), hint))
    if options:
        for m in _LONG_OPTION.finditer(text):
            if is_secret_option("--" + m.group("name")):
                add(m, _slug(m.group("name")))
        if program and program.rsplit("/", 1)[-1] in ATTACHED_PASSWORD_PROGRAMS:
            for m in _ATTACHED_P.finditer(text):
                add(m, "password")
    spans.sort()
    merged: list[tuple[int, int, str]] = []
    for start, end, hint in spans:
        if merged and start < merged[-1][1]:
            last = merged[-1]
            merged[-1] = (last[0], max(last[1], end), last[2])
        else:
            merged.append((start, end, hint))
    return merged


def header_hint(header: str) -> str:
    """A parameter name for the credential of a header line (``Authorization: Bearer x`` →
    ``bearer_token``; ``X-API-Key: x`` → ``x_api_key``)."""
    name, _, rest = header.partition(":")
    scheme = rest.strip().split(None, 1)[0].lower() if rest.strip() else ""
    if name.strip().lower() in ("authorization", "proxy-authorization"):
        return {"bearer": "bearer_token", "basic": "basic_auth", "token": "auth_token"}.get(scheme, "authorization")
    return _slug(name)


def _split(text: str, spans: list[tuple[int, int, str]], rest_role: str) -> list[tuple]:
    parts: list[tuple] = []
    pos = 0
    for start, end, hint in spans:
        if start > pos:
            parts.append((text[pos:start], rest_role, None))
        parts.append((text[start:end], "secret", hint))
        pos = end
    if pos < len(text) or not parts:
        parts.append((text[pos:], rest_role, None))
    return parts


def split_value(value: str) -> list[tuple]:
    """A word's value as parts: secrets inside it as ``secret``, the rest as ``var``."""
    return _split(value, find_spans(value), "var")


def split_text(text: str, program: str | None = None) -> list[tuple]:
    """Raw command text (an opaque command) as parts: secrets as ``secret``, the rest ``lit``."""
    return _split(text, find_spans(text, options=True, program=program), "lit")


def split_header(value: str) -> list[tuple]:
    """A ``-H`` value: a credential header keeps its name and scheme, its credential is secret
    (``Authorization: Bearer x`` → ``Authorization: Bearer `` + secret)."""
    name, sep, rest = value.partition(":")
    if sep and header_is_secret(name):
        stripped = rest.lstrip()
        words = stripped.split(None, 1)
        secret = stripped
        if len(words) == 2 and words[0].lower() in _SCHEMES:
            secret = stripped[len(words[0]):].lstrip()
        if secret:
            return [(value[: len(value) - len(secret)], "lit", None), (secret, "secret", header_hint(value))]
    return split_value(value)


def split_userinfo(value: str) -> list[tuple]:
    """``user:password`` (``curl -u``): the password is secret, the user may vary."""
    user, sep, password = value.partition(":")
    if not sep:
        return split_value(value)
    parts: list[tuple] = [(user, "var", None)] if user else []
    parts.append((":", "lit", None))
    if password:
        parts.append((password, "secret", "password"))
    return parts


__all__ = ["ATTACHED_PASSWORD_PROGRAMS", "find_spans", "header_is_secret", "is_secret_name", "is_secret_option",
           "split_header", "split_text", "split_userinfo", "split_value"]
