"""The `data` tool's `transform` action called directly (no Dagster run), on vega_datasets'
seattle-weather.csv: every operation's less-used shapes give the frame pandas gives, and every
mistake a workflow author can make in `operations` stops the step with `operations[N].NAME: why`
(not retryable) instead of a traceback.
"""

from __future__ import annotations

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from vega_datasets import local_data

from yaml2dag.tools.base import ToolContext, ToolError
from yaml2dag.tools.data import TOOL

COLUMNS = "date, precipitation, temp_max, temp_min, wind, weather"


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    return pd.read_csv(local_data.seattle_weather.filepath, parse_dates=["date"])


def transform(frame, *operations):
    action = next(a for a in TOOL.actions if a.name == "transform")
    return action.run(ToolContext("clean"), {"input": frame, "operations": list(operations)})


def refused(frame, *operations) -> str:
    """The message of the ToolError the step stops with (checked not retryable)."""
    with pytest.raises(ToolError) as info:
        transform(frame, *operations)
    assert info.value.retryable is False
    return info.value.message


def same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False)


# --------------------------------------------------------------------------- results


def test_filter_keeps_rows_where_true_and_a_constant_keeps_all_or_none(weather):
    got = transform(weather, {"filter": "weather == 'rain' and precipitation > 10"})
    same(got.output, weather[(weather.weather == "rain") & (weather.precipitation > 10)])
    assert got.fields["rows"] == int(((weather.weather == "rain") & (weather.precipitation > 10)).sum())
    assert got.metadata["operations"] == 1

    assert len(transform(weather, {"filter": "1 > 0"}).output) == len(weather)
    none = transform(weather, {"filter": "1 < 0"}).output
    assert len(none) == 0 and list(none.columns) == list(weather.columns)


def test_filter_counts_null_as_false_on_a_nullable_boolean_column():
    records = [{"city": "a", "wet": True}, {"city": "b", "wet": None}, {"city": "c", "wet": False}]
    frame = pd.DataFrame(records).astype({"wet": "boolean"})
    assert transform(frame, {"filter": "wet"}).output["city"].tolist() == ["a"]


def test_select_rename_and_limit_match_pandas(weather):
    got = transform(weather, {"select": "wind"}).output
    same(got, weather[["wind"]])
    got = transform(weather, {"select": ["weather", "date"]}, {"rename": {"weather": "sky"}}, {"limit": 7}).output
    same(got, weather[["weather", "date"]].rename(columns={"weather": "sky"}).head(7))
    assert len(transform(weather, {"limit": 0}).output) == 0


def test_derive_sees_earlier_columns_takes_constants_and_backtick_names(weather):
    got = transform(weather, {"derive": {"range": "temp_max - temp_min", "wide": "range > 10",
                                         "one": "1", "year": "date.dt.year"}}).output
    assert got["range"].tolist() == pytest.approx((weather.temp_max - weather.temp_min).tolist())
    assert got["wide"].tolist() == ((weather.temp_max - weather.temp_min) > 10).tolist()
    assert set(got["one"]) == {1}
    assert got["year"].tolist() == weather.date.dt.year.tolist()
    assert "range" not in weather.columns  # the input frame is not modified

    spaced = weather.rename(columns={"temp_max": "max temp"})
    got = transform(spaced, {"derive": {"f": "`max temp` * 9 / 5 + 32"}}).output
    assert got["f"].tolist() == pytest.approx((weather.temp_max * 9 / 5 + 32).tolist())


def test_derive_with_a_window_aggregated_matches_pandas(weather):
    got = transform(weather, {"derive": {"week": "temp_max.rolling(7).mean()"}}).output
    expected = weather.temp_max.rolling(7).mean()
    assert got["week"].iloc[6:].tolist() == pytest.approx(expected.iloc[6:].tolist())
    assert got["week"].iloc[:6].isna().all()


def test_group_by_with_lists_named_aggregations_and_count_matches_pandas(weather):
    got = transform(weather, {"derive": {"year": "date.dt.year"}},
                    {"group_by": {"by": "year", "agg": {"temp_max": ["mean", "max"],
                                                        "wettest": {"column": "precipitation", "func": "max"}},
                                  "count": "days"}}).output
    year = weather.date.dt.year
    expected = weather.assign(year=year).groupby("year", as_index=False).agg(
        temp_max_mean=("temp_max", "mean"), temp_max_max=("temp_max", "max"),
        wettest=("precipitation", "max"), days=("temp_max", "size"))
    same(got, expected)
    assert got["days"].tolist() == [366, 365, 365, 365]


