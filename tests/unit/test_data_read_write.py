"""The `data` tool's `read` and `write` actions called directly (no Dagster run), on
vega_datasets' seattle-weather.csv and files under tmp_path: each format and option gives what
pandas gives when called directly, and each mistake a workflow author can make (a wrong path, a
malformed file, an option of another format, an existing file or table) stops the step with the
message the action promises, not a traceback.
"""

from __future__ import annotations

import gzip
import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from pandas.testing import assert_frame_equal
from vega_datasets import local_data

from local_servers import free_port
from yaml2dag.tools.base import ToolContext, ToolError
from yaml2dag.tools.data import TOOL
from yaml2dag.tools.data.formats import resolve_format

CSV = local_data.seattle_weather.filepath


@pytest.fixture(scope="module")
def weather() -> pd.DataFrame:
    return pd.read_csv(CSV, parse_dates=["date"])


@pytest.fixture()
def database(tmp_path, weather) -> Path:
    db = tmp_path / "weather.db"
    with sqlite3.connect(db) as conn:
        weather.assign(date=weather.date.dt.strftime("%Y-%m-%d")).to_sql("weather", conn, index=False)
        conn.execute("CREATE VIEW rainy AS SELECT * FROM weather WHERE weather = 'rain'")
    return db


def act(name: str, ctx: ToolContext | None = None, **params):
    action = next(a for a in TOOL.actions if a.name == name)
    return action.run(ctx or ToolContext("step"), params)


def refused(name: str, ctx: ToolContext | None = None, **params) -> ToolError:
    with pytest.raises(ToolError) as info:
        act(name, ctx, **params)
    return info.value


def message(name: str, **params) -> str:
    error = refused(name, **params)
    assert error.retryable is False, error.message
    return error.message


def same(got: pd.DataFrame, expected: pd.DataFrame) -> None:
    assert_frame_equal(got.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False)


# --------------------------------------------------------------------------- read: formats and options


def test_read_csv_options_match_pandas(tmp_path):
    text = ("# exported\nid;name;amount;paid\n1;a;1.234,5;yes\n2;b;NA;no\n# note\n3;n/a;7,25;yes\n")
    src = tmp_path / "sales.csv"
    src.write_text(text, encoding="utf-8")
    options = {"sep": ";", "comment": "#", "decimal": ",", "thousands": ".", "na_values": ["n/a"],
               "true_values": ["yes"], "false_values": ["no"], "dtype": {"id": "int32"}, "usecols": ["id", "name",
                                                                                                     "amount", "paid"]}
    got = act("read", path=str(src), options=options)
    same(got.output, pd.read_csv(src, **options))
    assert got.output["amount"].tolist()[0] == 1234.5
    assert got.output["paid"].tolist() == [True, False, True]
    assert got.metadata["format"] == "csv" and got.metadata["source"] == str(src)

    got = act("read", path=str(src), options={"sep": ";", "comment": "#", "nrows": 1, "skiprows": [1],
                                              "header": None, "names": ["x", "y", "z", "w"]})
    assert got.output.to_dict("records") == [{"x": 1, "y": "a", "z": "1.234,5", "w": "yes"}]


def test_read_tsv_by_suffix_and_headerless_columns_as_text(tmp_path):
    src = tmp_path / "t.tsv"
    src.write_text("1\t2\n3\t4\n")
    got = act("read", path=str(src), options={"header": None})
    assert got.fields["columns"] == ["0", "1"]
    assert got.output.values.tolist() == [[1, 2], [3, 4]]


def test_read_gzip_csv_by_suffix_and_a_latin1_file_with_encoding(tmp_path, weather):
    src = tmp_path / "weather.csv.gz"
    src.write_bytes(gzip.compress(Path(CSV).read_bytes()))
    got = act("read", path=str(src), options={"parse_dates": ["date"]})
    same(got.output, weather)

    latin = tmp_path / "latin.csv"
    latin.write_bytes("name\ncafé\n".encode("latin-1"))
    assert act("read", path=str(latin), options={"encoding": "latin-1"}).output["name"].tolist() == ["café"]


