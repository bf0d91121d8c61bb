"""Issue 15, points 3 and 4: a run's state at any moment (`status --at TIME`, `events --since/--until`)
and annotations (`annotate RUN TEXT`), on one real run with a retried step and an approval gate.

Real `python -m yaml2dag` subprocesses (forked from the CLI fork server, tests/cli_forkserver.py)
from a working directory holding a relative ``definitions`` folder and ``dagster_home`` (no
YAML2DAG_DEFINITIONS, no DAGSTER_HOME), and once with both settings given explicitly. The run is
annotated while it waits at its gate and again after it finished; the gate is approved through
the CLI."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import signal

import pytest

from cli_forkserver import start_cli
from conftest import CLI_TIMEOUT, make_dagster_home, run_cli, write
from paused_runs import paused_run_id
from waiting import wait_until

pytestmark = pytest.mark.slow

SECRET = "tok-annotated-s3cr3t-9931"

WORKFLOW = """
name: Replay Flow
parameters:
  api_token: {type: secret}
steps:
  - id: prep
    tool: shell
    parameters: {command: "echo prepared"}
  - id: flaky
    tool: shell
    retry: {max_attempts: 2, delay: 0.3}
    parameters: {command: "test -f flaky.marker || { touch flaky.marker; exit 3; }; echo recovered"}
  - id: gate
    tool: approval
    parameters: {message: "ship it?", timeout: 300, poll_interval: 0.2}
  - id: ship
    tool: shell
    parameters: {command: "echo shipped {{ api_token | length }}"}
"""

DROP = ("DAGSTER_HOME", "YAML2DAG_DEFINITIONS")
ENV = {"YAML2DAG_USER": "dana", "API_TOKEN": SECRET, "NO_COLOR": "1", "COLUMNS": "200"}


def _cli(base, *args: str, env: dict | None = None):
    return run_cli(*args, cwd=base, drop=DROP, env={**ENV, **(env or {})})


def _json(base, *args: str, code: int = 0):
    done = _cli(base, *args, "--format", "json")
    assert done.code == code, done.stdout + done.stderr
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The run, annotated while paused at its gate (by carol) and once finished (by the default
    user, dana); approved by boss through the CLI. Also read once here, for the tests that assert
    on them: its event log (`events`), its status while paused, at its start (`status --at +0s`)
    and at the end (`status`, both annotations made)."""
    base = tmp_path_factory.mktemp("moments")
    write(base / "definitions", "replay.yaml", WORKFLOW)
    home = make_dagster_home(base / "dagster_home")
    proc = start_cli("run", "Replay Flow", "--format", "json", cwd=base, drop=DROP, env=ENV)
    try:
        def paused_run():
            runs = _json(base, "history", "Replay Flow")["runs"]
            return runs[0]["run_id"] if runs and runs[0]["status"] == "paused" else None

        paused_run_id(home, proc, timeout=120)  # cheap in-process polls; then `history` says so too
        run_id = wait_until(paused_run, 120, 0.5, "the run to wait at its approval gate", process=proc)
        while_paused = _json(base, "annotate", run_id, f"waiting on ops; token {SECRET}", "--by", "carol")
        status_paused = _json(base, "status", run_id)
        approved = _cli(base, "approve", run_id, "--by", "boss", "-m", "ship")
        assert approved.code == 0, approved.stdout + approved.stderr
        done = proc.finish(CLI_TIMEOUT)
        assert done.code == 0, done.stdout + done.stderr
    finally:
        if proc.code is None:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.finish(60)  # reaped
    after = _json(base, "annotate", run_id[:8], "post-mortem: all fine")
    events = _json(base, "events", run_id)["events"]
    status_start = _json(base, "status", run_id, "--at", "+0s")
    status_final = _json(base, "status", run_id)
    return {"base": base, "home": home, "run_id": run_id, "while_paused": while_paused, "after": after,
            "status_paused": status_paused, "events": events, "status_start": status_start,
            "status_final": status_final}


def _at(world, approval: str | None = None, etype: str | None = None, step: str | None = None) -> str:
    """The timestamp (as `events` shows it) of the first event of a kind."""
    for row in world["events"]:
        meta = row.get("metadata") or {}
        if etype and row["type"] != etype:
            continue
        if step and row["step_key"] != step:
            continue
        if approval and meta.get("yaml2dag/approval") != approval:
            continue
        return row["timestamp"]
    raise AssertionError(f"no event {approval or etype} in {world['events']}")


