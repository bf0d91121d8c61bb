"""Pruning old runs (``yaml2dag prune``): which finished runs are old enough, their audit records
exported first when asked, then each run deleted through the Dagster instance with every file it
left: the run and its tags, its event log, its compute logs and the step outputs the IO manager
stored.

A run is *old* when it ended before the cutoff (``now`` less ``--older-than``); a run that is not
finished (queued, starting, started, paused at an approval gate, canceling) is never deleted,
however old, and neither is a finished run that an unfinished re-execution descends from (the
re-execution loads the outputs of the steps it reuses from that run's storage).
"""

from __future__ import annotations

import datetime as _dt
import json as _json
import os
import re as _re
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from yaml2dag.runs.history.audit import run_audit
from yaml2dag.runs.history.outcome_cache import forget as forget_outcomes
from yaml2dag.format.durations import parse_duration
from yaml2dag.runs.history.queries import parse_since
from yaml2dag.runs.history.status import run_summary

#: ``--status`` words → the Dagster status of finished runs they select. ``completed``,
#: ``failed`` and ``canceled`` are yaml2dag's run statuses (``history``); ``success``,
#: ``failure`` and ``cancelled`` are accepted for them.
PRUNE_STATUSES = {"completed": "SUCCESS", "failed": "FAILURE", "canceled": "CANCELED"}
_ALIASES = {"success": "completed", "succeeded": "completed", "failure": "failed", "cancelled": "canceled"}

#: Dagster statuses of a finished run; every other status keeps a run.
FINISHED = frozenset(PRUNE_STATUSES.values())

#: The longest ``--older-than`` (seconds): 1,000 years, far inside what a date can be moved by.
MAX_AGE_S = 1000 * 365.25 * 86400

#: Runs read from the run storage per query.
PAGE = 500

#: Deepest chain of re-executions followed up from an unfinished run to protect its ancestors.
MAX_ANCESTORS = 50


class PruneExportError(Exception):
    """The audit export could not be written; nothing was deleted."""


def parse_older_than(text: str) -> float:
    """Seconds in an ``--older-than`` value: ``90d``, ``12h``, ``2w``, ``30m``, ``45s``, ``1h30m``,
    ISO-8601 ``P90D``/``PT10M`` (:func:`yaml2dag.format.durations.parse_duration`, plus weeks as
    ``history --since`` takes them).

    Raises:
        ValueError: not a duration, or a bare number (its unit would be a guess: seconds in the
            format, days in the user's mind).
    """
    value = str(text or "").strip()
    expected = "expected a duration with a unit, such as 90d, 12h, 2w, 30m or P90D"
    if not value:
        raise ValueError(expected)
    if _re.fullmatch(r"[0-9]+(\.[0-9]+)?", value):
        raise ValueError(f"{value!r} has no unit; {expected}")
    try:
        # ISO-8601 as the format writes it (parse_since lower-cases, which ISO does not take)
        seconds = parse_duration(value.upper()) if value[:1] in "Pp" else parse_since(value)
    except ValueError:
        raise ValueError(f"{text!r} is not a duration; {expected}") from None
    if seconds is None:
        raise ValueError(expected)
    if seconds > MAX_AGE_S:
        raise ValueError(f"{text!r} is longer than 1,000 years; {expected}")
    return seconds


