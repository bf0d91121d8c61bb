"""The `data` tool end to end: real Dagster runs on real data (vega_datasets' seattle-weather.csv,
1,461 daily observations), results checked against pandas computed directly in the test.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from string import Template

import pandas as pd
import pytest
from vega_datasets import local_data

from local_servers import LocalHTTPServer, QuietHandler, serving
from yaml2dag.format.validation import validate_text

pytestmark = pytest.mark.slow

CSV = local_data.seattle_weather.filepath


def yaml(text: str, **values) -> str:
    """Workflow text with ``$name`` placeholders filled (templates keep their braces)."""
    return Template(text).substitute(values)


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    return pd.read_csv(CSV, parse_dates=["date"])


def step_metadata(ran, step_id: str) -> dict:
    """The output metadata of a step's STEP_OUTPUT event, as plain values."""
    events = [r for r in ran.events("STEP_OUTPUT") if r.dagster_event.step_key == step_id]
    assert events, f"no STEP_OUTPUT for {step_id}"
    return {k: v.value for k, v in events[-1].dagster_event.event_specific_data.metadata.items()}


def records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records", date_format="iso"))


def assert_records_close(got: list[dict], expected: list[dict]) -> None:
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert set(g) == set(e)
        for key, value in e.items():
            if isinstance(value, float):
                assert g[key] == pytest.approx(value, rel=1e-9), key
            else:
                assert g[key] == value, key


# --------------------------------------------------------------------------- read + transform


def test_weather_per_year_pipeline_matches_pandas(run_yaml, weather, dagster_home):
    ran = run_yaml(yaml("""
        name: Weather per year
        parameters:
          rain_threshold_mm: {type: number, default: 0}
        steps:
          - id: load
            tool: data
            parameters:
              path: "$csv"
              options: {parse_dates: [date]}
          - parallel:
              - id: rainy
                tool: data
                action: transform
                parameters:
                  input: "{{ load.output }}"
                  operations:
                    - filter: "precipitation > {{ rain_threshold_mm }}"
                    - derive: {year: "date.dt.year"}
                    - group_by: {by: year, count: rainy_days}
              - id: yearly
                tool: data
                action: transform
                parameters:
                  input: "{{ load.output }}"
                  operations:
                    - derive: {year: "date.dt.year", range_c: "temp_max - temp_min"}
                    - group_by:
                        by: [year]
                        agg:
                          precipitation: sum
                          temp_max: [mean, max]
                          widest_range_c: {column: range_c, func: max}
                    - sort: {by: year, descending: true}
          - id: joined
            tool: data
            action: transform
            parameters:
              input: "{{ yearly.output }}"
              operations:
                - join: {with: "{{ rainy.output }}", on: year, how: left}
                - select: [year, rainy_days, precipitation, temp_max_mean]
                - rename: {precipitation: rain_mm}
                - limit: 3
        outputs:
          days: "{{ load.rows }}"
          columns: "{{ load.columns }}"
          rainy: "{{ rainy.output }}"
          yearly: "{{ yearly.output }}"
          joined: "{{ joined.output }}"
          joined_columns: "{{ joined.columns }}"
    """, csv=CSV))
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs

    assert out["days"] == len(weather) == 1461
    assert out["columns"] == ["date", "precipitation", "temp_max", "temp_min", "wind", "weather"]

    rainy = weather[weather.precipitation > 0]
    expected_rainy = rainy.groupby(rainy.date.dt.year).size()
    assert {r["year"]: r["rainy_days"] for r in out["rainy"]} == {int(y): int(n) for y, n in expected_rainy.items()}
    assert [r["year"] for r in out["rainy"]] == [2012, 2013, 2014, 2015]

    frame = weather.assign(year=weather.date.dt.year, range_c=weather.temp_max - weather.temp_min)
    yearly = (frame.groupby("year")
              .agg(precipitation=("precipitation", "sum"), temp_max_mean=("temp_max", "mean"),
                   temp_max_max=("temp_max", "max"), widest_range_c=("range_c", "max"))
              .reset_index().sort_values("year", ascending=False))
    assert_records_close(out["yearly"], records(yearly))
    assert [r["year"] for r in out["yearly"]] == [2015, 2014, 2013, 2012]

    counts = expected_rainy.rename("rainy_days").rename_axis("year").reset_index()
    joined = (yearly.merge(counts, on="year", how="left")[["year", "rainy_days", "precipitation", "temp_max_mean"]]
              .rename(columns={"precipitation": "rain_mm"}).head(3))
    assert_records_close(out["joined"], records(joined))
    assert out["joined_columns"] == ["year", "rainy_days", "rain_mm", "temp_max_mean"]

    # each data step shows its data in the UI: row count, column schema, markdown preview
    load = step_metadata(ran, "load")
    assert load["rows"] == 1461
    assert load["columns"] == {str(k): str(v) for k, v in weather.dtypes.items()}
    assert load["columns"]["date"].startswith("datetime64")
    preview = load["preview"]
    lines = preview.splitlines()
    assert lines[0].startswith("| date") and "weather" in lines[0]
    assert "2012-01-01" in lines[2] and "drizzle" in lines[2]
    assert sum(1 for line in lines if line.startswith("| 2012-01-")) == 10
    assert "_10 of 1,461 rows_" in preview
    rainy_meta = step_metadata(ran, "rainy")
    assert rainy_meta["rows"] == 4
    assert rainy_meta["columns"] == {"year": "int32", "rainy_days": "int64"}
    assert "| 2012" in rainy_meta["preview"] and str(int(expected_rainy[2012])) in rainy_meta["preview"]
    assert rainy_meta["operations"] == 3

    # the DataFrames pass between steps through Dagster's IO manager: `load` stores its result
    # under DAGSTER_HOME/storage, and both parallel steps load it from there
    handled = {r.dagster_event.step_key: r.dagster_event.event_specific_data for r in ran.events("HANDLED_OUTPUT")}
    stored = dagster_home / "storage" / ran.result.run_id / "load" / "result"
    assert handled["load"].manager_key == "io_manager"
    assert handled["load"].metadata["path"].value == str(stored)
    loaded = {(r.dagster_event.step_key, r.dagster_event.event_specific_data.upstream_step_key)
              for r in ran.events("LOADED_INPUT")}
    assert {("rainy", "load"), ("yearly", "load"), ("joined", "yearly"), ("joined", "rainy")} <= loaded
    import pickle

    with stored.open("rb") as fh:  # the fs IO manager pickles the step result (written by this test's run)
        result = pickle.load(fh)
    assert isinstance(result["output"], pd.DataFrame)
    pd.testing.assert_frame_equal(result["output"], weather)


