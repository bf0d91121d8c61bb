"""From Dagster events to workflow steps: who ran, who failed, what the outputs were.

A compiled workflow has more Dagster steps than workflow steps (conditions, ``for_each``
fan-out and fan-in, sub-workflow parameters, the outputs node), and sub-workflow steps have
nested step keys (``tests.pull``). :class:`StepTracker` folds the events of a run — live from
``execute_run_iterator`` or stored in the event log — back into the workflow's steps. The CLI's
live progress (``yaml2dag run``) and run status (``yaml2dag status``) both use it.
"""

from __future__ import annotations

import re

from dataclasses import dataclass, field
from typing import Any, Callable

from yaml2dag.format.model import Step, SubWorkflow, Workflow, iter_entries
from yaml2dag.format.naming import CONDITION_SUFFIX, ITEMS_SUFFIX, OUTPUTS_NODE, PARAMETERS_SUFFIX, RESULTS_SUFFIX
from yaml2dag.format.tags import APPROVAL_MARKER, FAILURE_MARKER

#: Values of a step's status (issue #2, CLI JSON contract).
STEP_STATUSES = ("succeeded", "failed", "continued", "skipped", "not_run")
ENDED = ("succeeded", "continued", "failed", "skipped")
#: Statuses of a step of a run in progress (``yaml2dag status``), besides :data:`STEP_STATUSES`:
#: started and not ended, or waiting at its approval gate for a decision.
LIVE_STATUSES = ("running", "waiting")


@dataclass
class CatalogEntry:
    """A workflow step as the tracker reports it."""

    key: str  # "deploy" or "tests.pull"
    title: str
    kind: str  # "step", "for_each" or "workflow"


def step_catalog(workflow: Workflow, resolver: Callable[[str], Any] | None = None,
                 prefix: tuple[str, ...] = (), title_prefix: str = "") -> dict[str, CatalogEntry]:
    """Every step of a workflow (sub-workflows expanded through ``resolver``), by key."""
    out: dict[str, CatalogEntry] = {}
    for entry in iter_entries(workflow.steps):
        if not isinstance(entry, (Step, SubWorkflow)) or not entry.id:
            continue
        key = ".".join(prefix + (entry.id,))
        title = title_prefix + (entry.name or entry.id)
        if isinstance(entry, SubWorkflow):
            out[key] = CatalogEntry(key, title, "workflow")
            if resolver is not None:
                try:
                    child, _dir = resolver(entry.workflow)
                except Exception:  # noqa: BLE001 - validation reports unknown sub-workflows
                    continue
                out.update(step_catalog(child, resolver, prefix + (entry.id,), title + " › "))
        else:
            out[key] = CatalogEntry(key, title, "for_each" if entry.for_each is not None else "step")
    return out


def owner_of(step_key: str) -> tuple[str, str]:
    """(workflow step key, role) of a Dagster step key.

    Roles: ``step``, ``element`` (one ``for_each`` element), ``items``, ``results``,
    ``condition``, ``parameters`` (of a sub-workflow), ``subworkflow_done`` (a nested
    ``workflow_outputs``), ``outputs`` (the workflow's own outputs node).
    """
    parts = step_key.split(".")
    parent, node = parts[:-1], parts[-1]

    def join(name: str) -> str:
        return ".".join(parent + [name])

    if node == OUTPUTS_NODE:
        return (".".join(parent), "subworkflow_done") if parent else ("", "outputs")
    if node.endswith("]") and "[" in node:
        return join(node[: node.index("[")]), "element"
    for suffix, role in ((CONDITION_SUFFIX, "condition"), (ITEMS_SUFFIX, "items"), (RESULTS_SUFFIX, "results"),
                         (PARAMETERS_SUFFIX, "parameters")):
        if node.endswith(suffix):
            return join(node[: -len(suffix)]), role
    return join(node), "step"


#: A step's failure message when the run stopped it (its timeout, a cancel, a termination): Dagster
#: raises ``DagsterExecutionInterruptedError`` into the step, whose text names only that class.
INTERRUPTED = "interrupted: the run was stopped"


