"""Issue 15, point 8: templates by name. `yaml2dag run "Backup Files" ...` runs the built-in
template when the library has no workflow of that name (and says so on stderr); a library
workflow of a template's name wins; `list --templates` shows the templates beside the library
(a section; JSON ``"template": true``) without importing Dagster; the Data Processing template
reads an http(s) URL as its source (downloaded from a local server on 127.0.0.1).

Real `python -m yaml2dag` subprocesses from a working directory holding a relative
``definitions`` folder and ``dagster_home`` (no YAML2DAG_DEFINITIONS, no DAGSTER_HOME)."""

from __future__ import annotations

import csv
import io
import json

import pytest

from conftest import make_dagster_home, run_cli, run_cli_counting_dagster, write
from local_servers import LocalHTTPServer, QuietHandler, serving

pytestmark = pytest.mark.slow

DROP = ("DAGSTER_HOME", "YAML2DAG_DEFINITIONS")

MINE = """
name: My Flow
tags: [mine]
steps:
  - id: hello
    tool: shell
    parameters: {command: "echo mine"}
"""

# a library workflow with a template's name: `run "Email Digest"` runs this one
SHADOW = """
name: Email Digest
steps:
  - id: local
    tool: shell
    parameters: {command: "echo library-digest"}
outputs:
  said: "{{ local.output }}"
"""

WEATHER = ("date,precipitation,temp_max,temp_min,weather\n"
           "2012-01-01,0.0,12.8,5.0,drizzle\n2012-01-02,10.9,10.6,2.8,rain\n"
           "2012-03-05,2.5,9.1,3.3,rain\n2013-01-03,0.8,11.7,7.2,rain\n2013-02-01,0.0,8.0,1.0,sun\n")


class _CSVHandler(QuietHandler):
    def do_GET(self):  # noqa: N802 - http.server's name
        self.server.state.append(self.path)
        if self.path.split("?")[0] == "/data/weather.csv":
            self._send(200, WEATHER, "text/csv")
        else:
            self._send(404, "not here")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    base = tmp_path_factory.mktemp("templates_by_name")
    write(base / "definitions", "mine.yaml", MINE)
    write(base / "definitions", "digest.yaml", SHADOW)
    for name in ("a.txt", "b.txt"):
        write(base / "data", name, f"content of {name}\n")
    make_dagster_home(base / "dagster_home")
    return base


def cli(base, *args: str):
    return run_cli(*args, cwd=base, drop=DROP)


def test_a_template_runs_by_name_when_the_library_has_none(base):
    done = cli(base, "run", "Backup Files", "source=data", "target=backups", "--format", "json")
    assert done.code == 0, done.stdout + done.stderr
    assert ("no workflow named 'Backup Files' in definitions; running the built-in template 'Backup Files'"
            in done.stderr), done.stderr
    data = json.loads(done.stdout)
    assert data["status"] == "SUCCESS" and data["workflow"] == "Backup Files"
    assert data["steps"] == {"archive": "succeeded", "summary": "succeeded", "post": "skipped"}
    archives = sorted((base / "backups").iterdir())
    assert [p.name for p in archives] == [data["outputs"]["archive"].rsplit("/", 1)[-1]]
    assert data["outputs"]["files"] == 2
    # the run is in the instance of the working directory, under the template's job
    history = json.loads(cli(base, "history", "backup_files", "--format", "json").stdout)
    assert data["run_id"] in [r["run_id"] for r in history["runs"]]
    # ... and by the name it was run with, as `history` and `stats` read names
    by_name = json.loads(cli(base, "history", "Backup Files", "--format", "json").stdout)
    assert (by_name["job"], by_name["workflow"]) == ("backup_files", "Backup Files")
    assert data["run_id"] in [r["run_id"] for r in by_name["runs"]]
    stats = json.loads(cli(base, "stats", "Backup Files", "--format", "json").stdout)
    assert stats["workflows"][0]["runs"] >= 1, stats


def test_a_template_is_found_by_job_id_case_insensitively_in_text_mode(base):
    done = cli(base, "run", "backup_FILES", "source=data", "target=backups2")
    assert done.code == 0, done.stdout + done.stderr
    assert "running the built-in template 'Backup Files'" in done.stderr
    assert "Backup Files succeeded" in done.stdout + done.stderr


