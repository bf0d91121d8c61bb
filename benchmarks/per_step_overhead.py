"""Per-step overhead: a 50-step sequential workflow vs a hand-written Dagster job of 50 ops.

Both jobs run the same way — ``dagster.execute_job`` on the same temporary instance, in this
process — alternately, several times; the medians are compared. The hand-written job uses
Dagster's in-process executor (its floor: one op after another, no process spawn); the workflow
uses yaml2dag's default thread-pool executor. Each workflow step calls ``builtins:len``; each
hand-written op returns a value and waits for the previous one (an ordering-only ``Nothing``
input, as workflow list order is), so both sides store one output per step.

Usage: python benchmarks/per_step_overhead.py [--steps 50] [--repeat 15]
Target: ratio <= 1.15.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from common import interleaved, temp_home


def hand_written_module(steps: int) -> str:
    lines = ["import dagster as dg", ""]
    for i in range(steps):
        ins = "" if i == 0 else ", ins={'after': dg.In(dg.Nothing)}"
        lines.append(f"@dg.op(name='s{i}'{ins})\ndef s{i}():\n    return len('x')\n")
    lines.append("@dg.job(executor_def=dg.in_process_executor)\ndef plain():")
    lines.append("    prev = s0()")
    for i in range(1, steps):
        lines.append(f"    prev = s{i}(after=prev)")
    return "\n".join(lines) + "\n"


def workflow_text(steps: int) -> str:
    body = "".join(f"  - {{id: s{i}, tool: python, parameters: {{callable: 'builtins:len', args: ['x']}}}}\n"
                   for i in range(steps))
    return f"name: Sequential {steps}\nsteps:\n{body}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    home = temp_home()
    os.environ["DAGSTER_HOME"] = str(home)
    work = Path(tempfile.mkdtemp(prefix="y2d-bench-steps-"))
    (work / "plain_job.py").write_text(hand_written_module(args.steps))
    (work / "sequential.yaml").write_text(workflow_text(args.steps))
    sys.path.insert(0, str(work))

    import dagster as dg
    from dagster import DagsterInstance

    from yaml2dag.compiler import reconstructable_job

    plain = dg.reconstructable(__import__("plain_job").plain)
    flow = reconstructable_job(str(work / "sequential.yaml"))
    instance = DagsterInstance.get()

    def run(job) -> float:
        start = time.perf_counter()
        with dg.execute_job(job, instance=instance) as result:
            assert result.success
        return time.perf_counter() - start

    run(plain), run(flow)  # warm up imports and caches
    times = interleaved({"plain": lambda: run(plain), "yaml2dag": lambda: run(flow)}, args.repeat)
    per_plain = times["plain"] / args.steps * 1000
    per_flow = times["yaml2dag"] / args.steps * 1000
    print(f"| hand-written job, {args.steps} ops, in-process executor | {times['plain']:.2f} s ({per_plain:.1f} ms/step) |")
    print(f"| yaml2dag workflow, {args.steps} steps, thread-pool executor | {times['yaml2dag']:.2f} s ({per_flow:.1f} ms/step) |")
    print(f"| ratio yaml2dag / hand-written (target <= 1.15) | {times['yaml2dag'] / times['plain']:.2f} |")


if __name__ == "__main__":
    main()
