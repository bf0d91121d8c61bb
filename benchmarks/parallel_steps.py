"""Parallel steps: 4 independent `sleep 1` steps, in a parallel group and one after another.

The step phase is measured from the run's event log: first STEP_START to last STEP_SUCCESS.

Usage: python benchmarks/parallel_steps.py [--repeat 3]
Targets: parallel step phase <= 1.3 s; speedup >= 3x over sequential.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path

from common import temp_home

PARALLEL = """name: Four Sleeps Parallel
steps:
  - parallel:
""" + "".join(f"      - {{id: s{i}, tool: shell, parameters: {{command: 'sleep 1'}}}}\n" for i in range(4))

SEQUENTIAL = "name: Four Sleeps Sequential\nsteps:\n" + "".join(
    f"  - {{id: s{i}, tool: shell, parameters: {{command: 'sleep 1'}}}}\n" for i in range(4))


def step_phase(instance, run_id: str) -> float:
    records = instance.all_logs(run_id)
    starts = [r.timestamp for r in records if r.dagster_event and r.dagster_event.event_type_value == "STEP_START"]
    ends = [r.timestamp for r in records if r.dagster_event and r.dagster_event.event_type_value == "STEP_SUCCESS"]
    return max(ends) - min(starts)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    os.environ["DAGSTER_HOME"] = str(temp_home())
    work = Path(tempfile.mkdtemp(prefix="y2d-bench-par-"))
    (work / "parallel.yaml").write_text(PARALLEL)
    (work / "sequential.yaml").write_text(SEQUENTIAL)
    from dagster import DagsterInstance

    from yaml2dag.runs.runner import run_workflow
    from yaml2dag.format.validation import validate_file

    instance = DagsterInstance.get()
    phases: dict[str, list[float]] = {"parallel": [], "sequential": []}
    for _ in range(args.repeat):
        for kind in phases:
            result = run_workflow(validate_file(work / f"{kind}.yaml").validated(), {}, instance=instance)
            assert result.status == "SUCCESS", result.error
            phases[kind].append(step_phase(instance, result.run_id))
    par = statistics.median(phases["parallel"])
    seq = statistics.median(phases["sequential"])
    print(f"| 4 x `sleep 1` in a parallel group: step phase (target <= 1.3 s) | {par:.2f} s |")
    print(f"| 4 x `sleep 1` one after another: step phase | {seq:.2f} s |")
    print(f"| speedup (target >= 3x) | {seq / par:.2f}x |")


if __name__ == "__main__":
    main()
