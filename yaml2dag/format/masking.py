"""Masking secrets in whatever is written: text, bytes, step results (spec §3, issue 10 point 3).

A secret leaves a step in more shapes than its plain text: an error message quotes it with
``repr`` (``'a\\\\b'``), ``{{ value | tojson }}`` and every JSON sink escape it (``"a\\"b"``), a
subprocess may write it to file descriptor 1 as UTF-8 or UTF-16, a tool may base64-encode it into
an ``Authorization`` header. :class:`Masker` replaces each *form* of each secret with ``***``:

==================  =====================================================================
plain               the value itself
JSON-escaped        ``json.dumps`` body, ``ensure_ascii`` on and off; the HTML-safe variant
                    (``\\u003c``, ``\\u0027``...); escaped twice (JSON inside JSON)
repr-escaped        Python ``repr``/``ascii`` body, either quote style; ``repr`` of its UTF-8
                    bytes (``b'...'``); escaped twice
URL-encoded         ``urllib.parse.quote`` (``safe=""`` and ``safe="/"``) and ``quote_plus``
HTML-escaped        ``html.escape`` with and without quotes
shell-quoted        the body of ``shlex.quote``
base64              standard and URL-safe alphabet, at the three byte alignments the value
                    can have inside a longer encoded text (only parts of 6+ characters)
bytes (binary)      each form above as UTF-8, the plain value as UTF-16 and UTF-32 (both byte
                    orders, without BOM) and Latin-1 (when it can be encoded)
==================  =====================================================================

The list of encodings follows the GitHub Actions runner's secret masker
(``src/Sdk/DTLogging/Logging/ValueEncoders.cs``: base64 with its three shifts, JSON, URI and
XML escapes), plus the escapes Python itself produces (``repr``).

Step results are masked by type (:meth:`Masker.value`): strings, bytes, lists, tuples
(named ones keep their type), sets, frozensets, mappings, pandas ``DataFrame``/``Series``/
``Index`` and numpy arrays of strings come back as the same kind of value with each secret
replaced. Any other object is checked by pickling it, as the IO manager will
(:meth:`Masker.find`): when the secret is inside, the step fails with
:class:`SecretInResultError` instead of storing it.

Secrets known to the process are kept per run in a registry (:func:`register`), so sinks that
do not know the workflow (the IO manager, the event log, file descriptors 1 and 2, see
:mod:`yaml2dag.tools.capture`) mask them too.

No Dagster import: this module sits at the format level.
"""

from __future__ import annotations

import base64
import functools
import html
import json
import pickle
import re
import shlex
import threading
import urllib.parse
from collections.abc import Mapping
from typing import Any, Iterable

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


# --------------------------------------------------------------------------- the masker


