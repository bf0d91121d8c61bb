"""What happens inside a step when it runs, independent of Dagster's API.

The ops built by :mod:`yaml2dag.compiler.ops` call into this module: building the template
scope (spec §5), rendering parameters, running the tool action with the step's timeout, and
shaping step results. Keeping it free of Dagster imports keeps it testable on its own and keeps
the per-step work small.

Step results (:func:`result`, :func:`skipped_result`) and what conditions, branches, retries
and ``on_error`` mean are defined in :mod:`yaml2dag.format.semantics` (re-exported here).
"""

from __future__ import annotations

import ctypes
import os
import threading
import time
from collections.abc import Mapping
from typing import Any, Callable, Iterator

from yaml2dag.format.errors import TemplateError
from yaml2dag.format.expressions import NameReader, evaluate, render_value
from yaml2dag.format.jsonable import to_jsonable  # noqa: F401 - re-exported: runtime.to_jsonable
from yaml2dag.format.semantics import (  # noqa: F401 - step results, re-exported for the ops and runs
    FAILED, SKIPPED, SUCCEEDED, SkippedResult, result, skipped_result,
)
from yaml2dag.tools.base import Action, StepTimeoutError, ToolContext, ToolError, ToolResult
import json
from yaml2dag.tools.capture import masked_fds


class EnvMapping(NameReader):
    """``env.NAME``: one environment variable, read when the template renders; the environment
    cannot be listed from a template (``env | list``, ``env.items()``: spec §5)."""

    def __init__(self) -> None:
        super().__init__(os.environ.__getitem__, "env")


class LazyMapping(Mapping):
    """A mapping whose values are computed on first access (``run.started_at`` needs a query)."""

    def __init__(self, values: Mapping[str, Any], lazy: Mapping[str, Callable[[], Any]]):
        self._values = dict(values)
        self._lazy = dict(lazy)

    def __getitem__(self, key: str) -> Any:
        if key not in self._values and key in self._lazy:
            self._values[key] = self._lazy.pop(key)()
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._values) + list(self._lazy))

    def __len__(self) -> int:
        return len(self._values) + len(self._lazy)


_ENV = EnvMapping()


