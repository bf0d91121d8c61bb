"""Telling people that an approval gate waits for them (issue 15, point 2).

An ``approval`` step's ``notify`` parameter names one channel or a list of channels of the
``notify`` tool (``webhook``, ``email``, ``log``) with that action's parameters, less the text the
gate writes itself (``text``; ``subject``/``body``/``html``; ``message``)::

    notify:
      - channel: webhook
        url: "{{ secrets.SLACK_WEBHOOK }}"
        remind_before: 10m
      - channel: email
        to: [alice@example.com, bob@example.com]

When the gate starts waiting, each channel gets one message: the run id, the workflow, the
question, who may decide, the ``yaml2dag approve``/``reject`` commands and the link to the run's
page in the Dagster UI (:func:`yaml2dag.format.webserver.run_page_url`). A channel with
``remind_before`` gets a reminder that long before the gate's timeout, unless the gate was
decided first. The messages are sent by the ``notify`` tool's own actions
(:func:`yaml2dag.tools.notify.webhook`, :func:`~yaml2dag.tools.notify.email`,
:func:`~yaml2dag.tools.notify.log`), from a thread of the gate's step, so a slow or failing channel
never holds the gate up: a failure is a warning in the run's event log, and the gate waits on.
Secrets are masked in every message.
"""

from __future__ import annotations

import queue
import shlex
import threading
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from yaml2dag.format.durations import parse_duration
from yaml2dag.format.schema import load_schema
from yaml2dag.format.webserver import run_page_url
from yaml2dag.tools import mail, notify
from yaml2dag.tools.base import ToolContext, ToolError

#: The channels a gate can notify through: the ``notify`` tool's actions.
CHANNELS = ("webhook", "email", "log")
#: Parameters of each channel's ``notify`` action that the gate writes itself.
COMPOSED = {"webhook": ("text",), "email": ("subject", "body", "html"), "log": ("message",)}
#: Seconds :meth:`GateNotifier.close` waits for a message being sent before stopping it, then
#: again for the stopped send to return.
CLOSE_WAIT_SECONDS = 5.0

_DURATION = dict(load_schema()["$defs"]["duration"])
_ACTION_PARAMETERS = {"webhook": notify.WEBHOOK_PARAMETERS, "email": mail.SEND_PARAMETERS,
                      "log": notify.LOG_PARAMETERS}


def _channel_schema() -> dict[str, Any]:
    common = {
        "channel": {"enum": list(CHANNELS), "description": "The `notify` action that sends: webhook, email or log."},
        "remind_before": dict(_DURATION, description="Send a reminder this long before the gate's timeout "
                                                     "(needs a `timeout`); none when unset."),
    }
    branches = []
    for name in CHANNELS:
        source = _ACTION_PARAMETERS[name]
        properties = {k: v for k, v in source["properties"].items() if k not in COMPOSED[name]}
        branches.append({
            "if": {"properties": {"channel": {"const": name}}, "required": ["channel"]},
            "then": {"additionalProperties": False, "properties": {**common, **properties},
                     "required": [k for k in source.get("required", ()) if k not in COMPOSED[name]]},
        })
    return {"required": ["channel"], "properties": common, "allOf": branches}


_CHANNEL = _channel_schema()  # the `else` of NOTIFY_SCHEMA: its `type` already says "a mapping"

#: JSON Schema of an approval step's ``notify`` parameter: one channel or a non-empty list.
NOTIFY_SCHEMA: dict[str, Any] = {
    "type": ["object", "array"],
    "x-expected": "a channel (`{channel: webhook, url: ...}`, `email` or `log`) or a list of channels",
    "if": {"type": "array"},
    "then": {"minItems": 1, "items": {"type": "object", **_CHANNEL}},
    "else": _CHANNEL,
    "description": "Who to tell that the gate waits: a `notify` channel (webhook, email or log, with that "
                   "action's parameters) or a list of them; `remind_before` adds a reminder before the timeout.",
}


def channels_of(value: Any) -> list[dict]:
    """The channels of a rendered ``notify`` parameter (None: none; a mapping: one)."""
    if value in (None, "", []):
        return []
    items = value if isinstance(value, list) else [value]
    return [dict(item) for item in items if isinstance(item, Mapping)]


