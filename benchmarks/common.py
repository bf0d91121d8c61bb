"""Helpers shared by the benchmark scripts: generated workflows, timing, temporary homes."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PYTHON = sys.executable
BIN = Path(sys.executable).parent


def timed(argv: list[str], env: dict | None = None, cwd: str | None = None) -> float:
    """Wall seconds of one subprocess run (it must succeed)."""
    full = dict(os.environ)
    full.update(env or {})
    start = time.perf_counter()
    done = subprocess.run(argv, env=full, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return took


def median_of(fn, repeat: int) -> float:
    return statistics.median(fn() for _ in range(repeat))


def interleaved(fns: dict, repeat: int) -> dict[str, float]:
    """Median wall time of each callable, measured alternately so load affects all alike."""
    samples: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeat):
        for name, fn in fns.items():
            samples[name].append(fn())
    return {name: statistics.median(values) for name, values in samples.items()}


def temp_home() -> Path:
    home = Path(tempfile.mkdtemp(prefix="y2d-bench-home-"))
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    return home


def five_step_workflow(i: int) -> str:
    """A realistic 5-step workflow: parameters, list order, a parallel pair, a condition."""
    return f"""name: "Generated {i:03d}"
description: "Generated workflow number {i} for the definitions benchmark"
parameters:
  target: {{type: string, default: "t{i}"}}
  loud: false
steps:
  - id: prepare
    tool: shell
    parameters: {{command: "echo preparing {{{{ target }}}}"}}
  - parallel:
      - id: left
        tool: shell
        parameters: {{command: "echo left"}}
      - id: right
        tool: python
        parameters: {{callable: "builtins:len", args: ["{{{{ target }}}}"]}}
  - id: combine
    tool: shell
    retry: {{max_attempts: 2, delay: 1}}
    parameters: {{command: "echo {{{{ left.output }}}} {{{{ right.output }}}}"}}
  - id: shout
    when: "loud"
    tool: shell
    parameters: {{command: "echo DONE"}}
"""


def five_op_job(i: int) -> str:
    """The hand-written Dagster equivalent of :func:`five_step_workflow` (same shape)."""
    return f'''
@dg.op(name="g{i}_prepare", config_schema={{"target": dg.Field(str, default_value="t{i}")}})
def g{i}_prepare(context):
    return subprocess.run(["bash", "-c", "echo preparing " + context.op_config["target"]], capture_output=True, text=True).stdout

@dg.op(name="g{i}_left")
def g{i}_left(_prev):
    return subprocess.run(["bash", "-c", "echo left"], capture_output=True, text=True).stdout

@dg.op(name="g{i}_right")
def g{i}_right(_prev):
    return len("t{i}")

@dg.op(name="g{i}_combine", retry_policy=dg.RetryPolicy(max_retries=1, delay=1))
def g{i}_combine(left, right):
    return f"{{left}} {{right}}"

@dg.op(name="g{i}_shout", out=dg.Out(is_required=False))
def g{i}_shout(_prev):
    return "DONE"

@dg.job(name="generated_{i:03d}", description="Generated workflow number {i}")
def generated_{i:03d}():
    p = g{i}_prepare()
    g{i}_shout(g{i}_combine(g{i}_left(p), g{i}_right(p)))
'''
