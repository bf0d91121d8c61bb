"""Chinese schedule phrases → 5-field cron expressions (see :mod:`.schedules` for English).

==============================================  =====================================
短语 (phrase)                                    cron
==============================================  =====================================
每天 / 每日 / 天天 [时间]                         ``M H * * *`` (no time: midnight)
每天早上 / 每晚 + 时间                            ``M H * * *`` (早上 without a time: asked)
(每个)工作日 / 周一到周五 [时间]                  ``M H * * 1-5``
(每)周末 / 周六和周日 [时间]                      ``M H * * 0,6``
每周一 / 每星期三 / 每周一、三、五 [时间]         ``M H * * 1`` / ``3`` / ``1,3,5``
每周 / 每星期                                    ``0 0 * * 0``
每月 / 每月15号 / 每个月1日 [时间]                ``M H N * *`` (default the 1st)
每小时 / 每隔2小时 / 每5分钟 / 每分钟 / 每3天     ``0 * * * *`` / ``0 */2 * * *`` / ``*/5 * * * *`` ...
早上9点 (alone)                                  ``0 9 * * *``
==============================================  =====================================

Times: ``9点``, ``九点``, ``9点半``, ``8点15分``, ``9点整``, ``21:00``, ``10点一刻``; a part of the day
shifts hours 1-11: 下午/傍晚/晚上 (+12), 中午 (12 and 1-2 → 12-14), 夜里/半夜 (12 → 0);
早上/上午/早晨/清晨/凌晨 keep them. Several times: ``早上9点和下午5点`` (the minutes must agree).
Time zones: 北京时间 / 中国时间 / 东八区 → ``Asia/Shanghai``; ``UTC`` / ``GMT``.
"""

from __future__ import annotations

import re

from yaml2dag.library.drafting.schedules import Schedule, cron_times
from yaml2dag.library.drafting.text import ZH_NUMBER, zh_number

_PART = r"(?:早上|早晨|上午|清晨|凌晨|中午|下午|傍晚|晚上|夜里|夜间|半夜|晚间)"
_TIME = rf"{ZH_NUMBER}\s*(?:[点點时時](?:\s*(?:半|整|一刻|三刻|{ZH_NUMBER}\s*分?|钟|鐘))?|:\d{{2}})"
_ONE_TIME = rf"(?:{_PART}\s*)?{_TIME}"
_TIMES = rf"(?P<times>{_ONE_TIME}(?:\s*(?:和|及|与|以及|,)\s*{_ONE_TIME})*)"
_TZ = r"(?P<tz>北京时间|中国时间|东八区|(?:UTC|GMT)\s*(?:时间)?)"
_DAYCHAR = "[一二三四五六日天七]"
_WEEK = r"(?:周|星期|礼拜)"

#: (regex of the day part, builder of the day-of-month and day-of-week fields, implied part of day)
_DAYSPECS: list[tuple[str, str, str | None]] = [
    (rf"(?:每个?|每逢)?工作日|(?:每)?{_WEEK}一\s*(?:至|到|-|~)\s*{_WEEK}?五", "* 1-5", None),
    (rf"(?:每个?)?周末|(?:每)?{_WEEK}六\s*(?:和|,|及|与)\s*{_WEEK}?[日天]", "* 0,6", None),
    (rf"每个?{_WEEK}(?P<days>{_DAYCHAR}(?:\s*(?:和|,|及|与)\s*{_WEEK}?{_DAYCHAR})*)(?!\s*次)", "days", None),
    (r"每个?月\s*(?P<mday>" + ZH_NUMBER + r")\s*[号日]|每个?月初|每个?月", "month", None),
    (r"每天|每日|天天|每个?(?P<dpart>早上|早晨|上午|晚上|下午)", "* *", None),
    (r"每晚", "* *", "晚上"),
]


def _hour(text: str, part: str | None) -> tuple[int, int]:
    """One time (``下午3点半``) → (hour, minute). Raises ValueError."""
    match = re.fullmatch(rf"(?P<part>{_PART})?\s*(?P<h>{ZH_NUMBER})\s*(?:[点點时時]\s*(?P<rest>.*)|:(?P<mm>\d{{2}}))", text.strip())
    if not match:
        raise ValueError(text)
    part = match["part"] or part
    hour = zh_number(match["h"])
    rest = (match["rest"] or "").strip()
    if match["mm"]:
        minute = int(match["mm"])
    elif rest in ("", "整", "钟", "鐘"):
        minute = 0
    elif rest == "半":
        minute = 30
    elif rest in ("一刻", "三刻"):
        minute = 15 if rest == "一刻" else 45
    else:
        minute = zh_number(rest.rstrip("分").strip())
    if part in ("下午", "傍晚", "晚上", "晚间") and 1 <= hour <= 11:
        hour += 12
    elif part == "中午" and 1 <= hour <= 2:
        hour += 12
    elif part in ("夜里", "夜间", "半夜", "晚上") and hour == 12:
        hour = 0
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"{text}: 不是一天中的时间 (not a time of day)")
    return hour, minute


