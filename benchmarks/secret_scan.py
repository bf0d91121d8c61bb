"""The secret scan of tests/integration/test_secret_sinks.py, with counts (docs/benchmarks.md).

Runs the test's adversarial workflows through the real CLI in a temporary working directory
(relative ``definitions``, ``./dagster_home``), with a new random secret and control value:
``yaml2dag run`` (text, and ``--format json`` with the thread-pool and the multiprocess
executor), then ``events``, ``logs``, ``status``, ``audit`` (text and JSON) and ``logs
--compute`` of both runs; searches every file under the Dagster home and every output for the
secret's forms and prints what it searched and what it found.

Usage: python benchmarks/secret_scan.py [--keep]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT)]

from integration import test_secret_sinks as scan  # noqa: E402 - the test's workflows and forms


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--keep", action="store_true", help="keep the working directory")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="y2d-secret-scan-"))
    try:
        folder = work / "definitions"
        folder.mkdir()
        (folder / "leak_helpers.py").write_text(scan.HELPERS)
        (folder / "leak_child.yaml").write_text(textwrap.dedent(scan.CHILD).lstrip())
        (folder / "leak_threads.yaml").write_text(scan.workflow("Leak Threads", "threads"))
        (folder / "leak_processes.yaml").write_text(scan.workflow("Leak Processes", "multiprocess"))
        secret, control = scan._value("Sk"), scan._value("Ct")
        env = scan._env({"LEAK_TOKEN": secret})
        started = time.monotonic()
        shown: dict[str, bytes] = {}
        out = scan.cli(work, env, "run", "Leak Threads", f"control={control}")
        shown["run (text)"] = out.stdout + out.stderr
        runs = []
        for name in ("Leak Threads", "Leak Processes"):
            out = scan.cli(work, env, "run", name, f"control={control}", "--format", "json")
            shown[f"run {name} (json)"] = out.stdout + out.stderr
            try:
                runs.append(json.loads(out.stdout)["run_id"])
                print(f"{name}: stdout of run --format json is one JSON document")
            except ValueError:
                print(f"{name}: stdout of run --format json is NOT one JSON document: {out.stdout[:60]!r}")
                runs.append(json.loads(out.stdout[out.stdout.index(b"{"):])["run_id"])
        for run_id in runs:
            for command in ("events", "logs", "status", "audit"):
                for fmt in ("text", "json"):
                    out = scan.cli(work, env, command, run_id, "--format", fmt)
                    shown[f"{command} {run_id[:8]} ({fmt})"] = out.stdout + out.stderr
            out = scan.cli(work, env, "logs", run_id, "--compute")
            shown[f"logs --compute {run_id[:8]}"] = out.stdout + out.stderr
        files = [p for p in (work / "dagster_home").rglob("*") if p.is_file()]
        leaks = [f"{p.relative_to(work)}: {found}" for p in files if (found := scan.hits(p.read_bytes(), secret))]
        leaks += [f"[{where}]: {found}" for where, blob in shown.items() if (found := scan.hits(blob, secret))]
        with_control = sum(1 for p in files if scan.hits(p.read_bytes(), control))
        size = sum(p.stat().st_size for p in files)
        print(f"| files under the Dagster home | {len(files)} ({size / 1e6:.1f} MB) |")
        print(f"| CLI outputs | {len(shown)} ({sum(map(len, shown.values())) / 1e3:.0f} kB) |")
        print(f"| forms searched | {len(scan.forms(secret))} |")
        print(f"| hits of the secret | {len(leaks)} |")
        print(f"| files holding the control value | {with_control} |")
        print(f"| wall time | {time.monotonic() - started:.0f} s |")
        for leak in leaks:
            print("  ", leak)
    finally:
        if args.keep:
            print("kept", work)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
