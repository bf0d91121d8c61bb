"""Validation time of one large workflow: 1k, 10k and 50k steps (issue 13, section 3).

Each size is one generated workflow file shaped like real ones, repeated: chains of shell steps
that read the previous step's output, fan-ins with ``needs`` over earlier steps, parallel groups,
``when`` conditions on parameters and on earlier steps' state, a branch every few hundred steps,
retries and workflow outputs that read the last steps. Two times per size:

* ``cli``: ``yaml2dag validate FILE`` as a user runs it (a fresh ``python -m yaml2dag`` process:
  interpreter start and imports included), the median of ``--repeat`` runs;
* ``in-process``: :func:`yaml2dag.format.validation.validate_paths` on the file in this process
  (imports done), the median of ``--repeat`` calls.

Each is given as wall time and as CPU time (user + system of the validating process): on a
shared machine the wall time grows with the load, the CPU time much less.

The file must validate with no error (the script exits 1 otherwise). ``--repo`` points at another
checkout (e.g. ``git archive HEAD`` unpacked in /tmp) to measure the code before a change.
``--profile N`` prints the top of a cProfile of validating the N-step file in-process.

Usage::

    .venv/bin/python benchmarks/validate_scale.py                     # 1000 10000 50000
    .venv/bin/python benchmarks/validate_scale.py --sizes 1000 10000 --repeat 3
    .venv/bin/python benchmarks/validate_scale.py --profile 10000

Target (issue 13): 10,000 steps in at most 2 s. Results: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def generate(steps: int) -> str:
    """YAML text of one workflow of about ``steps`` steps (every entry counts: parallel groups
    and branches are one entry each, plus their members)."""
    out = [
        f'name: "Scale {steps}"',
        f'description: "Generated workflow of {steps} steps for the validation benchmark"',
        "parameters:",
        '  target: {type: string, default: "/tmp/out"}',
        "  loud: false",
        "  limit: {type: integer, default: 3, minimum: 1}",
        "steps:",
    ]
    count = 0
    last = None  # id of the last step of the top-level list
    i = 0
    while count < steps:
        i += 1
        sid = f"s{i}"
        kind = i % 20
        if kind == 5 and last is not None:  # a parallel group of three, each reading the step before
            out += ["  - parallel:"]
            for side in ("a", "b", "c"):
                out += [f"      - id: {sid}{side}", "        tool: shell",
                        f'        parameters: {{command: "echo {side} {{{{ {last}.output }}}}"}}']
            out += [f"  - id: {sid}", "    tool: shell", f"    needs: [{sid}a, {sid}b, {sid}c]",
                    f'    parameters: {{command: "echo {{{{ {sid}a.output }}}} {{{{ {sid}c.exit_code }}}}"}}']
            count += 5
        elif kind == 11 and i > 40:  # fan-in over earlier steps with `needs`
            ups = [f"s{i - k}" for k in (1, 3, 7, 13) if (i - k) % 20 not in (5, 11)]
            out += [f"  - id: {sid}", "    tool: shell", f"    needs: [{', '.join(ups)}]",
                    "    retry: {max_attempts: 2, delay: 1s}",
                    f'    parameters: {{command: "echo {" ".join("{{ " + u + ".output }}" for u in ups[:2])}"}}']
            count += 1
        elif kind == 13:  # a condition on a parameter
            out += [f"  - id: {sid}", '    when: "{{ loud }}"', "    tool: notify", "    action: log",
                    f'    parameters: {{message: "step {i} of {{{{ run.workflow }}}} in {{{{ target }}}}"}}']
            count += 1
        elif kind == 17 and last is not None:  # a condition on an earlier step's state
            out += [f"  - id: {sid}", f'    when: "{{{{ {last}.succeeded and params.limit > 1 }}}}"',
                    "    tool: shell", f'    parameters: {{command: "echo {{{{ {last}.status }}}}"}}']
            count += 1
        elif kind == 0 and i % 400 == 0 and last is not None:  # a branch
            out += [f"  - id: {sid}", f'    if: "{{{{ {last}.exit_code == 0 }}}}"', "    then:",
                    f"      - id: {sid}t", "        tool: shell", '        parameters: {command: "echo yes"}',
                    "    else:",
                    f"      - id: {sid}e", "        tool: shell", '        parameters: {command: "echo no"}']
            count += 3
            continue  # the branch is no step: the next step reads the one before it
        else:  # a chain link reading the previous step
            reads = f"{{{{ {last}.output | trim }}}}" if last is not None else "{{ target }}"
            out += [f"  - id: {sid}", f"    name: \"Step {i}\"", "    tool: shell",
                    f'    parameters: {{command: "echo {reads} >> {{{{ target }}}}/log"}}']
            count += 1
        last = sid
    out += ["outputs:", f'  last: "{{{{ {last}.output }}}}"', '  first: "{{ s1.output }}"']
    return "\n".join(out) + "\n"


def _env(repo: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(repo) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.pop("YAML2DAG_DEFINITIONS", None)
    return env


def cli_time(repo: Path, file: Path) -> tuple[float, float]:
    """(wall seconds, CPU seconds) of ``python -m yaml2dag validate FILE`` (which must exit 0)."""
    before = os.times()
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "yaml2dag", "validate", str(file)], env=_env(repo),
                          cwd=str(file.parent), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                          timeout=900)
    took = time.perf_counter() - start
    after = os.times()
    if done.returncode != 0:
        raise SystemExit(f"yaml2dag validate {file} exited {done.returncode}:\n{(done.stdout + done.stderr)[-3000:]}")
    return took, (after.children_user - before.children_user) + (after.children_system - before.children_system)


def in_process(file: Path) -> tuple[float, int, float]:
    """(wall seconds, problems, CPU seconds of this process) of one :func:`validate_paths` call
    on ``file``. CPU time is what the machine's load does not inflate (the benchmark machine has
    2 cores shared with other work)."""
    from yaml2dag.format.validation import validate_paths

    start, cpu = time.perf_counter(), time.process_time()
    report = validate_paths([file])
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    errors = [p for p in report.problems if p.severity == "error"]
    if errors:
        raise SystemExit(f"{file}: {len(errors)} errors, first: {errors[0]}")
    return took, len(report.problems), cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 50000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per size and way (median)")
    parser.add_argument("--repo", type=Path, default=REPO, help="checkout whose yaml2dag is measured")
    parser.add_argument("--no-cli", action="store_true", help="skip the subprocess runs")
    parser.add_argument("--profile", type=int, metavar="STEPS", help="print a cProfile of one in-process run")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    repo = args.repo.resolve()
    sys.path.insert(0, str(repo))
    os.environ.pop("YAML2DAG_DEFINITIONS", None)
    folder = Path(tempfile.mkdtemp(prefix="y2d-validate-scale-"))
    if args.profile:
        file = folder / f"scale_{args.profile}.yaml"
        file.write_text(generate(args.profile))
        in_process(file)  # warm: imports, tool registry
        profiler = cProfile.Profile(time.process_time)  # CPU time: the load of a shared machine does not count
        profiler.enable()
        in_process(file)
        profiler.disable()
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("cumulative").print_stats(45)
        print(stream.getvalue())
        stream = io.StringIO()
        pstats.Stats(profiler, stream=stream).sort_stats("tottime").print_stats(25)
        print(stream.getvalue())
        return 0
    warm = folder / "warm.yaml"  # imports and the tool registry, once, outside the timings
    warm.write_text(generate(20))
    in_process(warm)
    rows = []
    for size in args.sizes:
        sub = folder / str(size)
        sub.mkdir()
        file = sub / f"scale_{size}.yaml"
        file.write_text(generate(size))
        inproc = [in_process(file) for _ in range(args.repeat)]
        row = {"steps": size, "bytes": file.stat().st_size,
               "in_process_s": round(statistics.median(t for t, _, _ in inproc), 3),
               "in_process_cpu_s": round(statistics.median(c for _, _, c in inproc), 3), "problems": inproc[0][1]}
        if not args.no_cli:
            runs = [cli_time(repo, file) for _ in range(args.repeat)]
            row["cli_s"] = round(statistics.median(t for t, _ in runs), 3)
            row["cli_cpu_s"] = round(statistics.median(c for _, c in runs), 3)
        rows.append(row)
        if not args.json:
            print(f"{size:>7} steps  {row['bytes'] / 1e6:6.2f} MB  in-process {row['in_process_s']:7.3f} s "
                  f"(cpu {row['in_process_cpu_s']:.3f} s)"
                  + (f"  cli {row['cli_s']:7.3f} s (cpu {row['cli_cpu_s']:.3f} s)" if "cli_s" in row else "")
                  + f"  ({row['problems']} warnings)", flush=True)
    if args.json:
        print(json.dumps(rows, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