def parse_now(text: str | None) -> _dt.datetime:
    """The moment ages are measured from: an ISO-8601 time (``2026-12-01T00:00:00Z``; without a
    zone it is UTC), or the current time for None.

    Raises:
        ValueError: not an ISO-8601 time.
    """
    if text is None:
        return _dt.datetime.now(_dt.timezone.utc)
    value = str(text).strip()
    try:
        moment = _dt.datetime.fromisoformat(value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO-8601 time such as 2026-12-01T00:00:00Z") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=_dt.timezone.utc)


def parse_statuses(values: Iterable[str]) -> list[str]:
    """``--status`` values (repeated or comma lists) → yaml2dag statuses (:data:`PRUNE_STATUSES`).

    Raises:
        ValueError: a status that is not one of a finished run.
    """
    out: list[str] = []
    for item in values:
        for word in str(item).split(","):
            key = word.strip().lower()
            if not key:
                continue
            key = _ALIASES.get(key, key)
            if key not in PRUNE_STATUSES:
                raise ValueError(f"{word.strip()!r} is not the status of a finished run; expected one of "
                                 "completed (success), failed (failure), canceled")
            if key not in out:
                out.append(key)
    return out


@dataclass
class PrunePlan:
    """Which runs a prune deletes and which old ones it keeps.

    Attributes:
        now: the moment ages are measured from (UTC).
        cutoff: runs that ended before this moment are old (UTC).
        selected: the runs to delete, oldest first (:func:`run_summary` dicts).
        kept: old runs that are kept, each a summary plus ``reason``.
    """

    now: _dt.datetime
    cutoff: _dt.datetime
    selected: list[dict] = field(default_factory=list)
    kept: list[dict] = field(default_factory=list)


def _records(instance: Any, **filters: Any) -> Iterable[Any]:
    """Every run record matching ``filters`` (a :class:`dagster.RunsFilter`), page by page."""
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import RunsFilter

    cursor = None
    while True:
        page = instance.get_run_records(RunsFilter(**filters), limit=PAGE, cursor=cursor)
        yield from page
        if len(page) < PAGE:
            return
        cursor = page[-1].dagster_run.run_id


def _protected(instance: Any) -> dict[str, str]:
    """Run id → the unfinished re-execution that descends from it (and reads its stored outputs)."""
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import DagsterRunStatus

    unfinished = [s for s in DagsterRunStatus if s.value not in FINISHED]
    out: dict[str, str] = {}
    for record in _records(instance, statuses=unfinished):
        child = record.dagster_run
        parent_id, depth = child.parent_run_id, 0
        while parent_id and parent_id not in out and depth < MAX_ANCESTORS:
            out[parent_id] = child.run_id
            parent = instance.get_run_by_id(parent_id)
            parent_id, depth = (parent.parent_run_id if parent else None), depth + 1
    return out


def _ended(record: Any) -> float:
    """When a finished run ended (epoch seconds): its end time, else its last update (a run
    canceled before it started has no end time)."""
    if record.end_time:
        return record.end_time
    stamp = record.update_timestamp or record.create_timestamp
    return stamp.timestamp()


def _kept_reason(row: dict) -> str:
    if row["status"] == "paused":
        return "not finished: paused at an approval gate"
    if row["canceling"]:
        return "not finished: canceling"
    return f"not finished: {row['dagster_status'].lower()}"


def plan_prune(instance: Any, older_than_s: float, *, jobs: list[str] | None = None,
               statuses: list[str] | None = None, now: _dt.datetime | None = None) -> PrunePlan:
    """Select the runs to prune.

    Args:
        instance: the Dagster instance.
        older_than_s: age in seconds; a finished run that ended more than this before ``now`` is
            selected.
        jobs: only runs of these jobs (workflow ids; None or empty: every job).
        statuses: only finished runs with these yaml2dag statuses (:data:`PRUNE_STATUSES`;
            None or empty: all three).
        now: the moment ages are measured from (default: the current time, UTC).

    Returns:
        A :class:`PrunePlan`: ``selected`` (oldest first) and ``kept`` — the runs created before
        the cutoff that are not finished (``reason`` ``"not finished: paused at an approval
        gate"``, ``"... queued"``, ``"... started"``, ``"... canceling"``...) and the old
        finished runs an unfinished re-execution descends from (``reason`` names it); those are
        reported whatever ``statuses`` says.
    """
    moment = now or _dt.datetime.now(_dt.timezone.utc)
    cutoff = moment - _dt.timedelta(seconds=older_than_s)
    wanted = {PRUNE_STATUSES[s] for s in statuses} if statuses else FINISHED
    protected = _protected(instance)
    plan = PrunePlan(moment, cutoff)
    for job in (list(dict.fromkeys(jobs)) if jobs else [None]):  # a workflow named twice is read once
        filters: dict[str, Any] = {"created_before": cutoff}
        if job:
            filters["job_name"] = job
        for record in _records(instance, **filters):
            run = record.dagster_run
            status = run.status.value
            if status in FINISHED:
                if status not in wanted or _ended(record) >= cutoff.timestamp():
                    continue
                row = run_summary(record)
                if run.run_id in protected:
                    plan.kept.append({**row, "reason": f"an unfinished re-execution ({protected[run.run_id]}) "
                                                       "reuses its step outputs"})
                else:
                    plan.selected.append(row)
                continue
            row = run_summary(record, instance)
            plan.kept.append({**row, "reason": _kept_reason(row)})
    plan.selected.sort(key=lambda r: (r["ended_at"] or r["created_at"] or "", r["run_id"]))
    return plan


def counts_of(rows: list[dict]) -> list[dict]:
    """``[{"workflow", "status", "runs"}]`` for runs (summaries), sorted by workflow then status."""
    tally: dict[tuple[str, str], int] = {}
    for row in rows:
        key = (row["workflow"] or row["job"], row["status"])
        tally[key] = tally.get(key, 0) + 1
    return [{"workflow": w, "status": s, "runs": n} for (w, s), n in sorted(tally.items())]


def export_audits(instance: Any, run_ids: list[str], path: str | Path, library: Any = None) -> int:
    """Write the audit records of runs to ``path`` as JSON Lines: one :func:`run_audit` document
    (secrets masked) per line, in the order given, UTF-8.

    The file is written under a temporary name in its folder and renamed over ``path`` only when
    every record is written and flushed to disk, so a failed export leaves no partial file.

    Returns:
        The number of records written.

    Raises:
        PruneExportError: a record could not be read or the file could not be written (the
            message names the file and the cause).
    """
    target = Path(path)
    try:
        handle, temporary = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent or ".")
    except OSError as exc:
        raise PruneExportError(f"cannot write the export {target}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as out:
            for run_id in run_ids:
                record = run_audit(instance, run_id, library)
                out.write(_json.dumps(record, ensure_ascii=False, default=str, sort_keys=False) + "\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, target)
    except Exception as exc:  # noqa: BLE001 - any failure: no file, and the caller deletes nothing
        Path(temporary).unlink(missing_ok=True)
        cause = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc) or type(exc).__name__
        raise PruneExportError(f"cannot write the export {target}: {cause}") from None
    return len(run_ids)


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    if path.is_dir():
        return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())
    return 0


