"""Issue 10, point 2: a file that used to crash validation never takes the other workflows down.

A definitions folder holds every poison input of issue 10 and one good workflow. From that
folder, with the defaults a user has (relative ``definitions``, no ``YAML2DAG_*`` variables,
a temporary DAGSTER_HOME): ``yaml2dag run`` of the good workflow runs it, and the Dagster code
location loads (``dagster definitions validate -m yaml2dag.definitions``) with one stand-in
"invalid workflow" job per poison file. An exception while compiling one file (a bug) makes
that file a stand-in job too. Each poison input alone, through ``validate`` (text and JSON),
``list``, ``show`` and ``run --dry-run``, and non-finite or repeated parameter values on the
command line: a located problem or a one-line error, never a traceback.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CLI_TIMEOUT, Completed, make_dagster_home, run_process, write

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_input_limits import GOOD, LINE, POISON  # noqa: E402

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


# --------------------------------------------------------------------------- the CLI on poison inputs (from tests/unit/test_input_limits.py)


def _user_env(tmp_path: Path) -> dict:
    """A user's environment: a temporary DAGSTER_HOME and no YAML2DAG_* variables (the folder is
    the relative ``definitions``)."""
    home = tmp_path / "home"
    if not home.exists():
        make_dagster_home(home)
    return {"DAGSTER_HOME": str(home)}


def _cli(tmp_path: Path, *args: str) -> Completed:
    """``yaml2dag ARGS`` as a real subprocess in ``tmp_path`` (its own process group, killed
    after, bounded by CLI_TIMEOUT), with the environment a user has: no ``YAML2DAG_*``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YAML2DAG_")}
    env.update(_user_env(tmp_path))
    env.setdefault("NO_COLOR", "1")
    argv = [str(Path(sys.executable).parent / "yaml2dag"), *args]
    proc = subprocess.Popen(argv, cwd=tmp_path, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=CLI_TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{argv} did not finish within {CLI_TIMEOUT}s\nstdout:\n{out}\nstderr:\n{err}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return Completed(proc.returncode, out, err)


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(POISON))
def test_listed_input_cli_text_and_json(tmp_path, case):
    text, rule, line = POISON[case]
    write(tmp_path / "definitions", "poison.yaml", text)
    done = _cli(tmp_path, "validate", "definitions/poison.yaml")
    assert done.code == 1, done
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    lines = [m for m in map(LINE.match, done.stdout.splitlines()) if m]
    assert any(m["rule"] == rule and int(m["line"]) == line for m in lines), done.stdout
    done = _cli(tmp_path, "validate", "--format", "json", "definitions/poison.yaml")
    assert done.code == 1, done
    data = json.loads(done.stdout)
    assert data["valid"] is False
    assert any(e["rule"] == rule and e["line"] == line and e["column"] >= 1 for e in data["errors"]), data


@pytest.mark.slow
@pytest.mark.parametrize("case", sorted(POISON))
def test_poison_file_does_not_take_list_validate_show_down(tmp_path, case):
    """One poison file and one good file in the default (relative) definitions folder."""
    write(tmp_path / "definitions", "poison.yaml", POISON[case][0])
    write(tmp_path / "definitions", "good.yaml", GOOD)
    listed = _cli(tmp_path, "list", "--format", "json")
    assert "Traceback" not in listed.stderr, listed.stderr
    assert listed.code == 0, listed
    assert "Good Flow" in listed.stdout
    done = _cli(tmp_path, "validate", "--format", "json")
    assert done.code == 1, done
    data = json.loads(done.stdout)
    by_file = {Path(w["file"]).name: w for w in data["workflows"]}
    assert by_file["good.yaml"]["valid"] is True and by_file["poison.yaml"]["valid"] is False, data
    shown = _cli(tmp_path, "show", "Good Flow")
    assert shown.code == 0 and "Traceback" not in shown.stderr, shown
    dry = _cli(tmp_path, "run", "Good Flow", "--dry-run")
    assert dry.code == 0 and "Traceback" not in dry.stderr, dry


PARAMS = """
name: Params Flow
parameters:
  x: {type: number, default: 1.5}
  req: {type: string}
steps:
  - id: a
    tool: shell
    parameters: {command: "echo {{ x }} {{ req }}"}
"""


@pytest.mark.slow
@pytest.mark.parametrize("args,needle", [
    (["x=inf", "req=r"], "parameter `x`"),
    (["x=nan", "req=r"], "parameter `x`"),
    (["x=-inf", "req=r"], "parameter `x`"),
    (["req=r", "req=s"], "parameter `req`"),
])
def test_cli_refuses_bad_parameter_values(tmp_path, args, needle):
    write(tmp_path / "definitions", "params.yaml", PARAMS)
    done = _cli(tmp_path, "run", "Params Flow", *args, "--dry-run")
    assert done.code == 2, done
    assert needle in done.stderr + done.stdout and "Traceback" not in done.stderr, done
    ok = _cli(tmp_path, "run", "Params Flow", "x=2.5", "req=r", "--dry-run")
    assert ok.code == 0, ok
