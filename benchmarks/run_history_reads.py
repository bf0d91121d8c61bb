"""What `yaml2dag run` reads from run history besides the run itself (issue 15.6 ETA, issue 12 §2 pointer):
the median step durations of the newest 20 successful runs, and the advice check over the last 10 runs.
Run from a project whose dagster_home holds runs of "Seattle Weather Report":
    python benchmarks/run_history_reads.py
"""
import time, statistics
from yaml2dag.runs.runner import get_instance
from yaml2dag.runs.history.estimates import load_estimates
from yaml2dag.optimize import pending_advice
from yaml2dag.library.folder import Library
inst = get_instance()
lib = Library()
rep = lib.find("Seattle Weather Report")
job = rep.workflow.id
for name, fn in [("load_estimates (20 runs)", lambda: load_estimates(inst, job)), ("pending_advice (10 runs)", lambda: pending_advice(rep, inst))]:
    fn()
    ts=[]
    for _ in range(5):
        t=time.perf_counter(); fn(); ts.append(time.perf_counter()-t)
    print(f"{name}: median {statistics.median(ts):.3f} s over 5 (warm)")
print("runs:", len(inst.get_runs()))
