"""Advice from the run history: ``retry``, ``timeout`` and ``unused`` (``parallel`` is
:mod:`yaml2dag.optimize.parallel`).

Each rule reads :class:`~yaml2dag.optimize.observations.Observations` and the workflow model
and returns :class:`Advice` with its evidence (run ids, counts, rates, median and p95
durations, seconds) and the :class:`~yaml2dag.optimize.edits.Change` it proposes:

* ``retry``: a step without ``retry`` that failed in at least :data:`RETRY_RATE` of the runs in
  which it ran, or failed and then succeeded in a later run (or on a later attempt), and
  succeeded at least once (a step that always fails needs a fix, not a retry). Attempts: enough
  that the observed failure rate repeated stays under 1 % (``rate ** attempts <= 0.01``), and at
  least one more than the longest streak of failing runs, between 2 and 5. Backoff exponential;
  delay the median time a failing attempt took, rounded, between 1 and 60 seconds.
* ``timeout``: a step without ``timeout`` (its own or from ``defaults``) whose slowest run took
  at least :data:`TIMEOUT_FACTOR` times its median and :data:`TIMEOUT_MARGIN_S` seconds more.
  Proposed limit: ``max(3 × median, median + 10 s)`` rounded up to whole seconds; the saving is
  what the slowest run would have been cut short by.
* ``unused``: a step skipped in every analysed run (at least :data:`MIN_RUNS`). Deleting a step
  is left to the user: its change is a comment, and ``--apply`` does not write it. (Outputs no
  consumer reads are the other ``unused`` advice: :mod:`yaml2dag.optimize.outputs`.)

Nothing here imports Dagster.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass
from yaml2dag.format.model import Step, Workflow
from yaml2dag.optimize.edits import Change
from yaml2dag.optimize.observations import Observations

#: The kinds of advice, in the order they are listed.
KINDS = ("retry", "parallel", "timeout", "unused")
#: A failure rate at or above this deserves a retry.
RETRY_RATE = 0.10
#: "Far above the median": the slowest run took this many times the median ...
TIMEOUT_FACTOR = 3.0
#: ... and at least this many seconds more.
TIMEOUT_MARGIN_S = 10.0
#: Fewest runs of a step before ``timeout`` or ``unused`` is said about it.
MIN_RUNS = 3


@dataclass
class Advice:
    """One piece of advice (an item of ``advice`` in ``optimize --format json``).

    Attributes:
        kind: one of :data:`KINDS`.
        steps: the step ids it is about.
        evidence: what the runs showed (run ids, counts, rates, durations in seconds).
        saving_s: estimated seconds saved per run (None where time is not concerned).
        change: what it changes (:class:`~yaml2dag.optimize.edits.Change`).
        text: the change as a YAML fragment (filled in by :func:`yaml2dag.optimize.optimize`).
        summary: one line for people.
    """

    kind: str
    steps: list[str]
    evidence: dict
    saving_s: float | None
    change: Change
    summary: str
    text: str = ""

    def to_json(self) -> dict:
        return {"kind": self.kind, "steps": list(self.steps), "evidence": self.evidence,
                "saving_s": self.saving_s, "change": self.text}


def rounded(value: float | None) -> float | None:
    """``value`` rounded to milliseconds (None stays None)."""
    return None if value is None else round(value, 3)


def _seconds(value: float) -> str:
    return f"{int(value)}s"


def _top_steps(workflow: Workflow) -> list[Step]:
    """The workflow's own tool steps (not sub-workflow steps, not ``on_failure`` handlers)."""
    return [s for s in workflow.iter_steps(include_on_failure=False) if isinstance(s, Step)]


def _streak(records: list) -> int:
    longest = current = 0
    for record in records:
        current = current + 1 if record.failed else 0
        longest = max(longest, current)
    return longest


