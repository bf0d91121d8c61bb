"""The :class:`Masker`: replaces every form of a fixed set of secrets (spec §5, "Secrets").

It masks text, bytes and values (lists, mappings, data frames, pickles) with ``***``, finds
secrets in a step's result (:meth:`Masker.check` raises :class:`SecretInResultError`), and holds
back the tail of a stream that could be the start of a secret. :func:`masker_of` caches one per
set of secrets. The forms come from :mod:`yaml2dag.format.masking_forms`.
"""


from __future__ import annotations

import functools
import pickle
import re
from collections.abc import Mapping
from typing import Any, Iterable

from yaml2dag.format.masking_forms import (
    MASK,
    MIN_MASKED_LENGTH,
    PICKLE_PROTOCOL,
    SecretInResultError,
    byte_forms,
    text_forms,
)


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
        import pandas as pd  # only for data values: masking text and plain values never loads pandas

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
        import pandas as pd  # only for data values: masking text and plain values never loads pandas

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
        import pandas as pd  # only for data values: masking text and plain values never loads pandas

        if isinstance(index, pd.MultiIndex):
            return pd.MultiIndex.from_tuples([self._value(t, 1) for t in index],
                                             names=self._value(list(index.names), 1))
        if index.dtype == object or pd.api.types.is_string_dtype(index.dtype) \
                or isinstance(index.dtype, pd.CategoricalDtype):
            return pd.Index([self._value(v, 1) for v in index], name=self._value(index.name, 1))
        return index

    def _numpy(self, value: Any) -> Any:
        import numpy as np  # only for arrays: masking text and plain values never loads numpy

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
