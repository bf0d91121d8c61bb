"""Issue #10, point 7: everyday CLI defects that need real runs.

* `yaml2dag list` with runs in the instance never imports Dagster (it read the last runs
  straight from SQLite, but naming their trigger imported the compiler, hence Dagster); the
  SQLite reader agrees with Dagster's API on every kind of run; a configured storage (another
  SQLite folder, PostgreSQL) is still read, through Dagster.
* `approve`/`reject` take the run-id prefixes `status` takes.
* `status --format json` says `running` and `waiting` for steps in progress, like the text view.
* bare `yaml2dag history` lists the recent runs of every workflow, with the workflow's name.

Every command runs as a real `python -m yaml2dag` subprocess from a project folder with the
default relative `definitions` (no YAML2DAG_DEFINITIONS): forked from the CLI fork server
(tests/cli_forkserver.py), except the `-X importtime` calls that check what a fresh interpreter
imports. Waits for a background run (paused at its gate, a step in some state) poll the home's
instance in-process (tests/paused_runs.py) and then ask the CLI. Timings are in
benchmarks/list_speed.py, not here.
"""

from __future__ import annotations

import json
import os
import sys
import uuid
from pathlib import Path

import pytest

from cli_forkserver import run_cli, start_cli
from conftest import CLI_TIMEOUT, make_dagster_home, run_process, write
from paused_runs import paused_run_id, run_status_when
from waiting import wait_until
from test_postgres import dagster_yaml as postgres_dagster_yaml, postgres_db  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow

#: Not set for any command here: the project's relative `definitions` is the folder, the table
#: width is the pipe's.
DROP = ("YAML2DAG_DEFINITIONS", "COLUMNS")


def _cli(project: Path, env: dict, *args: str, importtime: bool = False):
    """``yaml2dag ARGS`` from ``project``, bounded by CLI_TIMEOUT: forked from the CLI fork server,
    or with ``importtime`` a fresh ``python -X importtime -m yaml2dag`` (what it imports is the
    point)."""
    if importtime:
        return run_process([sys.executable, "-X", "importtime", "-m", "yaml2dag", *args], env=env, cwd=project,
                           timeout=CLI_TIMEOUT, drop=DROP)
    return run_cli(*args, env=env, cwd=project, drop=DROP)


def _dagster_modules(importtime_stderr: str) -> list[str]:
    """Modules of the ``dagster*`` distributions (dagster, dagster_shared, dagster_pipes...) in
    the ``-X importtime`` report of a process."""
    names = []
    for line in importtime_stderr.splitlines():
        if line.startswith("import time:") and "|" in line:
            name = line.rsplit("|", 1)[1].strip()
            if name.split(".")[0].startswith("dagster"):
                names.append(name)
    return names


@pytest.fixture
def project(tmp_path, monkeypatch):
    """A project folder with two workflows in ./definitions, a fresh DAGSTER_HOME, and no
    YAML2DAG_DEFINITIONS: the setting of a user in their project."""
    monkeypatch.delenv("YAML2DAG_DEFINITIONS", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    root = _write_project(tmp_path)
    # no storage yet: two tests configure another storage and check none was created here
    home = make_dagster_home(tmp_path / "dagster_home", storage=False)
    env = {"DAGSTER_HOME": str(home), "NO_COLOR": "1"}
    return root, env


def _write_project(parent: Path) -> Path:
    """``parent/project`` with the two workflows in ./definitions."""
    root = parent / "project"
    write(root / "definitions", "alpha.yaml", """
        name: Alpha Flow
        steps:
          - {id: hello, tool: shell, parameters: {command: "echo alpha"}}
    """)
    write(root / "definitions", "beta.yaml", """
        name: Beta Flow
        steps:
          - {id: hello, tool: shell, parameters: {command: "exit 3"}}
    """)
    return root


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory):
    """(project, env, run ids by workflow): the project of :func:`project` after one run of each
    workflow, made once for the tests that only read them."""
    base = tmp_path_factory.mktemp("everyday")
    root = _write_project(base)
    env = {"DAGSTER_HOME": str(make_dagster_home(base / "dagster_home", storage=False)), "NO_COLOR": "1"}
    return root, env, _run_both(root, env)


