"""Helpers for tests that run steps on real Celery workers (tests only).

* :func:`require_services` - RabbitMQ on 127.0.0.1:5672 and PostgreSQL on 127.0.0.1:5432 must
  answer; when one does not, the test fails (never skips) with the command that starts it.
* :class:`Databases` - fresh PostgreSQL databases with Dagster's tables, copied from a template
  made once (``CREATE DATABASE ... TEMPLATE``), dropped on :meth:`Databases.close` (several at
  once: they share the checkpoint each waits for).
* :func:`postgres_home` - a DAGSTER_HOME whose dagster.yaml is the shipped one plus the
  documented PostgreSQL ``storage`` section (docs/manual/triggers_en.md) for one database.
* :class:`Worker` - a real ``dagster-celery worker start -A yaml2dag.compiler.celery_app``
  process (its own session and working folder), waited for until it is ready, stopped with
  SIGTERM (Celery's warm shutdown, so that coverage.py writes the data of its processes) or
  killed with its whole process group.
* :func:`delete_queue` - drop a test's queue from the broker.
"""

from __future__ import annotations

import concurrent.futures
import getpass
import os
import signal
import socket
import subprocess
import sys
import uuid
from pathlib import Path

import psutil
import pytest

from waiting import WaitTimeout, wait_until

HOST = "127.0.0.1"
RABBITMQ_PORT = 5672
POSTGRES_PORT = 5432
BROKER = f"pyamqp://guest:guest@{HOST}:{RABBITMQ_PORT}//"
#: Commands that start the services on this machine kind (see .ci/run, which runs them too).
START_RABBITMQ = "rabbitmq-server -detached"
START_POSTGRES = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
#: Bound for a worker to say it is ready (seconds; slow CI machines import Dagster slowly).
WORKER_START_TIMEOUT = 120
#: Bound for a worker to stop after SIGTERM before its process group is killed (seconds).
WORKER_STOP_TIMEOUT = 30
#: Databases connected to for CREATE/DROP DATABASE, in this order.
ADMIN_DATABASES = ("postgres", "test", "template1")
#: Databases :meth:`Databases.close` drops at once (each on a connection of its own).
DROPPING_AT_ONCE = 8


def _listening(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=3):
            return True
    except OSError:
        return False


def require_services() -> None:
    """Fail the test, naming the start command, when RabbitMQ or PostgreSQL does not answer."""
    missing = []
    if not _listening(RABBITMQ_PORT):
        missing.append(f"RabbitMQ on {HOST}:{RABBITMQ_PORT} (start it: {START_RABBITMQ})")
    if not _listening(POSTGRES_PORT):
        missing.append(f"PostgreSQL on {HOST}:{POSTGRES_PORT} (start it: {START_POSTGRES})")
    if missing:
        pytest.fail("the Celery tests need " + " and ".join(missing), pytrace=False)


def _admin():
    """``(connection, user, connect keyword arguments)`` of an administrative connection."""
    import psycopg2

    users = list(dict.fromkeys(u for u in (os.environ.get("PGUSER"), "postgres", getpass.getuser()) if u))
    errors = []
    for db in ADMIN_DATABASES:
        for user in users:
            params = dict(host=HOST, port=POSTGRES_PORT, dbname=db, user=user,
                          password=os.environ.get("PGPASSWORD", ""), connect_timeout=5)
            try:
                conn = psycopg2.connect(**params)
                conn.autocommit = True
                return conn, user, params
            except psycopg2.OperationalError as exc:
                errors.append(f"{user}@{db}: {str(exc).strip().splitlines()[0]}")
    pytest.fail("cannot connect to PostgreSQL on 127.0.0.1:5432 to create test databases: " + "; ".join(errors),
                pytrace=False)


def storage_section(user: str, db: str) -> str:
    """The documented ``storage`` section (docs/manual/triggers_en.md) for ``db``."""
    return (
        "storage:\n  postgres:\n    postgres_db:\n"
        f"      hostname: {HOST}\n      port: {POSTGRES_PORT}\n      username: {user}\n"
        "      password:\n        env: YAML2DAG_PG_PASSWORD\n"
        f"      db_name: {db}\n      scheme: postgresql+psycopg2\n"
    )


