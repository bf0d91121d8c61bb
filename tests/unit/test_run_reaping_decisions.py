"""When :func:`yaml2dag.compiler.run_health.reap_run` ends a run and when it leaves it alone, on an
in-memory instance with run records made by hand (no Dagster run starts): a run whose process
still runs and a finished run are never touched; a dead run whose recorded start time is garbled
is failed with a reason that says so instead of a wrong date."""

from __future__ import annotations

import socket
import subprocess
import uuid

import pytest
from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

from yaml2dag.compiler.run_health import TAG_CLI_HOST, TAG_CLI_PID, TAG_CLI_STARTED, cli_tags, reap_run


@pytest.fixture
def memory_instance():
    with DagsterInstance.ephemeral() as instance:
        yield instance


def _add_run(instance, status: DagsterRunStatus, tags: dict) -> str:
    run_id = str(uuid.uuid4())
    instance.add_run(DagsterRun(job_name="nightly", run_id=run_id, status=status, tags=tags))
    return run_id


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait(timeout=30)
    return proc.pid


def test_a_run_whose_process_still_runs_is_left_alone(memory_instance):
    run_id = _add_run(memory_instance, DagsterRunStatus.STARTED, cli_tags())  # this process: alive
    assert reap_run(memory_instance, run_id, by="yaml2dag status") is None
    assert memory_instance.get_run_by_id(run_id).status == DagsterRunStatus.STARTED


def test_a_finished_run_is_never_reaped(memory_instance):
    tags = {TAG_CLI_PID: str(_dead_pid()), TAG_CLI_HOST: socket.gethostname()}
    run_id = _add_run(memory_instance, DagsterRunStatus.SUCCESS, tags)
    assert reap_run(memory_instance, run_id, by="yaml2dag status") is None
    assert memory_instance.get_run_by_id(run_id).status == DagsterRunStatus.SUCCESS
    assert reap_run(memory_instance, str(uuid.uuid4()), by="yaml2dag status") is None  # no such run


def test_a_dead_run_with_a_garbled_start_time_is_failed_with_an_unknown_start(memory_instance):
    pid = _dead_pid()
    tags = {TAG_CLI_PID: str(pid), TAG_CLI_HOST: socket.gethostname(), TAG_CLI_STARTED: "yesterday"}
    run_id = _add_run(memory_instance, DagsterRunStatus.STARTED, tags)
    done = reap_run(memory_instance, run_id, by="yaml2dag status")
    assert done is not None and done["status"] == "FAILURE" and done["previous_status"] == "STARTED"
    assert done["reason"] == (f"its yaml2dag process (pid {pid} on {socket.gethostname()}, started an unknown time) "
                              "was killed or crashed while the run was STARTED; found by yaml2dag status")
    assert memory_instance.get_run_by_id(run_id).status == DagsterRunStatus.FAILURE
    assert reap_run(memory_instance, run_id, by="yaml2dag status") is None  # once only
