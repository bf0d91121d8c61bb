"""A Celery worker's pool process keeps the Dagster instance of each storage it served
(yaml2dag/compiler/celery_worker.py, ``KEPT_INSTANCES``) instead of opening one per step: with
one worker of one pool process, so that every step runs in the same process,

* runs on two Dagster homes with their own PostgreSQL databases, one after another and back
  again, all succeed, and each database holds its own runs only;
* after a run's database was dropped, the next run (another database) succeeds on the same
  process, and so does a run on a database of the dropped one's name made again (the kept
  instance's storage went away and came back);
* a kept instance whose storage fails is closed and a new one opened: the step still runs.

Services and helpers: tests/celery_cluster.py (a service that does not answer fails the test).
"""

from __future__ import annotations

import json
import os
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest

from celery_cluster import BROKER, Databases, Worker, delete_queue, postgres_home, require_services
from conftest import CLI_TIMEOUT, make_dagster_home, run_cli, write
from yaml2dag.compiler import celery_worker

pytestmark = pytest.mark.slow

WORKFLOW = """
    name: Where Reuse
    executor: {type: celery}
    steps:
      - {id: one, tool: python, parameters: {callable: "os:getpid"}}
      - {id: two, tool: python, parameters: {callable: "os:getpid"}}
    outputs: {one: "{{ one.output }}", two: "{{ two.output }}"}
"""


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    """One worker with one pool process on a queue of this module, and the module's databases."""
    require_services()
    root = tmp_path_factory.mktemp("reuse")
    queue = f"yaml2dag-reuse-{uuid.uuid4().hex[:10]}"
    env = {"YAML2DAG_CELERY_BROKER": BROKER, "YAML2DAG_PG_PASSWORD": os.environ.get("PGPASSWORD", ""),
           "DAGSTER_HOME": str(make_dagster_home(root / "worker_home"))}
    worker = Worker(root / "worker", "worker-reuse", queue, env, concurrency=1)
    dbs = None
    try:
        dbs = Databases(root / "pg")
        worker.wait_ready()
        yield SimpleNamespace(queue=queue, worker=worker, databases=dbs, root=root)
    finally:
        worker.stop()
        delete_queue(queue)
        if dbs is not None:
            dbs.close()


@pytest.fixture(autouse=True)
def pg_password(monkeypatch):
    """The storage section reads the database password from YAML2DAG_PG_PASSWORD; this test
    process opens the same storages."""
    monkeypatch.setenv("YAML2DAG_PG_PASSWORD", os.environ.get("PGPASSWORD", ""))


def _run(cluster, home: Path, folder: Path) -> dict:
    """`yaml2dag run "Where Reuse"` on ``home``, its steps sent to the module's worker."""
    done = run_cli("run", "Where Reuse", "--format", "json", timeout=CLI_TIMEOUT, env={
        "DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder), "YAML2DAG_CELERY_BROKER": BROKER,
        "YAML2DAG_CELERY_QUEUE": cluster.queue, "YAML2DAG_CELERY_HEARTBEAT": "1"})
    assert done.code == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["status"] == "SUCCESS", result
    return result


def _run_ids(home: Path) -> set[str]:
    from dagster import DagsterInstance

    with DagsterInstance.from_config(str(home)) as inst:
        return {r.run_id for r in inst.get_runs()}


def _pids(*results: dict) -> set[int]:
    return {r["outputs"][k] for r in results for k in ("one", "two")}


def test_runs_on_two_storages_through_one_pool_process_keep_to_their_own_databases(tmp_path, cluster):
    folder = tmp_path / "defs"
    write(folder, "reuse.yaml", WORKFLOW)
    dbs = cluster.databases
    home_a = postgres_home(tmp_path / "home_a", dbs.user, dbs.new())
    home_b = postgres_home(tmp_path / "home_b", dbs.user, dbs.new())
    first = _run(cluster, home_a, folder)
    second = _run(cluster, home_b, folder)
    third = _run(cluster, home_a, folder)
    pids = _pids(first, second, third)
    assert len(pids) == 1 and cluster.worker.owns(next(iter(pids))), pids
    assert _run_ids(home_a) == {first["run_id"], third["run_id"]}
    assert _run_ids(home_b) == {second["run_id"]}


