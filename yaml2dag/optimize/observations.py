"""What the run history says about a workflow's steps (the input of ``yaml2dag optimize``).

The last ``runs`` finished runs of a job (completed or failed, newest first in run storage)
are read from Dagster's run storage with :func:`yaml2dag.runs.history.queries.list_runs`, and
each run's steps from its event log with :func:`yaml2dag.runs.history.outcome_cache.step_outcomes`,
the reader ``yaml2dag stats`` uses: one implementation of "how long did a step take, did it
fail, was it retried".
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from yaml2dag.runs.history.queries import list_runs
from yaml2dag.runs.history.outcome_cache import outcomes_of_runs
from yaml2dag.runs.history.stats import p95

#: Run statuses analysed: runs that finished (a canceled or running run says little about its steps).
FINISHED = ["completed", "failed"]


@dataclass(frozen=True)
class StepRecord:
    """One step in one run.

    Attributes:
        run_id: the Dagster run id.
        status: ``succeeded``, ``failed``, ``continued`` or ``skipped``.
        retries: failed attempts that were retried in that run.
        started_at / ended_at: Unix seconds (None for a skipped step).
        duration: seconds from the first start to the last end (None when unknown).
    """

    run_id: str
    status: str
    retries: int
    started_at: float | None
    ended_at: float | None
    duration: float | None

    @property
    def failed(self) -> bool:
        return self.status in ("failed", "continued")


@dataclass
class Observations:
    """The analysed runs of one job.

    Attributes:
        job: the Dagster job (the workflow id).
        run_ids: the analysed runs, oldest first.
        steps: step key → its :class:`StepRecord` per run in which it ended, oldest first.
    """

    job: str
    run_ids: list[str] = field(default_factory=list)
    steps: dict[str, list[StepRecord]] = field(default_factory=dict)

    def ran(self, key: str) -> list[StepRecord]:
        """The records of ``key`` in runs where it ran (not skipped)."""
        return [r for r in self.steps.get(key, []) if r.status != "skipped"]

    def durations(self, key: str) -> list[float]:
        """Seconds each run of ``key`` took (runs where it ran and both ends are known)."""
        return [r.duration for r in self.ran(key) if r.duration is not None]

    def median(self, key: str) -> float | None:
        """Median duration of ``key`` in seconds (None without data)."""
        values = self.durations(key)
        return statistics.median(values) if values else None

    def p95(self, key: str) -> float | None:
        """95th percentile duration of ``key`` in seconds, nearest rank (None without data)."""
        return p95(self.durations(key))


def observe(instance: Any, job: str, runs: int) -> Observations:
    """Read the last ``runs`` finished runs of ``job`` and their steps.

    Args:
        instance: the Dagster instance.
        job: the job name (the workflow id).
        runs: how many runs at most (the newest).

    Returns:
        The :class:`Observations` (empty when the job has no finished run).
    """
    rows = list_runs(instance, job, limit=runs, statuses=FINISHED)
    obs = Observations(job)
    outcomes = outcomes_of_runs(instance, [row["run_id"] for row in rows])
    for row in reversed(rows):  # oldest first: "failed, then succeeded in a later run"
        run_id = row["run_id"]
        obs.run_ids.append(run_id)
        for key, info in outcomes[run_id].items():
            obs.steps.setdefault(key, []).append(StepRecord(
                run_id, info["status"], info["retries"], info["started_at"], info["ended_at"], info["duration"]))
    return obs
