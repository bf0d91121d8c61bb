"""`yaml2dag retry` and `yaml2dag cancel` (yaml2dag.runs.history.actions) on the runs a user
gets them wrong on: unknown ids, runs that have not finished, successful runs retried "from
failure" or from a step they do not have, workflows that left the library or were edited by hand
since the run, and cancels of runs whose process is gone, that another machine executes, or whose
recorded pid now belongs to another program. Each gives the message and exit
code the commands promise, and the run storage says what happened afterwards.

One module-scoped Dagster home with one real finished run (read-only for most tests); the runs
that are not finished are created in the run storage (never executed: nothing runs them), one per
test that changes them. CLI calls are forked through `conftest.run_cli`.
"""

from __future__ import annotations

import json
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import psutil
import pytest

from conftest import make_dagster_home, run_cli, write
from waiting import wait_until

pytestmark = pytest.mark.slow

TWO_STEPS = """
name: Two Steps
steps:
  - id: first
    tool: shell
    parameters: {command: "echo first-output"}
  - id: second
    tool: shell
    parameters: {command: "echo second-output"}
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """A definitions folder, a Dagster home and one successful run of `Two Steps`."""
    from dagster import DagsterInstance

    from yaml2dag.format.validation import validate_file
    from yaml2dag.runs.runner import run_workflow

    base = tmp_path_factory.mktemp("history_actions")
    defs, home = base / "defs", make_dagster_home(base / "dagster_home")
    write(defs, "two_steps.yaml", TWO_STEPS)
    env = {"YAML2DAG_DEFINITIONS": str(defs), "DAGSTER_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "160",
           "YAML2DAG_USER": "operator"}
    with pytest.MonkeyPatch.context() as mp:
        for key, value in env.items():
            mp.setenv(key, value)
        instance = DagsterInstance.get()
        try:
            done = run_workflow(validate_file(defs / "two_steps.yaml").validated(), {}, instance=instance)
        finally:
            instance.dispose()
    assert done.status == "SUCCESS"
    return {"base": base, "defs": defs, "home": home, "env": env, "succeeded": done.run_id}


def cli(world, *args: str, env: dict | None = None):
    return run_cli(*args, env={**world["env"], **(env or {})})


def cli_json(world, *args: str, code: int = 0, env: dict | None = None) -> dict:
    done = cli(world, *args, "--format", "json", env=env)
    assert done.code == code, done.stdout + done.stderr
    return json.loads(done.stdout)


def instance_of(world):
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(world["home"]))


def unfinished_run(world, status: str, tags: dict | None = None, *, launched: bool = False) -> str:
    """A run of `Two Steps` recorded with ``status`` (QUEUED, STARTED ...) and ``tags``; nothing
    executes it. ``launched``: it carries the code location origin a run launched from the
    webserver has (a queued run must)."""
    from dagster import DagsterRunStatus
    from dagster._core.remote_origin import InProcessCodeLocationOrigin, RemoteJobOrigin, RemoteRepositoryOrigin
    from dagster._core.types.loadable_target_origin import LoadableTargetOrigin

    from yaml2dag.compiler import reconstructable_job

    job = reconstructable_job(str(world["defs"] / "two_steps.yaml"), str(world["defs"])).get_definition()
    origin = None
    if launched:
        location = InProcessCodeLocationOrigin(LoadableTargetOrigin(module_name="yaml2dag.definitions"))
        origin = RemoteJobOrigin(RemoteRepositoryOrigin(location, "__repository__"), job.name)
    with instance_of(world) as instance:
        run = instance.create_run_for_job(job, run_config={}, status=DagsterRunStatus(status),
                                          tags={"yaml2dag/trigger": "ui" if launched else "cli", **(tags or {})},
                                          remote_job_origin=origin)
        return run.run_id


def stored_status(world, run_id: str) -> str:
    with instance_of(world) as instance:
        return instance.get_run_by_id(run_id).status.value


def retries_of(world, run_id: str) -> list[str]:
    from dagster import RunsFilter

    with instance_of(world) as instance:
        return [r.run_id for r in instance.get_runs(RunsFilter(tags={"yaml2dag/retry_of": run_id}))]


# --------------------------------------------------------------------------- retry refusals


def test_retry_and_cancel_of_an_unknown_run_say_so_and_exit_1(world):
    data = cli_json(world, "retry", "0123456789abcdef", code=1)
    assert "0123456789abcdef" in data["error"] and "no run" in data["error"].lower(), data
    text = cli(world, "cancel", "0123456789abcdef")
    assert text.code == 1 and text.stderr.startswith("error: ") and "0123456789abcdef" in text.stderr


def test_a_run_that_has_not_finished_is_not_retried(world):
    run_id = unfinished_run(world, "STARTED")
    data = cli_json(world, "retry", run_id, "--all", code=1)
    assert data["error"] == f"run {run_id} is STARTED; only finished runs can be retried"
    assert retries_of(world, run_id) == [] and stored_status(world, run_id) == "STARTED"


def test_a_successful_run_is_not_retried_from_failure_nor_from_a_step_it_does_not_have(world):
    run_id = world["succeeded"]
    from_failure = cli_json(world, "retry", run_id, "--from-failure", code=1)
    assert from_failure["error"] == f"run {run_id} did not fail (SUCCESS); use --from-step ID or --all"
    unknown_step = cli_json(world, "retry", run_id, "--from-step", "third", code=1)
    assert unknown_step["error"] == f"run {run_id} has no step `third` (steps: first, second)"
    assert retries_of(world, run_id) == []


def test_retry_when_the_workflow_is_not_in_the_library(world, tmp_path):
    empty = tmp_path / "other_defs"
    empty.mkdir()
    run_id = world["succeeded"]
    data = cli_json(world, "retry", run_id, code=1, env={"YAML2DAG_DEFINITIONS": str(empty)})
    assert data["error"] == (f"the workflow 'Two Steps' of run {run_id} is not in the library {empty}; "
                             "cannot rebuild its job")
    missing = cli_json(world, "retry", run_id, code=2, env={"YAML2DAG_DEFINITIONS": str(tmp_path / "missing")})
    assert "does not exist" in missing["error"]
    assert retries_of(world, run_id) == []


def test_a_hand_edited_workflow_is_retried_only_with_use_current(world, tmp_path):
    """The file changed since the run and no saved version has the run's hash: refused, with the
    way out; --use-current re-executes the edited file and says so."""
    edited = tmp_path / "edited_defs"
    shutil.copytree(world["defs"], edited)
    path = edited / "two_steps.yaml"
    path.write_text(path.read_text().replace("echo second-output", "echo edited-output"))
    env = {"YAML2DAG_DEFINITIONS": str(edited)}
    run_id = world["succeeded"]
    refused = cli_json(world, "retry", run_id, "--all", code=1, env=env)
    assert refused["error"].startswith(f"the workflow file {path} changed since run {run_id} and no saved version in ")
    assert refused["error"].endswith("use --use-current to re-execute with the current file")
    assert retries_of(world, run_id) == []
    done = cli(world, "retry", run_id, "--from-step", "second", "--use-current", env=env)
    assert done.code == 0, done.stdout + done.stderr
    assert ("note: the workflow changed since the run and no saved version matches; using the current file"
            in done.stdout)
    assert f"(from step of {run_id}): completed" in done.stdout
    assert "first: reused" in done.stdout and "second: succeeded" in done.stdout
    (new_id,) = retries_of(world, run_id)
    logs = cli(world, "logs", new_id, env=env)
    assert "edited-output" in logs.stdout and "second-output" not in logs.stdout
    assert path.read_text().count("edited-output") == 1  # the retry did not write the file


# --------------------------------------------------------------------------- cancel


def cancellations(world, run_id: str) -> list[tuple]:
    audit = cli_json(world, "audit", run_id)
    return [(c["reason"], c["by"], c["method"]) for c in audit["cancellations"]]


def test_cancel_of_a_run_whose_process_is_gone_marks_it_canceled_and_records_why(world):
    run_id = unfinished_run(world, "STARTED")  # no yaml2dag process recorded
    data = cli_json(world, "cancel", run_id, "--reason", "stuck since Friday", "--by", "ops")
    assert (data["previous_status"], data["status"], data["method"], data["ended"], data["canceling"]) == (
        "STARTED", "canceled", "marked", True, False)
    assert (data["reason"], data["by"]) == ("stuck since Friday", "ops")
    assert stored_status(world, run_id) == "CANCELED"
    assert cancellations(world, run_id) == [("stuck since Friday", "ops", "marked")]
    again = cli(world, "cancel", run_id)
    assert again.code == 1 and "has already finished (CANCELED); nothing to cancel" in again.stderr


def test_cancel_of_a_queued_run_takes_it_off_the_queue(world):
    run_id = unfinished_run(world, "QUEUED", launched=True)
    done = cli(world, "cancel", run_id, "--reason", "not today")
    assert done.code == 0, done.stdout + done.stderr
    assert f"run {run_id}: canceled (was queued; via queue)" in done.stdout
    assert stored_status(world, run_id) == "CANCELED"
    assert cancellations(world, run_id) == [("not today", "operator", "queue")]


def test_cancel_of_a_launched_run_the_launcher_no_longer_runs_marks_it_canceled(world):
    run_id = unfinished_run(world, "STARTED", launched=True)
    data = cli_json(world, "cancel", run_id)
    assert (data["method"], data["status"], data["ended"]) == ("marked", "canceled", True)
    assert stored_status(world, run_id) == "CANCELED"


def test_cancel_of_a_run_another_machine_executes_is_requested_and_left_to_it(world):
    run_id = unfinished_run(world, "STARTED", {"yaml2dag/cli_pid": "4242", "yaml2dag/cli_host": "build-agent-7"})
    data = cli_json(world, "cancel", run_id, "--wait", "1")  # waits the second out: nobody here stops it
    assert (data["method"], data["status"], data["canceling"], data["ended"], data["dagster_status"]) == (
        "requested", "running", True, False, "CANCELING")
    assert stored_status(world, run_id) == "CANCELING"
    # asked again: still requested, the run is not marked twice, and the text says who stops it
    text = cli(world, "cancel", run_id, "--wait", "0", "--reason", "again")
    assert text.code == 0, text.stdout + text.stderr
    assert f"run {run_id}: cancel requested (requested); it is still running (canceling) after 0s" in text.stdout
    assert "the run executes on another machine" in text.stdout
    assert stored_status(world, run_id) == "CANCELING"
    assert [c[0] for c in cancellations(world, run_id)] == [None, "again"]


def test_cancel_never_signals_a_process_that_is_not_yaml2dag(world):
    """The run's recorded pid is alive on this host but is another program (a recycled pid):
    it is not signalled, the run is marked canceled."""
    sleeper = subprocess.Popen(["sleep", "300"], start_new_session=True)
    try:
        run_id = unfinished_run(world, "STARTED", {"yaml2dag/cli_pid": str(sleeper.pid),
                                                   "yaml2dag/cli_host": socket.gethostname()})
        data = cli_json(world, "cancel", run_id, "--wait", "5")
        assert (data["method"], data["status"], data["ended"]) == ("marked", "canceled", True)
        assert sleeper.poll() is None and psutil.Process(sleeper.pid).status() != psutil.STATUS_ZOMBIE
        assert stored_status(world, run_id) == "CANCELED"
    finally:
        sleeper.kill()
        sleeper.wait(timeout=30)


def test_the_api_does_not_signal_a_python_process_started_after_the_run(world):
    """A Python process that got the run's pid after the run was created is not the run's; a pid
    no process has any more is not signalled either (the API does not reap dead runs first, the
    CLI does)."""
    from yaml2dag.runs.history.actions import cancel_run

    run_id = unfinished_run(world, "STARTED")
    with instance_of(world) as instance:
        created = instance.get_run_record_by_id(run_id).create_timestamp.timestamp()
    # psutil's process start times are up to a second early (the boot time has whole seconds)
    wait_until(lambda: time.time() > created + 3, 10, 0.1, "three seconds after the run's creation")
    newer = subprocess.Popen(["python3", "-c", "import time; time.sleep(300)"], start_new_session=True)
    try:
        with instance_of(world) as instance:
            instance.add_run_tags(run_id, {"yaml2dag/cli_pid": str(newer.pid), "yaml2dag/cli_host": socket.gethostname()})
            data = cancel_run(instance, run_id, by="api", wait_s=5)
        assert (data["method"], data["status"]) == ("marked", "canceled")
        assert newer.poll() is None
        gone = subprocess.Popen(["true"])
        gone.wait(timeout=30)
        dead = unfinished_run(world, "STARTED", {"yaml2dag/cli_pid": str(gone.pid), "yaml2dag/cli_host": socket.gethostname()})
        with instance_of(world) as instance:
            data = cancel_run(instance, dead, by="api", reason="gone", wait_s=0)
        assert (data["method"], data["status"], data["reason"]) == ("marked", "canceled", "gone")
    finally:
        newer.send_signal(signal.SIGKILL)
        newer.wait(timeout=30)


# --------------------------------------------------------------------------- a retry canceled while it runs

HOLDS = """
name: Holds
steps:
  - id: quick
    tool: shell
    parameters: {command: "echo quick-output"}
  - id: hold
    tool: shell
    parameters:
      command: "if [ -e {marker} ]; then echo $$ > {marker}.pid; sleep 300; fi; echo held"
