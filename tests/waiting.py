"""One bounded wait for the whole suite: :func:`wait_until`.

Every test that waits for something another process does (a run to finish, a server to answer,
a gate to open, a file to appear) polls through this helper, so that each wait has a bound, an
interval, a name in the failure message, and fails at once when the process it waits on dies.
"""

from __future__ import annotations

import subprocess
import time
from typing import Any, Callable, Iterable


class WaitTimeout(AssertionError):
    """A :func:`wait_until` that ran out of time, or whose process died first; an
    ``AssertionError``, so pytest reports it as a plain test failure."""


def wait_until(predicate: Callable[[], Any], timeout: float, interval: float = 0.2, what: str = "a condition", *,
               process: Any = None, ignore: Iterable[type[BaseException]] = (),
               details: Callable[[], str] | None = None) -> Any:
    """Call ``predicate`` every ``interval`` seconds until it returns a true value, and return that value.

    Args:
        predicate: a function of no arguments; any true return value ends the wait.
        timeout: the bound in seconds (monotonic clock); the predicate runs at least once, and
            once more at the deadline so a slow last interval does not lose a true answer.
        interval: seconds slept between two calls.
        what: what is awaited, in words, for the failure message ("the run to finish").
        process: a process the awaited thing depends on, anything with ``poll()`` returning its
            exit code or None (a ``subprocess.Popen``, a ``cli_forkserver.Call``): when it has
            exited, the wait fails at once (with its exit code) instead of running out the bound.
        ignore: exception types the predicate may raise meaning "not yet" (e.g. a connection
            refused while a server starts); the last one is shown on failure. Others propagate.
        details: a function returning text appended to the failure message (a log tail).

    Returns:
        The predicate's first true return value.

    Raises:
        WaitTimeout: (an ``AssertionError``) the bound passed, or ``process`` exited, first.
    """
    ignore = tuple(ignore)
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        final = time.monotonic() >= deadline
        try:
            last = predicate()
        except ignore as exc:  # noqa: PERF203 - "not yet"
            last = exc
        else:
            if last:
                return last
        if final:
            break
        code = process.poll() if process is not None else None
        if code is not None:
            _fail(f"{_describe(process)} exited with code {code} while waiting for {what} "
                  f"(last: {last!r})", details)
        time.sleep(max(0.0, min(interval, deadline - time.monotonic())))
    _fail(f"timed out after {timeout:g}s waiting for {what} (last: {last!r})", details)


def _describe(process: Any) -> str:
    args = process.args
    if isinstance(args, (list, tuple)):
        args = " ".join(str(a) for a in args[:4])
    return f"the process {args!s:.120}"


def _fail(message: str, details: Callable[[], str] | None) -> None:
    if details is not None:
        try:
            message += "\n" + details()
        except Exception as exc:  # noqa: BLE001 - the message matters more than its tail
            message += f"\n(details unavailable: {exc!r})"
    raise WaitTimeout(message)