class Masker:
    """Masks a fixed set of secrets in text, bytes and values (see the module docstring).

    Args:
        secrets: the secret values; values shorter than :data:`MIN_MASKED_LENGTH` are ignored.
    """

    def __init__(self, secrets: Iterable[str]):
        self.secrets = tuple(sorted({s for s in secrets if isinstance(s, str) and len(s) >= MIN_MASKED_LENGTH},
                                    key=lambda s: (-len(s), s)))
        forms: set[str] = set()
        pairs: dict[bytes, bytes] = {}
        for secret in self.secrets:
            forms.update(text_forms(secret))
            for form, repl in byte_forms(secret):
                pairs.setdefault(form, repl)
        ordered = sorted(forms, key=lambda f: (-len(f), f))
        self._text = re.compile("|".join(map(re.escape, ordered))) if ordered else None
        self._pairs = pairs
        ordered_bytes = sorted(pairs, key=lambda f: (-len(f), f))
        self._bytes = re.compile(b"|".join(map(re.escape, ordered_bytes))) if ordered_bytes else None
        #: every binary form, for :meth:`held_back`
        self.byte_forms = tuple(ordered_bytes)
        self.longest_form = max((len(f) for f in ordered_bytes), default=0)

    def __bool__(self) -> bool:
        return bool(self.secrets)

    # -- text and bytes
    def text(self, text: str) -> str:
        """``text`` with every form of every secret replaced by ``***``."""
        if self._text is None or not text:
            return text
        return self._text.sub(MASK, text)

    def data(self, data: bytes) -> bytes:
        """``data`` with every binary form replaced (see :func:`byte_forms`)."""
        if self._bytes is None or not data:
            return data
        return self._bytes.sub(lambda m: self._pairs[m.group(0)], data)

    def in_text(self, text: str) -> bool:
        return self._text is not None and self._text.search(text) is not None

    def in_data(self, data: bytes) -> bool:
        return self._bytes is not None and self._bytes.search(data) is not None

    def held_back(self, data: bytes) -> int:
        """How many bytes at the end of ``data`` could be the start of a form (to keep until
        more data arrives, so a form split across two reads is still masked)."""
        hold = 0
        for form in self.byte_forms:
            for k in range(min(len(form) - 1, len(data)), hold, -1):
                if data.endswith(form[:k]):
                    hold = k
                    break
        return hold

    # -- values
    def value(self, value: Any) -> Any:
        """``value`` with the secrets masked, as the same kind of value (see the module
        docstring). Objects of other types are returned unchanged: use :meth:`find` to learn
        whether one still holds a secret."""
        if not self.secrets:
            return value
        return self._value(value, 0)

    def _value(self, value: Any, depth: int) -> Any:
        if value is None or isinstance(value, (bool, int, float, complex)):
            return value
        if isinstance(value, str):
            masked = self.text(value)
            return value if masked == value else masked
        if isinstance(value, (bytes, bytearray)):
            masked = self.data(bytes(value))
            if masked == value:
                return value
            return bytearray(masked) if isinstance(value, bytearray) else masked
        if depth > 200:
            return value  # left to find(): too deep to walk
        if isinstance(value, Mapping):
            return {self._value(k, depth + 1): self._value(v, depth + 1) for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(v, depth + 1) for v in value]
        if isinstance(value, tuple):
            items = [self._value(v, depth + 1) for v in value]
            if hasattr(value, "_fields"):  # a named tuple keeps its type
                try:
                    return type(value)(*items)
                except Exception:  # noqa: BLE001 - a tuple subclass with another constructor
                    return tuple(items)
            return tuple(items)
        if isinstance(value, (set, frozenset)):
            items = [self._value(v, depth + 1) for v in value]
            try:
                return type(value)(items)
            except Exception:  # noqa: BLE001 - a set subclass with another constructor
                return frozenset(items) if isinstance(value, frozenset) else set(items)
        module = type(value).__module__ or ""
        if module.startswith("pandas"):
            return self._pandas(value)
        if module.startswith("numpy"):
            return self._numpy(value)
        return value

    def _pickled_has_secret(self, value: Any) -> bool:
        try:
            data = pickle.dumps(value, PICKLE_PROTOCOL)
        except Exception:  # noqa: BLE001 - what cannot be pickled is never stored by the IO manager
            return False
        return self.in_data(data)

    def _pandas(self, value: Any) -> Any:
        import pandas as pd

        if not isinstance(value, (pd.DataFrame, pd.Series, pd.Index)) or not self._pickled_has_secret(value):
            return value
        if isinstance(value, pd.Index):
            return self._index(value)
        if isinstance(value, pd.Series):
            out = self._column(value)
            out.index = self._index(value.index)
            out.name = self._value(value.name, 1)
            out.attrs = self._value(dict(value.attrs), 1)
            return out
        out = value.copy()
        for position in range(out.shape[1]):
            column = out.iloc[:, position]
            masked = self._column(column)
            if masked is not column:
                out.isetitem(position, masked)
        out.columns = self._index(value.columns)
        out.index = self._index(value.index)
        out.attrs = self._value(dict(value.attrs), 1)
        return out

    def _column(self, series: Any) -> Any:
        import pandas as pd

        dtype = series.dtype
        if isinstance(dtype, pd.CategoricalDtype):
            try:
                return series.cat.rename_categories(lambda v: self._value(v, 1))
            except ValueError:  # two categories mask to the same text
                series = series.astype(object)
        elif not (dtype == object or pd.api.types.is_string_dtype(dtype)):
            return series
        masked = series.map(lambda v: self._value(v, 1))
        try:
            return masked.astype(dtype)
        except (TypeError, ValueError):
            return masked

    def _index(self, index: Any) -> Any:
        import pandas as pd

        if isinstance(index, pd.MultiIndex):
            return pd.MultiIndex.from_tuples([self._value(t, 1) for t in index],
                                             names=self._value(list(index.names), 1))
        if index.dtype == object or pd.api.types.is_string_dtype(index.dtype) \
                or isinstance(index.dtype, pd.CategoricalDtype):
            return pd.Index([self._value(v, 1) for v in index], name=self._value(index.name, 1))
        return index

    def _numpy(self, value: Any) -> Any:
        import numpy as np

        if not isinstance(value, np.ndarray):
            if isinstance(value, np.str_):
                return self.text(str(value))
            if isinstance(value, np.bytes_):
                return self.data(bytes(value))
            return value
        if value.dtype.kind not in "OUS" or not self._pickled_has_secret(value):
            return value
        flat = [self._value(v, 1) for v in value.ravel().tolist()]
        out = np.empty(len(flat), dtype=object)
        out[:] = flat
        out = out.reshape(value.shape)
        return out if value.dtype.kind == "O" else out.astype(value.dtype)

    def find(self, value: Any, where: str = "") -> str | None:
        """Where ``value`` (usually already masked) still holds a secret, e.g.
        ``output[2] (a mymodule.Token)`` (``where`` is the name of ``value`` itself), or None.
        Objects that :meth:`value` does not walk into are pickled, as the IO manager stores
        them, and the bytes are searched."""
        if not self.secrets:
            return None
        return self._find(value, where, 0)

    def _find(self, value: Any, where: str, depth: int) -> str | None:
        if value is None or isinstance(value, (bool, int, float, complex)):
            return None
        if isinstance(value, str):
            return (where or "the value") if self.in_text(value) else None
        if isinstance(value, (bytes, bytearray)):
            return (where or "the value") if self.in_data(bytes(value)) else None
        if depth <= 200:
            if isinstance(value, Mapping):
                for key, item in value.items():
                    found = self._find(key, f"a key of {where or 'the value'}", depth + 1) or \
                        self._find(item, _child(where, key), depth + 1)
                    if found:
                        return found
                return None
            if isinstance(value, (list, tuple)):
                for index, item in enumerate(value):
                    found = self._find(item, f"{where}[{index}]", depth + 1)
                    if found:
                        return found
                return None
            if isinstance(value, (set, frozenset)):
                for item in value:
                    found = self._find(item, f"an element of {where or 'the value'}", depth + 1)
                    if found:
                        return found
                return None
        if self._pickled_has_secret(value):
            kind = type(value)
            return f"{where or 'the value'} (a {kind.__module__}.{kind.__qualname__})"
        return None

    def check(self, value: Any, where: str = "") -> Any:
        """:meth:`value`, then :meth:`find`.

        Raises:
            SecretInResultError: a secret is left inside an object that cannot be masked.
        """
        masked = self.value(value)
        found = self.find(masked, where)
        if found:
            raise SecretInResultError(found)
        return masked


