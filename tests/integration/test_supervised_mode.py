"""Supervised mode (issue 15.7): `yaml2dag run --mode supervised|hybrid|autopilot`.

Real `yaml2dag run` subprocesses on a pseudo-terminal (the `pty` module, bounded reads) answer
continue, skip and abort; hybrid asks only before `confirm: true` steps; autopilot asks nothing;
without a terminal supervised is refused. `dagster job execute` of a workflow with `confirm:
true` waits at an approval gate until `yaml2dag approve` (or `reject`) from another process
decides it. Every command runs from a working directory with a relative definitions folder and
an explicit DAGSTER_HOME.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_dagster_home, run_cli, write
from paused_runs import paused_run_id
from waiting import wait_until

pytestmark = pytest.mark.slow

#: Bound for one run or one prompt (seconds): generous, the machine is shared.
WAIT = 150
PROMPT = "[c/s/a]: "

WORKFLOW = """
    name: Supervised Demo
    id: supervised_demo
    steps:
      - id: first
        tool: shell
        parameters: {command: "echo one > first.txt"}
      - id: second
        name: Second step
        tool: shell
        confirm: true
        parameters: {command: "echo two > second.txt"}
      - id: third
        tool: shell
        parameters: {command: "echo '{{ second.output }}' > third.txt"}
      - id: fourth
        tool: shell
        parameters: {command: "echo four > fourth.txt"}