def _status_at(world, at: str) -> dict:
    return _json(world["base"], "status", world["run_id"], "--at", at)


# --------------------------------------------------------------------------- status --at


def test_status_at_the_start_shows_nothing_done(world):
    data = world["status_start"]  # `status --at +0s`
    assert data["status"] == "running"
    assert data["step_statuses"] == {"prep": "not_run", "flaky": "not_run", "gate": "not_run", "ship": "not_run"}
    assert (data["attempts"], data["approvals"], data["annotations"], data["ended_at"]) == ({}, [], [], None)
    assert data["after_start_s"] == 0 and data["events_replayed"] < data["events_total"]


def test_status_at_the_first_failed_attempt(world):
    data = _status_at(world, _at(world, etype="STEP_UP_FOR_RETRY", step="flaky"))
    assert data["status"] == "running"
    assert data["step_statuses"] == {"prep": "succeeded", "flaky": "running", "gate": "not_run", "ship": "not_run"}
    assert data["attempts"] == {"prep": 1, "flaky": 1}
    assert data["current_step"] == "flaky"


def test_status_at_the_gate_waiting(world):
    data = _status_at(world, _at(world, approval="waiting"))
    assert data["status"] == "paused"
    assert data["step_statuses"] == {"prep": "succeeded", "flaky": "succeeded", "gate": "waiting", "ship": "not_run"}
    assert data["attempts"] == {"prep": 1, "flaky": 2, "gate": 1}
    assert [(g["step"], g["decisions"], g["resolved"]) for g in data["approvals"]] == [("gate", [], None)]
    assert [g["step"] for g in data["waiting"]] == ["gate"] and data["current_step"] == "gate"
    assert data["annotations"] == []  # carol wrote hers later
    text = _cli(world["base"], "status", world["run_id"], "--at", _at(world, approval="waiting"))
    assert text.code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert "paused" in lines[0] and lines[1].startswith("as of ")
    assert "flaky: succeeded (2 attempts)" in text.stdout and "gate: waiting" in text.stdout
    assert "ship: not_run" in text.stdout and "waiting for approval at gate" in text.stdout


def test_status_at_the_decision_shows_it_and_the_annotation_made_before(world):
    data = _status_at(world, _at(world, approval="decision"))
    assert data["status"] == "paused"  # decided, the gate's op has not resolved it yet
    (gate,) = data["approvals"]
    assert [(d["decision"], d["by"], d["comment"]) for d in gate["decisions"]] == [("approve", "boss", "ship")]
    assert gate["resolved"] is None and gate["approved_by"] == ["boss"]
    assert [(a["by"], a["text"]) for a in data["annotations"]] == [("carol", "waiting on ops; token ***")]
    assert data["step_statuses"]["ship"] == "not_run"


def test_status_at_the_end_is_the_final_status(world):
    data = _status_at(world, _at(world, etype="RUN_SUCCESS"))
    final = world["status_final"]  # `status`
    assert data["status"] == final["status"] == "completed"
    assert data["step_statuses"] == final["step_statuses"] == {
        "prep": "succeeded", "flaky": "succeeded", "gate": "succeeded", "ship": "succeeded"}
    assert data["attempts"] == final["attempts"] == {"prep": 1, "flaky": 2, "gate": 1, "ship": 1}
    assert data["approvals"] == final["approvals"] and data["approvals"][0]["resolved"]["decision"] == "approved"
    assert data["ended_at"] == final["ended_at"] and data["duration_s"] == final["duration_s"]
    assert data["waiting"] == [] and data["outputs"] == final["outputs"]
    # the annotation made after the end is not there yet; the current status has both
    assert [a["by"] for a in data["annotations"]] == ["carol"]
    assert [a["by"] for a in final["annotations"]] == ["carol", "dana"]