def test_analyze_summary_matches_pandas(run_yaml, weather):
    ran = run_yaml(yaml("""
        name: Weather summary
        steps:
          - id: load
            tool: data
            parameters: {path: "$csv", options: {parse_dates: [date]}}
          - id: summary
            tool: data
            action: analyze
            parameters:
              input: "{{ load.output }}"
              value_counts: [weather]
              correlations: true
          - id: ranks
            tool: data
            action: analyze
            parameters:
              input: "{{ load.output }}"
              columns: [temp_max, temp_min]
              describe: false
              correlations: spearman
        outputs:
          summary: "{{ summary.output }}"
          ranks: "{{ ranks.output }}"
          analyzed: "{{ ranks.columns }}"
    """, csv=CSV))
    assert ran.result.status == "SUCCESS", ran.result.error
    summary = ran.result.outputs["summary"]
    assert summary["rows"] == 1461
    assert summary["columns"]["weather"] == {"dtype": str(weather.weather.dtype), "nulls": 0,
                                             "unique": int(weather.weather.nunique())}
    stats = summary["describe"]["temp_max"]
    assert stats["count"] == 1461
    assert stats["mean"] == pytest.approx(weather.temp_max.mean())
    assert stats["std"] == pytest.approx(weather.temp_max.std())
    assert stats["max"] == weather.temp_max.max() and stats["50%"] == weather.temp_max.median()
    assert summary["describe"]["weather"]["top"] == weather.weather.mode()[0]
    assert summary["describe"]["date"]["min"].startswith("2012-01-01")
    assert summary["value_counts"]["weather"] == {k: int(v) for k, v in weather.weather.value_counts().items()}
    assert summary["correlation_method"] == "pearson"
    assert summary["correlations"]["temp_max"]["temp_min"] == pytest.approx(weather.temp_max.corr(weather.temp_min))
    assert "weather" not in summary["correlations"]

    ranks = ran.result.outputs["ranks"]
    assert "describe" not in ranks and set(ranks["columns"]) == {"temp_max", "temp_min"}
    # spearman = pearson correlation of the ranks
    assert ranks["correlations"]["temp_min"]["temp_max"] == pytest.approx(
        weather.temp_max.rank().corr(weather.temp_min.rank()))
    assert ran.result.outputs["analyzed"] == ["temp_max", "temp_min"]

    meta = step_metadata(ran, "summary")
    assert meta["rows"] == 1461
    assert "### Statistics" in meta["summary"] and "### Values of `weather`" in meta["summary"]
    assert "| sun " in meta["summary"] and "### Correlations (pearson)" in meta["summary"]


# --------------------------------------------------------------------------- write and read back