def postgres_home(path: Path, user: str, db: str) -> Path:
    """Make ``path`` a DAGSTER_HOME: the shipped dagster.yaml plus PostgreSQL storage in ``db``."""
    from yaml2dag.deploy import dagster_yaml_text

    path.mkdir(parents=True, exist_ok=True)
    (path / "dagster.yaml").write_text(dagster_yaml_text() + "\n" + storage_section(user, db))
    return path


class Databases:
    """Fresh databases for one test module, each a copy of a template holding Dagster's tables."""

    def __init__(self, scratch: Path):
        self.admin, self.user, self._params = _admin()
        self.prefix = f"yaml2dag_celery_{uuid.uuid4().hex[:8]}"
        self.template = f"{self.prefix}_template"
        self.made: list[str] = []
        self._create(self.template)
        home = postgres_home(scratch / "template_home", self.user, self.template)
        # Dagster creates its tables on first use: once, in the template, from this process (which
        # imports Dagster anyway; a fresh interpreter cost a second of CPU). The storage section
        # reads the password from YAML2DAG_PG_PASSWORD, set for this moment only.
        from dagster import DagsterInstance

        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("YAML2DAG_PG_PASSWORD", os.environ.get("PGPASSWORD", ""))
            with DagsterInstance.from_config(str(home)) as instance:
                instance.get_runs(limit=1)

    def _create(self, name: str, template: str | None = None) -> None:
        with self.admin.cursor() as cur:
            cur.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        self.made.append(name)

    def new(self) -> str:
        """The name of a new database with Dagster's tables and no runs."""
        name = f"{self.prefix}_{len(self.made)}"
        self._create(name, self.template)
        return name

    def recreate(self, name: str) -> None:
        """Make the dropped database ``name`` again, with Dagster's tables and no runs."""
        self._create(name, self.template)

    def drop(self, name: str) -> None:
        with self.admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _drop_on_own_connection(self, name: str) -> None:
        import psycopg2

        conn = psycopg2.connect(**self._params)
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            conn.close()

    def close(self) -> None:
        """Drop every database made (the template too), :data:`DROPPING_AT_ONCE` at a time: each
        ``DROP DATABASE`` waits for a checkpoint (a second or more on a loaded machine: one after
        another, a module's teardown took minutes), and drops that wait together share one. A
        drop that fails is done again on the main connection."""
        failed: list[str] = []
        with concurrent.futures.ThreadPoolExecutor(DROPPING_AT_ONCE, thread_name_prefix="drop-test-db") as pool:
            futures = {pool.submit(self._drop_on_own_connection, name): name for name in self.made}
            for future in concurrent.futures.as_completed(futures, timeout=600):
                if future.exception() is not None:
                    failed.append(futures[future])
        for name in failed:
            self.drop(name)
        self.admin.close()


