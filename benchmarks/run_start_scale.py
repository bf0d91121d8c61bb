"""Run start against folder size (issue 13, part 1): a run builds only its own job.

Generates, in a temporary folder, definitions folders of 1 and of ``--count`` (default 2,000)
five-step workflows (:func:`common.five_step_workflow`), and a plain Dagster module with the same
number of hand-written equivalent jobs (:func:`common.five_op_job`). Measures, alternately
(medians of ``--repeat`` runs, wall seconds of the whole process) on a temporary DAGSTER_HOME:

* (a) ``dagster job execute -m yaml2dag.definitions -j generated_000`` with
  ``YAML2DAG_DEFINITIONS`` set to the big folder vs the folder holding that job alone
  (target ratio <= 1.3);
* (b) ``yaml2dag run "Generated 000"`` in the big folder vs alone (target ratio <= 1.2);
* (c) the code location load, ``dagster definitions validate -m yaml2dag.definitions`` over the
  big folder vs ``dagster definitions validate -f handwritten.py`` (time and peak resident memory
  of the process; keep the ratios <= 1.1).

Prints a Markdown table (docs/benchmarks.md).

Usage: python benchmarks/run_start_scale.py [--count 2000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import BIN, PYTHON, five_op_job, five_step_workflow, temp_home

# runs the command given as arguments and prints its peak resident set size (KiB) on stdout
_PEAK = ("import resource, subprocess, sys\n"
         "done = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)\n"
         "if done.returncode:\n"
         "    sys.stderr.write(done.stderr[-3000:]); sys.exit(done.returncode)\n"
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)\n")


def measured(argv: list[str], env: dict, cwd: str) -> tuple[float, float]:
    """(wall seconds, peak resident MiB) of one run of ``argv``, which must succeed."""
    full = {**os.environ, **env}
    start = time.perf_counter()
    done = subprocess.run([PYTHON, "-c", _PEAK, *argv], env=full, cwd=cwd, capture_output=True, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return took, int(done.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="y2d-bench-runstart-"))
    one, many = work / "one", work / "many"
    one.mkdir()
    many.mkdir()
    (one / "generated_0000.yaml").write_text(five_step_workflow(0))
    for i in range(args.count):
        (many / f"generated_{i:04d}.yaml").write_text(five_step_workflow(i))
    module = work / "handwritten.py"
    module.write_text("import subprocess\nimport dagster as dg\n" + "".join(five_op_job(i) for i in range(args.count))
                      + "\ndefs = dg.Definitions(jobs=[" + ", ".join(f"generated_{i:03d}" for i in range(args.count))
                      + "])\n")
    home = temp_home()
    dagster, yaml2dag = str(BIN / "dagster"), str(BIN / "yaml2dag")
    base = {"DAGSTER_HOME": str(home)}
    env_one = {**base, "YAML2DAG_DEFINITIONS": str(one)}
    env_many = {**base, "YAML2DAG_DEFINITIONS": str(many)}
    execute = [dagster, "job", "execute", "-m", "yaml2dag.definitions", "-j", "generated_000"]
    run = [yaml2dag, "run", "Generated 000"]
    cases = {
        "execute 1": (execute, env_one),
        "execute N": (execute, env_many),
        "run 1": (run, env_one),
        "run N": (run, env_many),
        "location N": ([dagster, "definitions", "validate", "-m", "yaml2dag.definitions"], env_many),
        "plain N": ([dagster, "definitions", "validate", "-f", str(module)], base),
    }
    samples: dict[str, list[tuple[float, float]]] = {name: [] for name in cases}
    for _ in range(args.repeat):
        for name, (argv, env) in cases.items():
            samples[name].append(measured(argv, env, str(work)))
    wall = {name: statistics.median(s[0] for s in values) for name, values in samples.items()}
    peak = {name: statistics.median(s[1] for s in values) for name, values in samples.items()}
    n = args.count
    rows = [
        ("`dagster job execute -m yaml2dag.definitions -j generated_000`, folder of 1", f"{wall['execute 1']:.2f} s", ""),
        (f"the same, folder of {n:,}", f"{wall['execute N']:.2f} s",
         f"{wall['execute N'] / wall['execute 1']:.2f}× (target ≤ 1.3)"),
        ("`yaml2dag run \"Generated 000\"`, folder of 1", f"{wall['run 1']:.2f} s", ""),
        (f"the same, folder of {n:,}", f"{wall['run N']:.2f} s",
         f"{wall['run N'] / wall['run 1']:.2f}× (target ≤ 1.2)"),
        (f"`dagster definitions validate -m yaml2dag.definitions`, {n:,} workflows",
         f"{wall['location N']:.2f} s, {peak['location N']:.0f} MiB", ""),
        (f"`dagster definitions validate -f handwritten.py`, {n:,} plain Dagster jobs",
         f"{wall['plain N']:.2f} s, {peak['plain N']:.0f} MiB",
         f"{wall['location N'] / wall['plain N']:.2f}× time, {peak['location N'] / peak['plain N']:.2f}× memory "
         "(keep ≤ 1.1)"),
    ]
    print(f"| measure (median of {args.repeat}) | result | ratio |")
    print("|---|---|---|")
    for row in rows:
        print("| " + " | ".join(row) + " |")
    print(json.dumps({"wall_s": wall, "peak_mib": peak, "count": n, "repeat": args.repeat}), file=sys.stderr)
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