def retry_advice(workflow: Workflow, obs: Observations) -> list[Advice]:
    """``retry`` advice (see the module docstring)."""
    out = []
    for step in _top_steps(workflow):
        if step.retry is not None or step.on_error == "retry":
            continue
        records = obs.ran(step.id)
        failed = [r for r in records if r.failed]
        succeeded = [r for r in records if not r.failed]
        if not failed or not succeeded:
            continue
        first_failure = records.index(failed[0])
        recovered = [r.run_id for r in records[first_failure:] if not r.failed]
        rate = len(failed) / len(records)
        retried_ok = [r.run_id for r in succeeded if r.retries]
        if rate < RETRY_RATE and not recovered and not retried_ok:
            continue
        streak = _streak(records)
        needed = math.ceil(math.log(0.01) / math.log(rate)) if 0 < rate < 1 else 2
        attempts = max(2, min(5, max(streak + 1, needed)))
        failing = [r.duration for r in failed if r.duration is not None]
        failing_median = statistics.median(failing) if failing else None
        delay = max(1, min(60, round(failing_median or 1)))
        values = {"retry": {"max_attempts": attempts, "backoff": "exponential", "delay": _seconds(delay)}}
        evidence = {"runs": len(records), "failures": len(failed), "failure_rate": round(rate, 3),
                    "failed_runs": [r.run_id for r in failed], "recovered_runs": recovered,
                    "longest_failure_streak": streak,
                    "median_duration_s": rounded(obs.median(step.id)), "p95_duration_s": rounded(obs.p95(step.id)),
                    "median_failed_attempt_s": rounded(failing_median)}
        summary = (f"`{step.id}` failed in {len(failed)} of {len(records)} runs ({rate:.0%}) and succeeded "
                   f"in others: retry it up to {attempts} times")
        out.append(Advice("retry", [step.id], evidence, None, Change("set", (step.id,), values), summary))
    return out


def timeout_advice(workflow: Workflow, obs: Observations) -> list[Advice]:
    """``timeout`` advice (see the module docstring)."""
    out = []
    for step in _top_steps(workflow):
        if step.timeout is not None:
            continue
        records = [r for r in obs.ran(step.id) if r.duration is not None]
        if len(records) < MIN_RUNS:
            continue
        median = statistics.median(r.duration for r in records)
        slowest = max(records, key=lambda r: r.duration)
        if slowest.duration < TIMEOUT_FACTOR * median or slowest.duration - median < TIMEOUT_MARGIN_S:
            continue
        limit = math.ceil(max(TIMEOUT_FACTOR * median, median + TIMEOUT_MARGIN_S))
        saving = max(0.0, slowest.duration - limit)
        evidence = {"runs": len(records), "median_duration_s": rounded(median), "p95_duration_s": rounded(obs.p95(step.id)),
                    "slowest_duration_s": rounded(slowest.duration), "slowest_run": slowest.run_id,
                    "proposed_timeout_s": limit}
        summary = (f"`{step.id}` usually takes {median:.1f}s but once took {slowest.duration:.1f}s: "
                   f"limit it to {limit}s")
        out.append(Advice("timeout", [step.id], evidence, round(saving, 3),
                          Change("set", (step.id,), {"timeout": _seconds(limit)}), summary))
    return out


def unused_advice(workflow: Workflow, obs: Observations) -> list[Advice]:
    """``unused`` advice: steps skipped in every analysed run (see the module docstring)."""
    out = []
    for step in workflow.iter_steps(include_on_failure=False):
        records = obs.steps.get(step.id, [])
        if len(records) < MIN_RUNS or len(obs.run_ids) < MIN_RUNS or any(r.status != "skipped" for r in records):
            continue
        runs = [r.run_id for r in records]
        note = (f"step `{step.id}` was skipped in all {len(runs)} analysed runs: remove it, or check its "
                f"condition{'' if getattr(step, 'when', None) in (None, True) else ' ' + repr(step.when)}")
        evidence = {"runs": len(runs), "skipped": len(runs), "skipped_runs": runs}
        out.append(Advice("unused", [step.id], evidence, None, Change("none", (step.id,), note=note),
                          f"`{step.id}` was skipped in every one of {len(runs)} runs"))
    return out

