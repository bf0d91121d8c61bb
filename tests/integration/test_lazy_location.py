"""A run builds only its own job (issue 13, part 1).

The code location ``yaml2dag.definitions`` gives Dagster its jobs as callables, named by the
folder's name index: the code server still lists every job, schedule and sensor, while a process
that runs one job (``dagster job execute -j JOB``, a run worker, ``yaml2dag run NAME``) validates
and compiles only that workflow and the workflows it names. ``YAML2DAG_TRACE_BUILDS`` makes every
validation and compilation append a line to a file, which is how these tests see what was built.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import run_cli, run_process, write

pytestmark = pytest.mark.slow

ALPHA = """
name: Alpha
parameters: {who: {type: string, default: world}}
steps:
  - {id: hello, tool: shell, parameters: {command: "echo hello {{ who }}"}}
outputs: {line: "{{ hello.output }}"}
"""

NIGHTLY = """
name: Nightly
triggers:
  - {type: schedule, cron: "0 3 * * *", timezone: UTC}
steps:
  - {id: work, tool: shell, parameters: {command: "echo nightly"}}
"""

AFTER_NIGHTLY = """
name: After Nightly
triggers:
  - {type: workflow, workflow: Nightly, status: success}
steps:
  - {id: follow, tool: shell, parameters: {command: "echo after"}}
"""

PARENT = """
name: Parent
steps:
  - {id: first, tool: shell, parameters: {command: "echo parent"}}
  - {id: sub, workflow: Child}
"""

CHILD = """
name: Child
steps:
  - {id: inner, tool: shell, parameters: {command: "echo child"}}
"""

BROKEN = """
name: Broken
steps:
  - {id: a, tool: shel, parameters: {command: "echo"}}
"""

# validates (its sub-workflow exists), but cannot compile: the workflow it includes is invalid
DOOMED = """
name: Doomed
steps:
  - {id: inc, workflow: Broken}
"""


@pytest.fixture
def folder(tmp_path) -> Path:
    defs = tmp_path / "definitions"
    for name, text in [("alpha.yaml", ALPHA), ("nightly.yaml", NIGHTLY), ("after_nightly.yaml", AFTER_NIGHTLY),
                       ("parent.yaml", PARENT), ("child.yaml", CHILD), ("broken.yaml", BROKEN),
                       ("doomed.yaml", DOOMED)]:
        write(defs, name, text)
    return defs


def _trace(path: Path) -> tuple[list[str], list[str]]:
    """(validated files by name, compiled jobs) from a trace file."""
    validated, compiled = [], []
    for line in path.read_text().splitlines() if path.exists() else []:
        _pid, kind, what = line.split(" ", 2)
        (validated if kind == "validate" else compiled).append(Path(what).name if kind == "validate" else what)
    return validated, compiled


def _execute(folder: Path, home: Path, trace: Path, job: str):
    env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(home), "YAML2DAG_TRACE_BUILDS": str(trace)}
    return run_process([sys.executable, "-m", "dagster", "job", "execute", "-m", "yaml2dag.definitions", "-j", job],
                       env=env, cwd=folder.parent)


def test_dagster_job_execute_compiles_only_the_job_it_runs(folder, dagster_home, tmp_path):
    trace = tmp_path / "alpha.trace"
    done = _execute(folder, dagster_home, trace, "alpha")
    assert done.code == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "RUN_SUCCESS" in done.stdout + done.stderr
    validated, compiled = _trace(trace)
    assert compiled == ["alpha"]
    # the workflow itself, and the files with triggers (schedules and sensors are loaded with
    # the location): never the sub-workflow parent, the broken file or the doomed one
    assert sorted(set(validated)) == ["after_nightly.yaml", "alpha.yaml", "nightly.yaml"]


def test_a_job_with_a_sub_workflow_compiles_it_and_nothing_else(folder, dagster_home, tmp_path):
    trace = tmp_path / "parent.trace"
    done = _execute(folder, dagster_home, trace, "parent")
    assert done.code == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "Finished execution of step \"sub.inner\"" in done.stdout + done.stderr  # the sub-workflow ran
    validated, compiled = _trace(trace)
    assert compiled == ["parent"]
    assert "child.yaml" in validated and "broken.yaml" not in validated and "alpha.yaml" not in validated


def test_the_code_location_still_lists_and_builds_every_job_schedule_and_sensor(folder, dagster_home, tmp_path):
    trace = tmp_path / "all.trace"
    env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(dagster_home), "YAML2DAG_TRACE_BUILDS": str(trace)}
    done = run_process([sys.executable, "-m", "dagster", "definitions", "validate", "-m", "yaml2dag.definitions"],
                       env=env, cwd=tmp_path)
    assert done.code == 0, done.stdout[-3000:] + done.stderr[-3000:]
    _validated, compiled = _trace(trace)
    # every valid workflow compiled (the doomed one tried, and became a stand-in)
    assert sorted(compiled) == ["after_nightly", "alpha", "child", "doomed", "nightly", "parent"]


def test_the_lazy_repository_names_every_job_and_builds_one_on_demand(folder, monkeypatch, tmp_path):
    from yaml2dag.location import TAG_INVALID, build_repository

    trace = tmp_path / "api.trace"
    monkeypatch.setenv("YAML2DAG_TRACE_BUILDS", str(trace))
    repo = build_repository(folder, strict=False)
    assert sorted(repo.job_names) == ["after_nightly", "alpha", "broken", "child", "doomed", "nightly", "parent"]
    assert [s.name for s in repo.schedule_defs] == ["nightly_schedule"]
    assert [s.job_name for s in repo.schedule_defs] == ["nightly"]
    assert [s.job_name for s in repo.sensor_defs] == ["after_nightly"]
    assert _trace(trace)[1] == []  # nothing compiled to list them
    alpha = repo.get_job("alpha")
    assert alpha.name == "alpha" and TAG_INVALID not in alpha.tags
    assert _trace(trace)[1] == ["alpha"]
    # the stand-ins: an invalid file, and a file that validates but does not compile
    broken = repo.get_job("broken")
    assert broken.tags[TAG_INVALID] == "true" and "unknown tool `shel`" in broken.description
    doomed = repo.get_job("doomed")
    assert doomed.tags[TAG_INVALID] == "true" and "could not compile" in doomed.description
    assert _trace(trace)[1] == ["alpha", "doomed"]
    assert len(repo.get_all_jobs()) == 7  # what the code server does: all of them, no name clash


def test_yaml2dag_run_validates_only_the_workflow_it_runs(folder, dagster_home, tmp_path):
    trace = tmp_path / "run.trace"
    env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(dagster_home), "YAML2DAG_TRACE_BUILDS": str(trace)}
    done = run_cli("run", "Alpha", "who=lazy", env=env, cwd=tmp_path)
    assert done.code == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "hello lazy" in done.stdout
    validated, _compiled = _trace(trace)
    assert sorted(set(validated)) == ["alpha.yaml"]
    # by job id and by file name too; an unknown name still suggests the closest one
    assert run_cli("run", "alpha", env=env, cwd=tmp_path).code == 0
    missing = run_cli("run", "Alpah", env=env, cwd=tmp_path)
    assert missing.code == 2 and "did you mean" in (missing.stdout + missing.stderr).lower()
    invalid = run_cli("run", "Broken", env=env, cwd=tmp_path)
    assert invalid.code == 2 and "unknown tool `shel`" in invalid.stdout + invalid.stderr