def test_status_at_with_explicit_settings_and_an_iso_time_with_offset(world):
    start = dt.datetime.fromisoformat(world["status_start"]["at"])  # `status --at +0s`
    later = (start + dt.timedelta(hours=2)).astimezone(dt.timezone(dt.timedelta(hours=2)))  # the same run, later
    done = run_cli("status", world["run_id"], "--at", later.isoformat(), "--format", "json", cwd=world["base"],
                   env={**ENV, "DAGSTER_HOME": str(world["home"]), "YAML2DAG_DEFINITIONS": "definitions"})
    assert done.code == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["status"] == "completed" and data["after_start_s"] == pytest.approx(7200, abs=0.002)


@pytest.mark.parametrize("at, expected", [
    ("2001-01-01T00:00:00Z", "before the run's start"),
    ("yesterday", "expected an ISO time"),
    ("+soon", "expected an ISO time"),
])
def test_status_at_errors_name_the_option(world, at, expected):
    done = _cli(world["base"], "status", world["run_id"], "--at", at)
    assert done.code == 2 and done.stdout == ""
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: --at: ") and expected in line and "Traceback" not in done.stderr
    data = _json(world["base"], "status", world["run_id"], "--at", at, code=2)
    assert data["error"].startswith("--at: ") and expected in data["error"]


def test_status_at_of_an_unknown_run(world):
    done = _cli(world["base"], "status", "0123456789ab", "--at", "+1s")
    assert done.code == 1 and "no run with id" in done.stderr and len(done.stderr.strip().splitlines()) == 1


# --------------------------------------------------------------------------- events --since/--until


def test_events_in_a_time_range(world):
    since, until = _at(world, approval="waiting"), _at(world, approval="decision")
    data = _json(world["base"], "events", world["run_id"], "--since", since, "--until", until)
    rows = data["events"]
    assert rows and data["total"] == len(rows)
    assert all(since <= r["timestamp"] <= until for r in rows)
    expected = [r["index"] for r in world["events"] if since <= r["timestamp"] <= until]
    assert [r["index"] for r in rows] == expected  # every event of the range, none outside
    kinds = [(r["metadata"] or {}).get("yaml2dag/approval") for r in rows if r["type"] == "ENGINE_EVENT"]
    assert kinds[0] == "waiting" and kinds[-1] == "decision"
    assert any((r.get("metadata") or {}).get("yaml2dag/annotation") for r in rows)  # carol's, in between
    # relative forms, combined with a type filter
    starts = _json(world["base"], "events", world["run_id"], "--since", "+0s", "--until", until, "--type", "STEP_START")
    assert [r["step_key"] for r in starts["events"]] == ["prep", "flaky", "gate"]
    assert _json(world["base"], "events", world["run_id"], "--since", "+1h")["total"] == 0


@pytest.mark.parametrize("args, option", [
    (("--since", "+5s", "--until", "+1s"), "--since"),
    (("--until", "noon"), "--until"),
    (("--since", "5m"), "--since"),
])
def test_events_time_range_errors(world, args, option):
    done = _cli(world["base"], "events", world["run_id"], *args)
    assert done.code == 2, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith(f"error: {option}: ")


# --------------------------------------------------------------------------- annotations


def test_annotate_answers_who_and_when(world):
    carol, dana = world["while_paused"], world["after"]
    assert (carol["run_id"], carol["by"], carol["text"]) == (world["run_id"], "carol", "waiting on ops; token ***")
    assert (dana["run_id"], dana["by"], dana["text"]) == (world["run_id"], "dana", "post-mortem: all fine")
    assert dt.datetime.fromisoformat(carol["at"]) <= dt.datetime.fromisoformat(dana["at"])
    assert [(a["by"], a["text"]) for a in world["status_paused"]["annotations"]] == [("carol", "waiting on ops; token ***")]


