"""Python steps of the "Seattle Weather Report" workflow (seattle_weather_report.yaml).

Each function is called by the `python` tool; DataFrames pass between steps through Dagster's
IO manager. The input is the real seattle-weather.csv shipped offline by vega_datasets.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd


def load(path: str = "") -> pd.DataFrame:
    """Read the observations (date, precipitation mm, temp_max/temp_min °C, wind, weather)."""
    if not path:
        from vega_datasets import local_data

        path = local_data.seattle_weather.filepath
    frame = pd.read_csv(path, parse_dates=["date"])
    missing = {"date", "precipitation", "temp_max", "temp_min", "weather"} - set(frame.columns)
    if missing:
        raise ValueError(f"{path} lacks the columns {sorted(missing)}")
    return frame


def rainy_days_per_year(frame: pd.DataFrame, threshold_mm: float = 0.0) -> dict[str, int]:
    """Days per year whose precipitation is above ``threshold_mm``."""
    rainy = frame[frame["precipitation"] > threshold_mm]
    counts = rainy.groupby(rainy["date"].dt.year).size()
    return {str(year): int(n) for year, n in counts.items()}


def temperature_summary(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Lowest minimum, highest maximum and mean maximum temperature per year (°C)."""
    grouped = frame.groupby(frame["date"].dt.year)
    out = {}
    for year, group in grouped:
        out[str(year)] = {
            "min_c": float(group["temp_min"].min()),
            "max_c": float(group["temp_max"].max()),
            "mean_max_c": round(float(group["temp_max"].mean()), 2),
        }
    return out


def weather_type_counts(frame: pd.DataFrame) -> dict[str, int]:
    """Days per weather type over the whole period."""
    return {str(k): int(v) for k, v in frame["weather"].value_counts().sort_index().items()}


def write_report(rainy: dict, temperatures: dict, weather_types: dict, folder: str, run_id: str) -> str:
    """Write a markdown report; returns its path."""
    target = Path(folder)
    target.mkdir(parents=True, exist_ok=True)
    lines = ["# Seattle weather report", "", f"Dagster run `{run_id}`.", "",
             "| Year | Rainy days | Min °C | Max °C | Mean max °C |", "|---|---|---|---|---|"]
    for year in sorted(temperatures):
        t = temperatures[year]
        lines.append(f"| {year} | {rainy.get(year, 0)} | {t['min_c']} | {t['max_c']} | {t['mean_max_c']} |")
    lines += ["", "| Weather | Days |", "|---|---|"]
    lines += [f"| {kind} | {days} |" for kind, days in weather_types.items()]
    path = target / f"seattle_weather_{run_id[:8]}.md"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return str(path)
