"""Pausing Python's cyclic garbage collector while one file is parsed and validated.

Validation allocates a large, almost entirely acyclic object graph (the YAML node tree, the values
with their positions, the model, the plan). CPython's generational collector is triggered by
allocation counts (700 allocations for a young collection by default, ``gc.get_threshold()``), and
its full collections walk every live object, so on a large file the collector re-walks the growing
graph again and again: measured on a 10,000-step generated workflow (``benchmarks/validate_scale.py``),
validation took 2.4-2.7 s of CPU with the collector running and 1.2-1.8 s paused
(``python /tmp/vt/gc.py``-style A/B in one process; docs/benchmarks.md, "Validating one large
workflow"). Reference counting still frees everything acyclic at once; the cycles a validation
leaves (a few exception tracebacks) are collected at the next collection after the pause.

The pause is process-wide (the collector is), so it is counted: nested or concurrent pauses (the
code location validating on several threads) restore the collector's state only when the last one
ends, and a collector that was already disabled by the application stays disabled.
"""

from __future__ import annotations

import gc
import threading
from contextlib import contextmanager
from typing import Iterator

_lock = threading.Lock()
_depth = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    """Context manager: the cyclic garbage collector is disabled inside (reference counting is not).

    Re-entrant and thread-safe; the collector's state before the outermost pause is restored when
    the last pause ends. Raises nothing of its own.
    """
    global _depth, _was_enabled
    with _lock:
        if _depth == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _was_enabled:
                gc.enable()
