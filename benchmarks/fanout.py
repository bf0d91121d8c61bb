"""Fan-out: a ``for_each`` step over N python items (``yaml2dag run``) against a hand-written
Dagster job of the same shape (``DynamicOut`` → ``.map`` → ``.collect``, in-process executor,
``dagster job execute``), each a whole new process on its own temporary ``DAGSTER_HOME``,
alternately, medians (issue 13 §2).

Each element is a trivial python call (``builtins:len`` of the element on the workflow side,
``len(item)`` in the hand-written op); the collected list is summed by one last step/op.
The workflow side runs from a working folder with a relative definitions folder
(``YAML2DAG_DEFINITIONS=definitions``), as a user would.

Usage: python benchmarks/fanout.py [--items 200] [--repeat 3] [--max-parallel N] [--large 1000] [--large-repeat 1]
Target (issue 13): ratio <= 1.15 at 200 elements; 1,000 elements with ``max_parallel: 8`` work.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
from pathlib import Path

from common import BIN, temp_home, timed

HAND_WRITTEN = """import dagster as dg

@dg.op(out=dg.DynamicOut())
def items():
    for index in range({n}):
        yield dg.DynamicOutput({{"index": index, "item": "x" * (index % 7 + 1)}}, mapping_key=str(index))

@dg.op
def element(payload):
    return len(payload["item"])

@dg.op
def total(values):
    return sum(values)

@dg.job(executor_def=dg.in_process_executor)
def fanout():
    total(items().map(element).collect())

defs = dg.Definitions(jobs=[fanout])
"""

WORKFLOW = """name: Fan Out {n}
steps:
  - id: each
    for_each: "{{{{ range({n}) | list }}}}"{parallel}
    tool: python
    parameters: {{callable: "builtins:len", args: ["{{{{ 'x' * (item % 7 + 1) }}}}"]}}
  - id: total
    tool: python
    parameters: {{callable: "builtins:sum", args: ["{{{{ each.output }}}}"]}}
"""


def pair(n: int, max_parallel: int | None, repeat: int) -> dict[str, float]:
    """Median wall seconds of ``yaml2dag run`` and ``dagster job execute`` at ``n`` elements."""
    work = Path(tempfile.mkdtemp(prefix="y2d-bench-fanout-"))
    try:
        (work / "definitions").mkdir()
        parallel = f"\n    max_parallel: {max_parallel}" if max_parallel else ""
        (work / "definitions" / "fan.yaml").write_text(WORKFLOW.format(n=n, parallel=parallel))
        (work / "plain.py").write_text(HAND_WRITTEN.format(n=n))
        samples: dict[str, list[float]] = {"yaml2dag": [], "dagster": []}
        for _ in range(repeat):
            for side in samples:
                home = temp_home()
                env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": "definitions"}
                try:
                    if side == "yaml2dag":
                        argv = [str(BIN / "yaml2dag"), "run", f"Fan Out {n}", "--format", "json"]
                    else:
                        argv = [str(BIN / "dagster"), "job", "execute", "-f", "plain.py", "-j", "fanout"]
                    samples[side].append(timed(argv, env, str(work)))
                finally:
                    shutil.rmtree(home, ignore_errors=True)
        return {side: statistics.median(values) for side, values in samples.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--large", type=int, default=1000, help="0 to skip the large fan-out")
    parser.add_argument("--large-repeat", type=int, default=1)
    parser.add_argument("--max-parallel", type=int, default=None, help="`max_parallel` of the first row's step")
    args = parser.parse_args()
    print("| measurement | yaml2dag run | dagster job execute | ratio |")
    print("|---|---|---|---|")
    rows = [(args.items, args.max_parallel, args.repeat)]
    if args.large:
        rows.append((args.large, 8, args.large_repeat))
    for n, max_parallel, repeat in rows:
        t = pair(n, max_parallel, repeat)
        label = f"`for_each` over {n} python items" + (f", `max_parallel: {max_parallel}`" if max_parallel else "")
        label += f" (median of {repeat})"
        print(f"| {label} | {t['yaml2dag']:.2f} s ({t['yaml2dag'] / n * 1000:.1f} ms/element) "
              f"| {t['dagster']:.2f} s ({t['dagster'] / n * 1000:.1f} ms/element) "
              f"| {t['yaml2dag'] / t['dagster']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
