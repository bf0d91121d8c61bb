"""Scaling out (issue 13, section 4): steps on Celery workers, and a queue of runs drained by
the daemon.

1. ``celery``: 4 × ``sleep 1`` in a parallel group with ``executor: {type: celery}``, on 2 real
   ``dagster-celery`` workers (2 pool processes each) over RabbitMQ, PostgreSQL storage. The
   step phase is read from the event log (first STEP_START to last STEP_SUCCESS), as in
   ``parallel_steps.py``; the first run (each pool process builds the job once) is reported
   apart from the median of the next ``--repeat`` runs. The same workflow on the thread-pool
   executor is measured alongside.
2. ``queue``: ``--runs`` runs (default 50) of a 5-step workflow (``common.five_step_workflow``)
   submitted through the instance's run coordinator (yaml2dag's queued coordinator, as runs
   launched from the UI, schedules and sensors are) while no daemon runs, then drained by
   ``dagster-daemon run`` with ``max_concurrent_runs: 4``; runs per minute from the first run's
   start to the last run's end. Once with SQLite storage (the default home) and once with
   PostgreSQL.

Needs RabbitMQ on 127.0.0.1:5672 (guest/guest) and PostgreSQL on 127.0.0.1:5432 (trust or
PGPASSWORD); creates and drops its own databases and queue, and kills every process it starts.

Usage: python benchmarks/celery_scale.py [--repeat 5] [--runs 50] [--part celery|queue|all]
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from common import BIN, five_step_workflow

BROKER = "pyamqp://guest:guest@127.0.0.1:5672//"
PARALLEL = """name: Four Sleeps
steps:
  - parallel:
