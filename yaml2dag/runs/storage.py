"""The files of a Dagster home's SQLite storage, as yaml2dag opens them (issue 10, points 7 and 8).

Dagster's default storage is three SQLite databases under the home (``history/runs.db``: the
runs; ``history/runs/index.db``: the event index, pools; ``schedules/schedules.db``: schedule
and sensor state) plus one event-log database per run (``history/runs/<run_id>.db``).

* **Creation happens once, under a lock.** Dagster creates those databases the first time an
  instance is opened on a home, without any lock: two processes doing it at once leave
  "table ... already exists" errors or, worse, a database whose ``alembic_version`` table names
  two schema versions ("more than one head") for good. yaml2dag creates a new home's storage
  while holding an exclusive lock on ``<home>/.yaml2dag-init.lock``
  (:func:`creation_lock`) and then writes ``<home>/.yaml2dag-storage-ready``
  (:func:`mark_ready`); later opens see the marker and need no lock.
* **Damage is one line, not a traceback.** :func:`check_files` refuses, before Dagster opens
  anything, the damage Dagster would not notice itself (a 0-byte ``runs.db`` is an empty SQLite
  database to Dagster: it would silently start a new history in it). :func:`describe` turns a
  database exception raised later into one sentence naming the damaged file and what to do,
  found by :func:`diagnose` (SQLite's own ``PRAGMA quick_check`` on each file).

No Dagster import: ``list`` uses this module on its fast path.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Iterator

from yaml2dag.format.errors import Yaml2DagError
from filelock import FileLock
import yaml

#: Written into the home once its storage exists (content: the fingerprint of its dagster.yaml).
READY_MARKER = ".yaml2dag-storage-ready"
#: The lock file taken while the storage of a home is created.
LOCK_FILE = ".yaml2dag-init.lock"

#: The first 16 bytes of every SQLite database file (https://www.sqlite.org/fileformat.html, 1.3).
SQLITE_HEADER = b"SQLite format 3\x00"

#: dagster.yaml keys that replace the default SQLite storage.
_STORAGE_KEYS = ("storage", "run_storage", "event_log_storage", "schedule_storage")


class StorageError(Yaml2DagError):
    """The Dagster storage cannot be used; the message is one line naming the file and what to do.

    Attributes:
        file: the damaged file, when one was found.
    """

    def __init__(self, message: str, file: Path | None = None):
        super().__init__(message)
        self.file = file


# --------------------------------------------------------------------------- layout


_parsed: dict[tuple[str, int, int], Any] = {}


def _config(home: Path) -> Any:
    """The home's parsed ``dagster.yaml`` ({} when there is none, None when it cannot be read),
    parsed once per version of the file."""
    path = home / "dagster.yaml"
    try:
        stat = path.stat()
    except OSError:
        return {}
    key = (str(path), stat.st_mtime_ns, stat.st_size)
    if key not in _parsed:
        try:
            loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
            _parsed[key] = yaml.load(path.read_text(encoding="utf-8"), Loader=loader) or {}  # noqa: S506 - safe loader
        except Exception:  # noqa: BLE001 - a broken dagster.yaml is Dagster's to report
            _parsed[key] = None
    return _parsed[key]


def sqlite_base(home: str | Path) -> Path | None:
    """The folder of the home's SQLite storage: the home itself (Dagster's default), or the
    ``base_dir`` of a ``storage: {sqlite: ...}`` section; None when the home's ``dagster.yaml``
    configures another storage (PostgreSQL, MySQL, separate storages) or cannot be read."""
    home = Path(home)
    config = _config(home)
    if not isinstance(config, dict):
        return None
    if not any(key in config for key in _STORAGE_KEYS):
        return home
    storage = config.get("storage")
    if set(config) & set(_STORAGE_KEYS) == {"storage"} and isinstance(storage, dict) and set(storage) == {"sqlite"}:
        base = (storage.get("sqlite") or {}).get("base_dir")
        if isinstance(base, str) and base:
            return Path(base)
    return None


def core_files(base: Path) -> dict[Path, tuple[str, str]]:
    """The storage-wide SQLite databases under ``base``: path → (a table it must have, what it holds)."""
    return {
        base / "history" / "runs.db": ("runs", "the run history"),
        base / "history" / "runs" / "index.db": ("event_logs", "the event index, pool slots and asset events"),
        base / "schedules" / "schedules.db": ("jobs", "the schedule and sensor state"),
    }


def run_files(base: Path) -> list[Path]:
    """The per-run event-log databases under ``base`` (``history/runs/<run_id>.db``), newest first."""
    folder = base / "history" / "runs"
    try:
        files = [p for p in folder.glob("*.db") if p.name != "index.db"]
    except OSError:
        return []

    def mtime(path: Path) -> float:
        try:
            return path.stat().st_mtime
        except OSError:
            return 0.0

    return sorted(files, key=mtime, reverse=True)


# --------------------------------------------------------------------------- creation


def _fingerprint(home: Path) -> str:
    try:
        data = (home / "dagster.yaml").read_bytes()
    except OSError:
        data = b""
    return hashlib.sha256(data).hexdigest()


def is_ready(home: str | Path) -> bool:
    """True when yaml2dag created (or first opened) this home's storage under the lock, the
    ``dagster.yaml`` has not changed since, and the default run database is still there."""
    home = Path(home)
    try:
        if (home / READY_MARKER).read_text(encoding="utf-8").strip() != _fingerprint(home):
            return False
    except OSError:
        return False
    base = sqlite_base(home)
    return base is None or (base / "history" / "runs.db").is_file()


def mark_ready(home: str | Path) -> None:
    """Record that the home's storage exists (see :func:`is_ready`); written then renamed."""
    home = Path(home)
    scratch = home / f"{READY_MARKER}.{os.getpid()}.tmp"
    scratch.write_text(_fingerprint(home) + "\n", encoding="utf-8")
    scratch.replace(home / READY_MARKER)