def test_group_by_keeps_rows_with_a_null_key_as_their_own_group():
    frame = pd.DataFrame({"city": ["a", None, "a", None, "b"], "rain": [1.0, 2.0, 3.0, 4.0, 5.0]})
    got = transform(frame, {"group_by": {"by": "city", "agg": {"rain": "sum"}}}).output
    assert dict(zip(got["city"].fillna("<null>"), got["rain"])) == {"a": 4.0, "b": 5.0, "<null>": 6.0}


def test_sort_by_a_column_and_by_columns_with_one_direction_each(weather):
    same(transform(weather, {"sort": "wind"}).output, weather.sort_values("wind", kind="stable"))
    got = transform(weather, {"sort": {"by": ["weather", "temp_max"], "descending": [False, True]}}).output
    same(got, weather.sort_values(["weather", "temp_max"], ascending=[True, False], kind="stable"))
    got = transform(weather, {"sort": {"by": "precipitation", "descending": True}}).output
    same(got, weather.sort_values("precipitation", ascending=False, kind="stable"))


def test_dropna_and_fillna_shapes_match_pandas():
    frame = pd.DataFrame({"a": [1.0, None, None, 4.0], "b": [None, None, "x", "y"], "c": [1, 2, 3, 4]})
    same(transform(frame, {"dropna": True}).output, frame.dropna())
    same(transform(frame, {"dropna": False}).output, frame)
    same(transform(frame, {"dropna": "a"}).output, frame.dropna(subset=["a"]))
    same(transform(frame, {"dropna": {"subset": ["a", "b"], "how": "all"}}).output,
         frame.dropna(subset=["a", "b"], how="all"))
    same(transform(frame, {"dropna": {"how": "all"}}).output, frame.dropna(how="all"))
    same(transform(frame, {"fillna": {"a": 0, "b": "?"}}).output, frame.fillna({"a": 0, "b": "?"}))
    same(transform(frame[["a"]], {"fillna": -1}).output, frame[["a"]].fillna(-1))


def test_join_shapes_match_pandas(weather):
    daily = weather[["date", "weather"]]
    labels = [{"weather": "rain", "wet": True}, {"weather": "sun", "wet": False}]
    got = transform(daily, {"join": {"with": labels, "how": "left"}}).output  # on the shared column
    same(got, daily.merge(pd.DataFrame(labels), on="weather", how="left"))

    lookup = pd.DataFrame(labels).rename(columns={"weather": "sky"})
    got = transform(daily, {"join": {"with": lookup, "left_on": "weather", "right_on": "sky"}}).output
    same(got, daily.merge(lookup, left_on="weather", right_on="sky"))

    other = weather[["date", "wind"]].head(3)
    got = transform(weather.head(3), {"join": {"with": other, "on": "date", "suffixes": ["", "_b"]}}).output
    assert list(got.columns) == [*weather.columns, "wind_b"]

    sizes = {"size": ["S", "L"]}  # a mapping of columns is a frame too
    got = transform(weather.head(2)[["date"]], {"join": {"with": sizes, "how": "cross"}}).output
    same(got, weather.head(2)[["date"]].merge(pd.DataFrame(sizes), how="cross"))


def test_input_may_be_records_a_mapping_of_columns_or_a_series(weather):
    records = [{"a": 1, "b": "x"}, {"a": 2, "b": "y"}]
    assert transform(records, {"select": "b"}).output["b"].tolist() == ["x", "y"]
    assert transform({"a": [3, 1]}, {"sort": "a"}).output["a"].tolist() == [1, 3]
    got = transform(weather["wind"], {"limit": 2})
    assert got.fields == {"rows": 2, "columns": ["wind"]}


def test_column_names_that_are_numbers_are_used_as_text():
    frame = pd.DataFrame([[1, 2], [3, 4]])  # columns 0 and 1, as `header: null` reads a CSV
    got = transform(frame, {"select": "1"})
    assert got.fields["columns"] == ["1"]
    assert got.output["1"].tolist() == [2, 4]


# --------------------------------------------------------------------------- mistakes

