"""Issue #6, run observability: history, events, logs, audit, stats, retry, cancel and the last
run in `list`, as real `python -m yaml2dag` subprocesses against one temporary Dagster instance
populated by real runs: successes, a retried step, a skipped step, a continued failure, a failed
run with an on_failure handler, a long run that is canceled.

The CLI calls go through :mod:`cli_forkserver` (real subprocesses forked from one interpreter
that has imported Dagster already, so each call does not pay that import again); the long run
that is canceled is a plain `python -m yaml2dag` subprocess."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from cli_forkserver import run_cli
from conftest import CLI_TIMEOUT, REPO, make_dagster_home, write
from waiting import wait_until

pytestmark = pytest.mark.slow

OBSERVED = """
name: Observed Flow
version: "3.0.0"
parameters:
  who: {type: string, default: world}
  db_password: {type: string, default: "hunter22-not-for-logs"}
  api_token: {type: secret}
steps:
  - id: hello
    tool: shell
    parameters: {command: "echo hello {{ who }}; echo oops >&2"}
  - id: flaky
    tool: shell
    retry: {max_attempts: 2, delay: 0.1}
    parameters: {command: "test -f {marker} || { touch {marker}; exit 3; }; echo recovered"}
  - id: maybe
    when: "{{ who == 'nobody' }}"
    tool: shell
    parameters: {command: "echo never"}
  - id: soft
    on_error: continue
    tool: shell
    parameters: {command: "echo soft failing; exit 2"}
  - id: py
    tool: python
    parameters: {callable: "builtins:print", args: ["printed from python"]}
outputs:
  greeting: "{{ hello.output }}"
"""

FAILING = """
name: Failing Flow
steps:
  - id: prep
    tool: shell
    parameters: {command: "echo prepared-$$"}
  - id: breaks
    tool: shell
    parameters: {command: "test -f {marker} && echo fixed-{{ prep.output }}"}
  - id: after
    tool: shell
    parameters: {command: "echo after {{ breaks.output }}"}
on_failure:
  - id: alert
    tool: notify
    action: log
    parameters: {message: "failed at {{ failed_step }}"}
"""

GATED = """
name: Gated Flow
steps:
  - id: gate
    tool: approval
    parameters: {message: "ship it?", timeout: 60, poll_interval: 0.2}
  - id: ship
    tool: shell
    parameters: {command: "echo shipped"}
"""

TRIGGERED = """
name: Triggered Flow
steps:
  - id: hi
    tool: shell
    parameters: {command: "echo hi"}
"""

#: A workspace for Dagster's GraphQL layer (what the webserver serves) on the definitions folder.
WORKSPACE = "load_from:\n  - python_module: yaml2dag.definitions\n"
#: The launchpad's mutation.
LAUNCH = """mutation($p: ExecutionParams!) { launchPipelineExecution(executionParams: $p) {
  __typename ... on LaunchRunSuccess { run { runId } } ... on PythonError { message } } }"""

LONG = """
name: Long Flow
triggers:
  - type: schedule
    cron: "0 3 * * *"
