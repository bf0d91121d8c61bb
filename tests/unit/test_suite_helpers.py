"""The suite's own machinery (issue 11, tests in tiers): the bounded wait, the tier markers set by
folder, the prepared DAGSTER_HOME, and the guard against os.environ changes that outlive a test."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import TEST_DAGSTER_YAML, make_dagster_home
from waiting import WaitTimeout, wait_until


def test_wait_until_returns_the_first_true_value():
    calls = []

    def third_time():
        calls.append(1)
        return "ready" if len(calls) >= 3 else None

    assert wait_until(third_time, 5, 0.01, "the third call") == "ready"
    assert len(calls) == 3


def test_wait_until_times_out_naming_what_it_waited_for_and_the_last_value():
    started = time.monotonic()
    with pytest.raises(WaitTimeout, match=r"timed out after 0.3s waiting for the moon \(last: 0\)") as info:
        wait_until(lambda: 0, 0.3, 0.05, "the moon", details=lambda: "log tail here")
    assert time.monotonic() - started >= 0.3  # it waited the whole bound
    assert "log tail here" in str(info.value)
    assert isinstance(info.value, AssertionError)  # a plain test failure to pytest


def test_wait_until_checks_once_more_at_the_deadline():
    start = time.monotonic()
    # true only after the bound has passed: a slow interval must not lose the last answer
    assert wait_until(lambda: time.monotonic() - start >= 0.2, 0.2, 5, "the deadline") is True


def test_wait_until_fails_at_once_when_the_process_exits():
    proc = subprocess.Popen([sys.executable, "-c", "raise SystemExit(7)"])
    try:
        # the message names the exit, not the 600 s bound: it did not wait the bound out
        with pytest.raises(WaitTimeout, match="exited with code 7 while waiting for a file"):
            wait_until(lambda: False, 600, 0.05, "a file", process=proc)
    finally:
        proc.kill()
        proc.wait(timeout=10)


def test_wait_until_reads_the_exit_code_from_poll_alone():
    class ForkedCall:  # a cli_forkserver.Call: poll() gives the code, there is no returncode
        args = ["run", "Limited Runs"]
        polls = 0

        def poll(self):
            self.polls += 1
            return None if self.polls < 3 else 4

    call = ForkedCall()
    with pytest.raises(WaitTimeout, match="run Limited Runs exited with code 4 while waiting for a gate"):
        wait_until(lambda: False, 600, 0.01, "a gate", process=call)
    assert call.polls == 3


def test_wait_until_counts_only_the_named_exceptions_as_not_yet():
    attempts = []

    def flaky():
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionRefusedError("not yet")
        return 42

    assert wait_until(flaky, 5, 0.01, "the server", ignore=(ConnectionError,)) == 42
    with pytest.raises(ZeroDivisionError):
        wait_until(lambda: 1 / 0, 5, 0.01, "a bug", ignore=(ConnectionError,))


def test_tiers_are_marked_by_folder(request):
    assert request.node.get_closest_marker("unit") is not None
    assert request.node.get_closest_marker("integration") is None
    assert request.node.get_closest_marker("slow") is None


def test_a_test_home_without_storage_holds_only_its_configuration(tmp_path):
    home = make_dagster_home(tmp_path / "home", storage=False)
    assert sorted(p.name for p in home.iterdir()) == ["dagster.yaml"]
    assert (home / "dagster.yaml").read_text() == TEST_DAGSTER_YAML


def test_the_environment_guard_fails_a_test_that_leaks_a_variable(pytester):
    """The autouse guard of tests/conftest.py, run on a small suite of its own."""
    pytester.makeconftest((Path(__file__).parents[1] / "conftest.py").read_text())
    unit = pytester.mkdir("unit")
    (unit / "test_leak.py").write_text(
        "import os\n"
        "def test_leaks():\n    os.environ['YAML2DAG_LEAKED_BY_TEST'] = '1'\n"
        "def test_clean(monkeypatch):\n    monkeypatch.setenv('YAML2DAG_SET_PROPERLY', '1')\n"
        "def test_after():\n    assert 'YAML2DAG_LEAKED_BY_TEST' not in os.environ\n")
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "-n", "0", str(unit))
    result.assert_outcomes(passed=3, errors=1)
    result.stdout.fnmatch_lines(["*test_leaks left os.environ changed: YAML2DAG_LEAKED_BY_TEST*"])
    assert "YAML2DAG_LEAKED_BY_TEST" not in os.environ


def test_run_process_drops_variables_of_this_process_but_env_may_set_them_again(monkeypatch):
    from conftest import run_process

    monkeypatch.setenv("YAML2DAG_TEST_DROPPED", "a")
    monkeypatch.setenv("YAML2DAG_TEST_RESET", "b")
    done = run_process(["env"], env={"YAML2DAG_TEST_RESET": "c"}, drop=("YAML2DAG_TEST_DROPPED", "YAML2DAG_TEST_RESET"),
                       timeout=60)
    lines = done.stdout.splitlines()
    assert done.code == 0 and "YAML2DAG_TEST_RESET=c" in lines
    assert not any(line.startswith("YAML2DAG_TEST_DROPPED=") for line in lines)
    assert os.environ["YAML2DAG_TEST_DROPPED"] == "a"  # this process keeps it
