"""Issue 10, point 5, without a Dagster run: telling a live yaml2dag process from a dead one or a
recycled pid, and killing exactly what a step left behind (real processes, checked with psutil)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time

import psutil
import pytest

from yaml2dag.compiler import run_health
from yaml2dag.compiler.run_health import TAG_CLI_HOST, TAG_CLI_PID, TAG_CLI_STARTED, process_state


def _sleeper(*, session: bool = True, script: str = "sleep 300") -> subprocess.Popen:
    return subprocess.Popen(["bash", "-c", script], start_new_session=session, stdout=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait(timeout=30)


def test_cli_tags_describe_this_process():
    tags = run_health.cli_tags()
    assert tags[TAG_CLI_PID] == str(os.getpid()) and tags[TAG_CLI_HOST] == socket.gethostname()
    assert abs(float(tags[TAG_CLI_STARTED]) - psutil.Process().create_time()) < 0.01
    assert process_state(tags) == ("alive", f"yaml2dag process {os.getpid()} on {socket.gethostname()}")


def test_a_killed_process_is_dead_also_as_a_zombie():
    proc = _sleeper()
    try:
        tags = {TAG_CLI_PID: str(proc.pid), TAG_CLI_HOST: socket.gethostname(),
                TAG_CLI_STARTED: f"{psutil.Process(proc.pid).create_time():.3f}"}
        assert process_state(tags)[0] == "alive"
        os.kill(proc.pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while psutil.Process(proc.pid).status() != psutil.STATUS_ZOMBIE and time.monotonic() < deadline:
            time.sleep(0.05)
        assert process_state(tags)[0] == "dead"  # not reaped yet: a zombie runs nothing
    finally:
        _stop(proc)
    assert process_state(tags)[0] == "dead"  # reaped: no such process


def test_a_recycled_pid_is_dead():
    """The pid exists but belongs to a process that started at another time."""
    this = psutil.Process()
    tags = {TAG_CLI_PID: str(this.pid), TAG_CLI_HOST: socket.gethostname(),
            TAG_CLI_STARTED: f"{this.create_time() - 3600:.3f}"}
    assert process_state(tags)[0] == "dead"
    # without the start tag (runs of older versions): a process younger than the run is not its process
    old = {TAG_CLI_PID: str(this.pid), TAG_CLI_HOST: socket.gethostname()}
    assert process_state(old, created=this.create_time() - 60)[0] == "dead"
    assert process_state(old, created=this.create_time() + 60)[0] == "alive"


@pytest.mark.parametrize("tags", [{}, {TAG_CLI_PID: "12x", TAG_CLI_HOST: "h"},
                                  {TAG_CLI_PID: "1", TAG_CLI_HOST: "another-machine.example"},
                                  {TAG_CLI_PID: "999999", TAG_CLI_HOST: socket.gethostname(),
                                   run_health.TAG_CLI_PID_NAMESPACE: "pid:[1]"}])
def test_what_cannot_be_judged_is_unknown(tags):
    assert process_state(tags)[0] == "unknown"


def test_a_recorded_process_group_is_killed_with_its_children():
    proc = _sleeper(script="sleep 300 & sleep 300 & wait")
    try:
        deadline = time.monotonic() + 30
        while len(psutil.Process(proc.pid).children()) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        members = [proc.pid] + [c.pid for c in psutil.Process(proc.pid).children()]
        record = {"pid": proc.pid, "pgid": proc.pid, "started": psutil.Process(proc.pid).create_time(),
                  "at": time.time(), "step": "s"}
        killed = run_health.kill_step_processes([record])
        assert sorted(killed) == sorted(members)
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in members) \
                and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in members)
    finally:
        _stop(proc)


def test_survivors_of_a_group_whose_leader_exited_are_killed():
    proc = _sleeper(script="sleep 300 & echo $!")
    try:
        started = psutil.Process(proc.pid).create_time()
        proc.wait(timeout=30)  # the leader is gone; its background child lives on in the group
        survivors = [p for p in psutil.process_iter(["pid"]) if _pgid(p.pid) == proc.pid]
        assert survivors
        killed = run_health.kill_step_processes([{"pid": proc.pid, "pgid": proc.pid, "started": started,
                                                 "at": time.time(), "step": "s"}])
        assert sorted(killed) == sorted(p.pid for p in survivors)
    finally:
        _stop(proc)


def test_a_recycled_group_id_is_left_alone():
    """The recorded leader started at another time: the group now is someone else's."""
    proc = _sleeper()
    try:
        record = {"pid": proc.pid, "pgid": proc.pid, "started": psutil.Process(proc.pid).create_time() - 600,
                  "at": time.time(), "step": "s"}
        assert run_health.kill_step_processes([record]) == []
        assert proc.poll() is None
    finally:
        _stop(proc)


def test_a_step_worker_is_killed_only_if_it_started_before_it_was_recorded():
    proc = _sleeper(session=False)
    try:
        started = psutil.Process(proc.pid).create_time()
        too_early = {"pid": proc.pid, "pgid": None, "started": None, "at": started - 10, "step": "s"}
        assert run_health.kill_step_processes([too_early]) == []  # recorded before it existed: another process
        assert run_health.kill_step_processes([dict(too_early, at=started + 1)], not_before=started + 60) == []
        assert run_health.kill_step_processes([dict(too_early, at=started + 1)], not_before=started - 1) == [proc.pid]
        proc.wait(timeout=30)
    finally:
        _stop(proc)


def test_this_process_is_never_killed():
    me = psutil.Process()
    record = {"pid": me.pid, "pgid": None, "started": None, "at": time.time(), "step": "s"}
    assert run_health.kill_step_processes([record]) == []


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except OSError:
        return None


def test_the_watch_looks_at_most_once_per_interval(monkeypatch):
    calls = []
    monkeypatch.setattr(run_health, "reap_dead_runs", lambda instance, by, tags=None: calls.append(by) or [])
    now = [100.0]
    watch = run_health.DeadRunWatch(object(), "test", interval=5, clock=lambda: now[0])
    watch(); watch()
    now[0] += 4.9
    watch()
    now[0] += 0.2
    watch()
    assert calls == ["test", "test"]
    monkeypatch.setattr(run_health, "reap_dead_runs", lambda *a, **k: 1 / 0)
    now[0] += 10
    assert watch() == []  # a failed look never stops the waiting
