"""Issue 10, point 2: a file that used to crash validation never takes the other workflows down.

A definitions folder holds every poison input of issue 10 and one good workflow. From that
folder, with the defaults a user has (relative ``definitions``, no ``YAML2DAG_*`` variables,
a temporary DAGSTER_HOME): ``yaml2dag run`` of the good workflow runs it, and the Dagster code
location loads (``dagster definitions validate -m yaml2dag.definitions``) with one stand-in
"invalid workflow" job per poison file. An exception while compiling one file (a bug) makes
that file a stand-in job too.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest

from conftest import write

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_input_limits import GOOD, POISON, _cli  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture
def folder(tmp_path) -> Path:
    for name, (text, _rule, _line) in POISON.items():
        write(tmp_path / "definitions", f"{name}.yaml", text)
    write(tmp_path / "definitions", "good.yaml", GOOD)
    return tmp_path


def test_good_workflow_runs_beside_poison_files(folder):
    done = _cli(folder, "run", "Good Flow", "--format", "json")
    assert done.code == 0, done
    assert "Traceback" not in done.stderr, done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCESS", result


def test_code_location_loads_with_stand_ins(folder):
    from conftest import CLI_TIMEOUT, run_process

    from conftest import make_dagster_home

    env = {k: v for k, v in os.environ.items() if not k.startswith("YAML2DAG_")}
    env["DAGSTER_HOME"] = str(make_dagster_home(folder / "dagster_home"))
    dagster = str(Path(sys.executable).parent / "dagster")
    # run_process adds os.environ under env: YAML2DAG_* are unset in the test process
    assert not any(k.startswith("YAML2DAG_") for k in os.environ)
    done = run_process([dagster, "definitions", "validate", "-m", "yaml2dag.definitions"], env=env, cwd=folder,
                       timeout=CLI_TIMEOUT)
    assert done.code == 0, done
    assert "Traceback" not in done.stdout + done.stderr, done.stderr


def test_build_definitions_gives_each_poison_file_a_stand_in(folder):
    from yaml2dag.location import TAG_INVALID, build_definitions

    defs = build_definitions(folder / "definitions", strict=False)
    jobs = {job.name: job for job in defs.jobs}
    assert TAG_INVALID not in jobs["good_flow"].tags
    stand_ins = {job.tags["yaml2dag/file"] for job in jobs.values() if job.tags.get(TAG_INVALID) == "true"}
    assert {Path(f).stem for f in stand_ins} == set(POISON), stand_ins
    for job in jobs.values():
        if job.tags.get(TAG_INVALID) == "true":
            assert "[limit]" in job.description, job.description


def test_exception_while_compiling_one_file_makes_it_a_stand_in(tmp_path, monkeypatch):
    from yaml2dag.compiler import job as job_module
    from yaml2dag.location import TAG_INVALID, build_definitions

    write(tmp_path, "poison.yaml", "name: Poison Flow\nsteps:\n  - {id: a, tool: shell, parameters: {command: x}}\n")
    write(tmp_path, "good.yaml", GOOD)
    original = job_module.compile_workflow

    def explode(workflow, *args, **kwargs):
        if workflow.name == "Poison Flow":
            raise RecursionError("maximum recursion depth exceeded")
        return original(workflow, *args, **kwargs)

    monkeypatch.setattr(job_module, "compile_workflow", explode)
    defs = build_definitions(tmp_path, strict=False)
    jobs = {job.name: job for job in defs.jobs}
    assert TAG_INVALID not in jobs["good_flow"].tags
    poison = jobs["poison_flow"]
    assert poison.tags[TAG_INVALID] == "true"
    assert "RecursionError" in poison.description and "[compile]" in poison.description
    defs.get_repository_def().get_all_jobs()  # the location as Dagster loads it
