"""Issue 10, point 5: a run whose `yaml2dag run` process dies (`kill -9` mid-step).

Before the fix the run stayed STARTED forever, its pool slot stayed claimed (every later run on
the pool waited forever), the step's shell command kept running, and `retry` refused the run.
Now the next yaml2dag command (or the daemon's run monitoring, within one poll interval) marks
it failed with the reason, kills the step's process group and frees the pool slot.

Real CLI subprocesses on a temporary DAGSTER_HOME with the shipped dagster.yaml (pools of size
1), a real `dagster-daemon`, real process groups checked with psutil.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from conftest import CLI_TIMEOUT, run_cli, write
from local_servers import stop_process_tree
from waiting import wait_until

pytestmark = pytest.mark.slow

#: Bound for the daemon to notice the dead run (the requirement is 30 s; poll interval 5 s).
DAEMON_BOUND_S = 60


def _workflows(folder: Path, work: Path) -> None:
    write(folder, "slow.yaml", f"""
        name: Slow
        steps:
          - id: hold
            tool: shell
            pool: deploy
            parameters:
              command: "if [ -e {work}/go ]; then echo released; else echo $$ > {work}/step.pid; sleep 600; fi"
          - id: after
            depends_on: hold
            tool: shell
            parameters: {{command: "echo after"}}
    """)
    write(folder, "quick.yaml", """
        name: Quick
        steps:
          - id: use
            tool: shell
            pool: deploy
            parameters: {command: "echo quick"}
    """)


def _env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("YAML2DAG_")}
    env.update(NO_COLOR="1", **extra)
    return env


def _recorded(home: Path, pid: int) -> bool:
    """True once the run's event log records the step process ``pid`` (yaml2dag/step_process)."""
    from dagster import DagsterInstance
    from dagster._core.events import DagsterEventType

    with DagsterInstance.from_config(str(home)) as instance:
        for run in instance.get_runs(limit=1):
            for record in instance.all_logs(run.run_id, of_type=DagsterEventType.ENGINE_EVENT):
                meta = record.dagster_event.engine_event_data.metadata or {}
                if getattr(meta.get("yaml2dag/pid"), "value", None) == str(pid):
                    return True
    return False


def _start_slow_and_kill_it(cwd: Path, env: dict, work: Path, home: Path) -> tuple[int, psutil.Process]:
    """Start `yaml2dag run Slow`, wait until its step's shell runs (and yaml2dag has recorded it:
    the kill comes mid-step, not in the instant between starting the command and recording it),
    SIGKILL the CLI process alone (as `kill -9 PID` does) and reap it like a shell would.
    Returns (CLI pid, the step's shell)."""
    proc = subprocess.Popen([sys.executable, "-m", "yaml2dag", "run", "Slow"], cwd=cwd, env=env,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    try:
        pid_file = work / "step.pid"
        wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), CLI_TIMEOUT, 0.1,
                   "the step of `yaml2dag run Slow` to start", process=proc)
        step = psutil.Process(int(pid_file.read_text()))
        wait_until(lambda: _recorded(home, step.pid), CLI_TIMEOUT, 0.1, "the run to record its step process")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    except BaseException:
        stop_process_tree(proc, timeout=0)
        raise
    assert step.is_running() and step.status() != psutil.STATUS_ZOMBIE, "the step must outlive the CLI here"
    return proc.pid, step


def _gone(step: psutil.Process, pgid: int) -> bool:
    """True when neither the step's shell nor anything of its process group still runs."""
    if step.is_running() and step.status() != psutil.STATUS_ZOMBIE:
        return False
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid and proc.status() != psutil.STATUS_ZOMBIE:
                return False
        except (OSError, psutil.Error):
            continue
    return True


