"""Runs whose process is gone (issue 10, point 5: ``kill -9`` of a ``yaml2dag run``).

A run started by ``yaml2dag run`` or ``yaml2dag retry`` executes inside that CLI process (Dagster's
``execute_run_iterator``), not in a run worker launched by the instance, so nothing in Dagster
notices when that process dies: the run stays STARTED, its pool slots stay claimed and the
processes its steps started keep running. yaml2dag closes that gap:

* **What is recorded.** The CLI tags each run with its pid, host and process start time
  (:func:`cli_tags`: ``yaml2dag/cli_pid``, ``yaml2dag/cli_host``, ``yaml2dag/cli_started``; the
  start time tells a recycled pid apart; ``yaml2dag/cli_pid_namespace`` one container from
  another with the same host name). Every process group a step starts (the ``shell`` and
  ``git`` tools start their commands in their own session) is recorded as an engine event of the
  run (:class:`ProcessRecorder`, metadata ``yaml2dag/step_process``, ``yaml2dag/pid``,
  ``yaml2dag/pgid``, ``yaml2dag/started``, ``yaml2dag/host``). Dagster itself records the step
  workers of the multiprocess executor (``STEP_WORKER_STARTED`` events, metadata ``pid``).
* **How a dead run is found.** :func:`process_state` compares those tags with the live process
  table (psutil): no process with that pid, a zombie, or one that started at another time means
  the run's process is gone. Runs of another host are never judged.
* **Who looks.** Every ``yaml2dag`` command that opens the instance
  (:func:`yaml2dag.runs.runner.get_instance`), a run waiting for a concurrency slot or a pool slot
  (every few seconds), and, when the daemon runs, Dagster's run monitoring: the shipped
  ``dagster.yaml`` configures :class:`yaml2dag.runs.run_launcher.WorkflowRunLauncher`, whose
  ``check_run_worker_health`` calls :func:`reap_run` (every ``run_monitoring.poll_interval_seconds``).
* **What is done** (:func:`reap_run`, once, under a lock): the step processes still alive are
  killed (SIGKILL to each recorded process group, after checking the start time of its members);
  the run is marked FAILURE (CANCELED if it was being canceled) with the reason as the run's
  failure message; its pool slots and pending pool claims are freed
  (``free_concurrency_slots_for_run``, the call behind the UI's "free concurrency slots").
  ``yaml2dag retry --from-failure`` then works directly.

Dagster is imported lazily, inside the functions that need it.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import signal
import socket
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator

from yaml2dag.format.tags import (  # noqa: F401 - TAG_CLI_* re-exported for the runner and history
    DEAD_MARKER, PROCESS_HOST, PROCESS_MARKER, PROCESS_PGID, PROCESS_PID, PROCESS_STARTED, TAG_CLI_HOST, TAG_CLI_PID,
    TAG_CLI_PID_NAMESPACE, TAG_CLI_STARTED,
)
from filelock import FileLock

#: Seconds of tolerance when comparing a process's start time with the recorded one. psutil
#: reads it from /proc in clock ticks (10 ms); a recycled pid belongs to a process started much
#: later (the kernel hands pids out in increasing order until it wraps around).
START_SLACK_S = 1.0

#: Seconds between two looks for dead runs while a run waits for a slot (:class:`DeadRunWatch`).
WATCH_INTERVAL_S = 5.0

_local_lock = threading.Lock()


# --------------------------------------------------------------------------- processes


def _create_time(pid: int) -> float | None:
    """The start time of live process ``pid`` (epoch seconds); None when there is none or it is a
    zombie. Raises ``PermissionError`` when it exists but cannot be inspected."""
    # lazy: psutil is heavy and optional here; kept off light paths
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return None
        return proc.create_time()
    except (psutil.NoSuchProcess, psutil.ZombieProcess):
        return None
    except psutil.AccessDenied as exc:
        raise PermissionError(str(exc)) from None


def _pid_namespace() -> str | None:
    try:
        return os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return None


def cli_tags() -> dict[str, str]:
    """The run tags that say which process executes a run: this one (pid, host, start time and,
    on Linux, pid namespace)."""
    tags = {TAG_CLI_PID: str(os.getpid()), TAG_CLI_HOST: socket.gethostname()}
    try:
        started = _create_time(os.getpid())
    except PermissionError:
        started = None
    if started is not None:
        tags[TAG_CLI_STARTED] = f"{started:.3f}"
    namespace = _pid_namespace()
    if namespace:
        tags[TAG_CLI_PID_NAMESPACE] = namespace
    return tags


def process_state(tags: dict[str, str], created: float | None = None) -> tuple[str, str]:
    """Whether the process recorded in a run's tags (see :func:`cli_tags`) still runs.

    Args:
        tags: the run's tags.
        created: when the run was created (epoch seconds), for runs recorded without
            ``yaml2dag/cli_started`` (older versions): a process that started after the run
            holds a recycled pid.

    Returns:
        ``(state, description)``: ``"alive"``, ``"dead"``, or ``"unknown"`` (no pid recorded,
        another host or pid namespace, or a process that cannot be inspected); the description names the process
        (``yaml2dag process 1234 on host``).
    """
    pid_text, host = tags.get(TAG_CLI_PID), tags.get(TAG_CLI_HOST)
    if not pid_text or not str(pid_text).isdigit() or not host:
        return "unknown", "no yaml2dag process recorded"
    pid = int(pid_text)
    what = f"yaml2dag process {pid} on {host}"
    if host != socket.gethostname():
        return "unknown", what + " (another machine)"
    namespace = tags.get(TAG_CLI_PID_NAMESPACE)
    if namespace and namespace != _pid_namespace():
        return "unknown", what + " (another pid namespace: another container)"
    try:
        started = _create_time(pid)
    except PermissionError:
        return "unknown", what + " (not inspectable)"
    if started is None:
        return "dead", what
    recorded = tags.get(TAG_CLI_STARTED)
    try:
        expected = float(recorded) if recorded else None
    except ValueError:
        expected = None
    if expected is not None:
        return ("alive" if abs(started - expected) <= START_SLACK_S else "dead"), what
    if created is not None and started > created + START_SLACK_S:
        return "dead", what  # a newer process got the pid
    return "alive", what


class ProcessRecorder:
    """Records the process groups a step starts, in the run's event log (a ``resources`` entry of
    the step's :class:`~yaml2dag.tools.base.ToolContext`, key ``"processes"``).

    Args:
        instance: the DagsterInstance.
        run: the DagsterRun.
        step_key: the Dagster step key.
    """

    def __init__(self, instance: Any, run: Any, step_key: str):
        self.instance = instance
        self.run = run
        self.step_key = step_key

    def record(self, pid: int) -> None:
        """Record that process ``pid`` was started as the leader of its own process group.

        Never raises: a process that cannot be recorded still runs (it is then not killed if
        the run's process dies).
        """
        try:
            # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
            from yaml2dag.dagster_internals import EngineEventData

            started = _create_time(pid)
            try:
                pgid = os.getpgid(pid)
            except OSError:
                pgid = pid
            values = {PROCESS_MARKER: "started", PROCESS_PID: str(pid), PROCESS_PGID: str(pgid),
                      PROCESS_STARTED: f"{started:.3f}" if started is not None else "",
                      PROCESS_HOST: socket.gethostname()}
            self.instance.report_engine_event(
                f"step process {pid} started (process group {pgid})", self.run,
                EngineEventData(metadata=values), step_key=self.step_key)
        except Exception:  # noqa: BLE001 - see the docstring
            pass


def _meta(event: Any) -> dict[str, str]:
    data = getattr(event, "event_specific_data", None)
    meta = getattr(data, "metadata", None) or {}
    return {k: str(getattr(v, "value", v)) for k, v in meta.items()}


def step_processes(instance: Any, run_id: str) -> list[dict]:
    """The processes a run's steps started on this host, as recorded in its event log.

    Returns:
        ``[{"pid", "pgid" (None for a step worker, which shares its parent's group), "started"
        (epoch seconds or None), "at" (when it was recorded), "step"}]``.
    """
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import DagsterEventType

    host = socket.gethostname()
    found = []
    for record in instance.all_logs(run_id, of_type={DagsterEventType.ENGINE_EVENT,
                                                     DagsterEventType.STEP_WORKER_STARTED}):
        event = record.dagster_event
        if event is None:
            continue
        values = _meta(event)
        try:
            if event.event_type_value == "ENGINE_EVENT":
                if values.get(PROCESS_MARKER) != "started" or values.get(PROCESS_HOST) != host:
                    continue
                pid = int(values[PROCESS_PID])
                found.append({"pid": pid, "pgid": int(values.get(PROCESS_PGID) or pid),
                              "started": float(values[PROCESS_STARTED]) if values.get(PROCESS_STARTED) else None,
                              "at": record.timestamp, "step": event.step_key})
            elif values.get("pid", "").isdigit():
                found.append({"pid": int(values["pid"]), "pgid": None, "started": None,
                              "at": record.timestamp, "step": event.step_key})
        except (KeyError, ValueError):
            continue
    return found


def _group_members(pgid: int) -> list[Any]:
    # lazy: psutil is heavy and optional here; kept off light paths
    import psutil

    members = []
    for proc in psutil.process_iter(["pid"]):
        try:
            if os.getpgid(proc.pid) == pgid:
                members.append(proc)
        except OSError:
            continue
    return members


def kill_step_processes(processes: list[dict], not_before: float | None = None) -> list[int]:
    """SIGKILL what is left of the recorded step processes (see :func:`step_processes`).

    A process group is killed member by member, each checked first. When a process whose pid is
    the group id exists, it must be the recorded leader (same start time), else the group id was
    recycled and the group is left alone; without a leader (Linux keeps a group id from being
    reused while any member lives) the members are the step's survivors. Each member must have
    started no earlier than the leader (or than ``not_before`` when the leader's start is not
    known). A step worker (no group) is killed when it started before it was recorded and not
    before ``not_before``.

    Args:
        processes: the records.
        not_before: the run's creation time (epoch seconds): nothing older is killed.

    Returns:
        The pids signalled.
    """
    # lazy: psutil is heavy and optional here; kept off light paths
    import psutil

    killed = []
    for item in processes:
        floor = item["started"] if item["started"] is not None else not_before
        if item["pgid"] is None:
            candidates = []
            with contextlib.suppress(psutil.Error):
                candidates = [psutil.Process(item["pid"])]
            ceiling = item["at"] + START_SLACK_S
        else:
            candidates = _group_members(item["pgid"])
            ceiling = None
            leader = next((p for p in candidates if p.pid == item["pgid"]), None)
            if leader is not None and item["started"] is not None:
                with contextlib.suppress(psutil.Error):
                    if abs(leader.create_time() - item["started"]) > START_SLACK_S:
                        continue  # a recycled group id: another program's processes
        for proc in candidates:
            try:
                started = proc.create_time()
                if floor is not None and started < floor - START_SLACK_S:
                    continue
                if ceiling is not None and started > ceiling:
                    continue
                if proc.pid == os.getpid():
                    continue
                proc.send_signal(signal.SIGKILL)
                killed.append(proc.pid)
            except psutil.Error:
                continue
    return killed


# --------------------------------------------------------------------------- dead runs


@contextlib.contextmanager
def _reap_lock(instance: Any) -> Iterator[None]:
    """One reaper at a time on this host: a thread lock, plus a file lock (``filelock``) on
    ``<home>/.yaml2dag-reap.lock`` when the instance has a home folder."""
    with _local_lock:
        root = getattr(instance, "root_directory", None)
        if not root or not Path(root).is_dir():
            yield
            return

        with FileLock(Path(root) / ".yaml2dag-reap.lock"):
            yield


def _stamp(value: str | None) -> str:
    try:
        return _dt.datetime.fromtimestamp(float(value or ""), _dt.timezone.utc).isoformat(timespec="seconds")
    except (TypeError, ValueError, OverflowError, OSError):
        return "an unknown time"


def reap_run(instance: Any, run_id: str, *, by: str) -> dict | None:
    """End a run whose process is gone: kill its step processes, mark it failed with the reason,
    free its pool slots. Nothing happens when the run has ended or its process is alive (or
    cannot be judged: another host, no pid recorded).

    Args:
        instance: the DagsterInstance.
        run_id: the run.
        by: who noticed, for the message (``yaml2dag status``, ``the Dagster daemon``...).

    Returns:
        None when nothing was done, else ``{"run_id", "status" (FAILURE or CANCELED), "reason",
        "killed" (pids), "previous_status"}``.
    """
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import DagsterRunStatus

    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.dagster_internals import EngineEventData, JobFailureData, RunFailureReason

    with _reap_lock(instance):
        record = instance.get_run_record_by_id(run_id)
        if record is None or record.dagster_run.is_finished:
            return None
        run = record.dagster_run
        created = record.create_timestamp.timestamp() if record.create_timestamp else None
        if process_state(dict(run.tags), created)[0] != "dead":
            return None
        previous = run.status
        process = f"pid {run.tags.get(TAG_CLI_PID)} on {run.tags.get(TAG_CLI_HOST)}"
        if run.tags.get(TAG_CLI_STARTED):
            process += f", started {_stamp(run.tags.get(TAG_CLI_STARTED))}"
        moment = ("before the run started" if previous == DagsterRunStatus.NOT_STARTED
                  else f"while the run was {previous.value}")
        reason = f"its yaml2dag process ({process}) was killed or crashed {moment}; found by {by}"
        killed = kill_step_processes(step_processes(instance, run_id), not_before=created)
        note = f"{reason}; killed {len(killed)} leftover step process(es)" if killed else reason
        with contextlib.suppress(Exception):
            instance.report_engine_event(
                note, run, EngineEventData(metadata={DEAD_MARKER: "reaped", "reason": reason, "by": by,
                                                     "killed": ",".join(map(str, killed))}))
        current = instance.get_run_by_id(run_id) or run
        if current.is_finished:
            return None
        if current.status == DagsterRunStatus.CANCELING:
            instance.report_run_canceled(current, message=f"Run canceled: {reason}")
            status = "CANCELED"
        else:
            instance.report_run_failed(current, message=f"Run failed: {reason}",
                                       job_failure_data=JobFailureData(
                                           error=None, failure_reason=RunFailureReason.UNEXPECTED_TERMINATION))
            status = "FAILURE"
        storage = instance.event_log_storage
        if getattr(storage, "supports_global_concurrency_limits", False):
            storage.free_concurrency_slots_for_run(run_id)
        return {"run_id": run_id, "status": status, "reason": reason, "killed": killed,
                "previous_status": previous.value}


def reap_dead_runs(instance: Any, *, by: str, tags: dict[str, str] | None = None) -> list[dict]:
    """:func:`reap_run` for every unfinished run executed by a yaml2dag process of this host
    (NOT_STARTED, STARTING, STARTED, CANCELING) whose process is gone.

    Args:
        instance: the DagsterInstance.
        by: who noticed (see :func:`reap_run`).
        tags: only the runs with these tags too.

    Returns:
        What :func:`reap_run` returned for each run it ended.
    """
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from dagster import DagsterRunStatus, RunsFilter

    wanted = {TAG_CLI_HOST: socket.gethostname(), **(tags or {})}
    records = instance.get_run_records(RunsFilter(
        tags=wanted, statuses=[DagsterRunStatus.NOT_STARTED, DagsterRunStatus.STARTING,
                               DagsterRunStatus.STARTED, DagsterRunStatus.CANCELING]))
    ended = []
    for record in records:
        run = record.dagster_run
        created = record.create_timestamp.timestamp() if record.create_timestamp else None
        if process_state(dict(run.tags), created)[0] != "dead":
            continue
        done = reap_run(instance, run.run_id, by=by)
        if done is not None:
            ended.append(done)
    return ended


class DeadRunWatch:
    """Calls :func:`reap_dead_runs` at most every ``interval`` seconds: for loops that wait for
    a slot another run may hold (a dead run's slot would otherwise be waited for forever).

    Args:
        instance: the DagsterInstance.
        by: who looks (for the message).
        interval: seconds between two looks.
        tags: only the runs with these tags too.
    """

    def __init__(self, instance: Any, by: str, interval: float = WATCH_INTERVAL_S,
                 tags: dict[str, str] | None = None, clock: Callable[[], float] = time.monotonic):
        self.instance = instance
        self.by = by
        self.interval = interval
        self.tags = tags
        self.clock = clock
        self._next = clock()

    def __call__(self) -> list[dict]:
        """Look now if the interval has passed; never raises (a failed look is retried later)."""
        now = self.clock()
        if now < self._next:
            return []
        self._next = now + self.interval
        try:
            return reap_dead_runs(self.instance, by=self.by, tags=self.tags)
        except Exception:  # noqa: BLE001 - waiting goes on; the next look may succeed
            return []


__all__ = ["DEAD_MARKER", "DeadRunWatch", "PROCESS_MARKER", "ProcessRecorder", "TAG_CLI_HOST", "TAG_CLI_PID",
           "TAG_CLI_PID_NAMESPACE", "TAG_CLI_STARTED", "cli_tags", "kill_step_processes", "process_state", "reap_dead_runs", "reap_run",
           "step_processes"]
