"""Issue 14, part 4: the example workflows shipped in definitions/, each run to success through
the real CLI (`yaml2dag run NAME --format json`) the way a user runs them: from a copy of the
project (its definitions/ and docs/ folders) as the working directory, with the default
relative `definitions` folder and no YAML2DAG_* variables, a temporary DAGSTER_HOME, and
$TMPDIR inside the test's tmp_path (the examples that make their own input put it there).

Each test checks the example's own outcome against an independent computation (pandas,
hashlib, tarfile, sqlite3, git) or against what a peer started by the test received: files
with the right content, rows, the steps really SKIPPED, the retry count and waits, the
compensations that ran, the approval that was waited for, the secret that never reached run
storage. The schedule and the file sensor are evaluated with Dagster's own APIs on the
definitions the code location builds from the same folder, and their run requests run through
the CLI. The catalog itself: every example validates with no warning, loads in
`dagster definitions validate` (strict), and is listed in the README and both user guides.

The `yaml2dag` commands are real subprocesses forked from tests/cli_forkserver.py's server (no
Dagster import per call); what a test only reads from run storage (events, the runs, a paused
gate) it reads in-process with the functions the commands call, not one CLI call per read.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import time
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

import pandas as pd
import pytest
import yaml

from cli_forkserver import run_cli, start_cli
from conftest import CLI_TIMEOUT, REPO, make_dagster_home, run_process
from waiting import wait_until
from test_tool_notify import hook  # noqa: F401 - a fixture: a webhook receiver on 127.0.0.1

pytestmark = pytest.mark.slow

#: The examples of definitions/: job id → workflow name. The catalog test checks this is all of them.
EXAMPLES = {
    "back_up_workflows_and_docs": "Back Up Workflows and Docs",
    "backup_folder": "Backup Folder",
    "call_an_api_with_a_secret_token": "Call an API with a Secret Token",
    "clean_up_old_logs": "Clean Up Old Logs",
    "compress_files_in_parallel": "Compress Files in Parallel",
    "daily_weather_digest": "Daily Weather Digest",
    "git_sync_and_test": "Git Sync and Test",
    "host_health_report": "Host Health Report",
    "load_dropped_csv_files": "Load Dropped CSV Files",
    "onboard_team_with_rollback": "Onboard Team with Rollback",
    "publish_site_by_environment": "Publish Site by Environment",
    "release_notes_from_git": "Release Notes from Git",
    "resilient_api_fetch": "Resilient API Fetch",
    "seattle_weather_report": "Seattle Weather Report",
    "weather_data_pipeline": "Weather Data Pipeline",
}

#: Bound for a run waiting at an approval gate to show up as paused, and for it to end (seconds).
GATE_TIMEOUT = 120


@dataclass
class Project:
    root: Path      # the working directory: definitions/ and docs/ copied from the repository
    home: Path      # DAGSTER_HOME
    tmp: Path       # TMPDIR of the runs
    env: dict

    def cli(self, *args: str, env: dict | None = None, timeout: float = CLI_TIMEOUT):
        """`yaml2dag ARGS` in the project, forked from the fork server (tests/cli_forkserver.py)."""
        return run_cli(*args, env={**self.env, **(env or {})}, cwd=self.root, timeout=timeout)

    def start(self, *args: str, env: dict | None = None):
        """`yaml2dag ARGS` in the project, in the background: ``.finish()`` it."""
        return start_cli(*args, env={**self.env, **(env or {})}, cwd=self.root)

    def run(self, name: str, *assignments: str, env: dict | None = None, status: str = "SUCCESS") -> dict:
        """`yaml2dag run NAME k=v ... --format json`; asserts the run's status and the exit code."""
        return self.ran(self.cli("run", name, *assignments, "--format", "json", env=env), status)

    @staticmethod
    def ran(done, status: str = "SUCCESS") -> dict:
        """The JSON of a finished `yaml2dag run ... --format json`; asserts its status and exit code."""
        assert done.stdout.strip(), done.stderr
        data = json.loads(done.stdout)
        assert data.get("status") == status, json.dumps(data, indent=1) + done.stderr[-3000:]
        assert done.code == (0 if status == "SUCCESS" else 1)
        return data

    def instance(self):
        """The project's Dagster instance, opened in the test process (a context manager)."""
        from dagster import DagsterInstance

        return DagsterInstance.from_config(str(self.home))

    def events(self, run_id: str, *, types: tuple[str, ...] = (), step: str | None = None) -> list[dict]:
        """The rows `yaml2dag events RUN_ID [--type T,...] [--step S] --format json` prints, read
        in-process with the function that command calls (no CLI subprocess per read)."""
        from yaml2dag.runs.history.events import run_events

        with self.instance() as instance:
            data = run_events(instance, run_id, types=list(types), step=step)
        return json.loads(json.dumps(data, default=str))["events"]  # what the command's print_json prints


