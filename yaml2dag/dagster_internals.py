"""Every name yaml2dag takes from Dagster's private modules, in one place.

Dagster's public API (``import dagster``, Dagster 1.13) has no equivalent for the names below;
each comes with the reason. Everything else yaml2dag uses from Dagster is public
(``dagster.DagsterEventType``, ``dagster.build_reconstructable_job``,
``dagster.QueuedRunCoordinator``, ``dagster.RunStatusChangeRecordsFilter``...). A Dagster upgrade
that moves or changes one of these names breaks this module and its contract test
(``tests/unit/test_dagster_internals.py``), nothing else.

Rules: this module imports Dagster and no yaml2dag module; it is imported by
``yaml2dag.compiler`` and ``yaml2dag.runs`` only, from code that already runs Dagster (never from
``validate``, ``list``, ``show`` or ``schema``). Names whose Dagster module takes long to import
(the SQL schema of the run storage: about 0.7 s; the gRPC types: about 0.17 s) are
imported on first use (PEP 562 ``__getattr__``), so importing this module costs no more than
``import dagster``.
"""

from __future__ import annotations

from typing import Any

# --- events and engine events ---------------------------------------------------------------
# Metadata of an engine event (``DagsterInstance.report_engine_event`` takes one; the public API
# has no other way to write an event into a run's event log from outside a step).
from dagster._core.events import EngineEventData

# The data of a RUN_FAILURE event with its reason (``reap_run`` fails a run whose yaml2dag
# process died, as Dagster's run monitoring does); Dagster only builds them internally.
from dagster._core.events import JobFailureData, RunFailureReason

# Data of STEP_FAILURE / STEP_UP_FOR_RETRY events, which the Celery executor builds for a step
# whose worker died (Dagster builds them only inside its own executors).
from dagster._core.execution.plan.objects import StepFailureData, StepRetryData

# --- repositories -----------------------------------------------------------------------------
# The data of a repository whose jobs are built lazily (callables, by name) AND which holds asset
# definitions: ``@repository`` returning a dict takes only jobs, schedules and sensors
# (``VALID_REPOSITORY_DATA_DICT_KEYS``), and ``Definitions`` takes no lazy jobs
# (yaml2dag.compiler.assets.lazy_repository).
from dagster._core.definitions.repository_definition.repository_data import CachingRepositoryData

# --- errors -----------------------------------------------------------------------------------
# A serialisable error (``EvaluationError.error_data``) and the function building one from
# ``sys.exc_info()``; defined in ``dagster_shared.error``, not exported by ``dagster``.
from dagster._utils.error import SerializableErrorInfo, serializable_error_info_from_exc_info

# --- config errors ----------------------------------------------------------------------------
# The parts of ``dagster.DagsterInvalidConfigError`` (public) that say which config field is
# wrong: its constructor takes a list of ``EvaluationError``, which only exists internally.
from dagster._config.errors import DagsterEvaluationErrorReason, EvaluationError
from dagster._config.stack import EvaluationStackRoot

# Checks a value against a config type (the Celery executor's config in a settings file);
# publicly only a whole job's run config can be validated (``dagster.validate_run_config``).
from dagster._config import validate_config

# --- executors (yaml2dag.compiler.executor, yaml2dag.compiler.celery) ---------------------------
# ``dagster.Executor`` is public, but ``Executor.execute`` receives and must drive Dagster's
# plan machinery, none of which is public: the orchestration/execution contexts, the plan, the
# retry mode, instance concurrency (pools), the per-step event sequence and hooks.
from dagster._core.execution.api import ExecuteRunWithPlanIterable
from dagster._core.execution.compute_logs import create_compute_log_file_key
from dagster._core.execution.context.system import PlanExecutionContext, PlanOrchestrationContext
from dagster._core.execution.context_creation_job import PlanExecutionContextManager
from dagster._core.execution.plan.execute_plan import _trigger_hook as trigger_hook
from dagster._core.execution.plan.execute_plan import dagster_event_sequence_for_step
from dagster._core.execution.plan.instance_concurrency_context import InstanceConcurrencyContext

from dagster._core.execution.plan.plan import ExecutionPlan
from dagster._core.execution.retries import RetryMode

# The class of ``dagster.multiprocess_executor``'s executor (the public name is the executor
# definition only); the time limit treats it differently from the in-process one.
from dagster._core.executor.multiprocess import MultiprocessExecutor

# Executing a stored run in this process, with its events as they happen (``yaml2dag run``):
# ``dagster.execute_job`` creates a new run and returns only at the end.
from dagster._core.execution.api import execute_run_iterator

# Executing one step of a stored run on a Celery worker, as ``dagster-celery`` does: a plan for
# some steps of a reconstructable job, and its execution; not public.
from dagster._core.execution.api import create_execution_plan, execute_plan_iterator

