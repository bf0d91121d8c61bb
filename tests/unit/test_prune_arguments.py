"""The arguments of ``yaml2dag prune`` (issue 15, point 5): durations with a unit, statuses of
finished runs, the ``--now`` moment, and the per-workflow counts (no Dagster run here; the runs
themselves: tests/integration/test_prune.py)."""

from __future__ import annotations

import datetime as dt

import pytest

from yaml2dag.runs.history.prune import counts_of, parse_now, parse_older_than, parse_statuses


@pytest.mark.parametrize("text, seconds", [
    ("90d", 90 * 86400), ("12h", 43200), ("2w", 14 * 86400), ("1h30m", 5400), ("0s", 0), ("3 days", 3 * 86400),
    ("P90D", 90 * 86400), ("PT10M", 600), ("pt10m", 600), (" 30m ", 1800),
])
def test_older_than_takes_the_durations_of_the_format(text, seconds):
    assert parse_older_than(text) == seconds


@pytest.mark.parametrize("text, message", [
    ("90", "'90' has no unit"), ("", "expected a duration with a unit"), ("-1d", "'-1d' is not a duration"),
    ("soon", "'soon' is not a duration"), ("1000000d", "is longer than 1,000 years"),
])
def test_older_than_refuses_what_is_not_a_duration_with_a_unit(text, message):
    with pytest.raises(ValueError, match="expected a duration with a unit") as caught:
        parse_older_than(text)
    assert message in str(caught.value)


def test_statuses_are_those_of_finished_runs_with_dagsters_words_too():
    assert parse_statuses(["success", "failure,cancelled", "failed"]) == ["completed", "failed", "canceled"]
    assert parse_statuses([]) == []
    for word in ("running", "paused", "pending"):
        with pytest.raises(ValueError, match=f"'{word}' is not the status of a finished run"):
            parse_statuses([word])


def test_now_is_an_iso_time_in_utc_unless_it_says_otherwise():
    assert parse_now("2026-12-01T00:00:00Z") == dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    assert parse_now("2026-12-01T00:00:00") == dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    assert parse_now("2026-12-01T08:00:00+08:00") == dt.datetime(2026, 12, 1, tzinfo=dt.timezone.utc)
    assert abs(parse_now(None) - dt.datetime.now(dt.timezone.utc)) < dt.timedelta(minutes=5)
    with pytest.raises(ValueError, match="not an ISO-8601 time"):
        parse_now("yesterday")


def test_counts_are_per_workflow_and_status():
    rows = [{"workflow": "B", "job": "b", "status": "failed"}, {"workflow": "A", "job": "a", "status": "completed"},
            {"workflow": "B", "job": "b", "status": "failed"}, {"workflow": None, "job": "gone", "status": "canceled"}]
    assert counts_of(rows) == [{"workflow": "A", "status": "completed", "runs": 1},
                               {"workflow": "B", "status": "failed", "runs": 2},
                               {"workflow": "gone", "status": "canceled", "runs": 1}]