@contextlib.contextmanager
def creation_lock(home: str | Path) -> Iterator[None]:
    """Hold an exclusive lock on ``<home>/.yaml2dag-init.lock`` (``filelock``: an ``flock``
    where the file system has one; blocks while another process holds it; released when the
    block ends or the process dies)."""
    with FileLock(Path(home) / LOCK_FILE):
        yield


# --------------------------------------------------------------------------- checks


def _problem_line(path: Path, problem: str, holds: str) -> str:
    return (f"the Dagster storage file {path} {problem}; restore it from a backup, or move it aside "
            f"to start with an empty one (losing {holds}), then run the command again")


def _holds(path: Path, base: Path | None) -> str:
    if base is not None:
        entry = core_files(base).get(path)
        if entry is not None:
            return entry[1]
    if path.parent.name == "runs" and path.suffix == ".db":
        return f"the event log of run {path.stem}"
    return "what it held"


def file_problem(path: Path, table: str | None = None, *, thorough: bool = True) -> str | None:
    """What is wrong with the SQLite database ``path``, or None when nothing is (or it is missing).

    Args:
        path: the database file.
        table: a table it must have (``runs``, ``event_logs``...), or None.
        thorough: also open it read-only and run SQLite's ``PRAGMA quick_check`` (reads the
            whole file); without it only the size and the header are looked at (microseconds).

    Returns:
        A phrase that follows the file name: ``"is empty (0 bytes)"``, ``"is not a SQLite
        database"``, ``"is truncated (... bytes of ...)"``, ``"is damaged (<SQLite's message>)"``,
        ``"has no `runs` table"``, ``"records 2 schema versions"``.
    """
    try:
        size = path.stat().st_size
        if size == 0:
            return "is empty (0 bytes)"
        with open(path, "rb") as fh:
            header = fh.read(100)
    except FileNotFoundError:
        return None
    except OSError as exc:
        return f"cannot be read ({exc.strerror or exc})"
    if not header.startswith(SQLITE_HEADER):
        return "is not a SQLite database"
    if not thorough:
        return None
    if len(header) == 100:
        # the in-header size is valid when the change counter equals "version-valid-for"
        page = int.from_bytes(header[16:18], "big")
        page = 65536 if page == 1 else page
        pages = int.from_bytes(header[28:32], "big")
        if header[24:28] == header[92:96] and pages and page and size < pages * page \
                and not Path(f"{path}-wal").exists():
            return f"is truncated ({size} bytes of {pages * page})"
    try:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        return f"cannot be opened ({exc})"
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
        if rows and rows[0][0] != "ok":
            # "*** in database main ***\nPage 4: btreeInitPage() returns error code 11\n..."
            lines = [line.strip() for row in rows for line in str(row[0]).splitlines()
                     if line.strip() and not line.startswith("***")]
            return f"is damaged ({lines[0] if lines else 'SQLite quick_check failed'})"
        names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if table and table not in names:
            return f"has no `{table}` table"
        if "alembic_version" in names:
            versions = conn.execute("SELECT count(*) FROM alembic_version").fetchone()[0]
            if versions > 1:
                return (f"records {versions} schema versions (two processes created it at once; "
                        "Dagster refuses it)")
    except sqlite3.Error as exc:
        if "locked" in str(exc):
            return None  # busy, not damaged
        return f"is damaged ({exc})"
    finally:
        conn.close()
    return None


def check_files(home: str | Path) -> None:
    """Refuse, before Dagster opens them, storage files it would misread: an empty (0-byte) or
    non-SQLite ``runs.db``, ``index.db`` or ``schedules.db`` (Dagster would create fresh tables in
    an empty file and show no runs). Cheap: a ``stat`` and a 16-byte read per file.

    Raises:
        StorageError: one line naming the file and what to do.
    """
    base = sqlite_base(Path(home))
    if base is None:
        return
    for path, (_table, holds) in core_files(base).items():
        problem = file_problem(path, thorough=False)
        if problem:
            raise StorageError(_problem_line(path, problem, holds), path)


