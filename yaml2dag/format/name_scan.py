"""The line scan of a workflow file's header: its top-level ``name``, ``id`` and ``triggers`` read
without a YAML parse, for the name index (:mod:`yaml2dag.format.name_index`, issue 13).

:func:`read_entry` gives one file's :class:`IndexEntry`; a file whose top-level lines the scan
cannot read with certainty (continued or quoted-with-escapes values, duplicate keys, anything
that is not ``key: value``, JSON, a BOM, ``\\r``, over 1 MiB) is parsed by the loader
(:func:`yaml2dag.format.loader.load_file`) instead, so both give the same names and ids.
Nothing here imports Dagster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from yaml2dag.format.loader import load_file
from yaml2dag.format.model import slugify

#: Files larger than this are read by the loader, which reports the size limit
#: (:data:`yaml2dag.format.limits.MAX_FILE_BYTES`).
_SCAN_LIMIT = 1_048_576

_TOP_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_-]*)[ \t]*:(?:[ \t]+(.*?))?[ \t]*$")
_PLAIN = re.compile(r"^[A-Za-z_][^#]*?$")
# YAML 1.1 plain scalars the safe loader turns into booleans or null (PyYAML resolvers)
_NOT_STRINGS = {"y", "n", "yes", "no", "true", "false", "on", "off", "null", "~"}
_SPECIAL = set("&*!|>'\"{[%@`,?:-#<=")


@dataclass(frozen=True)
class IndexEntry:
    """One workflow file as the name index sees it.

    Attributes:
        path: the file.
        file: the file as reports name it (``str(path)``).
        mapping: whether the document is a mapping (else it has no workflow at all).
        name: the top-level ``name`` when it is a string, else ``""``.
        id: the job id the model gives the file: ``id`` when it is a string, else the slug of
            ``name`` (:func:`yaml2dag.format.model.slugify`), else ``""``.
        has_triggers: the file has a top-level ``triggers`` key.
    """

    path: Path
    file: str
    mapping: bool
    name: str
    id: str
    has_triggers: bool

    @property
    def stem(self) -> str:
        return self.path.stem


def _plain_value(raw: str) -> str | None:
    """The string a one-line YAML value stands for, or None when the scan is unsure."""
    if raw.startswith('"'):
        end = raw.find('"', 1)
        body = raw[1:end]
        if end < 0 or "\\" in body or raw[end + 1:].strip() not in ("",) and not raw[end + 1:].lstrip().startswith("#"):
            return None
        return body
    if raw.startswith("'"):
        body, i = [], 1
        while i < len(raw):
            ch = raw[i]
            if ch == "'":
                if raw[i + 1:i + 2] == "'":
                    body.append("'")
                    i += 2
                    continue
                rest = raw[i + 1:].strip()
                if rest and not rest.startswith("#"):
                    return None
                return "".join(body)
            body.append(ch)
            i += 1
        return None
    value = raw
    cut = value.find(" #")
    if cut >= 0:
        value = value[:cut].rstrip()
    if not value or value[0] in _SPECIAL or value[0].isdigit() or value[0] in "+." or ": " in value \
            or value.endswith(":") or "\t#" in value or value.lower() in _NOT_STRINGS:
        return None
    return value


def _scan(text: str) -> tuple[bool, str, str | None, bool] | None:
    """``(mapping, name, id or None, has_triggers)`` from the top-level lines of a YAML
    document, or None when a line is not one the scan understands with certainty (then the
    loader reads the file)."""
    found: dict[str, str] = {}
    seen: set[str] = set()
    pending: str | None = None  # a name/id key whose one-line value must not continue
    keys = 0
    for number, line in enumerate(text.splitlines()):
        if not line.strip():
            continue
        first = line[0]
        if first in " \t":
            if pending is not None and not line.lstrip().startswith("#"):
                return None  # a plain scalar continued on the next line, or a nested value
            continue
        pending = None
        if first == "#":
            continue
        if line.rstrip() == "---" and keys == 0 and number == 0:
            continue
        match = _TOP_KEY.match(line)
        if match is None:
            return None
        key, raw = match.group(1), match.group(2)
        if key in seen:
            return None  # duplicate keys: the loader decides
        seen.add(key)
        keys += 1
        if key in ("name", "id"):
            if raw is None or raw.startswith("#"):
                return None
            value = _plain_value(raw)
            if value is None:
                return None
            found[key] = value
            pending = key
    if keys == 0:
        return None
    name = found.get("name", "")
    return True, name, found.get("id"), "triggers" in seen


def _model_id(data_id, name: str) -> str:
    """The job id rule of :func:`yaml2dag.format.model.build_workflow`."""
    return data_id if isinstance(data_id, str) else slugify(name) if name else ""


def read_entry(path: Path) -> IndexEntry:
    """The :class:`IndexEntry` of one file: a line scan, or the loader when the scan is unsure.

    Never raises: an unreadable file is an entry without name or id (its stand-in job is named
    after the file).
    """
    file = str(path)
    scanned = None
    try:
        if path.suffix.lower() != ".json" and path.stat().st_size <= _SCAN_LIMIT:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
            if not text.startswith("\ufeff") and "\r" not in text:
                scanned = _scan(text)
    except (OSError, UnicodeDecodeError, ValueError):
        scanned = None
    if scanned is not None:
        mapping, name, data_id, has_triggers = scanned
        return IndexEntry(path, file, mapping, name, _model_id(data_id, name), has_triggers)
    try:
        data = load_file(path).data
    except Exception:  # noqa: BLE001 - the validator reports it; the index only needs names
        data = None
    if not isinstance(data, dict):
        return IndexEntry(path, file, False, "", "", False)
    name = data.get("name") if isinstance(data.get("name"), str) else ""
    return IndexEntry(path, file, True, name, _model_id(data.get("id"), name), "triggers" in data)