def test_a_run_after_its_predecessors_database_was_dropped_succeeds_on_the_same_process(tmp_path, cluster):
    folder = tmp_path / "defs"
    write(folder, "reuse.yaml", WORKFLOW)
    dbs = cluster.databases
    gone = dbs.new()
    home_gone = postgres_home(tmp_path / "home_gone", dbs.user, gone)
    before = _run(cluster, home_gone, folder)
    dbs.drop(gone)
    after = _run(cluster, postgres_home(tmp_path / "home_next", dbs.user, dbs.new()), folder)
    # the same storage settings again, on a new database of the dropped one's name
    dbs.recreate(gone)
    again = _run(cluster, home_gone, folder)
    assert len(_pids(before, after, again)) == 1, (before, after, again)
    assert _run_ids(home_gone) == {again["run_id"]}


class _Instance:
    """A stand-in for a Dagster instance: its run storage works or fails."""

    def __init__(self, fails: bool):
        self.fails = fails
        self.disposed = False

    def get_run_by_id(self, run_id: str):
        if self.fails:
            raise ConnectionError("server closed the connection unexpectedly")
        return SimpleNamespace(run_id=run_id)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.disposed = True


def test_a_kept_instance_whose_storage_fails_is_closed_and_a_new_one_reads_the_run(monkeypatch):
    broken, fresh = _Instance(fails=True), _Instance(fails=False)
    opened = []

    def from_ref(ref):
        opened.append(ref)
        return fresh

    monkeypatch.setattr(celery_worker.DagsterInstance, "from_ref", staticmethod(from_ref))
    monkeypatch.setattr(celery_worker, "_KEPT", celery_worker._KeptInstances())
    celery_worker._KEPT.keep("ref-key", broken, 3)
    args = SimpleNamespace(instance_ref="the-ref", run_id="r1")
    instance, run, steps = celery_worker._open_run(args, "ref-key")
    assert instance is fresh and run.run_id == "r1" and opened == ["the-ref"] and steps == 0
    assert broken.disposed and not fresh.disposed


def test_a_kept_instance_is_opened_again_after_its_share_of_steps(monkeypatch):
    """A long-lived worker does not keep one instance for ever (Dagster's instance notes every
    run it wrote events for): after KEPT_STEPS steps it is closed and the next step opens one."""
    monkeypatch.setattr(celery_worker, "_KEPT", celery_worker._KeptInstances())
    used, worn = _Instance(fails=False), _Instance(fails=False)
    celery_worker._KEPT.keep("a", used, celery_worker.KEPT_STEPS - 1)
    celery_worker._KEPT.keep("b", worn, celery_worker.KEPT_STEPS)
    assert celery_worker._KEPT.take("a") == (used, celery_worker.KEPT_STEPS - 1) and not used.disposed
    assert celery_worker._KEPT.take("b") is None and worn.disposed


def test_a_process_keeps_the_instances_of_its_last_storages_and_closes_older_ones(monkeypatch):
    monkeypatch.setattr(celery_worker, "_KEPT", celery_worker._KeptInstances())
    instances = [_Instance(fails=False) for _ in range(celery_worker.KEPT_INSTANCES + 1)]
    for i, instance in enumerate(instances):
        celery_worker._KEPT.keep(f"storage-{i}", instance, 1)
    assert [i.disposed for i in instances] == [True] + [False] * celery_worker.KEPT_INSTANCES
    assert celery_worker._KEPT.take("storage-0") is None
    assert celery_worker._KEPT.take("storage-1") == (instances[1], 1)
