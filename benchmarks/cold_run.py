"""Cold start: a whole `yaml2dag run` process of a one-step workflow vs `dagster job execute`
of a 10-op in-process job, on the same machine, alternately.

Usage: python benchmarks/cold_run.py [--repeat 5]
Target (issue #2): <= 2.0 s where `dagster job execute` of the 10-op job takes about 1.75 s;
the ratio to `dagster job execute` is the machine-independent number.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from common import BIN, interleaved, temp_home, timed

TEN_OPS = """import dagster as dg

@dg.op
def first():
    return 1

@dg.op
def plus(x):
    return x + 1

@dg.job(executor_def=dg.in_process_executor)
def ten():
    x = first()
    for _ in range(9):
        x = plus(x)

defs = dg.Definitions(jobs=[ten])
"""

ONE_STEP = """name: One Step
steps:
  - {id: hello, tool: shell, parameters: {command: "echo hello"}}
"""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="y2d-bench-cold-"))
    (work / "ten.py").write_text(TEN_OPS)
    (work / "definitions").mkdir()
    (work / "definitions" / "one.yaml").write_text(ONE_STEP)
    home = temp_home()
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(work / "definitions")}
    times = interleaved({
        "yaml2dag": lambda: timed([str(BIN / "yaml2dag"), "run", "One Step", "--format", "json"], env, str(work)),
        "dagster": lambda: timed([str(BIN / "dagster"), "job", "execute", "-f", str(work / "ten.py"), "-j", "ten"],
                                 env, str(work)),
    }, args.repeat)
    print(f"| cold `yaml2dag run` of a one-step workflow (whole process) | {times['yaml2dag']:.2f} s |")
    print(f"| cold `dagster job execute` of a 10-op in-process job | {times['dagster']:.2f} s |")
    print(f"| ratio | {times['yaml2dag'] / times['dagster']:.2f} |")


if __name__ == "__main__":
    main()