steps:
  - id: first
    tool: shell
    parameters: {command: "echo start"}
  - id: nap
    tool: shell
    parameters: {command: "sleep 120; echo {token}"}
  - id: after
    tool: shell
    parameters: {command: "echo after"}
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """Definitions, a Dagster home and the runs every test reads (made once)."""
    from dagster import DagsterInstance

    base = tmp_path_factory.mktemp("observe")
    defs, home = base / "defs", make_dagster_home(base / "dagster_home")
    flaky_marker, fix_marker = base / "flaky.marker", base / "fixed.marker"
    token = f"nap-token-{os.getpid()}-{int(time.time())}"
    write(defs, "observed.yaml", OBSERVED.replace("{marker}", str(flaky_marker)))
    write(defs, "failing.yaml", FAILING.replace("{marker}", str(fix_marker)))
    write(defs, "long.yaml", LONG.replace("{token}", token))
    write(defs, "gated.yaml", GATED)
    write(defs, "triggered.yaml", TRIGGERED)
    # runs launched like the webserver does start at once (no daemon to dequeue them here)
    with open(home / "dagster.yaml", "a") as fh:
        fh.write("run_coordinator:\n  module: dagster._core.run_coordinator\n  class: DefaultRunCoordinator\n")
    env = {"YAML2DAG_DEFINITIONS": str(defs), "DAGSTER_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "160",
           "YAML2DAG_USER": "auditor", "API_TOKEN": "s3cr3t-token-value"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        from yaml2dag.runs.runner import run_workflow
        from yaml2dag.format.validation import validate_file

        instance = DagsterInstance.get()
        try:
            observed = validate_file(defs / "observed.yaml")
            first = run_workflow(observed.validated(), {"who": "you"}, instance=instance)    # flaky retried once
            second = run_workflow(observed.validated(), {}, instance=instance)              # flaky passes at once
            failed = run_workflow(validate_file(defs / "failing.yaml").validated(), {}, instance=instance)
            paused: dict = {}
            gated = _run_and_approve(instance, validate_file(defs / "gated.yaml"), home, env, paused)
            triggered = _runs_of_every_trigger(instance, base, defs, env)
        finally:
            instance.dispose()
    assert (first.status, second.status, failed.status, gated.status) == ("SUCCESS", "SUCCESS", "FAILURE", "SUCCESS")
    return {"defs": defs, "home": home, "env": env, "first": first.run_id, "second": second.run_id,
            "failed": failed.run_id, "gated": gated.run_id, "fix_marker": fix_marker, "token": token,
            "paused": paused, "triggered": triggered}


def _runs_of_every_trigger(instance, base, defs, env) -> dict[str, str]:
    """Runs of `Triggered Flow` started the other ways Dagster starts runs, each real:
    `dagster job execute`, runs carrying the tags Dagster's schedules and sensors set, a run
    launched through Dagster's GraphQL API (the webserver's launchpad mutation, on a code server
    for the definitions folder), and last a run that is being canceled (CANCELING)."""
    from dagster import execute_job
    from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql, infer_job_selector

    from yaml2dag.compiler import reconstructable_job

    from conftest import run_process

    def newest() -> str:
        return instance.get_run_records(limit=1)[0].dagster_run.run_id

    ids: dict[str, str] = {}
    done = run_process([sys.executable, "-m", "dagster", "job", "execute", "-m", "yaml2dag.definitions",
                        "-j", "triggered_flow"], env=env, cwd=base)
    assert done.code == 0, done.stdout + done.stderr
    ids["manual"] = newest()
    recon = reconstructable_job(str(defs / "triggered.yaml"), str(defs))
    for kind, tags in (("schedule", {"dagster/schedule_name": "triggered_every_hour"}),
                       ("sensor", {"dagster/sensor_name": "triggered_on_file"})):
        result = execute_job(recon, instance, tags=tags)
        assert result.success
        ids[kind] = result.run_id
    workspace = base / "workspace.yaml"
    workspace.write_text(WORKSPACE)
    with define_out_of_process_context(str(workspace), None, instance) as context:
        answer = execute_dagster_graphql(context, LAUNCH, {"p": {"selector": infer_job_selector(context, "triggered_flow"),
                                                                 "runConfigData": {}}})
        launched = answer.data["launchPipelineExecution"]
        assert launched["__typename"] == "LaunchRunSuccess", answer
        ids["ui"] = launched["run"]["runId"]
        wait_until(lambda: instance.get_run_by_id(ids["ui"]).is_finished, 120, 0.3, "the run launched from the UI to finish")
    assert instance.get_run_by_id(ids["ui"]).status.value == "SUCCESS"
    # a run whose cancel is under way: Dagster's CANCELING, which `yaml2dag cancel` sets for runs
    # that another machine executes until they stop
    run = instance.create_run_for_job(recon.get_definition(), run_config={}, tags={"yaml2dag/trigger": "cli"})
    instance.report_run_canceling(run, message="cancel requested by test")
    ids["canceling"] = run.run_id
    return ids


def _run_and_approve(instance, report, home, env, paused: dict):
    """Run a workflow with an approval gate on a thread; approve it from here when it waits.
    While it waits, ``paused`` gets what `list` (both of its paths) and `history` say of it."""
    import threading

    from dagster import DagsterRunStatus, RunsFilter

    from yaml2dag.runs.approvals import gates, record_decision
    from yaml2dag.runs.runner import run_workflow

    box: dict = {}
    thread = threading.Thread(target=lambda: box.update(result=run_workflow(report.validated(), {}, instance=instance)), daemon=True)
    thread.start()

    def waiting_run():
        runs = instance.get_runs(RunsFilter(job_name="gated_flow", statuses=[DagsterRunStatus.STARTED]), limit=1)
        return runs[0] if runs and any(g.waiting for g in gates(instance, runs[0].run_id)) else None

    run = wait_until(waiting_run, 60, 0.2, "the approval gate to wait")
    from yaml2dag.runs.history.fast_path import last_runs_sqlite
    from yaml2dag.runs.history.queries import last_runs

    paused.update(run_id=run.run_id, fast=last_runs_sqlite(home, ["gated_flow"]),
                  slow=last_runs(instance, ["gated_flow"]),
                  listed=json.loads(run_cli("list", "--format", "json", env=env).stdout),
                  history=json.loads(run_cli("history", "Gated Flow", "--format", "json", env=env).stdout))
    record_decision(instance, run.run_id, "approve", by="boss", comment="looks good")
    thread.join(timeout=60)
    assert "result" in box, "the run did not end after its approval"
    return box["result"]


def cli(world, *args: str, timeout: float = CLI_TIMEOUT):
    return run_cli(*args, env=world["env"], timeout=timeout)


def cli_json(world, *args: str, code: int = 0):
    done = cli(world, *args, "--format", "json")
    assert done.code == code, done.stdout + done.stderr
    return json.loads(done.stdout)


# --------------------------------------------------------------------------- history


def test_history_json_shape_and_filters(world):
    data = cli_json(world, "history", "Observed Flow")
    assert (data["workflow"], data["job"]) == ("Observed Flow", "observed_flow")
    assert [r["run_id"] for r in data["runs"]] == [world["second"], world["first"]]  # newest first
    row = data["runs"][1]
    assert set(row) == {"run_id", "workflow", "job", "status", "canceling", "dagster_status", "trigger", "version",
                        "created_at", "started_at", "ended_at", "duration_s", "parent_run_id", "root_run_id", "user", "rollback"}
    assert (row["status"], row["trigger"], row["version"], row["user"]) == ("completed", "cli", "3.0.0", "auditor")
    assert row["duration_s"] > 0 and row["started_at"] <= row["ended_at"]
    assert [r["run_id"] for r in cli_json(world, "history", "observed_flow", "--limit", "1")["runs"]] == [world["second"]]
    failed = cli_json(world, "history", "Failing Flow", "--status", "failed")
    assert [r["run_id"] for r in failed["runs"]] == [world["failed"]]
    assert cli_json(world, "history", "Failing Flow", "--status", "completed")["runs"] == []
    text = cli(world, "history", "Observed Flow")
    assert text.code == 0 and world["first"] in text.stdout and "completed" in text.stdout
    assert cli(world, "history", "Observed Flow", "--status", "sideways").code == 2


def test_history_reads_well_at_80_columns(world):
    narrow = run_cli("history", "Observed Flow", env={**world["env"], "COLUMNS": "80"})
    assert narrow.code == 0, narrow.stderr
    lines = narrow.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), narrow.stdout
    assert lines[1].split() == ["Run", "Status", "Trigger", "Version", "Started", "(UTC)", "Duration"]
    rows = lines[2:]
    assert len(rows) == 2, narrow.stdout  # one line a run: nothing wraps
    short = world["second"][:8]
    assert rows[0].split()[:3] == [short, "completed", "cli"] and world["second"] not in narrow.stdout
    assert re.search(r" \d{4}-\d\d-\d\d \d\d:\d\d  ", rows[0]), rows[0]
    # the short id is enough for the commands that take a run id
    assert cli_json(world, "status", short)["run_id"] == world["second"]
    assert cli_json(world, "events", short, "--type", "RUN_SUCCESS")["run_id"] == world["second"]
    wide = cli(world, "history", "Observed Flow")  # 160 columns: the full ids
    assert world["second"] in wide.stdout and len(wide.stdout.splitlines()) == 4


