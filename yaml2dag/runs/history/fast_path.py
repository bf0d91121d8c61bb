"""Reading run storage without importing Dagster (``list`` must stay instant): whether an instance
may hold runs, and each job's newest run read straight from the default SQLite storage.

The SQL below reads Dagster's own SQLite schema, which is not a public interface. It runs only on
databases whose ``alembic_version`` is :data:`SQLITE_SCHEMA_REVISION`, the schema this code was
written and tested against; on any other revision (an older Dagster that has not migrated the
storage, a newer one with a changed schema) :func:`last_runs_sqlite` returns None and callers use
Dagster's public API (``DagsterInstance.get_run_records``, :func:`yaml2dag.runs.history.queries.
last_runs`), about a second slower (docs/benchmarks.md).
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path as _Path
from typing import Any

from yaml2dag.format.tags import TAG_CLI_PID, TAG_VERSION, TAG_WORKFLOW
from yaml2dag.runs.history.common import TAG_USER, _iso, rollback_of
from yaml2dag.runs.history.status import STATUS_MAP, trigger_of
import json as _json
import sqlite3
import yaml
from yaml2dag.compiler.run_health import process_state
from yaml2dag.runs.runner import instance_home

#: The alembic revision of the SQLite run storage (``history/runs.db``) and per-run event logs
#: (``history/runs/<run id>.db``) of Dagster 1.13 (head of ``dagster/_core/storage/alembic``,
#: ``29b539ebc72a``); tests/unit/test_last_runs_fallback.py checks it against a storage the
#: installed Dagster creates.
SQLITE_SCHEMA_REVISION = "29b539ebc72a"


def _schema_known(conn: Any) -> bool:
    """True when the open SQLite database is at :data:`SQLITE_SCHEMA_REVISION` (one row in its
    ``alembic_version`` table); False for another revision or no such table."""
    try:
        rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    except sqlite3.Error:
        return False
    return [row[0] for row in rows] == [SQLITE_SCHEMA_REVISION]


def has_run_storage(home: str | _Path | None = None) -> bool:
    """True when the Dagster instance may hold runs, decided without importing Dagster: its
    ``dagster.yaml`` configures a storage (PostgreSQL, MySQL...), or the default SQLite run
    database ``history/runs.db`` exists. ``list`` uses this to stay fast on a fresh home."""
    if home is None:
        home = instance_home()
    home = _Path(home)
    if not home.is_dir():
        return False
    if (home / "history" / "runs.db").exists():
        return True
    config = home / "dagster.yaml"
    if config.is_file():
        try:
            data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
        except Exception:  # noqa: BLE001 - a broken dagster.yaml: let Dagster report it
            return True
        if isinstance(data, dict) and any(k in data for k in ("storage", "run_storage")):
            return True
    return False


def _configured_storage(home: _Path) -> bool:
    config = home / "dagster.yaml"
    if not config.is_file():
        return False
    try:
        data = yaml.safe_load(config.read_text(encoding="utf-8")) or {}
    except Exception:  # noqa: BLE001
        return True
    return isinstance(data, dict) and any(k in data for k in ("storage", "run_storage"))


def _serialized_metadata(entry: Any) -> dict[str, Any]:
    """The metadata of a serialized ``EventLogEntry`` (the JSON Dagster stores in SQLite), as
    ``{label: value}``: ``metadata_entries`` lists (``label`` + ``entry_data.text|value``) and
    ``metadata`` mappings are both read."""
    event = entry.get("dagster_event") if isinstance(entry, dict) else None
    data = event.get("event_specific_data") if isinstance(event, dict) else None
    if not isinstance(data, dict):
        return {}
    values: dict[str, Any] = {}
    for item in data.get("metadata_entries") or []:
        if isinstance(item, dict) and isinstance(item.get("entry_data"), dict):
            body = item["entry_data"]
            values[str(item.get("label"))] = body.get("text", body.get("value"))
    metadata = data.get("metadata")
    if isinstance(metadata, dict):
        for key, body in metadata.items():
            values[str(key)] = body.get("text", body.get("value")) if isinstance(body, dict) else body
    return values


def _paused_sqlite(home: _Path, run_id: str) -> bool | None:
    """True when the run's SQLite event log (``<home>/history/runs/<run_id>.db``, Dagster's
    default per-run event storage) has an approval gate waiting: a ``waiting`` marker of
    :mod:`yaml2dag.runs.approvals` without a later ``resolved`` one for the same gate. False when
    that database is not there (another event storage): the run then shows as ``running``.
    None when its schema is not :data:`SQLITE_SCHEMA_REVISION` (ask Dagster instead)."""
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.runs.approvals import MARKER

    db = home / "history" / "runs" / f"{run_id}.db"
    if not db.is_file():
        return False
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error:
        return False
    waiting: dict[str, bool] = {}
    try:
        if not _schema_known(conn):
            return None
        rows = conn.execute("SELECT event FROM event_logs WHERE dagster_event_type = 'ENGINE_EVENT' "
                            "AND event LIKE ? ORDER BY id", (f"%{MARKER}%",)).fetchall()
        for (body,) in rows:
            try:
                entry = _json.loads(body)
            except ValueError:
                continue
            values = _serialized_metadata(entry)
            key = str(values.get("step") or entry.get("step_key") or "")
            if values.get(MARKER) == "waiting":
                waiting[key] = True
            elif values.get(MARKER) == "resolved":
                waiting[key] = False
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    return any(waiting.values())


def last_runs_sqlite(home: str | _Path, jobs: list[str]) -> dict[str, dict] | None:
    """:func:`last_runs` read straight from the default SQLite run storage, without importing
    Dagster (``list`` must stay instant: a ``DagsterInstance`` takes over a second to build).

    Reads ``<home>/history/runs.db`` read-only (tables ``runs`` and ``run_tags``); for a
    started run, its event log ``<home>/history/runs/<run_id>.db`` tells whether an approval
    gate is waiting (``paused``). Returns None when this fast path does not apply (a configured
    storage such as PostgreSQL, no database, a schema revision other than
    :data:`SQLITE_SCHEMA_REVISION` in ``runs.db`` or the event log read, or a last run whose
    yaml2dag process is gone, which :func:`yaml2dag.runs.runner.get_instance` ends first): the
    caller then uses the Dagster API.
    """
    home = _Path(home)
    db = home / "history" / "runs.db"
    if _configured_storage(home) or not db.is_file():
        return None
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=2.0)
    except sqlite3.Error:
        return None
    out: dict[str, dict] = {}
    try:
        if not _schema_known(conn):
            return None
        for job in jobs:
            row = conn.execute("SELECT run_id, status, run_body, create_timestamp, start_time, end_time FROM runs "
                               "WHERE pipeline_name = ? ORDER BY id DESC LIMIT 1", (job,)).fetchone()
            if row is None:
                continue
            run_id, status, body, created, start, end = row
            tags = dict(conn.execute("SELECT key, value FROM run_tags WHERE run_id = ?", (run_id,)).fetchall())
            try:
                parsed = _json.loads(body) if body else {}
            except ValueError:
                parsed = {}
            origin = parsed.get("remote_job_origin") or parsed.get("external_pipeline_origin")
            fake = type("Run", (), {"tags": tags, "remote_job_origin": origin})()
            if status in ("NOT_STARTED", "STARTING", "STARTED", "CANCELING") and tags.get(TAG_CLI_PID):
                if process_state(tags)[0] == "dead":
                    return None  # its process is gone: the Dagster path ends the run first (run_health)
            created_iso = None
            if created:
                try:
                    moment = _dt.datetime.fromisoformat(str(created))
                    created_iso = moment.replace(tzinfo=moment.tzinfo or _dt.timezone.utc).isoformat(timespec="seconds")
                except ValueError:
                    created_iso = None
            paused = _paused_sqlite(home, run_id) if status == "STARTED" else False
            if paused is None:
                return None  # an event log of another schema revision: the Dagster path reads it
            out[job] = {
                "run_id": run_id, "workflow": tags.get(TAG_WORKFLOW, job), "job": job,
                "status": "paused" if paused else STATUS_MAP.get(status, str(status).lower()),
                "canceling": status == "CANCELING", "dagster_status": status,
                "trigger": trigger_of(fake), "version": tags.get(TAG_VERSION),
                "created_at": created_iso, "started_at": _iso(start), "ended_at": _iso(end),
                "duration_s": round(end - start, 3) if start and end else None,
                "parent_run_id": parsed.get("parent_run_id"), "root_run_id": parsed.get("root_run_id"),
                "user": tags.get(TAG_USER), "rollback": rollback_of(tags),
            }
    except sqlite3.Error:
        return None
    finally:
        conn.close()
    return out
