"""Issue 14, part 2: data assets end to end. Workflows whose steps declare ``assets`` and
``deps`` run with the real CLI on a temporary DAGSTER_HOME; the instance's asset
materializations (public ``fetch_materializations`` / ``get_latest_materialization_event``) carry
the metadata read from the written files; the code location declares the asset specs with their
lineage; and in a real headless Chromium (Playwright) against the real webserver (``yaml2dag
dev`` on a free 127.0.0.1 port), the asset's Catalog page shows its metadata and the Lineage
shows the upstream edge (screenshots under the test's tmp_path). Every wait is bounded; the
server's process group is killed on teardown. The CLI calls go through :mod:`cli_forkserver`
(real subprocesses forked from an interpreter that has imported Dagster already).
"""

from __future__ import annotations

import json
from pathlib import Path

import dagster as dg
import pytest

from cli_forkserver import run_cli
from conftest import REPO, make_dagster_home, write
from local_servers import LocalHTTPServer, QuietHandler, serving, start_dev

from browser import chromium

pytestmark = pytest.mark.slow

#: Bound (ms) for a page to show what the test looks for.
PAGE_TIMEOUT_MS = 60_000

WRITER = """
    name: Asset Writer
    description: Writes a CSV file and a SQLite table, each declared as a data asset
    steps:
      - id: source
        tool: shell
        parameters:
          command: |
            printf 'day,rain_mm\\n1,0.5\\n2,0\\n3,1.25\\n' > rain_in.csv
            echo rain_in.csv
      - id: load
        tool: data
        action: read
        parameters: {path: "{{ source.output }}"}
      - id: save
        tool: data
        action: write
        parameters: {input: "{{ load.output }}", path: "out/daily.csv", overwrite: true}
        deps: [raw/rain_gauge]
        assets:
          - key: demo/daily_table        # no path: the file data.write reports
            description: "Daily rain, one row a day"
      - id: to_db
        tool: data
        action: write
        parameters: {input: "{{ load.output }}", path: "out/rain.sqlite", table: daily, if_exists: replace}
        assets:
          - key: demo/daily_db
            table: "sqlite:///out/rain.sqlite#daily"
"""

READER = """
    name: Asset Reader
    description: Reads the daily table and writes a summary
    steps:
      - id: summary
        tool: shell
        deps: [demo/daily_table]
        parameters:
          command: |
            mkdir -p out
            printf '# Rain summary\\n\\n3 days, 1.75 mm\\n' > out/summary.md
            echo out/summary.md
        assets:
          - key: demo/rain_summary
            path: "{{ summary.output }}"
"""


def _key(text: str) -> dg.AssetKey:
    return dg.AssetKey(text.split("/"))


def _latest(instance: dg.DagsterInstance, key: str) -> dict:
    event = instance.get_latest_materialization_event(_key(key))
    assert event is not None, f"no materialization of {key}"
    return {name: value.value for name, value in event.asset_materialization.metadata.items()}


@pytest.fixture(scope="module")
def ran(tmp_path_factory):
    """A folder with the writer and reader workflows, both run once by the CLI (cwd = root)."""
    root = tmp_path_factory.mktemp("assets")
    folder = root / "definitions"
    write(folder, "asset_writer.yaml", WRITER)
    write(folder, "asset_reader.yaml", READER)
    home = make_dagster_home(root / "home")
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder)}
    for name in ("Asset Writer", "Asset Reader"):
        done = run_cli("run", name, "--format", "json", env=env, cwd=root)
        assert done.code == 0, done.stdout + done.stderr
    return root, folder, home


def test_materializations_carry_the_metadata_of_what_was_written(ran, monkeypatch):
    root, _folder, home = ran
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        table = _latest(instance, "demo/daily_table")
        csv = root / "out" / "daily.csv"
        assert table["path"] == str(csv)
        assert table["size (bytes)"] == csv.stat().st_size > 0
        assert table["rows"] == 3 and table["columns"] == 2 and table["column names"] == "day, rain_mm"
        assert "1.25" in table["preview"] and "| day" in table["preview"]
        assert table["workflow"] == "Asset Writer" and table["step"] == "save"

        db = _latest(instance, "demo/daily_db")
        assert db["table"] == "daily" and db["rows"] == 3 and db["path"] == str(root / "out" / "rain.sqlite")
        assert db["size (bytes)"] == (root / "out" / "rain.sqlite").stat().st_size

        summary = _latest(instance, "demo/rain_summary")
        assert summary["path"] == str(root / "out" / "summary.md") and summary["step"] == "summary"
        assert summary["preview"].startswith("# Rain summary") and "rows" not in summary

        records = instance.fetch_materializations(_key("demo/daily_table"), limit=10).records
        assert len(records) == 1  # one run, one materialization
        assert records[0].asset_materialization.description == "Daily rain, one row a day"
        # the step reads raw/rain_gauge but nothing writes it: no materialization
        assert instance.get_latest_materialization_event(_key("raw/rain_gauge")) is None