def test_read_json_lines_by_suffix_orient_and_nrows(tmp_path, weather):
    lines = tmp_path / "w.jsonl"
    weather.head(5).to_json(lines, orient="records", lines=True, date_format="iso")
    got = act("read", path=str(lines), options={"nrows": 3, "dtype": {"wind": "float32"}})
    same(got.output, pd.read_json(lines, lines=True, nrows=3, dtype={"wind": "float32"}))
    assert str(got.output["wind"].dtype) == "float32"

    split = tmp_path / "w.json"
    weather.head(4).to_json(split, orient="split", date_format="iso")
    got = act("read", path=str(split), options={"orient": "split"})
    same(got.output, pd.read_json(split, orient="split"))
    assert got.fields["rows"] == 4


def test_read_parquet_written_by_the_tool_with_chosen_columns(tmp_path, weather):
    for compression in ("none", "gzip"):
        path = tmp_path / f"w-{compression}.parquet"
        act("write", input=weather, path=str(path), options={"compression": compression})
        got = act("read", path=str(path), options={"usecols": ["date", "wind"]})
        same(got.output, weather[["date", "wind"]])
        assert got.metadata["format"] == "parquet"


def test_read_sqlite_table_view_and_query_with_parameters(database, weather):
    got = act("read", path=str(database), table="weather", options={"parse_dates": ["date"]})
    same(got.output, weather)
    rain = act("read", path=str(database), table="rainy").output
    assert len(rain) == int((weather.weather == "rain").sum())

    got = act("read", path=str(database), query="SELECT date, wind FROM weather WHERE weather = ? AND wind > ?",
              query_params=["sun", 5])
    expected = weather[(weather.weather == "sun") & (weather.wind > 5)][["date", "wind"]]
    assert got.output["wind"].tolist() == expected["wind"].tolist()

    got = act("read", path=str(database), query="SELECT *\nFROM weather\nWHERE weather = :kind;",
              query_params={"kind": "snow"}, options={"nrows": 3, "index_col": "date", "dtype": {"wind": "float32"}})
    assert got.fields["rows"] == 3 and "date" not in got.fields["columns"]
    assert str(got.output["wind"].dtype) == "float32"
    assert got.output["temp_max"].tolist() == weather[weather.weather == "snow"].head(3)["temp_max"].tolist()


def test_a_format_is_told_from_a_url_content_type_when_the_name_has_no_suffix():
    fmt = resolve_format(None, "https://example.com/export?id=3", "text/tab-separated-values; charset=utf-8")
    assert (fmt.name, fmt.defaults) == ("csv", {"sep": "\t"})
    with pytest.raises(ToolError) as info:
        resolve_format(None, "https://example.com/export", "text/html")
    assert info.value.message == ("cannot tell the format of https://example.com/export (Content-Type text/html) "
                                  "from its name: set `format` (csv, json, parquet, sqlite)")


# --------------------------------------------------------------------------- read: mistakes


def test_read_mistakes_in_the_parameters(tmp_path):
    assert message("read") == "set exactly one of `path` (a file) or `url` (http or https)"
    assert message("read", path=CSV, url="https://example.com/a.csv") == \
        "set exactly one of `path` (a file) or `url` (http or https)"
    assert message("read", path=CSV, table="t", query="SELECT 1") == "set at most one of `table` or `query`"
    assert message("read", path=5) == "`path` must be a file path, got 5"
    assert message("read", path=CSV, format="xls") == "unknown format 'xls' (formats: csv, json, parquet, sqlite)"
    assert message("read", path=CSV, options=["sep"]) == "`options` must be a mapping, got list"
    assert message("read", path=CSV, options={"lines": True}) == (
        "`options.lines` does not apply to csv data (options for csv: sep, header, names, index_col, usecols, "
        "dtype, parse_dates, date_format, encoding, nrows, skiprows, na_values, keep_default_na, true_values, "
        "false_values, decimal, thousands, comment, quotechar)")
    assert message("read", path=CSV, table="weather") == (
        f"`table`, `query` and `query_params` apply to SQLite databases; {CSV} is read as csv (set "
        "`format: sqlite` if it is a database)")
    text = tmp_path / "notes.txt"
    text.write_text("a,b\n1,2\n")
    assert message("read", path=str(text)) == (
        f"cannot tell the format of {text} from its name: set `format` (csv, json, parquet, sqlite)")
    assert act("read", path=str(text), format="csv").output.to_dict("records") == [{"a": 1, "b": 2}]


