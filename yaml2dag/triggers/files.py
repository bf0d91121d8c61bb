"""``file`` triggers as Dagster sensors: one run per new or changed file (spec §7).

Each check lists the files of ``path`` whose names match ``pattern`` (a glob, default ``*``;
with ``recursive: true`` in every sub-folder too; names starting with ``.`` are skipped unless
the pattern starts with ``.``). A file is *new or changed* when its path, modification time or
size differ from what the sensor saw before; it then gets a run with the run key
``<path>:<mtime_ns>:<size>``, so Dagster never starts two runs for the same version of a file
even if the cursor were lost.

State lives in the sensor's cursor (kept by Dagster): the signature of every matching file seen,
as JSON ``{"v": 1, "seen": {path: "mtime_ns:size"}}``; files that disappeared are dropped
from it. Files modified less than :data:`SETTLE_SECONDS` ago are left for the next check (they
may still be being written), and at most :data:`MAX_RUNS_PER_CHECK` runs are requested per
check, oldest files first.

``trigger.*`` for the trigger's ``parameters`` and the run's templates: ``type`` (``"file"``),
``sensor``, ``path`` (absolute), ``name`` (the file name), ``size`` (bytes), ``modified``
(ISO 8601, UTC), ``directory`` (the watched folder) and ``relative_path`` (to it).

``path`` may use ``~`` and ``$VARS``; a relative ``path`` is relative to the folder of the
workflow file. A folder that does not exist (yet) is a skip reason on the sensor's tick, not an
error. ``interval`` (seconds, default :data:`DEFAULT_INTERVAL`) is the sensor's minimum interval.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from yaml2dag.format.model import Trigger, Workflow
from yaml2dag.format.tags import META_WATCH, META_WORKFLOW
from yaml2dag.triggers.common import NameRegistry, TriggerParameterError, own_names, run_request

KIND = "file"
#: Seconds between checks when the trigger has no ``interval`` (as in spec §7's example).
DEFAULT_INTERVAL = 30
#: A file modified less than this many seconds before a check waits for the next check.
SETTLE_SECONDS = 1.0
#: Runs requested per check at most; the rest follow on the next checks.
MAX_RUNS_PER_CHECK = 100
CURSOR_VERSION = 1


@dataclass(frozen=True)
class SeenFile:
    """One matching file as a check saw it.

    Attributes:
        path: absolute path.
        relative: path relative to the watched folder (``/``-separated).
        size: bytes.
        mtime_ns: modification time, nanoseconds since the epoch.
    """

    path: str
    relative: str
    size: int
    mtime_ns: int

    @property
    def signature(self) -> str:
        """``"<mtime_ns>:<size>"``: changes when the file is rewritten."""
        return f"{self.mtime_ns}:{self.size}"

    @property
    def run_key(self) -> str:
        """``"<path>:<mtime_ns>:<size>"``: one run per version of the file."""
        return f"{self.path}:{self.signature}"


def watched_directory(workflow: Workflow, trigger: Trigger) -> Path:
    """The folder a file trigger watches: ``path`` with ``~``/``$VARS`` expanded, relative
    paths taken from the workflow file's folder."""
    raw = os.path.expanduser(os.path.expandvars(str(trigger.options.get("path", ""))))
    path = Path(raw)
    if not path.is_absolute():  # normalized (``..`` removed), symlinks kept
        base = Path(workflow.source.file).resolve().parent if workflow.source.file else Path.cwd()
        path = base / path
    return Path(os.path.abspath(path))


def _matches(name: str, pattern: str) -> bool:
    if name.startswith(".") and not pattern.startswith("."):
        return False
    return fnmatch.fnmatchcase(name, pattern)


def scan(directory: Path, pattern: str = "*", recursive: bool = False) -> list[SeenFile]:
    """The regular files of ``directory`` whose names match ``pattern``, sorted by path.

    Hidden sub-folders (``.name``) are not descended into. Files that vanish while being
    listed are ignored.

    Raises:
        FileNotFoundError: ``directory`` does not exist.
        NotADirectoryError: it is not a folder.
        PermissionError: it cannot be listed.
    """
    out: list[SeenFile] = []
    pending = [directory]
    first = True
    while pending:
        folder = pending.pop()
        try:
            entries = list(os.scandir(folder))
        except (FileNotFoundError, NotADirectoryError, PermissionError):
            if first:
                raise
            continue
        first = False
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if recursive and not entry.name.startswith("."):
                        pending.append(Path(entry.path))
                    continue
                if not entry.is_file() or not _matches(entry.name, pattern):
                    continue
                stat = entry.stat()
            except (FileNotFoundError, PermissionError):
                continue
            path = Path(entry.path)
            out.append(SeenFile(str(path), path.relative_to(directory).as_posix(), stat.st_size, stat.st_mtime_ns))
    return sorted(out, key=lambda f: f.path)


def load_cursor(cursor: str | None) -> dict[str, str]:
    """The ``path → signature`` map of a cursor (empty for None or an unknown format)."""
    if not cursor:
        return {}
    try:
        data = json.loads(cursor)
    except ValueError:
        return {}
    if not isinstance(data, dict) or data.get("v") != CURSOR_VERSION or not isinstance(data.get("seen"), dict):
        return {}
    return {str(k): str(v) for k, v in data["seen"].items()}


def dump_cursor(seen: dict[str, str]) -> str:
    """The cursor text for a ``path → signature`` map."""
    return json.dumps({"v": CURSOR_VERSION, "seen": dict(sorted(seen.items()))}, separators=(",", ":"))