def test_a_library_workflow_of_a_templates_name_wins(base):
    done = cli(base, "run", "Email Digest", "--format", "json")
    assert done.code == 0, done.stdout + done.stderr
    assert "built-in template" not in done.stderr
    assert json.loads(done.stdout)["outputs"] == {"said": "library-digest"}


def test_an_unknown_name_is_neither_workflow_nor_template(base):
    done = cli(base, "run", "No Such Thing", "--format", "json")
    assert done.code == 2, done.stdout + done.stderr
    assert "built-in template" not in done.stderr
    assert "No Such Thing" in json.loads(done.stdout)["error"]


def test_the_data_processing_template_reads_an_http_url(base):
    requests: list[str] = []
    with serving(LocalHTTPServer(_CSVHandler, requests)) as server:
        url = f"{server.url}/data/weather.csv?v=1"
        done = cli(base, "run", "Data Processing Pipeline", f"source={url}", "output_csv=out/summary.csv",
                   "--format", "json")
    assert done.code == 0, done.stdout + done.stderr
    assert "running the built-in template 'Data Processing Pipeline'" in done.stderr
    assert requests == ["/data/weather.csv?v=1"]
    data = json.loads(done.stdout)
    assert data["status"] == "SUCCESS"
    assert data["steps"]["download"] == "succeeded" and data["steps"]["fetch"] == "succeeded"
    assert data["outputs"]["rows"] == 5 and data["outputs"]["rows_matching"] == 3
    downloaded = base / "reports" / "data_processing" / "downloads" / "weather.csv"
    assert downloaded.read_text() == WEATHER
    with open(base / "out" / "summary.csv", newline="") as fh:
        rows = list(csv.DictReader(io.StringIO(fh.read())))
    assert [(r["year"], r["rainy_days"]) for r in rows] == [("2012", "2"), ("2013", "1")]


def test_the_data_processing_template_reports_a_missing_url(base):
    with serving(LocalHTTPServer(_CSVHandler, [])) as server:
        done = cli(base, "run", "Data Processing Pipeline", f"source={server.url}/nothing.csv", "--format", "json")
    assert done.code == 1, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["steps"]["download"] == "failed" and data["steps"]["fetch"] == "not_run"


def test_list_templates_shows_them_beside_the_library(base):
    plain = json.loads(cli(base, "list", "--format", "json").stdout)
    assert [(w["name"], w["template"]) for w in plain["workflows"]] == [("Email Digest", False), ("My Flow", False)]
    data = json.loads(cli(base, "list", "--templates", "--format", "json").stdout)
    library = [w["name"] for w in data["workflows"] if not w["template"]]
    templates = {w["name"]: w for w in data["workflows"] if w["template"]}
    assert library == ["Email Digest", "My Flow"]
    # the library's "Email Digest" shadows the template of that name
    assert "Email Digest" not in templates
    assert {"Backup Files", "Data Processing Pipeline", "Deploy Pipeline"} <= set(templates)
    assert templates["Backup Files"]["id"] == "backup_files" and templates["Backup Files"]["valid"]
    tagged = json.loads(cli(base, "list", "--templates", "--tags", "backup", "--format", "json").stdout)
    assert [(w["name"], w["template"]) for w in tagged["workflows"]] == [("Backup Files", True)]

    text = run_cli("list", "--templates", cwd=base, drop=DROP, env={"COLUMNS": "200"}).stdout
    lines = text.splitlines()
    section = next(i for i, line in enumerate(lines) if line.startswith("Built-in templates"))
    assert any(line.startswith("My Flow") for line in lines[:section]), text
    assert any(line.startswith("Backup Files") for line in lines[section:]), text
    assert not any(line.startswith("Backup Files") for line in lines[:section]), text


def test_list_templates_imports_no_dagster(base):
    env = {"YAML2DAG_DEFINITIONS": str(base / "definitions"), "DAGSTER_HOME": str(base / "dagster_home")}
    done = run_cli_counting_dagster("list", "--templates", "--format", "json", env=env)
    assert "EXIT 0 DAGSTER 0" in done.stderr, done.stderr
    assert any(w["template"] and w["name"] == "Monitor and Alert" for w in json.loads(done.stdout)["workflows"])
