"""Issue 10, points 7 (first bullet) and 8: opening the Dagster instance.

* Several yaml2dag commands started at once on a brand-new DAGSTER_HOME all work: the storage is
  created once, under yaml2dag's lock (before the fix, two processes created it together and
  failed with "table ... already exists" or left alembic_version with two heads for good).
* A damaged storage (runs.db cut in half, 0 bytes, not SQLite; a run's event log damaged;
  index.db damaged) gives one line naming the file and what to do, exit 1, in every command
  that opens the instance, instead of a SQLAlchemy traceback or a silent empty history.

Real CLI subprocesses, real SQLite files damaged on disk. The commands run through
:mod:`cli_forkserver` (subprocesses forked from one interpreter that has imported Dagster, so
each does not pay that import again); plain Dagster opens the prepared storage in `python -c`
processes.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from cli_forkserver import run_cli, start_cli_env
from conftest import CLI_TIMEOUT, write

pytestmark = pytest.mark.slow

HELLO = """
name: Hello
steps:
  - id: hi
    tool: shell
    parameters: {command: "echo hi"}
"""

#: A run id no run has (status/events/approve of it must say so, not crash).
UNKNOWN_RUN = "0badc0de-0000-4000-8000-000000000000"
#: What a storage race or a raw database error prints.
BROKEN = ("Traceback", "already exists", "head", "sqlalchemy", "OperationalError", "DatabaseError")


def _env(**extra: str) -> dict:
    """The environment of a user's shell: no DAGSTER_HOME or YAML2DAG_* unless given."""
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and not k.startswith("YAML2DAG_")}
    env.update(NO_COLOR="1", COLUMNS="200", **extra)
    return env


def _finish(proc: subprocess.Popen, timeout: float = CLI_TIMEOUT) -> tuple[int, str, str]:
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{proc.args} did not finish within {timeout}s\n{out}\n{err}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return proc.returncode, out, err


# --------------------------------------------------------------------------- point 8


#: Commands started together on a new home, with the exit code each must give.
TOGETHER = [
    (["run", "Hello", "--format", "json"], 0),
    (["run", "Hello", "--format", "json"], 0),
    (["run", "Hello"], 0),
    (["history", "Hello"], 0),
    (["history", "Hello", "--format", "json"], 0),
    (["status", UNKNOWN_RUN], 1),
    (["events", UNKNOWN_RUN, "--format", "json"], 1),
    (["approve", UNKNOWN_RUN], 1),
    (["stats"], 0),
]


@pytest.mark.parametrize("defaults", [True, False], ids=["user-defaults", "explicit-home"])
@pytest.mark.parametrize("round_", range(2))
def test_commands_started_together_on_a_new_home_all_work(tmp_path, defaults, round_):
    project = tmp_path / "project"
    write(project / "definitions", "hello.yaml", HELLO)
    if defaults:  # ./dagster_home and ./definitions, as a user who sets nothing
        env, home = _env(), project / "dagster_home"
    else:
        home = tmp_path / "homes" / "new"  # not even the folder exists
        env = _env(DAGSTER_HOME=str(home), YAML2DAG_DEFINITIONS=str(project / "definitions"))
    assert not home.exists()
    calls = [(args, code, start_cli_env(args, env, project)) for args, code in TOGETHER]
    failures = []
    for args, code, call in calls:
        done = call.finish()
        got, text = done.code, done.stdout + done.stderr
        if got != code or any(word in text for word in BROKEN):
            failures.append(f"yaml2dag {' '.join(args)}: exit {got} (expected {code})\n{text[-3000:]}")
    assert not failures, "\n\n".join(failures)
    # the storage is whole: the three runs are there, the schema has one version per database
    listed = run_cli("history", "Hello", "--format", "json", env={"DAGSTER_HOME": str(home)}, cwd=project)
    assert listed.code == 0, listed.stderr
    assert [r["status"] for r in json.loads(listed.stdout)["runs"]] == ["completed"] * 3
    import sqlite3

    for db in (home / "history" / "runs.db", home / "history" / "runs" / "index.db", home / "schedules" / "schedules.db"):
        with sqlite3.connect(db) as conn:
            assert conn.execute("SELECT count(*) FROM alembic_version").fetchone()[0] == 1, db
    assert (home / ".yaml2dag-storage-ready").is_file()


@pytest.mark.parametrize("args", [["status", UNKNOWN_RUN], ["approve", UNKNOWN_RUN], ["events", UNKNOWN_RUN],
                                  ["history", "Hello"], ["run", "Hello"]], ids=lambda a: a[0])