@pytest.fixture
def project(tmp_path, monkeypatch) -> Project:
    for name in ("YAML2DAG_DEFINITIONS", "YAML2DAG_STRICT", "EXAMPLE_API_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    root = tmp_path / "project"
    ignore = shutil.ignore_patterns("__pycache__", ".versions")
    shutil.copytree(REPO / "definitions", root / "definitions", ignore=ignore)
    shutil.copytree(REPO / "docs", root / "docs", ignore=ignore)
    home = make_dagster_home(tmp_path / "home")
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    return Project(root, home, tmp, {"DAGSTER_HOME": str(home), "TMPDIR": str(tmp)})


def weather() -> pd.DataFrame:
    from vega_datasets import local_data

    return pd.read_csv(local_data.seattle_weather.filepath, parse_dates=["date"])


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def repository(project: Project):
    """The code location's repository, built from the project's definitions folder."""
    from yaml2dag.location import build_definitions

    return build_definitions(project.root / "definitions", strict=True).get_repository_def()


# --------------------------------------------------------------------------- the catalog


def test_the_catalog_validates_without_warnings_and_loads_strictly_in_dagster(project):
    files = sorted(p.name for p in (REPO / "definitions").glob("*.yaml"))
    assert len(files) == len(EXAMPLES) >= 10
    checked = project.cli("validate", "--format", "json")  # the default folder: ./definitions
    report = json.loads(checked.stdout)
    assert checked.code == 0 and report["valid"], checked.stdout
    assert {w["id"]: w["name"] for w in report["workflows"]} == EXAMPLES
    assert report["errors"] == [] and report["warnings"] == []
    assert all(w["warnings"] == 0 for w in report["workflows"])
    # each file is named after its job, and each example says what it shows
    for path in (REPO / "definitions").glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        job = next(j for j, n in EXAMPLES.items() if n == data["name"])
        assert path.stem == job
        assert len(data["description"]) >= 40 and "example" in data["tags"], path.name
        assert path.read_text().startswith("# yaml-language-server: $schema=../yaml2dag/format/schema/workflow.schema.json\n#\n# ")
    # the code location loads every example, strict: no stand-in job
    done = run_process([sys.executable, "-m", "dagster", "definitions", "validate", "-m", "yaml2dag.definitions"],
                       env={**project.env, "YAML2DAG_STRICT": "1"}, cwd=project.root)
    assert done.code == 0, done.stdout + done.stderr
    assert "Validation successful for code location yaml2dag.definitions" in done.stderr + done.stdout
    repo = repository(project)
    assert set(EXAMPLES) <= {job.name for job in repo.get_all_jobs()}
    assert {s.name for s in repo.schedule_defs} == {"seattle_mornings"}
    assert {s.name for s in repo.sensor_defs} == {"csv_dropped_in_inbox"}


def test_every_example_is_listed_in_the_readme_and_both_user_guides():
    readme = (REPO / "README.md").read_text()
    rows = re.findall(r"^\| \[([^\]]+)\]\(definitions/([a-z_]+\.yaml)\) \| (.+) \|$", readme, re.M)
    assert {name: file for name, file, _ in rows} == {name: f"{job}.yaml" for job, name in EXAMPLES.items()}
    assert all(len(what) >= 30 for _, _, what in rows)
    for guide in ("workflow_guide_en.md", "workflow_guide_zh.md"):
        text = (REPO / "docs" / "manual" / guide).read_text()
        for job, name in EXAMPLES.items():
            assert f"[{name}](../../definitions/{job}.yaml)" in text, (guide, name)


# --------------------------------------------------------------------------- data


def test_weather_data_pipeline_writes_csv_sqlite_and_parquet_that_match_pandas(project):
    data = project.run("Weather Data Pipeline")
    frame = weather()
    out = project.root / "reports" / "weather_pipeline"  # the default out_dir, relative to the run
    written = {kind: (project.root / path).resolve() for kind, path in data["outputs"]["files"].items()}
    assert written == {"csv": out / "yearly.csv", "sqlite": out / "weather.sqlite", "parquet": out / "monthly.parquet"}
    year = frame["date"].dt.year
    rain = frame.groupby(year)["precipitation"].sum()
    rainy = (frame["precipitation"] > 0).groupby(year).sum()
    assert data["outputs"]["days"] == data["outputs"]["days_in_sqlite"] == len(frame) == 1461
    assert data["outputs"]["months"] == 48
    assert data["outputs"]["rain_mm"] == round(float(frame["precipitation"].sum()), 1)
    assert data["outputs"]["wettest_year"] == int(rain.idxmax())
    assert data["outputs"]["most_common_weather"] == frame["weather"].value_counts().idxmax()

    yearly = pd.read_csv(out / "yearly.csv")
    assert list(yearly["year"]) == [2012, 2013, 2014, 2015]
    assert list(yearly["rain_mm"]) == pytest.approx(list(rain.values), abs=1e-3)
    assert list(yearly["rainy_days"]) == list(rainy.values)
    assert list(yearly["max_c"]) == pytest.approx(list(frame.groupby(year)["temp_max"].max().values))
    with sqlite3.connect(out / "weather.sqlite") as db:
        monthly = pd.read_sql("SELECT * FROM monthly ORDER BY year, month", db)
        types = pd.read_sql("SELECT * FROM weather_types", db)
    assert len(monthly) == 48 and monthly["days"].sum() == 1461
    march_2014 = frame[(year == 2014) & (frame["date"].dt.month == 3)]
    row = monthly[(monthly["year"] == 2014) & (monthly["month"] == 3)].iloc[0]
    assert row["rain_mm"] == pytest.approx(march_2014["precipitation"].sum())
    assert row["min_c"] == march_2014["temp_min"].min() and row["days"] == 31
    assert dict(zip(types["weather"], types["days"])) == frame["weather"].value_counts().to_dict()
    assert list(types["days"]) == sorted(types["days"], reverse=True)
    parquet = pd.read_parquet(out / "monthly.parquet")
    pd.testing.assert_frame_equal(parquet.sort_values(["year", "month"]).reset_index(drop=True),
                                  monthly, check_dtype=False)
    # a second run replaces the files instead of failing on them
    again = project.run("Weather Data Pipeline", "rain_threshold_mm=5")
    assert again["outputs"]["months"] == 48
    assert list(pd.read_csv(out / "yearly.csv")["rainy_days"]) == list((frame["precipitation"] > 5).groupby(year).sum())


def test_compress_files_in_parallel_fans_out_at_most_four_at_a_time_and_writes_a_verified_manifest(project):
    data = project.run("Compress Files in Parallel")
    folder = Path(data["outputs"]["folder"])
    assert folder.parent == project.tmp and folder.name.startswith("yaml2dag-quarters-")  # made by the example
    sources = sorted(folder.glob("*.csv"))
    assert [p.name for p in sources][:2] == ["seattle-2012-Q1.csv", "seattle-2012-Q2.csv"] and len(sources) == 16
    assert sum(len(pd.read_csv(p)) for p in sources) == 1461
    assert data["outputs"]["files"] == data["outputs"]["manifest_lines"] == 16
    assert data["outputs"]["original_bytes"] == sum(p.stat().st_size for p in sources)
    assert data["outputs"]["compressed_bytes"] == sum(p.with_name(p.name + ".gz").stat().st_size for p in sources)
    for source in sources:
        assert gzip.decompress(source.with_name(source.name + ".gz").read_bytes()) == source.read_bytes()
    manifest = dict(reversed(line.split("  ", 1)) for line in (folder / "SHA256SUMS").read_text().splitlines())
    assert manifest == {p.name + ".gz": sha256(p.with_name(p.name + ".gz")) for p in sources}
    # each file was its own step (compress[0] ... compress[15]); never more than 4 ran at once
    running, most, elements = 0, 0, set()
    for event in project.events(data["run_id"], types=("STEP_START", "STEP_SUCCESS")):
        if re.fullmatch(r"compress\[\d+\]", event["step_key"]):
            elements.add(event["step_key"])
            running += 1 if event["type"] == "STEP_START" else -1
            most = max(most, running)
    assert len(elements) == 16
    assert 2 <= most <= 4, most

    # on a folder of your own, with another pattern
    logs = project.tmp / "logs"
    logs.mkdir()
    for i in range(3):
        (logs / f"app-{i}.log").write_text(f"line {i}\n" * 500)
    (logs / "notes.txt").write_text("not compressed")
    mine = project.run("Compress Files in Parallel", f"folder={logs}", "pattern=*.log")
    assert mine["outputs"]["files"] == 3
    assert sorted(p.name for p in logs.glob("*.gz")) == ["app-0.log.gz", "app-1.log.gz", "app-2.log.gz"]


def test_load_dropped_csv_files_sensor_requests_a_run_per_dropped_file_and_the_run_loads_it(project):
    import dagster as dg

    frame = weather()
    inbox = project.root / "inbox"  # ../inbox from the definitions folder: what the sensor watches
    inbox.mkdir()
    first = inbox / "seattle-2012.csv"
    frame[frame["date"].dt.year == 2012].to_csv(first, index=False, date_format="%Y-%m-%d")
    settled = time.time() - 30
    os.utime(first, (settled, settled))

    sensor = repository(project).get_sensor_def("csv_dropped_in_inbox")
    assert sensor.job_name == "load_dropped_csv_files" and sensor.minimum_interval_seconds == 30
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    with dg.DagsterInstance.ephemeral() as instance:
        tick = sensor.evaluate_tick(dg.build_sensor_context(instance=instance))
        [request] = tick.run_requests
        assert request.run_config == {"file": str(first), "inbox": str(inbox),
                                      "database": "reports/inbox.sqlite"}
        params = project.tmp / "params.json"
        params.write_text(json.dumps(request.run_config))
        data = project.run("Load Dropped CSV Files", "--param-file", str(params))
        assert data["outputs"]["loaded"] == [{"file": first.name, "rows": 366, "columns": list(frame.columns)}]
        assert data["outputs"]["rows_per_file"] == {first.name: 366}
        assert not first.exists() and (inbox / "processed" / first.name).is_file()
        # nothing new: the next tick skips
        again = sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=tick.cursor))
        assert again.run_requests == [] and "no new or changed files" in again.skip_message

    with sqlite3.connect(project.root / "reports" / "inbox.sqlite") as db:
        loaded = pd.read_sql("SELECT * FROM readings", db)
    assert len(loaded) == 366 and set(loaded["source_file"]) == {first.name}
    assert loaded["precipitation"].sum() == pytest.approx(frame[frame["date"].dt.year == 2012]["precipitation"].sum())

    # by hand: load every CSV waiting in the inbox (a reloaded file replaces its old rows)
    for year in (2013, 2014):
        frame[frame["date"].dt.year == year].to_csv(inbox / f"seattle-{year}.csv", index=False)
    shutil.copy(inbox / "processed" / first.name, inbox / first.name)
    by_hand = project.run("Load Dropped CSV Files")
    assert sorted(f["file"] for f in by_hand["outputs"]["loaded"]) == ["seattle-2012.csv", "seattle-2013.csv",
                                                                      "seattle-2014.csv"]
    assert by_hand["outputs"]["rows_per_file"] == {"seattle-2012.csv": 366, "seattle-2013.csv": 365,
                                                   "seattle-2014.csv": 365}
    assert sorted(p.name for p in inbox.glob("*.csv")) == []
    # an empty inbox: nothing to load, the count is skipped
    empty = project.run("Load Dropped CSV Files")
    assert empty["outputs"]["loaded"] == [] and empty["steps"]["totals"] == "skipped"