#: Any SGR escape, and one that sets a colour (foreground 30-39/90-97, 256/true colour 38;...).
ANSI = re.compile(r"\x1b\[[0-9;]*m")
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-9]|9[0-7])(?:;[0-9;]*)?m")


def test_colours_degrade_on_a_dumb_terminal_and_with_no_color(world):
    def styled(*args: str, **env: str) -> str:
        done = run_cli(*args, env={**world["env"], "COLUMNS": "120", **env})
        assert done.code == 0, done.stderr
        return done.stdout

    forced = {"TERM": "xterm-256color", "FORCE_COLOR": "1", "NO_COLOR": ""}
    for args in (("list",), ("history", "Observed Flow"), ("status", world["failed"])):
        assert COLOUR.search(styled(*args, **forced)), args  # a colour terminal gets colours...
        dumb = styled(*args, **{**forced, "TERM": "dumb"})
        assert dumb.strip() and not ANSI.search(dumb), args  # ...a dumb one none
    no_color = styled("history", "Observed Flow", **{**forced, "NO_COLOR": "1"})
    assert "completed" in no_color and not COLOUR.search(no_color)
    piped = styled("history", "Observed Flow", TERM="xterm-256color", FORCE_COLOR="", NO_COLOR="")
    assert "completed" in piped and not ANSI.search(piped)


