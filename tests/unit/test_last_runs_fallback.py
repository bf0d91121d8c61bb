"""`yaml2dag list`'s last runs: the SQL reader of Dagster's SQLite schema runs only on the schema
revision it was written for; on any other revision the public API
(``DagsterInstance.get_run_records``) answers, with the same result. No Dagster run is started:
runs are stored with ``DagsterInstance.add_run``."""

from __future__ import annotations

import sqlite3
import uuid

import dagster as dg
import pytest

from yaml2dag.runs import approvals
from yaml2dag.runs.history.fast_path import SQLITE_SCHEMA_REVISION, last_runs_sqlite
from yaml2dag.runs.history.queries import last_runs

#: The revision before Dagster 1.13's head (``down_revision`` of 29b539ebc72a): a storage that a
#: newer or older Dagster would leave. Dagster's own API still reads it.
OTHER_REVISION = "f495c27d5019"

JOBS = ["done", "failed", "paused", "no_runs"]


def _add(instance, job: str, status, tags: dict | None = None) -> dg.DagsterRun:
    run = dg.DagsterRun(job_name=job, run_id=str(uuid.uuid4()), status=status, tags=tags or {})
    instance.add_run(run)
    return run


@pytest.fixture
def stored(instance, dagster_home):
    """An instance holding a finished, a failed and a paused (gate waiting) run."""
    S = dg.DagsterRunStatus
    _add(instance, "done", S.SUCCESS, {"yaml2dag/workflow": "Done", "yaml2dag/trigger": "cli"})
    _add(instance, "failed", S.FAILURE, {"dagster/schedule_name": "nightly"})
    gate = _add(instance, "paused", S.STARTED, {"yaml2dag/workflow": "Paused"})
    approvals._report(instance, gate, "waiting", "approve", {approvals.MARKER: "waiting", "step": "approve"})
    return instance, dagster_home, gate


def _set_revision(db, revision: str) -> None:
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    finally:
        conn.close()


def test_the_sql_reader_runs_on_the_known_revision_and_agrees_with_the_api(stored):
    instance, home, _ = stored
    fast = last_runs_sqlite(home, JOBS)
    assert fast is not None
    assert fast == last_runs(instance, JOBS)
    assert {job: row["status"] for job, row in fast.items()} == {"done": "completed", "failed": "failed",
                                                                 "paused": "paused"}


def test_another_run_storage_revision_falls_back_to_the_public_api(stored, monkeypatch):
    instance, home, _ = stored
    expected = last_runs(instance, JOBS)
    _set_revision(home / "history" / "runs.db", OTHER_REVISION)
    assert last_runs_sqlite(home, JOBS) is None
    # Dagster's API still reads it, and so does `list`
    assert last_runs(instance, JOBS) == expected

    from yaml2dag.cli import catalog

    rows = [{"id": job} for job in JOBS]
    assert catalog._last_runs(rows) is None
    shown = {row["id"]: row["last_run"] for row in rows}
    assert shown["no_runs"] is None
    for job in ("done", "failed", "paused"):
        assert shown[job]["run_id"] == expected[job]["run_id"] and shown[job]["status"] == expected[job]["status"]
    assert shown["paused"]["status"] == "paused"


def test_another_event_log_revision_falls_back_too(stored):
    instance, home, gate = stored
    _set_revision(home / "history" / "runs" / f"{gate.run_id}.db", OTHER_REVISION)
    assert last_runs_sqlite(home, JOBS) is None
    assert last_runs(instance, JOBS)["paused"]["status"] == "paused"


def test_a_database_without_alembic_version_is_not_read(stored):
    instance, home, _ = stored
    conn = sqlite3.connect(home / "history" / "runs.db")
    try:
        with conn:
            conn.execute("DROP TABLE alembic_version")
    finally:
        conn.close()
    assert last_runs_sqlite(home, JOBS) is None


def test_the_known_revision_is_the_one_the_installed_dagster_writes(stored):
    _, home, gate = stored
    for db in (home / "history" / "runs.db", home / "history" / "runs" / f"{gate.run_id}.db"):
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            assert conn.execute("SELECT version_num FROM alembic_version").fetchall() == [(SQLITE_SCHEMA_REVISION,)]
        finally:
            conn.close()