def clear_interrupted_creation(home: str | Path) -> list[Path]:
    """Remove the empty (0-byte) storage-wide databases that an interrupted first creation left,
    when nothing else was ever stored (no per-run event log): the caller creates them again.
    Call it only under :func:`creation_lock`, for a home that is not :func:`is_ready`.

    Returns:
        The files removed.
    """
    base = sqlite_base(Path(home))
    if base is None or run_files(base):
        return []
    removed = []
    for path in core_files(base):
        with contextlib.suppress(OSError):
            if path.stat().st_size == 0:
                for extra in (path, Path(f"{path}-wal"), Path(f"{path}-shm"), Path(f"{path}-journal")):
                    with contextlib.suppress(FileNotFoundError):
                        extra.unlink()
                removed.append(path)
    return removed


def diagnose(home: str | Path, hints: Iterable[str] = ()) -> list[tuple[Path, str]]:
    """The damaged SQLite files of the home's storage, with what is wrong with each.

    Checks the storage-wide databases, then the event logs of the runs named in ``hints`` (run
    ids or prefixes of at least 6 characters), then every other run's event log.

    Args:
        home: the DAGSTER_HOME.
        hints: words that may name runs (a command line's arguments, a failed query's parameters).

    Returns:
        ``[(file, problem), ...]`` in that order; empty when nothing looks damaged (or the home
        does not use the default SQLite storage).
    """
    base = sqlite_base(Path(home))
    if base is None:
        return []
    found = []
    for path, (table, _holds) in core_files(base).items():
        problem = file_problem(path, table)
        if problem:
            found.append((path, problem))
    prefixes = {h.lower() for h in hints if isinstance(h, str) and re.fullmatch(r"[0-9a-fA-F-]{6,36}", h)}
    shards = run_files(base)
    first = [p for p in shards if any(p.stem.startswith(h) for h in prefixes)]
    for path in first + [p for p in shards if p not in first]:
        problem = file_problem(path, "event_logs")
        if problem:
            found.append((path, problem))
    return found


# --------------------------------------------------------------------------- exceptions


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException | None] = [exc]
    while todo:
        item = todo.pop()
        if item is None or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__, getattr(item, "orig", None)]


def is_storage_exception(exc: BaseException) -> bool:
    """True for the exceptions a damaged or unusable database raises: SQLite's, SQLAlchemy's
    database errors and Alembic's command errors (a schema version it cannot follow), anywhere
    in the exception's chain."""
    for item in _chain(exc):
        if isinstance(item, (sqlite3.Error, StorageError)):
            return True
        module = type(item).__module__
        names = {cls.__name__ for cls in type(item).__mro__}
        if module.startswith("sqlalchemy") and "DBAPIError" in names:
            return True
        if module.startswith("alembic") and "CommandError" in names:
            return True
    return False


def _hints_of(exc: BaseException) -> list[str]:
    words: list[str] = []
    for item in _chain(exc):
        params = getattr(item, "params", None)
        values = params.values() if isinstance(params, dict) else params if isinstance(params, (list, tuple)) else ()
        words += [v for v in values if isinstance(v, str)]
        words += re.findall(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", str(item))
    return words


def _short(exc: BaseException) -> str:
    root = exc
    for item in _chain(exc):
        if isinstance(item, sqlite3.Error):
            root = item
            break
    text = str(root).strip().splitlines()
    line = text[0] if text else type(root).__name__
    line = re.sub(r"^\([\w.]+\)\s*", "", line)  # "(sqlite3.DatabaseError) database disk image..."
    return line[:300]


def describe(exc: BaseException, home: str | Path, hints: Iterable[str] = ()) -> str | None:
    """One line for a storage exception: the damaged file (see :func:`diagnose`) and what to do,
    or, when no file looks damaged, what failed. None when ``exc`` is not a storage exception.

    Args:
        exc: the exception (a :class:`StorageError` gives its own message).
        home: the DAGSTER_HOME.
        hints: words that may name runs (the command line's arguments).
    """
    for item in _chain(exc):
        if isinstance(item, StorageError):
            return str(item)
    if not is_storage_exception(exc):
        return None
    home = Path(home)
    base = sqlite_base(home)
    damaged = diagnose(home, [*hints, *_hints_of(exc)])
    if damaged:
        path, problem = damaged[0]
        line = _problem_line(path, problem, _holds(path, base))
        if len(damaged) > 1:
            others = ", ".join(str(p) for p, _ in damaged[1:4]) + (" ..." if len(damaged) > 4 else "")
            line += f" (also damaged: {others})"
        return line
    where = base if base is not None else home
    return (f"cannot use the Dagster storage in {where}: {_short(exc)}; check that its files are "
            "readable and writable and the disk is not full, then run the command again")


__all__ = ["LOCK_FILE", "READY_MARKER", "StorageError", "check_files", "clear_interrupted_creation",
           "core_files", "creation_lock", "describe", "diagnose", "file_problem", "is_ready",
           "is_storage_exception", "mark_ready", "run_files", "sqlite_base"]