def build_scope(
    params: Mapping[str, Any],
    results: Mapping[str, Any],
    run: Mapping[str, Any],
    *,
    trigger: Mapping[str, Any] | None = None,
    secrets: Mapping[str, Any] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The names in scope for a template (spec §5, "Names in scope").

    Args:
        params: parameter values by name.
        results: results of the steps this template reads, by step id.
        run: ``run.*`` fields.
        trigger: ``trigger.*`` fields, if the run was started by a trigger.
        secrets: ``secrets.*`` values.
        extra: more names (``item``/``index``, ``failed_step``/``error``).
    """
    scope: dict[str, Any] = dict(params)
    scope["params"] = params
    scope.update(results)
    scope["steps"] = results
    scope["env"] = _ENV
    scope["run"] = run
    scope["trigger"] = trigger if trigger is not None else {}
    scope["secrets"] = secrets if secrets is not None else {}
    if extra:
        scope.update(extra)
    return scope


def render_parameters(parameters: Mapping[str, Any], scope: Mapping[str, Any], action: Action) -> dict:
    """Render a step's parameters; shell command strings get quoted values (spec §5), and
    the action's ``condition_parameters`` are evaluated as conditions (bare expressions too).

    A parameter whose template renders to null (``"{{ branch or none }}"``) is left out, as if
    it were not set, so optional tool parameters can be switched off by a template.

    Raises:
        TemplateError: a template failed; the message names the parameter.
    """
    out: dict[str, Any] = {}
    for key, value in parameters.items():
        try:
            if key in action.condition_parameters:
                rendered = evaluate(value, scope)  # a condition, like `when` (bare expression)
            else:
                rendered = render_value({key: value}, scope, shell_keys=action.shell_parameters)[key]
        except TemplateError as exc:
            raise TemplateError(f"parameters.{key}: {exc}") from None
        if rendered is None and value is not None:
            continue  # a template that renders to null leaves the parameter unset
        out[key] = rendered
    return out


class _AsyncStop(BaseException):
    """Raised inside a timed-out helper thread to stop Python code at its next instruction."""


def _interrupt_thread(thread: threading.Thread) -> None:
    if thread.ident is None:
        return
    ctypes.pythonapi.PyThreadState_SetAsyncExc(ctypes.c_ulong(thread.ident), ctypes.py_object(_AsyncStop))


#: Seconds between checks of the step's deadline while its templates render.
RENDER_POLL_SECONDS = 0.05


def within_step_time(render: Callable[[], Any], ctx: ToolContext, what: str = "rendering its parameters") -> Any:
    """Call ``render`` (the step's template rendering) within the step's time (spec §4 ``timeout``).

    Rendering runs in a helper thread, so a template that loops for long (``{% for %}`` inside
    ``{% for %}``) is stopped at the step's deadline — the helper is interrupted at its next
    Python instruction — and likewise when the step is cancelled (run terminated, run timeout).
    Single operations that could run long inside C code never start: the template sandbox bounds
    them (:mod:`yaml2dag.format.expression_bounds`).

    Args:
        render: the rendering to run; its result is returned and its exceptions re-raised.
        ctx: the step's tool context (its ``deadline`` and cancellation).
        what: what the step was doing, for the message.

    Raises:
        StepTimeoutError: the step's timeout passed while rendering.
        ToolError: the step was cancelled while rendering.
    """
    box: dict[str, Any] = {}
    done = threading.Event()

    def target() -> None:
        try:
            box["value"] = render()
        except BaseException as exc:  # noqa: BLE001 - handed to the step thread
            box["error"] = exc
        finally:
            done.set()

    helper = threading.Thread(target=target, name=f"yaml2dag-render-{ctx.step_id}", daemon=True)
    helper.start()
    while not done.wait(RENDER_POLL_SECONDS):
        left = ctx.time_left()
        if ctx.cancelled or (left is not None and left <= 0):
            _interrupt_thread(helper)
            if ctx.cancelled:
                raise ToolError(f"step was stopped while {what}: {ctx.cancel_reason or 'the run was terminated'}")
            raise StepTimeoutError(f"step timed out after {ctx.timeout:g}s while {what}, and was stopped")
    if "error" in box:
        raise box["error"]
    return box["value"]


def run_action(action: Action, ctx: ToolContext, params: dict, timeout: float | None) -> ToolResult:
    """Run ``action`` with ``params``, stopping it after ``timeout`` seconds.

    Actions that declare ``handles_timeout`` (the shell tool) run in the calling thread and
    honour ``ctx.deadline`` themselves. Others, when a timeout is set, run in a helper thread:
    when time is up the tool's cancel callbacks run, the helper thread is interrupted at its
    next Python instruction, and the step fails at once with :class:`StepTimeoutError`.

    Raises:
        ToolError: the action failed (StepTimeoutError when it ran out of time).
    """
    if not timeout or action.handles_timeout:
        return _call(action, ctx, params)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = _call(action, ctx, params)
        except BaseException as exc:  # noqa: BLE001 - handed to the step thread
            box["error"] = exc

    helper = threading.Thread(target=target, name=f"yaml2dag-{ctx.step_id}", daemon=True)
    helper.start()
    left = ctx.time_left()  # the step's time started before its parameters rendered
    helper.join(timeout if left is None else min(timeout, left))
    if helper.is_alive():
        ctx.cancel(f"the step timed out after {timeout:g}s")
        helper.join(0.5)
        if helper.is_alive():
            _interrupt_thread(helper)
        raise StepTimeoutError(f"step timed out after {timeout:g}s and was stopped")
    if "error" in box:
        raise box["error"]
    return box["result"]


def _call(action: Action, ctx: ToolContext, params: dict) -> ToolResult:
    # what the action (or any process it starts) writes to file descriptors 1 and 2 is masked
    # before it reaches the compute log or the terminal; held as long as the action really runs
    with masked_fds(ctx.run_id, ctx.secrets):
        value = action.run(ctx, params)
    if not isinstance(value, ToolResult):
        value = ToolResult(output=value)
    return value


def error_message(exc: BaseException) -> str:
    """The one-line message a user sees for a failed attempt."""
    if isinstance(exc, (ToolError, TemplateError)):
        return str(exc)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def is_retryable(exc: BaseException) -> bool:
    """Template errors and tool configuration errors fail at once: a retry cannot fix them."""
    if isinstance(exc, TemplateError):
        return False
    if isinstance(exc, ToolError):
        return exc.retryable
    return True


def preview(value: Any, limit: int = 2000) -> str:
    """A short text preview of a value for the Dagster UI."""
    if isinstance(value, str):
        text = value
    elif hasattr(value, "to_markdown") and hasattr(value, "head"):
        try:
            text = value.head(20).to_string()
        except Exception:  # noqa: BLE001
            text = repr(value)
    else:
        try:
            text = json.dumps(to_jsonable(value), ensure_ascii=False, default=str)
        except (TypeError, ValueError):
            text = repr(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


class Stopwatch:
    """Seconds since creation (monotonic)."""

    def __init__(self) -> None:
        self.start = time.monotonic()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.start


# Tool contexts of steps in flight, by run id, so a terminated run can stop its tools.
_active: dict[str, set[ToolContext]] = {}
_active_lock = threading.Lock()


def register_context(run_id: str, ctx: ToolContext) -> None:
    with _active_lock:
        _active.setdefault(run_id, set()).add(ctx)


def unregister_context(run_id: str, ctx: ToolContext) -> None:
    with _active_lock:
        contexts = _active.get(run_id)
        if contexts is not None:
            contexts.discard(ctx)
            if not contexts:
                _active.pop(run_id, None)


def cancel_run(run_id: str, reason: str = "the run was terminated") -> int:
    """Cancel every tool running for ``run_id`` in this process; returns how many."""
    with _active_lock:
        contexts = list(_active.get(run_id, ()))
    for ctx in contexts:
        ctx.cancel(reason)
    return len(contexts)


# Runs whose failure handling (compensate, on_failure) this process has started, so that two
# failing steps of one run do not both run it. Other processes (the multiprocess executor) are
# kept out by the marker events of the run's event log (see .failure).
_handled: set[str] = set()
_handled_lock = threading.Lock()


def claim_failure_handling(run_id: str) -> bool:
    """True the first time it is called for ``run_id`` in this process, then False."""
    with _handled_lock:
        if run_id in _handled:
            return False
        _handled.add(run_id)
        return True


def forget_run(run_id: str) -> None:
    """Drop what this process remembers about a finished run."""
    with _handled_lock:
        _handled.discard(run_id)