def test_observe_errors_are_json_with_format_json(world, tmp_path):
    cases = [
        (("history", "Observed Flow", "--limit", "0"), 2, "--limit"),
        (("history", "Observed Flow", "--since", "soon"), 2, "--since"),
        (("events", world["first"], "--offset", "-1"), 2, "--offset"),
        (("logs",), 2, "Missing argument 'RUN_ID'"),
        (("logs", "no-such-run"), 1, "no run with id"),
        (("status", "--bogus", world["first"]), 2, "No such option"),
        (("stats", "--since", "soon"), 2, "--since"),
        (("retry", world["failed"], "--from-failure", "--all"), 2, "choose one"),
        (("cancel", world["first"], "--wait", "-1"), 2, "--wait"),
    ]
    for args, code, message in cases:
        done = cli(world, *args, "--format", "json")
        assert done.code == code, (args, done.stdout, done.stderr)
        assert message in json.loads(done.stdout)["error"], (args, done.stdout)
    text = cli(world, "history", "Observed Flow", "--limit", "0")
    assert text.code == 2 and "--limit" in text.stderr and not text.stdout


# --------------------------------------------------------------------------- triggers


def test_history_and_audit_name_every_kind_of_trigger(world):
    ids = world["triggered"]
    runs = {r["run_id"]: r for r in cli_json(world, "history", "Triggered Flow")["runs"]}
    assert {kind: runs[run_id]["trigger"] for kind, run_id in ids.items()} == {
        "manual": "manual", "schedule": "schedule", "sensor": "sensor", "ui": "ui", "canceling": "cli"}
    assert all(runs[ids[kind]]["status"] == "completed" for kind in ("manual", "schedule", "sensor", "ui"))
    by = cli_json(world, "audit", ids["schedule"])["started_by"]
    assert (by["trigger"], by["schedule"], by["sensor"]) == ("schedule", "triggered_every_hour", None)
    by = cli_json(world, "audit", ids["sensor"])["started_by"]
    assert (by["trigger"], by["schedule"], by["sensor"]) == ("sensor", None, "triggered_on_file")
    assert cli_json(world, "audit", ids["ui"])["started_by"]["trigger"] == "ui"
    assert cli_json(world, "audit", ids["manual"])["started_by"]["trigger"] == "manual"
    rows = list(csv.DictReader(io.StringIO(cli(world, "audit", ids["ui"], "--format", "csv").stdout)))
    assert {"trigger=ui"} <= {r["detail"] for r in rows if r["section"] == "started_by"}


def test_a_canceling_run_is_running_until_it_stops(world):
    run_id = world["triggered"]["canceling"]
    info = cli_json(world, "status", run_id)
    assert (info["status"], info["canceling"], info["dagster_status"]) == ("running", True, "CANCELING")
    assert cli_json(world, "status", world["first"])["canceling"] is False
    assert "running (canceling)" in cli(world, "status", run_id).stdout
    running = cli_json(world, "history", "Triggered Flow", "--status", "running")["runs"]
    assert [(r["run_id"], r["canceling"]) for r in running] == [(run_id, True)]
    assert cli_json(world, "history", "Triggered Flow", "--status", "canceled")["runs"] == []
    (flow,) = cli_json(world, "stats", "Triggered Flow", "--since", "all")["workflows"]
    assert (flow["canceled"], flow["in_progress"], flow["completed"]) == (0, 1, 4)


# --------------------------------------------------------------------------- events and logs


def test_events_rejects_unknown_types_and_lists_the_valid_ones(world):
    bad = cli(world, "events", world["first"], "--type", "STEP_FAILURE,BOGUS", "--format", "json")
    assert bad.code == 2, bad.stdout + bad.stderr
    error = json.loads(bad.stdout)["error"]
    assert "unknown event type BOGUS" in error
    assert all(name in error for name in ("STEP_FAILURE", "RUN_START", "ENGINE_EVENT", "LOG"))
    text = cli(world, "events", world["first"], "--type", "bogus")
    assert text.code == 2 and "unknown event type BOGUS" in text.stderr and not text.stdout
    # case-insensitive, and Dagster's legacy names of run events still select them
    assert cli_json(world, "events", world["first"], "--type", "pipeline_start")["total"] == 1
    assert cli_json(world, "events", world["first"], "--type", "run_success,log")["total"] > 1

