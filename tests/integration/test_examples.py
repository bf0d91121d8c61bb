"""The shipped examples, end to end on real input: the weather data and this repository's own
git history; and the example third-party tool, installed and used through its entry point."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from cli_forkserver import run_cli
from conftest import REPO, make_dagster_home, run_process, write

pytestmark = pytest.mark.slow


@pytest.fixture
def env(tmp_path):
    home = make_dagster_home(tmp_path / "home")
    return {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(REPO / "definitions")}


def test_shipped_examples_validate():
    done = run_cli("validate", str(REPO / "definitions"))
    assert done.code == 0, done.stdout


def test_seattle_weather_report_matches_pandas(env, tmp_path):
    import pandas as pd
    from vega_datasets import local_data

    done = run_cli("run", "Seattle Weather Report", f"report_dir={tmp_path / 'reports'}", "--format", "json",
                   env=env, cwd=tmp_path)
    assert done.code == 0, done.stderr
    data = json.loads(done.stdout)
    frame = pd.read_csv(local_data.seattle_weather.filepath, parse_dates=["date"])
    rainy = frame[frame["precipitation"] > 0].groupby(frame["date"].dt.year).size()
    assert data["outputs"]["days"] == len(frame) == 1461
    assert data["outputs"]["rainy_days_per_year"] == {str(y): int(n) for y, n in rainy.items()}
    assert data["outputs"]["wettest_year"] == str(rainy.idxmax())
    assert data["outputs"]["hottest_day_c"] == float(frame["temp_max"].max())
    report = Path(data["outputs"]["report"])
    assert report.is_file() and f"| {rainy.idxmax()} | {rainy.max()} |" in report.read_text()


def test_git_sync_and_test_clones_this_repository_and_runs_its_tests(env, tmp_path):
    if not (REPO / ".git").exists():
        pytest.skip("the project is not a git checkout: nothing to clone")
    head = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%h %s"], capture_output=True, text=True,
                          timeout=30).stdout.strip()
    if not head:
        pytest.skip("the repository has no commits yet")
    workdir = tmp_path / "work"
    # one unit module of the clone, alone: without the project's addopts (two xdist workers) and
    # conftest (which compiles the clone's yaml2dag/ first), 0.7 s of CPU instead of 2.9 s
    test_command = json.dumps([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                               "--noconftest", "tests/unit/test_durations.py"])
    done = run_cli("run", "Git Sync and Test", f"repo={REPO}", f"workdir={workdir}", f"test_command={test_command}",
                   "--format", "json", env=env, cwd=tmp_path, timeout=600)
    assert done.code == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["steps"]["checkout"] == "skipped"
    assert data["outputs"]["head"] == head
    assert " passed" in data["outputs"]["tests"]
    assert (workdir / "repo" / ".git").is_dir()
    # a second run reuses the clone and pulls
    again = run_cli("run", "Git Sync and Test", f"repo={REPO}", f"workdir={workdir}", f"test_command={test_command}",
                    "--format", "json", env=env, cwd=tmp_path, timeout=600)
    assert json.loads(again.stdout)["status"] == "SUCCESS"


def test_git_sync_and_test_removes_its_temporary_clone_whether_the_run_passes_or_fails(env, tmp_path):
    if not (REPO / ".git").exists():
        pytest.skip("the project is not a git checkout: nothing to clone")
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**env, "TMPDIR": str(temp)}
    # the inner pytest runs serially (no xdist workers from the project's addopts), without the
    # clone's conftest (as above), and keeps its own temporary files outside TMPDIR, which must end empty
    passing = json.dumps([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                          "--noconftest", "--basetemp", str(tmp_path / "inner-pytest"), "tests/unit/test_durations.py"])
    for test_command, status in ((passing, "SUCCESS"), ('["false"]', "FAILURE")):
        done = run_cli("run", "Git Sync and Test", f"repo={REPO}", f"test_command={test_command}", "--format", "json",
                       env=env, cwd=tmp_path, timeout=600)
        data = json.loads(done.stdout)
        assert data["status"] == status, done.stdout + done.stderr
        assert data["steps"]["clone"] == "succeeded"
        assert list(temp.iterdir()) == [], f"left behind after a {status} run"
    assert data["steps"]["cleanup"] == "not_run"  # the failed run cleaned up in its on_failure step


def _tree(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*") if "__pycache__" not in p.parts}


def test_third_party_tool_through_its_entry_point(tmp_path):
    example = REPO / "examples" / "yaml2dag-tool-example"
    before = _tree(example)
    # build a copy, so the checkout gets no build/ or *.egg-info; offline: no build isolation
    # (setuptools and wheel come with the dev extras) and no package index
    source = tmp_path / "example"
    shutil.copytree(example, source, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path / "site"
    build = run_process([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index",
                         "-q", "--target", str(target), str(source)], timeout=600)
    assert build.code == 0, build.stderr
    assert _tree(example) == before, "installing the example changed files in the checkout"
    assert (target / "yaml2dag_tool_example").is_dir()
    assert (next(target.glob("yaml2dag_tool_example-*.dist-info")) / "entry_points.txt").read_text().split() == [
        "[yaml2dag.tools]", "textstats", "=", "yaml2dag_tool_example:TOOL"]
    folder = tmp_path / "definitions"
    write(folder, "stats.yaml", """
        name: Text Stats
        steps:
          - id: stats
            tool: textstats
            action: count
            parameters: {text: "one two three\\nfour"}
          - id: common
            tool: textstats
            action: top
            parameters: {text: "a b a c a b", limit: 2}
        outputs:
          words: "{{ stats.words }}"
          lines: "{{ stats.lines }}"
          top: "{{ common.output }}"
    """)
    write(folder, "bad.yaml", """
        name: Bad Stats
        steps:
          - id: stats
            tool: textstats
            action: count
            parameters: {txt: "x"}
          - id: echo
            tool: shell
            parameters: {command: "echo {{ stats.sentences }}"}
    """)
    home = tmp_path / "home"
    home.mkdir()
    env = {"PYTHONPATH": str(target), "YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(home)}
    # fresh interpreters: PYTHONPATH (where the tool is installed) is read at start-up, and the
    # entry point must be found the way a user's `yaml2dag` finds it
    yaml2dag = [sys.executable, "-m", "yaml2dag"]
    checked = run_process([*yaml2dag, "validate", str(folder / "bad.yaml"), "--format", "json"], env=env)
    errors = json.loads(checked.stdout)["errors"]
    assert {(e["line"], e["path"]) for e in errors} >= {(6, "steps[0].parameters.txt"), (9, "steps[1].parameters.command")}
    assert any("did you mean `text`" in e["message"] for e in errors)
    ran = run_process([*yaml2dag, "run", "Text Stats", "--format", "json"], env=env)
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout)["outputs"] == {"words": 4, "lines": 2, "top": ["a", "b"]}
