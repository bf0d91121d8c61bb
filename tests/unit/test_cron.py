"""Cron expressions: parsing, errors, words, and next run times across DST changes.

The DST expectations follow Dagster's documented schedule behaviour ("Customizing a schedule's
execution timezone"): a daily time that does not exist runs at the first time after the gap,
a daily time that exists twice runs once, at its second occurrence, and hourly schedules run
once per real hour.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from yaml2dag import cron

BERLIN = ZoneInfo("Europe/Berlin")


def iso(times: list[dt.datetime]) -> list[str]:
    return [t.isoformat() for t in times]


# --------------------------------------------------------------------------- parsing


def test_parse_fields_names_and_sunday_as_seven():
    parsed = cron.parse("*/15 9-17 1,15 JAN-MAR MON-FRI")
    assert parsed.minutes == {0, 15, 30, 45}
    assert parsed.hours == set(range(9, 18))
    assert parsed.days == {1, 15}
    assert parsed.months == {1, 2, 3}
    assert parsed.weekdays == {1, 2, 3, 4, 5}
    assert cron.parse("0 0 * * 7").weekdays == {0} == cron.parse("0 0 * * sun").weekdays
    assert cron.parse("0 0 * * 5-7").weekdays == {5, 6, 0}


@pytest.mark.parametrize("shorthand, expanded", [
    ("@yearly", "0 0 1 1 *"), ("@annually", "0 0 1 1 *"), ("@monthly", "0 0 1 * *"),
    ("@weekly", "0 0 * * 0"), ("@daily", "0 0 * * *"), ("@midnight", "0 0 * * *"),
    ("@hourly", "0 * * * *"), ("@DAILY", "0 0 * * *"),
])
def test_shorthands(shorthand, expanded):
    assert cron.normalize(shorthand) == expanded


@pytest.mark.parametrize("expression, message", [
    ("0 25 * * *", "hour: 25 is out of range 0-23"),
    ("60 * * * *", "minute: 60 is out of range 0-59"),
    ("* * 0 * *", "day of month: 0 is out of range 1-31"),
    ("* * * 13 *", "month: 13 is out of range 1-12"),
    ("* * * * 8", "day of week: 8 is out of range 0-7"),
    ("* * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 4"),
    ("* * * * * *", "expected 5 fields (minute hour day-of-month month day-of-week), got 6"),
    ("@weird", "unknown shorthand `@weird`"),
    ("", "empty cron expression"),
    ("*/0 * * * *", "minute: step `0` must be a positive number"),
    ("5-1 * * * *", "minute: range `5-1` goes backwards"),
    ("x * * * *", "minute: `x` is not a number"),
    ("* * * FOO *", "month: `FOO` is not a number or a name (JAN…DEC)"),
    ("1,,2 * * * *", "minute: empty list item in `1,,2`"),
])
def test_invalid_expressions_say_which_field_and_why(expression, message):
    with pytest.raises(cron.CronError) as err:
        cron.parse(expression)
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)


# --------------------------------------------------------------------------- words


@pytest.mark.parametrize("expression, timezone, words", [
    ("30 6 * * 1-5", "Europe/Berlin", "At 06:30, Monday through Friday (Europe/Berlin)"),
    ("30 6 * * MON-FRI", None, "At 06:30, Monday through Friday"),
    ("@daily", None, "At 00:00"),
    ("@hourly", None, "At minute 0 past every hour"),
    ("*/15 * * * *", None, "Every 15 minutes"),
    ("* * * * *", None, "Every minute"),
    ("0 */2 * * *", None, "At minute 0 past every 2 hours"),
    ("* 3 * * *", None, "Every minute during hour 03"),
    ("0 0 1 * *", None, "At 00:00, on day 1 of the month"),
    ("0 0 1,15 * *", None, "At 00:00, on days 1 and 15 of the month"),
    ("0 12 * JAN,JUL *", None, "At 12:00, in January and July"),
    ("0 2 * * 7", "UTC", "At 02:00, Sunday (UTC)"),
    ("0 8,20 * * 1,3,5", None, "At 08:00 and 20:00, Monday, Wednesday and Friday"),
    ("0,30 9-17 * * *", None, "At minute 0 and 30 past hour 09, 10, 11, 12, 13, 14, 15, 16 and 17"),
    # cron(5): with both day fields restricted a day matches if EITHER matches
    ("0 0 13 * 5", None, "At 00:00, on day 13 of the month or on Friday"),
])
def test_describe(expression, timezone, words):
    assert cron.describe(expression, timezone) == words


def test_describe_rejects_invalid_expressions():
    with pytest.raises(cron.CronError):
        cron.describe("0 25 * * *")


def test_either_day_field_matches_when_both_are_restricted():
    parsed = cron.parse("0 0 13 * 5")
    assert parsed.matches_day(dt.date(2024, 9, 13))   # Friday the 13th
    assert parsed.matches_day(dt.date(2024, 9, 6))    # a Friday
    assert parsed.matches_day(dt.date(2024, 11, 13))  # a Wednesday, the 13th
    assert not parsed.matches_day(dt.date(2024, 9, 7))


# --------------------------------------------------------------------------- next times


def test_next_times_are_strictly_after_start():
    start = dt.datetime(2024, 1, 1, 9, 0, tzinfo=BERLIN)
    assert iso(cron.next_times("0 9 * * *", start, 2)) == ["2024-01-02T09:00:00+01:00", "2024-01-03T09:00:00+01:00"]
    assert iso(cron.next_times("30 6 * * 1-5", dt.datetime(2024, 1, 5, 7, tzinfo=BERLIN), 2)) == [
        "2024-01-08T06:30:00+01:00", "2024-01-09T06:30:00+01:00"]


def test_daily_schedule_keeps_its_wall_clock_time_across_both_dst_changes():
    spring = cron.next_times("0 9 * * *", dt.datetime(2024, 3, 30, 12, tzinfo=BERLIN), 2)
    assert iso(spring) == ["2024-03-31T09:00:00+02:00", "2024-04-01T09:00:00+02:00"]
    autumn = cron.next_times("0 9 * * *", dt.datetime(2024, 10, 26, 12, tzinfo=BERLIN), 2)
    assert iso(autumn) == ["2024-10-27T09:00:00+01:00", "2024-10-28T09:00:00+01:00"]
    assert autumn[1] - autumn[0] == dt.timedelta(hours=24)
    assert (autumn[0] - dt.datetime(2024, 10, 26, 9, tzinfo=BERLIN).astimezone(dt.timezone.utc)) == dt.timedelta(hours=25)


def test_a_time_in_the_spring_forward_gap_runs_at_the_end_of_the_gap():
    # 2024-03-31 02:00 CET jumps to 03:00 CEST: 02:30 does not exist in Berlin that night
    times = cron.next_times("30 2 * * *", dt.datetime(2024, 3, 29, 12, tzinfo=BERLIN), 3)
    assert iso(times) == ["2024-03-30T02:30:00+01:00", "2024-03-31T03:00:00+02:00", "2024-04-01T02:30:00+02:00"]


def test_a_repeated_time_in_the_fall_back_runs_once_at_its_second_occurrence():
    # 2024-10-27 03:00 CEST falls back to 02:00 CET: 02:30 happens twice
    times = cron.next_times("30 2 * * *", dt.datetime(2024, 10, 26, 12, tzinfo=BERLIN), 2)
    assert iso(times) == ["2024-10-27T02:30:00+01:00", "2024-10-28T02:30:00+01:00"]


def test_hourly_schedules_run_once_per_real_hour_over_dst_changes():
    spring = cron.next_times("15 * * * *", dt.datetime(2024, 3, 31, 0, 30, tzinfo=BERLIN), 3)
    assert iso(spring) == ["2024-03-31T01:15:00+01:00", "2024-03-31T03:15:00+02:00", "2024-03-31T04:15:00+02:00"]
    autumn = cron.next_times("0 * * * *", dt.datetime(2024, 10, 27, 0, 30, tzinfo=BERLIN), 4)
    assert iso(autumn) == ["2024-10-27T01:00:00+02:00", "2024-10-27T02:00:00+02:00",
                           "2024-10-27T02:00:00+01:00", "2024-10-27T03:00:00+01:00"]
    assert all(b.timestamp() - a.timestamp() == 3600 for a, b in zip(autumn, autumn[1:]))


def test_next_times_in_chronological_order_inside_the_repeated_hour():
    start = dt.datetime(2024, 10, 27, 2, 20, tzinfo=BERLIN)  # the first 02:20 (CEST)
    times = cron.next_times("*/20 * * * *", start, 4)
    assert iso(times) == ["2024-10-27T02:40:00+02:00", "2024-10-27T02:00:00+01:00",
                          "2024-10-27T02:20:00+01:00", "2024-10-27T02:40:00+01:00"]
    assert all(a.timestamp() < b.timestamp() for a, b in zip(times, times[1:]))


def test_next_times_from_a_start_in_the_second_occurrence_of_a_repeated_hour():
    start = dt.datetime(2024, 10, 27, 2, 15, fold=1, tzinfo=BERLIN)  # 02:15 CET, after the fall back
    assert iso(cron.next_times("0 * * * *", start, 1)) == ["2024-10-27T03:00:00+01:00"]


def test_next_times_utc_leap_day_and_naive():
    utc = dt.timezone.utc
    assert iso(cron.next_times("0 0 29 2 *", dt.datetime(2024, 3, 1, tzinfo=utc), 1)) == ["2028-02-29T00:00:00+00:00"]
    assert cron.next_times("0 12 * * *", dt.datetime(2024, 1, 1, 13), 1) == [dt.datetime(2024, 1, 2, 12)]
