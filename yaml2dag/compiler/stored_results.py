"""Step results read back from a run's event log, for the failure handling of a failed run.

The ``result`` metadata of each step's ``STEP_OUTPUT`` (secrets already masked), or, for a
result too large for metadata, the object the IO manager stored (its ``HANDLED_OUTPUT`` path);
a condition op's ``skipped`` output is the skipped-result of its step, the ``workflow_outputs``
node of a sub-workflow the result of the including step. So failure handling works in whichever
process it runs in (the run's own, or the failed step's subprocess with the multiprocess
executor), and in re-executions: results of steps the re-execution reused come from the event
logs of the runs it re-executes (:func:`stored_results`).
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass
from typing import Any

import dagster as dg

from yaml2dag.format.naming import CONDITION_SUFFIX, OUTPUTS_NODE, RESULTS_SUFFIX, step_of_node
from yaml2dag.format.semantics import result, skipped_result

#: Deepest chain of re-executions whose event logs are read for reused results.
MAX_ANCESTORS = 50


@dataclass
class StoredResult:
    """A step result read back from a run's event log.

    Attributes:
        key: the Dagster step key it was stored under.
        path: sub-workflow step ids from the top-level workflow down to the step's workflow.
        step_id: the step's id in that workflow.
        result: the step result dict (secrets masked).
        run_id: the run that produced it (a parent run, for a step a re-execution reused).
    """

    key: str
    path: tuple[str, ...]
    step_id: str
    result: dict
    run_id: str


def _load_pickle(path: str | None) -> Any:
    if not path:
        return None
    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None


def _decode(key: str, output: str, meta: dict[str, Any], stored_path: str | None,
            run_id: str) -> StoredResult | None:
    if "[" in key:  # one element of a for_each step: the step's result is its `__results`
        return None
    parts = key.split(".")
    node, path = parts[-1], tuple(parts[:-1])
    if output == "skipped" and node.endswith(CONDITION_SUFFIX):
        reason = str(meta.get("reason") or "")
        return StoredResult(key, path, step_of_node(node), skipped_result(reason), run_id)
    if output != "result":
        return None
    value = meta.get("result")
    if node == OUTPUTS_NODE:
        if not path:
            return None
        if not isinstance(value, dict):
            outputs = meta.get("outputs")
            value = result(outputs) if isinstance(outputs, dict) else _load_pickle(stored_path)
        path, step_id = path[:-1], path[-1]
    elif node.endswith(RESULTS_SUFFIX):
        step_id = step_of_node(node)
    elif step_of_node(node) != node:  # another helper op of a step
        return None
    else:
        step_id = node
    if not isinstance(value, dict):
        value = _load_pickle(stored_path)
    if not isinstance(value, dict):
        return None
    return StoredResult(key, path, step_id, dict(value), run_id)


def _results_of_run(instance: Any, run_id: str, keys: set[str] | None) -> list[StoredResult]:
    """Step results a run stored, in completion order (only ``keys``, when given)."""
    outputs: list[tuple[str, str, dict]] = []
    paths: dict[tuple[str, str], str] = {}
    for record in instance.all_logs(run_id, of_type={dg.DagsterEventType.STEP_OUTPUT,
                                                     dg.DagsterEventType.HANDLED_OUTPUT}):
        event = record.dagster_event
        key = event.step_key or ""
        if keys is not None and key not in keys:
            continue
        data = event.event_specific_data
        meta = {k: getattr(v, "value", v) for k, v in (getattr(data, "metadata", None) or {}).items()}
        if event.event_type_value == "STEP_OUTPUT":
            outputs.append((key, data.step_output_handle.output_name, meta))
        else:
            if "path" in meta:
                paths[(key, data.output_name)] = str(meta["path"])
    found = []
    for key, output, meta in outputs:
        item = _decode(key, output, meta, paths.get((key, output)), run_id)
        if item is not None:
            found.append(item)
    return found


def stored_results(instance: Any, run: Any) -> list[StoredResult]:
    """The step results a failure handler of ``run`` can read, oldest first.

    Results the run stored, and, for a re-execution, those of the steps it reused (did not
    plan to execute) from the runs it re-executes (``parent_run_id``, up to
    :data:`MAX_ANCESTORS` deep).
    """
    chain = []
    seen: set[str] = set()
    current = run
    while current is not None and current.run_id not in seen and len(chain) < MAX_ANCESTORS:
        chain.append(current)
        seen.add(current.run_id)
        current = instance.get_run_by_id(current.parent_run_id) if current.parent_run_id else None
    per_run: list[list[StoredResult]] = []
    covered: set[str] = set()  # step keys a newer run of the chain stored
    planned_all = False
    for member in chain:
        if planned_all:
            break
        items = [r for r in _results_of_run(instance, member.run_id, None) if r.key not in covered]
        per_run.append(items)
        covered |= {r.key for r in items}
        if member.step_keys_to_execute is None:
            planned_all = True  # this run executed every step: older runs add nothing
        else:
            covered |= set(member.step_keys_to_execute)
    out: list[StoredResult] = []
    for items in reversed(per_run):
        out.extend(items)
    return out


__all__ = ["MAX_ANCESTORS", "StoredResult", "stored_results"]
