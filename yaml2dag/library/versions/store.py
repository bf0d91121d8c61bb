"""The archive of saved versions (``<definitions>/.versions/<job>/``): the kept files, the change
log with its revision numbers, and every version of a workflow read back.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from yaml2dag.runs.users import default_user
from yaml2dag.library.versions.checks import version_of
from yaml2dag.library.versions.numbering import version_key
from yaml2dag.library.versions.writes import LibraryWriteError, _atomic_write, versions_root


LOG_FILE = "log.jsonl"


_SAFE = re.compile(r"[^A-Za-z0-9._+-]")


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
    return default_user()


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
