"""The engine events of failure handling in a run's event log (metadata key
:data:`yaml2dag.format.tags.FAILURE_MARKER`): who handles the failure, what each handler did.

Each event's metadata holds the marker's value (``started``, ``compensate``, ``on_failure``,
``fallback``, ``finished``) and the handler's ``step``, ``status``, ``error`` and ``output``;
``yaml2dag status``/``events`` and the run tracking read them back.
"""

from __future__ import annotations

import uuid
from typing import Any, Iterable

import dagster as dg

from yaml2dag.dagster_internals import EngineEventData
from yaml2dag.format.masking import masker_of, registered
from yaml2dag.format.semantics import SUCCEEDED
from yaml2dag.format.tags import FAILURE_MARKER as MARKER


def _event_value(value: Any) -> Any:
    """An engine event metadata value: bool, int, JSON for lists and dicts, else text ("" for None)."""
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, (list, dict)):
        return dg.MetadataValue.json(value)
    return dg.MetadataValue.text("" if value is None else str(value))


def report(context: Any, message: str, values: dict[str, Any]) -> None:
    """Write an engine event of failure handling into the run's event log (masked here: it is
    written straight to the event log, past the log manager's masking)."""
    # written straight to the event log (no log manager): masked here, by what is written
    masker = masker_of(registered(context.run_id))
    run = context.instance.get_run_by_id(context.run_id)
    context.instance.report_engine_event(
        masker.text(message), run,
        EngineEventData(metadata={k: _event_value(masker.value(v)) for k, v in values.items()}),
        step_key=context.step_key or None,
    )


def marker_events(instance: Any, run_id: str) -> Iterable[dict[str, Any]]:
    """The metadata of the failure handling events of a run, oldest first."""
    for record in instance.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        meta = getattr(record.dagster_event.engine_event_data, "metadata", None) or {}
        if MARKER in meta:
            yield {k: getattr(v, "value", v) for k, v in meta.items()}


def already_handled(context: Any) -> bool:
    """Whether failure handling has started for the run of ``context``."""
    return any(True for _ in marker_events(context.instance, context.run_id))


def claim(context: Any, message: str, values: dict[str, Any]) -> bool:
    """Report that failure handling starts, and say whether this process is the one to do it.

    Two steps of a multiprocess run can fail at the same moment, each in its own process, and
    both hooks may pass :func:`already_handled` before either reports. So each reports its
    ``started`` event with a token of its own, then reads the run's event log back: the first
    ``started`` event in storage order wins (the event log assigns increasing storage ids and
    each process reads after its own write, so exactly one process sees its own token first).
    """
    token = uuid.uuid4().hex
    report(context, message, {MARKER: "started", **values, "claim": token})
    first = next((v for v in marker_events(context.instance, context.run_id) if v.get(MARKER) == "started"), None)
    return first is not None and first.get("claim") == token


def compensated_keys(instance: Any, run_id: str) -> set[str]:
    """Step keys whose ``compensate`` succeeded in the failure handling of run ``run_id``."""
    return {str(v.get("step_key") or v.get("step")) for v in marker_events(instance, run_id)
            if v.get(MARKER) == "compensate" and v.get("status") == SUCCEEDED}


__all__ = ["MARKER", "already_handled", "claim", "compensated_keys", "marker_events", "report"]