def test_daily_weather_digest_schedule_runs_at_seven_in_seattle_and_writes_that_days_digest(project):
    import dagster as dg

    schedule = repository(project).get_schedule_def("seattle_mornings")
    assert (schedule.cron_schedule, schedule.execution_timezone) == ("0 7 * * *", "America/Los_Angeles")
    assert schedule.default_status == dg.DefaultScheduleStatus.STOPPED  # ships stopped
    shown = json.loads(project.cli("show", "Daily Weather Digest", "--format", "json").stdout)
    assert [(s["name"], s["timezone"]) for s in shown["schedules"]] == [("seattle_mornings", "America/Los_Angeles")]

    tick_time = dt.datetime(2024, 7, 4, 7, 0, tzinfo=ZoneInfo("America/Los_Angeles"))
    with dg.DagsterInstance.ephemeral() as instance:
        result = schedule.evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=tick_time))
    [request] = result.run_requests
    assert request.run_config == {"date": "2024-07-04", "report_dir": "reports/digests"}
    data = project.run("Daily Weather Digest", f"date={request.run_config['date']}")
    frame = weather()
    days = frame[(frame["date"].dt.month == 7) & (frame["date"].dt.day == 4)]
    assert data["outputs"]["day"] == "2024-07-04" and data["outputs"]["years"] == 4
    assert data["outputs"]["warmest"] == days["temp_max"].max()  # a numpy float64 in the template
    digest = project.root / data["outputs"]["digest"]
    assert digest == project.root / "reports" / "digests" / "digest-2024-07-04.md"
    text = digest.read_text()
    assert text.startswith("# 2024-07-04: this day in Seattle's weather\n")
    for _, row in days.iterrows():
        line = next(line for line in text.splitlines() if line.startswith(f"|   {row['date'].year} |"))
        assert row["weather"] in line and f"{row['temp_max']:g}" in line
    # by hand without a date: today in Seattle
    before = dt.datetime.now(ZoneInfo("America/Los_Angeles")).date().isoformat()
    today = project.run("Daily Weather Digest")
    after = dt.datetime.now(ZoneInfo("America/Los_Angeles")).date().isoformat()
    assert today["outputs"]["day"] in {before, after}
    assert (project.root / today["outputs"]["digest"]).is_file()


