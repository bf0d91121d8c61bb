"""Issue #5, PostgreSQL storage: the shipped dagster.yaml (yaml2dag/deploy/dagster.yaml: run
coordinator, run queue rules, pools, run monitoring) with the `storage` section of
docs/manual/triggers_en.md ("Moving to PostgreSQL") added, exactly as the guide says, against a
real PostgreSQL server on 127.0.0.1:5432 (a fresh database per test, dropped afterwards). A
real `yaml2dag run` is stored there and read back with `yaml2dag status`; SQLite is not used.

Skips, saying which, when no server answers on 127.0.0.1:5432, when it answers but none of the
usual databases exists to connect to, or when it refuses every role tried (authentication).
"""

from __future__ import annotations

import getpass
import json
import os
import re
import textwrap
import uuid

import pytest
import yaml

from conftest import REPO, run_cli, write

pytestmark = pytest.mark.slow

HOST, PORT = "127.0.0.1", 5432
#: Databases the test connects to for CREATE/DROP DATABASE, in this order.
ADMIN_DATABASES = ("test", "postgres", "template1")
GUIDE = REPO / "docs" / "manual" / "triggers_en.md"


def documented_storage() -> dict:
    """The ``storage`` section of the guide's "Moving to PostgreSQL" (its YAML block)."""
    text = GUIDE.read_text().split("## Moving to PostgreSQL", 1)[1]
    blocks = re.findall(r"```yaml\n(.*?)```", text, flags=re.S)
    section = next(b for b in blocks if b.lstrip().startswith("storage:"))
    return yaml.safe_load(textwrap.dedent(section))


def dagster_yaml(user: str, db: str) -> str:
    """The shipped dagster.yaml plus the documented storage section pointed at this server."""
    from yaml2dag.deploy import dagster_yaml_text

    storage = documented_storage()
    settings = storage["storage"]["postgres"]["postgres_db"]
    assert settings["password"] == {"env": "YAML2DAG_PG_PASSWORD"}  # never a literal in the file
    settings.update(hostname=HOST, port=PORT, username=user, db_name=db)
    return dagster_yaml_text() + "\n" + yaml.safe_dump(storage, sort_keys=False)


def _kind(message: str) -> str:
    """``unreachable``, ``database`` or ``auth`` for a psycopg2 connection error message."""
    text = message.lower()
    if "does not exist" in text and "database" in text:
        return "database"
    if any(word in text for word in ("password", "authentication", "pg_hba.conf", "role", "permission denied")):
        return "auth"
    return "unreachable"


def _connect(dbname: str | None = None):
    """``(connection, user)``: a psycopg2 connection to ``dbname`` (default: the first of
    :data:`ADMIN_DATABASES` that exists) as the first role the server accepts.

    Raises:
        ConnectionError: ``args == (kind, details)`` with kind ``unreachable`` (nothing answers
            on HOST:PORT), ``database`` (no such database) or ``auth`` (every role refused).
    """
    import psycopg2

    users = list(dict.fromkeys(u for u in (os.environ.get("PGUSER"), "postgres", getpass.getuser()) if u))
    errors: dict[str, list[str]] = {"unreachable": [], "database": [], "auth": []}
    for db in (dbname,) if dbname else ADMIN_DATABASES:
        for user in users:
            try:
                conn = psycopg2.connect(host=HOST, port=PORT, dbname=db, user=user,
                                        password=os.environ.get("PGPASSWORD", ""), connect_timeout=5)
                return conn, user
            except psycopg2.OperationalError as exc:
                message = str(exc).strip().splitlines()[0]
                kind = _kind(message)
                errors[kind].append(f"{user}@{db}: {message}")
                if kind == "unreachable":
                    raise ConnectionError("unreachable", message) from None
    kind = "auth" if errors["auth"] else "database"
    raise ConnectionError(kind, "; ".join(errors[kind]))


SKIP_REASONS = {
    "unreachable": "no PostgreSQL server reachable on {where}",
    "database": "a PostgreSQL server answers on {where}, but none of the databases {dbs} exists to connect to",
    "auth": "the PostgreSQL server on {where} refused every role tried (authentication; set PGUSER/PGPASSWORD)",
}


@pytest.fixture
def postgres_db():
    """A fresh, empty database on the local server: ``(name, user)``; dropped on teardown."""
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        pytest.skip("psycopg2 is not installed (it comes with dagster-postgres, the dev extra)")
    try:
        admin, user = _connect()
    except ConnectionError as exc:
        kind, details = exc.args
        pytest.skip(SKIP_REASONS[kind].format(where=f"{HOST}:{PORT}", dbs=", ".join(ADMIN_DATABASES))
                    + f": {details}")
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


def test_skip_reasons_tell_an_unreachable_server_a_missing_database_and_refused_roles_apart():
    assert _kind('could not connect to server: Connection refused\n\tIs the server running on host') == "unreachable"
    assert _kind("connection to server at \"127.0.0.1\", port 5432 failed: timeout expired") == "unreachable"
    assert _kind('connection to server at "127.0.0.1", port 5432 failed: FATAL:  database "test" does not exist') \
        == "database"
    assert _kind('FATAL:  password authentication failed for user "postgres"') == "auth"
    assert _kind('FATAL:  role "ci" does not exist') == "auth"
    assert _kind('FATAL:  no pg_hba.conf entry for host "127.0.0.1", user "x", database "test"') == "auth"


def test_run_is_stored_in_postgresql_and_read_back_with_status(postgres_db, tmp_path, monkeypatch):
    db, user = postgres_db
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text(dagster_yaml(user, db))
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

    stats = run_cli("stats", "Postgres Check", "--format", "json", env=env, cwd=tmp_path)  # stores the run's step outcomes
    assert stats.code == 0, stats.stderr

    conn, _ = _connect(db)
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT pipeline_name, status FROM runs WHERE run_id = %s", (run_id,))
            assert cur.fetchall() == [("postgres_check", "SUCCESS")]
            cur.execute("SELECT count(*) FROM event_logs WHERE run_id = %s AND dagster_event_type = 'STEP_SUCCESS'",
                        (run_id,))
            assert cur.fetchone()[0] >= 2  # greet and the outputs step, at least
            # the finished run's step outcomes, stored by `stats` (yaml2dag.runs.history.outcome_cache)
            cur.execute("SELECT value FROM kvs WHERE key = %s", (f"yaml2dag/step_outcomes/{run_id}",))
            stored = json.loads(cur.fetchone()[0])
            assert stored["steps"]["greet"]["status"] == "succeeded" and stored["steps"]["never"]["status"] == "skipped"
    finally:
        conn.close()
    # nothing went to the SQLite storages a default home would use
    assert not (home / "history").exists() and not (home / "schedules").exists()
    # and the rest of the shipped configuration is in force on this instance
    from dagster import DagsterInstance

    from yaml2dag.runs.run_coordinator import WorkflowRunCoordinator

    monkeypatch.setenv("YAML2DAG_PG_PASSWORD", os.environ.get("YAML2DAG_PG_PASSWORD", ""))
    instance = DagsterInstance.from_config(str(home))
    try:
        assert type(instance.run_storage).__name__ == "PostgresRunStorage"
        assert isinstance(instance.run_coordinator, WorkflowRunCoordinator)
        assert len(instance.get_concurrency_config().run_queue_config.tag_concurrency_limits) == 20
        assert instance.run_monitoring_enabled
        assert instance.get_run_by_id(run_id).job_name == "postgres_check"
    finally:
        instance.dispose()