def _run_both(root: Path, env: dict) -> dict[str, str]:
    ids = {}
    for name, code in (("Alpha Flow", 0), ("Beta Flow", 1)):
        done = _cli(root, env, "run", name, "--format", "json")
        assert done.code == code, done.stdout + done.stderr
        ids[name] = json.loads(done.stdout)["run_id"]
    return ids


# --------------------------------------------------------------------------- list without Dagster


def test_list_with_runs_never_imports_dagster_and_shows_the_runs(two_runs):
    root, env, ids = two_runs
    done = _cli(root, env, "list", importtime=True)
    assert done.code == 0, done.stderr
    assert _dagster_modules(done.stderr) == [], "list imported Dagster"
    rows = {line.split("  ")[0]: line for line in done.stdout.splitlines()[1:]}
    assert "completed" in rows["Alpha Flow"] and "failed" in rows["Beta Flow"], done.stdout
    assert done.stdout.splitlines()[0].split()[:4] == ["Name", "Job", "Steps", "Last"]
    data = json.loads(_cli(root, env, "list", "--format", "json").stdout)
    assert {w["name"]: w["last_run"]["run_id"] for w in data["workflows"]} == ids
    # the detector can fail: a command that reads the instance through Dagster is caught
    control = _cli(root, env, "history", "Alpha Flow", importtime=True)
    assert control.code == 0, control.stderr
    assert "dagster" in _dagster_modules(control.stderr)


def test_list_reads_a_configured_storage_through_dagster(project, tmp_path):
    """The fast path only reads the default SQLite layout; a storage configured in dagster.yaml
    (here SQLite in another folder, as it would be PostgreSQL) is read with Dagster's API."""
    root, env = project
    elsewhere = tmp_path / "elsewhere"
    home = Path(env["DAGSTER_HOME"])
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n"
                                       f"storage:\n  sqlite:\n    base_dir: {elsewhere}\n")
    ids = _run_both(root, env)
    assert not (home / "history").exists() and (elsewhere / "history" / "runs.db").is_file()
    done = _cli(root, env, "list", "--format", "json")
    assert done.code == 0, done.stderr
    data = json.loads(done.stdout)
    assert "runs_error" not in data
    assert {w["name"]: (w["last_run"]["run_id"], w["last_run"]["status"]) for w in data["workflows"]} == {
        "Alpha Flow": (ids["Alpha Flow"], "completed"), "Beta Flow": (ids["Beta Flow"], "failed")}


def test_list_reads_runs_stored_in_postgresql(project, postgres_db):
    """With the PostgreSQL storage of the guide ("Moving to PostgreSQL"), `list` still shows
    the last runs (read through Dagster: there is no SQLite file to read). Skips, saying why,
    without a PostgreSQL server on 127.0.0.1:5432."""
    root, env = project
    db, user = postgres_db
    home = Path(env["DAGSTER_HOME"])
    (home / "dagster.yaml").write_text(postgres_dagster_yaml(user, db))
    env = {**env, "YAML2DAG_PG_PASSWORD": os.environ.get("YAML2DAG_PG_PASSWORD", "")}
    ids = _run_both(root, env)
    done = _cli(root, env, "list", "--format", "json")
    assert done.code == 0, done.stderr
    data = json.loads(done.stdout)
    assert "runs_error" not in data
    assert {w["name"]: w["last_run"]["run_id"] for w in data["workflows"]} == ids
    assert not (home / "history").exists()