def _times(text: str, part: str | None) -> tuple[str, str]:
    pairs = []
    for one in re.finditer(_ONE_TIME, text):
        found = re.match(rf"{_PART}", one.group(0))
        if found:
            part = found.group(0)
        pairs.append(_hour(one.group(0), part))
    return cron_times(pairs)


def _dow(days: str) -> str:
    numbers = sorted({0 if ch in "日天七" else "一二三四五六".index(ch) + 1 for ch in re.findall(_DAYCHAR, days)})
    return ",".join(str(n) for n in numbers)


def find_chinese(text: str) -> tuple[Schedule | None, str, str | None]:
    """The first Chinese schedule phrase of ``text``: (schedule or None, ``text`` without it,
    problem or None), as :func:`yaml2dag.library.drafting.schedules.find_english`.

    Raises:
        ValueError: a time that is not a time of day, or times whose minutes differ.
    """
    tz_match = re.search(_TZ, text)
    zone = None
    if tz_match:
        zone = "Asia/Shanghai" if tz_match["tz"][0] in "北中东" else "UTC"

    def finish(match: re.Match, cron: str, note: str | None = None) -> tuple[Schedule, str, None]:
        start, end = match.start(), match.end()
        phrase = text[start:end].strip()
        rest = text[:start] + " , " + text[end:]
        if zone and tz_match:
            rest = rest.replace(tz_match.group(0), " ", 1)
            phrase = phrase if tz_match.group(0) in phrase else f"{phrase} ({tz_match.group(0)})"
        return Schedule(cron, zone, phrase, note), rest.strip(), None

    def cut(match: re.Match) -> str:
        return (text[:match.start()] + " , " + text[match.end():]).strip()

    tz_opt = rf"(?:\s*{_TZ.replace('?P<tz>', '')})?"
    intervals = [
        (rf"每\s*(?:隔)?\s*(?P<n>{ZH_NUMBER})?\s*(?:个)?\s*(?:分钟|分鐘)(?:一次)?", "*/{n} * * * *", "* * * * *", 60),
        (rf"每\s*(?:隔)?\s*(?P<n>{ZH_NUMBER})?\s*(?:个)?\s*(?:小时|小時|钟头)(?:一次)?", "0 */{n} * * *", "0 * * * *", 24),
        (rf"每\s*(?:隔)?\s*(?P<n>{ZH_NUMBER})\s*天(?:一次)?", "0 0 */{n} * *", "0 0 * * *", 32),
    ]
    for regex, many, one, limit in intervals:
        match = re.search(regex, text)
        if match:
            n = zh_number(match["n"]) if match["n"] else 1
            if not 0 < n < limit:
                return None, cut(match), f"{match.group(0).strip()!r}: 间隔必须在 1 到 {limit - 1} 之间 (interval out of range)"
            return finish(match, one if n == 1 else many.format(n=n))
    for spec, fields, implied in _DAYSPECS:
        match = re.search(rf"(?:{spec}){tz_opt}\s*(?P<part>{_PART})?\s*{tz_opt}(?:{_TIMES})?(?:\s*钟)?", text)
        if not match:
            continue
        groups = match.groupdict()
        if fields == "days":
            dom, dow = "*", _dow(groups["days"])
        elif fields == "month":
            dom, dow = (str(zh_number(groups["mday"])) if groups.get("mday") else "1"), "*"
            if not 1 <= int(dom) <= 31:
                return None, cut(match), f"{match.group(0)!r}: 一个月没有第 {dom} 天 (no such day)"
        else:
            dom, dow = fields.split()
        part = groups.get("part") or groups.get("dpart") or implied
        if groups.get("times"):
            minute, hour = _times(groups["times"], part)
            return finish(match, f"{minute} {hour} {dom} * {dow}")
        if part:
            return None, cut(match), f"{match.group(0).strip()!r}: 请说明具体时间, 例如 \"早上9点\" (say at what time)"
        note = None if (dom, dow) == ("*", "*") else "没有给出时间: 午夜 00:00 (no time given: midnight), 例如 \"早上9点\" 可指定时间"
        return finish(match, f"0 0 {dom} * {dow}", note)
    match = re.search(rf"每\s*个?\s*{_WEEK}(?:\s*一次)?(?!{_DAYCHAR})", text)
    if match:
        return finish(match, "0 0 * * 0")
    match = re.search(rf"(?<![每])(?P<times>(?:{_PART}\s*){_TIME}(?:\s*(?:和|及|与|以及|,)\s*{_ONE_TIME})*"
                      r"|\d{1,2}\s*[点點](?:\s*(?:半|整|\d{1,2}\s*分))?)", text)
    if match:
        minute, hour = _times(match["times"], None)
        return finish(match, f"{minute} {hour} * * *")
    return None, text, None
