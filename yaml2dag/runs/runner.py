"""Running a workflow through a real Dagster instance, with live progress (``yaml2dag run``).

Every run lands in Dagster's run storage (``$DAGSTER_HOME``, else ``./dagster_home``), so it
shows in the Dagster UI next to runs launched there, by schedules and sensors or by
``dagster job execute``. Events are consumed as Dagster produces them
(``execute_run_iterator``) and turned into :class:`StepProgress` callbacks.

Before anything runs: parameters are checked, secrets must be set in the environment, and the
workflow's ``concurrency`` limit is honoured (wait for a slot, or fail with ``wait=False``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from yaml2dag.deploy import ensure_dagster_yaml
from yaml2dag.format.errors import ParameterError, Yaml2DagError
from yaml2dag.format.model import Workflow
from yaml2dag.format.parameters import resolve
from yaml2dag.format.run_modes import DEFAULT_MODE, TAG_MODE, check_mode
from yaml2dag.compiler.run_health import TAG_CLI_HOST, TAG_CLI_PID, TAG_CLI_STARTED  # noqa: F401 - re-exported: the run's process
from yaml2dag.format import masking as _masking
from yaml2dag.format.secrets import SecretStore, mask
from yaml2dag.format.tags import TAG_USER
from yaml2dag.runs.tracking import StepTracker, step_catalog
from yaml2dag.runs.progress import Estimates, Progress, estimate
from yaml2dag.runs.signals import signal_handlers_kept
from yaml2dag.format.validated import ValidatedWorkflow, require_validated
from yaml2dag.compiler import reconstructable_job, runtime as _runtime
from yaml2dag.compiler.run_health import DeadRunWatch, cli_tags, reap_dead_runs
from yaml2dag.format.executors import executor_type
from yaml2dag.runs import storage
from yaml2dag.runs.storage import is_storage_exception

DEFAULT_HOME = "dagster_home"

#: Who started the run from the CLI (``$YAML2DAG_USER``, else the login name); read by audits.
TAG_CLI_USER = TAG_USER


class ConcurrencyLimitError(Yaml2DagError):
    """The workflow's ``concurrency`` limit is reached and the caller chose not to wait."""


@dataclass(frozen=True)
class StepProgress:
    """One thing that happened to a step, for live progress.

    Attributes:
        kind: ``started``, ``succeeded``, ``continued``, ``failed``, ``skipped``, ``retry``,
            ``waiting`` (an approval gate or a concurrency slot) or ``handler`` (a compensation
            or ``on_failure`` step ran).
        step_id: the step (``sub.step`` inside a sub-workflow).
        title: its name (or id).
        index: how many steps have ended, this one included (0 for started/retry/waiting).
        total: how many steps the workflow has.
        duration: seconds the step took (ended kinds), else None.
        message: the error, skip reason, retry reason or what it waits for.
        progress: how far the run is once this happened (percent and time left, from the
            ``estimates_of`` given to :func:`run_workflow`); None while waiting for a concurrency slot.
    """

    kind: str
    step_id: str
    title: str
    index: int
    total: int
    duration: float | None = None
    message: str | None = None
    progress: Progress | None = None


@dataclass
class RunResult:
    """The outcome of a run (the JSON that ``yaml2dag run --format json`` prints).

    Attributes:
        run_id: the Dagster run id.
        workflow: the workflow's name.
        job: its Dagster job name.
        status: ``SUCCESS``, ``FAILURE`` or ``CANCELED``.
        steps: each step's end: one of :data:`yaml2dag.runs.tracking.STEP_STATUSES` (``sub.step`` for the steps of a
            sub-workflow).
        outputs: the workflow outputs, as JSON-compatible values.
        duration_s: wall time of the run, seconds.
        error: the first failure message, if the run failed.
        failed_step: the step that failed first, if any.
    """

    run_id: str
    workflow: str
    job: str
    status: str
    steps: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)
    duration_s: float = 0.0
    error: str | None = None
    failed_step: str | None = None

    def to_json(self) -> dict:
        return {
            "run_id": self.run_id,
            "workflow": self.workflow,
            "status": self.status,
            "steps": dict(self.steps),
            "outputs": self.outputs,
            "duration_s": round(self.duration_s, 3),
            "error_message": self.error, "failed_step": self.failed_step,  # None on success
        }


