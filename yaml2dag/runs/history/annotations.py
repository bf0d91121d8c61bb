"""Annotations of a run (``yaml2dag annotate``; issue 15, point 4): who said what about a run, and
when, kept in the run's own event log.

An annotation is an engine event of the run with metadata key
:data:`~yaml2dag.format.tags.ANNOTATION_MARKER` (``text``, ``by``, ``at``), written through the
Dagster instance like the decisions of approval gates and the reasons of cancellations: no side
table, any machine that reaches the instance can add one, and the Dagster UI shows it in the
run's event log. ``status``, ``events`` and ``audit`` read it back (:func:`annotations_in`).
"""

from __future__ import annotations

import datetime as _dt
from typing import Any

from yaml2dag.format.masking import registered
from yaml2dag.format.secrets import SecretStore, mask
from yaml2dag.format.tags import ANNOTATION_MARKER
from yaml2dag.runs.history.common import TAG_WORKFLOW, _get_run, _meta_values
from yaml2dag.runs.users import default_user

#: The marker's value on an annotation event.
NOTE = "note"
#: The longest annotation text accepted (characters).
MAX_ANNOTATION_LENGTH = 10_000


def _run_secrets(run: Any, library: Any) -> tuple[str, ...]:
    """Secret values known for ``run``: those the process registered for it and the current values
    (this process's environment) of every secret its workflow uses, when the library has it."""
    found = set(registered(run.run_id))
    if library is not None:
        try:
            workflow = library.find(run.tags.get(TAG_WORKFLOW) or run.job_name).workflow
        except Exception:  # noqa: BLE001 - the file may be gone; the run is still annotated
            workflow = None
        if workflow is not None:
            found.update(SecretStore(workflow).values())
    return tuple(sorted(found, key=len, reverse=True))


def annotate_run(instance: Any, run_id: str, text: str, *, by: str | None = None, library: Any = None) -> dict:
    """Record an annotation in the event log of a run (running or finished).

    Args:
        instance: the Dagster instance of the run.
        run_id: the run id or a unique prefix of it (at least 6 characters).
        text: what is said (at most :data:`MAX_ANNOTATION_LENGTH` characters); the values of the
            run's secrets in it (and in ``by``) are masked as ``***`` before it is stored.
        by: who says it (default: :func:`~yaml2dag.runs.users.default_user`).
        library: the workflow library, to know the secrets of the run's workflow (None: only the
            secrets registered in this process for the run).

    Returns:
        ``{"run_id", "text", "by", "at"}`` as stored (``at``: ISO-8601 UTC, seconds).

    Raises:
        RunNotFoundError: no such run.
        ValueError: empty or too long text.
    """
    if not text or not text.strip():
        raise ValueError("expected the text of the annotation, not an empty string")
    if len(text) > MAX_ANNOTATION_LENGTH:
        raise ValueError(f"expected at most {MAX_ANNOTATION_LENGTH} characters, not {len(text)}")
    run = _get_run(instance, run_id)
    secrets = _run_secrets(run, library)
    text = mask(text.strip(), secrets)
    who = mask(by or default_user(), secrets)
    at = _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.runs.approvals import _report

    _report(instance, run, f"annotation by {who}: {text}", None,
            {ANNOTATION_MARKER: NOTE, "text": text, "by": who, "at": at})
    return {"run_id": run.run_id, "text": text, "by": who, "at": at}


def annotation_of(event: Any) -> dict | None:
    """``{"text", "by", "at"}`` of an annotation event (a ``DagsterEvent``), else None."""
    if event is None or event.event_type_value != "ENGINE_EVENT":
        return None
    values = _meta_values(event)
    if values.get(ANNOTATION_MARKER) != NOTE:
        return None
    return {"text": values.get("text"), "by": values.get("by"), "at": values.get("at")}


def annotations_in(records: Any) -> list[dict]:
    """The annotations an iterable of event log entries holds, oldest first: ``{"text", "by",
    "at"}`` each (``at``: ISO-8601 UTC)."""
    out = []
    for rec in records:
        found = annotation_of(rec.dagster_event)
        if found is not None:
            out.append(found)
    return out