def test_the_sqlite_reader_agrees_with_dagsters_api_on_every_kind_of_run(project):
    """`last_runs_sqlite` (no Dagster) against `last_runs` (Dagster's API) on one instance that
    holds real CLI runs and stored runs of every status and trigger: retries, schedules,
    sensors, backfills, UI launches, cancels under way, runs paused at a gate and resolved ones."""
    root, env = project
    _run_both(root, env)
    from dagster import DagsterInstance, DagsterRun, DagsterRunStatus
    from dagster._core.remote_origin import GrpcServerCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin

    from yaml2dag.runs import approvals
    from yaml2dag.runs.history.fast_path import last_runs_sqlite
    from yaml2dag.runs.history.queries import last_runs

    instance = DagsterInstance.from_config(env["DAGSTER_HOME"])
    try:
        def origin(job: str):
            location = GrpcServerCodeLocationOrigin(host="localhost", port=4000, location_name="loc")
            return RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), job)

        def add(job: str, status, tags: dict | None = None, **kwargs):
            run = DagsterRun(job_name=job, run_id=str(uuid.uuid4()), status=status, tags=tags or {}, **kwargs)
            instance.add_run(run)
            return run

        S = DagsterRunStatus
        add("done", S.SUCCESS, {"yaml2dag/trigger": "cli", "yaml2dag/workflow": "Done", "yaml2dag/version": "1.2.3",
                                "yaml2dag/user": "ann"})
        parent = add("retried", S.FAILURE, {"yaml2dag/workflow": "Retried"})
        add("retried", S.SUCCESS, {"dagster/schedule_name": "nightly"}, parent_run_id=parent.run_id,
            root_run_id=parent.run_id)
        add("from_ui", S.STARTED, remote_job_origin=origin("from_ui"))
        add("queued", S.QUEUED, {"dagster/sensor_name": "watch"}, remote_job_origin=origin("queued"))
        add("canceling", S.CANCELING, {"dagster/backfill": "b1"})
        add("canceled", S.CANCELED)
        gate = add("paused", S.STARTED, {"yaml2dag/workflow": "Paused"})
        approvals._report(instance, gate, "waiting", "approve", {approvals.MARKER: "waiting", "step": "approve"})
        decided = add("decided", S.STARTED)
        approvals._report(instance, decided, "waiting", "approve", {approvals.MARKER: "waiting", "step": "approve"})
        approvals._report(instance, decided, "resolved", "approve",
                          {approvals.MARKER: "resolved", "step": "approve", "decision": "approve"})
        jobs = ["alpha_flow", "beta_flow", "done", "retried", "from_ui", "queued", "canceling", "canceled", "paused",
                "decided", "no_runs"]
        fast = last_runs_sqlite(env["DAGSTER_HOME"], jobs)
        api = last_runs(instance, jobs)
    finally:
        instance.dispose()
    assert fast is not None
    assert set(api) == set(jobs) - {"no_runs"}
    for job in jobs:
        assert fast.get(job) == api.get(job), job
    # and the cases differ from each other (the comparison is not vacuous)
    assert {api[j]["status"] for j in api} >= {"completed", "failed", "running", "pending", "canceled", "paused"}
    assert {api[j]["trigger"] for j in api} >= {"cli", "schedule", "sensor", "backfill", "ui", "manual"}
    assert api["retried"]["parent_run_id"] and api["alpha_flow"]["started_at"] and api["alpha_flow"]["duration_s"]


# --------------------------------------------------------------------------- runs in progress


GATED = """
name: Gated Flow
parameters:
  flag: {type: string}
steps:
  - parallel:
      - id: slow
        tool: shell
        timeout: 120
        parameters: {command: "while [ ! -f '{{ flag }}' ]; do sleep 0.2; done"}
      - id: gate
        tool: approval
        parameters: {message: "go on?", required_approvals: 2}
  - id: second_gate
    tool: approval
    parameters: {message: "really?"}
  - id: after
    tool: shell
    parameters: {command: "echo after"}
"""


