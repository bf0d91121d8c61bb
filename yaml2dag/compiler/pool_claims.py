"""Pool slot claims that hold between processes on SQLite storage.

A step's ``pool`` is a Dagster concurrency pool: before the step starts, the executor of its run
claims a slot of the pool from the instance's event log storage
(``InstanceConcurrencyContext.claim``). Dagster's SQL storage makes that claim in several
statements (is a slot unassigned? queue the step, assigned or not; take a free slot row) and
relies on row locks (``SELECT ... FOR UPDATE SKIP LOCKED``) to keep two claims apart. SQLite has
no row locks: two runs in two processes (two ``dagster job execute``, two ``yaml2dag run``, the
UI and a CLI run) that claim a pool of 1 at the same moment can both be assigned the one slot, and
both steps run.

:class:`PoolClaims` is Dagster's ``InstanceConcurrencyContext`` with one change: when the
instance's event log storage is one of Dagster's SQLite storages, each claim and each release
runs while holding an exclusive file lock, ``<instance root directory>/.yaml2dag-pools.lock``
(``filelock``), so claims of all processes on one Dagster home happen one after the other. On
PostgreSQL (and other storages) nothing changes: the database's row locks already serialise
claims. yaml2dag's executors (threads, Celery) build their pool context with it.
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from typing import Any

from filelock import FileLock

from yaml2dag import dagster_internals
from yaml2dag.dagster_internals import InstanceConcurrencyContext

#: The lock file, in the instance's root directory (the Dagster home of a SQLite instance).
LOCK_FILE = ".yaml2dag-pools.lock"


def claims_lock(instance: Any) -> FileLock | None:
    """The file lock serialising the pool claims of ``instance`` (a ``DagsterInstance``), or
    ``None`` when its event log storage has row locks of its own (not SQLite)."""
    storage = instance.event_log_storage
    sqlite = (dagster_internals.SqliteEventLogStorage, dagster_internals.ConsolidatedSqliteEventLogStorage)  # loaded on first use
    if not isinstance(storage, sqlite):
        return None
    return FileLock(os.path.join(instance.root_directory, LOCK_FILE))


class PoolClaims(InstanceConcurrencyContext):
    """Dagster's instance concurrency context, its claims and releases serialised between
    processes on SQLite storage (see the module docstring). Same arguments and results as
    ``InstanceConcurrencyContext(instance, dagster_run)``."""

    def __init__(self, instance: Any, dagster_run: Any):
        super().__init__(instance, dagster_run)
        self._lock = claims_lock(instance)

    def _serialised(self):
        return self._lock if self._lock is not None else nullcontext()

    def claim(self, concurrency_key: str, step_key: str, step_priority: int = 0) -> bool:
        """Claim a slot of pool ``concurrency_key`` for ``step_key``; ``True`` when claimed."""
        with self._serialised():
            return super().claim(concurrency_key, step_key, step_priority)

    def free_step(self, step_key: str) -> None:
        """Release the slot ``step_key`` holds, if any."""
        with self._serialised():
            super().free_step(step_key)
