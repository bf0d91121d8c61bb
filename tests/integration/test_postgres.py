"""Issue #5, PostgreSQL storage: the dagster.yaml snippet of docs/manual/triggers_en.md against a
real PostgreSQL server on 127.0.0.1:5432 (a fresh database per test, dropped afterwards). A real
`yaml2dag run` is stored there and read back with `yaml2dag status`; SQLite is not used.

Skips, saying why, only when no PostgreSQL server answers on 127.0.0.1:5432.
"""

from __future__ import annotations

import getpass
import json
import os
import uuid

import pytest

from conftest import run_cli, write

pytestmark = pytest.mark.slow

HOST, PORT = "127.0.0.1", 5432

#: The storage section documented in docs/manual/triggers_en.md ("Moving to PostgreSQL").
DAGSTER_YAML = """\
telemetry:
  enabled: false
storage:
  postgres:
    postgres_db:
      hostname: {host}
      port: {port}
      username: {user}
      password:
        env: YAML2DAG_PG_PASSWORD
      db_name: {db}
      # SQLAlchemy 2.1 picks psycopg 3 for `postgresql://`; dagster-postgres ships psycopg2
      scheme: postgresql+psycopg2
"""


def _connect(dbname: str):
    """A psycopg2 connection as the first role the server accepts (trust auth)."""
    import psycopg2

    errors = []
    for user in dict.fromkeys(u for u in (os.environ.get("PGUSER"), "postgres", getpass.getuser()) if u):
        try:
            conn = psycopg2.connect(host=HOST, port=PORT, dbname=dbname, user=user,
                                    password=os.environ.get("PGPASSWORD", ""), connect_timeout=5)
            return conn, user
        except psycopg2.OperationalError as exc:
            errors.append(f"{user}: {str(exc).strip()}")
    raise ConnectionError("; ".join(errors))


@pytest.fixture
def postgres_db():
    """A fresh, empty database on the local server: ``(name, user)``; dropped on teardown."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.skip("psycopg2 is not installed (it comes with dagster-postgres, the dev extra)")
    try:
        admin, user = _connect("test")
    except ConnectionError as exc:
        pytest.skip(f"no PostgreSQL server reachable on {HOST}:{PORT} (database `test`): {exc}")
    admin.autocommit = True
    name = f"yaml2dag_test_{uuid.uuid4().hex[:12]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{name}"')
    try:
        yield name, user
    finally:
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


def test_run_is_stored_in_postgresql_and_read_back_with_status(postgres_db, tmp_path):
    db, user = postgres_db
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(DAGSTER_YAML.format(host=HOST, port=PORT, user=user, db=db))
    folder = tmp_path / "definitions"
    write(folder, "pg.yaml", """
        name: Postgres Check
        parameters:
          who: {type: string, default: nobody}
        steps:
          - id: greet
            tool: shell
            parameters: {command: "echo hello {{ who }}"}
          - id: never
            when: "{{ who == 'nobody' }}"
            tool: shell
            parameters: {command: "echo skipped"}
        outputs:
          greeting: "{{ greet.output }}"
    """)
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder), "YAML2DAG_PG_PASSWORD": ""}
    ran = run_cli("run", "Postgres Check", "who=postgres", "--format", "json", env=env, cwd=tmp_path)
    assert ran.code == 0, ran.stderr
    result = json.loads(ran.stdout)
    assert result["status"] == "SUCCESS" and result["outputs"] == {"greeting": "hello postgres"}
    run_id = result["run_id"]

    status = run_cli("status", run_id, "--format", "json", env=env, cwd=tmp_path)
    assert status.code == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["run_id"] == run_id and info["status"] == "completed"
    assert info["step_statuses"] == {"greet": "succeeded", "never": "skipped"}

    conn, _ = _connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pipeline_name, status FROM runs WHERE run_id = %s", (run_id,))
            assert cur.fetchall() == [("postgres_check", "SUCCESS")]
            cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'STEP_SUCCESS'",
                        (run_id,))
            assert cur.fetchone()[0] >= 2  # greet and the outputs step, at least
    finally:
        conn.close()
    # nothing went to the SQLite storages a default home would use
    assert not (home / "history").exists() and not (home / "schedules").exists()
