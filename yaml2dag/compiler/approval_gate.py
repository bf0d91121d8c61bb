"""The op side of an approval gate: what the gate records in the run's event log, and reads back
(spec §6 ``approval``; issue #3, feature 4).

The ``approval`` tool (:mod:`yaml2dag.tools.approval`) waits inside its op through
:class:`InstanceApprovals` (the ``approvals`` resource of the step's tool context): it announces
the gate with an engine event, polls the run's event log for decisions, and records the outcome.
Event metadata key :data:`MARKER` (``yaml2dag/approval``) marks the three kinds of events:
``waiting``, ``decision`` and ``resolved``. Deciding (``yaml2dag approve``/``reject``) and listing
the gates of a run are :mod:`yaml2dag.runs.approvals`, above the compiler, which reads and writes
the same events through the helpers here.

Importing this module imports Dagster; the light paths that reach it (the library asking
:mod:`yaml2dag.runs.approvals` for the default user, ``list`` and ``yaml2dag status`` listing gates)
import :mod:`yaml2dag.runs.approvals` inside their functions.
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from yaml2dag.format.secrets import mask
# the engine-event metadata key of approval events; its value is ``waiting``, ``decision`` or ``resolved``
from yaml2dag.format.tags import APPROVAL_MARKER as MARKER
import dagster as dg
from dagster import DagsterEventType
from yaml2dag.dagster_internals import EngineEventData, EventLogCursor


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def _meta_values(record: Any) -> dict[str, Any] | None:
    entry = getattr(record, "event_log_entry", record)  # EventLogRecord or EventLogEntry
    event = entry.dagster_event
    if event is None or event.event_type_value != "ENGINE_EVENT":
        return None
    data = event.engine_event_data
    meta = getattr(data, "metadata", None) or {}
    if MARKER not in meta:
        return None
    return {k: getattr(v, "value", v) for k, v in meta.items()}


def _text(value: Any) -> Any:
    if isinstance(value, bool):
        return dg.MetadataValue.bool(value)
    if isinstance(value, int):
        return dg.MetadataValue.int(value)
    if isinstance(value, (list, dict)):
        return dg.MetadataValue.json(value)
    return dg.MetadataValue.text("" if value is None else str(value))


def _report(instance: Any, run: Any, message: str, step_key: str, values: dict[str, Any]) -> None:
    instance.report_engine_event(
        message, run, EngineEventData(metadata={k: _text(v) for k, v in values.items()}), step_key=step_key,
    )


class MarkedEvents:
    """The yaml2dag-marked engine events of one run (gates, confirmations, their decisions), read
    forward from a cursor: the one reader of the approval gate, the step confirmation and the
    terminal's question watch.

    Args:
        instance: the Dagster instance.
        run_id: the run whose event log is read.
    """

    def __init__(self, instance: Any, run_id: str):
        self.instance = instance
        self.run_id = run_id
        self._cursor: str | None = None

    def skip_to_latest(self) -> None:
        """Move the cursor past the run's newest engine event (older ones are not read again)."""
        latest = self.instance.get_records_for_run(self.run_id, of_type=DagsterEventType.ENGINE_EVENT,
                                                   limit=1, ascending=False)
        self._cursor = (EventLogCursor.from_storage_id(latest.records[0].storage_id).to_string()
                        if latest.records else None)

    def read_new(self) -> list[dict[str, Any]]:
        """Metadata values (``{key: plain value}``, :func:`_meta_values`) of the marked engine events
        recorded since the last call, oldest first, read in pages of 200 records."""
        out: list[dict[str, Any]] = []
        while True:
            conn = self.instance.get_records_for_run(self.run_id, cursor=self._cursor,
                                                     of_type=DagsterEventType.ENGINE_EVENT, limit=200)
            out += [values for values in map(_meta_values, conn.records) if values]
            self._cursor = conn.cursor
            if not conn.has_more:
                return out


class InstanceApprovals:
    """The approval tool's view of the event log of one gate (bound to run and step key).

    Args:
        instance: the Dagster instance.
        run_id: the run.
        step_key: the gate's step key.
        secrets: secret values of the workflow: the gate's message and comments are masked with
            them before they are recorded (the event log is shown by ``yaml2dag status``).
    """

    def __init__(self, instance: Any, run_id: str, step_key: str, secrets: tuple[str, ...] = ()):
        self.instance = instance
        self.run_id = run_id
        self.step_key = step_key
        self.secrets = tuple(secrets)
        self._events = MarkedEvents(instance, run_id)

    def _mask(self, text: Any) -> Any:
        return mask(text, self.secrets)

    def announce(self, message: str, required: int, approvers: list[str], deadline: str | None) -> None:
        """Record that the gate waits (and move the read cursor past older events)."""
        run = self.instance.get_run_by_id(self.run_id)
        self._events.skip_to_latest()
        message = self._mask(message)
        _report(self.instance, run, f"approval gate `{self.step_key}` is waiting: {message}", self.step_key, {
            MARKER: "waiting", "step": self.step_key, "message": message, "required_approvals": required,
            "approvers": ",".join(approvers), "at": _now(), "deadline": deadline or "",
        })

    def poll(self) -> list[dict]:
        """Decisions recorded for this gate since the last poll."""
        return [{"decision": values.get("decision"), "by": values.get("by"),
                 "comment": values.get("comment") or None, "at": values.get("at")}
                for values in self._events.read_new()
                if values.get(MARKER) == "decision" and values.get("step") == self.step_key]

    def resolve(self, decision: str, approved_by: list[str], comment: str | None) -> None:
        """Record the gate's outcome (``approved``, ``rejected``, ``timed_out``)."""
        comment = self._mask(comment)
        run = self.instance.get_run_by_id(self.run_id)
        _report(self.instance, run, f"approval gate `{self.step_key}`: {decision}"
                + (f" by {', '.join(approved_by)}" if approved_by else ""), self.step_key, {
            MARKER: "resolved", "step": self.step_key, "decision": decision,
            "approved_by": ",".join(approved_by), "comment": comment or "", "at": _now(),
        })


__all__ = ["MARKER", "InstanceApprovals", "MarkedEvents"]
