"""Step outcomes of runs (:func:`step_outcomes`), those of finished runs kept in the instance's key-value store.

Every ``yaml2dag run`` reads the step outcomes (:func:`step_outcomes`)
of up to 20 earlier runs for its ETA and of 10 for the advice pointer; ``stats`` and ``optimize``
read them for every run they cover. On Dagster's default SQLite storage each run's event log is a
database file of its own, and the first read of one in a process costs Dagster's schema check of
that file (it loads every Alembic revision script: about 30 ms per run, measured with cProfile on
``yaml2dag run``; docs/benchmarks.md, "History read by ``yaml2dag run``"). A finished run's step
outcomes never change, so the first reader stores them, as JSON, in Dagster's key-value store (the
run storage's ``set_cursor_values``, one table of the run database); later readers get all of them
with one query. Runs that have not finished are read from their event log every time and never
stored. ``yaml2dag prune`` deletes a run's entry with the run (:func:`forget`).

What is stored is the step outcome dict only (step keys, statuses, counts, Unix times), never an
output, a log line or a parameter value: nothing here can hold a secret.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from yaml2dag.format.tags import OUTCOMES_KEY_PREFIX
from yaml2dag.runs.tracking import StepTracker, owner_of

#: Key of a run's entry: this prefix and the run id.
PREFIX = OUTCOMES_KEY_PREFIX
#: Format of an entry; an entry of another version is read again from the event log.
VERSION = 1
_FINISHED = ("SUCCESS", "FAILURE", "CANCELED")


def step_outcomes(instance: Any, run_id: str) -> dict[str, dict]:
    """Per workflow step of one run, from its event log (``stats`` and ``optimize`` read this).

    Returns:
        ``{step key: {"status", "failed", "retried", "retries", "started_at", "ended_at",
        "duration"}}`` for every step that ended: ``status`` one of ``succeeded``, ``failed``,
        ``continued``, ``skipped``; ``failed`` for failed and continued-after-failure;
        ``retries`` the number of failed attempts that were retried; ``started_at`` /
        ``ended_at`` the first STEP_START and last STEP_SUCCESS/STEP_FAILURE (Unix seconds,
        None for a skipped step); ``duration`` their difference in seconds (None when either
        is missing).
    """
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import DagsterEventType

    kinds = {DagsterEventType.STEP_START, DagsterEventType.STEP_RESTARTED, DagsterEventType.STEP_OUTPUT,
             DagsterEventType.STEP_SUCCESS, DagsterEventType.STEP_FAILURE, DagsterEventType.STEP_SKIPPED,
             DagsterEventType.STEP_UP_FOR_RETRY}
    tracker = StepTracker()
    retries: dict[str, int] = {}
    started: dict[str, float] = {}
    ended: dict[str, float] = {}
    for rec in instance.all_logs(run_id, of_type=kinds):
        event = rec.dagster_event
        tracker.feed(event, rec.timestamp)
        key, role = owner_of(rec.step_key or "")
        if role not in ("step", "element"):
            continue
        if event.event_type_value == "STEP_UP_FOR_RETRY":
            retries[key] = retries.get(key, 0) + 1
        elif event.event_type_value == "STEP_START":
            started[key] = min(started.get(key, rec.timestamp), rec.timestamp)
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            ended[key] = max(ended.get(key, rec.timestamp), rec.timestamp)
    out = {}
    for key, status in tracker.statuses.items():
        if key == "":
            continue
        out[key] = {"status": status, "failed": status in ("failed", "continued"), "retried": key in retries,
                    "retries": retries.get(key, 0), "started_at": started.get(key), "ended_at": ended.get(key),
                    "duration": ended[key] - started[key] if key in started and key in ended else None}
    return out


def outcomes_of_runs(instance: Any, run_ids: Sequence[str]) -> dict[str, dict[str, dict]]:
    """The step outcomes of each run of ``run_ids``, from the key-value store where stored,
    else from the run's event log (then stored when the run has finished).

    Args:
        instance: the Dagster instance.
        run_ids: full run ids (duplicates are read once).

    Returns:
        ``{run id: step_outcomes(instance, run id)}`` for every id given (``{}`` for a run with no
        step event, or a run id the instance does not know).

    Never fails over the cache: a store that cannot be read or written (another storage, a
    read-only database) only means every run is read from its event log.
    """
    ids = list(dict.fromkeys(run_ids))
    if not ids:
        return {}
    storage = instance.run_storage
    try:
        stored = storage.get_cursor_values({PREFIX + run_id for run_id in ids})
    except Exception:  # noqa: BLE001 - the cache is an optimisation: fall back to the event logs
        stored = {}
    out: dict[str, dict[str, dict]] = {}
    missing: list[str] = []
    for run_id in ids:
        steps = _parse(stored.get(PREFIX + run_id))
        if steps is None:
            missing.append(run_id)
        else:
            out[run_id] = steps
    if not missing:
        return out
    finished = _finished(instance, missing)
    new: dict[str, str] = {}
    for run_id in missing:
        steps = step_outcomes(instance, run_id)
        out[run_id] = steps
        if run_id in finished:
            new[PREFIX + run_id] = json.dumps({"v": VERSION, "steps": steps}, sort_keys=True)
    if new:
        try:
            storage.set_cursor_values(new)
        except Exception:  # noqa: BLE001 - as above: the next reader reads the event log again
            pass
    return out


def forget(instance: Any, run_id: str) -> None:
    """Delete the stored entry of ``run_id`` (when its run is deleted). Best effort: Dagster's run
    storage has no public delete of keys (the table is named in :mod:`yaml2dag.dagster_internals`);
    an entry left behind is a few hundred bytes and never read for another run."""
    from yaml2dag.dagster_internals import KeyValueStoreTable  # lazy: loads Dagster's SQL schema (about 0.2 s)

    try:
        with instance.run_storage.connect() as conn:
            conn.execute(KeyValueStoreTable.delete().where(KeyValueStoreTable.c.key == PREFIX + run_id))
    except Exception:  # noqa: BLE001 - never fail a prune over housekeeping
        pass


def _parse(value: str | None) -> dict[str, dict] | None:
    if not value:
        return None
    try:
        entry = json.loads(value)
    except ValueError:
        return None
    if not isinstance(entry, dict) or entry.get("v") != VERSION or not isinstance(entry.get("steps"), dict):
        return None
    return entry["steps"]


def _finished(instance: Any, run_ids: list[str]) -> set[str]:
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import RunsFilter

    records = instance.get_run_records(RunsFilter(run_ids=run_ids))
    return {r.dagster_run.run_id for r in records if r.dagster_run.status.value in _FINISHED}