def test_write_csv_json_sqlite_and_read_back(run_yaml, weather, tmp_path):
    out = tmp_path / "out"
    ran = run_yaml(yaml("""
        name: Store weather
        steps:
          - id: load
            tool: data
            parameters: {path: "$csv", options: {parse_dates: [date]}}
          - parallel:
              - id: to_csv
                tool: data
                action: write
                parameters: {input: "{{ load.output }}", path: "$out/weather.csv"}
              - id: to_json
                tool: data
                action: write
                parameters: {input: "{{ load.output }}", path: "$out/nested/weather.json"}
              - id: to_sqlite
                tool: data
                action: write
                parameters: {input: "{{ load.output }}", path: "$out/weather.sqlite", table: weather}
              - id: to_parquet
                tool: data
                action: write
                parameters: {input: "{{ load.output }}", path: "$out/weather.parquet"}
          - id: append
            tool: data
            action: write
            parameters: {input: "{{ load.output }}", path: "$out/weather.sqlite", table: weather, if_exists: append}
          - id: again
            tool: data
            action: write
            on_error: continue
            retry: {max_attempts: 3, delay: 1}
            parameters: {input: "{{ load.output }}", path: "$out/weather.sqlite", table: weather}
          - parallel:
              - id: csv_back
                tool: data
                parameters: {path: "{{ to_csv.output }}", options: {parse_dates: [date]}}
              - id: json_back
                tool: data
                parameters: {path: "{{ to_json.output }}"}
              - id: per_type
                tool: data
                parameters:
                  path: "{{ to_sqlite.output }}"
                  query: "SELECT weather, COUNT(*) AS days FROM weather WHERE precipitation > ? GROUP BY weather ORDER BY weather"
                  query_params: [0]
              - id: table_back
                tool: data
                parameters: {path: "$out/weather.sqlite", table: weather, options: {parse_dates: [date], nrows: 5}}
              - id: try_delete
                tool: data
                on_error: continue
                parameters: {path: "$out/weather.sqlite", query: "DELETE FROM weather"}
              - id: parquet_back
                tool: data
                parameters: {path: "{{ to_parquet.output }}"}
              - id: parquet_columns
                tool: data
                parameters: {path: "$out/weather.parquet", format: parquet, options: {usecols: [date, weather]}}
        outputs:
          csv_path: "{{ to_csv.output }}"
          csv_bytes: "{{ to_csv.bytes }}"
          csv_rows: "{{ to_csv.rows }}"
          json_bytes: "{{ to_json.bytes }}"
          sqlite_rows: "{{ append.rows }}"
          csv_back: "{{ csv_back.rows }}"
          json_back: "{{ json_back.rows }}"
          per_type: "{{ per_type.output }}"
          table_back: "{{ table_back.output }}"
          delete_error: "{{ try_delete.error }}"
          parquet_rows: "{{ to_parquet.rows }}"
          parquet_back: "{{ parquet_back.output }}"
          parquet_names: "{{ parquet_back.columns }}"
          parquet_columns: "{{ parquet_columns.columns }}"
          parquet_columns_rows: "{{ parquet_columns.rows }}"
          again_status: "{{ again.status }}"
          again_error: "{{ again.error }}"
    """, csv=CSV, out=out))
    assert ran.result.status == "SUCCESS", ran.result.error
    o = ran.result.outputs
    csv_path = out / "weather.csv"
    assert o["csv_path"] == str(csv_path)
    assert o["csv_bytes"] == csv_path.stat().st_size > 40_000
    assert o["json_bytes"] == (out / "nested" / "weather.json").stat().st_size
    assert o["csv_rows"] == o["sqlite_rows"] == o["csv_back"] == o["json_back"] == 1461

    # pandas reads what the tool wrote: same data
    pd.testing.assert_frame_equal(pd.read_csv(csv_path, parse_dates=["date"]), weather, check_dtype=False)
    assert csv_path.read_text().splitlines()[0] == "date,precipitation,temp_max,temp_min,wind,weather"
    written = json.loads((out / "nested" / "weather.json").read_text())
    assert len(written) == 1461 and written[0]["date"].startswith("2012-01-01T00:00:00")
    assert written[1]["precipitation"] == weather.precipitation[1]
    with sqlite3.connect(out / "weather.sqlite") as conn:
        assert conn.execute("SELECT COUNT(*) FROM weather").fetchone()[0] == 2 * 1461  # written, then appended
    assert sorted(p.name for p in out.iterdir()) == sorted(["weather.csv", "nested", "weather.sqlite", "weather.parquet"])

    rainy = weather[weather.precipitation > 0].weather.value_counts()
    assert {r["weather"]: r["days"] for r in o["per_type"]} == {k: 2 * int(v) for k, v in rainy.items()}
    assert len(o["table_back"]) == 5 and o["table_back"][0]["date"].startswith("2012-01-01")
    assert o["delete_error"].endswith("attempt to write a readonly database")

    # if_exists defaults to fail: the third write is refused at once, and the table is unchanged
    assert o["again_status"] == "failed"
    assert o["again_error"] == (f"table `weather` already exists in {out / 'weather.sqlite'} "
                                "(set `if_exists: replace` or `append`)")
    assert [r for r in ran.events("STEP_UP_FOR_RETRY") if r.dagster_event.step_key == "again"] == []

    # Parquet (pyarrow, a dev dependency) round-trips through `data write` and `data read`,
    # types included: the dates come back as datetimes, not text
    assert o["parquet_rows"] == 1461
    assert o["parquet_names"] == ["date", "precipitation", "temp_max", "temp_min", "wind", "weather"]
    back = pd.DataFrame(o["parquet_back"])
    assert len(back) == 1461
    assert back.precipitation.sum() == pytest.approx(weather.precipitation.sum())
    assert back.weather.value_counts().to_dict() == weather.weather.value_counts().to_dict()
    assert back.date.iloc[0].startswith("2012-01-01") and back.date.iloc[-1].startswith("2015-12-31")
    assert o["parquet_columns"] == ["date", "weather"] and o["parquet_columns_rows"] == 1461
    pd.testing.assert_frame_equal(pd.read_parquet(out / "weather.parquet"), weather)
    parquet_meta = step_metadata(ran, "parquet_back")
    assert parquet_meta["columns"] == {str(k): str(v) for k, v in weather.dtypes.items()}


