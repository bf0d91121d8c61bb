"""Versions of the workflows in the library, and every write the CLI makes to it.

The definitions folder is the source of truth; this module is the only way the CLI changes it.
Every change to an existing workflow (``edit``, ``schedule``, ``import --force``, ``rollback``,
``delete``) goes through :func:`commit_change` (or :func:`rollback`/:func:`delete_workflow`):

1. the new text is validated, with the checks across the folder (a name or job id already taken
   by another file is an error) — an invalid file is never written;
2. ``version`` is bumped (patch, above every version known for the workflow) unless the new
   text sets a new one itself, which must then be new and, when both are dotted numbers,
   greater than the current one;
3. the previous file is kept, byte for byte, as ``<definitions>/.versions/<job>/<version>.yaml``
   (``.json`` for JSON workflows); the loader skips folders starting with ``.``;
4. the new file is written atomically (a temporary file renamed over it) and a line is added to
   ``.versions/<job>/log.jsonl`` (what, who, when, which versions).

Every change recorded in the log gets a **revision** number (``seq``: 1, 2, 3... per job), so
the log is the workflow's change history even when two revisions carry the same ``version``.

A rollback restores the archived bytes exactly (so the restored file hashes like the original,
its ``version`` field is the old version again, and runs are tagged with that version again).
It is itself a new revision: the file it replaces is archived, the log gets a ``rollback``
entry with the next ``seq`` (``restored``: the saved version it brought back), and
:func:`history` marks the current file as restored by that rollback. The next change after a
rollback bumps above the highest version known, so no two different contents ever share a
version number.

Writes take a lock on ``.versions/.lock`` so two CLI processes cannot interleave. Nothing here
imports Dagster.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import hashlib
import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from yaml2dag.format.errors import Problem, Yaml2DagError
from yaml2dag.library.roundtrip import RoundTripDocument, is_json_path

VERSIONS_DIR = ".versions"
LOG_FILE = "log.jsonl"
DEFAULT_VERSION = "1.0.0"
_SAFE = re.compile(r"[^A-Za-z0-9._+-]")


class LibraryWriteError(Yaml2DagError):
    """A change the library refuses: invalid text, a taken name, an unsafe path, a version that
    goes backwards... ``problems`` holds validator problems when there are any."""

    def __init__(self, message: str, problems: list[Problem] | None = None):
        super().__init__(message)
        self.problems = list(problems or [])


# --------------------------------------------------------------------------- version numbers


def parse_version(version: str) -> tuple[int, ...] | None:
    """``"1.2.10"`` → ``(1, 2, 10)``; None when the version is not dotted numbers."""
    text = str(version).strip().lstrip("vV")
    if not re.fullmatch(r"\d+(\.\d+)*", text):
        return None
    return tuple(int(p) for p in text.split("."))


def version_key(version: str) -> tuple:
    """Sort key: dotted numbers by value (padded to 3 parts), others after, by text."""
    parsed = parse_version(version)
    if parsed is None:
        return (1, (), str(version))
    return (0, parsed + (0,) * max(0, 3 - len(parsed)), str(version))


def bump_patch(version: str) -> str:
    """The next patch version: ``1.2.3`` → ``1.2.4``, ``2`` → ``2.0.1``; a version whose
    last dot-part is not a number gets ``.1`` appended (``2024a`` → ``2024a.1``)."""
    parsed = parse_version(version)
    if parsed is not None:
        parts = list(parsed) + [0] * max(0, 3 - len(parsed))
        parts[-1] += 1
        return ".".join(str(p) for p in parts)
    head, _, last = str(version).rpartition(".")
    if last.isdigit():
        return f"{head}.{int(last) + 1}"
    return f"{version}.1"


def next_version(current: str, known: list[str]) -> str:
    """A patch bump above the highest of ``current`` and ``known`` (numeric versions), so a
    bump never reuses a version number that exists in the archive."""
    numeric = [v for v in [current, *known] if parse_version(v) is not None]
    base = max(numeric, key=version_key) if numeric and parse_version(current) is not None else current
    candidate = bump_patch(base)
    while candidate in known:
        candidate = bump_patch(candidate)
    return candidate


def is_newer(new: str, old: str) -> bool | None:
    """True/False when both versions are dotted numbers, else None (not comparable)."""
    a, b = parse_version(new), parse_version(old)
    if a is None or b is None:
        return None
    width = max(len(a), len(b), 3)
    return a + (0,) * (width - len(a)) > b + (0,) * (width - len(b))


# --------------------------------------------------------------------------- archive


def versions_root(root: str | Path) -> Path:
    """``<definitions>/.versions``."""
    return Path(root) / VERSIONS_DIR


def archive_dir(root: str | Path, job_id: str) -> Path:
    """``<definitions>/.versions/<job>``: the saved versions of one workflow."""
    return versions_root(root) / _SAFE.sub("_", job_id)


def _file_name(version: str, suffix: str) -> str:
    return _SAFE.sub("_", str(version)) + suffix


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@dataclass
class SavedVersion:
    """One version of a workflow.

    Attributes:
        version: the version string (``1.0.2``; ``1.0.2+2`` for a second, different content
            archived under the same version, e.g. after a hand edit that kept the number).
        file: the archived file, or the workflow file itself for the current version.
        saved_at: ISO-8601 UTC time the file was written.
        content_hash: SHA-256 of the file's bytes (as in the run tag ``yaml2dag/hash``).
        current: True for the file in the definitions folder.
        same_as_current: an archived copy with the current file's bytes.
        revisions: the ``seq`` numbers of the log entries that wrote this content (a content
            can be written again, e.g. by a rollback); empty for content never written by the
            CLI (e.g. the first, hand-written file).
        rollback: for the current file, when its content was last written by a rollback: that
            log entry (``seq``, ``at``, ``by``, ``restored``, ``previous``); else None.
    """

    version: str
    file: str
    saved_at: str
    content_hash: str
    current: bool = False
    same_as_current: bool = False
    revisions: list[int] = field(default_factory=list)
    rollback: dict | None = None

    def to_json(self) -> dict:
        return {"version": self.version, "file": self.file, "saved_at": self.saved_at,
                "hash": self.content_hash, "current": self.current, "same_as_current": self.same_as_current,
                "revisions": self.revisions, "rollback": self.rollback}


def _iso(stamp: float) -> str:
    return _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc).isoformat(timespec="seconds")


def archived(root: str | Path, job_id: str) -> list[SavedVersion]:
    """The archived versions of a job, oldest version first."""
    folder = archive_dir(root, job_id)
    if not folder.is_dir():
        return []
    out = []
    for path in folder.iterdir():
        if path.suffix.lower() not in (".yaml", ".yml", ".json") or not path.is_file():
            continue
        data = path.read_bytes()
        out.append(SavedVersion(path.stem, str(path), _iso(path.stat().st_mtime), _sha(data)))
    return sorted(out, key=lambda v: version_key(v.version))


def find_archived(root: str | Path, job_id: str, version: str) -> SavedVersion | None:
    """The archived file of ``version`` (exact name first, then the sanitised one)."""
    for saved in archived(root, job_id):
        if saved.version in (version, _SAFE.sub("_", version)):
            return saved
    return None


def find_by_hash(root: str | Path, job_id: str, content_hash: str) -> SavedVersion | None:
    """The archived version whose bytes hash to ``content_hash`` (for re-executing old runs)."""
    for saved in archived(root, job_id):
        if saved.content_hash == content_hash:
            return saved
    return None


def archive(root: str | Path, job_id: str, version: str, data: bytes, suffix: str = ".yaml") -> Path:
    """Keep ``data`` as version ``version`` of ``job_id``; returns the archived file.

    An identical archived copy of that version is reused; a different content under the same
    version (a hand edit that kept the number) is kept as ``<version>+2``, ``+3``...
    """
    folder = archive_dir(root, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    name = _file_name(version, suffix)
    candidate = folder / name
    n = 1
    while candidate.exists():
        if candidate.read_bytes() == data:
            return candidate
        n += 1
        candidate = folder / _file_name(f"{version}+{n}", suffix)
    _atomic_write(candidate, data)
    return candidate


def read_log(root: str | Path, job_id: str) -> list[dict]:
    """The change log of a job (oldest first): ``{seq, at, action, version, previous, by, file,
    hash}`` (plus ``restored`` for a rollback, ``archived`` for a delete). ``seq`` is the
    revision number, 1 for the first change; entries written before revisions were numbered
    get their position."""
    path = archive_dir(root, job_id) / LOG_FILE
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            out.append(entry)
    previous = 0
    for entry in out:
        if not isinstance(entry.get("seq"), int) or entry["seq"] <= previous:
            entry["seq"] = previous + 1
        previous = entry["seq"]
    return out


def _log(root: str | Path, job_id: str, entry: dict) -> int:
    """Append ``entry`` to the job's log with the next revision number; returns it (``seq``).
    Called with the library lock held."""
    folder = archive_dir(root, job_id)
    folder.mkdir(parents=True, exist_ok=True)
    existing = read_log(root, job_id)
    seq = existing[-1]["seq"] + 1 if existing else 1
    with open(folder / LOG_FILE, "a", encoding="utf-8") as fh:
        fh.write(json.dumps({"seq": seq, **entry}, ensure_ascii=False) + "\n")
    return seq


def _user() -> str:
    from yaml2dag.runs.approvals import default_user

    return default_user()


# --------------------------------------------------------------------------- paths and writes


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o7777)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def locked(root: str | Path) -> Iterator[None]:
    """Hold the library's write lock (``.versions/.lock``) while inside."""
    folder = versions_root(root)
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / ".lock", "a+") as fh:
        try:
            import fcntl

            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        except (ImportError, OSError):  # pragma: no cover - no flock: best effort
            pass
        yield


