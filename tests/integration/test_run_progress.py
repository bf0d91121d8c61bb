"""Issue 15, point 6: progress you can plan with. `yaml2dag run` shows percent done and an ETA
from the median step durations of earlier successful runs (without one: percent by step count
and "no ETA yet"), `status` shows the same while a run is in progress (`progress` in its JSON),
and the final report adds a summary: succeeded / continued / skipped / failed steps, the slowest
step against its usual duration, the run against the workflow's median.

Real `python -m yaml2dag` subprocesses from a working directory, with the settings given
explicitly as relative paths (YAML2DAG_DEFINITIONS=definitions, DAGSTER_HOME=dagster_home), on a
temporary Dagster home. A step of the timed workflow holds until the test creates a flag file,
so that a run is observed mid-way without depending on how fast the machine is; it touches
FLAG.holding when it starts, so the test waits for that file (cheap) instead of polling the CLI.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dagster import DagsterInstance, DagsterRunStatus, RunsFilter

from conftest import CLI_TIMEOUT, make_dagster_home, run_cli, write
from waiting import wait_until

pytestmark = pytest.mark.slow

TIMED = """
name: Timed
parameters:
  flag: {type: string}
steps:
  - id: first
    tool: shell
    parameters: {command: "sleep 1"}
  - id: second
    tool: shell
    parameters: {command: "sleep 1"}
  - id: hold
    tool: shell
    parameters: {command: "touch '{{ flag }}.holding'; while [ ! -e '{{ flag }}' ]; do sleep 0.1; done"}
  - id: last
    tool: shell
    parameters: {command: "sleep 1"}
"""

MIXED = """
name: Mixed
parameters:
  fail: false
steps:
  - id: first
    tool: shell
    parameters: {command: "echo one"}
  - id: maybe
    when: "{{ fail }}"
    tool: shell
    parameters: {command: "echo only when failing"}
  - id: soft
    on_error: continue
    tool: shell
    parameters: {command: "exit 3"}
  - id: hard
    tool: shell
    parameters: {command: "if [ {{ fail }} = true ]; then echo boom >&2; exit 4; fi; sleep 1"}
  - id: last
    tool: shell
    parameters: {command: "echo last"}