def test_parquet_without_pyarrow_says_what_to_install(monkeypatch):
    from yaml2dag.tools.base import ToolError
    from yaml2dag.tools.data.formats import require_parquet_engine

    require_parquet_engine("writing")  # pyarrow is a dev dependency: no error
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # find_spec() now finds no pyarrow
    monkeypatch.setitem(sys.modules, "fastparquet", None)
    with pytest.raises(ToolError) as info:
        require_parquet_engine("writing")
    assert str(info.value) == "writing Parquet needs the pyarrow package, which is not installed: pip install pyarrow"
    assert info.value.retryable is False


def test_dropna_and_fillna_match_pandas(run_yaml, weather, tmp_path):
    # the weather data has no gaps: blank some, deterministically, and save it as a CSV
    gappy = weather.copy()
    gappy.loc[gappy.weather == "drizzle", "precipitation"] = None
    gappy.loc[gappy.index % 7 == 0, "wind"] = None
    gappy.loc[(gappy.index % 7 == 0) & (gappy.weather == "drizzle"), "temp_min"] = None
    gappy.loc[gappy.index % 11 == 0, "weather"] = None
    source = tmp_path / "gappy.csv"
    gappy.to_csv(source, index=False)
    assert gappy.isna().any(axis=1).sum() > 100  # the test has gaps to work on

    ran = run_yaml(yaml("""
        name: Gaps
        steps:
          - id: load
            tool: data
            parameters: {path: "$source", options: {parse_dates: [date]}}
          - parallel:
              - id: complete
                tool: data
                action: transform
                parameters: {input: "{{ load.output }}", operations: [{dropna: true}]}
              - id: with_wind
                tool: data
                action: transform
                parameters: {input: "{{ load.output }}", operations: [{dropna: wind}]}
              - id: all_gone
                tool: data
                action: transform
                parameters:
                  input: "{{ load.output }}"
                  operations: [{dropna: {subset: [precipitation, wind], how: all}}]
              - id: filled
                tool: data
                action: transform
                parameters:
                  input: "{{ load.output }}"
                  operations:
                    - fillna: {precipitation: 0, wind: -1.5, weather: unknown}
                    - derive: {year: "date.dt.year"}
                    - group_by: {by: year, agg: {precipitation: sum, wind: min}}
              - id: labels
                tool: data
                action: transform
                parameters:
                  input: "{{ load.output }}"
                  operations: [{select: [weather]}, {fillna: unknown}, {group_by: {by: weather, count: days}}]
        outputs:
          complete: "{{ complete.rows }}"
          with_wind: "{{ with_wind.rows }}"
          all_gone: "{{ all_gone.rows }}"
          complete_nulls: "{{ complete.output.isna().sum().sum() }}"
          filled: "{{ filled.output }}"
          labels: "{{ labels.output }}"
          first_complete: "{{ complete.output.iloc[0].date.isoformat() }}"
    """, source=source))
    assert ran.result.status == "SUCCESS", ran.result.error
    o = ran.result.outputs
    frame = pd.read_csv(source, parse_dates=["date"])
    assert o["complete"] == len(frame.dropna()) < len(frame)
    assert o["complete_nulls"] == 0
    assert o["first_complete"] == frame.dropna().date.iloc[0].isoformat()
    assert o["with_wind"] == len(frame.dropna(subset=["wind"])) == len(frame) - int(frame.wind.isna().sum())
    assert o["all_gone"] == len(frame.dropna(subset=["precipitation", "wind"], how="all"))
    assert len(frame.dropna()) < o["all_gone"] < len(frame)

    filled = frame.fillna({"precipitation": 0, "wind": -1.5, "weather": "unknown"})
    expected = (filled.assign(year=filled.date.dt.year).groupby("year")
                .agg(precipitation=("precipitation", "sum"), wind=("wind", "min")).reset_index())
    assert_records_close(o["filled"], records(expected))
    assert all(r["wind"] == -1.5 for r in o["filled"])  # every year had a blanked wind value
    assert {r["weather"]: r["days"] for r in o["labels"]} == {
        k: int(v) for k, v in frame.weather.fillna("unknown").value_counts().items()}
    assert {r["weather"]: r["days"] for r in o["labels"]}["unknown"] == int(frame.weather.isna().sum()) > 0
    assert step_metadata(ran, "complete")["rows"] == o["complete"]


