"""Issue 14, part 2: data assets of steps (``assets``, ``deps``): schema, model, validation,
lineage, the asset specs of a folder and the metadata read from written files (no Dagster run)."""

from __future__ import annotations

import sqlite3
import textwrap

import dagster as dg
import pandas as pd
import pytest

from yaml2dag.compiler import assets as compiler_assets
from yaml2dag.format.assets import AssetDecl, asset_lineage, valid_key
from yaml2dag.format.validation import validate_paths, validate_text

WRITER = """
name: Writer
steps:
  - id: fetch
    tool: shell
    parameters: {command: "echo hi"}
    deps: [raw/observations]
  - id: save
    tool: shell
    parameters: {command: "echo saved"}
    assets:
      - key: weather/daily
        path: "out/daily.csv"
        description: "Daily table"
      - key: weather/db_table
        table: "sqlite:///out/w.sqlite#daily"
        deps: [extra/source]
"""


def _report(text: str):
    return validate_text(textwrap.dedent(text))


def test_model_reads_assets_and_deps():
    report = _report(WRITER)
    assert report.valid, [p.format() for p in report.problems]
    steps = report.workflow.steps
    assert steps[0].deps == ("raw/observations",) and steps[0].assets == ()
    daily, table = steps[1].assets
    assert daily == AssetDecl("weather/daily", path="out/daily.csv", description="Daily table",
                              doc_path=("steps", 1, "assets", 0))
    assert table.table == "sqlite:///out/w.sqlite#daily" and table.deps == ("extra/source",)
    assert daily.segments == ["weather", "daily"]


@pytest.mark.parametrize("key", ["weather/", "/weather", "weather//x", "wea-ther", "weather report", "", "a.b"])
def test_schema_refuses_keys_dagster_refuses(key):
    text = f"""
    name: Bad Key
    steps:
      - id: save
        tool: shell
        parameters: {{command: "echo"}}
        assets: [{{key: "{key}"}}]
    """
    report = _report(text)
    assert not report.valid
    messages = " ".join(p.message for p in report.errors)
    assert "asset key" in messages, messages
    assert not valid_key(key)


def test_schema_refuses_path_and_table_together_and_bad_tables_and_unknown_keys():
    for asset, expected in (('{key: a, path: x.csv, table: "sqlite:///x.db#t"}', "at most one of `path` and `table`"),
                            ('{key: a, table: "x.db"}', "sqlite:///"),
                            ('{key: a, where: x.csv}', "where"),
                            ('{path: x.csv}', "key")):
        report = _report(f"""
        name: Bad Asset
        steps:
          - id: save
            tool: shell
            parameters: {{command: "echo"}}
            assets: [{asset}]
        """)
        assert not report.valid
        messages = " ".join(p.message for p in report.errors)
        assert expected in messages, (asset, messages)


def test_duplicate_writers_across_a_folder_and_within_a_file_are_warned(tmp_path):
    (tmp_path / "a_writer.yaml").write_text(textwrap.dedent(WRITER))
    (tmp_path / "b_other.yaml").write_text(textwrap.dedent("""
        name: Other
        steps:
          - id: also
            tool: shell
            parameters: {command: "echo"}
            assets: [{key: weather/daily}]
          - id: again
            tool: shell
            parameters: {command: "echo"}
            assets: [{key: weather/daily}]
    """))
    report = validate_paths([tmp_path])
    assert report.valid  # a warning, not an error
    other = next(r for r in report.files if r.file.endswith("b_other.yaml"))
    warnings = [p for p in other.warnings if p.rule == "duplicate"]
    assert len(warnings) == 2, [p.format() for p in other.problems]
    assert "step `save` of" in warnings[0].message and "a_writer.yaml" in warnings[0].message
    assert "step `save` of" in warnings[1].message  # the first writer is named
    assert [w.line for w in warnings] == [7, 11]
    (tmp_path / "a_writer.yaml").unlink()
    alone = validate_paths([tmp_path]).files[0]
    [warning] = [p for p in alone.warnings if p.rule == "duplicate"]
    assert "step `also` of this file" in warning.message and warning.line == 11


def test_lineage_follows_deps_and_the_steps_a_step_waits_for():
    report = _report("""
    name: Chain
    steps:
      - id: a
        tool: shell
        parameters: {command: "echo"}
        deps: [src/raw]
        assets: [{key: t/one}]
      - parallel:
          - id: b
            tool: shell
            parameters: {command: "echo"}
            assets: [{key: t/two}]
          - id: c
            tool: shell
            parameters: {command: "echo"}
            assets: [{key: t/three, deps: [src/other]}]
    """)
    assert report.valid
    lineage = {asset.key: upstream for _step, asset, upstream in asset_lineage(report.workflow, report.plan)}
    assert lineage == {"t/one": ("src/raw",), "t/two": ("src/raw", "t/one"), "t/three": ("src/other", "src/raw", "t/one")}
    # without a plan, only the asset's and its step's deps
    no_plan = {asset.key: up for _s, asset, up in asset_lineage(report.workflow)}
    assert no_plan["t/two"] == () and no_plan["t/one"] == ("src/raw",)