def test_annotations_in_status_events_and_audit(world):
    base, run_id = world["base"], world["run_id"]
    expected = [(world["while_paused"]["by"], world["while_paused"]["text"], world["while_paused"]["at"]),
                (world["after"]["by"], world["after"]["text"], world["after"]["at"])]
    status = world["status_final"]  # `status`
    assert [(a["by"], a["text"], a["at"]) for a in status["annotations"]] == expected
    text = _cli(base, "status", run_id).stdout
    assert "carol: waiting on ops; token ***" in text and "dana: post-mortem: all fine" in text

    rows = [r for r in _json(base, "events", run_id, "--type", "ENGINE_EVENT")["events"]
            if (r.get("metadata") or {}).get("yaml2dag/annotation")]
    assert [(r["metadata"]["by"], r["metadata"]["text"], r["metadata"]["at"]) for r in rows] == expected
    assert rows[0]["message"] == "annotation by carol: waiting on ops; token ***" and rows[0]["step_key"] is None
    assert "annotation by dana: post-mortem: all fine" in _cli(base, "events", run_id).stdout

    audit = _json(base, "audit", run_id)
    assert [(a["by"], a["text"], a["at"]) for a in audit["annotations"]] == expected
    table = list(csv.DictReader(io.StringIO(_cli(base, "audit", run_id, "--format", "csv").stdout)))
    notes = [(r["time"], r["detail"]) for r in table if r["section"] == "annotation"]
    assert notes == [(at, f"by {by}: {text}") for by, text, at in expected]
    assert "dana: post-mortem: all fine" in _cli(base, "audit", run_id).stdout


def test_an_annotation_is_an_event_of_the_run_in_dagster(world):
    """What the Dagster UI shows on the run's page: the run's event log, read through the instance."""
    from dagster import DagsterEventType, DagsterInstance

    instance = DagsterInstance.from_config(str(world["home"]))
    try:
        records = instance.all_logs(world["run_id"], of_type=DagsterEventType.ENGINE_EVENT)
    finally:
        instance.dispose()
    messages = [r.dagster_event.message for r in records]
    assert "annotation by carol: waiting on ops; token ***" in messages
    assert "annotation by dana: post-mortem: all fine" in messages


#: What the Dagster UI's run page asks the webserver for: the run's event log.
RUN_EVENTS = """query($runId: ID!) { logsForRun(runId: $runId) { __typename
  ... on EventConnection { events { __typename ... on MessageEvent { message }
    ... on EngineEvent { metadataEntries { label } } } } } }"""


def test_the_dagster_ui_shows_the_annotations(world, monkeypatch):
    """Through Dagster's GraphQL API, as the webserver serves the run page (a code location on the
    definitions folder)."""
    from dagster import DagsterInstance
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

    monkeypatch.setenv("YAML2DAG_DEFINITIONS", str(world["base"] / "definitions"))
    workspace = world["base"] / "workspace.yaml"
    workspace.write_text("load_from:\n  - python_module: yaml2dag.definitions\n")
    instance = DagsterInstance.from_config(str(world["home"]))
    try:
        with define_out_of_process_context(str(workspace), None, instance) as context:
            answer = execute_dagster_graphql(context, RUN_EVENTS, {"runId": world["run_id"]})
    finally:
        instance.dispose()
    assert answer.errors is None, answer.errors
    events = answer.data["logsForRun"]["events"]
    notes = [e for e in events if e["__typename"] == "EngineEvent" and e["message"].startswith("annotation by ")]
    assert [e["message"] for e in notes] == ["annotation by carol: waiting on ops; token ***",
                                              "annotation by dana: post-mortem: all fine"]
    assert all({"yaml2dag/annotation", "text", "by", "at"} <= {m["label"] for m in e["metadataEntries"]} for e in notes)


def test_the_secret_in_an_annotation_is_stored_nowhere(world):
    found = [str(path) for path in world["home"].rglob("*") if path.is_file() and SECRET.encode() in path.read_bytes()]
    assert found == []
    for args in (("status", world["run_id"]), ("events", world["run_id"]), ("audit", world["run_id"], "--format", "csv")):
        assert SECRET not in _cli(world["base"], *args).stdout


def test_annotate_errors(world):
    base = world["base"]
    unknown = _cli(base, "annotate", "0123456789ab", "note")
    assert unknown.code == 1 and len(unknown.stderr.strip().splitlines()) == 1 and "no run with id" in unknown.stderr
    assert "error" in _json(base, "annotate", "0123456789ab", "note", code=1)
    empty = _cli(base, "annotate", world["run_id"], "   ")
    assert empty.code == 2 and empty.stderr.startswith("error: TEXT: ") and len(empty.stderr.strip().splitlines()) == 1
    assert len(_json(base, "status", world["run_id"])["annotations"]) == 2  # nothing was added
