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

from yaml2dag.format import cron

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
    ("@hourly", None, "Every hour"),
    ("*/15 * * * *", None, "Every 15 minutes"),
    ("* * * * *", None, "Every minute"),
    ("0 */2 * * *", None, "Every 2 hours"),
    ("* 3 * * *", None, "Every minute, between 03:00 and 03:59"),
    ("0 0 1 * *", None, "At 00:00, on day 1 of the month"),
    ("0 0 1,15 * *", None, "At 00:00, on day 1 and 15 of the month"),
    ("0 12 * JAN,JUL *", None, "At 12:00, only in January and July"),
    ("0 2 * * 7", "UTC", "At 02:00, only on Sunday (UTC)"),
    ("0 8,20 * * 1,3,5", None, "At 08:00 and 20:00, only on Monday, Wednesday, and Friday"),
    ("0,30 9-17 * * *", None, "At 0 and 30 minutes past the hour, between 09:00 and 17:59"),
    # cron(5): with both day fields restricted a day matches if EITHER matches
    ("0 0 13 * 5", None, "At 00:00, on day 13 of the month, or on Friday"),
])
def test_describe(expression, timezone, words):
    assert cron.describe(expression, timezone) == words


@pytest.mark.parametrize("expression", ["0 25 * * *", "0 0 31 4 *", "* * * *", "@often"])
def test_describe_rejects_what_parse_rejects(expression):
    # the words come from cron-descriptor, the verdict from parse (Dagster's rules)
    with pytest.raises(cron.CronError):
        cron.describe(expression)


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


# --------------------------------------------------------------------------- days that never come


@pytest.mark.parametrize("expression, message", [
    ("0 0 31 2 *", "day of month: February has no day 31: the schedule would never run"),
    ("0 0 30 2 *", "day of month: February has no day 30: the schedule would never run"),
    ("0 0 30,31 FEB *", "day of month: February has no days 30 and 31: the schedule would never run"),
    ("0 0 31 4,6,9,11 *", "day of month: April, June, September and November have no day 31"),
    ("0 0 31 2,4 *", "day of month: February and April have no day 31"),
    # cron(5) would run this on Mondays in February, but Dagster refuses it at load
    ("0 0 30 2 1", "day of month: February has no day 30: Dagster refuses this combination even with a day of week"),
    ("0 0 30/5 2 *", "day of month: February has no day 30"),
])
def test_day_of_month_that_no_month_of_the_expression_has_is_refused(expression, message):
    with pytest.raises(cron.CronError) as err:
        cron.parse(expression)
    assert message in str(err.value)


@pytest.mark.parametrize("expression", ["0 0 29 2 *", "0 0 31 * *", "0 0 30 1-3 *", "0 0 31 4 1", "0 0 31 4,5 *",
                                        "0 0 */30 2 *", "0 0 29-31 2 *"])
def test_possible_day_of_month_combinations_are_accepted(expression):
    cron.parse(expression)


def _random_expressions(count: int, seed: int = 5) -> list[str]:
    """Cron expressions built from every field form cron.parse knows (numbers, ranges, steps,
    lists, names, leading zeros), valid and invalid, reproducibly."""
    import random

    rng = random.Random(seed)
    months = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC", "feb"]
    weekdays = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT", "mon", "fri"]

    def field(lo: int, hi: int, names=None) -> str:
        a, b = rng.randint(lo - 1, hi + 1), rng.randint(lo, hi)
        step = rng.randint(0, hi + 2)
        form = rng.randrange(11)
        if form == 7 and names:
            return rng.choice(names) + ("-" + rng.choice(names) if rng.random() < 0.5 else "")
        return ["*", f"*/{step}", str(a), f"{min(a, b)}-{max(a, b)}", f"{min(a, b)}-{max(a, b)}/{step}",
                f"{a},{b}", f"{a}/{step}", str(b), f"{b:02d}", f"{a},{min(a, b)}-{max(a, b)}", f"{b}-{a}"][form]

    out = []
    for _ in range(count):
        # February and days 29-31 often, where Dagster's own rule lives
        dom = rng.choice([field(1, 31), str(rng.randint(28, 31)), f"{rng.randint(28, 31)}/{rng.randint(1, 9)}"])
        month = rng.choice([field(1, 12, months), "2", "FEB", "2-3/13", "02"])
        out.append(" ".join([field(0, 59), field(0, 23), dom, month, field(0, 7, weekdays)]))
    return out


FIXED = ["0 0 31 2 *", "0 0 30 2 *", "0 0 30 2 1", "0 0 31 4 *", "0 0 0 * *", "0 0 * * 8", "0 0 * * 8/1",
         "* * * * *", "@daily", "@hourly", "@weekly", "@monthly", "@yearly", "30 6 * * 1-5", "0 0 29 2 *",
         "5/15 * * * *", "0 0 * * 7", "0 0 * * 5-7", "0 0 * jan-mar *", "0 0 * * SAT-SUN", "0 0 * * 6-0",
         "5-1 * * * *", "*/60 * * * *", "00 00 01 01 00", "0 0 1-31/2 * *", "0 24 * * *", "0 0 * 0 *",
         "0 0 * * * *", "0 0 * *", "0 0 L * *", "0 0 ? * *", "0 0 1W * *", "H * * * *", "0 0 * * 1#2"]


def test_every_expression_yaml2dag_accepts_is_accepted_by_dagster():
    """Dagster's own check (``is_valid_cron_string``, used by ScheduleDefinition) on what
    validation lets through: nothing that validates may fail at load."""
    from dagster._utils.schedules import is_valid_cron_string

    accepted = 0
    for expression in FIXED + _random_expressions(30_000):
        try:
            five = cron.normalize(expression)
        except cron.CronError:
            continue
        accepted += 1
        assert is_valid_cron_string(five), f"yaml2dag accepts {expression!r} ({five!r}) but Dagster refuses it"
    assert accepted > 5_000  # the sample really exercised accepted expressions


def test_the_crons_dagster_refuses_at_load_are_refused():
    from dagster._utils.schedules import is_valid_cron_string

    for expression in ("0 0 31 2 *", "0 0 30 2 *", "0 0 30 2 1", "0 0 0 * *", "0 0 * * 8/1"):
        assert not is_valid_cron_string(expression)
        with pytest.raises(cron.CronError):
            cron.parse(expression)
