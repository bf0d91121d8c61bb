"""Changes to the library: commit a new text (validated, version bumped, previous file archived,
logged), roll back to a saved version, delete a workflow.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from yaml2dag.library.roundtrip import RoundTripDocument, is_json_path
from yaml2dag.library.versions.checks import check_text, _job_of, version_of
from yaml2dag.library.versions.numbering import DEFAULT_VERSION, is_newer, next_version
from yaml2dag.library.versions.store import (
    archive,
    archive_dir,
    archived,
    find_archived,
    _iso,
    _log,
    _sha,
    _user,
)
from yaml2dag.library.versions.writes import LibraryWriteError, _atomic_write, inside, locked
import time


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