@pytest.mark.parametrize("operations, message", [
    ([], "`operations` must be a non-empty list of operations such as {filter: \"precipitation > 0\"}"),
    (["filter"], "operations[0]: expected one operation per item, such as {filter: \"precipitation > 0\"}, got str"),
    ([{"filter": "wind > 1", "limit": 3}], "operations[0]: expected one operation per item, such as "
     "{filter: \"precipitation > 0\"}, got a mapping with 2 keys (filter, limit)"),
    ([{"limit": 3}, {"filtr": "wind > 1"}], "operations[1]: unknown operation `filtr`; did you mean `filter`? "
     "(operations: filter, select, rename, derive, group_by, sort, dropna, fillna, join, limit)"),
    # filter
    ([{"filter": "temp_max"}], "operations[0].filter: the expression must be true or false for each row, but "
     "gives float64 values (compare it, e.g. `precipitation > 0`)"),
    ([{"filter": "weather > 3"}], "operations[0].filter: cannot evaluate 'weather > 3': TypeError: "
     "Invalid comparison between dtype=str and int"),
    ([{"filter": "precip > 0"}], f"operations[0].filter: name 'precip' is not defined; did you mean "
     f"`precipitation`? (columns: {COLUMNS})"),
    ([{"filter": "wind > 1 if True else 0"}], "operations[0].filter: `x if c else y` is not allowed in expressions"),
    ([{"filter": 5}], "operations[0].filter: an expression must be a string, got int 5"),
    ([{"filter": "  "}], "operations[0].filter: the expression is empty"),
    ([{"filter": "`temp max > 3"}], "operations[0].filter: a backtick-quoted column name is not closed"),
    ([{"filter": "temp_max[0](1) > 0"}], "operations[0].filter: only functions and column methods can be "
     "called in expressions"),
    # select, rename
    ([{"select": "wnd"}], f"operations[0].select: unknown column `wnd`; did you mean `wind`? (columns: {COLUMNS})"),
    ([{"select": []}], "operations[0].select: the argument must be a column name or a list of column names, got []"),
    ([{"select": ["wind", 1]}], "operations[0].select: the argument must be a column name or a list of column "
     "names, got ['wind', 1]"),
    ([{"rename": {}}], "operations[0].rename: the argument must be a non-empty mapping, got {}"),
    ([{"rename": {"wind": ""}}], "operations[0].rename: a new column name must be a non-empty string, got ''"),
    ([{"rename": {"wind": "weather"}}], "operations[0].rename: renaming would give two columns named `weather`"),
    ([{"rename": {"wnd": "speed"}}], f"operations[0].rename: unknown column `wnd`; did you mean `wind`? "
     f"(columns: {COLUMNS})"),
    # derive
    ([{"derive": {"x": "nope + 1"}}], f"operations[0].derive: x: name 'nope' is not defined (columns: {COLUMNS})"),
    ([{"derive": {"x": "weather.str.extract('(s)(u)')"}}], "operations[0].derive: x: the expression gives several "
     "columns; it must give one"),
    ([{"derive": {"x": "temp_max.astype('nope')"}}], "operations[0].derive: x: cannot evaluate "
     "\"temp_max.astype('nope')\": TypeError: data type 'nope' not understood"),
    # group_by
    ([{"group_by": {"by": "weather", "sum": "wind"}}], "operations[0].group_by: unknown key `sum` (keys: by, agg, count)"),
    ([{"group_by": {"agg": {"wind": "sum"}}}], "operations[0].group_by: missing `by`: the column(s) to group by"),
    ([{"group_by": {"by": "weather"}}], "operations[0].group_by: set `agg` (column: function) and/or `count` "
     "(name of a row-count column)"),
    ([{"group_by": {"by": "weathr", "count": "n"}}], f"operations[0].group_by.by: unknown column `weathr`; "
     f"did you mean `weather`? (columns: {COLUMNS})"),
    ([{"group_by": {"by": "weather", "agg": ["wind"]}}], "operations[0].group_by: `agg` must be a mapping of "
     "column: function, got ['wind']"),
    ([{"group_by": {"by": "weather", "agg": {"wind": "avg"}}}], "operations[0].group_by: agg.wind: unknown "
     "function 'avg' (functions: sum, mean, median, min, max, count, size, nunique, std, var, first, last, "
     "prod, any, all)"),
    ([{"group_by": {"by": "weather", "agg": {"wnd": "sum"}}}], f"operations[0].group_by.agg.wnd: unknown column "
     f"`wnd`; did you mean `wind`? (columns: {COLUMNS})"),
    ([{"group_by": {"by": "weather", "agg": {"wind": ["mean", "mean"]}}}], "operations[0].group_by: agg.wind: "
     "two result columns would be named `wind_mean`"),
    ([{"group_by": {"by": "weather", "agg": {"weather": "count"}}}], "operations[0].group_by: agg.weather: two "
     "result columns would be named `weather`"),
    ([{"group_by": {"by": "weather", "count": 3}}], "operations[0].group_by: `count` must be a column name, got 3"),
    ([{"group_by": {"by": "weather", "count": "weather"}}], "operations[0].group_by: `count: weather` would "
     "duplicate the column `weather`"),
    ([{"group_by": {"by": "weather", "agg": {"date": "sum"}}}], "operations[0].group_by: cannot aggregate: "
     "\"datetime64 type does not support operation 'sum'\" (column types: date datetime64[us])"),
    # sort
    ([{"sort": {"by": "wind", "asc": True}}], "operations[0].sort: unknown key `asc` (keys: by, descending)"),
    ([{"sort": {"descending": True}}], "operations[0].sort: missing `by`: the column(s) to sort by"),
    ([{"sort": {"by": ["wind"], "descending": [True, False]}}], "operations[0].sort: `descending` must be "
     "true/false or one true/false per column (1)"),
    ([{"sort": {"by": "wind", "descending": "yes"}}], "operations[0].sort: `descending` must be true or false, "
     "got 'yes'"),
    ([{"sort": "wnd"}], f"operations[0].sort: unknown column `wnd`; did you mean `wind`? (columns: {COLUMNS})"),
    # dropna, fillna
    ([{"dropna": {"subset": "wind", "columns": "x"}}], "operations[0].dropna: unknown key `columns` (keys: subset, how)"),
    ([{"dropna": {"how": "some"}}], "operations[0].dropna: `how` must be any or all, got 'some'"),
    ([{"dropna": ["wnd"]}], f"operations[0].dropna: unknown column `wnd`; did you mean `wind`? (columns: {COLUMNS})"),
    ([{"fillna": {}}], "operations[0].fillna: the mapping of column: value is empty"),
    ([{"fillna": [0]}], "operations[0].fillna: expected a value or a mapping of column: value, got [0]"),
    ([{"fillna": {"wnd": 0}}], f"operations[0].fillna: unknown column `wnd`; did you mean `wind`? (columns: {COLUMNS})"),
    # limit
    ([{"limit": -1}], "operations[0].limit: expected a number of rows (0 or more), got -1"),
    ([{"limit": True}], "operations[0].limit: expected a number of rows (0 or more), got True"),
    ([{"limit": "10"}], "operations[0].limit: expected a number of rows (0 or more), got '10'"),
])
def test_a_mistake_in_operations_is_reported_with_its_place(weather, operations, message):
    assert refused(weather, *operations) == message


