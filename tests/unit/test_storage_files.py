"""Issue 10, points 7 and 8, without Dagster: yaml2dag.runs.storage judges real SQLite files (empty,
not SQLite, cut short, scribbled over, missing their table, two schema versions), reports a
database exception as one line naming the damaged file, and manages the creation lock and the
ready marker of a home."""

from __future__ import annotations

import random
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from yaml2dag.runs import storage


def _database(path: Path, table: str = "runs", rows: int = 400, alembic: int = 1) -> Path:
    """A real SQLite file with ``table`` (``rows`` rows of text) and an alembic_version table."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as conn:
        conn.execute(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, body TEXT)")
        conn.executemany(f"INSERT INTO {table} (body) VALUES (?)", [("x" * 200 + str(i),) for i in range(rows)])
        conn.execute("CREATE INDEX idx_body ON %s (body)" % table)
        conn.execute("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)")
        conn.executemany("INSERT INTO alembic_version VALUES (?)", [(f"rev{i}",) for i in range(alembic)])
    return path


def _home(tmp_path: Path) -> Path:
    """A home laid out like Dagster's default SQLite storage."""
    home = tmp_path / "home"
    _database(home / "history" / "runs.db", "runs")
    _database(home / "history" / "runs" / "index.db", "event_logs")
    _database(home / "schedules" / "schedules.db", "jobs")
    _database(home / "history" / "runs" / "0a1b2c3d-1111-4222-8333-444455556666.db", "event_logs")
    return home


def test_a_sound_database_has_no_problem(tmp_path):
    assert storage.file_problem(_database(tmp_path / "ok.db"), "runs") is None
    assert storage.file_problem(tmp_path / "missing.db") is None