"""


@pytest.fixture
def world(tmp_path):
    """(root, env): a working directory with `defs/supervised.yaml`, explicit settings."""
    write(tmp_path / "defs", "supervised.yaml", WORKFLOW)
    env = {"DAGSTER_HOME": str(make_dagster_home(tmp_path / "home")), "YAML2DAG_DEFINITIONS": "defs",
           "YAML2DAG_USER": "alice", "NO_COLOR": "1", "TERM": "dumb"}
    return tmp_path, env


class Terminal:
    """`yaml2dag ARGS` on a pseudo-terminal (stdin, stdout and stderr), in its own process group."""

    def __init__(self, args: list[str], env: dict, root: Path):
        master, slave = pty.openpty()
        self.master = master
        self.proc = subprocess.Popen([sys.executable, "-m", "yaml2dag", *args], cwd=root, env=dict(os.environ, **env),
                                     stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
        os.close(slave)
        self.text = ""
        self.answered = 0

    def _read(self, seconds: float) -> bool:
        """Read what is there within ``seconds``; False once the terminal is closed."""
        ready, _w, _x = select.select([self.master], [], [], seconds)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 4096)
        except OSError:  # EIO: the process closed its side
            return False
        if not chunk:
            return False
        self.text += chunk.decode("utf-8", "replace").replace("\r\n", "\n")
        return True

    def _until(self, done, what: str) -> None:
        deadline = time.monotonic() + WAIT
        while not done():
            if time.monotonic() > deadline:
                raise AssertionError(f"no {what} within {WAIT}s:\n{self.text}")
            if not self._read(0.2):
                raise AssertionError(f"the terminal closed before {what}:\n{self.text}")

    def answer(self, reply: str) -> None:
        """Wait for one more question than answered so far, then type ``reply``."""
        self.answered += 1
        self._until(lambda: self.text.count(PROMPT) >= self.answered, f"question #{self.answered}")
        os.write(self.master, (reply + "\n").encode())

    def finish(self) -> tuple[int, str]:
        """Read until the process closes the terminal; its exit code and everything it wrote."""
        deadline = time.monotonic() + WAIT
        while self._read(0.2):
            if time.monotonic() > deadline:
                raise AssertionError(f"did not finish within {WAIT}s:\n{self.text}")
        return self.proc.wait(timeout=WAIT), self.text

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(self.master)


def _supervised(root: Path, env: dict, mode: str, replies: list[str]) -> tuple[int, str]:
    term = Terminal(["run", "Supervised Demo", "--mode", mode], env, root)
    try:
        for reply in replies:
            term.answer(reply)
        return term.finish()
    finally:
        term.kill()


def _run_id(text: str) -> str:
    found = re.findall(r"run ([0-9a-f]{8}-[0-9a-f-]{27})", text)
    assert found, text
    return found[-1]


def _audit(root: Path, env: dict, run_id: str) -> dict:
    done = run_cli("audit", run_id, "--format", "json", env=env, cwd=root)
    assert done.code == 0, done.stderr
    return json.loads(done.stdout)


def _decisions(record: dict) -> dict[str, list[tuple[str, str]]]:
    return {g["step"]: [(d["decision"], d["by"]) for d in g["decisions"]] for g in record["approvals"]}


def test_supervised_asks_before_every_step_continue_and_skip(world):
    root, env = world
    code, text = _supervised(root, env, "supervised", ["c", "s", "continue"])
    assert code == 0, text
    # asked before first, second and fourth; third reads second's result: skipped with it, not asked
    asked = re.findall(r"\? Run step (.+?) \[(\w+)\]\?", text)
    assert [key for _title, key in asked] == ["first", "second", "fourth"], text
    assert ("Second step", "second") in asked
    assert "Second step skipped: skipped by alice when asked" in text
    assert (root / "first.txt").is_file() and (root / "fourth.txt").is_file()
    assert not (root / "second.txt").exists() and not (root / "third.txt").exists()
    record = _audit(root, env, _run_id(text))
    statuses = {s["step"]: s["status"] for s in record["steps"]}
    assert statuses == {"first": "succeeded", "second": "skipped", "third": "skipped", "fourth": "succeeded"}
    assert _decisions(record) == {"first": [("continue", "alice")], "second": [("skip", "alice")],
                                  "fourth": [("continue", "alice")]}
    second = next(g for g in record["approvals"] if g["step"] == "second")
    assert second["resolved"]["decision"] == "skipped"
    assert second["decisions"][0]["at"]  # when, as an ISO time
    assert "supervised mode" in second["message"]
    # Dagster's own view: the step is SKIPPED, like a false `when`
    from dagster import DagsterEventType, DagsterInstance

    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as inst:
        skipped = {r.step_key for r in inst.all_logs(record["run_id"], of_type=DagsterEventType.STEP_SKIPPED)}
        tags = inst.get_run_by_id(record["run_id"]).tags
    assert {"second", "third"} <= skipped and "fourth" not in skipped
    assert tags["yaml2dag/mode"] == "supervised"


def test_supervised_abort_fails_the_run_with_the_reason(world):
    root, env = world
    code, text = _supervised(root, env, "supervised", ["c", "a"])
    assert code == 1, text
    assert text.count(PROMPT) == 2, text  # nothing asked after the abort
    assert "aborted by alice before second" in text
    assert not (root / "second.txt").exists() and not (root / "fourth.txt").exists()
    status = run_cli("status", _run_id(text), "--format", "json", env=env, cwd=root)
    info = json.loads(status.stdout)
    assert info["dagster_status"] == "FAILURE"
    assert info["error_message"] == "aborted by alice before second"
    assert info["step_statuses"]["fourth"] == "not_run"
    record = _audit(root, env, info["run_id"])
    assert _decisions(record)["second"] == [("abort", "alice")]


def test_hybrid_asks_only_before_confirm_steps(world):
    root, env = world
    code, text = _supervised(root, env, "hybrid", ["c"])
    assert code == 0, text
    assert text.count(PROMPT) == 1, text
    assert "? Run step Second step [second]?" in text
    assert (root / "third.txt").read_text().strip() == ""  # second wrote to a file: empty output
    assert all((root / f"{name}.txt").is_file() for name in ("first", "second", "fourth"))
    assert list(_decisions(_audit(root, env, _run_id(text)))) == ["second"]


def test_autopilot_asks_nothing_and_supervised_needs_a_terminal(world):
    root, env = world
    done = run_cli("run", "Supervised Demo", "--format", "json", env=env, cwd=root)  # stdin: /dev/null
    assert done.code == 0, done.stderr
    result = json.loads(done.stdout)
    assert set(result["steps"].values()) == {"succeeded"}
    assert _audit(root, env, result["run_id"])["approvals"] == []
    refused = run_cli("run", "Supervised Demo", "--mode", "supervised", env=env, cwd=root)
    assert refused.code == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1 and "stdin is not a terminal" in lines[0], refused.stderr
    assert "Traceback" not in refused.stderr


def _background_execute(root: Path, env: dict) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "dagster", "job", "execute", "-m", "yaml2dag.definitions",
                             "-j", "supervised_demo"], cwd=root, env=dict(os.environ, **env),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _waiting_gate(root: Path, env: dict, proc: subprocess.Popen) -> tuple[str, dict]:
    """The run's id and its `status --format json` once it is paused at its confirmation gate:
    waited for in-process (cheap polls), then asked of the CLI (bounded, at once in practice)."""
    from yaml2dag.runs.runner import prepare_storage

    prepare_storage(env["DAGSTER_HOME"])
    run_id = paused_run_id(env["DAGSTER_HOME"], proc, timeout=WAIT)

    def paused() -> dict | None:
        done = run_cli("status", run_id, "--format", "json", env=env, cwd=root)
        info = json.loads(done.stdout) if done.code == 0 else {}
        return info if info.get("status") == "paused" else None

    return run_id, wait_until(paused, WAIT, 0.5, "the confirmation gate to wait", process=proc)


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_dagster_job_execute_waits_at_the_gate_until_decided(world, decision):
    root, env = world
    proc = _background_execute(root, env)
    try:
        run_id, info = _waiting_gate(root, env, proc)
        assert [g["step"] for g in info["waiting"]] == ["second"]
        assert "approve to run it, reject to abort" in info["waiting"][0]["message"]
        assert info["step_statuses"]["first"] == "succeeded"
        assert not (root / "second.txt").exists()
        decided = run_cli(decision, run_id[:8], "--by", "bob", env=env, cwd=root)
        assert decided.code == 0, decided.stderr
        out, err = proc.communicate(timeout=WAIT)
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    record = _audit(root, env, run_id)
    gate = record["approvals"][0]
    assert gate["decisions"][0]["decision"] == decision and gate["decisions"][0]["by"] == "bob"
    if decision == "approve":
        assert proc.returncode == 0, err
        assert record["status"] == "completed"
        assert gate["resolved"]["decision"] == "continued"
        assert (root / "fourth.txt").is_file()
    else:
        assert proc.returncode != 0
        assert record["status"] == "failed"
        assert gate["resolved"]["decision"] == "aborted"
        assert record["error_message"] == "aborted by bob before second"
        assert record["failed_step"] == "second"
        assert not (root / "fourth.txt").exists()


def test_a_retry_of_an_aborted_supervised_run_asks_nothing(world):
    root, env = world
    code, text = _supervised(root, env, "supervised", ["c", "abort"])
    assert code == 1, text
    parent = _run_id(text)
    retried = run_cli("retry", parent, "--format", "json", env=env, cwd=root)  # stdin: /dev/null
    assert retried.code == 0, retried.stdout + retried.stderr
    info = json.loads(retried.stdout)
    assert info["dagster_status"] == "SUCCESS"
    assert info["step_statuses"]["first"] == "reused"
    assert {info["step_statuses"][k] for k in ("second", "third", "fourth")} == {"succeeded"}
    assert (root / "fourth.txt").is_file()
    record = _audit(root, env, info["run_id"])
    assert record["approvals"] == []  # nothing asked


def test_approve_from_another_shell_answers_the_terminal_question(world):
    root, env = world
    term = Terminal(["run", "Supervised Demo", "--mode", "hybrid"], env, root)
    try:
        term._until(lambda: PROMPT in term.text, "the question")
        from dagster import DagsterInstance

        with DagsterInstance.from_config(env["DAGSTER_HOME"]) as inst:
            run_id = inst.get_runs(limit=1)[0].run_id
        decided = run_cli("approve", run_id, "--step", "second", "--by", "bob", env=env, cwd=root)
        assert decided.code == 0, decided.stderr
        code, text = term.finish()
    finally:
        term.kill()
    assert code == 0, text
    assert "(decided elsewhere, or the run ended)" in text
    assert (root / "second.txt").is_file()
    gate = _audit(root, env, run_id)["approvals"][0]
    assert [(d["decision"], d["by"]) for d in gate["decisions"]] == [("approve", "bob")]
    assert gate["resolved"]["decision"] == "continued"