# The type behind ``dagster.reconstructable`` (its ``from_dict`` rebuilds the job a Celery task
# received); ``dagster.build_reconstructable_job`` only builds one.
from dagster._core.definitions.reconstruct import ReconstructableJob

# The packing of serdes values into plain dicts for Celery's JSON (``dagster.serialize_value``
# and ``dagster.deserialize_value`` are public; packing into a dict is not).
from dagster._serdes import pack_value, unpack_value

# A position in the event log as the string ``get_records_for_run(cursor=...)`` takes, from a
# record's storage id; the public records API hands out cursors only after a read.
from dagster._core.event_api import EventLogCursor

# --- graphs -----------------------------------------------------------------------------------
# The dependency of an op on every element of a dynamic output (``.collect()`` in ``@graph``
# code); a ``GraphDefinition`` built from data, as the compiler builds it, needs the class.
from dagster._core.definitions.dependency import DynamicCollectDependencyDefinition

# --- IO manager -------------------------------------------------------------------------------
# The class behind ``dagster.fs_io_manager``; subclassed so outputs keep Dagster's own file
# layout and loading while outputs holding a secret are refused.
from dagster._core.storage.fs_io_manager import PickledObjectFilesystemIOManager

# --- run launcher -----------------------------------------------------------------------------
# The answer of ``RunLauncher.check_run_worker_health`` (``dagster.DefaultRunLauncher`` is
# public, the result type of the method it lets subclasses override is not).
from dagster._core.launcher import CheckRunHealthResult, WorkerStatus

# --- interrupts (the executors' termination handling) ------------------------------------------
# Dagster's SIGINT/SIGTERM handling under ``capture_interrupts``: a flag its executors check at
# their checkpoints. The time limit of a run sets it as Dagster's signal handler would and pops
# it afterwards; no public API exists.
from dagster._utils import interrupts as _interrupts
from dagster._utils.interrupts import pop_captured_interrupt
import importlib


def flag_interrupt() -> None:
    """Flag an interrupt exactly as Dagster's signal handler does under ``capture_interrupts``.

    Dagster's executors check the flag at their checkpoints (the multiprocess executor forwards
    it to its step processes; in-process steps raise ``DagsterExecutionInterruptedError`` at
    their next user-code boundary). Undo with :func:`pop_captured_interrupt`.
    """
    _interrupts._received_interrupt["received"] = True  # noqa: SLF001 - Dagster's own flag


# --- imported on first use (slow Dagster modules) ---------------------------------------------
_LAZY = {
    # The arguments of a step execution sent to a worker, as ``dagster-celery`` sends them
    # (Dagster's gRPC API types; importing them loads the gRPC package, about 0.17 s).
    "ExecuteStepArgs": ("dagster._grpc.types", "ExecuteStepArgs"),
    # The key-value table of the run storage: Dagster's run storage can set and read keys
    # (``set_cursor_values``/``get_cursor_values``) but not delete them.
    "KeyValueStoreTable": ("dagster._core.storage.runs.schema", "KeyValueStoreTable"),
    # The classes of Dagster's SQLite event log storages (the default one, and the consolidated
    # one): their pool slot claims take no row lock, so two processes can claim one slot at once
    # (yaml2dag.compiler.pool_claims serialises them); the public API names no storage class.
    # Their module loads SQLAlchemy and Alembic (about 0.23 s): asked for only when an instance
    # (which has loaded them already) claims a pool slot.
    "SqliteEventLogStorage": ("dagster._core.storage.event_log", "SqliteEventLogStorage"),
    "ConsolidatedSqliteEventLogStorage": ("dagster._core.storage.event_log", "ConsolidatedSqliteEventLogStorage"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "CachingRepositoryData",
    "CheckRunHealthResult",
    "ConsolidatedSqliteEventLogStorage",
    "DagsterEvaluationErrorReason",
    "DynamicCollectDependencyDefinition",
    "EngineEventData",
    "EvaluationError",
    "EvaluationStackRoot",
    "EventLogCursor",
    "ExecuteRunWithPlanIterable",
    "ExecuteStepArgs",
    "ExecutionPlan",
    "InstanceConcurrencyContext",
    "JobFailureData",
    "KeyValueStoreTable",
    "MultiprocessExecutor",
    "PickledObjectFilesystemIOManager",
    "PlanExecutionContext",
    "PlanExecutionContextManager",
    "PlanOrchestrationContext",
    "ReconstructableJob",
    "RetryMode",
    "RunFailureReason",
    "SerializableErrorInfo",
    "SqliteEventLogStorage",
    "StepFailureData",
    "StepRetryData",
    "WorkerStatus",
    "create_compute_log_file_key",
    "create_execution_plan",
    "dagster_event_sequence_for_step",
    "execute_plan_iterator",
    "execute_run_iterator",
    "flag_interrupt",
    "pack_value",
    "pop_captured_interrupt",
    "serializable_error_info_from_exc_info",
    "trigger_hook",
    "unpack_value",
    "validate_config",
]