# --------------------------------------------------------------------------- errors and control flow


def test_resilient_api_fetch_retries_with_exponential_backoff_then_falls_back(project):
    # both runs at once: they mostly wait out their backoffs (each starts its own demo API)
    one_more = project.start("run", "Resilient API Fetch", "failures=3", "--format", "json")
    try:
        data = project.run("Resilient API Fetch")
        out = data["outputs"]
        assert out["usd_per_eur"] == 1.0887
        assert out["rates_attempts"] == 3
        assert out["requests"] == {"/rates": 3, "/forecast": 2, "/forecast/cached": 1, "/stats": 1}
        assert (out["forecast_status"], out["forecast_source"]) == ("failed", "cache")
        assert "503 Service Unavailable" in out["forecast_error"]
        assert data["steps"]["forecast"] == "continued" and data["steps"]["summary"] == "succeeded"
        rates = project.events(data["run_id"], step="rates")
        retries = [e for e in rates if e["type"] == "STEP_UP_FOR_RETRY"]
        assert [re.search(r"retry in ([\d.]+) seconds", e["message"]).group(1) for e in retries] == ["1.0", "2.0"]
        restarts = [dt.datetime.fromisoformat(e["timestamp"]) for e in rates
                    if e["type"] in ("STEP_UP_FOR_RETRY", "STEP_RESTARTED")]
        waits = [(b - a).total_seconds() for a, b in zip(restarts[::2], restarts[1::2])]
        assert waits[0] >= 1.0 and waits[1] >= 2.0, waits
    finally:  # ends within its own retries: bounded
        finished = one_more.finish()
    # one failure more: a fourth attempt, after waits of 1, 2 and 4 seconds
    more = project.ran(finished)
    assert more["outputs"]["rates_attempts"] == 4 and more["outputs"]["requests"]["/rates"] == 4