def failure_message(event: Any) -> str:
    """The message a user should see for a STEP_FAILURE event (:data:`INTERRUPTED` for a step
    the run stopped)."""
    data = event.step_failure_data
    if data is None:
        return event.message or "failed"
    if data.user_failure_data is not None and data.user_failure_data.description:
        return data.user_failure_data.description
    if data.error is not None and data.error.cls_name == "DagsterExecutionInterruptedError":
        return INTERRUPTED
    if data.error is not None:
        return data.error.message.strip().splitlines()[-1] if data.error.message else data.error.cls_name or "error"
    return "failed"


def retry_message(event: Any) -> str:
    """``attempt 1/3 failed: ...; retrying in 2s`` for a STEP_UP_FOR_RETRY event."""
    data = event.event_specific_data
    error = getattr(data, "error", None)
    message = ""
    if error is not None:
        cause = error
        while getattr(cause, "cause", None) is not None:
            cause = cause.cause
        message = (cause.message or error.message or "").strip()
        import dagster as dg  # the run's events are Dagster's: it is loaded

        failure = f"{dg.Failure.__module__}.{dg.Failure.__qualname__}:"  # how Dagster names a raised Failure
        if message.startswith(failure):
            message = message[len(failure):].strip()
    wait = getattr(data, "seconds_to_wait", None)
    suffix = f"; retrying in {wait:g}s" if wait else "; retrying"
    return (message.splitlines()[0] if message else "attempt failed") + suffix


@dataclass
class Change:
    """What an event changed, for live progress: kind is ``started``, ``succeeded``,
    ``continued``, ``failed``, ``skipped``, ``retry``, ``waiting`` or ``handler``."""

    kind: str
    key: str
    message: str | None = None
    timestamp: float | None = None