"""

#: Explicit settings, relative to the working directory.
ENV = {"YAML2DAG_DEFINITIONS": "definitions", "DAGSTER_HOME": "dagster_home"}
DROP = ("DAGSTER_HOME", "YAML2DAG_DEFINITIONS")
NO_ETA = "no ETA yet (no earlier successful run)"


@pytest.fixture
def project(tmp_path) -> Path:
    write(tmp_path / "definitions", "timed.yaml", TIMED)
    write(tmp_path / "definitions", "mixed.yaml", MIXED)
    make_dagster_home(tmp_path / "dagster_home")
    return tmp_path


def cli(project: Path, *args: str, code: int = 0) -> str:
    done = run_cli(*args, cwd=project, env=ENV, drop=DROP)
    assert done.code == code, done.stdout + done.stderr
    return done.stdout


class BackgroundRun:
    """`yaml2dag run Timed flag=FLAG` in its own process group; its stdout goes to a file."""

    def __init__(self, project: Path, flag: Path):
        self.project, self.flag = project, flag
        self.log = project / f"run-{flag.name}.out"
        env = {k: v for k, v in os.environ.items() if k not in DROP}
        env.update(ENV, NO_COLOR="1", COLUMNS="200")
        with open(self.log, "w") as sink:
            self.proc = subprocess.Popen([sys.executable, "-m", "yaml2dag", "run", "Timed", f"flag={flag}"],
                                         cwd=project, env=env, stdin=subprocess.DEVNULL, stdout=sink,
                                         stderr=subprocess.STDOUT, start_new_session=True)

    def holding(self) -> dict:
        """The run's `status --format json` once its `hold` step runs (the flag is absent).

        Waits for FLAG.holding first (the hold step's first command, after its STEP_START), so the
        CLI is asked once, not polled while the run starts; ``hold_started``: that file's mtime.
        The run's id is the started run's on the home (read in-process: only `status` is tested)."""
        marker = Path(f"{self.flag}.holding")
        wait_until(marker.exists, CLI_TIMEOUT, 0.1, "the hold step to start", process=self.proc,
                   details=lambda: self.log.read_text())
        self.hold_started = marker.stat().st_mtime
        with DagsterInstance.from_config(str(self.project / "dagster_home")) as inst:
            started = inst.get_runs(RunsFilter(statuses=[DagsterRunStatus.STARTED]), limit=2)
        assert len(started) == 1, [r.run_id for r in started]
        run_id = started[0].run_id

        def seen():
            info = json.loads(cli(self.project, "status", run_id, "--format", "json"))
            return info if info["step_statuses"]["hold"] == "running" else None

        return wait_until(seen, CLI_TIMEOUT, 0.5, "the run to reach its hold step", process=self.proc,
                          details=lambda: self.log.read_text())

    def finish(self) -> str:
        self.flag.write_text("go")
        self.proc.wait(timeout=CLI_TIMEOUT)
        out = self.log.read_text()
        assert self.proc.returncode == 0, out
        return out

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=30)


@pytest.fixture
def background(project):
    started: list[BackgroundRun] = []

    def start(flag_name: str) -> BackgroundRun:
        run = BackgroundRun(project, project / flag_name)
        started.append(run)
        return run

    yield start
    for run in started:
        run.kill()


def test_percent_and_eta_live_and_in_status_from_earlier_successful_runs(project, background):
    # run 1: no history: percent by step count, no ETA, in `status` and in the live progress
    first = background("flag1")
    info = first.holding()
    assert info["progress"] == {"percent": 50, "eta_s": None, "basis": "step_count", "runs": 0}
    text = cli(project, "status", info["run_id"])
    assert f"2/4 steps · 50% · {NO_ETA}" in text, text
    out = first.finish()
    assert NO_ETA in out.splitlines()[1], out
    assert "✓ Step 2/4: second" in out and "· 50%" in out, out
    assert "ETA" not in out.replace(NO_ETA, ""), out

    # run 2: one successful run before it
    (project / "flag2").write_text("go")
    out = cli(project, "run", "Timed", f"flag={project / 'flag2'}")
    assert "usually" in out and "(median of 1 successful run(s))" in out, out
    assert re.search(r"✓ Step 1/4: first \(\S+\) · \d+% · ETA \d", out), out

    # run 3, observed with `status` while its hold step runs: a percent between 0 and 100, an ETA
    third = background("flag3")
    info = third.holding()
    progress = info["progress"]
    assert progress["basis"] == "history" and progress["runs"] == 2, progress
    assert 0 < progress["percent"] < 100, progress
    assert isinstance(progress["eta_s"], int) and progress["eta_s"] >= 1, progress
    text = cli(project, "status", info["run_id"])
    assert re.search(r"2/4 steps · \d+% · ETA \d", text), text
    assert NO_ETA not in text
    # hold now lasts longer than its usual (a few tenths of a second in run 2) and than the
    # 1-second steps: it is the slowest step of the summary (4 s since it started, status calls included)
    wait_until(lambda: time.time() - third.hold_started >= 4, 10, 0.1, "the hold step to outlast the others")
    out = third.finish()
    assert "(median of 2 successful run(s))" in out.splitlines()[1], out
    assert re.search(r"✓ Step 3/4: hold \(\S+\) · \d+% · ETA \d", out), out
    assert "✓ Step 4/4: last" in out and "· 100%" in out, out
    assert "Summary: 4 succeeded · 0 continued · 0 skipped · 0 failed" in out, out
    assert re.search(r"slowest step: hold \S+ \(usual \S+\)", out), out
    assert re.search(r"run: \S+ \(usual \S+, the median of 2 earlier successful run\(s\)\)", out), out

    done = json.loads(cli(project, "status", info["run_id"], "--format", "json"))
    assert done["progress"] == {"percent": 100, "eta_s": 0, "basis": "finished", "runs": 0}


def test_the_summary_counts_continued_skipped_and_failed_steps(project):
    out = cli(project, "run", "Mixed")
    assert out.splitlines()[1].strip() == NO_ETA, out
    assert "Summary: 3 succeeded · 1 continued · 1 skipped · 0 failed" in out, out
    assert re.search(r"slowest step: hard \S+ \(no usual duration yet\)", out), out
    assert re.search(r"run: \S+ \(no earlier successful run to compare with\)", out), out
    assert re.search(r"⊘ Step 2/5: maybe skipped: its condition is false.* · 40%", out), out

    failed = cli(project, "run", "Mixed", "fail=true", code=1)
    assert "(median of 1 successful run(s))" in failed.splitlines()[1], failed
    assert "Summary: 2 succeeded · 1 continued · 0 skipped · 1 failed · 1 not run" in failed, failed
    assert re.search(r"run: \S+ \(usual \S+, the median of 1 earlier successful run\(s\)\)", failed), failed
    run_id = re.search(r"run ([0-9a-f-]{36})", failed).group(1)
    status = json.loads(cli(project, "status", run_id, "--format", "json"))
    # a failed run reached the steps that ended: 4 of 5
    assert status["progress"] == {"percent": 80, "eta_s": 0, "basis": "finished", "runs": 0}
    assert "· 80%" in cli(project, "status", run_id)