@pytest.mark.parametrize("spec, message", [
    ({"on": "date"}, "missing `with`: the other frame, such as \"{{ other.output }}\""),
    ({"with": "RIGHT", "using": "date"}, "unknown key `using` (keys: with, on, left_on, right_on, how, suffixes)"),
    ({"with": "RIGHT", "how": "full"}, "`how` must be one of inner, left, right, outer, cross, got 'full'"),
    ({"with": "RIGHT", "suffixes": ["_x"]}, "`suffixes` must be two strings, got ['_x']"),
    ({"with": "RIGHT", "how": "cross", "on": "date"}, "a cross join takes no `on`/`left_on`/`right_on`"),
    ({"with": "RIGHT", "on": "date", "left_on": "date"}, "set `on`, or `left_on` and `right_on`, not both"),
    ({"with": "RIGHT", "left_on": "date"}, "`left_on` and `right_on` go together"),
    ({"with": "RIGHT", "left_on": "date", "right_on": ["date", "wind"]}, "`left_on` has 1 columns and `right_on` 2"),
    ({"with": "RIGHT", "on": "day"}, f".on: unknown column `day` (columns: {COLUMNS})"),
    ({"with": "RIGHT", "left_on": "date", "right_on": "dates"}, ".right_on: unknown column `dates` of the right "
     f"frame (`with`); did you mean `date`? (columns: {COLUMNS})"),
    ({"with": "RIGHT", "on": "date", "suffixes": ["", ""]}, "cannot join: columns overlap but no suffix specified"),
    ({"with": "TEXT_DATES", "on": "date"}, "cannot join: You are trying to merge on datetime64[us] and str columns "
     "for key 'date'"),
    ({"with": "NO_SHARED"}, "the frames share no column: set `on` (or `left_on` and `right_on`)"),
    ({"with": "weather.csv"}, "`with` must be a DataFrame from another step, such as \"{{ load.output }}\" (or a "
     "list of records), got str 'weather.csv'; to load a file, use the `read` action"),
    ({"with": {"a": [1, 2], "b": [1]}}, "`with` is a mapping that is not a table of columns (All arrays must be of "
     "the same length); pass a DataFrame such as \"{{ load.output }}\""),
])
def test_a_mistake_in_a_join_is_reported_with_its_place(weather, spec, message):
    others = {"RIGHT": weather, "TEXT_DATES": weather.assign(date=weather.date.astype(str)),
              "NO_SHARED": pd.DataFrame({"x": [1]})}
    spec = {k: others.get(v, v) if isinstance(v, str) else v for k, v in spec.items()}
    got = refused(weather, {"join": spec})
    assert got.startswith("operations[0].join"), got
    assert message in got, got


