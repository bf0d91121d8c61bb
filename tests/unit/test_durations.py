"""Durations: numbers, unit strings, ISO-8601, errors, and the short display form."""

from __future__ import annotations

import pytest

from yaml2dag.format.durations import format_duration, parse_duration


@pytest.mark.parametrize("value, seconds", [
    (30, 30.0), (1.5, 1.5), (0, 0.0), ("30", 30.0), ("0", 0.0),
    ("30s", 30.0), ("10m", 600.0), ("2h", 7200.0), ("1d", 86400.0), ("500ms", 0.5),
    ("1h30m", 5400.0), ("1h 30m", 5400.0), (" 5 m ", 300.0), ("1.5h", 5400.0), ("5 s", 5.0),
    ("PT10M", 600.0), ("PT1H30M", 5400.0), ("P1D", 86400.0), ("PT0.5S", 0.5), ("P1DT2H", 93600.0),
])
def test_parse_duration(value, seconds):
    result = parse_duration(value)
    assert result == seconds and isinstance(result, float)


@pytest.mark.parametrize("value", [True, False, -1, -0.5, "", "abc", "10x", "PT", "P", "pt10m", "10M",
                                   None, [1], {"s": 1}, "1h-30m"])
def test_parse_duration_errors_show_the_accepted_forms(value):
    with pytest.raises(ValueError) as err:
        parse_duration(value)
    assert str(err.value).startswith(f"{value!r} is not a duration")
    assert '"10m"' in str(err.value) and "PT10M" in str(err.value)


@pytest.mark.parametrize("seconds, text", [
    (None, "-"), (0, "0ms"), (0.25, "250ms"), (1, "1s"), (45.7, "45.7s"), (60, "1m"), (90, "1m30s"),
    (600, "10m"), (5400, "1h30m"), (86400, "1d"), (90061, "1d1h1m1s"), (3599.6, "1h"),
])
def test_format_duration(seconds, text):
    assert format_duration(seconds) == text


@pytest.mark.parametrize("text", ["30s", "10m", "2h", "1h30m", "500ms", "1d1h1m1s"])
def test_format_and_parse_round_trip(text):
    assert format_duration(parse_duration(text)) == text