def inside(root: str | Path, path: str | Path) -> Path:
    """``path`` resolved, checked to be a file path inside the definitions folder ``root``.

    Both are paths as the caller holds them: a relative ``root`` or ``path`` is relative to the
    current directory (``definitions/x.yaml`` with ``root`` = ``definitions``), never to
    ``root``; joining a relative path to ``root`` wrote ``definitions/definitions/x.yaml``
    (issue #10, point 1).

    Returns:
        The absolute, resolved path.

    Raises:
        LibraryWriteError: the path (after following symlinks) is outside ``root`` or is
            ``root`` itself, or is inside a hidden/underscore folder of it that the loader skips.
    """
    base = Path(root).resolve()
    resolved = Path(path).resolve()
    if base not in resolved.parents:
        raise LibraryWriteError(f"{path} is outside the definitions folder {root}")
    rel = resolved.relative_to(base).parts
    if any(part.startswith((".", "_")) for part in rel):
        raise LibraryWriteError(f"{path} is in a folder the library skips (names starting with . or _)")
    return resolved


def check_writable_target(path: str | Path, force: bool = False) -> Path:
    """A path outside the library the user asked us to write (``export --file``): refused when
    it is a folder, or an existing file and ``force`` is not set.

    Raises:
        LibraryWriteError: see above.
    """
    target = Path(path)
    if target.is_dir():
        raise LibraryWriteError(f"{path} is a folder; give a file name")
    if target.exists() and not force:
        raise LibraryWriteError(f"{path} exists; use --force to overwrite it")
    if not target.parent.exists():
        raise LibraryWriteError(f"the folder {target.parent} does not exist")
    return target


