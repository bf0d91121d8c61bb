"""The ``since`` parameter of ``email.fetch``: accepted forms and their IMAP search date.

:func:`parse_since` reads a date, a date-time, ``today``/``yesterday``, an age (``2 days ago``)
or a duration (``36h``, ISO 8601 ``P1D``); :func:`imap_date` writes the day as IMAP's ``SINCE``
wants it (RFC 3501 ``date``: ``01-Nov-2026``). ``_SINCE_PATTERN`` is the same set as a JSON
Schema pattern for the validator.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

from yaml2dag.format.durations import parse_duration
from yaml2dag.tools.base import ToolError


_SINCE_PATTERN = (
    r"^\s*("
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"                                             # date
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?"  # date-time
    r"|today|yesterday"
    r"|[0-9]+(\.[0-9]+)?\s*(minute|hour|day|week)s?\s+ago"                       # 2 days ago
    r"|([0-9]+(\.[0-9]+)?\s*(ms|s|m|h|d)?\s*)+"                                  # 36h, 1d12h
    r"|P[0-9DTHMS.]+"                                                            # ISO-8601 duration
    r")\s*$"
)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_AGO = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(minute|hour|day|week)s?\s+ago\s*$", re.I)
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400, "week": 604800}


def parse_since(value: Any, now: dt.datetime | None = None) -> tuple[dt.date, dt.datetime | None]:
    """Interpret a ``since`` value.

    Args:
        value: ``"2026-11-01"`` (a whole day: IMAP ``SINCE`` semantics), an ISO date-time
            (UTC when it has no offset), ``"today"``/``"yesterday"`` (UTC dates), or an age:
            ``"2 days ago"``, ``"36h"``, ``"PT12H"``, a number of seconds.
        now: the current time (UTC, for tests); default now.

    Returns:
        ``(search_date, moment)``: the date for the server-side ``SINCE`` search, and the exact
        instant messages must have been received at or after (None for whole dates).

    Raises:
        ToolError: (not retryable) none of these forms.
    """
    now = now or dt.datetime.now(dt.timezone.utc)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _moment(now - dt.timedelta(seconds=float(value)))
    text = str(value).strip()
    lowered = text.lower()
    if lowered == "today":
        return now.date(), None
    if lowered == "yesterday":
        return now.date() - dt.timedelta(days=1), None
    if re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$", text):
        try:
            return dt.date.fromisoformat(text), None
        except ValueError:
            raise ToolError(f"since: {text!r} is not a valid date", retryable=False) from None
    if re.match(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[T ]", text):
        try:
            moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise ToolError(f"since: {text!r} is not a valid date-time", retryable=False) from None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.timezone.utc)
        return _moment(moment)
    ago = _AGO.match(text)
    if ago:
        seconds = float(ago.group(1)) * _UNIT_SECONDS[ago.group(2).lower()]
        return _moment(now - dt.timedelta(seconds=seconds))
    try:
        seconds = parse_duration(text)
    except ValueError:
        raise ToolError(f"since: expected a date (\"2026-11-01\"), a date-time, \"today\", \"yesterday\" or an "
                        f"age (\"2 days ago\", \"36h\"), got {text!r}", retryable=False) from None
    return _moment(now - dt.timedelta(seconds=seconds))


def _moment(moment: dt.datetime) -> tuple[dt.date, dt.datetime]:
    # IMAP SINCE compares dates in the server's time zone: search a day earlier, filter exactly.
    return (moment.astimezone(dt.timezone.utc) - dt.timedelta(days=1)).date(), moment


def imap_date(day: dt.date) -> str:
    """``01-Nov-2026`` (RFC 3501 date, English month names whatever the locale)."""
    return f"{day.day:02d}-{_MONTHS[day.month - 1]}-{day.year}"
