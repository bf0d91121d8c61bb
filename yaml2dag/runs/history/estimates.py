"""What earlier successful runs of a workflow took, read from run storage: the
:class:`~yaml2dag.runs.progress.Estimates` of live progress (``yaml2dag run``), the progress of
a run (``yaml2dag status``) and the final report of a run against them (``yaml2dag run``).

Step durations are those of ``yaml2dag stats``
(:func:`~yaml2dag.runs.history.outcome_cache.step_outcomes`: first STEP_START to last
STEP_SUCCESS/STEP_FAILURE of the step, its ``for_each`` elements and retries included); run
durations are Dagster's start and end times of the run record.
"""

from __future__ import annotations

import time
from typing import Any, Mapping

from yaml2dag.runs.history.common import _get_run
from yaml2dag.runs.history.outcome_cache import outcomes_of_runs
from yaml2dag.runs.history.status import _catalog_for
from yaml2dag.runs.progress import MAX_HISTORY_RUNS, Estimates, Progress, estimate, finished
from yaml2dag.runs.tracking import STEP_STATUSES, StepTracker


def load_estimates(instance: Any, job: str, *, limit: int = MAX_HISTORY_RUNS) -> Estimates:
    """The medians of the newest ``limit`` successful runs of ``job``.

    Args:
        instance: the Dagster instance.
        job: the workflow's job name (its id).
        limit: how many successful runs to read at most (their step outcomes come from
            :mod:`~yaml2dag.runs.history.outcome_cache`: one query, plus one event-log read per run
            read for the first time).

    Returns:
        :class:`~yaml2dag.runs.progress.Estimates` (``runs`` 0 when the job never succeeded); a
        step skipped in a run counts 0 s in that run.
    """
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import DagsterRunStatus, RunsFilter

    records = instance.get_run_records(RunsFilter(job_name=job, statuses=[DagsterRunStatus.SUCCESS]), limit=limit)
    steps: dict[str, list[float]] = {}
    runs: list[float] = []
    timed = [r for r in records if r.start_time is not None and r.end_time is not None]
    outcomes = outcomes_of_runs(instance, [r.dagster_run.run_id for r in timed])
    for record in timed:
        runs.append(record.end_time - record.start_time)
        for key, info in outcomes[record.dagster_run.run_id].items():
            if info["status"] == "skipped":
                steps.setdefault(key, []).append(0.0)
            elif info["duration"] is not None:
                steps.setdefault(key, []).append(info["duration"])
    return Estimates.from_durations(steps, runs)


def run_progress(instance: Any, run_id: str, library: Any = None) -> Progress:
    """How far the run ``run_id`` (a unique prefix works) is: estimated from the newest
    :data:`~yaml2dag.runs.progress.MAX_HISTORY_RUNS` successful runs of its job while it is in
    progress (:func:`~yaml2dag.runs.progress.estimate`), or what it reached once it ended
    (:func:`~yaml2dag.runs.progress.finished`).

    Args:
        instance: the Dagster instance.
        run_id: the run.
        library: the library that finds the workflow (its steps); None: the steps are those the
            event log names, and those of the earlier runs.

    Raises:
        RunNotFoundError: no such run.
    """
    run = _get_run(instance, run_id)
    tracker = StepTracker(_catalog_for(run, library))
    for rec in instance.all_logs(run.run_id, of_type=_step_event_types()):
        tracker.feed(rec.dagster_event, rec.timestamp)
    if run.is_finished:
        return finished(tracker, run.status.value == "SUCCESS")
    return estimate(tracker, time.time(), load_estimates(instance, run.job_name),
                    catalog_complete=tracker.catalog_complete)


def _step_event_types() -> set:
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import DagsterEventType

    return {DagsterEventType.STEP_START, DagsterEventType.STEP_OUTPUT, DagsterEventType.STEP_SUCCESS,
            DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED}


def _rounded(value: float | None) -> float | None:
    return round(value, 3) if value is not None else None


def run_report(instance: Any, run_id: str, statuses: Mapping[str, str], estimates: Estimates) -> dict:
    """The summary of a run that ended, against what earlier successful runs took.

    Args:
        instance: the Dagster instance.
        run_id: the run.
        statuses: each step's end (``RunResult.steps``: :data:`~yaml2dag.runs.tracking.STEP_STATUSES`).
        estimates: what the workflow's earlier successful runs took (read before this run).

    Returns:
        ``{"counts": {status: number of steps} for every status of STEP_STATUSES, "slowest":
        {"step", "duration_s", "usual_s"} or None (no step has a duration), "run":
        {"duration_s", "usual_s"}, "runs"}``: ``usual_s`` the median over ``runs`` earlier
        successful runs, None without one; seconds rounded to milliseconds.
    """
    counts = {status: 0 for status in STEP_STATUSES}
    for status in statuses.values():
        counts[status] = counts.get(status, 0) + 1
    timed = [(info["duration"], key) for key, info in outcomes_of_runs(instance, [run_id])[run_id].items()
             if info["duration"] is not None]
    slowest = None
    if timed:
        duration, key = max(timed)
        slowest = {"step": key, "duration_s": _rounded(duration), "usual_s": _rounded(estimates.step_s.get(key))}
    record = instance.get_run_record_by_id(run_id)
    took = None
    if record is not None and record.start_time is not None and record.end_time is not None:
        took = record.end_time - record.start_time
    return {"counts": counts, "slowest": slowest, "run": {"duration_s": _rounded(took), "usual_s": _rounded(estimates.run_s)},
            "runs": estimates.runs}
