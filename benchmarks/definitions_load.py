"""Loading a large code location: 500 generated 5-step workflows vs 500 hand-written jobs.

Measures, in one run on this machine:
* ``dagster definitions validate`` of the yaml2dag code location over 500 workflow files vs the
  same command on a Python module defining 500 equivalent jobs (target ratio <= 1.2);
* ``yaml2dag validate`` and ``yaml2dag list`` on the 500 files (target <= 1.0 s each, wall).

Usage: python benchmarks/definitions_load.py [--count 500] [--repeat 3]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from common import BIN, five_op_job, five_step_workflow, interleaved, temp_home, timed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="y2d-bench-defs-"))
    folder = work / "definitions"
    folder.mkdir()
    for i in range(args.count):
        (folder / f"generated_{i:03d}.yaml").write_text(five_step_workflow(i))
    module = work / "handwritten.py"
    module.write_text("import subprocess\nimport dagster as dg\n" + "".join(five_op_job(i) for i in range(args.count))
                      + "\ndefs = dg.Definitions(jobs=[" + ", ".join(f"generated_{i:03d}" for i in range(args.count)) + "])\n")
    home = temp_home()
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder), "YAML2DAG_STRICT": "1"}
    dagster = str(BIN / "dagster")
    yaml2dag = str(BIN / "yaml2dag")
    times = interleaved({
        "yaml2dag code location": lambda: timed([dagster, "definitions", "validate", "-m", "yaml2dag.definitions"], env, str(work)),
        "hand-written module": lambda: timed([dagster, "definitions", "validate", "-f", str(module)], env, str(work)),
        "yaml2dag validate": lambda: timed([yaml2dag, "validate", str(folder)], env, str(work)),
        "yaml2dag list": lambda: timed([yaml2dag, "list"], env, str(work)),
    }, args.repeat)
    ratio = times["yaml2dag code location"] / times["hand-written module"]
    print(f"| `dagster definitions validate`, {args.count} workflows (yaml2dag) | {times['yaml2dag code location']:.2f} s |")
    print(f"| `dagster definitions validate`, {args.count} hand-written jobs | {times['hand-written module']:.2f} s |")
    print(f"| ratio yaml2dag / hand-written (target <= 1.2) | {ratio:.2f} |")
    print(f"| `yaml2dag validate` on {args.count} files (target <= 1.0 s) | {times['yaml2dag validate']:.2f} s |")
    print(f"| `yaml2dag list` on {args.count} files (target <= 1.0 s) | {times['yaml2dag list']:.2f} s |")
    shutil.rmtree(work, ignore_errors=True)
    shutil.rmtree(home, ignore_errors=True)


if __name__ == "__main__":
    main()
