"""What masking secrets costs a step: the same 50-step workflow with and without a secret.

Each step (``tool: python``) returns a 100-row pandas DataFrame built from a value; in one
workflow the value is a ``secret`` parameter (so every result is masked by type, checked by
pickling it, and the step's output descriptors are diverted through the masking pipes), in the
other the same text is an ordinary string parameter. Both run with ``dagster.execute_job`` on the
same temporary instance, in this process, alternately; the medians are compared.

Usage: python benchmarks/secret_masking.py [--steps 50] [--repeat 7]
No target: a measurement for docs/benchmarks.md ("Masking secrets").
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

from common import interleaved, temp_home

HELPER = '''
import pandas as pd


def frame(value):
    return pd.DataFrame({"a": [value] * 100, "b": range(100)})
'''

VALUE = 'bench"secret\\value-0123456789'


def workflow_text(steps: int, secret: bool) -> str:
    declaration = "{type: secret}" if secret else "{type: string, default: " + json.dumps(VALUE) + "}"
    name = "Masked" if secret else "Unmasked"
    body = "".join(f"  - {{id: s{i}, tool: python, parameters: {{callable: 'bench_frames:frame', "
                   f"args: ['{{{{ token }}}}']}}}}\n" for i in range(steps))
    return f"name: {name} {steps}\nparameters:\n  token: {declaration}\nsteps:\n{body}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args()
    home = temp_home()
    os.environ["DAGSTER_HOME"] = str(home)
    os.environ["TOKEN"] = VALUE
    work = Path(tempfile.mkdtemp(prefix="y2d-bench-mask-"))
    (work / "bench_frames.py").write_text(HELPER)
    (work / "masked.yaml").write_text(workflow_text(args.steps, True))
    (work / "unmasked.yaml").write_text(workflow_text(args.steps, False))
    sys.path.insert(0, str(work))

    import dagster as dg
    from dagster import DagsterInstance

    from yaml2dag.compiler import reconstructable_job

    jobs = {"unmasked": reconstructable_job(str(work / "unmasked.yaml")),
            "masked": reconstructable_job(str(work / "masked.yaml"))}
    instance = DagsterInstance.get()

    def run(job) -> float:
        start = time.perf_counter()
        with dg.execute_job(job, instance=instance) as result:
            assert result.success
        return time.perf_counter() - start

    try:
        for job in jobs.values():
            run(job)  # warm up imports and caches
        times = interleaved({name: (lambda job=job: run(job)) for name, job in jobs.items()}, args.repeat)
    finally:
        instance.dispose()
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(home, ignore_errors=True)
    steps = args.steps
    print(f"| {steps} steps returning a DataFrame, no secret | {times['unmasked']:.2f} s "
          f"({times['unmasked'] / steps * 1000:.1f} ms/step) |")
    print(f"| the same with the value a secret (masked, checked, descriptors diverted) | {times['masked']:.2f} s "
          f"({times['masked'] / steps * 1000:.1f} ms/step) |")
    print(f"| ratio | {times['masked'] / times['unmasked']:.2f} |")


if __name__ == "__main__":
    main()
