"""`yaml2dag list` on 200 workflows with run history: the SQL reader of Dagster's SQLite schema
against the public-API fallback (issue 11, "Dagster internals and libraries").

A project folder with 200 workflows in ./definitions and a temporary DAGSTER_HOME holding 5 stored
runs per workflow (1,000 runs: successes, failures, one run in progress per 20 workflows waiting
at an approval gate), written with ``DagsterInstance.add_run`` (no run is executed). The whole
process of ``yaml2dag list --format json`` is then timed from the project folder, alternately:

* **SQL reader**: ``history/runs.db`` at the schema revision Dagster 1.13 writes, so ``list``
  reads the last runs with SQL and does not import Dagster;
* **public API**: the same database with another ``alembic_version`` (the revision before),
  so ``list`` falls back to ``DagsterInstance.get_run_records`` (what any other revision, or a
  configured storage, gets).

Both must print the same JSON. Reports medians of wall and CPU time (user + system).

Usage: python benchmarks/list_history.py [--workflows 200] [--runs 5] [--repeat 7]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import sqlite3
import statistics
import subprocess
import tempfile
import time
import uuid
from pathlib import Path

from common import BIN, temp_home

WORKFLOW = """name: "History {i:03d}"
description: "Workflow {i} of the list-with-history benchmark"
tags: [bench]
triggers:
  - {{type: schedule, cron: "{minute} 6 * * 1-5", timezone: Europe/Berlin}}
steps:
  - id: first
    tool: shell
    parameters: {{command: "echo first"}}
  - id: second
    tool: shell
    parameters: {{command: "echo second"}}
"""

#: Dagster 1.13's SQLite schema revision and the one before it (``down_revision``).
KNOWN, OTHER = "29b539ebc72a", "f495c27d5019"


def _measured(argv: list[str], env: dict, cwd: Path) -> tuple[float, float, str]:
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime), done.stdout


def _set_revision(db: Path, revision: str) -> None:
    conn = sqlite3.connect(db)
    try:
        with conn:
            conn.execute("UPDATE alembic_version SET version_num = ?", (revision,))
    finally:
        conn.close()


def _store_history(home: Path, jobs: list[str], runs: int) -> None:
    from dagster import DagsterInstance, DagsterRun, DagsterRunStatus

    from yaml2dag.runs import approvals

    instance = DagsterInstance.from_config(str(home))
    try:
        for n, job in enumerate(jobs):
            for k in range(runs):
                last = k == runs - 1
                status = (DagsterRunStatus.STARTED if last and n % 20 == 0 else
                          DagsterRunStatus.FAILURE if k % 3 == 2 else DagsterRunStatus.SUCCESS)
                tags = {"yaml2dag/workflow": job, "yaml2dag/user": "bench"}
                if k % 2:  # every other run from the workflow's schedule
                    tags["dagster/schedule_name"] = f"{job}_schedule"
                run = DagsterRun(job_name=job, run_id=str(uuid.uuid4()), status=status, tags=tags)
                instance.add_run(run)
                if status == DagsterRunStatus.STARTED:
                    approvals._report(instance, run, "waiting", "first",
                                      {approvals.MARKER: "waiting", "step": "first"})
    finally:
        instance.dispose()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--workflows", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5, help="stored runs per workflow")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    project = Path(tempfile.mkdtemp(prefix="y2d-bench-listhist-"))
    folder = project / "definitions"
    folder.mkdir()
    for i in range(args.workflows):
        (folder / f"history_{i:03d}.yaml").write_text(WORKFLOW.format(i=i, minute=i % 60))
    home = temp_home()
    env = {k: v for k, v in os.environ.items() if k != "YAML2DAG_DEFINITIONS"}
    env.update(DAGSTER_HOME=str(home), NO_COLOR="1")
    argv = [str(BIN / "yaml2dag"), "list", "--format", "json"]
    try:
        listed = json.loads(subprocess.run(argv + ["--no-runs"], env=env, cwd=project, capture_output=True,
                                           text=True, timeout=300, check=True).stdout)
        rows = listed if isinstance(listed, list) else listed.get("workflows", listed)
        jobs = [row["id"] for row in rows]
        if len(jobs) != args.workflows:
            raise SystemExit(f"expected {args.workflows} workflows, `list` shows {len(jobs)}")
        _store_history(home, jobs, args.runs)
        db = home / "history" / "runs.db"
        samples: dict[str, list[tuple[float, float]]] = {"sql": [], "api": []}
        outputs: dict[str, str] = {}
        for _ in range(args.repeat):  # alternately, so load on the machine affects both alike
            for way, revision in (("sql", KNOWN), ("api", OTHER)):
                _set_revision(db, revision)
                wall, cpu, out = _measured(argv, env, project)
                samples[way].append((wall, cpu))
                outputs.setdefault(way, out)
        _set_revision(db, KNOWN)
        if outputs["sql"] != outputs["api"]:
            raise SystemExit("the SQL reader and the public API disagree on the listed runs")
        shown = json.loads(outputs["sql"])
        shown_rows = shown if isinstance(shown, list) else shown.get("workflows", shown)
        with_runs = sum(1 for row in shown_rows if row.get("last_run"))
        paused = sum(1 for row in shown_rows if (row.get("last_run") or {}).get("status") == "paused")
    finally:
        shutil.rmtree(project, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    print(f"{args.workflows} workflows, {args.workflows * args.runs} stored runs; `list` shows {with_runs} last runs "
          f"({paused} paused) both ways; {args.repeat} alternate measurements, medians")
    for way, label in (("sql", "SQL reader (schema revision known, no Dagster import)"),
                       ("api", "public API fallback (other revision: DagsterInstance.get_run_records)")):
        wall = statistics.median(w for w, _ in samples[way])
        cpu = statistics.median(c for _, c in samples[way])
        print(f"| `yaml2dag list`, {label} | {wall:.2f} s wall | {cpu:.2f} s CPU |")


if __name__ == "__main__":
    main()
