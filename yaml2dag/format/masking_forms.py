"""The forms a secret takes in what a step writes (spec §5, "Secrets"; issue 10).

A secret is masked in every form a sink may hold it in (:mod:`yaml2dag.format.masking` tells the
whole story): as given, JSON-escaped, ``repr``-escaped, URL-, HTML- and shell-quoted, base64 at
every alignment (:func:`text_forms`), and encoded as bytes (:func:`byte_forms`). Also the
constants every sink shares (:data:`MASK`, :data:`MIN_MASKED_LENGTH`) and
:class:`SecretInResultError`.
"""


from __future__ import annotations

import base64
import functools
import html
import json
import pickle
import shlex
import urllib.parse


#: What a secret is replaced with.
MASK = "***"
#: Secret values shorter than this are not masked (masking ``"a"`` would garble every text).
MIN_MASKED_LENGTH = 3
#: Base64 fragments shorter than this are not masked (they would match ordinary words).
MIN_ENCODED_LENGTH = 6
#: Pickle protocol of the size/scan check; Dagster's fs IO manager uses the highest one.
PICKLE_PROTOCOL = pickle.HIGHEST_PROTOCOL


class SecretInResultError(Exception):
    """A value about to be stored holds a secret inside an object that cannot be masked.

    Attributes:
        where: where in the value (``output``, ``output["rows"][2]``) and the object's type.
    """

    def __init__(self, where: str):
        self.where = where
        super().__init__(
            f"a secret is inside {where}, which yaml2dag cannot mask, so it was not stored: return "
            "text, bytes, numbers, lists, tuples, sets, mappings or pandas/numpy data (secrets in "
            "them become ***), or leave the secret out")


# --------------------------------------------------------------------------- forms


def _json_bodies(text: str) -> set[str]:
    out = {json.dumps(text, ensure_ascii=True)[1:-1], json.dumps(text, ensure_ascii=False)[1:-1]}
    # Jinja's htmlsafe_json_dumps (and Flask/Django JSON for HTML) escape <, >, & and '
    for body in list(out):
        out.add(body.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
                .replace("'", "\\u0027"))
    return out


def _repr_bodies(text: str) -> set[str]:
    # repr() escapes ' only when it quotes with ', which it does unless the string holds ' and
    # no "; the text may sit inside a longer string quoted either way, so both bodies count
    out: set[str] = set()
    for shown in (repr(text + '"')[1:-2], ascii(text + '"')[1:-2]):
        out.add(shown)
        out.add(shown.replace("\\'", "'"))
    raw = repr(text.encode("utf-8") + b'"')[2:-2]
    out.add(raw)
    out.add(raw.replace("\\'", "'"))
    return out


def _base64_parts(data: bytes) -> set[str]:
    """Base64 of ``data`` at each of the three alignments it can have in a longer input, cut to
    the characters that depend on ``data`` alone (GitHub runner: ``EnumerateBase64Variations``)."""
    out: set[str] = set()
    for shift in range(3):
        padded = b"\0" * shift + data
        stable_end = (len(padded) * 8) // 6  # characters fully made of input bits
        skip = (shift * 8 + 5) // 6  # characters that hold bits of the unknown prefix
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encode(padded).decode("ascii")[skip:stable_end]
            if len(encoded) >= MIN_ENCODED_LENGTH:
                out.add(encoded)
    return out


@functools.lru_cache(maxsize=256)
def text_forms(secret: str) -> tuple[str, ...]:
    """Every text form of ``secret`` that is masked (see the module docstring), longest first.

    Args:
        secret: the secret value (at least :data:`MIN_MASKED_LENGTH` characters, else ``()``).

    Returns:
        The distinct forms, the plain value included.
    """
    if not secret or len(secret) < MIN_MASKED_LENGTH:
        return ()
    first: set[str] = {secret}
    first |= _json_bodies(secret)
    first |= _repr_bodies(secret)
    first |= {urllib.parse.quote(secret, safe=""), urllib.parse.quote(secret),
              urllib.parse.quote_plus(secret, safe="")}
    first |= {html.escape(secret, quote=True), html.escape(secret, quote=False)}
    quoted = shlex.quote(secret)
    if quoted.startswith("'") and quoted.endswith("'"):
        first.add(quoted[1:-1])
    forms = set(first)
    for form in (secret, *_json_bodies(secret), *_repr_bodies(secret)):
        forms |= _json_bodies(form)  # JSON inside JSON, a repr inside JSON
        forms |= _repr_bodies(form)
    forms |= _base64_parts(secret.encode("utf-8"))
    forms = {f for f in forms if len(f) >= MIN_MASKED_LENGTH}
    return tuple(sorted(forms, key=lambda f: (-len(f), f)))


@functools.lru_cache(maxsize=256)
def byte_forms(secret: str) -> tuple[tuple[bytes, bytes], ...]:
    """``(form, replacement)`` pairs for binary data: each text form as UTF-8 (replaced by
    ``***``), the plain value as UTF-16/UTF-32 in both byte orders and as Latin-1 (replaced by
    ``***`` in the same encoding, so the data keeps its alignment). Longest first."""
    pairs: dict[bytes, bytes] = {}
    for form in text_forms(secret):
        pairs.setdefault(form.encode("utf-8"), MASK.encode("utf-8"))
    if pairs:
        for encoding in ("utf-16-le", "utf-16-be", "utf-32-le", "utf-32-be", "latin-1"):
            try:
                pairs.setdefault(secret.encode(encoding), MASK.encode(encoding))
            except UnicodeEncodeError:
                continue
    return tuple(sorted(pairs.items(), key=lambda p: (-len(p[0]), p[0])))
