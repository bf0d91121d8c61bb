"""The TIME forms of `status --at` and `events --since/--until` (yaml2dag.runs.history.moments)."""

from __future__ import annotations

import datetime as dt

import pytest

from yaml2dag.runs.history.moments import MomentError, iso_ms, parse_moment, to_ms

START = dt.datetime(2026, 12, 7, 13, 5, 27, 250000, tzinfo=dt.timezone.utc).timestamp()


@pytest.mark.parametrize("text, seconds_after_start", [
    ("+0s", 0.0), ("+30s", 30.0), ("+5m", 300.0), ("+1m30s", 90.0), ("+250ms", 0.25), ("+PT1H", 3600.0),
    ("2026-12-07T13:05:27.250Z", 0.0), ("2026-12-07T13:05:27.250+00:00", 0.0),
    ("2026-12-07 13:06:27.250", 60.0),  # no offset: UTC
    ("2026-12-07T14:05:27.250+01:00", 0.0),
])
def test_times_and_offsets_from_the_start(text, seconds_after_start):
    assert parse_moment("at", text, START) - START == pytest.approx(seconds_after_start, abs=1e-6)


@pytest.mark.parametrize("text", ["", "soon", "+", "+soon", "5m", "+-3s", "2026-13-45", "+99999999999999999d"])
def test_what_is_not_a_time_names_the_option_and_the_forms(text):
    with pytest.raises(MomentError) as caught:
        parse_moment("until", text, START)
    assert caught.value.option == "until"
    assert "expected an ISO time" in str(caught.value) and "+30s" in str(caught.value)


def test_a_relative_time_needs_a_start():
    with pytest.raises(MomentError, match="has not started"):
        parse_moment("at", "+1s", None)
    assert parse_moment("at", "2026-12-07T13:05:27Z", None) == START - 0.25


def test_events_compare_to_the_millisecond_they_are_shown_with():
    stamp = START + 0.0019996  # .2519996: shown as .252 (rounded to microseconds first, then cut to ms)
    assert iso_ms(stamp).endswith("27.252+00:00")
    assert to_ms(stamp) == to_ms(parse_moment("at", iso_ms(stamp), None)) != int(stamp * 1000)