def test_read_a_missing_file_or_a_folder_says_so_whatever_the_name(tmp_path):
    # before the fix, a name without a known suffix gave "cannot tell the format" for a file that
    # does not exist or for a folder
    assert message("read", path=str(tmp_path / "missing.csv")) == f"file not found: {tmp_path / 'missing.csv'}"
    assert message("read", path=str(tmp_path / "export")) == f"file not found: {tmp_path / 'export'}"
    assert message("read", path=str(tmp_path)) == f"{tmp_path} is a folder, not a file"


def test_read_a_file_that_is_not_what_its_name_says(tmp_path):
    assert message("read", path=CSV, format="json") == f"cannot read {CSV} as json: ValueError: Expected object or value"
    got = message("read", path=CSV, format="parquet")
    assert got.startswith(f"cannot read {CSV} as parquet: ArrowInvalid: ") and "\n" not in got
    assert message("read", path=CSV, format="sqlite", table="weather") == (
        f"cannot read table `weather` from the SQLite database {CSV}: file is not a database")

    lines = tmp_path / "records.json"
    lines.write_text('{"a": 1}\n{"a": 2}\n')
    got = message("read", path=str(lines))
    assert got.startswith(f"cannot read {lines} as json: ValueError: Trailing data")
    assert got.endswith(" (one record per line? set `options.lines: true`)")
    assert act("read", path=str(lines), options={"lines": True}).output["a"].tolist() == [1, 2]

    latin = tmp_path / "latin.csv"
    latin.write_bytes("name\ncafé\n".encode("latin-1"))
    got = message("read", path=str(latin))
    assert got.startswith(f"cannot read {latin} as csv: UnicodeDecodeError: 'utf-8' codec can't decode byte 0xe9")
    assert got.endswith(" (set `options.encoding`, e.g. latin-1)")


def test_read_sqlite_mistakes(database, tmp_path):
    assert message("read", path=str(database)) == f"set `table` or `query` to read the SQLite database {database}"
    assert message("read", path=str(database), table="wether") == (
        f"table `wether` not found in {database}; did you mean `weather`? (tables: rainy, weather)")
    # a query over several lines (a YAML block): the reason, not pandas' "Execution failed on sql '..."
    assert message("read", path=str(database), query="SELECT nope\nFROM weather\n") == (
        f"cannot read the query from the SQLite database {database}: no such column: nope")
    for query in ("DELETE FROM weather", "INSERT INTO weather (wind) VALUES (1)"):
        assert message("read", path=str(database), query=query) == (
            f"cannot read the query from the SQLite database {database}: attempt to write a readonly database")
    with sqlite3.connect(database) as conn:
        assert conn.execute("SELECT count(*) FROM weather").fetchone()[0] == 1461
    assert message("read", path=str(database), query="SELECT * FROM weather WHERE wind > ? AND weather = ?",
                   query_params=[3]) == (
        f"cannot read the query from the SQLite database {database}: Incorrect number of bindings supplied. "
        "The current statement uses 2, and there are 1 supplied.")


def test_read_url_mistakes_are_reported_with_secrets_masked():
    assert message("read", url="ftp://example.com/a.csv") == \
        "`url` must start with http:// or https://, got 'ftp://example.com/a.csv'"
    assert message("read", url="http://127.0.0.1/a.csv", timeout="soon").startswith(
        "`timeout`: 'soon' is not a duration")
    assert message("read", url="http://exa mple.com/a.csv").startswith("GET http://exa mple.com/a.csv failed: ")

    # nothing listens on the port: a connection failure, retryable through the step's `retry`
    port = free_port()
    ctx = ToolContext("load", secrets=["tok-12345"], timeout=30)
    error = refused("read", ctx, url=f"http://reader:pa55word@127.0.0.1:{port}/a.csv?key=tok-12345")
    assert error.retryable is True
    assert error.message == f"cannot connect to http://reader:***@127.0.0.1:{port}/a.csv?key=***: Connection refused"


