"""Which executor runs the steps of a workflow: the file's ``executor.type``, else the
folder-wide default (Dagster-free; the executors themselves are in :mod:`yaml2dag.compiler`).

A workflow file that sets ``executor: {type: ...}`` always gets that executor. One that does
not gets the default of the process that builds its job: ``$YAML2DAG_EXECUTOR`` (one of
:data:`yaml2dag.format.model.EXECUTOR_TYPES`), else ``threads``. Set it the same way wherever the
folder's jobs are built (``yaml2dag run``, the code server, Celery workers), as with
``YAML2DAG_DEFINITIONS``; the Celery executor passes it on to its workers with each step.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

from yaml2dag.format.errors import Yaml2DagError
from yaml2dag.format.model import EXECUTOR_TYPES, Workflow

#: Environment variable holding the folder-wide default executor type.
EXECUTOR_ENV = "YAML2DAG_EXECUTOR"
#: Executor of a workflow that sets none, when ``$YAML2DAG_EXECUTOR`` is unset or empty.
DEFAULT_EXECUTOR = "threads"


class ExecutorSettingError(Yaml2DagError):
    """An executor setting of the environment has a value that is not allowed."""


def default_executor_type(environ: Mapping[str, str] | None = None) -> str:
    """The folder-wide default executor type.

    Args:
        environ: the environment to read (default ``os.environ``).

    Returns:
        ``$YAML2DAG_EXECUTOR`` (surrounding blanks ignored), or ``threads`` when unset or empty.

    Raises:
        ExecutorSettingError: the variable holds something else than one of
            :data:`yaml2dag.format.model.EXECUTOR_TYPES`; the message names the variable and the values
            it accepts.
    """
    env = os.environ if environ is None else environ
    value = (env.get(EXECUTOR_ENV) or "").strip()
    if not value:
        return DEFAULT_EXECUTOR
    if value not in EXECUTOR_TYPES:
        raise ExecutorSettingError(
            f"{EXECUTOR_ENV}: expected one of {', '.join(EXECUTOR_TYPES)}, got {value!r}")
    return value


def executor_type(workflow: Workflow, environ: Mapping[str, str] | None = None) -> str:
    """The executor type the steps of ``workflow`` run on: its ``executor.type`` when the file
    sets one, else :func:`default_executor_type` (same arguments and errors)."""
    if workflow.executor.explicit:
        return workflow.executor.type
    return default_executor_type(environ)


__all__ = ["DEFAULT_EXECUTOR", "EXECUTOR_ENV", "ExecutorSettingError", "default_executor_type", "executor_type"]
