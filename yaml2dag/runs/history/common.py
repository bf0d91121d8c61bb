"""What every history concern shares: its errors, the run tags yaml2dag sets, finding a run by id
or id prefix, event metadata and timestamps.
"""

from __future__ import annotations

import datetime as _dt
import re as _re
from typing import Any

from yaml2dag.format.errors import Yaml2DagError
from yaml2dag.format.tags import (  # noqa: F401 - read by the history modules
    CANCEL_MARKER, TAG_CLI_HOST, TAG_CLI_PID, TAG_HASH, TAG_RETRY_MODE, TAG_RETRY_OF, TAG_ROLLBACK, TAG_TRIGGER_INFO,
    TAG_USER,
    TAG_VERSION, TAG_WORKFLOW,
)
from yaml2dag.runs.tracking import owner_of


class RunNotFoundError(Yaml2DagError):
    """No run with that id in the instance."""


def rollback_of(tags: Any) -> str | None:
    """The outcome of a run's rollback from its run tags: ``"rolled back"`` (every ``compensate``
    succeeded), ``"rollback failed"``, or None when no compensation ran (tag
    :data:`~yaml2dag.format.tags.TAG_ROLLBACK`, set by :func:`yaml2dag.compiler.failure.handle_failure`)."""
    return (tags or {}).get(TAG_ROLLBACK) or None


def shown_status(status: str, rollback: str | None, canceling: bool = False) -> str:
    """A run's status as the text views show it: ``failed (rolled back)``,
    ``failed (rollback failed)``, ``running (canceling)`` or the status alone."""
    if rollback:
        return f"{status} ({rollback})"
    return status + (" (canceling)" if canceling else "")


def _iso(stamp: float | None) -> str | None:
    if not stamp:
        return None
    return _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc).isoformat(timespec="seconds")




class RunStateError(Yaml2DagError):
    """The run is not in a state that allows the operation (retry of a running run, cancel of a
    finished one, a retry whose workflow file changed...)."""


#: The shortest run id prefix accepted for a run (the tables show the first 8 characters).
MIN_RUN_PREFIX = 6


def find_run(instance: Any, run_id: str) -> Any:
    """The run with id ``run_id``, or the only run whose id starts with it (a prefix of at
    least :data:`MIN_RUN_PREFIX` characters, such as the 8-character ids the tables show).

    Raises:
        RunNotFoundError: no such run, or a prefix that several runs share.
    """
    run = instance.get_run_by_id(run_id)
    if run is not None:
        return run
    prefix = str(run_id).strip().lower()
    if _re.fullmatch(r"[0-9a-f-]+", prefix) and MIN_RUN_PREFIX <= len(prefix) < 36:
        matches = [rid for rid in instance.get_run_ids() if rid.startswith(prefix)]
        if len(matches) > 1:
            raise RunNotFoundError(f"{len(matches)} runs have ids starting with {run_id!r} "
                                   f"({', '.join(sorted(matches)[:5])}{'...' if len(matches) > 5 else ''}); "
                                   "give more characters")
        if matches:
            run = instance.get_run_by_id(matches[0])
            if run is not None:
                return run
    raise RunNotFoundError(f"no run with id {run_id!r} in the Dagster instance at {instance.root_directory}")


_get_run = find_run


def _meta_values(event: Any) -> dict:
    data = getattr(event, "event_specific_data", None)
    meta = getattr(data, "metadata", None) or {}
    try:
        return {k: getattr(v, "value", v) for k, v in meta.items()}
    except AttributeError:
        return {}


def _step_matches(row_step_key: str | None, wanted: str) -> bool:
    if not row_step_key:
        return False
    owner = owner_of(row_step_key)[0]
    return wanted in (row_step_key, owner) or owner.startswith(wanted + ".")