# --------------------------------------------------------------------------- events and logs


def test_events_filters_and_paging(world):
    run_id = world["first"]
    retries = cli_json(world, "events", run_id, "--type", "STEP_UP_FOR_RETRY")
    assert retries["total"] == 1
    (event,) = retries["events"]
    assert event["step"] == "flaky" and "attempt 1/2 failed: command exited with code 3" in event["error"]
    skipped = cli_json(world, "events", run_id, "--type", "step_skipped,STEP_FAILURE")
    assert [(e["type"], e["step"]) for e in skipped["events"]] == [("STEP_SKIPPED", "maybe")]
    soft = cli_json(world, "events", run_id, "--step", "soft")
    assert soft["total"] > 0 and {e["step"] for e in soft["events"]} == {"soft"}
    everything = cli_json(world, "events", run_id)
    page = cli_json(world, "events", run_id, "--limit", "3", "--offset", "2")
    assert page["total"] == everything["total"] and len(page["events"]) == 3
    assert page["events"] == everything["events"][2:5]
    assert [e["index"] for e in everything["events"]] == list(range(everything["total"]))
    types = [e["type"] for e in everything["events"]]
    assert types[0] == "RUN_START" and types[-1] == "RUN_SUCCESS"
    assert set(everything["events"][0]) >= {"index", "timestamp", "type", "level", "step_key", "step", "message"}
    missing = cli(world, "events", "no-such-run", "--format", "json")
    assert missing.code == 1 and "no run with id" in json.loads(missing.stdout)["error"]


def test_logs_are_the_steps_output(world):
    data = cli_json(world, "logs", world["first"])
    lines = [(l["step"], l["stream"], l["text"]) for l in data["lines"]]
    assert ("hello", "stdout", "hello you") in lines and ("hello", "stderr", "oops") in lines
    assert ("flaky", "stdout", "recovered") in lines and ("py", "stdout", "printed from python") in lines
    assert ("soft", "stdout", "soft failing") in lines
    assert any(step == "soft" and stream == "log" and "continuing" in text for step, stream, text in lines)
    only = cli_json(world, "logs", world["first"], "--step", "hello", "--output-only")
    # stdout and stderr are two pipes read side by side: the order between them is not defined
    assert sorted((l["stream"], l["text"]) for l in only["lines"]) == [("stderr", "oops"), ("stdout", "hello you")]
    assert data["compute_logs"] and data["compute_logs"][0]["stderr_bytes"] + data["compute_logs"][0]["stdout_bytes"] > 0
    assert "stderr" not in data["compute_logs"][0]
    compute = cli_json(world, "logs", world["first"], "--compute")
    assert "hello you" in compute["compute_logs"][0]["stderr"] + compute["compute_logs"][0]["stdout"]
    text = cli(world, "logs", world["first"], "--step", "py")
    assert text.code == 0 and "printed from python" in text.stdout


# --------------------------------------------------------------------------- status


STATUS_KEYS = {"workflow_id", "run_id", "status", "current_step", "started_at", "step_statuses", "outputs",
               "error_message", "failed_step"}


def test_status_json_shape_of_a_completed_and_a_failed_run(world):
    done = cli_json(world, "status", world["first"])
    assert STATUS_KEYS <= set(done)
    assert (done["workflow_id"], done["run_id"], done["status"]) == ("observed_flow", world["first"], "completed")
    assert done["current_step"] is None and done["error_message"] is None and done["failed_step"] is None
    assert done["started_at"].endswith("+00:00") and done["outputs"] == {"greeting": "hello you"}
    assert done["step_statuses"] == {"hello": "succeeded", "flaky": "succeeded", "maybe": "skipped",
                                     "soft": "continued", "py": "succeeded"}
    failed = cli_json(world, "status", world["failed"])
    assert (failed["status"], failed["failed_step"]) == ("failed", "breaks")
    assert "exited with code 1" in failed["error_message"]
    assert failed["step_statuses"]["after"] == "not_run" and failed["outputs"] == {}
    missing = cli(world, "status", "no-such-run", "--format", "json")
    assert missing.code == 1 and "no run with id" in json.loads(missing.stdout)["error"]


