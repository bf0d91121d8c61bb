"""Shared fixtures: real Dagster instances on temporary homes, real subprocesses.

Every wait is bounded and every process group a test starts is killed on teardown.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]

#: Bound for one CLI subprocess (seconds). Generous: CI machines are slow, but never unbounded.
CLI_TIMEOUT = 180


def make_dagster_home(path: Path) -> Path:
    """Make ``path`` a fresh DAGSTER_HOME folder whose dagster.yaml turns telemetry off; returns it."""
    path.mkdir()
    (path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return path


@pytest.fixture
def dagster_home(tmp_path, monkeypatch) -> Path:
    """A fresh DAGSTER_HOME with telemetry off, set in the environment for the test."""
    home = make_dagster_home(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def instance(dagster_home):
    """A real DagsterInstance on the temporary home."""
    from dagster import DagsterInstance

    inst = DagsterInstance.get()
    try:
        yield inst
    finally:
        inst.dispose()


@pytest.fixture
def definitions(tmp_path, monkeypatch) -> Path:
    """An empty definitions folder, set as YAML2DAG_DEFINITIONS."""
    folder = tmp_path / "definitions"
    folder.mkdir()
    monkeypatch.setenv("YAML2DAG_DEFINITIONS", str(folder))
    return folder


def write(folder: Path, name: str, text: str) -> Path:
    """Write dedented ``text`` to ``folder/name`` and return the path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


@dataclass
class Ran:
    """A finished run: the CLI-level result plus the raw event log records."""

    result: Any
    records: list

    def events(self, event_type: str) -> list:
        return [r for r in self.records if r.dagster_event is not None and r.dagster_event.event_type_value == event_type]

    def step_keys(self, event_type: str) -> set[str]:
        return {r.dagster_event.step_key for r in self.events(event_type)}

    def messages(self, step_key: str | None = None) -> list[str]:
        return [r.user_message for r in self.records
                if r.dagster_event is None and (step_key is None or r.step_key == step_key)]

    def timestamps(self, step_key: str, event_type: str) -> list[float]:
        return [r.timestamp for r in self.events(event_type) if r.dagster_event.step_key == step_key]


@pytest.fixture
def run_yaml(instance, tmp_path):
    """Run workflow text through the real instance: ``run_yaml(text, params) -> Ran``."""
    from yaml2dag.runs.runner import run_workflow
    from yaml2dag.format.validation import validate_file

    counter = {"n": 0}

    def _run(text: str, params: dict | None = None, *, strings: bool = False, name: str | None = None) -> Ran:
        counter["n"] += 1
        path = write(tmp_path / "wf", name or f"workflow_{counter['n']}.yaml", text)
        report = validate_file(path)
        assert report.valid, "\n".join(p.format() for p in report.problems)
        result = run_workflow(report, params or {}, strings=strings, instance=instance)
        records = list(instance.all_logs(result.run_id))
        return Ran(result, records)

    return _run


def stored_outputs(instance, run_id: str) -> list[dict]:
    """The workflow outputs a run stored: one dict per STEP_OUTPUT event of its `workflow_outputs`
    step, read back from the instance's event log (normally exactly one)."""
    return [r.dagster_event.event_specific_data.metadata["outputs"].value
            for r in instance.all_logs(run_id)
            if r.dagster_event is not None and r.dagster_event.event_type_value == "STEP_OUTPUT"
            and r.dagster_event.step_key == "workflow_outputs"]


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str


def run_cli(*args: str, env: dict | None = None, cwd: Path | str | None = None,
            input: str | None = None, timeout: float = CLI_TIMEOUT) -> Completed:
    """Run ``python -m yaml2dag ARGS`` as a real subprocess (its own process group)."""
    return run_process([sys.executable, "-m", "yaml2dag", *args], env=env, cwd=cwd, input=input, timeout=timeout)


#: The CLI run in-process by ``python -c``; its last line on stderr is
#: ``EXIT <exit code> DAGSTER <number of dagster modules loaded>``.
_COUNT_DAGSTER = """
import sys
from yaml2dag.cli import main
try:
    main.main(args=sys.argv[1:], prog_name="yaml2dag", standalone_mode=False)
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted(m for m in sys.modules if m == "dagster" or m.startswith("dagster."))
print("EXIT", code, "DAGSTER", len(loaded), file=sys.stderr)
"""


def run_cli_counting_dagster(*args: str, env: dict | None = None, timeout: float = CLI_TIMEOUT) -> Completed:
    """Run the CLI with ``args`` in a fresh interpreter (cwd: the repository) that ends by printing
    ``EXIT <exit code> DAGSTER <number of dagster modules loaded>`` on stderr."""
    return run_process([sys.executable, "-c", _COUNT_DAGSTER, *args], env=env, cwd=REPO, timeout=timeout)


def run_process(argv: list[str], *, env: dict | None = None, cwd: Path | str | None = None,
                input: str | None = None, timeout: float = CLI_TIMEOUT) -> Completed:
    """Run a command, killing its whole process group if it outlives ``timeout``."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    full_env.setdefault("NO_COLOR", "1")
    proc = subprocess.Popen(argv, cwd=cwd, env=full_env, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{argv} did not finish within {timeout}s\nstdout:\n{out}\nstderr:\n{err}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return Completed(proc.returncode, out, err)
