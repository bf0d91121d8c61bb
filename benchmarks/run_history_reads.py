"""What `yaml2dag run` reads from run history besides the run itself (issue 15.6 ETA, issue 12 §2 pointer):
the median step durations of the newest 20 successful runs, and the advice check over the last 10 runs.

Run from a project whose dagster_home holds runs of the workflow (default "Seattle Weather Report",
the README's Quickstart):

    python benchmarks/run_history_reads.py [WORKFLOW NAME]

Prints, per read, the first call in this process ("cold": what each `yaml2dag run` pays, as it is a
new process; on SQLite storage Dagster checks the schema of each run's event-log database the first
time a process opens it) and the median of 5 later calls ("warm").
"""
import statistics
import sys
import time

from yaml2dag.library.folder import Library
from yaml2dag.optimize import pending_advice
from yaml2dag.runs.history.estimates import load_estimates
from yaml2dag.runs.runner import get_instance

inst = get_instance()
rep = Library().find(sys.argv[1] if len(sys.argv) > 1 else "Seattle Weather Report")
job = rep.workflow.id
for name, fn in [("load_estimates (20 runs)", lambda: load_estimates(inst, job)),
                 ("pending_advice (10 runs)", lambda: pending_advice(rep, inst))]:
    t = time.perf_counter()
    fn()
    cold = time.perf_counter() - t
    ts = []
    for _ in range(5):
        t = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t)
    print(f"{name}: cold {cold:.3f} s, warm median {statistics.median(ts):.3f} s over 5")
print("runs:", len(inst.get_runs()))