def test_status_text_shows_a_progress_bar_and_each_step(world):
    text = cli(world, "status", world["first"])
    assert text.code == 0, text.stderr
    assert "[" + "#" * 30 + "] 5/5 steps" in text.stdout
    assert "Observed Flow" in text.stdout and "completed" in text.stdout and "maybe: skipped" in text.stdout
    failed = cli(world, "status", world["failed"])
    assert "] 2/3 steps" in failed.stdout and "#" * 20 in failed.stdout and "breaks: failed" in failed.stdout


# --------------------------------------------------------------------------- audit


def test_audit_json_is_complete_and_masks_secrets(world, tmp_path):
    done = cli(world, "audit", world["first"], "--format", "json")
    assert done.code == 0, done.stderr
    assert "hunter22" not in done.stdout and "s3cr3t-token-value" not in done.stdout
    audit = json.loads(done.stdout)
    assert audit["run_id"] == world["first"] and audit["status"] == "completed" and audit["version"] == "3.0.0"
    assert audit["started_by"]["trigger"] == "cli" and audit["started_by"]["user"] == "auditor"
    assert audit["started_by"]["pid"] and audit["started_by"]["host"]
    assert audit["parameters"] == {"who": "you", "db_password": "***"}
    assert audit["masked_parameters"] == ["db_password"]
    steps = {s["step"]: s for s in audit["steps"]}
    assert [s["step"] for s in audit["steps"]] == ["hello", "flaky", "maybe", "soft", "py"]
    flaky = steps["flaky"]
    assert [a["outcome"] for a in flaky["attempts"]] == ["retry", "succeeded"] and flaky["retries"] == 1
    assert [a["attempt"] for a in flaky["attempts"]] == [1, 2]
    assert all(a["duration_s"] is not None and a["started_at"] for a in flaky["attempts"])
    assert steps["maybe"]["status"] == "skipped" and "condition is false" in steps["maybe"]["skip_reason"]
    assert steps["soft"]["status"] == "continued" and "exited with code 2" in steps["soft"]["error"]
    assert steps["hello"]["result"]["output"] == "hello you" and steps["hello"]["result"]["exit_code"] == 0
    assert audit["outputs"] == {"greeting": "hello you"}
    assert audit["approvals"] == [] and audit["failure_handlers"] == [] and audit["cancellations"] == []
    assert audit["event_count"] > 20 and audit["duration_s"] > 0


def test_audit_csv_and_file(world, tmp_path):
    done = cli(world, "audit", world["first"], "--format", "csv")
    assert done.code == 0
    rows = list(csv.DictReader(io.StringIO(done.stdout)))
    assert list(rows[0]) == ["run_id", "section", "step", "attempt", "time", "outcome", "duration_s", "detail"]
    attempts = [(r["step"], r["attempt"], r["outcome"]) for r in rows if r["section"] == "attempt"]
    assert ("flaky", "1", "retry") in attempts and ("flaky", "2", "succeeded") in attempts
    assert ("soft", "1", "continued") in attempts
    assert any(r["section"] == "skip" and r["step"] == "maybe" for r in rows)
    assert {"who=\"you\"", "db_password=\"***\""} <= {r["detail"] for r in rows if r["section"] == "parameter"}
    assert "hunter22" not in done.stdout
    target = tmp_path / "audit.json"
    assert cli(world, "audit", world["first"], "--format", "json", "--file", str(target)).code == 0
    assert json.loads(target.read_text())["run_id"] == world["first"]
    again = cli(world, "audit", world["first"], "--format", "json", "--file", str(target))
    assert again.code == 2 and "--force" in json.loads(again.stdout)["error"]


def test_audit_of_a_failed_run_has_its_failure_and_handlers(world):
    audit = cli_json(world, "audit", world["failed"])
    assert audit["status"] == "failed" and audit["failed_step"] == "breaks"
    steps = {s["step"]: s["status"] for s in audit["steps"]}
    assert steps["prep"] == "succeeded" and steps["breaks"] == "failed" and steps["after"] == "not_run"
    assert [(h["kind"], h["step"], h["status"]) for h in audit["failure_handlers"]] == [("on_failure", "alert", "succeeded")]