def test_write_refuses_to_replace_a_file_unless_overwrite(run_yaml, tmp_path):
    target = tmp_path / "existing.csv"
    target.write_text("old\n")
    text = yaml("""
        name: Overwrite
        parameters:
          overwrite: false
        steps:
          - id: frame
            tool: data
            action: transform
            parameters:
              input: [{city: Seattle, rain_mm: 10.9}, {city: Portland, rain_mm: 3.2}]
              operations: [{sort: city}]
          - id: save
            tool: data
            action: write
            parameters: {input: "{{ frame.output }}", path: "$target", overwrite: "{{ overwrite }}"}
    """, target=target)
    refused = run_yaml(text)
    assert refused.result.status == "FAILURE"
    assert refused.result.failed_step == "save"
    assert refused.result.error == f"file exists: {target} (set `overwrite: true` to replace it)"
    assert target.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".existing")] == []

    replaced = run_yaml(text, {"overwrite": True})
    assert replaced.result.status == "SUCCESS", replaced.result.error
    assert target.read_text().splitlines() == ["city,rain_mm", "Portland,3.2", "Seattle,10.9"]


# --------------------------------------------------------------------------- failures


def test_bad_expression_fails_naming_the_operation(run_yaml):
    ran = run_yaml(yaml("""
        name: Bad expression
        steps:
          - id: load
            tool: data
            parameters: {path: "$csv"}
          - id: clean
            tool: data
            action: transform
            retry: {max_attempts: 3, delay: 1}
            parameters:
              input: "{{ load.output }}"
              operations:
                - dropna: true
                - filter: "precip > 0"
          - id: after
            tool: shell
            parameters: {command: "true"}
    """, csv=CSV))
    assert ran.result.status == "FAILURE"
    assert ran.result.failed_step == "clean"
    assert ran.result.error.startswith(
        "operations[1].filter: name 'precip' is not defined; did you mean `precipitation`? "
        "(columns: date, precipitation, temp_max, temp_min, wind, weather)")
    assert ran.events("STEP_UP_FOR_RETRY") == [], "an expression error cannot be fixed by retrying"
    assert ran.result.steps["after"] == "not_run"


def test_missing_file_fails_clearly_without_retries(run_yaml, tmp_path):
    missing = tmp_path / "nowhere" / "weather.csv"
    ran = run_yaml(yaml("""
        name: Missing file
        steps:
          - id: load
            tool: data
            retry: {max_attempts: 3, delay: 1}
            parameters: {path: "$missing"}
    """, missing=missing))
    assert ran.result.status == "FAILURE"
    assert ran.result.error == f"file not found: {missing}"
    assert ran.events("STEP_UP_FOR_RETRY") == []


def test_expressions_refuse_attribute_tricks_and_local_variables(run_yaml, tmp_path):
    evil = tmp_path / "evil.csv"
    ran = run_yaml(yaml("""
        name: Expression guard
        steps:
          - id: writes_file
            tool: data
            action: transform
            on_error: continue
            parameters:
              input: [{temp_max: 1.5}, {temp_max: 3.0}]
              operations:
                - derive: {leak: "temp_max.to_csv('$evil')"}
          - id: dunder
            tool: data
            action: transform
            on_error: continue
            parameters:
              input: [{temp_max: 1.5}]
              operations:
                - filter: "temp_max.__class__.__init__ == 1"
          - id: local
            tool: data
            action: transform
            on_error: continue
            parameters:
              input: [{temp_max: 1.5}]
              operations:
                - filter: "temp_max > @limit"
          - id: builtin
            tool: data
            action: transform
            on_error: continue
            parameters:
              input: [{temp_max: 1.5}]
              operations:
                - derive: {x: "open('/etc/passwd')"}
          - id: allowed
            tool: data
            action: transform
            parameters:
              input: [{temp_max: 1.5, weather: "rain @ noon"}, {temp_max: 3.25, weather: sun}]
              operations:
                - derive: {rounded: "temp_max.round(1)", warm: "temp_max.between(2, 5)", root: "sqrt(temp_max * 4)"}
                - filter: "warm or weather.str.contains('@')"
        outputs:
          writes_file: "{{ writes_file.error }}"
          dunder: "{{ dunder.error }}"
          local: "{{ local.error }}"
          builtin: "{{ builtin.error }}"
          allowed: "{{ allowed.output }}"
    """, evil=evil))
    assert ran.result.status == "SUCCESS", ran.result.error
    o = ran.result.outputs
    assert o["writes_file"].startswith("operations[0].derive: leak: `.to_csv` is not allowed in expressions")
    assert not evil.exists()
    assert o["dunder"].startswith("operations[0].filter: `.__class__` is not allowed in expressions")
    assert o["local"].startswith("operations[0].filter: `@` local variables are not allowed")
    assert o["builtin"].startswith("operations[0].derive: x: `open()` is not a function expressions can call")
    assert o["allowed"] == [
        {"temp_max": 1.5, "weather": "rain @ noon", "rounded": 1.5, "warm": False, "root": pytest.approx(6 ** 0.5)},
        {"temp_max": 3.25, "weather": "sun", "rounded": 3.2, "warm": True, "root": pytest.approx(13 ** 0.5)},
    ]