# --------------------------------------------------------------------------- checking text


def check_text(root: str | Path, text: str, target: str | Path) -> Any:
    """Validate ``text`` as the content of ``target`` in the library at ``root``.

    Runs the validator, then the checks across the folder with every *other* workflow file
    (duplicate names and job ids, unknown sub-workflows).

    Returns:
        The :class:`~yaml2dag.format.validation.FileReport` (check ``.valid``).
    """
    from yaml2dag.format.loader import iter_workflow_files
    from yaml2dag.format.validation import folder_problems, validate_file, validate_text

    target_resolved = Path(target).resolve()
    report = validate_text(text, str(target))
    if report.workflow is not None and Path(root).is_dir():
        others = [validate_file(p) for p in iter_workflow_files(root) if Path(p).resolve() != target_resolved]
        # the new text comes last, so a name or job id it shares with another file is its problem
        folder_problems(others + [report])
    return report


def version_of(text: str) -> str:
    """The ``version`` a workflow text declares (default ``1.0.0``)."""
    from yaml2dag.format.loader import load_text

    doc = load_text(text)
    data = doc.data if isinstance(doc.data, dict) else {}
    value = data.get("version")
    return str(value) if value not in (None, "") else DEFAULT_VERSION


def _job_of(text: str, fallback: str) -> str:
    from yaml2dag.format.loader import load_text
    from yaml2dag.format.model import slugify

    doc = load_text(text)
    data = doc.data if isinstance(doc.data, dict) else {}
    if isinstance(data.get("id"), str) and data["id"]:
        return data["id"]
    if isinstance(data.get("name"), str) and data["name"]:
        return slugify(data["name"])
    return fallback


# --------------------------------------------------------------------------- changes