def test_audit_records_approval_decisions(world):
    audit = cli_json(world, "audit", world["gated"])
    (gate,) = audit["approvals"]
    assert gate["step"] == "gate" and gate["message"] == "ship it?"
    assert [(d["decision"], d["by"], d["comment"]) for d in gate["decisions"]] == [("approve", "boss", "looks good")]
    assert gate["resolved"]["decision"] == "approved" and gate["resolved"]["approved_by"] == ["boss"]
    rows = list(csv.DictReader(io.StringIO(cli(world, "audit", world["gated"], "--format", "csv").stdout)))
    assert any(r["section"] == "approval" and r["outcome"] == "approve" and "boss: looks good" in r["detail"] for r in rows)


# --------------------------------------------------------------------------- stats


def test_stats_per_workflow_and_per_step(world):
    data = cli_json(world, "stats", "Observed Flow", "--since", "1d")
    (flow,) = data["workflows"]
    assert (flow["workflow"], flow["runs"], flow["completed"], flow["failed"]) == ("Observed Flow", 2, 2, 0)
    assert flow["success_rate"] == 1.0
    assert 0 < flow["mean_duration_s"] <= flow["p95_duration_s"]
    steps = flow["steps"]
    assert steps["flaky"] == {**steps["flaky"], "runs": 2, "retries": 1, "retry_rate": 0.5, "failure_rate": 0.0}
    assert steps["soft"]["failure_rate"] == 1.0 and steps["hello"]["failure_rate"] == 0.0
    assert "maybe" not in steps  # skipped in both runs: it never ran
    everything = cli_json(world, "stats", "--since", "all")
    failing = next(w for w in everything["workflows"] if w["job"] == "failing_flow")
    assert failing["runs"] >= 1 and failing["failed"] >= 1
    assert cli(world, "stats").code == 0
    assert cli(world, "stats", "--since", "soon").code == 2


# --------------------------------------------------------------------------- list


def test_list_shows_the_last_run_and_the_next_scheduled_run(world):
    data = cli_json(world, "list")
    rows = {w["id"]: w for w in data["workflows"]}
    last = rows["observed_flow"]["last_run"]
    assert last["run_id"] == world["second"] and last["status"] == "completed" and last["trigger"] == "cli"
    assert rows["long_flow"]["next_run"] and rows["long_flow"]["next_run"].endswith("T03:00:00+00:00")
    # the fast path (reading SQLite without Dagster) agrees with the Dagster API
    from dagster import DagsterInstance

    from yaml2dag.runs.history.fast_path import last_runs_sqlite
    from yaml2dag.runs.history.queries import last_runs

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(world["home"]))
        instance = DagsterInstance.get()
        try:
            jobs = ["observed_flow", "failing_flow", "triggered_flow"]
            slow = last_runs(instance, jobs)
        finally:
            instance.dispose()
    fast = last_runs_sqlite(world["home"], jobs)
    assert fast == slow
    text = cli(world, "list")
    assert "Last run" in text.stdout and "completed" in text.stdout
    # a run being canceled is still running
    assert (rows["triggered_flow"]["last_run"]["run_id"], rows["triggered_flow"]["last_run"]["status"]) == (
        world["triggered"]["canceling"], "running")


def test_list_and_history_show_a_run_waiting_at_an_approval_gate_as_paused(world):
    paused = world["paused"]  # read while the gate of `Gated Flow` was waiting
    assert paused["fast"] == paused["slow"]  # the fast SQLite path agrees with the Dagster API
    assert (paused["fast"]["gated_flow"]["run_id"], paused["fast"]["gated_flow"]["status"]) == (paused["run_id"], "paused")
    listed = {w["id"]: w for w in paused["listed"]["workflows"]}
    assert listed["gated_flow"]["last_run"]["status"] == "paused"
    assert [(r["run_id"], r["status"]) for r in paused["history"]["runs"]] == [(paused["run_id"], "paused")]
    from yaml2dag.runs.history.fast_path import last_runs_sqlite

    assert last_runs_sqlite(world["home"], ["gated_flow"])["gated_flow"]["status"] == "completed"  # once approved


# --------------------------------------------------------------------------- retry


