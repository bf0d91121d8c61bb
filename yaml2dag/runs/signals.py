"""The process's SIGINT and SIGTERM handlers, kept across a run executed in this process.

Dagster's in-process calls (creating a run: ``user_code_error_boundary``; executing it:
``capture_interrupts()``) replace the SIGINT handler on the main thread and, on the way out, set
SIGTERM to whatever SIGINT's handler was before (``setup_interrupt_handlers``: "map SIGTERM to
SIGINT, for k8s"). A process started with SIGINT ignored — in the background of a
non-interactive shell (``cmd &`` in a CI script), under ``nohup`` — therefore ignores SIGTERM after
its first run, and so does every process it starts afterwards (an ignored signal is inherited
across ``exec``): it can no longer be stopped with SIGTERM, and Dagster's own compute-log
``tail`` processes, stopped with SIGTERM, then hang its next runs for 30 s each (when a run executes
on another thread). :func:`yaml2dag.runs.runner.run_workflow` restores both handlers when it returns.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator


@contextlib.contextmanager
def signal_handlers_kept() -> Iterator[None]:
    """Restore SIGINT's and SIGTERM's handlers, as they were on entry, on exit (main thread only:
    signal handlers can be set from the main thread alone, and elsewhere Dagster changes none).
    A context manager, or a decorator (``@signal_handlers_kept()``)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for number, handler in saved.items():
            if handler is not None:  # None: set outside Python, cannot be restored from here
                signal.signal(number, handler)
