"""Version numbers: parsing, ordering, comparing and bumping the ``version`` of a workflow."""

from __future__ import annotations

import re


DEFAULT_VERSION = "1.0.0"


def parse_version(version: str) -> tuple[int, ...] | None:
    """``"1.2.10"`` → ``(1, 2, 10)``; None when the version is not dotted numbers."""
    text = str(version).strip().lstrip("vV")
    if not re.fullmatch(r"\d+(\.\d+)*", text):
        return None
    return tuple(int(p) for p in text.split("."))


def version_key(version: str) -> tuple:
    """Sort key: dotted numbers by value (padded to 3 parts), others after, by text."""
    parsed = parse_version(version)
    if parsed is None:
        return (1, (), str(version))
    return (0, parsed + (0,) * max(0, 3 - len(parsed)), str(version))


def bump_patch(version: str) -> str:
    """The next patch version: ``1.2.3`` → ``1.2.4``, ``2`` → ``2.0.1``; a version whose
    last dot-part is not a number gets ``.1`` appended (``2024a`` → ``2024a.1``)."""
    parsed = parse_version(version)
    if parsed is not None:
        parts = list(parsed) + [0] * max(0, 3 - len(parsed))
        parts[-1] += 1
        return ".".join(str(p) for p in parts)
    head, _, last = str(version).rpartition(".")
    if last.isdigit():
        return f"{head}.{int(last) + 1}"
    return f"{version}.1"


def next_version(current: str, known: list[str]) -> str:
    """A patch bump above the highest of ``current`` and ``known`` (numeric versions), so a
    bump never reuses a version number that exists in the archive."""
    numeric = [v for v in [current, *known] if parse_version(v) is not None]
    base = max(numeric, key=version_key) if numeric and parse_version(current) is not None else current
    candidate = bump_patch(base)
    while candidate in known:
        candidate = bump_patch(candidate)
    return candidate


def is_newer(new: str, old: str) -> bool | None:
    """True/False when both versions are dotted numbers, else None (not comparable)."""
    a, b = parse_version(new), parse_version(old)
    if a is None or b is None:
        return None
    width = max(len(a), len(b), 3)
    return a + (0,) * (width - len(a)) > b + (0,) * (width - len(b))