@dataclass
class Change:
    """What a write did (the JSON the library commands print).

    Attributes:
        action: ``create``, ``edit``, ``schedule``, ``import``, ``rollback`` or ``delete``.
        file: the workflow file.
        workflow: its name; ``job``: its job id.
        version: the version now in the file (None after ``delete``).
        previous_version: the version it replaced (None for new files).
        archived: the archived copy of the previous file, if one was kept.
        changed: False when the new text equals the old one (nothing was written).
        warnings: validator warnings of the new text.
        revision: the ``seq`` of the log entry this change wrote (None when nothing changed).
        restored: for a rollback, the saved version it brought back.
    """

    action: str
    file: str
    workflow: str | None
    job: str | None
    version: str | None
    previous_version: str | None = None
    archived: str | None = None
    changed: bool = True
    warnings: list[str] = field(default_factory=list)
    revision: int | None = None
    restored: str | None = None

    def to_json(self) -> dict:
        return {"action": self.action, "file": self.file, "workflow": self.workflow, "job": self.job,
                "version": self.version, "previous_version": self.previous_version,
                "archived": self.archived, "changed": self.changed, "warnings": self.warnings,
                "revision": self.revision, "restored": self.restored}


def commit_change(root: str | Path, path: str | Path, new_text: str, *, action: str,
                  bump: bool = True, create: bool = False) -> Change:
    """Write ``new_text`` to the workflow file ``path`` of the library at ``root``.

    Args:
        root: the definitions folder.
        path: the workflow file (must be inside ``root``).
        new_text: its new content.
        action: what this is, for the change log (``edit``, ``schedule``, ``import``...).
        bump: when the file exists and ``new_text`` keeps its version, set a patch bump
            (:func:`next_version`); False keeps the text's version as it is.
        create: the file must not exist yet (refuse to overwrite).

    Returns:
        The :class:`Change`.

    Raises:
        LibraryWriteError: path outside the library, file exists with ``create``, new text
            invalid (``problems`` set), or an explicit version that is not new / goes
            backwards.
    """
    target = inside(root, path)
    with locked(root):
        exists = target.exists()
        if create and exists:
            raise LibraryWriteError(f"{path} already exists; refusing to overwrite it")
        old_bytes = target.read_bytes() if exists else None
        old_text = old_bytes.decode("utf-8", errors="replace") if old_bytes is not None else None
        if old_text is not None and new_text == old_text:
            report = check_text(root, new_text, target)
            wf = report.workflow
            return Change(action, str(path), wf.name if wf else None, wf.id if wf else None,
                          version_of(new_text), version_of(new_text), None, changed=False)
        previous = version_of(old_text) if old_text is not None else None
        old_job = _job_of(old_text, target.stem) if old_text is not None else None
        new_job = _job_of(new_text, target.stem)
        if old_text is not None:
            known = [v.version.split("+")[0] for v in archived(root, old_job)]
            if new_job != old_job:
                known += [v.version.split("+")[0] for v in archived(root, new_job)]
            wanted = version_of(new_text)
            explicit = wanted != previous
            if explicit:
                if wanted in known:
                    raise LibraryWriteError(f"version {wanted} already exists in the archive of `{old_job}`; "
                                            f"choose a new version (next: {next_version(previous, known)})")
                if is_newer(wanted, previous) is False:
                    raise LibraryWriteError(f"version {wanted} is not newer than the current version {previous}")
            elif bump:
                doc = RoundTripDocument(new_text, is_json_path(target))
                doc.set_top("version", next_version(previous, known))
                new_text = doc.dump()
        report = check_text(root, new_text, target)
        if not report.valid:
            raise LibraryWriteError(f"{path} would not be a valid workflow; nothing was saved", list(report.errors))
        wf = report.workflow
        kept = None
        if old_bytes is not None:
            if new_job != old_job:
                _move_archive(root, old_job, new_job)
            kept = str(archive(root, new_job, previous or DEFAULT_VERSION, old_bytes, target.suffix or ".yaml"))
        _atomic_write(target, new_text.encode("utf-8"))
        version = version_of(new_text)
        seq = _log(root, new_job, {"at": _iso(_now()), "action": action, "version": version, "previous": previous,
                                   "by": _user(), "file": str(path), "hash": _sha(new_text.encode("utf-8"))})
        return Change(action, str(path), wf.name, wf.id, version, previous, kept,
                      warnings=[p.format() for p in report.warnings], revision=seq)


def _now() -> float:
    import time

    return time.time()


def _move_archive(root: str | Path, old_job: str, new_job: str) -> None:
    old, new = archive_dir(root, old_job), archive_dir(root, new_job)
    if old.is_dir() and not new.exists():
        old.rename(new)


