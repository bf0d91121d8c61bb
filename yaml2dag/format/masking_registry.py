"""The secrets registered per run in this process, and masking in Python logging (spec §5).

The sinks that do not know the workflow (the IO manager, the event log, file descriptors and
every :class:`logging.LogRecord`) mask what :func:`register` recorded for the run; at most
:data:`MAX_REGISTERED_RUNS` runs are remembered, the oldest forgotten first.
"""


from __future__ import annotations

import logging
import threading
from typing import Any, Iterable

from yaml2dag.format.masker import masker_of
from yaml2dag.format.masking_forms import MIN_MASKED_LENGTH


# --------------------------------------------------------------------------- registry

_registry: dict[str, frozenset[str]] = {}
_registry_lock = threading.Lock()
_version = [0]
#: Runs remembered per process; the oldest is forgotten beyond this.
MAX_REGISTERED_RUNS = 64


def register(run_id: str | None, values: Iterable[str | None]) -> None:
    """Remember ``values`` as secrets of ``run_id`` in this process, for the sinks that do not
    know the workflow (IO manager, event log, file descriptors). Short values are ignored."""
    new = frozenset(v for v in values if isinstance(v, str) and len(v) >= MIN_MASKED_LENGTH)
    if not new:
        return
    key = run_id or ""
    with _registry_lock:
        old = _registry.get(key, frozenset())
        if new <= old:
            return
        _registry.pop(key, None)
        _registry[key] = old | new
        while len(_registry) > MAX_REGISTERED_RUNS:
            _registry.pop(next(iter(_registry)))
        _version[0] += 1


def registered(run_id: str | None = None) -> tuple[str, ...]:
    """The secrets registered for ``run_id``, or for every run in this process (None)."""
    with _registry_lock:
        if run_id is None:
            values: set[str] = set()
            for found in _registry.values():
                values |= found
        else:
            values = set(_registry.get(run_id, ()))
    return tuple(sorted(values))


def registry_version() -> int:
    """A number that changes whenever the registry does (to cache maskers of it)."""
    return _version[0]


def forget(run_id: str | None) -> None:
    """Drop what the registry holds for ``run_id`` (the run ended in this process)."""
    with _registry_lock:
        if _registry.pop(run_id or "", None) is not None:
            _version[0] += 1


# --------------------------------------------------------------------------- Python logging

_factory_lock = threading.Lock()
_factory_installed = [False]


def install_log_record_masking() -> None:
    """Mask the registered secrets in every :class:`logging.LogRecord` this process creates
    (message, arguments and exception text), whichever logger creates it and whichever handler
    then stores or prints it: a step's ``logging``/``dagster.get_dagster_logger()`` lines reach
    the event log through Dagster's handlers, which yaml2dag does not own.

    Installed once per process, on top of the current record factory
    (:func:`logging.setLogRecordFactory`); costs nothing while no secret is registered.
    """
    with _factory_lock:
        if _factory_installed[0]:
            return
        previous = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = previous(*args, **kwargs)
            if not _registry:
                return record
            try:
                current = masker_of(registered())
                message = record.getMessage()
                masked = current.text(message)
                if masked != message:
                    record.msg, record.args = masked, ()
                if record.exc_info and record.exc_info[0] is not None:
                    record.exc_text = current.text(logging.Formatter().formatException(record.exc_info))
            except Exception:  # noqa: BLE001 - logging must never fail because of masking
                pass
            return record

        logging.setLogRecordFactory(factory)
        _factory_installed[0] = True