def file_info(sensor: str, directory: Path, file: SeenFile) -> dict[str, Any]:
    """``trigger.*`` of a run started for ``file``."""
    modified = _dt.datetime.fromtimestamp(file.mtime_ns / 1e9, _dt.timezone.utc)
    return {
        "type": KIND,
        "sensor": sensor,
        "path": file.path,
        "name": Path(file.path).name,
        "size": file.size,
        "modified": modified.isoformat(),
        "directory": str(directory),
        "relative_path": file.relative,
    }


def evaluate_files(workflow: Workflow, trigger: Trigger, name: str, cursor: str | None,
                   log: Any = None, now: float | None = None) -> dg.SensorResult | dg.SkipReason:
    """One check of a file trigger (the body of its sensor).

    Args:
        workflow: the validated workflow.
        trigger: its ``file`` trigger.
        name: the sensor's name (``trigger.sensor``).
        cursor: the sensor's cursor (None on the first check).
        log: a logger for per-file problems (the sensor context's ``log``), optional.
        now: the current time (seconds since the epoch), for tests.

    Returns:
        A :class:`dagster.SensorResult` with one :class:`dagster.RunRequest` per new or changed
        file and the new cursor, or with a skip reason when there is nothing to run; a
        :class:`dagster.SkipReason` (cursor unchanged) when the folder is missing.
    """
    directory = watched_directory(workflow, trigger)
    pattern = str(trigger.options.get("pattern") or "*")
    recursive = bool(trigger.options.get("recursive", False))
    try:
        files = scan(directory, pattern, recursive)
    except FileNotFoundError:
        return dg.SkipReason(f"watched folder {directory} does not exist (yet); create it to start "
                             f"watching for {pattern}")
    except NotADirectoryError:
        return dg.SkipReason(f"watched path {directory} is not a folder")
    except PermissionError as exc:
        return dg.SkipReason(f"cannot list the watched folder {directory}: {exc.strerror or exc}")
    now = time.time() if now is None else now
    previous = load_cursor(cursor)
    present = {f.path for f in files}
    seen = {path: sig for path, sig in previous.items() if path in present}
    changed = [f for f in files if previous.get(f.path) != f.signature]
    settling = [f for f in changed if now - f.mtime_ns / 1e9 < SETTLE_SECONDS]
    ready = sorted((f for f in changed if f not in settling), key=lambda f: (f.mtime_ns, f.path))
    requests: list[dg.RunRequest] = []
    problems: list[str] = []
    for file in ready[:MAX_RUNS_PER_CHECK]:
        seen[file.path] = file.signature
        try:
            requests.append(run_request(workflow, trigger, file_info(name, directory, file),
                                        run_key=file.run_key))
        except TriggerParameterError as exc:
            problems.append(f"{file.path}: {exc}")
            if log is not None:
                log.warning(f"no run for {file.path}: {exc}")
    new_cursor = dump_cursor(seen)
    if requests:
        return dg.SensorResult(run_requests=requests, cursor=new_cursor)
    if problems:
        reason = f"{len(problems)} new file(s) could not start a run: " + "; ".join(problems[:3])
    elif settling:
        reason = f"{len(settling)} file(s) in {directory} are still being written; next check"
    else:
        reason = f"no new or changed files matching {pattern} in {directory} ({len(files)} seen)"
    return dg.SensorResult(skip_reason=reason, cursor=new_cursor)


def file_sensor(workflow: Workflow, trigger: Trigger, job: dg.JobDefinition, name: str) -> dg.SensorDefinition:
    """The :class:`dagster.SensorDefinition` of one ``file`` trigger.

    Args:
        workflow: the validated workflow.
        trigger: its file trigger.
        job: the workflow's job (the target of the run requests).
        name: the sensor's name (unique in the code location).
    """
    directory = watched_directory(workflow, trigger)
    pattern = str(trigger.options.get("pattern") or "*")

    def evaluation_fn(context: dg.SensorEvaluationContext):
        return evaluate_files(workflow, trigger, name, context.cursor, log=context.log)

    where = f"{directory}/{'**/' if trigger.options.get('recursive') else ''}{pattern}"
    return dg.SensorDefinition(
        name=name,
        evaluation_fn=evaluation_fn,
        minimum_interval_seconds=int(trigger.options.get("interval") or DEFAULT_INTERVAL),
        description=trigger.description or f"{workflow.name}: one run per new or changed file {where}",
        job=job,
        default_status=(dg.DefaultSensorStatus.RUNNING if trigger.enabled else dg.DefaultSensorStatus.STOPPED),
        metadata={META_WORKFLOW: workflow.name, META_WATCH: where},
    )


def file_sensors_for(workflow: Workflow, job: dg.JobDefinition,
                     names: NameRegistry | None = None) -> list[dg.SensorDefinition]:
    """One sensor per ``file`` trigger of ``workflow``, in file order.

    Names: the trigger's ``name``; else ``<job>_file_sensor`` for the only unnamed file trigger,
    ``<job>_file_sensor_<slug of path and pattern>`` for each of several
    (:mod:`yaml2dag.format.trigger_names`).
    """
    names = names if names is not None else NameRegistry()
    out = []
    for trigger, preferred in own_names(workflow, KIND):
        name = names.claim(preferred, workflow.id)
        out.append(file_sensor(workflow, trigger, job, name))
    return out