def instance_home() -> Path:
    """The Dagster home used by the CLI: ``$DAGSTER_HOME``, else ``./dagster_home``."""
    home = os.environ.get("DAGSTER_HOME")
    return Path(home) if home else Path(DEFAULT_HOME)


def _open_storage(home: Path, keep: bool) -> Any:
    """Open the instance of ``home``, creating its storage first when needed (see
    :func:`prepare_storage`); returns it when ``keep``, else disposes of it and returns None."""
    if storage.is_ready(home):
        storage.check_files(home)
        return _instance_of(home) if keep else None
    # Dagster creates a new home's SQLite databases the first time an instance is opened, with
    # no lock: two processes doing it at once collide ("table runs already exists") or record
    # two schema versions in alembic_version for good ("more than one head"). Creating them
    # under an exclusive lock makes the others wait, then find them.
    with storage.creation_lock(home):
        if not storage.is_ready(home):
            storage.clear_interrupted_creation(home)
        storage.check_files(home)
        instance = _instance_of(home)
        storage.mark_ready(home)
        if keep:
            return instance
        instance.dispose()
        return None


def _instance_of(home: Path) -> Any:
    """``DagsterInstance.from_config(home)``; a storage that cannot be opened raises
    :class:`~yaml2dag.runs.storage.StorageError` (one line naming the damaged file)."""
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import DagsterInstance

    try:
        return DagsterInstance.from_config(str(home))
    except Exception as exc:  # noqa: BLE001 - only storage failures are translated
        message = storage.describe(exc, home)
        if message is None:
            raise
        raise storage.StorageError(message) from None


def prepare_storage(home: str | Path | None = None) -> Path:
    """Make sure a Dagster home's storage exists, creating it (and its ``dagster.yaml``, see
    :func:`yaml2dag.deploy.ensure_dagster_yaml`) under an exclusive lock the first time.

    Every yaml2dag command that opens the instance goes through here (:func:`get_instance`);
    ``yaml2dag dev`` calls it before it starts the webserver, daemon and code server (which open
    the instance at once), and tests call it before they open an instance beside a running
    ``yaml2dag`` process. Details: :mod:`yaml2dag.runs.storage`.

    Args:
        home: the DAGSTER_HOME (default: :func:`instance_home`).

    Returns:
        The home, as an absolute path.

    Raises:
        yaml2dag.runs.storage.StorageError: a storage file is damaged (empty, truncated, not
            SQLite...); the message names it and what to do.
    """
    home = Path(home if home is not None else instance_home()).resolve()
    ensure_dagster_yaml(home)
    _open_storage(home, keep=False)
    return home


def get_instance(*, reap: bool = True):
    """A :class:`dagster.DagsterInstance` for :func:`instance_home`, its storage created first if
    missing (:func:`prepare_storage`); ``$DAGSTER_HOME`` is set to that home for this process
    and its children.

    Args:
        reap: also end the unfinished runs of this host whose yaml2dag process is gone
            (:func:`yaml2dag.compiler.run_health.reap_dead_runs`: step processes killed, run marked
            failed with the reason, pool slots freed), so that no command ever shows such a run
            as running or waits for its slots.

    Raises:
        yaml2dag.runs.storage.StorageError: a storage file is damaged; the message names it.
    """
    home = instance_home().resolve()
    ensure_dagster_yaml(home)
    os.environ["DAGSTER_HOME"] = str(home)
    instance = _open_storage(home, keep=True)
    if reap:
        try:
            reap_dead_runs(instance, by=f"{_command_name()} (pid {os.getpid()})")
        except Exception as exc:  # noqa: BLE001 - a failed look never stops the command...
            if is_storage_exception(exc):
                raise  # ...unless the storage itself is damaged: the command would fail next
    return instance


