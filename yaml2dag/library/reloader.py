"""Hot reload for ``yaml2dag dev``: watch the definitions folder, reload the code location.

A :class:`DefinitionsReloader` runs a watchdog observer on the definitions folder. When a
workflow file (``.yaml``, ``.yml``, ``.json``; names and folders starting with ``.`` or ``_``
ignored, as the code location ignores them) is added, changed, moved or removed, it waits until
the folder has been quiet for ``debounce`` seconds (an editor's save is several events), then
asks the webserver to reload the yaml2dag code location (GraphQL ``reloadRepositoryLocation``).
The new jobs, schedules and sensors show in the UI as soon as the code server has reloaded,
typically within a few seconds; the daemon picks up new schedules and sensors on its next
workspace refresh (Dagster refreshes it every 60 seconds). An invalid file becomes the
broken-workflow job, so a reload never leaves a dead location.

If the webserver is not up yet (or a reload fails) the reload is retried every ``retry``
seconds until it succeeds or a newer change supersedes it.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Callable

from yaml2dag.format.loader import WORKFLOW_SUFFIXES
from yaml2dag.triggers.remote import LOCATION_NAME, Endpoint, RemoteError, location_names, reload_location


def is_workflow_path(path: str | Path, root: str | Path) -> bool:
    """Whether a change at ``path`` can change the code location rooted at ``root``.

    True for workflow files and for folders (a folder moved or removed takes its files along),
    unless a part of the path below ``root`` starts with ``.`` or ``_`` (version archives,
    helper folders, editor swap files).
    """
    p, r = Path(path), Path(root)
    try:
        rel = p.relative_to(r)
    except ValueError:
        return False
    if any(part.startswith((".", "_")) for part in rel.parts):
        return False
    if not rel.parts:
        return False
    return p.suffix.lower() in WORKFLOW_SUFFIXES or p.suffix == ""


def pick_locations(names: list[str]) -> list[str]:
    """The code locations to reload: ``yaml2dag`` (or those named ``yaml2dag...``), else all."""
    ours = [n for n in names if n == LOCATION_NAME or n.startswith(LOCATION_NAME)]
    return ours or list(names)


class DefinitionsReloader:
    """Watches ``folder`` and reloads the code locations of the webserver at ``endpoint``.

    Args:
        folder: the definitions folder (created if missing, so files can be dropped into it).
        endpoint: the webserver (:func:`yaml2dag.triggers.remote.parse_url`).
        debounce: seconds of quiet after the last change before reloading.
        retry: seconds between attempts while the webserver is unreachable or a reload fails.
        log: called with one line of text per reload (default: no output).

    Attributes:
        reloads: number of successful reloads (for tests and status lines).
    """

    def __init__(self, folder: str | Path, endpoint: Endpoint, *, debounce: float = 1.0, retry: float = 2.0,
                 log: Callable[[str], None] | None = None):
        self.folder = Path(folder).resolve()
        self.endpoint = endpoint
        self.debounce = debounce
        self.retry = retry
        self.log = log or (lambda _text: None)
        self.reloads = 0
        self._lock = threading.Lock()
        self._changed: set[str] = set()
        self._last_change = 0.0
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._observer = None
        self._thread: threading.Thread | None = None

    # -- watchdog side
    def notice(self, *paths: str) -> None:
        """Record a change at ``paths`` (ignored unless :func:`is_workflow_path`)."""
        relevant = [p for p in paths if p and is_workflow_path(p, self.folder)]
        if not relevant:
            return
        with self._lock:
            self._changed.update(relevant)
            self._last_change = time.monotonic()
        self._wake.set()

    def start(self) -> "DefinitionsReloader":
        """Start the observer and the reload thread; returns self."""
        # lazy: watchdog is heavy and optional here; kept off light paths
        from watchdog.events import FileSystemEventHandler
        # lazy: watchdog is heavy and optional here; kept off light paths
        from watchdog.observers import Observer

        reloader = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):  # noqa: D401 - watchdog callback
                if event.event_type in ("opened", "closed_no_write"):
                    return
                reloader.notice(str(event.src_path), str(getattr(event, "dest_path", "") or ""))

        self.folder.mkdir(parents=True, exist_ok=True)
        self._observer = Observer()
        self._observer.schedule(Handler(), str(self.folder), recursive=True)
        self._observer.daemon = True
        self._observer.start()
        self._thread = threading.Thread(target=self._run, name="yaml2dag-reloader", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching (bounded by ``timeout`` seconds per thread)."""
        self._stop.set()
        self._wake.set()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
        if self._thread is not None:
            self._thread.join(timeout)

    # -- reload side
    def _run(self) -> None:
        while not self._stop.is_set():
            self._wake.wait(timeout=0.5)
            self._wake.clear()
            with self._lock:
                pending = bool(self._changed)
                quiet = time.monotonic() - self._last_change
            if not pending:
                continue
            if quiet < self.debounce:
                self._stop.wait(self.debounce - quiet)
                continue
            with self._lock:
                changed, self._changed = self._changed, set()
                stamp = self._last_change
            try:
                names = self.reload_now()
            except RemoteError as exc:
                with self._lock:
                    self._changed |= changed  # try again, unless something newer came in
                    self._last_change = max(self._last_change, stamp)
                self.log(f"reload pending ({exc}); retrying in {self.retry:g}s")
                self._stop.wait(self.retry)
                continue
            shown = ", ".join(sorted(Path(p).name for p in changed)[:5])
            self.log(f"{shown} changed: reloaded {', '.join(names)}")

    def reload_now(self) -> list[str]:
        """Reload the yaml2dag code location(s) now; returns their names.

        Raises:
            RemoteError: the webserver is unreachable or a reload failed.
        """
        names = pick_locations(location_names(self.endpoint))
        if not names:
            raise RemoteError(f"the webserver at {self.endpoint.url} has no code location")
        for name in names:
            reload_location(self.endpoint, name)
        self.reloads += 1
        return names