class Worker:
    """One ``dagster-celery worker`` process tree in its own session and working folder.

    Args:
        folder: its working folder (created); its log is ``folder/worker.log``.
        name: the worker's name; its Celery node name is ``NAME-<8 hex>@host``, unique so that two
            clusters on one broker (two xdist workers, two checkouts) never share a node name
            (RabbitMQ refuses the second ``NAME@host.celery.pidbox``: RESOURCE_LOCKED).
        queue: the queue it consumes.
        env: extra environment (DAGSTER_HOME, the broker, secrets the steps read...).
        concurrency: processes of its pool.
    """

    def __init__(self, folder: Path, name: str, queue: str, env: dict[str, str], concurrency: int = 2):
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.name = name
        self.node = f"{name}-{uuid.uuid4().hex[:8]}"
        self.log = folder / "worker.log"
        full = dict(os.environ)
        full.update(env)
        # `dagster-celery worker start` runs `celery` found on PATH: the venv's, also when it is not activated
        full["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), full.get("PATH", "")])
        argv = [str(Path(sys.executable).parent / "dagster-celery"), "worker", "start",
                "-A", "yaml2dag.compiler.celery_app", "-n", self.node, "-q", queue, "--",
                f"--concurrency={concurrency}", "--without-mingle", "--without-gossip"]
        self._log_handle = open(self.log, "wb")
        self.proc = subprocess.Popen(argv, cwd=folder, env=full, stdin=subprocess.DEVNULL, stdout=self._log_handle,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.pgid = self.proc.pid
        #: the pids of its processes when it was stopped or killed (they are reaped then: a
        #: test asking after the worker ended which worker ran a step finds them here)
        self.last_pids: set[int] = set()

    def wait_ready(self, timeout: float = WORKER_START_TIMEOUT) -> None:
        """Wait until the worker logs ``NAME@host ready.`` (fails the test after ``timeout``)."""
        def ready() -> bool:
            text = self.log.read_text(errors="replace")
            return f"{self.node}@" in text and " ready." in text

        try:
            wait_until(ready, timeout, 0.2, f"worker {self.name} to get ready", process=self.proc)
        except WaitTimeout as exc:
            pytest.fail(f"{exc}:\n{self.log.read_text(errors='replace')[-3000:]}", pytrace=False)

    def owns(self, pid: int) -> bool:
        """Whether ``pid`` (or one of its ancestors) is one of this worker's processes (or was,
        when the worker was stopped)."""
        if pid in self.last_pids:
            return True
        try:
            proc = psutil.Process(pid)
            chain = [proc] + proc.parents()
        except psutil.NoSuchProcess:
            return False
        for p in chain:
            try:
                if os.getpgid(p.pid) == self.pgid:
                    return True
            except ProcessLookupError:
                continue
        return False

    def pids(self) -> set[int]:
        """The pids of this worker's process group that are alive."""
        out = set()
        for p in psutil.process_iter(["pid"]):
            try:
                if os.getpgid(p.pid) == self.pgid and p.status() != psutil.STATUS_ZOMBIE:
                    out.add(p.pid)
            except (ProcessLookupError, psutil.NoSuchProcess):
                continue
        return out

    def stop(self, timeout: float = WORKER_STOP_TIMEOUT) -> None:
        """Stop the worker as its operator would: SIGTERM to the ``celery worker`` process (the
        child of ``dagster-celery``, which waits for it), a warm shutdown: it lets a running task
        end, stops its pool and exits, and its processes exit normally (coverage.py saves their
        data; SIGKILL saves none). Waited for up to ``timeout``; then :meth:`kill`."""
        self.last_pids |= self.pids()
        try:
            mains = psutil.Process(self.proc.pid).children()
        except psutil.NoSuchProcess:
            mains = []
        for main in mains:
            try:
                main.send_signal(signal.SIGTERM)
            except psutil.NoSuchProcess:
                continue
        try:
            if mains:
                wait_until(lambda: not self.pids(), timeout, 0.1, f"worker {self.name} to stop on SIGTERM")
        except WaitTimeout:
            pass
        self.kill()

    def kill(self) -> None:
        """``kill -9`` the whole process group (main process and pool), then reap it."""
        self.last_pids |= self.pids()
        try:
            os.killpg(self.pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
        # SIGKILL is delivered asynchronously: on a loaded machine a pool process can still be
        # alive for a moment after the main process was reaped
        wait_until(lambda: not self.pids(), 30, 0.1, f"every process of worker {self.name} to be gone",
                   details=lambda: f"alive: {sorted(self.pids())}")
        self._log_handle.close()


def delete_queue(queue: str, broker: str = BROKER) -> None:
    """Delete ``queue`` from the broker (its messages with it); a missing queue is fine."""
    from kombu import Connection

    try:
        with Connection(broker, connect_timeout=5) as conn:
            channel = conn.channel()
            channel.queue_delete(queue)
            channel.exchange_delete(queue)
    except Exception:  # noqa: BLE001 - cleanup only; the queue name was unique anyway
        pass