@dataclass
class StepTracker:
    """Folds a run's Dagster events into workflow step statuses, outputs and errors.

    Args:
        catalog: the workflow's steps (:func:`step_catalog`); steps seen in events but not in
            the catalog are added as they appear.
    """

    catalog: dict[str, CatalogEntry] = field(default_factory=dict)
    statuses: dict[str, str] = field(default_factory=dict)
    started: dict[str, float] = field(default_factory=dict)
    ended_at: dict[str, float] = field(default_factory=dict)
    reasons: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    first_error: tuple[str, str] | None = None
    run_error: str | None = None
    running: set[str] = field(default_factory=set)
    waiting: dict[str, str] = field(default_factory=dict)
    handlers: list[dict] = field(default_factory=list)
    _continued: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        # without a catalog (the workflow file is gone), steps are learnt from the events
        self._open = not self.catalog

    @property
    def catalog_complete(self) -> bool:
        """Whether the catalog lists every step of the workflow (False: it was not given, the
        steps are learnt from the events as they appear)."""
        return not self._open

    def _known(self, key: str) -> bool:
        if key in self.catalog:
            return True
        if key and self._open:
            self.catalog[key] = CatalogEntry(key, key, "step")
            return True
        return False

    def _end(self, key: str, status: str, message: str | None, at: float | None) -> Change | None:
        if not self._known(key) or key in self.statuses:
            return None
        if status == "succeeded" and key in self._continued:
            status = "continued"
            message = self.reasons.get(key)
        self.statuses[key] = status
        self.running.discard(key)
        self.waiting.pop(key, None)
        if at is not None:
            self.ended_at[key] = at
        return Change(status, key, message, at)

    def feed(self, event: Any, timestamp: float | None = None) -> list[Change]:
        """Account for one DagsterEvent; returns what changed."""
        etype = event.event_type_value
        step_key = event.step_key
        if step_key is None:
            # Dagster stores a run's failure under its legacy name PIPELINE_FAILURE
            if etype in ("RUN_FAILURE", "PIPELINE_FAILURE") and event.message and self.run_error is None:
                self.run_error = event.message
                error = getattr(event.event_specific_data, "error", None)
                reason = error.message.strip().splitlines()[-1] if error is not None and error.message.strip() else ""
                reason = re.sub(r"^(?:[A-Za-z_]\w*\.)+[A-Za-z_]\w*: ", "", reason)  # "package.module.SomeError: "
                if reason and self.first_error is not None and self.first_error[1] == INTERRUPTED:
                    # the step was stopped for the run's reason ("the run exceeded its timeout of 2s")
                    self.first_error = (self.first_error[0], f"interrupted: {reason}")
            return []
        key, role = owner_of(step_key)
        if role == "outputs":
            if etype == "STEP_OUTPUT":
                meta = event.event_specific_data.metadata.get("outputs")
                if meta is not None:
                    self.outputs = dict(meta.value)
            elif etype == "STEP_FAILURE" and self.first_error is None:
                self.first_error = (OUTPUTS_NODE, failure_message(event))
            return []
        if etype == "ENGINE_EVENT":
            return self._engine_event(event, key, timestamp)
        if role == "condition":
            if etype == "STEP_OUTPUT" and event.event_specific_data.step_output_handle.output_name == "skipped":
                reason = event.event_specific_data.metadata.get("reason")
                self.reasons[key] = getattr(reason, "value", None) or ""
            elif etype == "STEP_FAILURE":
                message = failure_message(event)
                self.first_error = self.first_error or (key, message)
                change = self._end(key, "failed", message, timestamp)
                return [change] if change else []
            return []
        if etype == "STEP_START":
            if key not in self.started and self._known(key):
                self.started[key] = timestamp or 0.0
                self.running.add(key)
                return [Change("started", key, None, timestamp)]
            return []
        if etype == "STEP_UP_FOR_RETRY":
            return [Change("retry", key, retry_message(event), timestamp)] if self._known(key) else []
        if etype == "STEP_OUTPUT" and role in ("step", "results"):
            meta = event.event_specific_data.metadata
            status = getattr(meta.get("status"), "value", "succeeded")
            if status in ("continued", "fallback"):
                self._continued.add(key)
                err = meta.get("error")
                self.reasons[key] = getattr(err, "value", "") if err is not None else ""
            return []
        changes: list[Change] = []
        if etype == "STEP_FAILURE":
            message = failure_message(event)
            if self.first_error is None:
                self.first_error = (key, message)
            for target in _self_and_parents(key):
                change = self._end(target, "failed", message, timestamp)
                if change:
                    changes.append(change)
        elif etype == "STEP_SKIPPED" and role in ("step", "items", "parameters"):
            change = self._end(key, "skipped", self.reasons.get(key), timestamp)
            if change:
                changes.append(change)
        elif etype == "STEP_SUCCESS" and role in ("step", "results", "subworkflow_done"):
            change = self._end(key, "succeeded", None, timestamp)
            if change:
                changes.append(change)
        return changes

    def _engine_event(self, event: Any, key: str, timestamp: float | None) -> list[Change]:
        meta = getattr(event.engine_event_data, "metadata", None) or {}
        values = {k: getattr(v, "value", v) for k, v in meta.items()}
        if values.get(APPROVAL_MARKER) == "waiting":
            self.waiting[key] = str(values.get("message", ""))
            return [Change("waiting", key, event.message, timestamp)]
        if values.get(APPROVAL_MARKER) == "resolved":
            self.waiting.pop(key, None)
            return []
        if values.get(FAILURE_MARKER) in ("compensate", "on_failure", "fallback"):
            self.handlers.append({"kind": values.get(FAILURE_MARKER), "step": values.get("step"),
                                  "status": values.get("status"), "error": values.get("error") or None,
                                  "output": values.get("output") or None})
            return [Change("handler", key, event.message, timestamp)]
        return []

    def step_statuses(self, live: bool = False) -> dict[str, str]:
        """Every catalog step's status: one of :data:`ENDED` once it ended, else ``not_run``.

        Args:
            live: the run is still in progress: a step that has not ended is ``waiting`` while
                its approval gate waits for a decision, ``running`` once it (or, for a
                sub-workflow step, one of its steps) started, and ``not_run`` only before that
                (the one source of these states for the text and JSON views of ``yaml2dag
                status``). Without ``live`` (a finished run) a step that never ended is
                ``not_run``.
        """
        started_parents = {parent for key in self.started for parent in _self_and_parents(key)[1:]}
        out = {}
        for key in self.catalog:
            state = self.statuses.get(key)
            if state is None:
                if live and key in self.waiting:
                    state = "waiting"
                elif live and (key in self.running or key in started_parents):
                    state = "running"
                else:
                    state = "not_run"
            out[key] = state
        return out


def _self_and_parents(key: str) -> list[str]:
    out = [key]
    while "." in key:
        key = key.rsplit(".", 1)[0]
        out.append(key)
    return out
