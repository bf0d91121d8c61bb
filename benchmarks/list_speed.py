"""`yaml2dag list` with runs in the instance, against `yaml2dag validate` (issue #10, point 7).

A project folder with two workflows in ./definitions (the default relative folder), each run
once with `yaml2dag run` into a temporary DAGSTER_HOME; then, from the project folder, the whole
process of `yaml2dag list` (which shows those runs), `yaml2dag list --no-runs` and
`yaml2dag validate`, measured alternately (medians). Target: `list` with runs shown under 0.5 s,
as fast as `validate`. Reports wall time and CPU time (user + system of the process: steadier
than wall time on a loaded machine), and how many Dagster modules `list` imports
(`-X importtime`; expected 0: the last runs are read from the SQLite run storage without Dagster).

Usage: python benchmarks/list_speed.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from common import BIN, PYTHON, temp_home, timed


def measured(argv: list[str], env: dict, cwd: str) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of one subprocess run, which must succeed."""
    full = {**os.environ, **env}
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=full, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)

WORKFLOW = """name: "{name}"
description: "A two-step workflow for the list benchmark"
tags: [bench]
triggers:
  - {{type: schedule, cron: "30 6 * * 1-5", timezone: Europe/Berlin}}
steps:
  - id: first
    tool: shell
    parameters: {{command: "echo first"}}
  - id: second
    tool: python
    parameters: {{callable: "builtins:len", args: ["abc"]}}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    project = Path(tempfile.mkdtemp(prefix="y2d-bench-list-"))
    folder = project / "definitions"
    folder.mkdir()
    for name in ("Bench One", "Bench Two"):
        (folder / f"{name.lower().replace(' ', '_')}.yaml").write_text(WORKFLOW.format(name=name))
    home = temp_home()
    env = {"DAGSTER_HOME": str(home), "NO_COLOR": "1"}
    full = {k: v for k, v in os.environ.items() if k != "YAML2DAG_DEFINITIONS"}
    yaml2dag = str(BIN / "yaml2dag")
    try:
        for name in ("Bench One", "Bench Two"):
            timed([yaml2dag, "run", name], env, str(project))
        shown = subprocess.run([yaml2dag, "list"], env={**full, **env}, cwd=project, capture_output=True, text=True)
        if shown.stdout.count("completed") != 2:
            raise SystemExit(f"`yaml2dag list` does not show the two runs:\n{shown.stdout}{shown.stderr}")
        probe = subprocess.run([PYTHON, "-X", "importtime", "-m", "yaml2dag", "list"], env={**full, **env},
                               cwd=project, capture_output=True, text=True)
        dagster_modules = sum(1 for line in probe.stderr.splitlines()
                              if line.startswith("import time:") and
                              line.rsplit("|", 1)[-1].strip().split(".")[0].startswith("dagster"))
        os.environ.pop("YAML2DAG_DEFINITIONS", None)
        commands = {"list": ["list"], "list --no-runs": ["list", "--no-runs"], "validate": ["validate"]}
        samples: dict[str, list[tuple[float, float]]] = {name: [] for name in commands}
        for _ in range(args.repeat):  # alternately, so load on the machine affects all alike
            for name, argv in commands.items():
                samples[name].append(measured([yaml2dag, *argv], env, str(project)))
    finally:
        shutil.rmtree(project, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    wall = {name: statistics.median(w for w, _ in values) for name, values in samples.items()}
    cpu = {name: statistics.median(c for _, c in values) for name, values in samples.items()}
    for name, label in (("list", "`yaml2dag list`, 2 workflows with runs shown (target < 0.5 s)"),
                        ("list --no-runs", "`yaml2dag list --no-runs`, same folder"),
                        ("validate", "`yaml2dag validate`, same folder")):
        print(f"| {label} | {wall[name]:.2f} s wall, {cpu[name]:.2f} s CPU |")
    print(f"| ratio list / validate | {wall['list'] / wall['validate']:.2f} wall, {cpu['list'] / cpu['validate']:.2f} CPU |")
    print(f"| Dagster modules imported by `yaml2dag list` (`-X importtime`) | {dagster_modules} |")


if __name__ == "__main__":
    main()
