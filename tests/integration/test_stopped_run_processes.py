"""Stopping runs whose steps do not stop by themselves, and ending runs whose process is gone,
beyond the shell steps of the threads executor that test_dead_runs.py covers:

* a run of the ``multiprocess`` executor whose ``yaml2dag run`` process is killed (``kill -9``)
  and then terminated from the UI (the run launcher's ``terminate``, what the UI's "Terminate"
  button and GraphQL ``terminateRun`` call): the run ends CANCELED with the reason, its step
  worker process and the step's shell are killed, and the pool slot it held is free for the
  next run;
* ``yaml2dag cancel`` of a run whose step ignores cancellation (a ``python`` step sleeping): the
  run still ends CANCELED and its ``yaml2dag run`` exits;
* a workflow ``timeout`` reached by such a step under Dagster's ``in_process`` executor: the
  step is interrupted and the run ends FAILURE with the timeout as its error.

Real CLI processes (forked from the test fork server) on a temporary DAGSTER_HOME with the
shipped dagster.yaml (pools of 1); steps mostly sleep, so the cost is wall time, little CPU.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
import time
from pathlib import Path

import psutil
import pytest

from cli_forkserver import start_cli
from conftest import CLI_TIMEOUT, run_cli, write
from waiting import wait_until

pytestmark = pytest.mark.slow


def _env(home: Path, folder: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("YAML2DAG_")}
    env.update(NO_COLOR="1", DAGSTER_HOME=str(home), YAML2DAG_DEFINITIONS=str(folder))
    return env


def _alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill(pid: int) -> None:
    try:
        os.kill(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


# --------------------------------------------------------------------------- dead multiprocess run, terminated


@pytest.fixture(scope="module")
def terminated_dead_run(tmp_path_factory):
    """A ``multiprocess`` run killed with SIGKILL mid-step, then terminated as the UI does; a
    second run on the same pool afterwards. Returns what the tests read."""
    from dagster import DagsterEventType, DagsterInstance

    from yaml2dag.runs.runner import prepare_storage

    root = tmp_path_factory.mktemp("dead_mp")
    work = root / "work"
    work.mkdir()
    folder = root / "defs"
    write(folder, "slow_mp.yaml", f"""
        name: Slow MP
        executor: {{type: multiprocess}}
        steps:
          - id: hold
            tool: shell
            pool: deploy
            parameters:
              command: "echo $$ > {work}/step.pid; sleep 600"
    """)
    write(folder, "quick.yaml", """
        name: Quick
        steps:
          - id: use
            tool: shell
            pool: deploy
            parameters: {command: "echo quick"}
    """)
    home = prepare_storage(root / "home")  # the shipped dagster.yaml: pools of 1, yaml2dag's run launcher
    env = _env(home, folder)
    call = start_cli("run", "Slow MP", env=env, cwd=root)
    shell = worker = None
    try:
        pid_file = work / "step.pid"
        wait_until(lambda: pid_file.exists() and pid_file.read_text().strip(), CLI_TIMEOUT, 0.2,
                   "the step of `yaml2dag run 'Slow MP'` to start", process=call)
        shell = int(pid_file.read_text())
        with DagsterInstance.from_config(str(home)) as instance:
            run_id = instance.get_runs(limit=1)[0].run_id

            def recorded() -> int | None:
                """The step worker's pid once the step's shell is recorded too."""
                found = {"worker": None, "shell": False}
                for record in instance.all_logs(run_id, of_type={DagsterEventType.ENGINE_EVENT,
                                                                  DagsterEventType.STEP_WORKER_STARTED}):
                    event = record.dagster_event
                    meta = (event.event_specific_data.metadata or {}) if event.event_specific_data else {}
                    values = {k: str(getattr(v, "value", v)) for k, v in meta.items()}
                    if event.event_type_value == "STEP_WORKER_STARTED" and values.get("pid", "").isdigit():
                        found["worker"] = int(values["pid"])
                    if values.get("yaml2dag/pid") == str(shell):
                        found["shell"] = True
                return found["worker"] if found["shell"] else None

            worker = wait_until(recorded, CLI_TIMEOUT, 0.2, "the run to record its step worker and step process",
                                process=call)
            assert _alive(worker) and _alive(shell)
            os.kill(call.pid, signal.SIGKILL)  # the yaml2dag run process alone, as `kill -9 PID`
            wait_until(lambda: call.poll() is not None, 30, 0.1, "the killed CLI to be reaped")
            assert instance.get_run_by_id(run_id).status.value == "STARTED"  # nothing noticed yet
            # the UI's Terminate button: the run coordinator asks the instance's run launcher
            terminated = instance.run_coordinator.cancel_run(run_id)
            run = instance.get_run_by_id(run_id)
            messages = [r.dagster_event.message for r in instance.all_logs(run_id)
                        if r.dagster_event is not None and r.dagster_event.event_type_value
                        in ("PIPELINE_CANCELING", "PIPELINE_CANCELED")]
            info = instance.event_log_storage.get_concurrency_info("deploy")
        claimed_after = info.claimed_slots
        gone = {}
        for name, pid in (("worker", worker), ("shell", shell)):
            try:
                wait_until(lambda pid=pid: not _alive(pid), 30, 0.2, f"the dead run's step {name} to be gone")
                gone[name] = True
            except AssertionError:
                gone[name] = False
        quick = run_cli("run", "Quick", "--format", "json", env=env, cwd=root)
        status = json.loads(run_cli("status", run_id, "--format", "json", env=env, cwd=root).stdout)
        yield {"cli_pid": call.pid, "terminated": terminated, "status": run.status.value, "messages": messages,
               "claimed_after": claimed_after, "gone": gone, "quick": quick, "cli_status": status}
    finally:
        call.kill()
        for pid in (worker, shell):
            if pid is not None:
                _kill(pid)
        if shell is not None:
            _kill_group(shell)


def test_terminating_a_run_whose_process_was_killed_ends_it_canceled_with_the_reason(terminated_dead_run):
    got = terminated_dead_run
    assert got["terminated"] is True
    assert got["status"] == "CANCELED"
    canceled = [m for m in got["messages"] if m.startswith("Run canceled: ")]
    assert len(canceled) == 1, got["messages"]
    assert f"its yaml2dag process (pid {got['cli_pid']} on {socket.gethostname()}, started " in canceled[0]
    assert "was killed or crashed while the run was CANCELING" in canceled[0]
    assert "found by a terminate request (Dagster UI, GraphQL or `dagster run terminate`)" in canceled[0]
    status = got["cli_status"]
    assert status["status"] == "canceled" and status["dagster_status"] == "CANCELED"


def test_the_dead_multiprocess_runs_step_worker_and_step_command_are_killed(terminated_dead_run):
    assert terminated_dead_run["gone"] == {"worker": True, "shell": True}


def test_the_dead_runs_pool_slot_is_free_for_the_next_run(terminated_dead_run):
    assert terminated_dead_run["claimed_after"] == []
    quick = terminated_dead_run["quick"]
    assert quick.code == 0, quick.stdout + quick.stderr
    assert json.loads(quick.stdout)["status"] == "SUCCESS"


# --------------------------------------------------------------------------- steps that ignore cancellation


def _sleeper(folder: Path, name: str, head: str, seconds: int) -> None:
    """A workflow whose step sleeps in Python (``time.sleep``): it cannot be cancelled. ``head``:
    workflow keys (one per line) put after the name."""
    head = "".join(f"\n        {line}" for line in head.splitlines())
    write(folder, f"{name.lower().replace(' ', '_')}.yaml", f"""
        name: {name}{head}
        steps:
          - id: nap
            tool: python
            parameters: {{callable: "time:sleep", args: [{seconds}]}}
          - id: after
            depends_on: nap
            tool: shell
            parameters: {{command: "echo after"}}
    """)


def test_cancel_ends_a_run_whose_step_ignores_cancellation(tmp_path):
    """`yaml2dag cancel`: the running step cannot be stopped; the run ends CANCELED after the
    executor's grace period anyway (the step after it never runs) and `yaml2dag run` exits,
    long before the step would have ended."""
    from yaml2dag.compiler.executor import STOP_GRACE_SECONDS
    from yaml2dag.runs.runner import prepare_storage

    from paused_runs import run_status_when

    folder = tmp_path / "defs"
    nap = 2 * CLI_TIMEOUT  # longer than the bound of the CLI calls below
    _sleeper(folder, "Stubborn", "", nap)
    home = prepare_storage(tmp_path / "home")
    env = _env(home, folder)
    call = start_cli("run", "Stubborn", "--format", "json", env=env, cwd=tmp_path)
    try:
        from dagster import DagsterInstance

        with DagsterInstance.from_config(str(home)) as instance:
            run_id = wait_until(lambda: next((r.run_id for r in instance.get_runs(limit=1)), None), CLI_TIMEOUT,
                                0.2, "the run to be created", process=call)
        run_status_when(home, run_id, lambda s: s["step_statuses"].get("nap") == "running",
                        "the nap step to run", process=call, timeout=CLI_TIMEOUT)
        canceled_at = time.monotonic()
        cancel = run_cli("cancel", run_id, env=env, cwd=tmp_path)
        assert cancel.code == 0, cancel.stdout + cancel.stderr
        done = call.finish(CLI_TIMEOUT)
        took = time.monotonic() - canceled_at
        assert done.code == 1, done.stdout + done.stderr
        assert json.loads(done.stdout)["status"] == "CANCELED"
        # (before the fix it exited only when the step ended: CLI_TIMEOUT above is shorter than the nap)
        assert STOP_GRACE_SECONDS <= took, took
        status = json.loads(run_cli("status", run_id, "--format", "json", env=env, cwd=tmp_path).stdout)
        assert status["status"] == "canceled"
        events = json.loads(run_cli("events", run_id, "--format", "json", env=env, cwd=tmp_path).stdout)["events"]
        assert any("Run terminated: stopping 1 running step(s)" in (e.get("message") or "") for e in events), events
        assert not any(e.get("step_key") == "after" and e.get("event_type") == "STEP_START" for e in events)
    finally:
        call.kill()


def test_a_timeout_interrupts_an_in_process_step_that_ignores_cancellation(tmp_path):
    """Dagster's `in_process` executor, wrapped by yaml2dag's time limit: at the deadline the
    tools are cancelled; the sleeping step is then interrupted, and the run fails with the
    timeout as its error (the step after it never runs)."""
    from yaml2dag.runs.runner import prepare_storage

    folder = tmp_path / "defs"
    nap = 2 * CLI_TIMEOUT  # longer than the bound of the CLI calls below
    _sleeper(folder, "Stubborn In Process", "timeout: 2\nexecutor: {type: in_process}", nap)
    home = prepare_storage(tmp_path / "home")
    env = _env(home, folder)
    done = run_cli("run", "Stubborn In Process", "--format", "json", env=env, cwd=tmp_path)
    assert done.code == 1, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "FAILURE", result
    assert result["steps"] == {"nap": "failed", "after": "not_run"}, result
    assert result["duration_s"] < nap, result  # the step was interrupted, not waited for
    status = json.loads(run_cli("status", result["run_id"], "--format", "json", env=env, cwd=tmp_path).stdout)
    assert status["status"] == "failed" and status["failed_step"] == "nap", status
    # the step's error says why the run stopped it, not the name of Dagster's interrupt exception
    assert status["error_message"] == "interrupted: the run exceeded its timeout of 2s", status
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as instance:
        failures = [r.dagster_event.event_specific_data.error for r in instance.all_logs(result["run_id"])
                    if r.dagster_event is not None and r.dagster_event.event_type_value == "PIPELINE_FAILURE"]
    assert len(failures) == 1 and failures[0] is not None, failures
    assert failures[0].message.strip().endswith("the run exceeded its timeout of 2s"), failures[0].message


_API_SCRIPT = r"""
import signal, subprocess, sys
signal.signal(signal.SIGINT, signal.SIG_IGN)  # as a script started with `&` or nohup finds it
from dagster import DagsterInstance
from yaml2dag.format.validation import validate_file
from yaml2dag.runs.runner import run_workflow
with DagsterInstance.get() as instance:
    for _ in range(2):
        print(run_workflow(validate_file(sys.argv[1]).validated(), {}, instance=instance).status)
