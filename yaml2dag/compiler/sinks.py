"""Where a run writes, masked: the event log and the step outputs (issue 10 point 3, "Secrets").

The ops mask what they produce (:mod:`.ops`), but a run writes more than the ops say: Dagster's
own events quote exceptions and objects (``STEP_FAILURE`` with an error's message and stack,
"Object ... is not picklable"), and the IO manager pickles whatever an op yields. So, in
addition, every sink is filtered by what is written, whatever produced it:

* **event log**: :class:`SecretLogFilter` sits on the step's log manager (a
  :class:`logging.Logger`), so each record — a ``context.log`` line or a Dagster event of the
  step — is masked before any handler stores or prints it (the event is serialised with
  Dagster's public ``serialize_value``, every string in it masked, and read back); records of
  Python's ``logging`` (``dagster.get_dagster_logger()``, managed loggers) are masked when they
  are created (:func:`yaml2dag.format.masking.install_log_record_masking`);
* **step outputs**: :class:`SecretGuardIOManager`, the jobs' ``io_manager``, is Dagster's
  pickling filesystem IO manager that searches the pickle for every binary form of the run's
  secrets before writing it, and refuses to store it when one is there;
* **compute logs and the terminal**: :func:`yaml2dag.tools.capture.masked_fds`.

The secrets are those registered for the run in this process (:mod:`yaml2dag.format.masking`).
"""

from __future__ import annotations

import json
import logging
import pickle
from typing import Any

import dagster as dg

from yaml2dag.dagster_internals import PickledObjectFilesystemIOManager
from yaml2dag.format.masking import (
    PICKLE_PROTOCOL,
    Masker,
    SecretInResultError,
    install_log_record_masking,
    masker_of,
    register,
    registered,
)

#: Attribute of a log record that holds the Dagster event (set by Dagster's log manager).
_EVENT_ATTR = "dagster_event"


def mask_serializable(obj: Any, masker: Masker) -> Any:
    """A copy of a Dagster serialisable object (an event, an error) with every string masked,
    or ``obj`` itself when none holds a secret.

    The object is serialised with :func:`dagster.serialize_value`, each string of the JSON is
    masked (so escapes are never cut in half) and the result is read back with
    :func:`dagster.deserialize_value`.
    """
    try:
        text = dg.serialize_value(obj)
    except Exception:  # noqa: BLE001 - not serialisable: nothing Dagster would store either
        return obj
    if not masker.in_text(text):
        return obj
    cleaned = json.dumps(masker.value(json.loads(text)))
    return dg.deserialize_value(cleaned, as_type=type(obj))


class SecretLogFilter(logging.Filter):
    """Masks the message and the Dagster event of each record of a run's log manager.

    Args:
        run_id: the run whose registered secrets are masked.
    """

    def __init__(self, run_id: str):
        super().__init__(name="")
        self.run_id = run_id

    def filter(self, record: logging.LogRecord) -> bool:
        masker = masker_of(registered(self.run_id))
        if not masker:
            return True
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a bad format string: keep the raw text
            message = str(record.msg)
        masked = masker.text(message)
        if masked != message or record.args:
            record.msg, record.args = masked, ()
        event = getattr(record, _EVENT_ATTR, None)
        if event is not None:
            try:
                setattr(record, _EVENT_ATTR, mask_serializable(event, masker))
            except Exception:  # noqa: BLE001 - never lose a Dagster event; its texts were masked at the op
                pass
        return True


def guard_step(context: Any, secrets: tuple[str, ...]) -> None:
    """Register ``secrets`` for the run of an op ``context`` and put a :class:`SecretLogFilter`
    on the step's log manager (once)."""
    register(context.run_id, secrets)
    install_log_record_masking()  # Python logging of the step (get_dagster_logger, managed loggers)
    log = context.log
    if not any(isinstance(f, SecretLogFilter) for f in getattr(log, "filters", ())):
        log.addFilter(SecretLogFilter(context.run_id))


class _PathNoteFilter(logging.Filter):
    """Drops the "Writing file at" / "Loading file from" DEBUG lines of :class:`SecretGuardIOManager`."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno != logging.DEBUG:
            return True
        text = record.getMessage()
        return not (text.startswith(("Writing file at: ", "Loading file from: "))
                    and text.endswith(" using SecretGuardIOManager..."))


_PATH_NOTES = _PathNoteFilter()


class _without_path_notes:
    """While inside, the IO manager context's log manager (a :class:`logging.Logger`) drops the
    manager's path notes; any other record passes."""

    def __init__(self, context: Any):
        self.log = getattr(context, "log", None)

    def __enter__(self) -> None:
        if isinstance(self.log, logging.Logger):
            self.log.addFilter(_PATH_NOTES)

    def __exit__(self, *exc: Any) -> None:
        if isinstance(self.log, logging.Logger):
            self.log.removeFilter(_PATH_NOTES)


class SecretGuardIOManager(PickledObjectFilesystemIOManager):
    """Dagster's pickling filesystem IO manager (same files, same paths, same loading) that will
    not write a pickle holding a secret of the run.

    Raises (from ``handle_output``):
        SecretInResultError: the pickled output holds a binary form of a registered secret.
    """

    # Dagster's filesystem IO manager logs a DEBUG line per output written and per input loaded
    # ("Writing file at: ...", "Loading file from: ..."); each is a record of its own in the event
    # log (an SQLite transaction on the default instance), four per ``for_each`` element, while
    # HANDLED_OUTPUT already carries the path as metadata and LOADED_INPUT names the output read
    # (issue 13 §2, docs/benchmarks.md "Fan-out"). Those two lines of this manager are dropped.
    def handle_output(self, context: dg.OutputContext, obj: Any) -> None:
        with _without_path_notes(context):
            super().handle_output(context, obj)

    def load_input(self, context: dg.InputContext) -> Any:
        with _without_path_notes(context):
            return super().load_input(context)

    def dump_to_path(self, context: dg.OutputContext, obj: Any, path: Any) -> None:
        masker = masker_of(registered(context.run_id))
        if not masker:
            super().dump_to_path(context, obj, path)
            return
        try:
            data = pickle.dumps(obj, PICKLE_PROTOCOL)
        except Exception:  # noqa: BLE001 - Dagster's own error for what cannot be pickled
            super().dump_to_path(context, obj, path)
            return
        if masker.in_data(data):
            raise SecretInResultError(f"output `{context.name}` of step `{context.step_key}` "
                                      f"(a {type(obj).__module__}.{type(obj).__qualname__})")
        with path.open("wb") as file:
            file.write(data)


@dg.io_manager(
    config_schema={"base_dir": dg.Field(dg.StringSource, is_required=False,
                                        description="Base directory of the stored outputs.")},
    description="Dagster's pickling filesystem IO manager, refusing outputs that hold a secret.",
)
def secret_guard_io_manager(init_context) -> SecretGuardIOManager:
    """The jobs' ``io_manager``: outputs under ``base_dir``, else the instance's storage folder
    (as Dagster's ``fs_io_manager``)."""
    base_dir = (init_context.resource_config or {}).get("base_dir") or init_context.instance.storage_directory()
    return SecretGuardIOManager(base_dir=base_dir)


__all__ = ["SecretGuardIOManager", "SecretLogFilter", "guard_step", "mask_serializable",
           "secret_guard_io_manager"]
