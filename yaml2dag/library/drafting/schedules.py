"""Schedule phrases (English and Chinese) → 5-field cron expressions.

English (taken out of the description wherever they are):

=======================================================  ====================================
phrase                                                   cron
=======================================================  ====================================
every day / daily / every night / nightly [at T]         ``M H * * *`` (no time: midnight)
every morning / afternoon / evening at T                 ``M H * * *`` (a time is required)
every weekday / weekdays / monday to friday [at T]       ``M H * * 1-5`` (no time: midnight)
every weekend / weekends [at T]                          ``M H * * 0,6`` (no time: midnight)
every monday [and friday] / on mondays [at T]            ``M H * * 1[,5]`` (no time: midnight)
at T (alone)                                             ``M H * * *``
every hour / hourly                                      ``0 * * * *``
every minute / every N minutes / every N hours           ``* * * * *`` / ``*/N * * * *`` / ``0 */N * * *``
every N days                                             ``0 0 */N * *``
every week / weekly                                      ``0 0 * * 0`` (cron's ``@weekly``)
every month / monthly [on the Nth] / on the Nth of ...   ``0 0 N * *`` (default the 1st)
=======================================================  ====================================

Times T: ``9am``, ``9:30 pm``, ``21:00``, ``8:30`` (24-hour without am/pm), ``noon``,
``midnight``; "morning", "afternoon", "evening" or "night" next to a time without am/pm
shift it (``every evening at 8`` → 20:00). Several times joined by "and" share one line when
their minutes agree (``at 9am and 5pm`` → hours ``9,17``). A time zone may follow: ``UTC``,
``GMT`` or an IANA name such as ``Europe/Berlin``.

Chinese (:mod:`.schedules_zh`): 每天/每日, 每天早上9点, 每个工作日上午9点, 周一到周五,
每周一, 每周一、三、五晚上8点半, 每周末, 每周, 每月1号, 每小时, 每5分钟, 每隔2小时,
早上9点 (alone), 北京时间.

The rule for a day without a time is the one cron's ``@daily``/``@weekly``/``@monthly`` follow:
midnight (00:00); the phrase report says so. A part of the day without a time ("every
morning", "每天早上") is not guessed: it is reported with "say at what time".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable
from zoneinfo import available_timezones

_DAYS = {"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6}
_DAY_RE = r"(?:sun|mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?)(?:day)?s?"
_TIME_RE = r"(?:noon|midnight|\d{1,2}(?::\d{2})?(?:\s*(?:am|pm|a\.m\.|p\.m\.))?)"
_PART_RE = r"(?:(?:in\s+the\s+)?(?P<part>morning|afternoon|evening|night))"
_TIMES_RE = rf"(?:at\s+)?(?P<times>{_TIME_RE}(?:\s*(?:,|and|&)\s*{_TIME_RE})*)(?:\s+{_PART_RE})?"
_TZ_RE = r"(?:\s+(?:in\s+)?(?P<tz>utc|gmt|[a-z]+/[a-z_]+(?:/[a-z_]+)?)(?:\s+time)?)?"

#: Part of the day → whether hours 1-11 without am/pm are afternoon hours (+12).
_PM_PARTS = {"afternoon", "evening", "night"}


@dataclass
class Schedule:
    """One schedule found in a description.

    Attributes:
        cron: the 5-field cron expression.
        timezone: an IANA name, or None (UTC).
        phrase: the words it was read from, as written.
        note: a remark for the phrase report (e.g. "no time given: midnight"), or None.
    """

    cron: str
    timezone: str | None
    phrase: str
    note: str | None = None
    adjective: bool = False  # "a weekly report": one word before a noun (kept in the clause)


def day_number(word: str) -> int:
    """``"mon"``/``"Mondays"`` → 1 (Sunday is 0, as in cron). Raises ValueError."""
    word = word.lower()
    for name, number in _DAYS.items():
        if name.startswith(word[:3]):
            return number
    raise ValueError(word)


def parse_time(text: str, part: str | None = None) -> tuple[int, int]:
    """``9am`` → (9, 0), ``9:30 pm`` → (21, 30), ``noon`` → (12, 0); ``8`` with part
    "evening" → (20, 0). Raises ValueError for what is not a time of day."""
    text = text.strip().lower().replace(".", "")
    if text == "noon":
        return 12, 0
    if text == "midnight":
        return 0, 0
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?", text)
    if not match:
        raise ValueError(text)
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if half:
        if not 1 <= hour <= 12:
            raise ValueError(f"{text}: hours with am/pm go from 1 to 12")
        hour = hour % 12 + (12 if half == "pm" else 0)
    elif part in _PM_PARTS and (6 if part == "night" else 1) <= hour <= 11:
        hour += 12  # "at 2 at night" stays 2:00; "every evening at 8" is 20:00
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"{text}: not a time of day")
    return hour, minute


def cron_times(pairs: list[tuple[int, int]]) -> tuple[str, str]:
    """(hour, minute) pairs → (minute field, hour field). Raises ValueError when the minutes
    differ (one cron line cannot say it)."""
    minutes = {m for _h, m in pairs}
    if len(minutes) > 1:
        raise ValueError("times with different minutes need one schedule each")
    return str(minutes.pop()), ",".join(str(h) for h in sorted({h for h, _m in pairs}))


def _times(text: str, part: str | None = None) -> tuple[str, str]:
    parts = [p for p in re.split(r"\s*(?:,|\band\b|&)\s*", text.strip()) if p]
    return cron_times([parse_time(p, part) for p in parts])


_DAYSPEC = (
    # (regex, day-of-week field, part of the day it implies)
    (r"every\s+(?:single\s+)?day|each\s+day|daily", "*", None),
    (r"every\s+night|nightly|each\s+night", "*", "night"),
    (r"(?:every|each)\s+(?P<dpart>morning|afternoon|evening)|in\s+the\s+(?P<dpart2>morning|afternoon|evening)", "*", "?"),
    (r"(?:every|each|on)\s+(?:weekday|workday|business\s+day)s?|weekdays|workdays|(?:from\s+)?monday\s+(?:to|through|thru|-)\s+friday|mon\s*-\s*fri", "1-5", None),
    (r"(?:every|each|on)\s+weekends?|weekends|(?:on\s+)?saturdays?\s+and\s+sundays?", "0,6", None),
)
#: One-word schedules that may stand before a noun ("a weekly report").
_ADJECTIVES = ("daily", "nightly", "hourly", "weekly", "monthly")
_MIDNIGHT = "no time given: at midnight (00:00), as cron's @daily; add a time such as \"at 9am\" for another"


def iana_case(name: str) -> str:
    """``europe/berlin`` → ``Europe/Berlin`` (checked against the zone database when it can)."""
    try:
        for zone in available_timezones():
            if zone.lower() == name.lower():
                return zone
    except Exception:  # noqa: BLE001 - no tz database: keep the capitalised guess
        pass
    return "/".join("_".join(w.capitalize() for w in p.split("_")) for p in name.split("/"))


def find_english(text: str) -> tuple[Schedule | None, str, str | None]:
    """The first English schedule phrase of ``text``.

    Returns:
        (schedule or None, ``text`` without the phrase, problem or None). A problem (an
        interval out of range, a part of the day without a time) comes with the phrase taken
        out and no schedule.

    Raises:
        ValueError: a time that is not a time of day ("13pm"), or times with different minutes.
    """
    low = text.lower()

    def cut(match: re.Match) -> str:
        return (text[:match.start()] + " , " + text[match.end():]).strip()

    def finish(match: re.Match, cron: str, note: str | None = None) -> tuple[Schedule, str, None]:
        tz = match.groupdict().get("tz")
        zone = None
        if tz:
            zone = "UTC" if tz in ("utc", "gmt") else iana_case(tz)
        phrase = text[match.start():match.end()].strip()
        if phrase.lower() in _ADJECTIVES and re.match(r"\s+[a-z]", low[match.end():]):
            rest = " ".join((text[:match.start()] + " " + text[match.end():]).split())
            return Schedule(cron, zone, phrase, note, adjective=True), rest, None
        return Schedule(cron, zone, phrase, note), cut(match), None

    intervals: list[tuple[str, Callable[[re.Match], str], int]] = [
        (r"\bevery\s+(?P<n>\d+)\s*(?:minutes|mins|min)\b", lambda m: f"*/{int(m['n'])} * * * *", 60),
        (r"\bevery\s+minute\b", lambda m: "* * * * *", 0),
        (r"\bevery\s+(?P<n>\d+)\s*(?:hours|hrs|h)\b", lambda m: f"0 */{int(m['n'])} * * *", 24),
        (r"\b(?:every\s+hour|hourly|each\s+hour)\b", lambda m: "0 * * * *", 0),
        (r"\bevery\s+(?P<n>\d+)\s*days\b", lambda m: f"0 0 */{int(m['n'])} * *", 32),
    ]
    for regex, build, limit in intervals:
        match = re.search(regex + _TZ_RE, low)
        if match:
            n = match.groupdict().get("n")
            if n is not None and not 0 < int(n) < limit:
                return None, cut(match), f"{match.group(0).strip()!r}: the interval must be between 1 and {limit - 1}"
            return finish(match, build(match))
    match = re.search(r"\b(?:(?:on\s+the\s+(?P<d1>\d{1,2})(?:st|nd|rd|th)?\s+(?:day\s+)?of\s+)?(?:every|each)\s+month"
                      r"(?:\s+on\s+the\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?)?|monthly(?:\s+on\s+the\s+(?P<d3>\d{1,2})(?:st|nd|rd|th)?)?)"
                      rf"(?:\s+{_TIMES_RE})?" + _TZ_RE, low)
    if match:
        day = int(match["d1"] or match["d2"] or match["d3"] or 1)
        if not 1 <= day <= 31:
            return None, cut(match), f"{match.group(0).strip()!r}: no day {day} in a month"
        minute, hour = _times(match["times"], match["part"]) if match["times"] else ("0", "0")
        return finish(match, f"{minute} {hour} {day} * *")
    match = re.search(rf"\b(?:every\s+week|weekly|once\s+a\s+week)\b(?:\s+{_TIMES_RE})?" + _TZ_RE, low)
    if match and not re.search(rf"\b{_DAY_RE}\b", low[match.end():match.end() + 20]):
        minute, hour = _times(match["times"], match["part"]) if match["times"] else ("0", "0")
        return finish(match, f"{minute} {hour} * * 0")
    days = rf"(?P<days>{_DAY_RE}(?:\s*(?:,|and|&|or)\s*{_DAY_RE})*)(?:\s+{_PART_RE.replace('?P<part>', '?P<dp>')})?"
    for regex in (rf"\b(?:every|each|on)\s+{days}\s+{_TIMES_RE}" + _TZ_RE,
                  rf"\b{_TIMES_RE}\s+(?:every|each|on)\s+{days}" + _TZ_RE,
                  rf"\b(?:every|each|on)\s+{days}\b" + _TZ_RE):
        match = re.search(regex, low)
        if match:
            names = [d for d in re.split(r"\s*(?:,|\band\b|&|\bor\b)\s*", match["days"]) if d]
            numbers = sorted({day_number(d) for d in names})
            dow = ",".join(str(n) for n in numbers)
            part = match.groupdict().get("part") or match.groupdict().get("dp")
            if match.groupdict().get("times"):
                minute, hour = _times(match["times"], part)
                return finish(match, f"{minute} {hour} * * {dow}")
            if part:
                return None, cut(match), f"{match.group(0).strip()!r}: say at what time (e.g. \"at 9am\")"
            return finish(match, f"0 0 * * {dow}", _MIDNIGHT)
    for spec, dow, implied in _DAYSPEC:
        for regex in (rf"\b(?:{spec})(?:\s+{_PART_RE.replace('?P<part>', '?P<p1>')})?\s+{_TIMES_RE}" + _TZ_RE,
                      rf"\b{_TIMES_RE}\s+(?:{spec})" + _TZ_RE):
            match = re.search(regex, low)
            if match:
                part = (match.groupdict().get("part") or match.groupdict().get("p1")
                        or match.groupdict().get("dpart") or match.groupdict().get("dpart2")
                        or (implied if implied != "?" else None))
                minute, hour = _times(match["times"], part)
                return finish(match, f"{minute} {hour} * * {dow}")
    for spec, dow, implied in _DAYSPEC:
        match = re.search(rf"\b(?:{spec})(?:\s+{_PART_RE})?\b" + _TZ_RE, low)
        if match:
            if implied == "?" or match.groupdict().get("part"):
                return None, cut(match), f"{match.group(0).strip()!r}: say at what time (e.g. \"at 9am\")"
            return finish(match, f"0 0 * * {dow}", None if dow == "*" else _MIDNIGHT)
    match = re.search(rf"\bat\s+(?P<times>{_TIME_RE}(?:\s*(?:,|and|&)\s*{_TIME_RE})*)(?:\s+{_PART_RE})?\b" + _TZ_RE, low)
    if match and re.search(r"\d|noon|midnight", match["times"]):
        minute, hour = _times(match["times"], match["part"])
        return finish(match, f"{minute} {hour} * * *")
    return None, text, None