class _GatedRun:
    """`yaml2dag run "Gated Flow"` in the background (forked from the CLI fork server: its own
    session and process group), from the project; ``run_id`` once it waits at its first gate."""

    def __init__(self, root: Path, env: dict, flag: Path):
        self.root, self.env, self.home = root, env, Path(env["DAGSTER_HOME"])
        # create the instance's storage first, so that nothing here races its creation
        assert _cli(root, env, "history", "Gated Flow").code == 0
        self.call = start_cli("run", "Gated Flow", f"flag={flag}", "--format", "json", env=env, cwd=root, drop=DROP)
        try:
            paused_run_id(self.home, self.call, timeout=120)  # cheap in-process polls; then `history` says so too

            def paused():
                done = _cli(root, env, "history", "Gated Flow", "--format", "json")
                assert done.code == 0, done.stderr
                return next((r["run_id"] for r in json.loads(done.stdout)["runs"] if r["status"] == "paused"), None)

            self.run_id = wait_until(paused, 120, 0.5, "`history` to show the run paused at its gate")
        except BaseException:
            self.kill()
            raise

    def status(self, ref: str | None = None) -> dict:
        done = _cli(self.root, self.env, "status", ref or self.run_id, "--format", "json")
        assert done.code == 0, done.stderr
        return json.loads(done.stdout)

    def wait_step(self, step: str, state: str) -> None:
        """Until the run's status (what `status --format json` prints, read in-process) has ``step``
        in ``state`` (a step the status does not list yet is not in it)."""
        run_status_when(self.home, self.run_id, lambda doc: doc["step_statuses"].get(step) == state,
                        f"step {step} to be {state}", process=self.call)

    def result(self) -> tuple[int, dict]:
        done = self.call.finish(CLI_TIMEOUT)
        assert done.stdout.strip(), done.stderr
        return done.code, json.loads(done.stdout)

    def kill(self) -> None:
        self.call.kill()


@pytest.fixture
def gated(project, tmp_path):
    root, env = project
    write(root / "definitions", "gated.yaml", GATED)
    flag = tmp_path / "flag"
    run = _GatedRun(root, env, flag)
    run.flag = flag
    try:
        yield run
    finally:
        run.kill()


def _finish(gated: _GatedRun) -> dict:
    """Let the slow step end, reject the second gate; returns the run's result."""
    gated.flag.write_text("go")
    gated.wait_step("second_gate", "waiting")
    rejected = _cli(gated.root, gated.env, "reject", gated.run_id, "--by", "carol")
    assert rejected.code == 0, rejected.stderr
    code, result = gated.result()
    assert code == 1
    assert result["steps"] == {"slow": "succeeded", "gate": "succeeded", "second_gate": "failed", "after": "not_run"}
    return result


def test_status_json_says_running_and_waiting_as_the_text_view_does(gated):
    info = gated.status()
    assert info["step_statuses"] == {"slow": "running", "gate": "waiting", "second_gate": "not_run",
                                     "after": "not_run"}
    text = _cli(gated.root, gated.env, "status", gated.run_id)
    assert text.code == 0, text.stderr
    # "  ✓ step: state" lines: the text view shows exactly the JSON's states
    shown = dict(line.strip().split(" ", 1)[1].split(": ", 1) for line in text.stdout.splitlines()
                 if line.startswith("  ") and not line.startswith("   ") and ": " in line)
    assert shown == info["step_statuses"], text.stdout
    assert "0/4 steps" in text.stdout  # running and waiting steps have not ended
    for who in ("alice", "bob"):
        assert _cli(gated.root, gated.env, "approve", gated.run_id, "--by", who).code == 0
    gated.wait_step("gate", "succeeded")
    assert gated.status()["step_statuses"]["slow"] == "running"
    result = _finish(gated)
    # a finished run has no running or waiting steps: the same states as the run's own result
    assert gated.status()["step_statuses"] == result["steps"]