@pytest.mark.parametrize("damage,expected", [
    ("empty", "is empty (0 bytes)"),
    ("text", "is not a SQLite database"),
    ("half", "is truncated ("),
    ("scribble", "is damaged ("),
    ("no table", "has no `runs` table"),
    ("two heads", "records 2 schema versions"),
])
def test_each_kind_of_damage_is_named(tmp_path, damage, expected):
    path = tmp_path / "runs.db"
    if damage == "empty":
        path.write_bytes(b"")
    elif damage == "text":
        path.write_text("hello, not a database\n" * 50)
    elif damage == "half":
        _database(path)
        with open(path, "r+b") as fh:
            fh.truncate(path.stat().st_size // 2)
    elif damage == "scribble":
        _database(path)
        data = bytearray(path.read_bytes())
        data[4096:12288] = b"\xde\xad\xbe\xef" * 2048
        path.write_bytes(bytes(data))
    elif damage == "no table":
        _database(path, table="other")
    else:
        _database(path, alembic=2)
    problem = storage.file_problem(path, "runs")
    assert problem is not None and problem.startswith(expected), problem
    assert "\n" not in problem


def test_the_cheap_check_reads_only_size_and_header(tmp_path):
    path = _database(tmp_path / "runs.db")
    with open(path, "r+b") as fh:
        fh.truncate(path.stat().st_size // 2)
    assert storage.file_problem(path, thorough=False) is None  # the header is still fine
    path.write_bytes(b"")
    assert storage.file_problem(path, thorough=False) == "is empty (0 bytes)"


def test_any_truncation_or_scribble_is_found_or_harmless(tmp_path):
    """Property (seeded, 200 cases): after a random truncation or overwrite, either SQLite still
    reads every row of the table, or file_problem names a problem."""
    pristine = _database(tmp_path / "pristine.db").read_bytes()
    rng = random.Random(7)
    found = 0
    for n in range(200):
        data = bytearray(pristine)
        if rng.random() < 0.5:
            data = data[: rng.randrange(0, len(data))]
        else:
            start = rng.randrange(0, len(data) - 1)
            length = rng.choice([1, 16, 100, 4096])
            data[start:start + length] = bytes(rng.randrange(256) for _ in range(min(length, len(data) - start)))
        path = tmp_path / f"case{n}.db"
        path.write_bytes(bytes(data))
        problem = storage.file_problem(path, "runs")
        if problem is None:
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                assert conn.execute("SELECT count(*), max(length(body)) FROM runs").fetchone()[0] >= 0
        else:
            found += 1
    assert found > 50


def test_check_files_refuses_an_empty_or_foreign_core_database(tmp_path):
    home = _home(tmp_path)
    storage.check_files(home)  # sound: nothing raised
    for path in storage.core_files(home):
        saved = path.read_bytes()
        path.write_bytes(b"")
        with pytest.raises(storage.StorageError) as caught:
            storage.check_files(home)
        message = str(caught.value)
        assert str(path) in message and "is empty (0 bytes)" in message and "\n" not in message
        assert "restore it from a backup, or move it aside" in message
        assert caught.value.file == path
        path.write_bytes(saved)


def test_another_storage_is_not_checked(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("storage:\n  postgres:\n    postgres_url: postgresql://x\n")
    (home / "history").mkdir()
    (home / "history" / "runs.db").write_bytes(b"")  # not Dagster's storage here
    assert storage.sqlite_base(home) is None
    storage.check_files(home)
    other = tmp_path / "elsewhere"
    (home / "dagster.yaml").write_text(f"storage:\n  sqlite:\n    base_dir: {other}\n")
    assert storage.sqlite_base(home) == other


def test_diagnose_names_the_damaged_run_first_when_hinted(tmp_path):
    home = _home(tmp_path)
    shard = home / "history" / "runs" / "0a1b2c3d-1111-4222-8333-444455556666.db"
    with open(shard, "r+b") as fh:
        fh.truncate(shard.stat().st_size // 2)
    assert storage.diagnose(home) == [(shard, storage.file_problem(shard, "event_logs"))]
    assert storage.diagnose(home, ["0a1b2c3d"])[0][0] == shard


def test_describe_turns_a_database_exception_into_one_line(tmp_path):
    home = _home(tmp_path)
    runs_db = home / "history" / "runs.db"
    data = bytearray(runs_db.read_bytes())
    data[4096:16384] = b"\x00\xff" * 6144
    runs_db.write_bytes(bytes(data))
    try:
        with sqlite3.connect(runs_db) as conn:
            conn.execute("SELECT * FROM runs").fetchall()
    except sqlite3.DatabaseError as exc:
        error = exc
    else:  # pragma: no cover - the scribble hits the table's pages
        pytest.fail("the damaged file was read")
    wrapped = RuntimeError("while listing runs")
    wrapped.__cause__ = error
    for exc in (error, wrapped):
        message = storage.describe(exc, home)
        assert message is not None and "\n" not in message
        assert message.startswith(f"the Dagster storage file {runs_db} is damaged (")
        assert "(losing the run history)" in message
    assert storage.describe(ValueError("not a database problem"), home) is None
    assert storage.is_storage_exception(wrapped) and not storage.is_storage_exception(KeyError("x"))


def test_describe_without_a_damaged_file_still_says_what_failed(tmp_path):
    home = _home(tmp_path)
    message = storage.describe(sqlite3.OperationalError("disk I/O error"), home)
    assert message == (f"cannot use the Dagster storage in {home}: disk I/O error; check that its files are "
                       "readable and writable and the disk is not full, then run the command again")


def test_an_interrupted_first_creation_is_cleared_only_when_nothing_was_stored(tmp_path):
    home = tmp_path / "home"
    (home / "history" / "runs").mkdir(parents=True)
    (home / "history" / "runs.db").write_bytes(b"")
    assert storage.clear_interrupted_creation(home) == [home / "history" / "runs.db"]
    assert not (home / "history" / "runs.db").exists()
    # with a run's event log there, an empty runs.db is a lost history: kept, to be reported
    (home / "history" / "runs.db").write_bytes(b"")
    _database(home / "history" / "runs" / "0a1b2c3d-1111-4222-8333-444455556666.db", "event_logs")
    assert storage.clear_interrupted_creation(home) == []
    assert (home / "history" / "runs.db").exists()


def test_the_ready_marker_follows_the_configuration(tmp_path):
    home = _home(tmp_path)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert not storage.is_ready(home)
    storage.mark_ready(home)
    assert storage.is_ready(home)
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: true\n")  # another configuration
    assert not storage.is_ready(home)
    storage.mark_ready(home)
    (home / "history" / "runs.db").unlink()  # the history was removed: create it again
    assert not storage.is_ready(home)


def test_the_creation_lock_excludes_other_processes(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    code = ("import sys, time\nfrom yaml2dag.runs import storage\n"
            "with storage.creation_lock(sys.argv[1]):\n    print(time.time(), flush=True)\n")
    with storage.creation_lock(home):
        proc = subprocess.Popen([sys.executable, "-c", code, str(home)], stdout=subprocess.PIPE, text=True)
        time.sleep(1.0)  # the other process starts and blocks on the lock meanwhile
        held_until = time.time()
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0 and float(out.strip()) >= held_until  # it got the lock after we let go


def test_the_creation_lock_excludes_other_threads_too(tmp_path):
    """flock is per open file: two threads of one process each opening the lock file also exclude
    each other (what a test helper beside the CLI relies on)."""
    home = tmp_path / "home"
    home.mkdir()
    order: list[str] = []

    def second() -> None:
        with storage.creation_lock(home):
            order.append("second")

    with storage.creation_lock(home):
        thread = threading.Thread(target=second)
        thread.start()
        thread.join(0.5)
        order.append("first")
    thread.join(30)
    assert order == ["first", "second"]
