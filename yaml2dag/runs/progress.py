"""Percent done and time left of a run in progress (``yaml2dag run``'s live progress, ``yaml2dag
status``), from the median step durations of earlier successful runs of the same workflow.

The estimation is arithmetic on a :class:`~yaml2dag.runs.tracking.StepTracker` and an
:class:`Estimates` (read from run storage by :mod:`yaml2dag.runs.history.estimates`); nothing
here reads storage or imports Dagster.

* **Weights.** Each counted step (a sub-workflow step counts through its own steps) weighs its
  median duration in seconds over the earlier successful runs, a skip counting as 0 s; a step
  without history weighs the median of the known medians (a typical step). Without any history,
  or when every weight is 0, each step weighs 1 and the basis is ``step_count``.
* **Done.** An ended step (succeeded, continued, failed, skipped) is done; with history, a running
  step is done by the part of its median it has been running, at most :data:`RUNNING_CREDIT`.
  ``percent`` is rounded down, so it is 100 only once every counted step ended.
* **Time left** (``eta_s``, only with history): the weight not done yet, times the workflow's
  median run duration over the sum of its steps' medians (what parallel steps save and Dagster's
  own start and finish add), rounded up to whole seconds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from yaml2dag.format.durations import format_duration
from yaml2dag.runs.tracking import ENDED, StepTracker

#: How many earlier successful runs of a workflow the estimates read at most (newest first).
MAX_HISTORY_RUNS = 20
#: The largest part of its median a running step counts as done (it has not ended yet).
RUNNING_CREDIT = 0.95

#: ``basis`` of a :class:`Progress`: weighted by the median durations of earlier successful runs.
BASIS_HISTORY = "history"
#: ``basis``: no earlier successful run: the share of steps ended, no time left.
BASIS_STEP_COUNT = "step_count"
#: ``basis``: the run has ended (nothing is estimated).
BASIS_FINISHED = "finished"

#: What the progress says when there is no history to estimate the time left from.
NO_ETA = "no ETA yet (no earlier successful run)"


def median(values: Iterable[float]) -> float | None:
    """The median of ``values`` (the mean of the two middle values for an even count); None
    when there are none."""
    ordered = sorted(values)
    if not ordered:
        return None
    middle = len(ordered) // 2
    if len(ordered) % 2:
        return float(ordered[middle])
    return (ordered[middle - 1] + ordered[middle]) / 2


@dataclass(frozen=True)
class Estimates:
    """What earlier successful runs of a workflow took.

    Attributes:
        step_s: step key (``sub.step`` inside a sub-workflow) → median duration, seconds (a run
            in which the step was skipped counts 0 s).
        run_s: median duration of the runs (start to end), seconds; None without runs.
        runs: how many successful runs were read (at most :data:`MAX_HISTORY_RUNS`).
    """

    step_s: Mapping[str, float] = field(default_factory=dict)
    run_s: float | None = None
    runs: int = 0

    @classmethod
    def from_durations(cls, step_durations: Mapping[str, list[float]], run_durations: list[float]) -> "Estimates":
        """Medians of the samples: ``step_durations`` (step key → seconds, one per run in which it
        ended) and ``run_durations`` (seconds, one per run; their count is ``runs``)."""
        steps = {key: median(values) for key, values in step_durations.items() if values}
        return cls({key: value for key, value in steps.items() if value is not None}, median(run_durations),
                   len(run_durations))


@dataclass(frozen=True)
class Progress:
    """How far a run is (``yaml2dag status --format json``: ``progress``).

    Attributes:
        percent: 0–100, rounded down (100 once every counted step ended).
        eta_s: seconds left, rounded up; None without history (basis ``step_count``), 0 once the
            run ended.
        basis: :data:`BASIS_HISTORY`, :data:`BASIS_STEP_COUNT` or :data:`BASIS_FINISHED`.
        runs: how many earlier successful runs the estimate comes from.
    """

    percent: int
    eta_s: int | None
    basis: str
    runs: int = 0

    def to_json(self) -> dict:
        """``{"percent", "eta_s", "basis", "runs"}``."""
        return {"percent": self.percent, "eta_s": self.eta_s, "basis": self.basis, "runs": self.runs}

    def text(self, why_no_eta: bool = True) -> str:
        """``"40% · ETA 6s"``; without history ``"40% · no ETA yet (no earlier successful run)"``
        (``"40%"`` when not ``why_no_eta``); ``"100%"`` once every step ended or the run ended."""
        if self.basis == BASIS_FINISHED or self.percent >= 100:
            return f"{self.percent}%"
        if self.eta_s is None:
            return f"{self.percent}% · {NO_ETA}" if why_no_eta else f"{self.percent}%"
        return f"{self.percent}% · ETA {format_duration(self.eta_s)}"


def counted_steps(tracker: StepTracker, estimates: Estimates | None = None,
                  catalog_complete: bool = True) -> list[str]:
    """The steps progress counts: the tracker's catalog less the sub-workflow steps whose own
    steps are listed (they count through those). When ``catalog_complete`` is False (the
    workflow file was not found, the catalog holds only the steps seen so far) the steps known
    from ``estimates`` are added."""
    keys = list(tracker.catalog)
    if not catalog_complete and estimates is not None:
        keys += [key for key in estimates.step_s if key not in tracker.catalog]
    listed = set(keys)
    return [key for key in keys
            if not (tracker.catalog.get(key) is not None and tracker.catalog[key].kind == "workflow"
                    and any(other.startswith(key + ".") for other in listed))]


def step_weights(keys: list[str], estimates: Estimates) -> dict[str, float] | None:
    """Each step's weight (its median seconds; a typical step's for one without history), or None
    when none of ``keys`` has history or every weight is 0 (count steps instead)."""
    known = [estimates.step_s[key] for key in keys if key in estimates.step_s]
    if not known:
        return None
    typical = median(known) or 0.0
    weights = {key: max(0.0, float(estimates.step_s.get(key, typical))) for key in keys}
    return weights if sum(weights.values()) > 0 else None


def _floor_percent(done: float, total: float, all_ended: bool) -> int:
    if all_ended:
        return 100
    if total <= 0:
        return 0
    return max(0, min(99, math.floor(100 * done / total)))


def estimate(tracker: StepTracker, now: float, estimates: Estimates | None = None, *,
             catalog_complete: bool = True) -> Progress:
    """The progress of a run in progress.

    Args:
        tracker: the run's events so far, folded (its ``started`` times on the clock of ``now``).
        now: the current time, seconds, on the clock of the tracker's timestamps.
        estimates: what earlier successful runs took (None or no runs: basis ``step_count``).
        catalog_complete: see :func:`counted_steps`.

    Returns:
        A :class:`Progress` (see the module's docstring for the arithmetic).
    """
    estimates = estimates or Estimates()
    keys = counted_steps(tracker, estimates, catalog_complete)
    ended = {key for key in keys if tracker.statuses.get(key) in ENDED}
    all_ended = len(ended) == len(keys)
    weights = step_weights(keys, estimates)
    if weights is None:
        return Progress(_floor_percent(len(ended), len(keys), all_ended), None, BASIS_STEP_COUNT, estimates.runs)
    done = 0.0
    for key, weight in weights.items():
        if key in ended:
            done += weight
        elif key in tracker.started and weight > 0:
            done += weight * min(RUNNING_CREDIT, max(0.0, now - tracker.started[key]) / weight)
    total = sum(weights.values())
    known = sum(estimates.step_s[key] for key in keys if key in estimates.step_s)
    scale = estimates.run_s / known if estimates.run_s and known > 0 else 1.0
    left = max(0.0, total - done) * scale
    eta = 0 if all_ended else math.ceil(round(left, 6))
    return Progress(_floor_percent(done, total, all_ended), eta, BASIS_HISTORY, estimates.runs)


def finished(tracker: StepTracker, succeeded: bool) -> Progress:
    """The progress of a run that has ended: 100 % when it succeeded, else the share of its
    counted steps that ended; nothing left (``eta_s`` 0)."""
    keys = counted_steps(tracker)
    ended = sum(1 for key in keys if tracker.statuses.get(key) in ENDED)
    percent = 100 if succeeded else _floor_percent(ended, len(keys), ended == len(keys))
    return Progress(percent, 0, BASIS_FINISHED)