""" + "".join(f"      - {{id: s{i}, tool: shell, parameters: {{command: 'sleep 1'}}}}\n" for i in range(4))
#: Bounds (seconds) for a worker to come up and for the queue to drain.
WORKER_START_TIMEOUT = 120
DRAIN_TIMEOUT = 1800


def _admin():
    import psycopg2

    user = os.environ.get("PGUSER") or "postgres"
    conn = psycopg2.connect(host="127.0.0.1", port=5432, dbname="postgres", user=user,
                            password=os.environ.get("PGPASSWORD", ""), connect_timeout=5)
    conn.autocommit = True
    return conn, user


def _storage(user: str, db: str) -> str:
    return ("storage:\n  postgres:\n    postgres_db:\n      hostname: 127.0.0.1\n      port: 5432\n"
            f"      username: {user}\n      password:\n        env: YAML2DAG_PG_PASSWORD\n"
            f"      db_name: {db}\n      scheme: postgresql+psycopg2\n")


def _home(path: Path, storage: str = "", max_concurrent_runs: int | None = None) -> Path:
    from yaml2dag.deploy import dagster_yaml_text

    path.mkdir(parents=True)
    text = dagster_yaml_text()
    if max_concurrent_runs is not None:
        assert "max_concurrent_runs: 10" in text
        text = text.replace("max_concurrent_runs: 10", f"max_concurrent_runs: {max_concurrent_runs}")
    (path / "dagster.yaml").write_text(text + ("\n" + storage if storage else ""))
    return path


def _start(argv: list[str], cwd: Path, env: dict, log: Path) -> subprocess.Popen:
    handle = open(log, "wb")
    return subprocess.Popen(argv, cwd=cwd, env={**os.environ, **env}, stdout=handle, stderr=subprocess.STDOUT,
                            stdin=subprocess.DEVNULL, start_new_session=True)


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


def step_phase(instance, run_id: str) -> float:
    records = instance.all_logs(run_id)
    starts = [r.timestamp for r in records if r.dagster_event and r.dagster_event.event_type_value == "STEP_START"]
    ends = [r.timestamp for r in records if r.dagster_event and r.dagster_event.event_type_value == "STEP_SUCCESS"]
    return max(ends) - min(starts)


def celery_part(work: Path, repeat: int, admin, user: str) -> None:
    db = f"y2d_bench_{uuid.uuid4().hex[:8]}"
    queue = f"y2d-bench-{uuid.uuid4().hex[:8]}"
    with admin.cursor() as cur:
        cur.execute(f'CREATE DATABASE "{db}"')
    workers = []
    try:
        home = _home(work / "celery_home", _storage(user, db))
        (work / "wf").mkdir()
        (work / "wf" / "four.yaml").write_text(PARALLEL)
        env = {"DAGSTER_HOME": str(home), "YAML2DAG_PG_PASSWORD": os.environ.get("PGPASSWORD", ""),
               "YAML2DAG_CELERY_BROKER": BROKER, "YAML2DAG_CELERY_QUEUE": queue}
        os.environ.update(env)
        from dagster import DagsterInstance

        from yaml2dag.runs.runner import run_workflow
        from yaml2dag.format.validation import validate_file

        instance = DagsterInstance.get()  # creates the tables before the workers look
        for name in ("a", "b"):
            folder = work / f"worker_{name}"
            folder.mkdir()
            wenv = dict(env, DAGSTER_HOME=str(_home(work / f"worker_{name}_home")))
            workers.append((folder / "worker.log", name, _start(
                [str(BIN / "dagster-celery"), "worker", "start", "-A", "yaml2dag.compiler.celery_app", "-n", name,
                 "-q", queue, "--", "--concurrency=2", "--without-mingle", "--without-gossip"],
                folder, wenv, folder / "worker.log")))
        deadline = time.monotonic() + WORKER_START_TIMEOUT
        for log, name, proc in workers:
            while f"{name}@" not in log.read_text(errors="replace") or " ready." not in log.read_text(errors="replace"):
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise SystemExit(f"worker {name} did not start:\n{log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.2)
        report = validate_file(work / "wf" / "four.yaml")
        phases: dict[str, list[float]] = {"celery": [], "threads": []}
        totals: dict[str, list[float]] = {"celery": [], "threads": []}
        first = None
        for i in range(repeat + 1):
            for kind in ("celery", "threads"):
                os.environ["YAML2DAG_EXECUTOR"] = kind
                start = time.perf_counter()
                result = run_workflow(report.validated(), {}, instance=instance)
                took = time.perf_counter() - start
                assert result.status == "SUCCESS", result.error
                phase = step_phase(instance, result.run_id)
                if i == 0 and kind == "celery":
                    first = (phase, took)
                elif i > 0:
                    phases[kind].append(phase)
                    totals[kind].append(took)
        os.environ.pop("YAML2DAG_EXECUTOR", None)
        instance.dispose()
        print(f"| 4 x `sleep 1` in a parallel group on 2 Celery workers: step phase, first run "
              f"(each pool process builds the job) | {first[0]:.2f} s (run {first[1]:.2f} s) |")
        print(f"| same, median of {repeat} runs after it | {statistics.median(phases['celery']):.2f} s "
              f"(run {statistics.median(totals['celery']):.2f} s; spread {min(phases['celery']):.2f}-"
              f"{max(phases['celery']):.2f} s) |")
        print(f"| same workflow on the thread-pool executor, same PostgreSQL storage | "
              f"{statistics.median(phases['threads']):.2f} s (run {statistics.median(totals['threads']):.2f} s) |")
    finally:
        for _log, _name, proc in workers:
            _kill(proc)
        _delete_queue(queue)
        with admin.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def _delete_queue(queue: str) -> None:
    from kombu import Connection

    with Connection(BROKER, connect_timeout=5) as conn:
        channel = conn.channel()
        channel.queue_delete(queue)
        channel.exchange_delete(queue)


def _submit(project: Path, home: Path, runs: int) -> None:
    """Submit ``runs`` runs of the job through the instance's run coordinator (QUEUED): what
    ``dagster job launch`` does, with the workspace loaded once (in a subprocess with the
    project's DAGSTER_HOME)."""
    code = f"""
import os
from dagster import DagsterInstance
from dagster._cli.job import _create_run
from dagster._cli.workspace.cli_target import WorkspaceOpts, get_workspace_from_cli_opts
from dagster.version import __version__
with DagsterInstance.get() as instance:
    with get_workspace_from_cli_opts(instance, version=__version__,
                                     workspace_opts=WorkspaceOpts(workspace=("workspace.yaml",))) as workspace:
        location = next(iter(workspace.get_code_location_entries().values())).code_location
        repo = next(iter(location.get_repositories().values()))
        job = repo.get_full_job("generated_000")
        for _ in range({runs}):
            run = _create_run(instance=instance, code_location=location, remote_repo=repo, remote_job=job,
                              run_config={{}}, tags=None, op_selection=None, run_id=None)
            instance.submit_run(run.run_id, workspace)
"""
    subprocess.run([sys.executable, "-c", code], cwd=project, check=True, timeout=600,
                   env={**os.environ, "DAGSTER_HOME": str(home)})


def queue_part(work: Path, runs: int, storage_name: str, storage: str) -> None:
    project = work / f"project_{storage_name}"
    (project / "definitions").mkdir(parents=True)
    (project / "definitions" / "generated.yaml").write_text(five_step_workflow(0))
    shutil.copy(Path(__file__).resolve().parents[1] / "workspace.yaml", project / "workspace.yaml")
    home = _home(project / "dagster_home", storage, max_concurrent_runs=4)
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_PG_PASSWORD": os.environ.get("PGPASSWORD", "")}
    os.environ.update(env)
    os.environ.pop("YAML2DAG_EXECUTOR", None)
    _submit(project, home, runs)
    import dagster as dg
    from dagster import DagsterInstance, DagsterRunStatus

    with DagsterInstance.from_config(str(home)) as instance:
        queued = instance.get_runs_count()
        assert queued == runs and all(r.status == DagsterRunStatus.QUEUED for r in instance.get_runs()), queued
    daemon = _start([str(BIN / "dagster-daemon"), "run", "-w", "workspace.yaml"], project, env, work / f"daemon_{storage_name}.log")
    try:
        deadline = time.monotonic() + DRAIN_TIMEOUT
        peak = 0
        while True:
            with DagsterInstance.from_config(str(home)) as instance:
                records = instance.get_run_records()
                active = sum(1 for r in records if r.dagster_run.status in (DagsterRunStatus.STARTING, DagsterRunStatus.STARTED))
                peak = max(peak, active)
                if all(r.dagster_run.status in (DagsterRunStatus.SUCCESS, DagsterRunStatus.FAILURE,
                                                DagsterRunStatus.CANCELED) for r in records):
                    break
            if time.monotonic() > deadline or daemon.poll() is not None:
                raise SystemExit(f"the queue did not drain:\n{(work / f'daemon_{storage_name}.log').read_text()[-3000:]}")
            time.sleep(1)
    finally:
        _kill(daemon)
    ok = sum(1 for r in records if r.dagster_run.status == DagsterRunStatus.SUCCESS)
    with DagsterInstance.from_config(str(home)) as instance:
        for r in records:
            if r.dagster_run.status != DagsterRunStatus.SUCCESS:  # say why, so a failure is never just a count
                reasons = [e.message for e in instance.all_logs(r.dagster_run.run_id)
                           if e.is_dagster_event and e.dagster_event_type in (dg.DagsterEventType.RUN_FAILURE,
                                                                            dg.DagsterEventType.STEP_FAILURE,
                                                                            dg.DagsterEventType.ENGINE_EVENT)]
                print(f"run {r.dagster_run.run_id} ended {r.dagster_run.status.value}: {reasons[-3:]}", file=sys.stderr)
    first = min(r.start_time for r in records if r.start_time)
    last = max(r.end_time for r in records if r.end_time)
    minutes = (last - first) / 60
    spans = [(r.start_time, r.end_time) for r in records if r.start_time and r.end_time]
    # exact: the most runs whose [start, end) spans hold one moment (a run's start is such a moment)
    overlap = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    print(f"| {runs} queued runs of a 5-step workflow, `max_concurrent_runs: 4`, {storage_name} | "
          f"{runs / minutes:.1f} runs/min ({last - first:.0f} s from first start to last end; {ok}/{runs} succeeded; "
          f"at most {overlap} running at once by their start and end times, {peak} seen by the 1 s sampling) |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--part", choices=("celery", "queue", "all"), default="all")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="y2d-bench-celery-"))
    admin, user = _admin()
    dbs = []
    try:
        print("| measurement | result |\n|---|---|")
        if args.part in ("celery", "all"):
            celery_part(work, args.repeat, admin, user)
        if args.part in ("queue", "all"):
            queue_part(work, args.runs, "SQLite", "")
            db = f"y2d_bench_{uuid.uuid4().hex[:8]}"
            with admin.cursor() as cur:
                cur.execute(f'CREATE DATABASE "{db}"')
            dbs.append(db)
            queue_part(work, args.runs, "PostgreSQL", _storage(user, db))
    finally:
        for db in dbs:
            with admin.cursor() as cur:
                cur.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