def test_a_command_waits_while_another_process_creates_the_storage(tmp_path, args):
    """Another process is creating the storage (it holds the lock; SQLite has just created an
    empty runs.db): a command must wait for it, not open the half-made storage on its own
    (before the fix, an existing runs.db meant "ready": the command opened it without the lock
    and created the tables alongside the creator)."""
    import threading

    from filelock import FileLock
    from watchdog.events import FileOpenedEvent, FileSystemEventHandler
    from watchdog.observers import Observer

    home = tmp_path / "home"
    (home / "history").mkdir(parents=True)
    write(tmp_path / "definitions", "hello.yaml", HELLO)
    (home / "history" / "runs.db").write_bytes(b"")
    lock_path = home / ".yaml2dag-init.lock"
    opened = threading.Event()

    class _Opens(FileSystemEventHandler):
        def on_opened(self, event) -> None:  # inotify IN_OPEN: the command tries the lock
            if isinstance(event, FileOpenedEvent) and Path(event.src_path) == lock_path:
                opened.set()

    with FileLock(lock_path):  # the storage's creator (filelock: an flock, polled by waiters)
        observer = Observer()
        observer.schedule(_Opens(), str(home))
        observer.start()
        try:
            call = start_cli_env(args, _env(DAGSTER_HOME=str(home)), tmp_path)
            assert opened.wait(CLI_TIMEOUT) and call.poll() is None, (
                "the command did not wait for the storage's creator",
                call.poll(), call.finish().stderr[-2000:] if call.poll() is not None else "")
        finally:
            observer.stop()
            observer.join(timeout=30)
    done = call.finish()
    code, out, err = done.code, done.stdout, done.stderr
    assert not any(word in out + err for word in BROKEN), err
    assert code == (0 if args[0] in ("history", "run") else 1), err
    assert (home / ".yaml2dag-storage-ready").is_file()


def test_prepare_storage_then_any_number_of_plain_dagster_opens(tmp_path):
    """What tests and `yaml2dag dev` do: prepare_storage() first (under the lock), then open the
    instance in as many processes as they like with Dagster's own DagsterInstance.get()."""
    from yaml2dag.runs.runner import prepare_storage

    home = prepare_storage(tmp_path / "home")
    assert (home / "dagster.yaml").is_file() and (home / "history" / "runs.db").stat().st_size > 0
    code = ("import os, sys\nfrom dagster import DagsterInstance\n"
            "with DagsterInstance.get() as inst:\n    inst.get_runs(limit=1)\nprint('ok')\n")
    procs = [subprocess.Popen([sys.executable, "-c", code], env=dict(os.environ, DAGSTER_HOME=str(home)),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
             for _ in range(4)]
    for proc in procs:
        got, out, err = _finish(proc)
        assert got == 0 and out.strip() == "ok", err


def test_an_interrupted_first_creation_is_redone(tmp_path):
    """A first creation killed half-way leaves a 0-byte runs.db and no ready marker (nothing was
    ever stored): the next command creates the storage again instead of refusing it."""
    home = tmp_path / "home"
    (home / "history" / "runs").mkdir(parents=True)
    (home / "history" / "runs.db").write_bytes(b"")
    write(tmp_path / "definitions", "hello.yaml", HELLO)
    ran = run_cli("run", "Hello", "--format", "json", env={"DAGSTER_HOME": str(home)}, cwd=tmp_path)
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout)["status"] == "SUCCESS"


# --------------------------------------------------------------------------- point 7


@pytest.fixture(scope="module")
def populated(tmp_path_factory):
    """A home with two finished runs of Hello (made by the real CLI); returns (project, home, run ids)."""
    project = tmp_path_factory.mktemp("damage")
    write(project / "definitions", "hello.yaml", HELLO)
    home = project / "pristine"
    ids = []
    for _ in range(2):
        ran = run_cli("run", "Hello", "--format", "json", env={"DAGSTER_HOME": str(home)}, cwd=project)
        assert ran.code == 0, ran.stderr
        ids.append(json.loads(ran.stdout)["run_id"])
    return project, home, ids


def _copy(populated, name: str) -> tuple[Path, Path, list[str]]:
    project, home, ids = populated
    target = project / name
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(home, target)
    return project, target, ids


def _cut_in_half(path: Path) -> None:
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)


