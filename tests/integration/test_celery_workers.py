"""Issue 13, section 4: steps on real Celery workers (``dagster-celery worker`` processes, each
in its own session and working folder) fed through the real RabbitMQ on 127.0.0.1:5672, with
run and event storage in a fresh PostgreSQL database on 127.0.0.1:5432.

* A parallel group's steps run on both workers (the step results say which process ran them).
* A worker killed with ``kill -9`` in the middle of a step: the step is retried on the other
  worker when its ``retry`` allows it, else it fails, the workflow's ``on_failure`` runs and the
  run ends FAILURE; either way the run ends (no run stays STARTED) and every other step's
  events are in the storage.
* The settings come from the Dagster home (``dagster_home/celery.yaml``, the block
  ``dagster-celery worker start -y`` reads) for a user in a project folder with the defaults
  (relative ``definitions`` and ``dagster_home``, no YAML2DAG_* variables), or from
  YAML2DAG_CELERY_* variables.

Each test uses its own queue (deleted afterwards) and its own database (dropped afterwards); the
workers it starts are stopped with SIGTERM (their process groups killed after a bound). A service
that does not answer fails the test with the command that starts it (tests/celery_cluster.py).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import uuid
from pathlib import Path

import pytest

from celery_cluster import BROKER, Databases, Worker, delete_queue, postgres_home, require_services
from cli_forkserver import start_cli
from conftest import CLI_TIMEOUT, run_cli, write
from waiting import wait_until

pytestmark = pytest.mark.slow

HELPERS = '''
import os
import socket
import time
from pathlib import Path


def where(seconds=0):
    """Sleep, then say which process ran the step."""
    time.sleep(float(seconds))
    return {"pid": os.getpid(), "host": socket.gethostname()}


def slow_once(marker):
    """The first attempt writes its pid to `marker` and hangs; later attempts return at once."""
    path = Path(marker)
    if not path.exists():
        path.write_text(str(os.getpid()))
        time.sleep(600)
    return {"pid": os.getpid(), "host": socket.gethostname(), "attempt_marker": path.read_text()}
'''


@pytest.fixture(scope="module")
def databases(tmp_path_factory):
    require_services()
    dbs = Databases(tmp_path_factory.mktemp("pg"))
    try:
        yield dbs
    finally:
        dbs.close()


@pytest.fixture(autouse=True)
def pg_password(monkeypatch):
    """The storage section reads the database password from YAML2DAG_PG_PASSWORD (as the guide
    says); this test process opens the same storage."""
    monkeypatch.setenv("YAML2DAG_PG_PASSWORD", os.environ.get("PGPASSWORD", ""))


@pytest.fixture
def queue():
    name = f"yaml2dag-test-{uuid.uuid4().hex[:10]}"
    try:
        yield name
    finally:
        delete_queue(name)


class Cluster:
    """Two workers with their own working folders and homes, and the settings of the test."""

    def __init__(self, root: Path, queue: str, env: dict[str, str], homes: list[Path] | None = None):
        self.workers: list[Worker] = []
        for i, name in enumerate(("worker-a", "worker-b")):
            wenv = dict(env)
            if homes is not None:
                wenv["DAGSTER_HOME"] = str(homes[i])
            self.workers.append(Worker(root / name, name, queue, wenv, concurrency=2))

    def __enter__(self) -> "Cluster":
        for w in self.workers:
            w.wait_ready()
        return self

    def __exit__(self, *exc) -> None:
        for w in self.workers:
            w.stop()  # SIGTERM, SIGKILL after a bound (see Worker.stop); a killed one is already gone

    def owner(self, pid: int) -> Worker | None:
        return next((w for w in self.workers if w.owns(pid)), None)


def _instance(home: Path):
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(home))


def _assert_nothing_stuck(home: Path) -> None:
    """Every run of the home's storage ended (none STARTED, STARTING, QUEUED or CANCELING)."""
    with _instance(home) as inst:
        statuses = {r.run_id: r.status.value for r in inst.get_runs()}
    assert statuses and all(s in ("SUCCESS", "FAILURE", "CANCELED") for s in statuses.values()), statuses