def test_publish_site_by_environment_takes_one_case_and_really_skips_the_others(project):
    target = project.tmp / "site"
    cases = {"development": {"copy_development"}, "staging": {"copy_staging", "check_staging"},
             "production": {"live_folder", "archive_live", "copy_production", "mark_release"}}
    every = {"plan"} | set().union(*cases.values())
    for environment, taken in cases.items():
        data = project.run("Publish Site by Environment", f"environment={environment}", f"target={target}")
        skipped = {step for step, status in data["steps"].items() if status == "skipped"}
        assert skipped == every - taken, (environment, data["steps"])
        assert all(data["steps"][step] == "succeeded" for step in taken | {"build", "tidy"})
        page = (target / environment / "index.html").read_text()
        assert "release 1.0.0" in page and f"Built for {environment}." in page
        skips = [e for e in project.events(data["run_id"], types=("STEP_SKIPPED",))]
        assert {e["step_key"] for e in skips} >= every - taken  # real Dagster skips
    assert (target / "production" / "RELEASE").read_text() == "1.0.0\n"
    # a new production release archives the live one first
    data = project.run("Publish Site by Environment", "environment=production", "release=1.0.1", f"target={target}")
    with tarfile.open(data["outputs"]["archive"]) as archive:
        live = archive.extractfile("production/index.html").read().decode()
    assert "release 1.0.0" in live
    assert "release 1.0.1" in (target / "production" / "index.html").read_text()
    assert (target / "production" / "RELEASE").read_text() == "1.0.1\n"
    # a dry run lists the build and publishes nothing
    before = sorted(p.relative_to(target) for p in target.rglob("*"))
    dry = project.run("Publish Site by Environment", "dry_run=true", "environment=staging", f"target={target}")
    assert dry["outputs"]["would_publish"] == ["index.html", "robots.txt"] and dry["outputs"]["published"] == []
    assert {s for s, st in dry["steps"].items() if st == "skipped"} == every - {"plan"}
    assert sorted(p.relative_to(target) for p in target.rglob("*")) == before
    assert list(project.tmp.glob("yaml2dag-site-*")) == []  # each build folder was removed