# --------------------------------------------------------------------------- write: formats and options


def test_write_csv_with_index_and_options_matches_pandas(tmp_path, weather):
    frame = weather.head(5).assign(wind=[1.25, None, 3.5, 4.0, 5.0])
    path = tmp_path / "out" / "w.csv"  # the missing folder is created
    options = {"sep": "|", "na_rep": "-", "float_format": "%.1f", "date_format": "%d/%m/%Y"}
    got = act("write", input=frame, path=str(path), index=True, options=options)
    expected = frame.to_csv(index=True, **options)
    assert path.read_text() == expected
    assert got.output == str(path)
    assert got.fields == {"rows": 5, "columns": list(weather.columns), "bytes": len(expected.encode())}
    assert got.written == (str(path),)
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")]  # no temporary file left

    act("write", input=frame, path=str(tmp_path / "plain.csv"), options={"header": False})
    assert (tmp_path / "plain.csv").read_text() == frame.to_csv(index=False, header=False)


def test_write_gzip_csv_and_json_shapes_read_back_like_pandas(tmp_path, weather):
    act("write", input=weather, path=str(tmp_path / "w.csv.gz"))
    same(pd.read_csv(tmp_path / "w.csv.gz", parse_dates=["date"]), weather)

    head = weather.head(3)
    act("write", input=head, path=str(tmp_path / "split.json"), index=True, options={"orient": "split"})
    data = json.loads((tmp_path / "split.json").read_text())
    assert set(data) == {"columns", "data"}  # the index is a column, not pandas' separate "index" list
    assert data["columns"] == ["index", *weather.columns]
    assert [row[0] for row in data["data"]] == [0, 1, 2]

    act("write", input=head, path=str(tmp_path / "cols.json"), options={"orient": "columns", "indent": 2,
                                                                         "double_precision": 1})
    assert json.loads((tmp_path / "cols.json").read_text())["temp_max"] == {"0": 12.8, "1": 10.6, "2": 11.7}

    # one record per line, whatever orient says
    act("write", input=head, path=str(tmp_path / "w.jsonl"), options={"orient": "index"})
    rows = [json.loads(line) for line in (tmp_path / "w.jsonl").read_text().splitlines()]
    assert rows == json.loads(head.to_json(orient="records", date_format="iso"))


def test_write_replaces_a_file_only_with_overwrite(tmp_path, weather):
    path = tmp_path / "w.csv"
    path.write_text("keep me\n")
    assert message("write", input=weather, path=str(path)) == \
        f"file exists: {path} (set `overwrite: true` to replace it)"
    assert path.read_text() == "keep me\n"
    act("write", input=weather.head(2), path=str(path), overwrite=True)
    assert pd.read_csv(path)["wind"].tolist() == weather.head(2)["wind"].tolist()


def test_write_sqlite_table_fail_replace_append_and_dtype(tmp_path, weather):
    db = tmp_path / "out.db"
    got = act("write", input=weather.head(3), path=str(db), table="daily", options={"dtype": {"wind": "REAL"},
                                                                                    "chunksize": 2})
    assert got.written == (f"sqlite:///{db}#daily",) and got.metadata["table"] == "daily"
    assert message("write", input=weather, path=str(db), table="daily") == (
        f"table `daily` already exists in {db} (set `if_exists: replace` or `append`)")
    act("write", input=weather.head(2), path=str(db), table="daily", if_exists="append")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM daily").fetchone()[0] == 5
        assert dict(conn.execute("SELECT name, type FROM pragma_table_info('daily')").fetchall())["wind"] == "REAL"
    act("write", input=weather.head(4), path=str(db), table="daily", if_exists="replace", index=True)
    with sqlite3.connect(db) as conn:
        back = pd.read_sql_query("SELECT * FROM daily", conn)
    assert list(back.columns) == ["index", *weather.columns] and len(back) == 4


# --------------------------------------------------------------------------- write: mistakes