def test_asset_specs_group_by_workflow_and_declare_read_only_keys():
    report = _report(WRITER)
    specs = {s.key.to_user_string(): s for s in compiler_assets.asset_specs([(report.workflow, report.plan)])}
    assert set(specs) == {"weather/daily", "weather/db_table", "raw/observations", "extra/source"}
    daily = specs["weather/daily"]
    assert daily.group_name == "writer" and daily.description == "Daily table"
    assert {d.asset_key for d in daily.deps} == {dg.AssetKey(["raw", "observations"])}
    assert daily.kinds == {"csv"} and specs["weather/db_table"].kinds == {"sqlite"}
    assert {d.asset_key for d in specs["weather/db_table"].deps} == {dg.AssetKey(["extra", "source"]),
                                                                      dg.AssetKey(["raw", "observations"])}
    assert "written by no step" in specs["raw/observations"].description
    # the specs make a valid Dagster asset graph
    repo = dg.Definitions(assets=list(specs.values())).get_repository_def()
    assert len(repo.assets_defs_by_key) == 4


def test_locations_use_the_one_written_path_only_when_unambiguous():
    one = AssetDecl("a/b")
    step = _report(WRITER).workflow.steps[1]
    assert [w for _a, w in compiler_assets.locations(step, {}, ("x",))] == ["out/daily.csv", "sqlite:///out/w.sqlite#daily"]
    from dataclasses import replace

    bare = replace(step, assets=(one,))
    assert compiler_assets.locations(bare, {}, ("/tmp/f.csv",)) == [(one, "/tmp/f.csv")]
    assert compiler_assets.locations(bare, {}, ("/a", "/b")) == [(one, None)]
    templated = replace(step, assets=(AssetDecl("a/b", path="{{ save.output }}.md"),))
    assert compiler_assets.locations(templated, {"save": {"output": "rep"}}, ()) == [(templated.assets[0], "rep.md")]


def test_file_metadata_of_csv_jsonl_parquet_markdown(tmp_path):
    frame = pd.DataFrame({"year": range(2000, 2012), "rain": [float(i) for i in range(12)]})
    csv = tmp_path / "t.csv"
    frame.to_csv(csv, index=False)
    meta = compiler_assets.file_metadata(str(csv))
    assert meta["rows"].value == 12 and meta["columns"].value == 2
    assert meta["size (bytes)"].value == csv.stat().st_size
    assert meta["path"].value == str(csv)
    assert "| year" in meta["preview"].value and "2004" in meta["preview"].value and "2005" not in meta["preview"].value
    jsonl = tmp_path / "t.jsonl"
    frame.to_json(jsonl, orient="records", lines=True)
    assert compiler_assets.file_metadata(str(jsonl))["rows"].value == 12
    parquet = tmp_path / "t.parquet"
    frame.to_parquet(parquet)
    pmeta = compiler_assets.file_metadata(str(parquet))
    assert pmeta["rows"].value == 12 and pmeta["column names"].value == "year, rain"
    md = tmp_path / "r.md"
    md.write_text("# Title\n" + "line\n" * 100)
    mmeta = compiler_assets.file_metadata(str(md))
    assert mmeta["preview"].value.count("\n") == compiler_assets.PREVIEW_LINES and "rows" not in mmeta


def test_table_metadata_of_a_sqlite_table(tmp_path):
    db = tmp_path / "w.sqlite"
    with sqlite3.connect(db) as conn:
        pd.DataFrame({"a": range(30), "b": ["x"] * 30}).to_sql("daily", conn, index=False)
    meta = compiler_assets.table_metadata(f"sqlite:///{db}#daily")
    assert meta["rows"].value == 30 and meta["columns"].value == 2 and meta["table"] == "daily"
    assert meta["size (bytes)"].value == db.stat().st_size
    with pytest.raises(ValueError):
        compiler_assets.table_metadata(f"{db}#daily")
    with pytest.raises(FileNotFoundError):
        compiler_assets.table_metadata(f"sqlite:///{tmp_path}/missing.sqlite#daily")


def test_tools_that_write_data_report_the_paths_they_wrote(tmp_path):
    from yaml2dag.tools.base import ToolContext
    from yaml2dag.tools.data.write import write as data_write
    from yaml2dag.tools.files.archive import backup
    from yaml2dag.tools.files.transfer import copy

    frame = pd.DataFrame({"a": [1, 2]})
    csv = tmp_path / "out" / "a.csv"
    assert data_write(ToolContext("w"), {"input": frame, "path": str(csv)}).written == (str(csv),)
    db = tmp_path / "out" / "a.sqlite"
    assert data_write(ToolContext("w"), {"input": frame, "path": str(db), "table": "t"}).written == (f"sqlite:///{db}#t",)
    copied = copy(ToolContext("c"), {"source": str(csv), "destination": str(tmp_path / "copy.csv")})
    assert copied.written == (str(tmp_path / "copy.csv"),) and (tmp_path / "copy.csv").is_file()
    archived = backup(ToolContext("b"), {"source": str(tmp_path / "out"), "target": str(tmp_path / "backups")})
    assert archived.written == (archived.output,) and archived.output.startswith(str(tmp_path / "backups"))