def run_files(instance: Any, run_id: str) -> dict:
    """Where a run's files are, read from its event log (call before deleting it).

    Returns:
        ``{"compute_log_keys": [[...], ...], "compute_log_prefix": [...], "output_dirs": [Path],
        "event_log_files": [Path]}``: the compute log keys of its ``LOGS_CAPTURED`` events and the
        prefix of every key of the run (the compute log manager's), the folders named after the
        run that hold its stored step outputs (the IO manager's ``<base>/<run_id>``: from the
        ``path`` of its ``HANDLED_OUTPUT`` events, and under the instance's storage folder), and,
        with SQLite event log storage, the run's own database file (and its ``-wal``/``-shm``).
    """
    manager = instance.compute_log_manager
    keys: list[list[str]] = []
    dirs: set[Path] = {Path(instance.storage_directory()) / run_id}
    for rec in instance.all_logs(run_id):
        event = rec.dagster_event
        if event is None:
            continue
        kind = event.event_type_value
        data = event.event_specific_data
        if kind == "LOGS_CAPTURED" and getattr(data, "file_key", None):
            keys.append(list(manager.build_log_key_for_run(run_id, data.file_key)))
        elif kind == "HANDLED_OUTPUT":
            meta = getattr(data, "metadata", None) or {}
            stored = meta.get("path")
            stored = getattr(stored, "value", stored)
            if stored:
                found = next((p for p in Path(str(stored)).parents if p.name == run_id), None)
                if found is not None:
                    dirs.add(found)
    prefix = list(manager.build_log_key_for_run(run_id, "-"))[:-1]
    shards: list[Path] = []
    shard_path = getattr(instance.event_log_storage, "path_for_shard", None)  # SQLite: one file a run
    if callable(shard_path):
        base = Path(shard_path(run_id))
        shards = [base, base.with_name(base.name + "-wal"), base.with_name(base.name + "-shm")]
    return {"compute_log_keys": keys, "compute_log_prefix": prefix, "output_dirs": sorted(dirs),
            "event_log_files": shards}