print("SIGTERM", "ignored" if signal.getsignal(signal.SIGTERM) == signal.SIG_IGN else "not ignored")
child = subprocess.Popen(["sleep", "60"])
child.terminate()
print("child", child.wait(timeout=30))
"""


def test_a_process_started_with_sigint_ignored_still_stops_on_sigterm_after_its_runs(tmp_path):
    """Dagster's in-process execution leaves SIGTERM set to SIGINT's handler; for a process that
    found SIGINT ignored (started in the background of a script) that would be "ignore SIGTERM",
    inherited by every process it starts afterwards. yaml2dag keeps both handlers across a run."""
    from conftest import run_process
    from yaml2dag.runs.runner import prepare_storage

    folder = tmp_path / "defs"
    write(folder, "echo.yaml", 'name: Echo Twice\nsteps:\n  - id: say\n    tool: shell\n'
                               '    parameters: {command: "echo hello"}\n')
    home = prepare_storage(tmp_path / "home")
    done = run_process([sys.executable, "-c", _API_SCRIPT, str(folder / "echo.yaml")],
                       env={"DAGSTER_HOME": str(home)}, cwd=tmp_path)
    assert done.code == 0, done.stdout + done.stderr
    assert done.stdout.split() == ["SUCCESS", "SUCCESS", "SIGTERM", "not", "ignored", "child", "-15"], done.stdout