def readable_seconds(seconds: float) -> str:
    """``"1h 5m"``, ``"9m 58s"``, ``"42s"``: a duration for people (whole seconds, at most two units)."""
    left = max(0, int(round(seconds)))
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if left >= size or (unit == "s" and not parts):
            parts.append(f"{left // size}{unit}")
            left %= size
    return " ".join(parts[:2])


_ON_TIMEOUT = {"approve": "then it is approved", "reject": "then it is rejected", "fail": "then the step fails"}


@dataclass(frozen=True)
class GateFacts:
    """What a gate's messages say.

    Attributes:
        run_id, workflow, step_key: where the gate waits.
        message: the question (already masked).
        approvers: who may decide (empty: anyone); required: distinct approvals needed.
        deadline: ISO time of the gate's timeout, or None; on_timeout: approve, reject or fail.
    """

    run_id: str
    workflow: str
    step_key: str
    message: str
    approvers: tuple[str, ...]
    required: int
    deadline: str | None
    on_timeout: str

    def commands(self) -> tuple[str, str]:
        """The exact ``yaml2dag approve``/``reject`` command lines of this gate."""
        step = shlex.quote(self.step_key)
        return (f"yaml2dag approve {self.run_id} --step {step}", f"yaml2dag reject {self.run_id} --step {step}")

    def compose(self, *, reminder: bool = False, time_left: float | None = None,
                approved: Sequence[str] = ()) -> tuple[str, str]:
        """``(subject, text)`` of the waiting message, or of a reminder (``time_left`` seconds
        before the timeout, ``approved``: who approved so far)."""
        where = f'workflow "{self.workflow}" (run {self.run_id}, step {self.step_key})'
        subject = f"Approval needed: {self.workflow} / {self.step_key} (run {self.run_id[:8]})"
        if reminder:
            subject = "Reminder: " + subject
            first = f"Reminder: still waiting for approval in {where}"
            first += f"; it times out in {readable_seconds(time_left)}." if time_left is not None else "."
        else:
            first = f"Approval needed in {where}."
        need = f"{self.required} approval{'s' if self.required != 1 else ''} needed"
        who = ", ".join(self.approvers) if self.approvers else "anyone"
        approve, reject = self.commands()
        lines = [first, "", f"Question: {self.message}", f"Who may decide: {who} ({need})"]
        if approved:
            lines.append(f"Approved so far: {', '.join(approved)} ({len(approved)} of {self.required})")
        if self.deadline:
            lines.append(f"Times out at: {self.deadline} ({_ON_TIMEOUT.get(self.on_timeout, self.on_timeout)})")
        lines += ["", f"Approve: {approve}", f"Reject:  {reject}",
                  "(add --by NAME to decide as NAME; the default is $YAML2DAG_USER or the login name)",
                  f"Run page: {run_page_url(self.run_id)}"]
        return subject, "\n".join(lines)


def _send(ctx: ToolContext, channel: Mapping[str, Any], subject: str, text: str) -> str:
    """Send one message through the ``notify`` action of ``channel``; returns where it went.

    Raises:
        ToolError: the channel's failure (unknown channel, refused, unreachable...).
    """
    kind = channel.get("channel")
    params = {k: v for k, v in channel.items() if k not in ("channel", "remind_before")}
    if kind == "webhook":
        notify.webhook(ctx, {**params, "text": text})
        return ctx.mask(str(params.get("url", "")))
    if kind == "email":
        receipt = notify.email(ctx, {**params, "subject": subject, "body": text}).output
        return ", ".join(receipt.get("recipients") or [])
    if kind == "log":
        notify.log(ctx, {**params, "message": text})
        return "the event log"
    raise ToolError(f"unknown channel {kind!r} (channels: {', '.join(CHANNELS)})", retryable=False)


