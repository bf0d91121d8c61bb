"""File formats of the ``data`` tool: which one a name means, and which options each accepts.

Formats: ``csv`` (also ``.tsv``, tab-separated), ``json`` (also ``.jsonl``/``.ndjson``, one
record per line), ``parquet`` (needs ``pyarrow``) and ``sqlite``. A format is taken from the
``format`` parameter, else from the file name's suffix (a compression suffix such as ``.gz`` is
looked through), else, for a URL, from the response's ``Content-Type``.

``options`` are passed to the pandas reader or writer; only the keys listed here are accepted,
so a workflow cannot reach reader arguments that run code or open other files.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlparse

from yaml2dag.tools.base import ToolError

FORMATS = ("csv", "json", "parquet", "sqlite")

#: Suffix → (format, default reader/writer options).
SUFFIXES: dict[str, tuple[str, dict[str, Any]]] = {
    ".csv": ("csv", {}),
    ".tsv": ("csv", {"sep": "\t"}),
    ".tab": ("csv", {"sep": "\t"}),
    ".json": ("json", {}),
    ".jsonl": ("json", {"lines": True}),
    ".ndjson": ("json", {"lines": True}),
    ".parquet": ("parquet", {}),
    ".pq": ("parquet", {}),
    ".sqlite": ("sqlite", {}),
    ".sqlite3": ("sqlite", {}),
    ".db": ("sqlite", {}),
}

#: Compression suffix → pandas ``compression`` value (CSV and JSON).
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".zip": "zip", ".xz": "xz", ".zst": "zstd"}

#: Content-Type (without parameters) → format, for URLs whose path has no known suffix.
CONTENT_TYPES = {
    "text/csv": ("csv", {}),
    "application/csv": ("csv", {}),
    "text/tab-separated-values": ("csv", {"sep": "\t"}),
    "application/json": ("json", {}),
    "text/json": ("json", {}),
    "application/x-ndjson": ("json", {"lines": True}),
    "application/jsonl": ("json", {"lines": True}),
    "application/vnd.apache.parquet": ("parquet", {}),
    "application/x-parquet": ("parquet", {}),
    "application/vnd.sqlite3": ("sqlite", {}),
    "application/x-sqlite3": ("sqlite", {}),
}

#: Reader options accepted per format (``read``).
READ_OPTIONS: dict[str, tuple[str, ...]] = {
    "csv": ("sep", "header", "names", "index_col", "usecols", "dtype", "parse_dates", "date_format",
            "encoding", "nrows", "skiprows", "na_values", "keep_default_na", "true_values",
            "false_values", "decimal", "thousands", "comment", "quotechar"),
    "json": ("orient", "lines", "dtype", "convert_dates", "encoding", "nrows"),
    "parquet": ("usecols",),
    "sqlite": ("parse_dates", "dtype", "index_col", "nrows"),
}

#: Writer options accepted per format (``write``).
WRITE_OPTIONS: dict[str, tuple[str, ...]] = {
    "csv": ("sep", "header", "encoding", "date_format", "float_format", "na_rep", "quotechar",
            "decimal"),
    "json": ("orient", "lines", "date_format", "indent", "double_precision"),
    "parquet": ("compression",),
    "sqlite": ("dtype", "chunksize"),
}


@dataclass
class Format:
    """A resolved format: its name, default options from the suffix, and compression."""

    name: str
    defaults: dict[str, Any] = field(default_factory=dict)
    compression: str | None = None


def split_suffix(name: str) -> tuple[str, str | None]:
    """(format suffix, compression) of a file name or URL path: ``a.csv.gz`` → (``.csv``, ``gzip``)."""
    lowered = name.lower()
    if "://" in lowered:
        lowered = urlparse(lowered).path
    compression = None
    for suffix, kind in COMPRESSIONS.items():
        if lowered.endswith(suffix):
            compression = kind
            lowered = lowered[: -len(suffix)]
            break
    dot = lowered.rfind(".")
    slash = lowered.rfind("/")
    suffix = lowered[dot:] if dot > slash else ""
    return suffix, compression


def resolve_format(explicit: str | None, name: str, content_type: str | None = None) -> Format:
    """The format of ``name`` (a path or URL).

    Args:
        explicit: the ``format`` parameter, or None.
        name: the file path or URL (its suffix is used when ``explicit`` is None).
        content_type: a URL response's ``Content-Type`` header, tried after the suffix.

    Raises:
        ToolError: (not retryable) the format is unknown or cannot be told.
    """
    suffix, compression = split_suffix(name)
    if explicit is not None:
        if explicit not in FORMATS:
            raise ToolError(f"unknown format {explicit!r} (formats: {', '.join(FORMATS)})", retryable=False)
        known = SUFFIXES.get(suffix)
        defaults = dict(known[1]) if known and known[0] == explicit else {}
        return Format(explicit, defaults, compression)
    if suffix in SUFFIXES:
        fmt, defaults = SUFFIXES[suffix]
        return Format(fmt, dict(defaults), compression)
    if content_type:
        kind = content_type.split(";", 1)[0].strip().lower()
        if kind in CONTENT_TYPES:
            fmt, defaults = CONTENT_TYPES[kind]
            return Format(fmt, dict(defaults), compression)
    what = f"{name} (Content-Type {content_type})" if content_type else name
    raise ToolError(f"cannot tell the format of {what} from its name: set `format` "
                    f"({', '.join(FORMATS)})", retryable=False)


def check_options(options: Any, fmt: str, allowed: Mapping[str, tuple[str, ...]], where: str = "options") -> dict:
    """``options`` as a dict, after checking every key applies to ``fmt``.

    Raises:
        ToolError: (not retryable) ``options`` is not a mapping or has a key ``fmt`` does not take.
    """
    if options is None:
        return {}
    if not isinstance(options, Mapping):
        raise ToolError(f"`{where}` must be a mapping, got {type(options).__name__}", retryable=False)
    keys = allowed[fmt]
    for key in options:
        if key not in keys:
            raise ToolError(f"`{where}.{key}` does not apply to {fmt} data "
                            f"(options for {fmt}: {', '.join(keys)})", retryable=False)
    return dict(options)


def require_parquet_engine(action: str) -> None:
    """Raise a clear error when no Parquet engine is installed.

    Raises:
        ToolError: (not retryable) neither ``pyarrow`` nor ``fastparquet`` can be imported.
    """
    if importlib.util.find_spec("pyarrow") is None and importlib.util.find_spec("fastparquet") is None:
        raise ToolError(f"{action} Parquet needs the pyarrow package, which is not installed: "
                        "pip install pyarrow", retryable=False)
