"""Success rates and durations of runs per workflow and per step (``yaml2dag stats``)."""

from __future__ import annotations

import datetime as _dt
from typing import Any

from yaml2dag.runs.history.queries import list_runs
from yaml2dag.runs.history.outcome_cache import outcomes_of_runs
import math


def p95(values: list[float]) -> float | None:
    """95th percentile, nearest-rank method (the smallest value ≥ 95 % of the values)."""
    if not values:
        return None
    ordered = sorted(values)

    rank = max(1, math.ceil(0.95 * len(ordered)))
    return ordered[rank - 1]


def run_stats(instance: Any, job: str | None = None, *, since_s: float | None = None,
              names: dict[str, str] | None = None) -> dict:
    """Success rates and durations of runs, per workflow (job), and per step.

    Args:
        job: only this job (None: every job with runs).
        since_s: only runs created in the last ``since_s`` seconds (None: all).
        names: job id → workflow name, for display.

    Returns:
        ``{"since", "since_s", "workflows": [{"workflow", "job", "runs", "completed", "failed",
        "canceled", "in_progress", "success_rate" (completed / (completed + failed), None
        when no run finished either way), "mean_duration_s", "p95_duration_s" (finished
        runs), "last_run_at", "steps": {step: {"runs", "failures", "retries",
        "failure_rate", "retry_rate", "mean_duration_s"}}}]}``. A step's ``runs`` counts the
        runs in which it ran (skipped and not-run are left out); ``failures`` counts failed
        and continued-after-failure outcomes; ``retries`` the runs in which it was retried.
    """
    runs = list_runs(instance, job, since_s=since_s)
    by_job: dict[str, list[dict]] = {}
    for row in runs:
        by_job.setdefault(row["job"], []).append(row)
    if job and job not in by_job:
        by_job[job] = []
    workflows = []
    for job_name, rows in sorted(by_job.items()):
        completed = sum(1 for r in rows if r["status"] == "completed")
        failed = sum(1 for r in rows if r["status"] == "failed")
        canceled = sum(1 for r in rows if r["status"] == "canceled")
        durations = [r["duration_s"] for r in rows if r["duration_s"] is not None
                     and r["status"] in ("completed", "failed", "canceled")]
        steps: dict[str, dict] = {}
        outcomes = outcomes_of_runs(instance, [r["run_id"] for r in rows])
        for r in rows:
            for key, info in outcomes[r["run_id"]].items():
                if info["status"] == "skipped":
                    continue
                item = steps.setdefault(key, {"runs": 0, "failures": 0, "retries": 0, "_durations": []})
                item["runs"] += 1
                item["failures"] += int(info["failed"])
                item["retries"] += int(info["retried"])
                if info["duration"] is not None:
                    item["_durations"].append(info["duration"])
        for item in steps.values():
            durs = item.pop("_durations")
            item["failure_rate"] = round(item["failures"] / item["runs"], 4) if item["runs"] else None
            item["retry_rate"] = round(item["retries"] / item["runs"], 4) if item["runs"] else None
            item["mean_duration_s"] = round(sum(durs) / len(durs), 3) if durs else None
        decided = completed + failed
        workflows.append({
            "workflow": (names or {}).get(job_name) or (rows[0]["workflow"] if rows else job_name),
            "job": job_name,
            "runs": len(rows),
            "completed": completed,
            "failed": failed,
            "canceled": canceled,
            "in_progress": len(rows) - completed - failed - canceled,
            "success_rate": round(completed / decided, 4) if decided else None,
            "mean_duration_s": round(sum(durations) / len(durations), 3) if durations else None,
            "p95_duration_s": round(p95(durations), 3) if durations else None,
            "last_run_at": rows[0]["created_at"] if rows else None,
            "steps": steps,
        })
    since = None
    if since_s is not None:
        since = (_dt.datetime.now(_dt.timezone.utc) - _dt.timedelta(seconds=since_s)).isoformat(timespec="seconds")
    return {"since": since, "since_s": since_s, "workflows": workflows}
