"""Cron expressions of schedule triggers (spec §7): parsing, checking, words, next times.

Accepted: the standard 5 fields ``minute hour day-of-month month day-of-week`` with ``*``,
numbers, ranges ``a-b``, steps ``*/n`` and ``a-b/n``, lists ``a,b``, month names ``JAN``–``DEC``
and weekday names ``SUN``–``SAT`` (0 and 7 are both Sunday), as in cron(5) and Dagster's
``ScheduleDefinition``; and the shorthands ``@yearly``, ``@annually``, ``@monthly``,
``@weekly``, ``@daily``, ``@midnight``, ``@hourly``. As in cron(5), when both day fields are
restricted a day matches if either matches.

Refused besides malformed fields (:func:`_check_days_exist`): a day of month that no month of
the expression has (``0 0 31 4 *``: the schedule would never run), and a single day 30 or 31 in
February alone even with a day of week (``0 0 30 2 1``), which Dagster refuses at load. A unit
test compares what :func:`parse` accepts with Dagster's ``is_valid_cron_string``.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass

SHORTHANDS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_FIELDS = (
    ("minute", 0, 59, None),
    ("hour", 0, 23, None),
    ("day of month", 1, 31, None),
    ("month", 1, 12, ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]),
    ("day of week", 0, 7, ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]),
)

_MONTH_NAMES = ["January", "February", "March", "April", "May", "June", "July", "August",
                "September", "October", "November", "December"]


class CronError(ValueError):
    """A cron expression that cron(5) and Dagster would not accept; the message says why."""


@dataclass(frozen=True)
class Cron:
    """A parsed cron expression.

    Attributes:
        expression: the 5-field form (shorthands expanded).
        minutes, hours, days, months, weekdays: the values each field allows
            (weekdays 0–6, Sunday 0).
        day_star, weekday_star: whether the day fields were ``*`` (for cron's OR rule).
    """

    expression: str
    minutes: frozenset
    hours: frozenset
    days: frozenset
    months: frozenset
    weekdays: frozenset
    day_star: bool
    weekday_star: bool

    def matches_day(self, day: _dt.date) -> bool:
        if day.month not in self.months:
            return False
        dom = day.day in self.days
        dow = ((day.weekday() + 1) % 7) in self.weekdays
        if self.day_star and self.weekday_star:
            return True
        if self.day_star:
            return dow
        if self.weekday_star:
            return dom
        return dom or dow


def _value(token: str, lo: int, hi: int, names, field: str) -> int:
    upper = token.upper()
    if names and upper in names:
        return names.index(upper) + (1 if field == "month" else 0)
    if not token.isdigit():
        raise CronError(f"{field}: `{token}` is not a number" + (f" or a name ({names[0]}…{names[-1]})" if names else ""))
    value = int(token)
    if not lo <= value <= hi:
        raise CronError(f"{field}: {value} is out of range {lo}-{hi}")
    return value


def _parse_field(text: str, lo: int, hi: int, names, field: str) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        if not part:
            raise CronError(f"{field}: empty list item in `{text}`")
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise CronError(f"{field}: step `{step_text}` must be a positive number")
            step = int(step_text)
        if base == "*":
            start, end = lo, hi
        elif "-" in base:
            a, _, b = base.partition("-")
            start, end = _value(a, lo, hi, names, field), _value(b, lo, hi, names, field)
            if start > end:
                raise CronError(f"{field}: range `{base}` goes backwards")
        else:
            start = _value(base, lo, hi, names, field)
            end = hi if slash else start
        values.update(range(start, end + 1, step))
    return values


def parse(expression: str) -> Cron:
    """Parse a cron expression.

    Raises:
        CronError: with the field and the reason, e.g. ``hour: 25 is out of range 0-23``.
    """
    if not isinstance(expression, str) or not expression.strip():
        raise CronError("empty cron expression")
    text = expression.strip()
    if text.startswith("@"):
        if text.lower() not in SHORTHANDS:
            raise CronError(f"unknown shorthand `{text}`; use one of {', '.join(SHORTHANDS)}")
        text = SHORTHANDS[text.lower()]
    parts = text.split()
    if len(parts) != 5:
        raise CronError(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}")
    sets = [
        _parse_field(part, lo, hi, names, name)
        for part, (name, lo, hi, names) in zip(parts, _FIELDS)
    ]
    weekdays = frozenset(d % 7 for d in sets[4])
    day_star, weekday_star = parts[2].startswith("*"), parts[4].startswith("*")
    _check_days_exist(sets[2], sets[3], day_star, weekday_star)
    return Cron(
        expression=text,
        minutes=frozenset(sets[0]),
        hours=frozenset(sets[1]),
        days=frozenset(sets[2]),
        months=frozenset(sets[3]),
        weekdays=weekdays,
        # like Vixie cron, a field that starts with `*` counts as unrestricted for the OR rule
        day_star=day_star,
        weekday_star=weekday_star,
    )


#: The most days each month can have (February: 29, in leap years).
MONTH_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _check_days_exist(days: set[int], months: set[int], day_star: bool, weekday_star: bool) -> None:
    """Refuse day-of-month/month combinations that never happen.

    * Only days that no month of the expression has (``0 0 31 4,6 *``, ``0 0 30 2 *``) with an
      unrestricted day of week: the schedule would never run.
    * Exactly one day, 30 or 31, in February alone, whatever the day of week says: Dagster's
      ``ScheduleDefinition`` refuses these at load (its cron check, ``is_valid_cron_string`` in
      Dagster's schedule utilities), although cron(5) would run ``0 0 30 2 1`` on Mondays in February.

    Raises:
        CronError: naming the days and months and why.
    """
    if day_star:
        return
    day_words = _list_words([str(d) for d in sorted(days)])
    if months == {2} and len(days) == 1 and days <= {30, 31}:
        why = ("Dagster refuses this combination even with a day of week; use the day of week alone"
               if not weekday_star else "the schedule would never run")
        raise CronError(f"day of month: February has no day {day_words}: {why}")
    if weekday_star and not any(d <= MONTH_DAYS[m - 1] for m in months for d in days):
        month_words = _list_words([_MONTH_NAMES[m - 1] for m in sorted(months)])
        has = "has" if len(months) == 1 else "have"
        plural = "day" if len(days) == 1 else "days"
        raise CronError(f"day of month: {month_words} {has} no {plural} {day_words}: the schedule would never run")


def normalize(expression: str) -> str:
    """The 5-field form of an expression (shorthands expanded)."""
    return parse(expression).expression


def next_times(expression: str, start: _dt.datetime, count: int = 1) -> list[_dt.datetime]:
    """The next ``count`` times strictly after ``start`` (an aware datetime, in its zone).

    Wall-clock times are generated in ``start``'s time zone and handled on DST change days as
    Dagster's schedules handle them: a time that does not exist (spring forward) runs at the
    first time after the gap, a time that exists twice (fall back) runs once, at its second
    occurrence; a schedule that runs every hour skips the missing hour and runs in both
    repeated ones.
    """
    cron = parse(expression)
    tz = start.tzinfo
    every_hour = len(cron.hours) == 24
    # compare instants, not wall clocks (datetimes sharing a tzinfo ignore `fold`)
    key = (lambda t: t) if tz is None else (lambda t: t.timestamp())
    out: list[_dt.datetime] = []
    day = start.date()
    for _ in range(366 * 8):  # enough for any valid expression (Feb 29 on a given weekday)
        if cron.matches_day(day):
            times: list[_dt.datetime] = []
            for hour in sorted(cron.hours):
                for minute in sorted(cron.minutes):
                    naive = _dt.datetime(day.year, day.month, day.day, hour, minute)
                    times += _local_times(naive, tz, every_hour)
            for when in sorted(times, key=key):
                if key(when) > key(start) and (not out or key(when) > key(out[-1])):
                    out.append(when)
                    if len(out) == count:
                        return out
        day += _dt.timedelta(days=1)
    return out


def _exists(naive: _dt.datetime, tz) -> bool:
    back = naive.replace(tzinfo=tz).astimezone(_dt.timezone.utc).astimezone(tz)
    return back.replace(tzinfo=None) == naive


def _local_times(naive: _dt.datetime, tz, every_hour: bool) -> list[_dt.datetime]:
    """The instants a wall-clock time of a schedule stands for (see :func:`next_times`)."""
    if tz is None:
        return [naive]
    first, second = naive.replace(tzinfo=tz), naive.replace(tzinfo=tz, fold=1)
    if not _exists(naive, tz):  # in a spring-forward gap
        if every_hour:
            return []
        moved = naive
        while not _exists(moved, tz):
            moved += _dt.timedelta(minutes=1)
        return [moved.replace(tzinfo=tz)]
    if first.utcoffset() != second.utcoffset():  # repeated by a fall-back
        return [first, second] if every_hour else [second]
    return [first]


def _list_words(values: list[str]) -> str:
    if len(values) == 1:
        return values[0]
    return ", ".join(values[:-1]) + " and " + values[-1]


def describe(expression: str, timezone: str | None = None) -> str:
    """The schedule in words: ``"At 06:30, Monday through Friday (Europe/Berlin)"``.

    The words are cron-descriptor's (https://github.com/Salamek/cron-descriptor, 24-hour times),
    of the expression as :func:`parse` normalises it (shorthands expanded); ``parse`` decides
    what is valid, so Dagster and yaml2dag accept the same expressions.

    Args:
        expression: a cron expression (5 fields or a shorthand such as ``@daily``).
        timezone: an IANA time zone name appended in parentheses, or ``None``.

    Raises:
        CronError: the expression is invalid.
    """
    from cron_descriptor import ExpressionDescriptor, Options  # reason: ~40 ms of gettext set-up, only when words are asked for

    options = Options()
    options.use_24hour_time_format = True
    text = ExpressionDescriptor(parse(expression).expression, options).get_description()
    if timezone:
        text += f" ({timezone})"
    return text
