"""`yaml2dag run` as a real subprocess: the JSON contract, exit codes and live progress."""

from __future__ import annotations

import json

import pytest

from conftest import make_dagster_home, run_cli, write

pytestmark = pytest.mark.slow

WORKFLOW = """
name: CLI Contract
parameters:
  fail: false
  retries: {type: integer, default: 1, minimum: 0}
steps:
  - id: first
    name: "First Step"
    tool: shell
    parameters: {command: "echo one"}
  - id: maybe
    when: "{{ fail }}"
    tool: shell
    parameters: {command: "echo skipped unless fail"}
  - id: soft
    on_error: continue
    tool: shell
    parameters: {command: "exit 3"}
  - id: hard
    tool: shell
    parameters: {command: "if [ {{ fail }} = true ]; then echo boom >&2; exit 4; fi; echo fine"}
  - id: last
    tool: shell
    parameters: {command: "echo last"}
outputs:
  first: "{{ first.output }}"
  retries: "{{ retries }}"
  soft_failed: "{{ not soft.succeeded }}"
"""


@pytest.fixture
def env(tmp_path):
    folder = tmp_path / "definitions"
    write(folder, "contract.yaml", WORKFLOW)
    home = make_dagster_home(tmp_path / "home")
    return {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(home)}


def test_json_contract_on_success(env):
    done = run_cli("run", "cli contract", "retries=3", "--format", "json", env=env)
    assert done.code == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"run_id", "workflow", "status", "steps", "outputs", "duration_s"}
    assert data["workflow"] == "CLI Contract" and data["status"] == "SUCCESS"
    assert data["steps"] == {"first": "succeeded", "maybe": "skipped", "soft": "continued",
                             "hard": "succeeded", "last": "succeeded"}
    assert data["outputs"] == {"first": "one", "retries": 3, "soft_failed": True}
    assert isinstance(data["duration_s"], float) and data["duration_s"] > 0
    assert len(data["run_id"]) == 36


def test_json_contract_on_failure_exits_1(env):
    done = run_cli("run", "cli_contract", "fail=true", "--format", "json", env=env)
    assert done.code == 1
    data = json.loads(done.stdout)
    assert data["status"] == "FAILURE"
    assert data["steps"] == {"first": "succeeded", "maybe": "succeeded", "soft": "continued",
                             "hard": "failed", "last": "not_run"}


def test_exit_2_when_nothing_ran(env, tmp_path):
    bad_param = run_cli("run", "CLI Contract", "retries=-1", env=env)
    assert bad_param.code == 2 and "parameter `retries`" in bad_param.stderr
    unknown = run_cli("run", "CLI Contrct", env=env)
    assert unknown.code == 2 and "did you mean `CLI Contract`" in unknown.stderr
    broken = write(tmp_path, "broken.yaml", "name: B\nsteps:\n  - {id: x, tool: nope}\n")
    invalid = run_cli("run", str(broken), "--format", "json", env=env)
    assert invalid.code == 2
    assert json.loads(invalid.stdout)["errors"][0]["line"] == 3


def test_text_mode_shows_live_progress_and_a_final_line(env):
    done = run_cli("run", "CLI Contract", env=env)
    assert done.code == 0, done.stderr
    out = done.stdout
    assert "✓ Step 1/5: First Step" in out
    assert "⊘ Step 2/5: maybe skipped: its condition is false" in out
    assert "! Step 3/5: soft failed, continuing" in out
    assert "CLI Contract succeeded in" in out
    assert "first: one" in out


def test_run_by_file_path_lands_in_the_instance(env, tmp_path):
    done = run_cli("run", str(tmp_path / "definitions" / "contract.yaml"), "--format", "json", env=env)
    data = json.loads(done.stdout)
    status = run_cli("status", data["run_id"], "--format", "json", env=env)
    info = json.loads(status.stdout)
    assert info["status"] == "completed"
    assert info["step_statuses"]["soft"] == "continued"
    assert info["outputs"]["first"] == "one"
