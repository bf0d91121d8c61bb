"""The time-of-day logic of schedule suggestions (issue 12, §1); the runs themselves are read
from a real Dagster instance in tests/integration/test_suggest_cli.py."""

from __future__ import annotations

import datetime as dt

from yaml2dag.suggest.schedules import _cluster, _cron_for, local_timezone

MON = dt.date(2026, 11, 30)


def _t(day: int, hour: int, minute: int) -> tuple:
    return (MON + dt.timedelta(days=day), hour * 60 + minute, f"run-{day}-{hour}{minute}")


def test_cluster_is_the_largest_set_of_days_within_an_hour():
    times = [_t(0, 9, 2), _t(1, 8, 57), _t(2, 9, 28), _t(3, 15, 0), _t(4, 15, 10), _t(1, 9, 5)]
    cluster = _cluster(times)
    assert [(day.day, minute) for day, minute, _ in cluster] == [(30, 542), (1, 537), (2, 568)]


def test_cluster_counts_each_day_once_and_crosses_midnight():
    times = [_t(0, 23, 50), _t(0, 23, 55), _t(2, 0, 10), _t(3, 23, 40)]
    cluster = _cluster(times)
    assert sorted(day.day for day, _, _ in cluster) == [2, 3, 30]


def test_cron_is_the_median_time_rounded_to_five_minutes():
    assert _cron_for([_t(0, 9, 2), _t(1, 8, 57), _t(2, 9, 6)]) == ("0 9 * * 1-5", 540)
    assert _cron_for([_t(0, 9, 2), _t(1, 9, 8), _t(2, 9, 9)]) == ("10 9 * * 1-5", 550)
    # a run on a Sunday: every day
    assert _cron_for([_t(5, 7, 30), _t(6, 7, 31), _t(7, 7, 29)]) == ("30 7 * * *", 450)
    # around midnight
    assert _cron_for([_t(0, 23, 58), _t(1, 0, 3), _t(2, 0, 1)])[0] == "0 0 * * 1-5"


def test_local_timezone(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/Berlin")
    assert local_timezone() == "Europe/Berlin"
    monkeypatch.setenv("TZ", "not/a zone")
    assert local_timezone() != "not/a zone"
