"""Issue 15, point 6: the arithmetic of percent done and time left (yaml2dag.runs.progress) —
medians, weights from earlier successful runs, credit for running steps, rounding."""

from __future__ import annotations

import pytest

from yaml2dag.runs.progress import (BASIS_FINISHED, BASIS_HISTORY, BASIS_STEP_COUNT, NO_ETA, RUNNING_CREDIT,
                                    Estimates, Progress, counted_steps, estimate, finished, median, step_weights)
from yaml2dag.runs.tracking import CatalogEntry, StepTracker


def tracker(*keys: str, kinds: dict | None = None, ended: dict | None = None, started: dict | None = None) -> StepTracker:
    catalog = {key: CatalogEntry(key, key, (kinds or {}).get(key, "step")) for key in keys}
    t = StepTracker(catalog)
    t.statuses.update(ended or {})
    t.started.update(started or {})
    t.running.update(key for key in (started or {}) if key not in (ended or {}))
    return t


@pytest.mark.parametrize("values, expected", [([], None), ([3.0], 3.0), ([5, 1, 3], 3.0), ([4, 1, 3, 2], 2.5),
                                              ([2, 2, 100], 2.0)])
def test_median(values, expected):
    assert median(values) == expected


def test_estimates_are_the_medians_of_the_samples_and_count_the_runs():
    est = Estimates.from_durations({"a": [1.0, 3.0, 2.0], "b": [0.0, 0.0, 4.0], "c": []}, [10.0, 12.0, 50.0])
    assert dict(est.step_s) == {"a": 2.0, "b": 0.0}
    assert (est.run_s, est.runs) == (12.0, 3)
    assert Estimates.from_durations({}, []).run_s is None


def test_without_history_percent_is_the_share_of_steps_ended_and_there_is_no_eta():
    t = tracker("a", "b", "c", ended={"a": "succeeded"}, started={"b": 0.0})
    p = estimate(t, 100.0, Estimates())
    assert p == Progress(33, None, BASIS_STEP_COUNT, 0)  # 1/3 rounded down; b running earns nothing
    assert p.text() == f"33% · {NO_ETA}"
    assert p.text(why_no_eta=False) == "33%"
    assert p.to_json() == {"percent": 33, "eta_s": None, "basis": "step_count", "runs": 0}


def test_steps_weigh_their_medians():
    est = Estimates({"a": 1.0, "b": 3.0, "c": 6.0}, run_s=10.0, runs=4)
    t = tracker("a", "b", "c", ended={"a": "succeeded", "b": "skipped"})
    p = estimate(t, 0.0, est)
    # done 1 + 3 of 10 → 40 %; left 6 s of step time, scaled by run 10 / steps 10
    assert p == Progress(40, 6, BASIS_HISTORY, 4)
    assert p.text() == "40% · ETA 6s"


def test_the_eta_scales_step_time_by_the_run_median_over_the_step_medians():
    # two parallel steps of 4 s and a run median of 5 s (4 s in parallel plus 1 s of Dagster)
    est = Estimates({"a": 4.0, "b": 4.0}, run_s=5.0, runs=2)
    p = estimate(tracker("a", "b"), 0.0, est)
    assert (p.percent, p.eta_s) == (0, 5)
    half = estimate(tracker("a", "b", ended={"a": "succeeded"}), 0.0, est)
    assert (half.percent, half.eta_s) == (50, 3)  # 4 s × 5/8 = 2.5 → rounded up


def test_a_running_step_counts_the_part_of_its_median_it_ran_capped():
    est = Estimates({"a": 10.0, "b": 10.0}, run_s=20.0, runs=1)
    p = estimate(tracker("a", "b", started={"a": 100.0}), 104.0, est)
    assert (p.percent, p.eta_s) == (20, 16)
    late = estimate(tracker("a", "b", started={"a": 100.0}), 500.0, est)  # far over its median
    assert late.percent == int(100 * RUNNING_CREDIT * 10 / 20)
    assert late.eta_s == 11  # 20 - 9.5 = 10.5 → 11: never 0 while a step is left


def test_percent_rounds_down_and_reaches_100_only_when_every_step_ended():
    est = Estimates({"a": 999.0, "b": 1.0}, run_s=1000.0, runs=3)
    almost = estimate(tracker("a", "b", ended={"a": "succeeded"}), 0.0, est)
    assert almost.percent == 99 and almost.eta_s == 1  # 99.9 → 99
    done = estimate(tracker("a", "b", ended={"a": "succeeded", "b": "failed"}), 0.0, est)
    assert (done.percent, done.eta_s, done.text()) == (100, 0, "100%")


def test_a_step_without_history_weighs_a_typical_step():
    est = Estimates({"a": 2.0, "b": 4.0, "c": 10.0}, run_s=16.0, runs=2)
    weights = step_weights(["a", "b", "c", "new"], est)
    assert weights == {"a": 2.0, "b": 4.0, "c": 10.0, "new": 4.0}
    # the new step's time is scaled by what the known steps took (16 s over 16 s of steps)
    assert estimate(tracker("a", "b", "c", "new", ended={"a": "succeeded", "b": "succeeded", "c": "succeeded"}),
                    0.0, est) == Progress(80, 4, BASIS_HISTORY, 2)


def test_steps_always_skipped_weigh_nothing_and_all_zero_falls_back_to_counting():
    est = Estimates({"a": 0.0, "b": 0.0}, run_s=3.0, runs=2)
    assert step_weights(["a", "b"], est) is None
    p = estimate(tracker("a", "b", ended={"a": "skipped"}), 0.0, est)
    assert (p.percent, p.eta_s, p.basis) == (50, None, BASIS_STEP_COUNT)


def test_a_sub_workflow_step_counts_through_its_own_steps():
    t = tracker("prep", "sub", "sub.x", "sub.y", "lonely", kinds={"sub": "workflow", "lonely": "workflow"})
    assert counted_steps(t) == ["prep", "sub.x", "sub.y", "lonely"]  # lonely: its steps are unknown


def test_a_catalog_learnt_from_events_adds_the_steps_of_earlier_runs():
    t = StepTracker()  # the workflow file was not found
    t.catalog["a"] = CatalogEntry("a", "a", "step")
    t.statuses["a"] = "succeeded"
    est = Estimates({"a": 1.0, "b": 3.0}, run_s=4.0, runs=1)
    assert not t.catalog_complete
    assert counted_steps(t, est, t.catalog_complete) == ["a", "b"]
    assert estimate(t, 0.0, est, catalog_complete=False) == Progress(25, 3, BASIS_HISTORY, 1)


def test_a_finished_run():
    ok = finished(tracker("a", "b", ended={"a": "succeeded", "b": "skipped"}), succeeded=True)
    assert ok == Progress(100, 0, BASIS_FINISHED) and ok.text() == "100%"
    failed = finished(tracker("a", "b", "c", ended={"a": "succeeded", "b": "failed"}), succeeded=False)
    assert (failed.percent, failed.eta_s, failed.text()) == (66, 0, "66%")