def rollback(root: str | Path, path: str | Path, job_id: str, version: str) -> Change:
    """Restore the archived ``version`` of ``job_id`` into ``path``, byte for byte.

    The rollback is a new revision: the file it replaces is archived first, and a ``rollback``
    log entry (next ``seq``, ``restored``: the saved version) is written. The restored file
    keeps the ``version`` it had; the next change bumps above every known version.

    Raises:
        LibraryWriteError: no such archived version, or the archived text does not validate
            any more (e.g. a tool it uses is gone).
    """
    target = inside(root, path)
    saved = find_archived(root, job_id, version)
    if saved is None:
        known = ", ".join(v.version for v in archived(root, job_id)) or "none"
        raise LibraryWriteError(f"`{job_id}` has no saved version {version} (saved: {known})")
    data = Path(saved.file).read_bytes()
    with locked(root):
        old_bytes = target.read_bytes() if target.exists() else None
        if old_bytes == data:
            return Change("rollback", str(path), None, job_id, version, version, None, changed=False)
        text = data.decode("utf-8")
        report = check_text(root, text, target)
        if not report.valid:
            raise LibraryWriteError(f"version {version} of `{job_id}` does not validate any more; nothing was restored",
                                    report.errors)
        previous = version_of(old_bytes.decode("utf-8", errors="replace")) if old_bytes is not None else None
        kept = None
        if old_bytes is not None:
            kept = str(archive(root, job_id, previous or DEFAULT_VERSION, old_bytes, target.suffix or ".yaml"))
        _atomic_write(target, data)
        seq = _log(root, job_id, {"at": _iso(_now()), "action": "rollback", "version": version_of(text),
                                  "previous": previous, "restored": saved.version, "by": _user(), "file": str(path),
                                  "hash": _sha(data)})
        wf = report.workflow
        return Change("rollback", str(path), wf.name if wf else None, job_id, version_of(text), previous, kept,
                      revision=seq, restored=saved.version)


def delete_workflow(root: str | Path, path: str | Path, job_id: str) -> Change:
    """Delete a workflow file (inside ``root``), archiving it first so it can be imported back.

    Raises:
        LibraryWriteError: the path is outside the library or not a file.
    """
    target = inside(root, path)
    if not target.is_file():
        raise LibraryWriteError(f"{path} is not a file")
    with locked(root):
        data = target.read_bytes()
        version = version_of(data.decode("utf-8", errors="replace"))
        kept = archive(root, job_id, version, data, target.suffix or ".yaml")
        target.unlink()
        seq = _log(root, job_id, {"at": _iso(_now()), "action": "delete", "version": None, "previous": version,
                                  "by": _user(), "file": str(path), "archived": str(kept)})
    return Change("delete", str(path), None, job_id, None, version, str(kept), revision=seq)


def history(root: str | Path, path: str | Path, job_id: str) -> list[SavedVersion]:
    """Every version of a workflow: the archived ones and the current file (marked ``current``),
    sorted by version. Each has the revisions (log ``seq``) that wrote its content; the current
    one, when a rollback wrote it, has that log entry as ``rollback``."""
    out = archived(root, job_id)
    log = read_log(root, job_id)
    for saved in out:
        saved.revisions = [e["seq"] for e in log if e.get("hash") == saved.content_hash]
    current_path = Path(path)
    if current_path.is_file():
        data = current_path.read_bytes()
        digest = _sha(data)
        for saved in out:
            saved.same_as_current = saved.content_hash == digest
        writes = [e for e in log if e.get("hash") == digest]
        last = writes[-1] if writes else None
        rolled = None
        if last is not None and last.get("action") == "rollback" and last is log[-1]:
            rolled = {k: last.get(k) for k in ("seq", "at", "by", "restored", "previous")}
        current = SavedVersion(version_of(data.decode("utf-8", errors="replace")), str(current_path),
                               _iso(current_path.stat().st_mtime), digest, current=True,
                               revisions=[e["seq"] for e in writes], rollback=rolled)
        out = [s for s in out if not (s.same_as_current and s.version == current.version)] + [current]
    return sorted(out, key=lambda v: (version_key(v.version), v.current))


def text_of(root: str | Path, path: str | Path, job_id: str, version: str) -> str:
    """The text of ``version``: the current file when it has that version, else the archive.

    Raises:
        LibraryWriteError: unknown version.
    """
    current = Path(path)
    if current.is_file():
        text = current.read_text(encoding="utf-8")
        if version_of(text) == version:
            return text
    saved = find_archived(root, job_id, version)
    if saved is None:
        known = ", ".join(v.version for v in history(root, path, job_id)) or "none"
        raise LibraryWriteError(f"`{job_id}` has no version {version} (versions: {known})")
    return Path(saved.file).read_text(encoding="utf-8")


__all__ = [
    "Change", "LibraryWriteError", "SavedVersion", "archive", "archived", "bump_patch", "check_text",
    "commit_change", "delete_workflow", "find_archived", "find_by_hash", "history", "inside",
    "next_version", "parse_version", "read_log", "rollback", "text_of", "version_of",
]
