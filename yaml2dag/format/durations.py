"""Durations: ``30``, ``"30s"``, ``"10m"``, ``"2h"``, ``"1h30m"``, ``"500ms"``, ISO-8601 ``"PT10M"``.

Spec §4 (``timeout``) and §2 (workflow ``timeout``). A bare number is seconds.
"""

from __future__ import annotations

import math
import re

_UNITS = {"ms": 0.001, "s": 1.0, "": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?\s*")
_ISO = re.compile(
    r"^P(?!$)(?:(?P<d>[0-9]+)D)?(?:T(?=[0-9])(?:(?P<h>[0-9]+)H)?(?:(?P<m>[0-9]+)M)?(?:(?P<s>[0-9]+(?:\.[0-9]+)?)S)?)?$"
)


def parse_duration(value: object) -> float:
    """Seconds in a duration value.

    Args:
        value: a non-negative number (seconds) or a duration string.

    Returns:
        The duration in seconds (float).

    Raises:
        ValueError: the value is not a duration (the message shows accepted forms), or it is
            NaN, infinite or too large for a float (such as ``1`` followed by 400 zeros).
    """
    seconds = _parse(value)
    if not math.isfinite(seconds):
        raise ValueError(f"{_short(value)} is too long to be a duration")
    return seconds


def _short(value: object) -> str:
    if isinstance(value, int) and abs(value) >= 10**30:  # str() refuses more than 4,300 digits
        return f"an integer of about {int(value.bit_length() * 0.30103) + 1} digits"
    text = repr(value)
    return text if len(text) <= 40 else text[:30] + "…"


def _parse(value: object) -> float:
    if isinstance(value, bool):
        raise ValueError(_message(value))
    if isinstance(value, (int, float)):
        if value != value:
            raise ValueError(_message(value))
        if value < 0:
            raise ValueError(_message(value))
        try:
            return float(value)
        except OverflowError:
            return math.inf
    if not isinstance(value, str):
        raise ValueError(_message(value))
    text = value.strip()
    iso = _ISO.match(text)
    if iso:
        parts = iso.groupdict()
        return (
            float(parts["d"] or 0) * 86400
            + float(parts["h"] or 0) * 3600
            + float(parts["m"] or 0) * 60
            + float(parts["s"] or 0)
        )
    pos, total, matched = 0, 0.0, False
    while pos < len(text):
        match = _PART.match(text, pos)
        if not match or match.end() == pos:
            raise ValueError(_message(value))
        total += float(match.group(1)) * _UNITS[match.group(2) or ""]
        pos = match.end()
        matched = True
    if not matched:
        raise ValueError(_message(value))
    return total


def format_duration(seconds: float | None) -> str:
    """``5400`` → ``"1h30m"``; ``45.7`` → ``"45.7s"``; ``0.25`` → ``"250ms"``; None → ``"-"``."""
    if seconds is None:
        return "-"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s" if seconds % 1 else f"{int(seconds)}s"
    out = ""
    rest = int(round(seconds))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if rest >= size:
            out += f"{rest // size}{unit}"
            rest %= size
    return out


def _message(value: object) -> str:
    return (
        f"{value!r} is not a duration: use seconds (30), a string such as \"30s\", \"10m\", "
        "\"2h\", \"1h30m\", or ISO-8601 \"PT10M\""
    )