def _child(where: str, key: Any) -> str:
    if isinstance(key, str) and key.isidentifier():
        return f"{where}.{key}" if where else key
    return f"{where}[{key!r}]"


@functools.lru_cache(maxsize=128)
def masker(secrets: tuple[str, ...]) -> Masker:
    """The (cached) :class:`Masker` of ``secrets``."""
    return Masker(secrets)


def masker_of(secrets: Iterable[str] | None) -> Masker:
    """:func:`masker` for any iterable of secret values (None: no secrets)."""
    return masker(tuple(sorted(set(secrets or ())))) if secrets else masker(())


# --------------------------------------------------------------------------- registry

_registry: dict[str, frozenset[str]] = {}
_registry_lock = threading.Lock()
_version = [0]
#: Runs remembered per process; the oldest is forgotten beyond this.
MAX_REGISTERED_RUNS = 64


def register(run_id: str | None, values: Iterable[str | None]) -> None:
    """Remember ``values`` as secrets of ``run_id`` in this process, for the sinks that do not
    know the workflow (IO manager, event log, file descriptors). Short values are ignored."""
    new = frozenset(v for v in values if isinstance(v, str) and len(v) >= MIN_MASKED_LENGTH)
    if not new:
        return
    key = run_id or ""
    with _registry_lock:
        old = _registry.get(key, frozenset())
        if new <= old:
            return
        _registry.pop(key, None)
        _registry[key] = old | new
        while len(_registry) > MAX_REGISTERED_RUNS:
            _registry.pop(next(iter(_registry)))
        _version[0] += 1


def registered(run_id: str | None = None) -> tuple[str, ...]:
    """The secrets registered for ``run_id``, or for every run in this process (None)."""
    with _registry_lock:
        if run_id is None:
            values: set[str] = set()
            for found in _registry.values():
                values |= found
        else:
            values = set(_registry.get(run_id, ()))
    return tuple(sorted(values))


def registry_version() -> int:
    """A number that changes whenever the registry does (to cache maskers of it)."""
    return _version[0]


def forget(run_id: str | None) -> None:
    """Drop what the registry holds for ``run_id`` (the run ended in this process)."""
    with _registry_lock:
        if _registry.pop(run_id or "", None) is not None:
            _version[0] += 1


# --------------------------------------------------------------------------- Python logging

_factory_lock = threading.Lock()
_factory_installed = [False]


def install_log_record_masking() -> None:
    """Mask the registered secrets in every :class:`logging.LogRecord` this process creates
    (message, arguments and exception text), whichever logger creates it and whichever handler
    then stores or prints it: a step's ``logging``/``dagster.get_dagster_logger()`` lines reach
    the event log through Dagster's handlers, which yaml2dag does not own.

    Installed once per process, on top of the current record factory
    (:func:`logging.setLogRecordFactory`); costs nothing while no secret is registered.
    """
    import logging

    with _factory_lock:
        if _factory_installed[0]:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if not _registry:
                return record
            try:
                current = masker_of(registered())
                message = record.getMessage()
                masked = current.text(message)
                if masked != message:
                    record.msg, record.args = masked, ()
                if record.exc_info and record.exc_info[0] is not None:
                    record.exc_text = current.text(logging.Formatter().formatException(record.exc_info))
            except Exception:  # noqa: BLE001 - logging must never fail because of masking
                pass
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed[0] = True


__all__ = ["MASK", "MIN_ENCODED_LENGTH", "MIN_MASKED_LENGTH", "Masker", "SecretInResultError", "byte_forms",
           "forget", "install_log_record_masking", "masker", "masker_of", "register", "registered",
           "registry_version", "text_forms"]
