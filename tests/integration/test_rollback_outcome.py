"""Issue 15, point 1: a failed run whose ``compensate`` steps ran is ``rolled back`` (every
compensation succeeded) or ``rollback failed``, in `status`, `history` and `audit` (text, JSON
and CSV) and as the run tag ``yaml2dag/rollback`` that Dagster's run list shows and filters by.

Real `python -m yaml2dag` subprocesses from a working directory holding a relative
``definitions`` folder and ``dagster_home`` (no YAML2DAG_DEFINITIONS, no DAGSTER_HOME)."""

from __future__ import annotations

import json

import pytest

from conftest import make_dagster_home, run_cli, write

pytestmark = pytest.mark.slow

SAGA = """
name: {name}
steps:
  - id: reserve
    tool: shell
    parameters: {{command: "echo seat-42"}}
    compensate: {{tool: shell, parameters: {{command: "echo release {{{{ reserve.output }}}}"}}}}
  - id: charge
    tool: shell
    parameters: {{command: "echo charged"}}
    compensate: {{tool: shell, parameters: {{command: "{refund}"}}}}
  - id: ship
    tool: shell
    parameters: {{command: "echo no truck >&2; exit 9"}}
"""

DROP = ("DAGSTER_HOME", "YAML2DAG_DEFINITIONS")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    base = tmp_path_factory.mktemp("rollback")
    write(base / "definitions", "saga_ok.yaml", SAGA.format(name="Saga OK", refund="echo refunded"))
    write(base / "definitions", "saga_bad.yaml", SAGA.format(name="Saga Bad", refund="echo refund refused >&2; exit 5"))
    write(base / "definitions", "plain.yaml", "name: Plain Fail\nsteps:\n  - id: boom\n    tool: shell\n"
                                              "    parameters: {command: \"exit 3\"}\n")
    home = make_dagster_home(base / "dagster_home")
    ids = {}
    for name in ("Saga OK", "Saga Bad", "Plain Fail"):
        done = run_cli("run", name, "--format", "json", cwd=base, drop=DROP)
        assert done.code == 1, done.stdout + done.stderr
        data = json.loads(done.stdout)
        assert data["status"] == "FAILURE"
        ids[name] = data["run_id"]
    return {"base": base, "home": home, "ids": ids}


def cli(world, *args: str):
    done = run_cli(*args, cwd=world["base"], drop=DROP)
    assert done.code == 0, done.stdout + done.stderr
    return done.stdout


@pytest.mark.parametrize("name, outcome", [("Saga OK", "rolled back"), ("Saga Bad", "rollback failed"),
                                           ("Plain Fail", None)])
def test_status_history_and_audit_show_the_rollback(world, name, outcome):
    run_id = world["ids"][name]
    status = json.loads(cli(world, "status", run_id, "--format", "json"))
    assert (status["status"], status["rollback"]) == ("failed", outcome)
    text = cli(world, "status", run_id)
    first = text.splitlines()[0]
    if outcome:
        assert f"failed ({outcome})" in first, text
    else:
        assert "rolled back" not in text and "rollback failed" not in text, text

    history = json.loads(cli(world, "history", name, "--format", "json"))
    assert [(r["run_id"], r["status"], r["rollback"]) for r in history["runs"]] == [(run_id, "failed", outcome)]
    listed = run_cli("history", name, cwd=world["base"], drop=DROP, env={"COLUMNS": "160"}).stdout
    assert (f"failed ({outcome})" in listed) if outcome else ("failed" in listed and "roll" not in listed), listed

    audit = json.loads(cli(world, "audit", run_id, "--format", "json"))
    assert audit["rollback"] == outcome
    assert audit["tags"].get("yaml2dag/rollback") == outcome
    audit_text = cli(world, "audit", run_id)
    assert (f"failed ({outcome})" in audit_text.splitlines()[0]) if outcome else "roll" not in audit_text, audit_text
    csv_text = cli(world, "audit", run_id, "--format", "csv")
    run_row = next(line for line in csv_text.splitlines() if line.startswith(f"{run_id},run,"))
    assert (f"failed ({outcome})" in run_row) if outcome else ",failed," in run_row, run_row


def test_the_outcome_is_a_run_tag_dagster_filters_by(world):
    from dagster import DagsterInstance, RunsFilter

    instance = DagsterInstance.from_config(str(world["home"]))
    try:
        tags = {name: instance.get_run_by_id(rid).tags.get("yaml2dag/rollback") for name, rid in world["ids"].items()}
        assert tags == {"Saga OK": "rolled back", "Saga Bad": "rollback failed", "Plain Fail": None}
        # what the UI's run list does when filtered by the tag
        rolled = instance.get_runs(RunsFilter(tags={"yaml2dag/rollback": "rolled back"}))
        failed = instance.get_runs(RunsFilter(tags={"yaml2dag/rollback": "rollback failed"}))
        assert [r.run_id for r in rolled] == [world["ids"]["Saga OK"]]
        assert [r.run_id for r in failed] == [world["ids"]["Saga Bad"]]
    finally:
        instance.dispose()


def test_the_compensations_ran_as_recorded(world):
    handlers = json.loads(cli(world, "status", world["ids"]["Saga Bad"], "--format", "json"))["handlers"]
    assert [(h["kind"], h["step"], h["status"]) for h in handlers] == [
        ("compensate", "charge", "failed"), ("compensate", "reserve", "succeeded")]
