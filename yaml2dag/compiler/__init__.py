"""The compiler: validated workflow model → Dagster definitions.

* :func:`compile_workflow` — one workflow → one :class:`dagster.JobDefinition`
  (:mod:`.job`, ops in :mod:`.ops`, run config in :mod:`.config`, the thread-pool executor in
  :mod:`.executor`);
* :func:`job_from_file` / :func:`reconstructable_job` — how a job is rebuilt in another
  process (Dagster's multiprocess executor, ``yaml2dag run``);

Importing the package does not import Dagster (its Dagster-free modules, such as
:mod:`.run_health`, serve ``yaml2dag list``); :func:`compile_workflow` is loaded on first use.
* :func:`yaml2dag.location.build_definitions` (above the compiler: it also builds triggers and reads the library) — a whole folder as a code location.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from yaml2dag.format.definitions_folder import library_root
from yaml2dag.format.errors import WorkflowInvalidError
from yaml2dag.format.validation import validate_file

_cache: dict[tuple, object] = {}
_lock = threading.Lock()


def job_from_file(path: str, root: str | None = None, version: str | None = None, mode: str | None = None):
    """Validate and compile one workflow file (cached per path, size and mtime in a process).

    This is the function Dagster calls to rebuild a job in another process (see
    :func:`reconstructable_job`).

    Args:
        path: the workflow file.
        root: the definitions folder its sub-workflows are found in (default: the folder that
            contains the file).
        version: ignored here; :func:`reconstructable_job` passes the file's size and mtime so
            that Dagster's per-process cache of rebuilt jobs (``ReconstructableJob.get_definition``
            is an ``lru_cache`` keyed by these arguments) never hands back the job of an older
            version of the same file.
        mode: ``supervised`` builds the job of a supervised run (every step asks first,
            :mod:`yaml2dag.format.run_modes`); anything else the usual job.

    Raises:
        WorkflowInvalidError: the file does not validate.
    """
    # lazy: Dagster; the package's Dagster-free modules (run_health, approval_gate, runtime) are
    # imported by `list`, which must not import Dagster
    from yaml2dag.compiler.job import compile_workflow, folder_resolver

    resolved = str(Path(path).resolve())
    stat = os.stat(resolved)
    supervised = mode == "supervised"
    key = (resolved, stat.st_size, stat.st_mtime_ns, root, supervised)
    with _lock:
        if key in _cache:
            return _cache[key]
    report = validate_file(resolved)
    if not report.valid:
        raise WorkflowInvalidError(resolved, report.errors)
    job = compile_workflow(report.validated(), resolver=folder_resolver(root or str(Path(resolved).parent)),
                           supervised=supervised)
    with _lock:
        _cache[key] = job
    return job


def reconstructable_job(path: str, root: str | None = None, mode: str | None = None):
    """A :class:`dagster.ReconstructableJob` for a workflow file (for ``execute_job`` and
    the multiprocess executor); ``root`` and ``mode`` as in :func:`job_from_file`."""
    from dagster import build_reconstructable_job  # lazy: keeps Dagster out of `list` (see job_from_file)

    base = str(library_root(root or Path(path).resolve().parent))
    resolved = str(Path(path).resolve())
    stat = os.stat(resolved)
    return build_reconstructable_job(
        "yaml2dag.compiler", "job_from_file",
        reconstructable_args=(resolved, base, f"{stat.st_size}:{stat.st_mtime_ns}")
        + (("supervised",) if mode == "supervised" else ()),
    )



def __getattr__(name: str):
    """``compile_workflow`` (:func:`yaml2dag.compiler.job.compile_workflow`), imported on first use."""
    if name == "compile_workflow":
        from yaml2dag.compiler.job import compile_workflow  # lazy: Dagster (see job_from_file)

        return compile_workflow
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["compile_workflow", "job_from_file", "reconstructable_job"]