def test_the_code_location_declares_the_assets_with_their_lineage(ran):
    from yaml2dag.location import build_definitions, build_repository

    _root, folder, _home = ran
    for repo in (build_repository(folder), build_definitions(folder).get_repository_def()):
        graph = repo.asset_graph
        keys = {k.to_user_string() for k in graph.get_all_asset_keys()}
        assert keys == {"demo/daily_table", "demo/daily_db", "demo/rain_summary", "raw/rain_gauge"}
        assert graph.get(_key("demo/rain_summary")).parent_keys == {_key("demo/daily_table")}
        assert graph.get(_key("demo/daily_table")).parent_keys == {_key("raw/rain_gauge")}
        # the SQLite table's step runs after `save`: downstream of what save reads and writes
        assert graph.get(_key("demo/daily_db")).parent_keys == {_key("raw/rain_gauge"), _key("demo/daily_table")}
        assert graph.get(_key("demo/daily_table")).group_name == "asset_writer"
        assert graph.get(_key("demo/rain_summary")).group_name == "asset_reader"
        assert repo.get_job("asset_writer").name == "asset_writer"  # the jobs are still there


def test_the_seattle_weather_example_materializes_its_report_and_per_year_table(tmp_path, monkeypatch):
    home = make_dagster_home(tmp_path / "home")
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(REPO / "definitions")}
    done = run_cli("run", "Seattle Weather Report", f"report_dir={tmp_path / 'reports'}", "--format", "json",
                   env=env, cwd=tmp_path)
    assert done.code == 0, done.stderr
    outputs = json.loads(done.stdout)["outputs"]
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        yearly = _latest(instance, "weather/seattle_yearly")
        assert yearly["path"] == outputs["yearly_table"] and yearly["rows"] == 4  # 2012-2015
        assert "rain_mm" in yearly["column names"] and "2015" in yearly["preview"]
        report = _latest(instance, "weather/seattle_report")
        assert Path(report["path"]) == Path(outputs["report"]).resolve()
        assert report["size (bytes)"] == Path(outputs["report"]).stat().st_size
        assert report["preview"].startswith("# Seattle weather report")


class _CSVHandler(QuietHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self._send(200, "station,rain_mm\nnorth,1.5\nsouth,0.25\n", "text/csv")


def test_an_http_download_without_a_path_gets_the_files_metadata(tmp_path, monkeypatch):
    home = make_dagster_home(tmp_path / "home")
    folder = tmp_path / "definitions"
    with serving(LocalHTTPServer(_CSVHandler)) as server:
        write(folder, "download.yaml", f"""
            name: Download Stations
            steps:
              - id: fetch
                tool: http
                parameters: {{url: "{server.url}/stations.csv", save_to: "downloads/stations.csv"}}
                assets:
                  - key: demo/stations
        """)
        done = run_cli("run", "Download Stations", "--format", "json", cwd=tmp_path,
                       env={"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder)})
    assert done.code == 0, done.stdout + done.stderr
    saved = tmp_path / "downloads" / "stations.csv"
    assert json.loads(done.stdout)["status"] == "SUCCESS" and saved.read_text().startswith("station,rain_mm")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with dg.DagsterInstance.get() as instance:
        meta = _latest(instance, "demo/stations")
    assert meta["path"] == str(saved) and meta["size (bytes)"] == saved.stat().st_size
    assert meta["rows"] == 2 and meta["column names"] == "station, rain_mm" and "south" in meta["preview"]


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for this module (:func:`browser.chromium`)."""
    yield from chromium()


def test_catalog_page_shows_the_metadata_and_lineage_the_upstream_edge(browser, tmp_path):
    root = tmp_path / "live"
    folder = root / "definitions"
    write(folder, "asset_writer.yaml", WRITER)
    write(folder, "asset_reader.yaml", READER)
    with start_dev(root, folder, {"asset_writer", "asset_reader"}) as server:
        server.graphql("mutation { setNuxSeen }")
        env = {"DAGSTER_HOME": str(server.home), "YAML2DAG_DEFINITIONS": str(folder)}
        for name in ("Asset Writer", "Asset Reader"):
            done = run_cli("run", name, "--format", "json", env=env, cwd=root)
            assert done.code == 0, done.stdout + done.stderr
        size = (root / "out" / "daily.csv").stat().st_size
        context = browser.new_context(viewport={"width": 1400, "height": 1000})
        context.set_default_timeout(PAGE_TIMEOUT_MS)
        page = context.new_page()
        shots = tmp_path / "screenshots"
        shots.mkdir()
        try:
            page.goto(server.url + "/assets/demo/daily_table?view=events", wait_until="networkidle",
                      timeout=PAGE_TIMEOUT_MS)
            for text in ("size (bytes)", str(root / "out" / "daily.csv"), "rows", "Asset Writer"):
                page.get_by_text(text, exact=True).first.wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
            body = page.inner_text("body")
            assert f"{size:,}" in body or str(size) in body, body[:3000]
            page.screenshot(path=str(shots / "asset_daily_table.png"), full_page=True)

            page.goto(server.url + "/assets/demo/rain_summary?view=lineage", wait_until="networkidle",
                      timeout=PAGE_TIMEOUT_MS)
            # depth 1 ("nearest neighbors"): daily_table is drawn only as rain_summary's upstream
            # neighbor, on its left (Dagster lays the graph out left to right)
            upstream = page.locator("text=daily_table").last
            node = page.locator("text=rain_summary").last
            upstream.wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
            node.wait_for(state="visible", timeout=PAGE_TIMEOUT_MS)
            assert page.get_by_text("asset_writer", exact=True).count() >= 1  # its workflow's group
            left, right = upstream.bounding_box(), node.bounding_box()
            assert left is not None and right is not None and left["x"] + left["width"] < right["x"], (left, right)
            page.screenshot(path=str(shots / "lineage_rain_summary.png"), full_page=True)
        finally:
            page.screenshot(path=str(shots / "final.png"), full_page=True)
            context.close()
    assert (shots / "asset_daily_table.png").stat().st_size > 10_000