def _scribble(path: Path, start: int = 4096, length: int = 8192) -> None:
    """Overwrite ``length`` bytes from ``start`` (b-tree pages) with garbage."""
    data = bytearray(path.read_bytes())
    data[start:start + length] = (b"\xde\xad\xbe\xef" * (length // 4 + 1))[:length]
    path.write_bytes(bytes(data))


def _commands(run_id: str) -> list[list[str]]:
    """Every command that opens the instance (and reads the damaged run where one is named)."""
    return [["history", "Hello"], ["history"], ["status", run_id], ["events", run_id], ["logs", run_id],
            ["audit", run_id], ["stats"], ["run", "Hello"], ["retry", run_id], ["cancel", run_id],
            ["approve", run_id], ["reject", run_id]]


def _assert_one_line(result, path: Path, what: str) -> None:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert result.code == 1, (what, result.code, result.stdout, result.stderr)
    assert len(lines) == 1, (what, result.stderr)
    assert lines[0].startswith("error: the Dagster storage file ") and str(path) in lines[0], (what, lines[0])
    assert "restore it from a backup, or move it aside" in lines[0], (what, lines[0])
    assert not any(word in result.stdout + result.stderr for word in ("Traceback", "sqlalchemy", "[SQL:")), what


@pytest.mark.parametrize("damage", ["runs.db cut in half", "runs.db empty", "runs.db not SQLite"])
def test_a_damaged_run_database_is_one_line_in_every_command(populated, damage):
    project, home, ids = _copy(populated, damage.replace(" ", "_"))
    runs_db = home / "history" / "runs.db"
    if damage == "runs.db cut in half":
        _cut_in_half(runs_db)
    elif damage == "runs.db empty":
        runs_db.write_bytes(b"")
    else:
        runs_db.write_bytes(b"this is not a database, " * 100)
    env = {"DAGSTER_HOME": str(home)}
    for args in _commands(ids[0]):
        _assert_one_line(run_cli(*args, env=env, cwd=project), runs_db, f"{damage}: {args}")
    as_json = run_cli("status", ids[0], "--format", "json", env=env, cwd=project)
    assert as_json.code == 1 and str(runs_db) in json.loads(as_json.stdout)["error"]
    run_json = run_cli("run", "Hello", "--format", "json", env=env, cwd=project)
    assert run_json.code == 1 and json.loads(run_json.stdout)["errors"] == []
    # `list` still lists the workflows, and says in one line why it shows no runs
    listed = run_cli("list", env=env, cwd=project)
    assert listed.code == 0 and "Hello" in listed.stdout
    assert str(runs_db) in listed.stderr and "Traceback" not in listed.stderr
    # nothing was written into the damaged file (Dagster would create fresh tables in an empty one)
    if damage == "runs.db empty":
        assert runs_db.stat().st_size == 0


@pytest.mark.parametrize("damage", ["cut in half", "scribbled over"])
def test_a_damaged_event_log_of_a_run_is_one_line_naming_it(populated, damage):
    project, home, ids = _copy(populated, "event_log_" + damage.replace(" ", "_"))
    shard = home / "history" / "runs" / f"{ids[0]}.db"
    _cut_in_half(shard) if damage == "cut in half" else _scribble(shard)
    env = {"DAGSTER_HOME": str(home)}
    for args in (["status", ids[0]], ["events", ids[0]], ["logs", ids[0]], ["audit", ids[0][:8]]):
        _assert_one_line(run_cli(*args, env=env, cwd=project), shard, f"{damage}: {args}")
    # the other run and the workflow are not affected
    other = run_cli("status", ids[1], "--format", "json", env=env, cwd=project)
    assert other.code == 0 and json.loads(other.stdout)["status"] == "completed"
    again = run_cli("run", "Hello", "--format", "json", env=env, cwd=project)
    assert again.code == 0, again.stderr


@pytest.mark.parametrize("damage", ["cut in half", "scribbled over", "empty"])
def test_a_damaged_event_index_is_one_line_naming_it(populated, damage):
    project, home, _ids = _copy(populated, "index_" + damage.replace(" ", "_"))
    index = home / "history" / "runs" / "index.db"
    if damage == "cut in half":
        _cut_in_half(index)
    elif damage == "scribbled over":
        _scribble(index, 8192)
    else:
        index.write_bytes(b"")
    result = run_cli("run", "Hello", env={"DAGSTER_HOME": str(home)}, cwd=project)
    _assert_one_line(result, index, damage)


def test_any_damage_to_the_run_database_is_reported_or_harmless(populated, monkeypatch):
    """Property: whatever truncation or scribble hits runs.db, opening the instance and listing
    the runs either works or raises an exception that yaml2dag turns into one line naming
    runs.db (seeded, 25 damaged copies)."""
    from yaml2dag.runs import history
    from yaml2dag.runs import storage
    from yaml2dag.runs.runner import get_instance

    project, home, _ids = populated
    rng = random.Random(10)
    size = (home / "history" / "runs.db").stat().st_size
    reported = 0
    for n in range(25):
        _p, copy, _ = _copy(populated, f"prop_{n}")
        runs_db = copy / "history" / "runs.db"
        if rng.random() < 0.5:
            with open(runs_db, "r+b") as fh:
                fh.truncate(rng.randrange(0, size))
        else:
            _scribble(runs_db, rng.randrange(0, size - 512), rng.choice([16, 512, 4096]))
        monkeypatch.setenv("DAGSTER_HOME", str(copy))
        try:
            instance = get_instance()
            try:
                history.list_runs(instance, None, limit=10)
            finally:
                instance.dispose()
        except Exception as exc:  # noqa: BLE001 - the property is about every exception
            message = storage.describe(exc, copy)
            assert message is not None and "\n" not in message, (n, repr(exc)[:500])
            assert str(runs_db) in message, (n, message)
            reported += 1
    assert reported >= 5  # the damage did bite