def _command_name() -> str:
    args = [a for a in sys.argv[1:3] if not a.startswith("-")]
    return "yaml2dag " + args[0] if args else "yaml2dag"


@contextlib.contextmanager
def _quiet_stderr(enabled: bool, processes: bool = False) -> Iterator[None]:
    """Keep Dagster's console logger off the terminal; the event log has everything.

    Args:
        enabled: do it (else nothing changes).
        processes: also for the processes started meanwhile (the multiprocess executor's step
            processes log to the inherited file descriptor 2): point fd 2 at /dev/null too.
    """
    if not enabled:
        yield
        return
    saved = sys.stderr
    saved_fd = None
    with open(os.devnull, "w") as sink:
        if processes:
            try:
                sys.stderr.flush()
                saved_fd = os.dup(2)
                os.dup2(sink.fileno(), 2)
            except (OSError, ValueError, AttributeError):
                saved_fd = None
        sys.stderr = sink
        try:
            yield
        finally:
            sys.stderr = saved
            if saved_fd is not None:
                os.dup2(saved_fd, 2)
                os.close(saved_fd)


# --------------------------------------------------------------------------- concurrency


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holders(instance: Any, tag: tuple[str, str], own_run_id: str) -> list[str]:
    """Runs ahead of ours in the concurrency bucket: started ones, and not-yet-started ones of
    live ``yaml2dag run`` processes created before ours."""
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import DagsterRunStatus, RunsFilter

    started = instance.get_runs(RunsFilter(tags={tag[0]: tag[1]},
                                           statuses=[DagsterRunStatus.STARTED, DagsterRunStatus.STARTING,
                                                     DagsterRunStatus.CANCELING]))
    holders = [r.run_id for r in started if r.run_id != own_run_id]
    pending = instance.get_run_records(RunsFilter(tags={tag[0]: tag[1]}, statuses=[DagsterRunStatus.NOT_STARTED]))
    own = next((r for r in pending if r.dagster_run.run_id == own_run_id), None)
    host = socket.gethostname()
    for record in pending:
        run = record.dagster_run
        if run.run_id == own_run_id or own is None or record.storage_id >= own.storage_id:
            continue
        pid = run.tags.get(TAG_CLI_PID)
        if pid and run.tags.get(TAG_CLI_HOST) == host and _pid_alive(int(pid)):
            holders.append(run.run_id)
    return holders


def wait_for_slot(instance: Any, workflow: Workflow, tag: tuple[str, str], run_id: str, *, wait: bool,
                  on_progress: Callable[[StepProgress], None] | None, poll: float = 1.0) -> None:
    """Block until fewer than ``concurrency.limit`` runs of the bucket are ahead of ``run_id``.

    Raises:
        ConcurrencyLimitError: the limit is reached and ``wait`` is False.
    """
    limit = workflow.concurrency.limit if workflow.concurrency else 0
    announced = False
    # a run of the bucket whose process died would hold its place for good: end such runs first
    reap = DeadRunWatch(instance, by=f"a run of {workflow.name!r} waiting for a concurrency slot", tags={tag[0]: tag[1]})
    while True:
        reap()
        holders = _holders(instance, tag, run_id)
        if len(holders) < limit:
            return
        bucket = tag[1]
        message = (f"{len(holders)} run(s) of {workflow.name!r} already hold the concurrency limit of {limit} "
                   f"(bucket {bucket}): {', '.join(holders[:5])}")
        if not wait:
            raise ConcurrencyLimitError(message)
        if not announced and on_progress is not None:
            on_progress(StepProgress("waiting", "", workflow.name, 0, 0, None, message + "; waiting for a slot"))
            announced = True
        time.sleep(poll)


# --------------------------------------------------------------------------- running


def check_secrets(workflow: Workflow) -> None:
    """Raise ParameterError for each ``secret`` parameter whose environment variable is unset."""
    missing = SecretStore(workflow).missing()
    if missing:
        name, var = missing[0]
        raise ParameterError(name, f"is a secret: set the environment variable {var} before running")