def test_templates_cannot_write_files_through_a_frame(run_yaml, weather, tmp_path):
    """Spec §5: no file access from templates, even through a DataFrame's own writers. These
    forms hide the call from the validator (which refuses `.to_csv('/path')` it can see); the
    sandbox refuses them when the template renders."""
    pwned = tmp_path / "pwned"
    pwned.mkdir()
    ran = run_yaml(yaml("""
        name: Frame writers
        steps:
          - id: load
            tool: data
            parameters: {path: "$csv", options: {parse_dates: [date]}}
          - id: via_variable
            tool: notify
            on_error: continue
            parameters:
              message: "{% set f = load.output.to_csv %}{{ f('$pwned/a.csv') }}"
          - id: via_attr_filter
            tool: notify
            on_error: continue
            parameters:
              message: "{{ (load.output | attr('to_pickle'))('$pwned/b.pkl') }}"
          - id: via_column
            tool: notify
            on_error: continue
            parameters:
              message: "{% set w = load.output.temp_max | attr('to_pickle') %}{{ w('$pwned/c.pkl') }}"
          - id: runs_code
            tool: notify
            on_error: continue
            parameters:
              message: "{% set p = load.output | attr('pipe') %}{{ p(load.output.head) }}"
          - id: reads
            tool: notify
            parameters:
              message: >-
                {{ load.output | length }} rows, columns {{ load.output.columns.tolist() | join(',') }},
                rain {{ load.output.precipitation.sum() | round(1) }} mm,
                {{ load.output.head(2).to_csv(index=False) | trim | replace('\\n', ' / ') }}
        outputs:
          via_variable: "{{ via_variable.error }}"
          via_attr_filter: "{{ via_attr_filter.error }}"
          via_column: "{{ via_column.error }}"
          runs_code: "{{ runs_code.error }}"
          reads: "{{ reads.output.message }}"
    """, csv=CSV, pwned=pwned))
    assert ran.result.status == "SUCCESS", ran.result.error
    assert list(pwned.iterdir()) == []
    o = ran.result.outputs
    assert o["via_variable"] == (
        "parameters.message: blocked by the template sandbox: `.to_csv()` in a template may only return "
        "text: give it no path or buffer (`path_or_buf`); to write a file use a `data` step with action `write`")
    assert o["via_attr_filter"].startswith(
        "parameters.message: blocked by the template sandbox: `.to_pickle` of a DataFrame is not allowed in "
        "templates: templates may only read data, never write files or run code (spec §5)")
    assert o["via_column"].startswith("parameters.message: blocked by the template sandbox: `.to_pickle` of a Series")
    assert o["runs_code"].startswith("parameters.message: blocked by the template sandbox: `.pipe` of a DataFrame")
    head = weather.head(2).to_csv(index=False).strip().replace("\n", " / ")
    assert o["reads"] == (f"1461 rows, columns {','.join(weather.columns)}, "
                          f"rain {round(weather.precipitation.sum(), 1)} mm, {head}")


def test_validator_flags_frame_writers_it_can_see():
    report = validate_text(yaml("""\
name: Writers
steps:
  - id: load
    tool: data
    parameters: {path: "$csv"}
  - id: leak
    tool: notify
    parameters:
      message: "{{ load.output.to_csv('/tmp/x/pwned.csv') }}"
  - id: run_code
    tool: notify
    parameters:
      message: "{{ load.output.eval('temp_max * 2') }}"
  - id: fine
    tool: notify
    parameters:
      message: "{{ load.output.to_markdown() }} {{ load.output.to_csv(index=False) }}"
""", csv=CSV), "writers.yaml")
    found = {(p.line, p.path, p.rule): p.message for p in report.errors}
    assert found == {
        (9, "steps[1].parameters.message", "sandbox"):
            "`.to_csv()` with a path or buffer would write a file, which the template sandbox forbids (spec §5): "
            "call it without one to get the text, or write the file with a `data` step (action `write`)",
        (13, "steps[2].parameters.message", "sandbox"):
            "`.eval()` is not allowed in templates: on a data value it would write a file or run code, which the "
            "template sandbox forbids (spec §5); use a `data` step instead",
    }


@pytest.mark.parametrize("expr, refused", [
    ("temp_max.astype('object').__class__", "`.__class__` is not allowed"),
    ("temp_max.where.__self__", "`.__self__` is not allowed"),
    ("`max temp`.to_csv('x.csv')", "`.to_csv` is not allowed"),
    ("temp_max.rolling(2).apply(abs)", "`.apply` is not allowed"),
    ("temp_max.fillna(temp_max.to_pickle)", "`.to_pickle` is not allowed"),
    ("temp_max.__\uff43lass__", "`.__class__` is not allowed"),  # a look-alike letter is normalized first
    ("getattr(temp_max, 'to_csv')", "`getattr()` is not a function expressions can call"),
    ("[x for x in temp_max]", "a comprehension is not allowed"),
    ("lambda: 1", "`lambda` is not allowed"),
    ("@temp_max > 1", "`@` local variables are not allowed"),
    ("temp_max = 1", "(use `==` to compare)"),
    ("temp_max > 'open", "a string starting with ' is not closed"),
])
def test_expression_guard_refuses(expr, refused):
    from yaml2dag.tools.data.expressions import ExpressionError, evaluate

    frame = pd.DataFrame({"temp_max": [1.0, 2.0], "max temp": [3.0, 4.0]})
    with pytest.raises(ExpressionError) as info:
        evaluate(frame, expr)
    assert refused in str(info.value)


