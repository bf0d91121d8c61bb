"""Moments of a run: the TIME forms ``status --at``, ``events --since`` and ``events --until`` take.

A TIME is an ISO-8601 time (``2026-12-07T13:05:27Z``, ``2026-12-07 13:05:27.250+01:00``; without
an offset it is UTC, like every time yaml2dag prints) or ``+DURATION`` after the run's start
(``+30s``, ``+5m``, ``+1m30s``, ``+250ms``: :func:`yaml2dag.format.durations.parse_duration`).
Event times are compared to the millisecond, as ``yaml2dag events`` shows them: the time an event
is shown with is at that event.
"""

from __future__ import annotations

import datetime as _dt

from yaml2dag.format.durations import parse_duration

#: What a TIME may be, for error messages.
EXPECTED = "an ISO time such as 2026-12-07T13:05:27Z (UTC when it has no offset) or +DURATION after the run's start such as +30s or +5m"


class MomentError(ValueError):
    """A TIME that is not one, or that does not fit the run; ``option`` names the option it came
    from (``at``, ``since``, ``until``), for the message a user reads."""

    def __init__(self, option: str, message: str):
        super().__init__(message)
        self.option = option


def parse_moment(option: str, text: str, start: float | None) -> float:
    """Seconds since the epoch of a TIME.

    Args:
        option: the option it came from (``at``, ``since``, ``until``), named in errors.
        text: the TIME (see the module).
        start: the run's start (seconds since the epoch) that ``+DURATION`` counts from; None
            when the run has not started (a relative TIME is then an error).

    Raises:
        MomentError: not a TIME, or a relative one for a run that has not started.
    """
    value = (text or "").strip()
    if value.startswith("+"):
        try:
            offset = parse_duration(value[1:])
        except ValueError:
            raise MomentError(option, f"expected {EXPECTED}, not {text!r}") from None
        if start is None:
            raise MomentError(option, f"{text!r} counts from the run's start, and the run has not started; "
                                      "give an ISO time")
        return _checked(option, text, start + offset)
    try:
        when = _dt.datetime.fromisoformat(value.replace(" ", "T", 1) if " " in value else value)
    except ValueError:
        raise MomentError(option, f"expected {EXPECTED}, not {text!r}") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=_dt.timezone.utc)
    return _checked(option, text, when.timestamp())


def _checked(option: str, text: str, stamp: float) -> float:
    try:
        to_ms(stamp)
    except (OverflowError, OSError, ValueError):
        raise MomentError(option, f"expected {EXPECTED}, not {text!r} (beyond the dates a run can have)") from None
    return stamp


def to_ms(stamp: float) -> int:
    """A time (seconds since the epoch) in whole milliseconds, truncated as ``events`` prints
    times (``isoformat(timespec="milliseconds")``): what TIMEs and event times are compared by."""
    when = _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc)
    return int(when.replace(microsecond=0).timestamp()) * 1000 + when.microsecond // 1000


def iso_ms(stamp: float) -> str:
    """``2026-12-07T13:05:27.250+00:00`` for a time (seconds since the epoch)."""
    return _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc).isoformat(timespec="milliseconds")