def delete_run(instance: Any, run_id: str) -> int:
    """Delete one finished run with everything it stored: compute logs (through the instance's
    compute log manager), step outputs (the IO manager's folders of the run), then the run, its
    tags and its event log (``instance.delete_run``), its stored step outcomes and, with SQLite event log storage, the
    run's emptied database file. Files go first: a prune that stops half-way leaves the run
    listed, and the next prune finishes it.

    Returns:
        The bytes of local files removed (compute logs, outputs, event log file; remote storage
        is not measured).

    Raises:
        OSError: a file could not be removed (the run stays).
    """
    files = run_files(instance, run_id)
    manager = instance.compute_log_manager
    freed = sum(_size(p) for p in files["output_dirs"])
    for key in files["compute_log_keys"]:
        manager.delete_logs(log_key=key)
    if files["compute_log_prefix"]:
        manager.delete_logs(prefix=files["compute_log_prefix"])
    for folder in files["output_dirs"]:
        if folder.is_dir():
            shutil.rmtree(folder)
    instance.delete_run(run_id)
    forget_outcomes(instance, run_id)  # its stored step outcomes (yaml2dag.runs.history.outcome_cache)
    for shard in files["event_log_files"]:
        if shard.is_file():
            freed += shard.stat().st_size
            shard.unlink()
    return freed


def prune_runs(instance: Any, plan: PrunePlan, *, dry_run: bool = False, export: str | Path | None = None,
               library: Any = None) -> dict:
    """Carry out a :class:`PrunePlan`: export the selected runs' audits (when ``export``), then
    delete them (unless ``dry_run``, which changes nothing and writes no export).

    A run that is no longer finished or no longer exists when its turn comes is skipped.

    Returns:
        ``{"dry_run", "now", "cutoff" (ISO-8601 UTC), "runs": [{"run_id", "workflow", "job",
        "status", "created_at", "ended_at"}], "counts": [{"workflow", "status", "runs"}],
        "total", "kept": [{"run_id", "workflow", "status", "created_at", "reason"}],
        "kept_total", "export": {"file", "format": "jsonl", "records"} or None,
        "deleted" (runs deleted; 0 on a dry run), "freed_bytes"}``.

    Raises:
        PruneExportError: the export failed; nothing was deleted.
    """
    rows = plan.selected
    exported = None
    if export is not None and not dry_run:
        written = export_audits(instance, [r["run_id"] for r in rows], export, library)
        exported = {"file": str(export), "format": "jsonl", "records": written}
    deleted, freed = 0, 0
    if not dry_run:
        for row in rows:
            run = instance.get_run_by_id(row["run_id"])
            if run is None or run.status.value not in FINISHED:
                continue
            freed += delete_run(instance, row["run_id"])
            deleted += 1
    return {
        "dry_run": dry_run,
        "now": plan.now.isoformat(timespec="seconds"),
        "cutoff": plan.cutoff.isoformat(timespec="seconds"),
        "runs": [{k: r[k] for k in ("run_id", "workflow", "job", "status", "created_at", "ended_at")} for r in rows],
        "counts": counts_of(rows),
        "total": len(rows),
        "kept": [{k: r[k] for k in ("run_id", "workflow", "status", "created_at", "reason")} for r in plan.kept],
        "kept_total": len(plan.kept),
        "export": exported,
        "deleted": deleted,
        "freed_bytes": freed,
    }


__all__ = ["FINISHED", "PRUNE_STATUSES", "PruneExportError", "PrunePlan", "counts_of", "delete_run", "export_audits",
           "parse_now", "parse_older_than", "parse_statuses", "plan_prune", "prune_runs", "run_files"]