class GateNotifier:
    """The notifications of one waiting gate: the first message, then reminders.

    Args:
        ctx: the gate step's tool context (its log, secrets, run id and workflow).
        channels: the rendered channels (:func:`channels_of`).
        facts: what the messages say.
        deadline: ``time.monotonic()`` value of the gate's timeout, or None (no reminders).

    Messages go out from one daemon thread, in order; :meth:`close` stops it. Nothing here
    raises to the gate: a channel's failure is logged as a warning.
    """

    def __init__(self, ctx: ToolContext, channels: Sequence[Mapping[str, Any]], facts: GateFacts,
                 deadline: float | None):
        self.facts = facts
        self.deadline = deadline
        self._ctx = ToolContext(ctx.step_id, run_id=ctx.run_id, workflow=ctx.workflow, workflow_dir=ctx.workflow_dir,
                                log=ctx.log, secrets=ctx.secrets, resources={})
        self.log = self._ctx.log
        self._channels = [dict(c) for c in channels]
        self._remind_at: list[float | None] = [self._reminder_time(c) for c in self._channels]
        self._queue: queue.Queue = queue.Queue()
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None

    def _reminder_time(self, channel: Mapping[str, Any]) -> float | None:
        before = channel.get("remind_before")
        if before in (None, ""):
            return None
        kind = channel.get("channel")
        try:
            seconds = parse_duration(before)
        except ValueError as exc:
            self.log.warning(f"approval gate `{self.facts.step_key}`: no reminder by {kind}: remind_before: {exc}")
            return None
        if self.deadline is None:
            self.log.warning(f"approval gate `{self.facts.step_key}`: no reminder by {kind}: remind_before "
                             "needs a timeout on the gate")
            return None
        at = self.deadline - seconds
        if at <= time.monotonic():
            self.log.warning(f"approval gate `{self.facts.step_key}`: no reminder by {kind}: remind_before "
                             f"({readable_seconds(seconds)}) is not shorter than the time left until the timeout")
            return None
        return at

    def waiting(self) -> None:
        """Send the first message through every channel (in the background)."""
        if not self._channels:
            return
        subject, text = self.facts.compose()
        for channel in self._channels:
            self._enqueue(channel, "waiting", subject, text)

    def next_reminder(self) -> float | None:
        """``time.monotonic()`` value of the next reminder due, or None."""
        pending = [at for at in self._remind_at if at is not None]
        return min(pending) if pending else None

    def remind_due(self, approved: Sequence[str] = ()) -> None:
        """Send the reminders whose time has come (each once); ``approved``: who approved so far."""
        now = time.monotonic()
        for index, at in enumerate(self._remind_at):
            if at is None or at > now:
                continue
            self._remind_at[index] = None
            left = None if self.deadline is None else max(0.0, self.deadline - now)
            subject, text = self.facts.compose(reminder=True, time_left=left, approved=approved)
            self._enqueue(self._channels[index], "reminder", subject, text)

    def close(self) -> None:
        """The gate is decided (or stopped): no more reminders; unsent messages are dropped, one
        being sent gets :data:`CLOSE_WAIT_SECONDS`, then is stopped. Never raises."""
        self._remind_at = [None] * len(self._remind_at)
        self._closed.set()
        thread = self._thread
        if thread is None:
            return
        self._queue.put(None)
        thread.join(CLOSE_WAIT_SECONDS)
        if thread.is_alive():
            self._ctx.cancel("the approval gate was decided")
            thread.join(CLOSE_WAIT_SECONDS)

    def _enqueue(self, channel: Mapping[str, Any], what: str, subject: str, text: str) -> None:
        if self._closed.is_set():
            return
        self._queue.put((channel, what, self._ctx.mask(subject), self._ctx.mask(text)))
        if self._thread is None:
            self._thread = threading.Thread(target=self._work, name=f"gate-notify-{self.facts.step_key}", daemon=True)
            self._thread.start()

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None or self._closed.is_set():
                return
            channel, what, subject, text = item
            kind = channel.get("channel")
            step = self.facts.step_key
            try:
                where = _send(self._ctx, channel, subject, text)
            except ToolError as exc:
                self._failed(what, kind, exc.message)
            except Exception as exc:  # noqa: BLE001 - a notification never fails the gate
                self._failed(what, kind, f"{type(exc).__name__}: {exc}")
            else:
                self._say("info", f"approval gate `{step}`: sent the {what} notification by {kind} to {where}")

    def _failed(self, what: str, kind: Any, why: str) -> None:
        if self._ctx.cancelled:
            self._say("info", f"approval gate `{self.facts.step_key}`: the {what} notification by {kind} was "
                              "stopped: the gate was decided")
            return
        self._say("warning", f"approval gate `{self.facts.step_key}`: the {what} notification by {kind} failed "
                             f"({why}); the gate keeps waiting")

    def _say(self, level: str, message: str) -> None:
        try:
            getattr(self.log, level)(message)
        except Exception:  # noqa: BLE001 - the step may have ended; nothing more to tell
            pass


__all__ = ["CHANNELS", "GateFacts", "GateNotifier", "NOTIFY_SCHEMA", "channels_of", "readable_seconds"]