def test_approve_and_reject_take_the_run_id_prefixes_status_takes(gated):
    run_id = gated.run_id
    assert gated.status(run_id[:8])["run_id"] == run_id
    # too short: refused alike by all three, with the same message
    messages = set()
    for command in ("status", "approve", "reject"):
        refused = _cli(gated.root, gated.env, command, run_id[:5])
        assert refused.code == 1, (command, refused.stdout, refused.stderr)
        messages.add(refused.stderr.strip())
    assert len(messages) == 1 and "no run with id" in messages.pop()
    first = _cli(gated.root, gated.env, "approve", run_id[:8], "--by", "alice")
    assert first.code == 0, first.stderr
    assert f"of run {run_id} as alice (1/2 approvals)" in first.stdout
    second = _cli(gated.root, gated.env, "approve", run_id[:6], "--by", "bob", "--format", "json")
    assert second.code == 0, second.stderr
    assert json.loads(second.stdout)["run_id"] == run_id
    gated.wait_step("gate", "succeeded")
    gated.flag.write_text("go")
    gated.wait_step("second_gate", "waiting")
    rejected = _cli(gated.root, gated.env, "reject", run_id[:7].upper(), "--by", "carol")
    assert rejected.code == 0, rejected.stderr
    assert f"rejected gate `second_gate` of run {run_id}" in rejected.stdout
    code, result = gated.result()
    assert code == 1 and result["steps"]["second_gate"] == "failed"


def test_bare_history_lists_the_recent_runs_of_every_workflow(project):
    root, env = project
    empty = _cli(root, env, "history")
    assert empty.code == 0 and empty.stdout.strip() == "no runs of any workflow", empty.stdout + empty.stderr
    ids = _run_both(root, env)
    again = _cli(root, env, "run", "Alpha Flow", "--format", "json")
    newest = json.loads(again.stdout)["run_id"]
    listed = _cli(root, env, "history", "--format", "json")
    assert listed.code == 0, listed.stderr
    data = json.loads(listed.stdout)
    assert (data["workflow"], data["job"]) == (None, None)
    assert [(r["run_id"], r["workflow"]) for r in data["runs"]] == [
        (newest, "Alpha Flow"), (ids["Beta Flow"], "Beta Flow"), (ids["Alpha Flow"], "Alpha Flow")]
    table = _cli(root, env, "history")
    assert table.code == 0, table.stderr
    lines = table.stdout.splitlines()
    assert lines[0].split()[:3] == ["Run", "Workflow", "Status"]
    # outside a terminal, full run ids and every column
    assert [line.split()[0] for line in lines[1:]] == [r["run_id"] for r in data["runs"]]
    assert lines[2].split()[1:5] == ["Beta", "Flow", "failed", "cli"], lines[2]
    failed = json.loads(_cli(root, env, "history", "--status", "failed", "--format", "json").stdout)
    assert [r["run_id"] for r in failed["runs"]] == [ids["Beta Flow"]]
    one = json.loads(_cli(root, env, "history", "--limit", "1", "--format", "json").stdout)
    assert [r["run_id"] for r in one["runs"]] == [newest]


def test_run_tables_into_a_pipe_keep_whole_rows(two_runs):
    """`events`, `stats` and `audit` print rich tables: into a pipe (a CI log) each row is one
    whole line, however long its message (rich assumed 80 columns and folded them)."""
    root, env, ids = two_runs
    data = json.loads(_cli(root, env, "events", ids["Beta Flow"], "--format", "json").stdout)
    text = _cli(root, env, "events", ids["Beta Flow"])
    assert text.code == 0, text.stderr
    lines = text.stdout.splitlines()
    assert len(lines) == len(data["events"]) + 2, text.stdout  # header, one line an event, the count
    messages = [(e.get("error") or e["message"] or "").splitlines() for e in data["events"]]
    longest = max((m[0] for m in messages if m), key=len)
    assert len(longest) > 60 and any(longest in line for line in lines), (longest, text.stdout)
    stats = _cli(root, env, "stats")
    assert stats.code == 0, stats.stderr
    assert stats.stdout.splitlines()[0].split() == ["Workflow", "Runs", "OK", "Failed", "Canceled", "Success", "Mean",
                                                    "p95"]
    audit = _cli(root, env, "audit", ids["Beta Flow"])
    assert audit.code == 0, audit.stderr
    row = next(line for line in audit.stdout.splitlines() if line.startswith("hello "))
    record = json.loads(_cli(root, env, "audit", ids["Beta Flow"], "--format", "json").stdout)
    (step,) = record["steps"]
    assert step["error"] and step["error"].splitlines()[0] in row, (step["error"], audit.stdout)
