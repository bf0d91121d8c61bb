"""The `data` tool's `analyze` action and the previews every action shows, called directly (no
Dagster run) on vega_datasets' seattle-weather.csv, checked against pandas; and the mistakes in a
`data` step that the validator reports at their FILE:LINE:COL before any run.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from vega_datasets import local_data

from yaml2dag.format.validation import validate_text
from yaml2dag.tools.base import ToolContext, ToolError
from yaml2dag.tools.data import TOOL
from yaml2dag.tools.data.frames import markdown_table


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    return pd.read_csv(local_data.seattle_weather.filepath, parse_dates=["date"])


def analyze(frame, **params):
    action = next(a for a in TOOL.actions if a.name == "analyze")
    return action.run(ToolContext("stats"), {"input": frame, **params})


def refused(frame, **params) -> str:
    with pytest.raises(ToolError) as info:
        analyze(frame, **params)
    assert info.value.retryable is False
    return info.value.message


# --------------------------------------------------------------------------- analyze


@pytest.mark.parametrize("method", [True, "spearman", "kendall"])
def test_correlations_match_pandas(weather, method):
    got = analyze(weather, describe=False, correlations=method)
    name = "pearson" if method is True else method
    expected = weather.select_dtypes("number").corr(method=name)
    assert got.output["correlation_method"] == name
    assert "describe" not in got.output
    assert set(got.output["correlations"]) == set(expected.columns)
    for row in expected.index:
        for col in expected.columns:
            assert got.output["correlations"][row][col] == pytest.approx(expected.loc[row, col], rel=1e-12)
    assert f"### Correlations ({name})" in got.metadata["summary"]


def test_value_counts_keep_the_top_values_and_count_nulls_as_null(weather):
    frame = weather.assign(weather=weather.weather.where(weather.weather != "fog", None))
    got = analyze(frame, columns=["weather", "wind"], value_counts="weather", top=2)
    expected = frame.weather.value_counts(dropna=False).head(2)
    assert got.output["value_counts"] == {"weather": {("null" if pd.isna(k) else k): int(v)
                                                      for k, v in expected.items()}}
    assert "null" in got.output["value_counts"]["weather"]  # fog → null: the second most frequent value
    assert got.fields == {"rows": 1461, "columns": ["weather", "wind"]}
    assert got.output["columns"]["weather"] == {"dtype": str(frame.weather.dtype),
                                                "nulls": int(frame.weather.isna().sum()),
                                                "unique": int(frame.weather.nunique())}
    assert "### Values of `weather`" in got.metadata["summary"]


def test_describe_of_times_durations_and_list_values_is_plain_json():
    frame = pd.DataFrame({
        "when": pd.to_datetime(["2020-01-01", None, "2020-01-03"]),
        "took": pd.to_timedelta(["1D", "2h", "4h"]),
        "tags": [["a"], ["b"], ["a"]],
    })
    got = analyze(frame, value_counts="when")
    described = got.output["describe"]
    assert described["when"]["min"] == "2020-01-01T00:00:00" and described["when"]["count"] == 2
    assert described["took"]["max"] == pd.Timedelta("1D").isoformat()
    assert got.output["columns"]["tags"] == {"dtype": "object", "nulls": 0, "unique": None}  # lists: not hashable
    assert got.output["value_counts"]["when"] == {"2020-01-01T00:00:00": 1, "null": 1, "2020-01-03T00:00:00": 1}


def test_describe_shows_the_most_frequent_mapping_list_or_time_as_json():
    frame = pd.DataFrame({"meta": [{"a": 1}, {"a": 1}, {"b": 2}], "pair": [(1, 2), (1, 2), (3,)],
                          "seen": pd.Series([np.datetime64("2020-01-01"), np.datetime64("2020-01-01"), "never"],
                                            dtype=object)})
    described = analyze(frame).output["describe"]
    assert described["meta"] == {"count": 3, "unique": 2, "top": {"a": 1}, "freq": 2}
    assert described["pair"] == {"count": 3, "unique": 2, "top": [1, 2], "freq": 2}
    assert described["seen"] == {"count": 3, "unique": 2, "top": "2020-01-01T00:00:00", "freq": 2}


def test_a_frame_without_numbers_or_columns_gives_an_empty_summary_part(weather):
    text_only = analyze(weather[["weather"]], correlations=True)
    assert text_only.output["correlations"] == {}
    assert text_only.output["describe"]["weather"]["top"] == weather.weather.mode()[0]
    nothing = analyze(weather, columns=[], correlations=True)
    assert nothing.output == {"rows": 1461, "columns": {}, "describe": {}, "correlations": {},
                              "correlation_method": "pearson"}
    assert nothing.metadata["summary"] == "**1,461 rows × 0 columns**"


@pytest.mark.parametrize("params, message", [
    ({"top": 0}, "`top` must be a whole number of at least 1, got 0"),
    ({"top": True}, "`top` must be a whole number of at least 1, got True"),
    ({"correlations": "pearsn"}, "`correlations` must be true, false or one of pearson, spearman, kendall, "
     "got 'pearsn'"),
    ({"columns": ["wnd"]}, "columns: unknown column `wnd`; did you mean `wind`? (columns: date, precipitation, "
     "temp_max, temp_min, wind, weather)"),
    ({"value_counts": "sky"}, "value_counts: unknown column `sky` (columns: date, precipitation, temp_max, "
     "temp_min, wind, weather)"),
    ({"columns": [3]}, "columns: a column name must be a string, got 3"),
])
def test_analyze_mistakes(weather, params, message):
    assert refused(weather, **params) == message


def test_analyze_input_that_is_not_a_frame(weather):
    assert refused(3.5) == ("`input` must be a DataFrame from another step, such as \"{{ load.output }}\" (or a "
                            "list of records), got float 3.5")
    got = refused("x" * 200)
    assert got.endswith("…; to load a file, use the `read` action") and len(got) < 250


# --------------------------------------------------------------------------- preview


def test_preview_cells_are_one_line_cut_and_empty_for_nulls():
    frame = pd.DataFrame({"text": ["a" * 100, "two\nlines", None], "when": [pd.NaT, pd.Timestamp("2020-01-02"),
                                                                            pd.NaT]})
    lines = markdown_table(frame).splitlines()
    assert "a" * 79 + "…" in lines[2] and "a" * 80 not in lines[2]
    assert "two lines" in lines[3]
    assert lines[4].replace("|", "").strip() == ""
    assert lines[-1] == "_3 rows_"
    assert markdown_table(pd.DataFrame(index=range(4))) == "_no columns; 4 rows_"


def test_preview_of_a_parquet_list_column_read_by_the_tool(tmp_path):
    path = tmp_path / "tags.parquet"
    pd.DataFrame({"id": [1, 2], "tags": [["rain", "wind"], []]}).to_parquet(path)
    action = next(a for a in TOOL.actions if a.name == "read")
    got = action.run(ToolContext("load"), {"path": str(path)})
    rows = [[c.strip() for c in line.strip("|").split("|")] for line in got.metadata["preview"].splitlines()[2:4]]
    assert rows == [["1", "['rain' 'wind']"], ["2", "[]"]]


# --------------------------------------------------------------------------- validation

MISTAKES = """\
name: Data mistakes
steps:
  - id: load
    tool: data
    parameters:
      path: weather.sqlite
  - id: clean
    tool: data
    action: transform
    parameters:
      input: "{{ load.output }}"
      operations:
        - join: {with: "{{ load.output }}", how: full}
        - dropna: {subset: [wind], how: some}
        - fillna: [0]
        - sort: {by: wind, descending: [true, 2]}
  - id: stats
    tool: data
    action: analyze
    parameters: {input: "{{ clean.output }}", top: 0, correlations: pearsn}
  - id: save
    tool: data
    action: write
    parameters:
      input: "{{ clean.output }}"
      path: out.csv
      overwrite: "yes"
      options: {compression: zip}