def test_parallel_group_runs_on_both_workers_with_settings_from_the_dagster_home(tmp_path, databases, queue):
    """A user in a project folder: relative `definitions` and `dagster_home`, no YAML2DAG_*
    variables; the workflow says `executor: {type: celery}`, the home's celery.yaml says where."""
    project = tmp_path / "project"
    db = databases.new()
    home = postgres_home(project / "dagster_home", databases.user, db)
    settings = f"execution:\n  config:\n    broker: {BROKER}\n    config_source:\n      task_default_queue: {queue}\n"
    (home / "celery.yaml").write_text(settings)
    write(project / "definitions", "celery_steps.py", HELPERS)
    write(project / "definitions", "fan.yaml", """
        name: Fan Out
        executor: {type: celery}
        steps:
          - parallel:
              - {id: a, tool: python, parameters: {callable: "celery_steps:where", args: [1.5]}}
              - {id: b, tool: python, parameters: {callable: "celery_steps:where", args: [1.5]}}
              - {id: c, tool: python, parameters: {callable: "celery_steps:where", args: [1.5]}}
              - {id: d, tool: python, parameters: {callable: "celery_steps:where", args: [1.5]}}
          - id: after
            tool: shell
            parameters: {command: "echo all four done"}
        outputs:
          where: ["{{ a.output }}", "{{ b.output }}", "{{ c.output }}", "{{ d.output }}"]
          after: "{{ after.output }}"
    """)
    # each worker: its own working folder and its own Dagster home with the same two files
    homes = []
    for name in ("home-a", "home-b"):
        copy = tmp_path / name
        copy.mkdir()
        shutil.copy(home / "dagster.yaml", copy / "dagster.yaml")
        shutil.copy(home / "celery.yaml", copy / "celery.yaml")
        homes.append(copy)
    # no YAML2DAG_* variable but the database password the PostgreSQL guide reads from one
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("YAML2DAG_", "DAGSTER_HOME"))}
    clean["YAML2DAG_PG_PASSWORD"] = ""
    env_keys = [k for k in os.environ if k.startswith("YAML2DAG_") or k == "DAGSTER_HOME"]
    with Cluster(tmp_path / "workers", queue, {"YAML2DAG_PG_PASSWORD": ""}, homes) as cluster:
        done = _cli(project, clean, env_keys, "run", "Fan Out", "--format", "json")
    assert done.code == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCESS", result
    assert result["outputs"]["after"] == "all four done"
    pids = [w["pid"] for w in result["outputs"]["where"]]
    owners = {cluster.owner(pid).name for pid in pids if cluster.owner(pid) is not None}
    assert len(set(pids)) >= 2 and owners == {"worker-a", "worker-b"}, (pids, owners)
    # the run never ran a step itself: every step was executed by a worker, as the storage tells
    with _instance(home) as inst:
        records = list(inst.all_logs(result["run_id"]))
    started = [r for r in records if r.dagster_event and r.dagster_event.event_type_value == "ENGINE_EVENT"
               and "on Celery worker" in (r.dagster_event.message or "")]
    assert {r.step_key for r in started} >= {"a", "b", "c", "d", "after"}
    assert {m for r in started for m in ("worker-a", "worker-b") if m in r.dagster_event.message} == {"worker-a", "worker-b"}
    _assert_nothing_stuck(home)


def _cli(cwd: Path, env: dict[str, str], drop: list[str], *args: str, timeout: float = CLI_TIMEOUT):
    """`yaml2dag ARGS` from ``cwd`` with exactly ``env`` (``drop``: variables of this process not
    to pass on), through conftest's ``run_cli`` (forked from the CLI fork server)."""
    return run_cli(*args, env=env, cwd=cwd, timeout=timeout, drop=tuple(drop))