@pytest.mark.parametrize("expression, message", [
    # a window or an accessor is not a column: before the fix these gave "TypeError: object of type
    # 'Rolling' has no len()" or silently filled the column with accessor objects
    ("temp_max.rolling(7)", "`temp_max.rolling(7)` is a window (Rolling), not values: end it with an "
     "aggregation such as `temp_max.rolling(7).mean()`"),
    ("temp_max.expanding()", "`temp_max.expanding()` is a window (Expanding), not values: end it with an "
     "aggregation such as `temp_max.expanding().mean()`"),
    ("date.dt", "`date.dt` gives a DatetimeProperties, not values: use one of its properties or methods, such "
     "as `date.dt.year` or `weather.str.len()`"),
    ("weather.str", "`weather.str` gives a StringMethods, not values: use one of its properties or methods, "
     "such as `date.dt.year` or `weather.str.len()`"),
    ("temp_max.round", "`temp_max.round` is a method that is not called: add the parentheses, e.g. "
     "`temp_max.round()`"),
])
def test_derive_refuses_an_expression_that_gives_no_values(weather, expression, message):
    assert refused(weather, {"derive": {"x": expression}}) == f"operations[0].derive: x: {message}"


def test_a_filter_that_gives_one_value_that_is_not_true_or_false_is_refused(weather):
    # the value as the user would write it (was numpy's repr: np.float64(4426.0))
    assert refused(weather, {"filter": "precipitation.sum()"}) == (
        "operations[0].filter: the expression must be true or false for each row, but gives the single value "
        f"{float(weather.precipitation.sum())!r}")
    assert refused(weather, {"filter": "2 + 1"}) == (
        "operations[0].filter: the expression must be true or false for each row, but gives the single value 3")


def test_the_failing_operation_is_counted_from_zero_after_ones_that_worked(weather):
    got = refused(weather, {"filter": "wind > 1"}, {"derive": {"year": "date.dt.year"}}, {"select": "yaer"})
    assert got.startswith("operations[2].select: unknown column `yaer`; did you mean `year`?")


def test_a_pandas_error_inside_an_operation_names_the_operation_and_error_type(weather):
    got = refused(weather, {"derive": {"pair": "[1, 2]"}})
    assert got == "operations[0].derive: pair: the expression gives 2 values for 1461 rows"
    # values that cannot be ordered: pandas' own TypeError, reported on one line
    got = refused([{"a": 1}, {"a": "x"}], {"sort": "a"})
    assert got.startswith("operations[0].sort: TypeError: "), got
    assert "not supported between instances of" in got and "\n" not in got


def test_the_column_list_of_a_wide_frame_is_shortened(weather):
    wide = pd.DataFrame({f"c{i}": [i] for i in range(35)})
    got = refused(wide, {"filter": "d1 > 0"})
    assert got.endswith("c29, … (5 more))"), got
    spaced = pd.DataFrame({"max temp": [1.0]})
    got = refused(spaced, {"filter": "max_temp > 0"})
    assert got.endswith("(columns: max temp); write a name that is not an identifier in backticks: `my column`"), got


def test_quotes_inside_a_string_in_an_expression_are_kept(weather):
    frame = pd.DataFrame({"name": ["it's", "its"]})
    got = transform(frame, {"filter": "name == 'it\\'s'"}).output
    assert got["name"].tolist() == ["it's"]