"""


def test_validator_reports_data_step_mistakes_at_file_line_column():
    report = validate_text(MISTAKES, "mistakes.yaml")
    assert not report.valid
    got = [p.format() for p in report.errors]
    assert got == [
        "mistakes.yaml:6:7: steps[0].parameters: expected `table` or `query` to read a SQLite database, got a "
        "mapping [parameters]",
        "mistakes.yaml:13:50: steps[1].parameters.operations[0].join.how: the string 'full' is not one of `inner`, "
        "`left`, `right`, `outer`, `cross` [parameters]",
        "mistakes.yaml:14:41: steps[1].parameters.operations[1].dropna.how: the string 'some' is not one of `any`, "
        "`all` [parameters]",
        "mistakes.yaml:15:19: steps[1].parameters.operations[2].fillna: expected a string or a number or true or "
        "false, got a list [parameters]",
        "mistakes.yaml:16:47: steps[1].parameters.operations[3].sort.descending[1]: expected true or false, got "
        "the integer 2 [parameters]",
        "mistakes.yaml:20:52: steps[2].parameters.top: must be at least 1, got 0 [parameters]",
        "mistakes.yaml:20:69: steps[2].parameters.correlations: the string 'pearsn' is not one of `pearson`, "
        "`spearman`, `kendall`; did you mean `pearson`? [parameters]",
        "mistakes.yaml:27:18: steps[3].parameters.overwrite: expected true or false, got the string 'yes' "
        "[parameters]",
        "mistakes.yaml:28:30: steps[3].parameters.options.compression: the string 'zip' is not one of `snappy`, "
        "`gzip`, `brotli`, `zstd`, `lz4`, `none`; did you mean `gzip`? [parameters]",
    ]


def test_the_preview_and_the_log_count_one_row_in_the_singular():
    frame = pd.DataFrame({"city": ["Seattle"], "rain_mm": [4.2]})
    assert markdown_table(frame).splitlines()[-1] == "_1 row_"
    assert markdown_table(pd.DataFrame(index=[0])).splitlines()[-1] == "_no columns; 1 row_"
    assert markdown_table(pd.concat([frame] * 1461)).splitlines()[-1].endswith(" of 1,461 rows_")
    lines: list[str] = []
    ctx = ToolContext("stats")
    ctx.log.info = lines.append
    TOOL.action("analyze").run(ctx, {"input": frame})
    assert any(line.startswith("analyzed 1 row × 2 columns") for line in lines), lines