def test_expression_guard_allows_column_methods_and_backticks():
    from yaml2dag.tools.data.expressions import evaluate

    frame = pd.DataFrame({"temp_max": [1.0, 2.0], "max temp": [3.0, 4.0], "w": ["rain @ 9", "sun"]})
    assert list(evaluate(frame, "(`max temp` + temp_max).round(0)")) == [4.0, 6.0]
    assert list(evaluate(frame, "w.str.contains('@') | (temp_max.rolling(2).mean() > 1)")) == [True, True]
    assert list(evaluate(frame, "`max temp` > 3")) == [False, True]


@pytest.mark.parametrize("have_tabulate", [True, False])
def test_preview_is_a_markdown_table_with_or_without_tabulate(monkeypatch, weather, have_tabulate):
    from yaml2dag.tools.data.frames import markdown_table

    if not have_tabulate:
        monkeypatch.setitem(sys.modules, "tabulate", None)  # `import tabulate` now raises ImportError
    frame = weather.head(12).assign(note=["a|b"] + [None] * 11)
    lines = markdown_table(frame).splitlines()
    assert [c.strip() for c in lines[0].strip("|").split("|")] == [*map(str, weather.columns), "note"]
    assert set(lines[1].replace("|", "").replace(":", "")) == {"-"}
    body = lines[2:12]
    assert len(body) == 10 and all(line.startswith("|") for line in body)
    assert "drizzle" in body[0] and "a\\|b" in body[0]  # a pipe in a value is escaped
    assert lines[-1] == "_10 of 12 rows_"


# --------------------------------------------------------------------------- URLs


class _Handler(QuietHandler):
    files: dict[str, tuple[str, bytes]] = {}
    seen: list[str] = []

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.seen.append(self.path)
        entry = self.files.get(self.path.split("?", 1)[0])
        if entry is None:
            self.send_error(404, "Not Found")
            return
        content_type, body = entry
        self._send(200, body, content_type)


@pytest.fixture
def http_server():
    """A stdlib HTTP server on 127.0.0.1 (free port), stopped after the test."""
    handler = type("Handler", (_Handler,), {"files": {}, "seen": []})
    with serving(LocalHTTPServer(handler)) as server:
        yield server, handler


def test_read_from_url_served_on_loopback(run_yaml, weather, http_server, tmp_path):
    server, handler = http_server
    body = Path(CSV).read_bytes()
    db = tmp_path / "served.db"
    with sqlite3.connect(db) as conn:
        weather.assign(date=weather.date.dt.strftime("%Y-%m-%d")).to_sql("weather", conn, index=False)
    handler.files["/weather.db"] = ("application/octet-stream", db.read_bytes())
    handler.files["/data/seattle-weather.csv"] = ("text/csv", body)
    handler.files["/export"] = ("text/csv; charset=utf-8", body)
    handler.files["/rainy.json"] = ("application/json", weather[weather.precipitation > 20].to_json(
        orient="records", date_format="iso").encode())
    base = server.url
    ran = run_yaml(yaml("""
        name: Weather over HTTP
        steps:
          - id: by_suffix
            tool: data
            parameters: {url: "$base/data/seattle-weather.csv?version=1", options: {parse_dates: [date]}, timeout: 20s}
          - id: by_content_type
            tool: data
            parameters: {url: "$base/export", options: {usecols: [date, weather]}}
          - id: json_records
            tool: data
            parameters: {url: "$base/rainy.json"}
          - id: database
            tool: data
            parameters:
              url: "$base/weather.db"
              query: "SELECT substr(date, 1, 4) AS year, MAX(temp_max) AS hottest FROM weather GROUP BY year"
          - id: missing
            tool: data
            on_error: continue
            parameters: {url: "$base/data/missing.csv"}
          - id: wettest
            tool: data
            action: transform
            parameters:
              input: "{{ by_suffix.output }}"
              operations:
                - sort: {by: [precipitation], descending: true}
                - limit: 1
        outputs:
          rows: "{{ by_suffix.rows }}"
          export_columns: "{{ by_content_type.columns }}"
          export_rows: "{{ by_content_type.rows }}"
          json_rows: "{{ json_records.rows }}"
          missing: "{{ missing.error }}"
          wettest: "{{ wettest.output }}"
          hottest: "{{ database.output }}"
    """, base=base))
    assert ran.result.status == "SUCCESS", ran.result.error
    o = ran.result.outputs
    assert o["rows"] == 1461 and o["export_rows"] == 1461
    assert o["export_columns"] == ["date", "weather"]
    assert o["json_rows"] == int((weather.precipitation > 20).sum())
    assert o["missing"] == f"GET {base}/data/missing.csv answered 404 Not Found"
    top = weather.loc[weather.precipitation.idxmax()]
    assert o["wettest"][0]["precipitation"] == top.precipitation
    assert o["wettest"][0]["date"].startswith(top.date.strftime("%Y-%m-%d"))
    hottest = weather.groupby(weather.date.dt.year).temp_max.max()
    assert {r["year"]: r["hottest"] for r in o["hottest"]} == {str(y): t for y, t in hottest.items()}
    assert sorted(handler.seen) == sorted(["/data/seattle-weather.csv?version=1", "/export", "/rainy.json",
                                           "/weather.db", "/data/missing.csv"])
    meta = step_metadata(ran, "by_suffix")
    assert meta["source"] == f"{base}/data/seattle-weather.csv?version=1" and meta["rows"] == 1461