def _kill_leftovers(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def test_a_killed_run_is_failed_its_step_killed_and_its_pool_slot_freed_by_the_next_command(tmp_path):
    """The user's defaults: ./definitions and ./dagster_home (created by the first run, with the
    shipped dagster.yaml: every pool holds 1 slot)."""
    work = tmp_path / "work"
    work.mkdir()
    _workflows(tmp_path / "definitions", work)
    env = _env()
    cli_pid, step = _start_slow_and_kill_it(tmp_path, env, work, tmp_path / "dagster_home")
    pgid = step.pid  # the shell tool starts its command in its own session
    try:
        # a second run on the pool completes: the dead run's slot is freed first
        quick = run_cli("run", "Quick", "--format", "json", env=env, cwd=tmp_path, timeout=CLI_TIMEOUT)
        assert quick.code == 0, quick.stdout + quick.stderr
        assert json.loads(quick.stdout)["status"] == "SUCCESS"
        # the step's process group was killed: no orphan left
        wait_until(lambda: _gone(step, pgid), 30, 0.2, "the killed run's step process to be gone")
        # the first run failed, with the reason
        runs = json.loads(run_cli("history", "Slow", "--format", "json", env=env, cwd=tmp_path).stdout)["runs"]
        assert len(runs) == 1
        status = json.loads(run_cli("status", runs[0]["run_id"], "--format", "json", env=env, cwd=tmp_path).stdout)
        assert status["status"] == "failed" and status["dagster_status"] == "FAILURE"
        assert f"its yaml2dag process (pid {cli_pid} on " in status["error_message"]
        assert "was killed or crashed while the run was STARTED" in status["error_message"]
        assert "found by yaml2dag run" in status["error_message"]
        events = json.loads(run_cli("events", runs[0]["run_id"], "--format", "json", env=env, cwd=tmp_path).stdout)
        recorded = [e for e in events["events"] if (e.get("metadata") or {}).get("yaml2dag/step_process") == "started"]
        assert [e["metadata"]["yaml2dag/pid"] for e in recorded] == [str(step.pid)]
        # retry --from-failure works at once (no cancel first) and reuses nothing it must redo
        (work / "go").write_text("")
        again = run_cli("retry", runs[0]["run_id"], "--from-failure", "--format", "json", env=env, cwd=tmp_path)
        assert again.code == 0, again.stdout + again.stderr
        info = json.loads(again.stdout)
        assert info["status"] == "completed" and info["step_statuses"] == {"hold": "succeeded", "after": "succeeded"}
        # and the pool holds nothing any more
        from dagster import DagsterInstance

        with DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
            assert instance.event_log_storage.get_concurrency_info("deploy").claimed_slots == []
    finally:
        _kill_leftovers(pgid)


@pytest.mark.parametrize("slot", ["pool", "concurrency"])
def test_a_run_already_waiting_for_the_dead_runs_slot_goes_on(tmp_path, slot):
    """The second run started before the first one died and waits for its pool slot (or for the
    workflow's concurrency limit): it notices the dead holder itself, with no other command."""
    work = tmp_path / "work"
    work.mkdir()
    _workflows(tmp_path / "definitions", work)
    if slot == "concurrency":  # both runs are of one workflow limited to one run at a time
        slow = tmp_path / "definitions" / "slow.yaml"
        slow.write_text(slow.read_text().replace("steps:", "concurrency: {limit: 1}\nsteps:", 1))
    env = _env()
    first = subprocess.Popen([sys.executable, "-m", "yaml2dag", "run", "Slow"], cwd=tmp_path, env=env,
                             stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    second = None
    step = None
    try:
        wait_until(lambda: (work / "step.pid").exists() and (work / "step.pid").read_text().strip(), CLI_TIMEOUT, 0.1,
                   "the first run's step to start", process=first)
        step = psutil.Process(int((work / "step.pid").read_text()))
        wait_until(lambda: _recorded(tmp_path / "dagster_home", step.pid), CLI_TIMEOUT, 0.1,
                   "the first run to record its step process")
        (work / "go").write_text("")  # the second run's step ends at once once it runs
        second = subprocess.Popen([sys.executable, "-m", "yaml2dag", "run", "Quick" if slot == "pool" else "Slow",
                                   "--format", "json"], cwd=tmp_path, env=env, stdin=subprocess.DEVNULL,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        # it is waiting: its run exists and has not ended while the first one holds the slot
        from dagster import DagsterInstance

        with DagsterInstance.from_config(str(tmp_path / "dagster_home")) as instance:
            wait_until(lambda: len(instance.get_runs()) >= 2, CLI_TIMEOUT, 0.2, "the second run to be created",
                       process=second, details=lambda: "\n".join(second.communicate(timeout=10)))
            assert second.poll() is None and len(instance.get_runs()) == 2
        os.kill(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
        out, err = second.communicate(timeout=CLI_TIMEOUT)
        assert second.returncode == 0, out + err
        assert json.loads(out)["status"] == "SUCCESS"
        wait_until(lambda: _gone(step, step.pid), 30, 0.2, "the dead run's step process to be gone")
    finally:
        for proc in (first, second):
            if proc is not None:
                stop_process_tree(proc, timeout=0)
        if step is not None:
            _kill_leftovers(step.pid)


def test_a_read_only_command_also_ends_a_dead_run(tmp_path):
    """`yaml2dag status` of the dead run itself shows it failed (explicit DAGSTER_HOME and
    YAML2DAG_DEFINITIONS this time)."""
    work = tmp_path / "work"
    work.mkdir()
    home = tmp_path / "home"
    _workflows(tmp_path / "defs", work)
    env = _env(DAGSTER_HOME=str(home), YAML2DAG_DEFINITIONS=str(tmp_path / "defs"))
    cli_pid, step = _start_slow_and_kill_it(tmp_path, env, work, home)
    try:
        from dagster import DagsterInstance

        with DagsterInstance.from_config(str(home)) as instance:
            run_id = instance.get_runs(limit=1)[0].run_id
            assert instance.get_run_by_id(run_id).status.value == "STARTED"  # nothing noticed yet
        status = run_cli("status", run_id, "--format", "json", env=env, cwd=tmp_path)
        info = json.loads(status.stdout)
        assert info["status"] == "failed" and "found by yaml2dag status" in info["error_message"]
        assert _gone(step, step.pid) or not step.is_running()
    finally:
        _kill_leftovers(step.pid)


def test_the_daemon_fails_a_dead_run_within_its_poll_interval(tmp_path, capsys):
    """With `dagster-daemon run` on the home (the shipped dagster.yaml: run monitoring every 5 s,
    yaml2dag's run launcher), the dead run is failed by the daemon itself (no yaml2dag command
    runs meanwhile; the test reads the instance directly)."""
    from dagster import DagsterInstance

    from yaml2dag.runs.runner import prepare_storage

    work = tmp_path / "work"
    work.mkdir()
    folder = tmp_path / "defs"
    _workflows(folder, work)
    home = prepare_storage(tmp_path / "home")  # as `yaml2dag dev` does before starting the daemon
    env = _env(DAGSTER_HOME=str(home), YAML2DAG_DEFINITIONS=str(folder))
    log = tmp_path / "daemon.log"
    with open(log, "w") as sink:
        daemon = subprocess.Popen([sys.executable, "-m", "dagster._daemon", "run", "-m", "yaml2dag.definitions"],
                                  cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    step = None
    try:
        with DagsterInstance.from_config(str(home)) as instance:
            wait_until(lambda: "MONITORING" in instance.get_daemon_heartbeats(), CLI_TIMEOUT, 0.5,
                       "the daemon's run monitoring heartbeat", process=daemon, details=lambda: log.read_text()[-3000:])
            cli_pid, step = _start_slow_and_kill_it(tmp_path, env, work, home)
            killed_at = time.monotonic()
            run_id = instance.get_runs(limit=1)[0].run_id

            def finished_run():
                run = instance.get_run_by_id(run_id)
                return run if run.is_finished else None

            run = wait_until(finished_run, DAEMON_BOUND_S, 0.2, "the daemon to end the dead run",
                             process=daemon, details=lambda: log.read_text()[-3000:])
            took = time.monotonic() - killed_at
            with capsys.disabled():
                print(f"\n[dead run] the daemon marked the run {run.status.value} {took:.1f}s after kill -9")
            assert run.status.value == "FAILURE", (took, log.read_text()[-3000:])
            failure = [r for r in instance.all_logs(run.run_id)
                       if r.dagster_event is not None and r.dagster_event.event_type_value == "PIPELINE_FAILURE"]
            message = failure[0].dagster_event.message
            assert f"pid {cli_pid} on" in message and "found by the Dagster daemon's run monitoring" in message
            assert instance.event_log_storage.get_concurrency_info("deploy").claimed_slots == []
            wait_until(lambda: _gone(step, step.pid), 30, 0.2, "the dead run's step process to be gone")
    finally:
        if step is not None:
            _kill_leftovers(step.pid)
        stop_process_tree(daemon, timeout=30)
