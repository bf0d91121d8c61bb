"""The tool interface: what a tool receives when a step runs, and what it returns (spec §6).

What a tool declares (:class:`~yaml2dag.format.toolspecs.Tool`, :class:`~yaml2dag.format.toolspecs.Action`:
names, parameter schemas, result fields) is a specification of the format layer,
:mod:`yaml2dag.format.toolspecs`, re-exported here; the validator reads it without importing
Dagster or any tool. The compiler calls an action's ``run`` inside the step's Dagster op with a
:class:`ToolContext`.

Third-party tools are :class:`Tool` objects registered under the ``yaml2dag.tools`` entry-point
group (see ``docs/manual/workflow_guide_en.md``, "Custom tools").
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

# the specification side of a tool (names, actions, parameter schemas) is the format layer's;
# re-exported so tool code keeps importing it from here
from yaml2dag.format.toolspecs import COMMON_RESULT_FIELDS, CREDENTIAL_KEYWORD, Action, Tool, literal_credentials  # noqa: F401
import json
from yaml2dag.format.masking import register
from yaml2dag.format.schema import fast_valid, validator_for
from yaml2dag.format.secrets import MIN_MASKED_LENGTH, mask

_JSON_TYPES = (dict, list, str, int, float, bool, type(None))


def check_parameters(schema: Mapping[str, Any], params: Mapping[str, Any], what: str,
                     source: Mapping[str, Any] | None = None) -> None:
    """Check rendered parameters against an action's JSON Schema, when the step runs.

    The validator checks parameters before a run but skips values that are templates; this
    catches a template that rendered to the wrong type (``keep_last: "{{ keep }}"`` → ``"x"``).
    Values that are not JSON types (a DataFrame passed by ``"{{ load.output }}"``) are left to
    the tool.

    Args:
        schema: the action's parameter schema (draft 2020-12).
        params: the rendered parameters (a top-level template that rendered to null is left out).
        what: ``tool.action``, for the message.
        source: the step's parameters before rendering, so a required parameter missing because
            its template rendered to null is reported as such, with the template.

    Raises:
        ToolError: (not retryable) naming the first wrong parameter and what was expected, e.g.
            ``notify.log: parameters.message rendered to null (from the template "{{ x }}")...``.
    """
    schema_json = json.dumps(schema, sort_keys=True)
    if fast_valid(schema_json, dict(params)):
        return
    errors = [e for e in validator_for(schema_json).iter_errors(dict(params))
              if isinstance(e.instance, _JSON_TYPES) and not _holds_objects(e.instance)]
    if not errors:
        return
    error = sorted(errors, key=lambda e: [str(p) for p in e.absolute_path])[0]
    where = "parameters" + "".join(f".{p}" if isinstance(p, str) else f"[{p}]" for p in error.absolute_path)
    if error.validator == "required" and not error.absolute_path:
        missing = [k for k in error.validator_value if k not in params]
        nulled = [k for k in missing if source is not None and source.get(k) is not None]
        if nulled:
            key = nulled[0]
            template = str(source[key])
            template = template if len(template) <= 120 else template[:117] + "..."
            raise ToolError(f"{what}: parameters.{key} rendered to null (from the template {template!r}); "
                            f"it is required: make the template give a value, e.g. "
                            f"`{{{{ ... or 'default' }}}}`", retryable=False)
        if missing:
            raise ToolError(f"{what}: {where}: missing required key `{missing[0]}`", retryable=False)
    expected = error.schema.get("x-expected") if isinstance(error.schema, Mapping) else None
    shown = "" if isinstance(error.instance, (dict, list)) else f", got {error.instance!r}"
    detail = f"expected {expected}{shown}" if expected else error.message
    raise ToolError(f"{what}: {where}: {detail}", retryable=False)


def _holds_objects(value: Any) -> bool:
    if isinstance(value, dict):
        return any(_holds_objects(v) for v in value.values())
    if isinstance(value, list):
        return any(_holds_objects(v) for v in value)
    return not isinstance(value, _JSON_TYPES)




@dataclass
class ToolResult:
    """What an action returns.

    Attributes:
        output: the step's main result (``<step>.output``).
        fields: tool-specific result fields (``exit_code``, ``status_code``, ``rows``, ...).
        metadata: extra Dagster output metadata for the UI (str, int, float, bool, list or
            dict values; a value wrapped in :class:`Markdown` shows as markdown).
        written: what the action wrote: file paths, and SQLite tables as
            ``sqlite:///FILE#TABLE``; a step that declares one asset without ``path`` or
            ``table`` reports it at the one written path (:mod:`yaml2dag.compiler.assets`).
    """

    output: Any = None
    fields: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    written: tuple[str, ...] = ()


class Markdown(str):
    """Marks a metadata value as markdown for the Dagster UI."""


class ToolError(Exception):
    """A failure the user can act on: the message says what failed and why.

    Args:
        message: e.g. ``command exited with code 2: No such file or directory``.
        fields: result fields known despite the failure (``exit_code``, ``stderr``, ...);
            they are kept on the step result when ``on_error: continue`` lets the run go on.
        retryable: False for failures that no retry can fix (bad configuration).
    """

    def __init__(self, message: str, fields: Mapping[str, Any] | None = None, *, retryable: bool = True):
        super().__init__(message)
        self.message = message
        self.fields = dict(fields or {})
        self.retryable = retryable


class StepTimeoutError(ToolError):
    """The step ran longer than its ``timeout`` and was stopped."""


class ToolLog:
    """Where a tool writes log lines; the compiler binds it to the Dagster event log."""

    def info(self, message: str) -> None:  # pragma: no cover - interface
        print(message)

    def warning(self, message: str) -> None:  # pragma: no cover - interface
        print(message)

    def error(self, message: str) -> None:  # pragma: no cover - interface
        print(message)

    def debug(self, message: str) -> None:  # pragma: no cover - interface
        pass


class ToolContext:
    """Everything an action may use while it runs.

    Attributes:
        step_id: the step's id.
        run_id: the Dagster run id ("" outside a run).
        workflow: the workflow's name.
        workflow_dir: folder of the workflow file (python callables may be imported from it).
        log: a :class:`ToolLog`; lines pass through :meth:`mask` first.
        timeout: the step's timeout in seconds, or None.
        metadata: extra output metadata the action wants shown in the UI.
        secrets: secret values to replace with ``***`` in anything logged or returned.
    """

    def __init__(
        self,
        step_id: str = "",
        *,
        run_id: str = "",
        workflow: str = "",
        workflow_dir: str | None = None,
        log: ToolLog | None = None,
        timeout: float | None = None,
        secrets: Sequence[str] = (),
        resources: Mapping[str, Any] | None = None,
    ):
        self.step_id = step_id
        self.run_id = run_id
        self.workflow = workflow
        self.workflow_dir = workflow_dir
        self.timeout = timeout
        self.deadline = time.monotonic() + timeout if timeout else None
        self.metadata: dict[str, Any] = {}
        self.secrets = tuple(s for s in secrets if s)
        self.resources = dict(resources or {})
        self._log = log or ToolLog()
        self._cancel_callbacks: list[Callable[[], None]] = []
        self._cancelled = threading.Event()
        self.cancel_reason: str | None = None
        self.log = _MaskedLog(self._log, self.mask)

    def add_secret(self, *values: str | None) -> None:
        """Mask each of ``values`` from now on too (credentials the tool found itself: passwords,
        tokens, API keys). None, empty values and values shorter than
        :data:`yaml2dag.format.secrets.MIN_MASKED_LENGTH` (3) characters are ignored."""
        new = {v for v in values if v and len(v) >= MIN_MASKED_LENGTH and v not in self.secrets}
        if new:
            self.secrets = tuple(sorted(set(self.secrets) | new, key=len, reverse=True))
            register(self.run_id, new)  # the run's other sinks (event log, descriptors) mask them too

    # -- secrets
    def mask(self, value: Any) -> Any:
        """``value`` with every secret replaced by ``***`` (every form of it, in strings, bytes,
        containers and pandas/numpy data: :func:`yaml2dag.format.secrets.mask`)."""
        return mask(value, self.secrets)

    # -- time and cancellation
    def time_left(self) -> float | None:
        """Seconds until the step's timeout, or None when it has none."""
        if self.deadline is None:
            return None
        return max(0.0, self.deadline - time.monotonic())

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Register ``callback`` to run when the step times out or the run is terminated."""
        self._cancel_callbacks.append(callback)
        if self._cancelled.is_set():
            callback()

    def started_process(self, pid: int) -> None:
        """Tell the run that the action started process ``pid`` as the leader of its own process
        group (``start_new_session=True``). In a Dagster run it is recorded in the run's event log
        (the ``processes`` resource, :class:`yaml2dag.compiler.run_health.ProcessRecorder`), so the group is
        killed if the run's own process dies; elsewhere nothing happens. Never raises."""
        recorder = self.resources.get("processes")
        if recorder is not None:
            recorder.record(pid)

    def cancel(self, reason: str = "the step was stopped") -> None:
        """Stop the action: run every registered cancel callback (idempotent).

        Args:
            reason: why, for the step's error message ("the run exceeded its timeout of 2s").
        """
        if self._cancelled.is_set():
            return
        self.cancel_reason = reason
        self._cancelled.set()
        for callback in list(self._cancel_callbacks):
            try:
                callback()
            except Exception:  # noqa: BLE001 - cancellation is best effort
                pass

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()


class _MaskedLog(ToolLog):
    def __init__(self, inner: ToolLog, mask: Callable[[Any], Any]):
        self._inner = inner
        self._mask = mask

    def info(self, message: str) -> None:
        self._inner.info(self._mask(message))

    def warning(self, message: str) -> None:
        self._inner.warning(self._mask(message))

    def error(self, message: str) -> None:
        self._inner.error(self._mask(message))

    def debug(self, message: str) -> None:
        self._inner.debug(self._mask(message))