def _kill_scenario(tmp_path: Path, databases: Databases, queue: str, retry: str, extra: str = ""):
    """Run a workflow whose `slow` step hangs on its first attempt; kill -9 the worker running
    it. Returns ``(result JSON, home, cluster, killed worker, marker pid, CLI output)``."""
    folder = tmp_path / "defs"
    marker = tmp_path / "slow.attempt1"
    write(folder, "celery_steps.py", HELPERS)
    write(folder, "lost.yaml", f"""
        name: Lost Worker
        executor: {{type: celery}}
        steps:
          - id: first
            tool: python
            parameters: {{callable: "celery_steps:where"}}
          - id: slow
            {retry}
            tool: python
            parameters: {{callable: "celery_steps:slow_once", args: ["{marker}"]}}
          - id: last
            tool: shell
            parameters: {{command: "echo last ran"}}
        {extra}
        outputs:
          slow: "{{{{ slow.output }}}}"
          first: "{{{{ first.output }}}}"
    """)
    db = databases.new()
    home = postgres_home(tmp_path / "home", databases.user, db)
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder), "YAML2DAG_PG_PASSWORD": "",
           "YAML2DAG_CELERY_BROKER": BROKER, "YAML2DAG_CELERY_QUEUE": queue,
           # beats every 0.5 s: a silent worker is lost after 3 s
           "YAML2DAG_CELERY_HEARTBEAT": "0.5"}
    with Cluster(tmp_path / "workers", queue, {k: v for k, v in env.items() if k != "YAML2DAG_DEFINITIONS"}) as cluster:
        # `yaml2dag run` forked from the CLI fork server (tests/cli_forkserver.py), its own session
        run = start_cli("run", "Lost Worker", "--format", "json", env={**env, "NO_COLOR": "1"}, cwd=tmp_path)
        try:
            def slow_started() -> bool:
                if marker.exists() and marker.read_text():
                    return True
                if run.poll() is not None:  # the run ended before its slow step started: fail at once
                    done = run.finish(10)
                    raise AssertionError(f"yaml2dag run exited with code {done.code} before the slow step "
                                         f"started:\n{done.stdout}\n{done.stderr}")
                return False

            wait_until(slow_started, CLI_TIMEOUT, 0.1, "the slow step to start",
                       details=lambda: b"\n".join(run.output()).decode(errors="replace"))
            pid = int(marker.read_text())
            victim = cluster.owner(pid)
            assert victim is not None, f"pid {pid} belongs to no worker"
            victim.kill()
            assert not victim.pids()
            done = run.finish(CLI_TIMEOUT)
        finally:
            if run.code is None:  # interrupted: kill its process group, reap it
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(run.pid, signal.SIGKILL)
                with contextlib.suppress(Exception):
                    run.finish(60)
    out, err = done.stdout, done.stderr
    assert out.strip(), err
    return json.loads(out), home, cluster, victim, pid, err


def test_a_worker_killed_mid_step_has_the_step_retried_on_the_other_worker(tmp_path, databases, queue):
    result, home, cluster, victim, first_pid, err = _kill_scenario(
        tmp_path, databases, queue, retry="retry: {max_attempts: 2, delay: 0}")
    assert result["status"] == "SUCCESS", (result, err)
    assert result["steps"] == {"first": "succeeded", "slow": "succeeded", "last": "succeeded"}
    second = cluster.owner(result["outputs"]["slow"]["pid"])
    assert second is not None and second is not victim, (result, victim.name)
    assert result["outputs"]["slow"]["attempt_marker"] == str(first_pid)
    with _instance(home) as inst:
        records = list(inst.all_logs(result["run_id"]))
    types = [(r.step_key, r.dagster_event.event_type_value) for r in records if r.dagster_event]
    assert ("slow", "STEP_UP_FOR_RETRY") in types and ("slow", "STEP_SUCCESS") in types
    lost = [r.dagster_event.message for r in records if r.dagster_event and r.step_key == "slow"
            and "stopped heartbeating" in (r.dagster_event.message or "")]
    assert lost and victim.name in lost[0], lost
    # nothing lost: the steps before and after have their whole story
    for key in ("first", "last"):
        assert (key, "STEP_START") in types and (key, "STEP_SUCCESS") in types
    _assert_nothing_stuck(home)


def test_a_worker_killed_mid_step_without_retries_fails_the_step_and_runs_on_failure(tmp_path, databases, queue):
    result, home, cluster, victim, _pid, err = _kill_scenario(
        tmp_path, databases, queue, retry="on_error: abort",
        extra="""on_failure:
          - id: tell
            tool: shell
            parameters: {command: "echo handled {{ failed_step }}"}""")
    assert result["status"] == "FAILURE", (result, err)
    assert result["steps"] == {"first": "succeeded", "slow": "failed", "last": "not_run"}
    with _instance(home) as inst:
        records = list(inst.all_logs(result["run_id"]))
        run = inst.get_run_by_id(result["run_id"])
    assert run.status.value == "FAILURE"
    types = [(r.step_key, r.dagster_event.event_type_value) for r in records if r.dagster_event]
    assert ("slow", "STEP_FAILURE") in types and ("slow", "STEP_UP_FOR_RETRY") not in types
    messages = [r.dagster_event.message or "" for r in records if r.dagster_event]
    assert any("stopped heartbeating" in m and victim.name in m for m in messages)
    # the workflow's failure handling ran for the lost step
    assert any("on_failure `tell` succeeded: handled slow" in m for m in messages), messages
    assert ("first", "STEP_SUCCESS") in types
    _assert_nothing_stuck(home)