"""


def test_a_retry_canceled_while_it_runs_ends_canceled_and_says_so(world, tmp_path):
    """`yaml2dag cancel` of the run a `yaml2dag retry` is executing: the retry process is told
    (SIGINT), its step in flight is stopped, and the retry reports the new run as canceled
    (exit 1); the parent is untouched."""
    from dagster import DagsterEventType, RunsFilter

    from cli_forkserver import start_cli
    from yaml2dag.format.validation import validate_file
    from yaml2dag.runs.runner import run_workflow

    defs = tmp_path / "holds_defs"
    marker = tmp_path / "hold.marker"
    write(defs, "holds.yaml", HOLDS.replace("{marker}", str(marker)))
    env = {"YAML2DAG_DEFINITIONS": str(defs)}
    with instance_of(world) as instance:
        parent = run_workflow(validate_file(defs / "holds.yaml").validated(), {}, instance=instance)
    assert parent.status == "SUCCESS"
    marker.write_text("hold")
    call = start_cli("retry", parent.run_id, "--from-step", "hold", "--format", "json",
                     env={**world["env"], **env})
    try:
        def holding_run():
            with instance_of(world) as instance:
                runs = instance.get_runs(RunsFilter(tags={"yaml2dag/retry_of": parent.run_id}), limit=1)
                if runs and Path(f"{marker}.pid").exists() and any(
                        r.step_key == "hold" for r in instance.all_logs(runs[0].run_id, of_type=DagsterEventType.STEP_START)):
                    return runs[0].run_id
            return None

        new_id = wait_until(holding_run, 120, 0.3, "the retry to reach its `hold` step", process=call)
        canceled = cli_json(world, "cancel", new_id, "--reason", "enough", "--wait", "60", env=env)
        assert (canceled["method"], canceled["status"], canceled["ended"]) == ("signal", "canceled", True)
        done = call.finish(120)
    finally:
        call.kill()
    assert done.code == 1, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert (data["run_id"], data["parent_run_id"], data["status"]) == (new_id, parent.run_id, "canceled")
    assert data["step_statuses"]["quick"] == "reused"
    pid = int(Path(f"{marker}.pid").read_text())
    wait_until(lambda: not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE, 30, 0.2,
               "the held step's shell to end after the cancel")
    assert stored_status(world, new_id) == "CANCELED" and stored_status(world, parent.run_id) == "SUCCESS"
