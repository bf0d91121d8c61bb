"""Step outcomes of finished runs are stored once in Dagster's key-value store and read back
with one query (yaml2dag/runs/history/outcome_cache.py): the same answer as the event log, no
event-log read the second time, nothing stored for an unfinished run, a damaged entry read
again, and the entry deleted with its run by prune."""

from __future__ import annotations

import json

import pytest

from yaml2dag.runs.history import outcome_cache
from yaml2dag.runs.history.estimates import load_estimates
from yaml2dag.runs.history.outcome_cache import PREFIX, outcomes_of_runs, step_outcomes
from yaml2dag.runs.history.prune import delete_run

WORKFLOW = """
name: Cached Outcomes
steps:
  - id: first
    tool: shell
    parameters: {command: "echo one"}
  - id: flaky
    tool: shell
    retry: {max_attempts: 2, delay: 0}
    parameters: {command: "test -f marker || { touch marker; exit 3; }"}
  - id: skipped
    tool: shell
    when: "{{ false }}"
    parameters: {command: "echo never"}
"""


@pytest.fixture
def two_runs(run_yaml, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    return [run_yaml(WORKFLOW, name="cached.yaml") for _ in range(2)]


def _stored(instance, run_id):
    return instance.run_storage.get_cursor_values({PREFIX + run_id}).get(PREFIX + run_id)


def test_finished_runs_are_stored_once_and_read_back_without_the_event_log(instance, two_runs, monkeypatch):
    ids = [ran.result.run_id for ran in two_runs]
    assert all(_stored(instance, run_id) is None for run_id in ids)
    direct = {run_id: step_outcomes(instance, run_id) for run_id in ids}
    assert direct[ids[0]]["flaky"]["retries"] == 1 and direct[ids[0]]["skipped"]["status"] == "skipped"
    first = outcomes_of_runs(instance, ids + ids[:1])  # a duplicate id is read once
    assert first == direct
    assert all(json.loads(_stored(instance, run_id))["steps"] == direct[run_id] for run_id in ids)

    def no_event_log(*args, **kwargs):
        raise AssertionError("the event log was read although the outcomes are stored")

    monkeypatch.setattr(instance, "all_logs", no_event_log)
    assert outcomes_of_runs(instance, ids) == direct
    estimates = load_estimates(instance, "cached_outcomes")
    assert estimates.runs == 2 and estimates.step_s["skipped"] == 0.0 and estimates.step_s["first"] > 0


def test_a_damaged_or_old_entry_is_read_again_from_the_event_log(instance, two_runs):
    run_id = two_runs[0].result.run_id
    expected = step_outcomes(instance, run_id)
    for damaged in ("{not json", json.dumps({"v": 0, "steps": {}}), json.dumps(["a"])):
        instance.run_storage.set_cursor_values({PREFIX + run_id: damaged})
        assert outcomes_of_runs(instance, [run_id]) == {run_id: expected}
        assert json.loads(_stored(instance, run_id)) == {"v": outcome_cache.VERSION, "steps": expected}


def test_an_unfinished_run_is_never_stored(instance, two_runs):
    import dagster as dg

    run_id = two_runs[0].result.run_id
    instance.run_storage.set_cursor_values({PREFIX + run_id: ""})
    instance.report_run_canceling(instance.get_run_by_id(run_id))  # no longer finished: CANCELING
    assert instance.get_run_by_id(run_id).status == dg.DagsterRunStatus.CANCELING
    assert outcomes_of_runs(instance, [run_id])[run_id] == step_outcomes(instance, run_id)
    assert not _stored(instance, run_id)


def test_prune_deletes_the_entry_with_its_run(instance, two_runs):
    doomed, kept = (ran.result.run_id for ran in two_runs)
    outcomes_of_runs(instance, [doomed, kept])
    assert _stored(instance, doomed) and _stored(instance, kept)
    delete_run(instance, doomed)
    assert _stored(instance, doomed) is None
    assert _stored(instance, kept)


def test_secrets_never_reach_the_stored_entry(instance, run_yaml, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    secret = "s3cr3t-outcome-cache-value"
    monkeypatch.setenv("OUTCOME_CACHE_TOKEN", secret)
    ran = run_yaml("""
name: Secret Outcomes
steps:
  - id: uses_it
    tool: shell
    parameters: {command: "echo {{ secrets.OUTCOME_CACHE_TOKEN }}"}
""", name="secret.yaml")
    run_id = ran.result.run_id
    outcomes_of_runs(instance, [run_id])
    stored = _stored(instance, run_id)
    assert stored and "uses_it" in stored
    assert secret not in stored