def test_retry_from_failure_reruns_only_the_failed_and_downstream_steps(world):
    from dagster import DagsterInstance

    world["fix_marker"].write_text("fixed")
    data = cli_json(world, "retry", world["failed"])
    assert data["mode"] == "from_failure" and data["status"] == "completed"
    assert data["parent_run_id"] == world["failed"] and data["root_run_id"] == world["failed"]
    assert data["step_statuses"] == {"prep": "reused", "breaks": "succeeded", "after": "succeeded"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("DAGSTER_HOME", str(world["home"]))
        instance = DagsterInstance.get()
        try:
            records = instance.all_logs(data["run_id"])
            parent_records = instance.all_logs(world["failed"])
            child = instance.get_run_by_id(data["run_id"])
        finally:
            instance.dispose()
    started = [r.step_key for r in records if r.dagster_event and r.dagster_event.event_type_value == "STEP_START"]
    assert started == ["breaks", "after"]  # prep is not re-run: its output is reused
    prep_out = next(r.user_message for r in parent_records if r.step_key == "prep" and r.dagster_event is None
                    and r.user_message.startswith("prepared-"))
    assert any(r.user_message == f"fixed-{prep_out}" for r in records if r.dagster_event is None)
    assert child.tags["yaml2dag/retry_of"] == world["failed"] and child.tags["yaml2dag/trigger"] == "cli"
    history = cli_json(world, "history", "Failing Flow")
    assert history["runs"][0]["run_id"] == data["run_id"] and history["runs"][0]["parent_run_id"] == world["failed"]
    # a successful run is not retried "from failure"; --from-step re-runs a step and what follows
    assert cli(world, "retry", world["second"], "--from-failure").code == 1
    again = cli_json(world, "retry", world["second"], "--from-step", "soft")
    assert again["status"] == "completed"
    assert set(again["executed_steps"]) == {"soft", "py", "workflow_outputs"}  # soft and what is ordered after it
    assert again["step_statuses"] == {"hello": "reused", "flaky": "reused", "maybe": "reused",
                                      "soft": "continued", "py": "succeeded"}
    assert again["outputs"] == {"greeting": "hello world"}  # read from the reused `hello` of the parent
    assert cli(world, "retry", world["second"], "--from-step", "nope").code == 1


def test_retry_uses_the_saved_version_when_the_file_changed(world, tmp_path):
    defs = world["defs"]
    done = run_cli("schedule", "Failing Flow", "@daily", env=world["env"])  # a new version; the old one is kept
    assert done.code == 0, done.stderr
    data = cli_json(world, "retry", world["failed"], "--all")
    assert data["status"] == "completed" and "version 1.0.0" in data["note"]
    assert set(data["executed_steps"]) == {"prep", "breaks", "after"}
    assert (defs / ".versions" / "failing_flow" / "1.0.0.yaml").exists()


# --------------------------------------------------------------------------- cancel


def _processes_with(token: str) -> list[int]:
    import psutil

    found = []
    for proc in psutil.process_iter(["pid", "cmdline"]):
        try:
            if token in " ".join(proc.info["cmdline"] or []):
                found.append(proc.info["pid"])
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return found


def test_cancel_stops_a_long_running_run_and_records_the_reason(world):
    env = {**os.environ, **world["env"]}
    proc = subprocess.Popen([sys.executable, "-m", "yaml2dag", "run", "Long Flow", "--format", "json"], env=env,
                            cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:

        def napping_run_id():
            runs = cli_json(world, "history", "Long Flow", "--status", "running")["runs"]
            if runs and cli_json(world, "events", runs[0]["run_id"], "--type", "STEP_START", "--step", "nap")["total"]:
                return runs[0]["run_id"]
            return None

        run_id = wait_until(napping_run_id, 90, 0.5, "the long run to reach its `nap` step", process=proc,
                            details=lambda: "\n".join(proc.communicate(timeout=10)))
        assert _processes_with(world["token"]), "the nap command is not running"
        data = cli_json(world, "cancel", run_id, "--reason", "maintenance window", "--wait", "60")
        assert (data["status"], data["method"], data["ended"], data["by"]) == ("canceled", "signal", True, "auditor")
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 1 and json.loads(out)["status"] == "CANCELED", err
        wait_until(lambda: not _processes_with(world["token"]), 15, 0.2, "the shell step's process to end after the cancel")
        audit = cli_json(world, "audit", run_id)
        assert audit["status"] == "canceled"
        assert [(c["reason"], c["by"], c["method"]) for c in audit["cancellations"]] == [("maintenance window", "auditor", "signal")]
        steps = {s["step"]: s["status"] for s in audit["steps"]}
        assert steps["first"] == "succeeded" and steps["after"] == "not_run"
        types = [e["type"] for e in cli_json(world, "events", run_id)["events"]]
        assert "RUN_CANCELING" in types and types[-1] == "RUN_CANCELED"
        finished = cli(world, "cancel", run_id, "--format", "json")
        assert finished.code == 1 and "already finished" in json.loads(finished.stdout)["error"]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
        for pid in _processes_with(world["token"]):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