def _example_module(name: str):
    """A helper module of definitions/ (example_data, example_services), imported from its file."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(f"_catalog_{name}", REPO / "definitions" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _sample_log_ages() -> dict[str, int]:
    """SAMPLE_LOGS of definitions/example_data.py: name → age in days."""
    return dict(_example_module("example_data").SAMPLE_LOGS)


def test_clean_up_old_logs_approves_itself_outside_production(project):
    ages = _sample_log_ages()
    old = sorted(name for name, days in ages.items() if days > 30)
    assert old and len(old) < len(ages)
    data = project.run("Clean Up Old Logs")  # development, on the sample folder it makes
    folder = Path(data["outputs"]["folder"])
    assert folder.parent == project.tmp
    assert data["outputs"]["decision"] == "approved" and data["outputs"]["approved_by"] == ["auto"]
    assert data["outputs"]["deleted"] == old
    assert data["outputs"]["remaining"] == sorted(p.name for p in folder.iterdir()) == sorted(set(ages) - set(old))
    # nothing older than 90 days: the gate is skipped, nothing is deleted
    none = project.run("Clean Up Old Logs", f"log_dir={folder}", "days=90")
    assert none["steps"]["approve"] == "skipped" and none["outputs"]["deleted"] == []


def _paused_run(instance, job: str) -> str | None:
    """The id of the run of ``job`` whose approval gate waits, read in-process from the event log
    (the engine event `yaml2dag history --status paused` and `yaml2dag status` read), or None."""
    from yaml2dag.runs.approvals import gates

    for run in instance.get_runs():
        if run.job_name == job and not run.is_finished and any(g.waiting for g in gates(instance, run.run_id)):
            return run.run_id
    return None


def test_clean_up_old_logs_waits_in_production_until_someone_approves(project):
    logs = project.tmp / "prod-logs"
    logs.mkdir()
    for name, days in {"api-old.log": 40, "api-new.log": 2, "keep.txt": 90}.items():
        (logs / name).write_text("x\n")
        stamp = time.time() - days * 86400
        os.utime(logs / name, (stamp, stamp))
    waiting = project.start("run", "Clean Up Old Logs", "environment=production", f"log_dir={logs}",
                            "--format", "json")
    try:
        def not_ended():  # the run must wait for alice: a command that ended already fails the wait at once
            assert waiting.poll() is None, waiting.finish().stderr

        with project.instance() as instance:
            run_id = wait_until(lambda: not_ended() or _paused_run(instance, "clean_up_old_logs"), GATE_TIMEOUT,
                                0.5, "the run to pause at its gate")
        listed = project.cli("history", "Clean Up Old Logs", "--status", "paused", "--format", "json")
        assert [r["run_id"] for r in json.loads(listed.stdout)["runs"]] == [run_id], listed.stdout + listed.stderr
        status = json.loads(project.cli("status", run_id, "--format", "json").stdout)
        [gate] = status["waiting"]
        assert "Delete 1 log file(s) older than 30 days from production" in json.dumps(gate)
        assert (logs / "api-old.log").exists()  # nothing is deleted while the run waits
        approved = project.cli("approve", run_id, "--by", "alice", "--comment", "rotated already")
        assert approved.code == 0, approved.stderr
    finally:  # after a failure above, the waiting run is killed at GATE_TIMEOUT
        done = waiting.finish(GATE_TIMEOUT)
    out, err = done.stdout, done.stderr
    data = json.loads(out)
    assert data["status"] == "SUCCESS", out + err
    assert data["outputs"]["approved_by"] == ["alice"] and data["outputs"]["deleted"] == ["api-old.log"]
    assert sorted(p.name for p in logs.iterdir()) == ["api-new.log", "keep.txt"]


def test_onboard_team_with_rollback_undoes_the_finished_steps_newest_first(project):
    root = project.tmp / "onboarding"
    ok = project.run("Onboard Team with Rollback", f"root={root}")
    workspace = root / "weather-analysts"
    assert ok["outputs"] == {"workspace": str(workspace), "registered_teams": 1,
                             "verified": "workspace of weather-analysts verified"}
    assert json.loads((workspace / "team.json").read_text()) == {"team": "weather-analysts", "owner": "alice",
                                                                 "quota_gb": 10}
    assert (workspace / "data" / "seattle-weather.csv").is_file()

    failed = project.run("Onboard Team with Rollback", f"root={root}", "team=finance", "fail_verification=true",
                         status="FAILURE")
    assert failed["steps"]["verify"] == "failed" and failed["steps"]["seed"] == "succeeded"
    status = json.loads(project.cli("status", failed["run_id"], "--format", "json").stdout)
    assert status["failed_step"] == "verify" and "quota service unreachable" in status["error_message"]
    assert [(h["kind"], h["step"], h["status"]) for h in status["handlers"]] == [
        ("compensate", "seed", "succeeded"), ("compensate", "register", "succeeded"),
        ("compensate", "team_config", "succeeded"), ("compensate", "workspace", "succeeded"),
        ("on_failure", "report", "succeeded")]
    assert json.loads(status["handlers"][1]["output"]) == {"team": "finance", "removed": 1}
    # the failed team left nothing behind; the first team is untouched
    assert sorted(p.name for p in root.iterdir()) == ["registry.sqlite", "weather-analysts"]
    with sqlite3.connect(root / "registry.sqlite") as db:
        assert db.execute("SELECT team, owner FROM teams").fetchall() == [("weather-analysts", "alice")]
    # onboarding the same team twice fails at once, at the workspace, and removes nothing of it
    twice = project.run("Onboard Team with Rollback", f"root={root}", status="FAILURE")
    assert twice["steps"]["workspace"] == "failed" and (workspace / "team.json").is_file()


# --------------------------------------------------------------------------- files and sub-workflows


def _members(archive: Path) -> set[str]:
    with tarfile.open(archive) as tar:
        return {m.name for m in tar.getmembers() if m.isfile()}


def _tree(folder: Path) -> set[str]:
    return {f"{folder.name}/{p.relative_to(folder)}" for p in folder.rglob("*")
            if p.is_file() and "__pycache__" not in p.parts and ".versions" not in p.parts}


def _verify_manifest(manifest: Path) -> dict[str, str]:
    lines = dict(reversed(line.split("  ", 1)) for line in manifest.read_text().splitlines())
    assert lines == {name: sha256(manifest.parent / name) for name in lines}
    return lines


def _after_the_second_of(archive: Path) -> None:
    """Wait (bounded) until the UTC clock has passed the second in ``archive``'s name
    (``<name>-YYYYMMDD-HHMMSS.tar.gz``); usually at once, the run having taken longer than that."""
    stamp = dt.datetime.strptime(re.search(r"-(\d{8}-\d{6})(-\d+)?[.]tar[.]gz$", archive.name).group(1),
                                 "%Y%m%d-%H%M%S").replace(tzinfo=dt.timezone.utc)
    wait_until(lambda: dt.datetime.now(dt.timezone.utc) >= stamp + dt.timedelta(seconds=1), 5, 0.05,
               f"the second after {archive.name}")


def test_backup_folder_archives_checksums_and_keeps_the_newest_archives(project):
    target = project.tmp / "backups"
    runs = []
    for _ in range(3):
        if runs:  # archive names carry the UTC time to the second: the next run starts in a later second
            _after_the_second_of(Path(runs[-1]["outputs"]["archive"]))
        runs.append(project.run("Backup Folder", f"target={target}", "keep_last=2"))
    archives = [Path(r["outputs"]["archive"]) for r in runs]
    assert [r["outputs"]["removed"] for r in runs] == [[], [], [str(archives[0])]]
    assert sorted(target.glob("definitions-*.tar.gz")) == archives[1:]
    assert _verify_manifest(target / "definitions.SHA256SUMS").keys() == {a.name for a in archives[1:]}
    expected = _tree(project.root / "definitions")
    assert _members(archives[2]) == expected and runs[2]["outputs"]["files"] == len(expected)
    assert runs[2]["outputs"]["entries_read_back"] >= len(expected)
    assert runs[2]["outputs"]["checksums"] == str(target / "definitions.SHA256SUMS")
    # without `target`: yaml2dag-backups under $TMPDIR
    default = project.run("Backup Folder")
    assert Path(default["outputs"]["archive"]).parent == project.tmp / "yaml2dag-backups"


def test_back_up_workflows_and_docs_reuses_backup_folder_twice(project):
    target = project.tmp / "both"
    data = project.run("Back Up Workflows and Docs", f"target={target}")
    children = ("target_folder", "archive", "checksums", "verify")
    assert {k: v for k, v in data["steps"].items() if "." in k} == {
        f"{use}.{step}": "succeeded" for use in ("workflows", "documentation") for step in children}
    out = data["outputs"]
    assert Path(out["workflows"]["archive"]).name.startswith("definitions-")
    assert Path(out["documentation"]["archive"]).name.startswith("docs-")
    assert _members(Path(out["workflows"]["archive"])) == _tree(project.root / "definitions")
    assert _members(Path(out["documentation"]["archive"])) == _tree(project.root / "docs")
    assert out["total_bytes"] == out["workflows"]["bytes"] + out["documentation"]["bytes"]
    for name in ("definitions", "docs"):
        [archive] = _verify_manifest(target / f"{name}.SHA256SUMS")
        assert archive.startswith(f"{name}-")
    # one run: the children are nested graphs of the parent's job, not runs of their own
    with project.instance() as instance:
        assert [r.run_id for r in instance.get_runs()] == [data["run_id"]]


# --------------------------------------------------------------------------- secrets, notify, git


def test_call_an_api_with_a_secret_token_masks_it_everywhere(project):
    token = "tok-" + hashlib.sha256(os.urandom(16)).hexdigest()[:24]
    missing = project.cli("run", "Call an API with a Secret Token", "--format", "json")
    assert missing.code == 2 and "EXAMPLE_API_TOKEN" in json.loads(missing.stdout)["error"]
    done = project.cli("run", "Call an API with a Secret Token", "--format", "json", env={"EXAMPLE_API_TOKEN": token})
    assert done.code == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["outputs"] == {"user": "example-bot", "scopes": ["reports:read"],
                               "reports": ["Rainy days per year", "Warmest months"],
                               "printed": "sent token *** as example-bot"}
    logs = project.cli("logs", data["run_id"], "--compute")
    assert "sent token *** as example-bot" in logs.stdout
    # the token reached the API (it answered 200) but nothing the run stored or printed
    assert token not in done.stdout + done.stderr + logs.stdout + logs.stderr
    stored = [p for p in project.home.rglob("*") if p.is_file()]
    assert len(stored) > 3
    leaked = [str(p) for p in stored if token.encode() in p.read_bytes()]
    assert leaked == []
    # an API that expects another token refuses this one: the run fails, the token still masked
    other = _example_module("example_services").token_api(token="the-token-the-api-expects")
    wrong = project.cli("run", "Call an API with a Secret Token", f"url={other}", "--format", "json",
                        env={"EXAMPLE_API_TOKEN": token})
    assert wrong.code == 1, wrong.stdout + wrong.stderr
    refused = json.loads(wrong.stdout)
    assert refused["steps"]["whoami"] == "failed"
    status = project.cli("status", refused["run_id"], "--format", "json")
    assert "401 Unauthorized" in json.loads(status.stdout)["error_message"]
    assert token not in wrong.stdout + wrong.stderr + status.stdout


def test_host_health_report_posts_to_a_local_webhook(project, hook):
    # only the disk can be over its threshold: CPU and memory thresholds at 100 (a loaded CI machine
    # must not add a CPU alert)
    data = project.run("Host Health Report", f"webhook_url={hook.url}/hooks/ops", "disk_percent=0",
                       "cpu_percent=100", "memory_percent=100")
    out = data["outputs"]
    assert out["healthy"] is False and out["posted"] is True and out["post_status"] == "succeeded"
    assert [a["metric"] for a in out["alerts"]] == ["disk_percent"]
    [post] = hook.requests
    body = post["json"]
    assert post["path"] == "/hooks/ops"
    assert body["text"].startswith(f":warning: {out['host']}: 1 alert(s): disk / is ")
    assert body["host"] == out["host"] and body["healthy"] is False and body["run"] == data["run_id"]
    assert body["alerts"] == out["alerts"] and body["username"] == "yaml2dag"
    # thresholds nothing can pass: healthy, and the post says so
    healthy = project.run("Host Health Report", f"webhook_url={hook.url}/hooks/ops", "cpu_percent=100",
                          "memory_percent=100", "disk_percent=100")
    assert healthy["outputs"]["healthy"] is True and hook.requests[1]["json"]["text"].startswith(":white_check_mark: ")
    # without a webhook the post is skipped, and the report is in the event log
    quiet = project.run("Host Health Report")
    assert quiet["steps"]["post"] == "skipped" and quiet["outputs"]["posted"] is False
    assert len(hook.requests) == 2
    logged = project.cli("logs", quiet["run_id"], "--step", "report").stdout
    assert f"report │ {quiet['outputs']['host']}: " in logged


def test_release_notes_from_git_on_a_repository_made_on_the_fly(project):
    data = project.run("Release Notes from Git")
    out = data["outputs"]
    assert out["branch"] == "release/1.1.0" and out["commits"] == 5 and out["clean"] is True
    assert out["authors"] == {"Grace Hopper": 3, "Ada Lovelace": 2}
    notes = (project.root / out["notes"]).read_text()
    assert notes.startswith("# Release 1.1.0\n\n5 change(s) since v1.0.0 by 2 author(s), on branch release/1.1.0 at ")
    messages = ["Speed up gust detection", "Document the alert thresholds", "Add wind gust alerts",
                "Fix rounding of rainfall totals", "Add rainfall totals per month"]
    assert all(f" {m} (" in notes for m in messages) and "Initial weather station" not in notes
    assert "### Grace Hopper (3 commits)" in notes and "### Ada Lovelace (2 commits)" in notes
    assert list(project.tmp.glob("yaml2dag-release-*")) == []  # the work folder was removed

    # on a repository of your own: a clone of one made here, since its own tag
    own = project.tmp / "own"
    git = ["git", "-c", "user.name=Test", "-c", "user.email=test@example.com", "-C", str(own)]
    subprocess.run(["git", "init", "-q", "-b", "main", str(own)], check=True, timeout=60)
    for i, tag in enumerate(["", "v2.0.0", "", ""]):
        (own / "f.txt").write_text(str(i))
        subprocess.run([*git, "add", "f.txt"], check=True, timeout=60)
        subprocess.run([*git, "commit", "-q", "-m", f"change {i}"], check=True, timeout=60)
        if tag:
            subprocess.run([*git, "tag", tag], check=True, timeout=60)
    mine = project.run("Release Notes from Git", f"repo={own}", "since_tag=v2.0.0", "release=2.1.0")
    assert mine["outputs"]["commits"] == 2 and mine["outputs"]["authors"] == {"Test": 2}
    assert "change 3" in (project.root / mine["outputs"]["notes"]).read_text()