def _executor_settings(workflow: Workflow) -> str:
    """The executor type of ``workflow``, its settings checked before anything is stored.

    Raises:
        yaml2dag.format.executors.ExecutorSettingError: ``$YAML2DAG_EXECUTOR`` or a Celery setting
            (:func:`yaml2dag.compiler.celery.celery_settings`) has a wrong value.
    """
    kind = executor_type(workflow)
    if kind == "celery":
        # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
        from yaml2dag.compiler.celery import celery_settings

        celery_settings()
    return kind


@signal_handlers_kept()
def run_workflow(
    validated: ValidatedWorkflow,
    params: Mapping[str, Any] | None = None,
    *,
    strings: bool = False,
    instance: Any = None,
    on_progress: Callable[[StepProgress], None] | None = None,
    tags: Mapping[str, str] | None = None,
    quiet: bool = True,
    wait_for_concurrency: bool = True,
    root: str | None = None,
    estimates_of: Callable[[Any], Estimates] | None = None,
    mode: str = DEFAULT_MODE,
    ask: Any = None,
) -> RunResult:
    """Run a validated workflow through a real Dagster instance.

    Args:
        validated: the :class:`~yaml2dag.format.validated.ValidatedWorkflow` of the file
            (``FileReport.validated()``, e.g. of :meth:`yaml2dag.library.folder.Library.find`).
        params: parameter values by name.
        strings: values are command-line strings to convert to the declared types.
        instance: the ``DagsterInstance`` (default: :func:`get_instance`).
        on_progress: called with each :class:`StepProgress`, as steps start and end.
        tags: extra run tags.
        quiet: keep Dagster's console logs off stderr while the run executes.
        wait_for_concurrency: when the workflow's ``concurrency`` limit is reached, wait for a
            slot (True) or raise :class:`ConcurrencyLimitError` (False).
        root: the definitions folder sub-workflows are found in (default: the file's folder).
        estimates_of: called with the instance once the checks passed and the run is about to
            start, returns what earlier successful runs of the workflow took, for the ``progress``
            of each :class:`StepProgress` (e.g. :func:`yaml2dag.runs.history.estimates.load_estimates`;
            None: percent by step count, no time left).
        mode: ``autopilot``, ``supervised`` or ``hybrid`` (:mod:`yaml2dag.format.run_modes`; run tag).
        ask: answers the run's questions (:data:`yaml2dag.runs.supervision.Ask`, from a thread);
            None: they wait as approval gates (``yaml2dag approve``/``reject``).

    Returns:
        The :class:`RunResult`.

    Raises:
        TypeError: ``validated`` is not a ``ValidatedWorkflow`` (nothing ran); an invalid file
            has none: ``FileReport.validated()`` raises ``WorkflowInvalidError`` instead.
        ValueError: an unknown ``mode`` (nothing ran).
        ParameterError: a parameter value is wrong or a secret is unset (nothing ran).
        ConcurrencyLimitError: see ``wait_for_concurrency`` (nothing ran).
        yaml2dag.format.executors.ExecutorSettingError: an executor setting of the environment is
            wrong (nothing ran). SIGINT/SIGTERM handlers are kept (:mod:`yaml2dag.runs.signals`).
    """
    validated = require_validated(validated, "run_workflow")
    mode = check_mode(mode)
    workflow, file = validated.workflow, validated.file
    values = resolve(workflow, params or {}, strings=strings)
    check_secrets(workflow)
    kind = _executor_settings(workflow)
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.compiler.job import concurrency_tag, folder_resolver, render_concurrency_key
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.compiler.scope import TAG_TRIGGER
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.dagster_internals import execute_run_iterator

    instance = instance or get_instance()
    recon = reconstructable_job(file, root, mode)
    job_def = recon.get_definition()
    catalog = step_catalog(workflow, folder_resolver(root or str(Path(file).resolve().parent)))
    total = len(catalog)
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.runs.approvals import default_user

    # the process that executes the run (pid, host, start time): a run whose process is gone is
    # found and ended by the next yaml2dag command or the daemon (yaml2dag.compiler.run_health)
    run_tags = {**job_def.run_tags, TAG_TRIGGER: "cli", **cli_tags(), TAG_CLI_USER: default_user(), TAG_MODE: mode,
                **(tags or {})}
    conc = concurrency_tag(workflow, render_concurrency_key(workflow, values))
    if conc is not None:
        run_tags[conc[0]] = conc[1]
    run = instance.create_run_for_job(job_def=job_def, run_config=values, tags=run_tags)
    if conc is not None:
        try:
            wait_for_slot(instance, workflow, conc, run.run_id, wait=wait_for_concurrency, on_progress=on_progress)
        except BaseException:
            instance.delete_run(run.run_id)
            raise

    secrets = SecretStore(workflow).values()
    _masking.register(run.run_id, secrets)  # for the sinks of this process (yaml2dag.format.masking)
    estimates = estimates_of(instance) if estimates_of is not None else None
    tracker = StepTracker(catalog)
    ended = {"n": 0}
    clock = time.monotonic()
    from yaml2dag.runs.supervision import QuestionWatch  # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    questions = QuestionWatch(instance, run.run_id, ask) if ask is not None else contextlib.nullcontext()
    with _quiet_stderr(quiet, processes=kind == "multiprocess"), questions:
        try:
            for event in execute_run_iterator(recon, run, instance):
                now = time.monotonic()
                for change in tracker.feed(event, now):
                    if change.kind in ("succeeded", "continued", "failed", "skipped"):
                        ended["n"] += 1
                    if on_progress is None:
                        continue
                    entry = tracker.catalog.get(change.key)
                    title = entry.title if entry else workflow.name
                    duration = None
                    if change.kind in ("succeeded", "continued", "failed") and change.key in tracker.started:
                        duration = now - tracker.started[change.key]
                    index = ended["n"] if change.kind in ("succeeded", "continued", "failed", "skipped") else 0
                    message = (mask(change.message, secrets + _masking.registered(run.run_id))
                               if change.message else change.message)
                    on_progress(StepProgress(change.kind, change.key, title, index, total, duration, message,
                                             estimate(tracker, now, estimates)))
        except KeyboardInterrupt:
            pass
    _runtime.forget_run(run.run_id)
    # the secrets of sub-workflows and those tools added (ctx.add_secret) too
    secrets = tuple(sorted(set(secrets) | set(_masking.registered(run.run_id)), key=len, reverse=True))
    _masking.forget(run.run_id)
    final = instance.get_run_by_id(run.run_id)
    status = final.status.value if final is not None else "FAILURE"
    if status not in ("SUCCESS", "FAILURE", "CANCELED"):
        status = "CANCELED" if status == "CANCELING" else "FAILURE"
    first_error = tracker.first_error
    run_error = tracker.run_error
    error = first_error[1] if first_error else run_error if status != "SUCCESS" else None
    if status != "SUCCESS" and run_error and "exceeded its timeout" in run_error:
        error = run_error
    timeout_error = _timeout_error(instance, run.run_id) if status == "FAILURE" else None
    if timeout_error:
        error = timeout_error  # the workflow `timeout` stopped the run: say so, not what it interrupted
    return RunResult(
        run_id=run.run_id,
        workflow=workflow.name,
        job=workflow.id,
        status=status,
        steps=tracker.step_statuses(),
        outputs=mask(tracker.outputs, secrets),
        duration_s=time.monotonic() - clock,
        error=mask(error, secrets) if error else error,
        failed_step=first_error[0] if first_error else None,
    )


def _timeout_error(instance: Any, run_id: str) -> str | None:
    """The message of the run's failure when its workflow ``timeout`` stopped it, else None."""
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import DagsterEventType

    records = instance.get_records_for_run(run_id, of_type=DagsterEventType.RUN_FAILURE, limit=1,
                                           ascending=False).records
    for record in records:
        data = record.event_log_entry.dagster_event.event_specific_data
        error = getattr(data, "error", None)
        while error is not None:
            if error.cls_name == "RunTimeoutError":
                text = error.message.strip()  # "yaml2dag.compiler.executor.RunTimeoutError: the run ..."
                return text.split("RunTimeoutError: ", 1)[-1]
            error = error.cause
    return None
