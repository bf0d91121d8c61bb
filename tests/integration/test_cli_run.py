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
    assert set(data) == {"run_id", "workflow", "status", "steps", "outputs", "duration_s", "error_message",
                         "failed_step"}
    assert data["error_message"] is None and data["failed_step"] is None
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
    # why, as `yaml2dag status` says it: the step that failed the run and its error
    assert data["failed_step"] == "hard", data
    assert "boom" in data["error_message"] and "4" in data["error_message"], data


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


def test_usage_errors_under_format_json_are_the_documented_json_error(env, tmp_path):
    for args, phrase in ((("--format", "json"), "Missing argument 'WORKFLOW'"),
                         (("CLI Contract", "--bogus", "--format=json"), "No such option '--bogus'"),
                         (("CLI Contract", "--param-file", str(tmp_path / "none.yaml"), "--format", "json"),
                          "does not exist")):
        done = run_cli("run", *args, env=env)
        assert done.code == 2, done.stdout + done.stderr
        data = json.loads(done.stdout)
        assert set(data) == {"error", "errors"} and data["errors"] == []
        assert phrase in data["error"]
    text = run_cli("run", "--bogus", env=env)
    assert text.code == 2 and text.stdout == "" and "No such option '--bogus'" in text.stderr


def test_dry_run_numbers_the_steps_it_counts_and_marks_decision_points(tmp_path):
    folder = tmp_path / "definitions"
    write(folder, "decide.yaml", """
        name: Decide
        parameters: {stage: dev}
        steps:
          - {id: build, tool: shell, parameters: {command: "echo b"}}
          - id: choose
            if: "{{ stage == 'prod' }}"
            then:
              - {id: deploy, tool: shell, parameters: {command: "echo d"}}
            else:
              - {id: preview, tool: shell, parameters: {command: "echo p"}}
          - id: route
            switch: "{{ stage }}"
            cases:
              dev: [{id: to_dev, tool: shell, parameters: {command: "echo dev"}}]
          - {id: report, tool: shell, parameters: {command: "echo r"}}
    """)
    env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(make_dagster_home(tmp_path / "home"))}
    done = run_cli("run", "Decide", "--dry-run", env=env)
    assert done.code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "5 step(s) and 2 decision point(s)" in lines[1]
    listed = [line.split()[:2] for line in lines if line[:4].strip().rstrip(".").isdigit() or line.startswith("  ◆")]
    assert listed == [["1.", "build"], ["◆", "choose"], ["2.", "deploy"], ["3.", "preview"], ["◆", "route"],
                      ["4.", "to_dev"], ["5.", "report"]]