def test_write_mistakes_in_the_parameters(tmp_path, weather):
    db, csv = tmp_path / "o.db", tmp_path / "o.csv"
    assert message("write", input=weather, path="") == "`path` must be a file path, got ''"
    assert message("write", input=str(csv), path=str(csv)).startswith(
        "`input` must be a DataFrame from another step, such as \"{{ load.output }}\" (or a list of records), "
        f"got str '{csv}'; to load a file, use the `read` action")
    assert message("write", input=weather, path=str(db), overwrite=True) == (
        "`overwrite` applies to files; for a SQLite table set `if_exists: replace` (or `append`)")
    assert message("write", input=weather, path=str(db)) == f"set `table`: the SQLite table to write in {db}"
    assert message("write", input=weather, path=str(db), table="t", if_exists="merge") == (
        "`if_exists` must be fail, replace or append, got 'merge'")
    assert message("write", input=weather, path=str(csv), if_exists="replace") == (
        "`if_exists` applies to SQLite tables; to replace an existing file set `overwrite: true`")
    assert message("write", input=weather, path=str(csv), table="t") == (
        f"`table` applies to SQLite databases; {csv} is written as csv (set `format: sqlite` to write a database)")
    assert message("write", input=weather, path=str(csv), options={"compression": "gzip"}) == (
        "`options.compression` does not apply to csv data (options for csv: sep, header, encoding, date_format, "
        "float_format, na_rep, quotechar, decimal)")
    assert not csv.exists() and not db.exists()


def test_write_to_a_folder_or_under_a_file_is_refused(tmp_path, weather):
    folder = tmp_path / "folder.csv"
    folder.mkdir()
    assert message("write", input=weather, path=str(folder)) == f"{folder} is a folder; `path` must name a file"
    assert message("write", input=weather, path=str(folder), format="sqlite", table="t") == (
        f"{folder} is a folder; `path` must name a database file")
    blocker = tmp_path / "blocker"
    blocker.write_text("x")
    assert message("write", input=weather, path=str(blocker / "sub" / "o.csv")) == (
        f"cannot create the folder {blocker / 'sub'}: Not a directory")
    assert message("write", input=weather, path=str(blocker / "sub" / "o.db"), table="t") == (
        f"cannot create the folder {blocker / 'sub'}: Not a directory")


def test_write_errors_of_the_writer_name_the_file_and_leave_nothing(tmp_path, weather):
    path = tmp_path / "o.csv"
    assert message("write", input=weather, path=str(path), options={"sep": ""}) == (
        f"cannot write {path} as csv: TypeError: \"delimiter\" must be a 1-character string")
    assert list(tmp_path.iterdir()) == []  # no half file, no temporary file

    notdb = tmp_path / "notes.txt"
    notdb.write_text("not a database\n" * 100)
    # before the fix the reason was cut to pandas' first line: "Execution failed on sql '"
    assert message("write", input=weather, path=str(notdb), format="sqlite", table="t") == (
        f"cannot write table `t` to {notdb}: file is not a database")
    assert message("write", input=weather, path=str(tmp_path / "o.db"), table="t", options={"chunksize": 0}) == (
        f"cannot write table `t` to {tmp_path / 'o.db'}: chunksize argument should be non-zero")


def test_a_file_name_too_long_for_the_file_system_is_a_message_not_a_traceback(tmp_path, weather):
    # before the fix: OSError [Errno 36] raised out of the step (read and write)
    too_long = tmp_path / ("n" * 300 + ".csv")
    for name, params in (("read", {}), ("write", {"input": weather}), ("write", {"input": weather, "table": "t",
                                                                              "format": "sqlite"})):
        assert message(name, path=str(too_long), **params) == f"cannot use the path {too_long}: File name too long"


def test_a_long_file_name_the_file_system_accepts_is_written(tmp_path, weather):
    # before the fix the temporary file's name (the target's name + 18 characters) was too long:
    # "cannot write in <folder>: File name too long"
    path = tmp_path / ("n" * 245 + ".csv")
    got = act("write", input=weather, path=str(path))
    assert got.output == str(path)
    assert list(tmp_path.iterdir()) == [path]
    same(act("read", path=str(path), options={"parse_dates": ["date"]}).output, weather)