# --------------------------------------------------------------------------- validation


BAD_OPERATIONS = """\
name: Bad operations
steps:
  - id: load
    tool: data
    parameters:
      path: weather.csv
      options: {parse_dates: [date], sepp: ";"}
  - id: clean
    tool: data
    action: transform
    parameters:
      input: "{{ load.output }}"
      operations:
        - filtr: "precipitation > 0"
        - filter:
        - group_by: [year]
          agg: {precipitation: sum}
        - group_by: {by: [year], agg: {precipitation: average}}
        - sort: {by: year, descending: maybe}
        - join: {on: year}
        - limit: -5
        - select: [date, 3]
  - id: save
    tool: data
    action: write
    parameters:
      input: weather.csv
      path: weather.sqlite
  - id: fetch
    tool: data
    parameters:
      path: a.csv
      url: ftp://example.com/a.csv
outputs:
  rows: "{{ clean.rowz }}"
"""


def test_validator_reports_bad_parameters_at_their_lines():
    report = validate_text(BAD_OPERATIONS, "bad.yaml")
    assert not report.valid
    found = {(p.line, p.path): p.message for p in report.errors}
    expected = {
        (7, "steps[0].parameters.options.sepp"): "unknown key `sepp`; did you mean `sep`?",
        (14, "steps[1].parameters.operations[0].filtr"): "unknown key `filtr`; did you mean `filter`?",
        (15, "steps[1].parameters.operations[1].filter"): "expected a string, got null",
        (16, "steps[1].parameters.operations[2].group_by"): "expected a mapping, got a list",
        (17, "steps[1].parameters.operations[2].agg"): "expected `agg` inside `group_by`",
        (18, "steps[1].parameters.operations[3].group_by.agg.precipitation"): "the string 'average' is not one of `sum`",
        (19, "steps[1].parameters.operations[4].sort.descending"): "expected true or false, got the string 'maybe'",
        (20, "steps[1].parameters.operations[5].join"): "missing required key `with`",
        (21, "steps[1].parameters.operations[6].limit"): "must be at least 0, got -5",
        (22, "steps[1].parameters.operations[7].select[1]"): "expected a string, got the integer 3",
        (27, "steps[2].parameters"): "missing required key `table`",
        (27, "steps[2].parameters.input"): "expected a DataFrame from another step, such as \"{{ load.output }}\"",
        (32, "steps[3].parameters"): "expected exactly one of `path` (a file) or `url` (http or https)",
        (33, "steps[3].parameters.url"): "expected an http:// or https:// URL",
        (35, "outputs.rows"): "step `clean` has no result field `rowz`; did you mean `rows`?",
    }
    for where, message in expected.items():
        assert where in found, f"no problem reported at line {where[0]} ({where[1]}); got:\n" + "\n".join(
            p.format() for p in report.errors)
        assert found[where].startswith(message), (where, found[where])
    assert (16, "steps[1].parameters.operations[2]") in found  # two keys in one operation


def test_valid_data_workflow_validates_without_importing_pandas(tmp_path):
    wf = tmp_path / "ok.yaml"
    wf.write_text(yaml("""\
name: Data ok
parameters:
  threshold: 0
steps:
  - id: load
    tool: data
    parameters: {path: "$csv", options: {parse_dates: [date]}}
  - id: clean
    tool: data
    action: transform
    parameters:
      input: "{{ load.output }}"
      operations:
        - filter: "precipitation > {{ threshold }}"
        - derive: {year: "date.dt.year"}
        - group_by: {by: year, agg: {temp_max: [mean, max], hottest: {column: temp_max, func: max}}, count: days}
        - sort: {by: [year], descending: [true]}
        - dropna: {subset: [year], how: any}
        - fillna: {days: 0}
        - join: {with: "{{ load.output }}", left_on: year, right_on: year, how: inner, suffixes: ["", "_raw"]}
        - limit: 10
  - id: stats
    tool: data
    action: analyze
    parameters: {input: "{{ clean.output }}", value_counts: weather, top: 3, correlations: kendall}
  - id: save
    tool: data
    action: write
    parameters: {input: "{{ clean.output }}", path: out.db, table: yearly, if_exists: replace, index: false}
outputs:
  rows: "{{ clean.rows }}"
  bytes: "{{ save.bytes }}"
""", csv=CSV))
    code = (
        "import sys\n"
        "from yaml2dag.format.validation import validate_file\n"
        f"report = validate_file({str(wf)!r})\n"
        "assert report.valid, [p.format() for p in report.problems]\n"
        "assert 'pandas' not in sys.modules, 'validation imported pandas'\n"
        "print('ok')\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"
