"""Run history: reading runs back from Dagster's run storage — ``status``, ``history``,
``events``, ``logs``, ``audit``, ``stats`` — and acting on runs: ``retry``, ``cancel`` and ``prune``.

Dagster's run storage is the history: nothing is kept beside it. One module per concern:

- :mod:`yaml2dag.runs.history.common`: errors, run tags, finding a run by id or prefix;
- :mod:`yaml2dag.runs.history.status`: the status of one run (``status``, rows of ``history``);
- :mod:`yaml2dag.runs.history.queries`: which runs, by workflow, status and age (``history``, the
  newest run of each job);
- :mod:`yaml2dag.runs.history.events`: a run's event log, filtered and paged (``events``);
- :mod:`yaml2dag.runs.history.logs`: the captured output of a run's steps (``logs``);
- :mod:`yaml2dag.runs.history.audit`: the audit record of a run, JSON or CSV (``audit``);
- :mod:`yaml2dag.runs.history.audit_html`: the audit record as a self-contained HTML report
  (``audit --format html``);
- :mod:`yaml2dag.runs.history.stats`: success rates and durations (``stats``);
- :mod:`yaml2dag.runs.history.actions`: ``cancel`` and ``retry``;
- :mod:`yaml2dag.runs.history.prune`: deleting old finished runs with their files (``prune``);
- :mod:`yaml2dag.runs.history.fast_path`: reading run storage without importing Dagster (``list``).

Dagster is imported inside the functions, so importing this package stays cheap (``list`` uses
:func:`~yaml2dag.runs.history.fast_path.last_runs_sqlite`). The names below are re-exported for
callers that import them from ``yaml2dag.runs.history``.
"""

from __future__ import annotations

from yaml2dag.runs.history.common import (
    CANCEL_MARKER,
    MIN_RUN_PREFIX,
    TAG_RETRY_MODE,
    TAG_RETRY_OF,
    TAG_USER,
    RunNotFoundError,
    RunStateError,
    find_run,
)
from yaml2dag.runs.history.status import STATUS_MAP, run_status, run_summary, trigger_of
from yaml2dag.runs.history.queries import STATUS_FILTERS, last_runs, list_runs, parse_since, resolve_job
from yaml2dag.runs.history.events import event_type_names, run_events
from yaml2dag.runs.history.logs import run_logs
from yaml2dag.runs.history.audit import AUDIT_CSV_COLUMNS, SECRET_NAME, audit_csv, mask_parameters, run_audit
from yaml2dag.runs.history.stats import run_stats
from yaml2dag.runs.history.actions import cancel_run, retry_run
from yaml2dag.runs.history.fast_path import has_run_storage, last_runs_sqlite

__all__ = [
    "AUDIT_CSV_COLUMNS",
    "CANCEL_MARKER",
    "MIN_RUN_PREFIX",
    "RunNotFoundError",
    "RunStateError",
    "SECRET_NAME",
    "STATUS_FILTERS",
    "STATUS_MAP",
    "TAG_RETRY_MODE",
    "TAG_RETRY_OF",
    "TAG_USER",
    "audit_csv",
    "cancel_run",
    "event_type_names",
    "find_run",
    "has_run_storage",
    "last_runs",
    "last_runs_sqlite",
    "list_runs",
    "mask_parameters",
    "parse_since",
    "resolve_job",
    "retry_run",
    "run_audit",
    "run_events",
    "run_logs",
    "run_stats",
    "run_status",
    "run_summary",
    "trigger_of",
]
