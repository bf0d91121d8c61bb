"""The ``approval`` tool: a gate that waits for people to approve or reject (spec §6).

``request`` announces the gate, then waits until ``required_approvals`` distinct approvers
approve (the step succeeds), anyone rejects (the step fails, so ``on_error`` and
``on_failure`` apply), or ``timeout`` passes (``on_timeout``: ``approve``, ``reject`` or
``fail``). ``auto_approve_if`` (a condition, like ``when``: a bare expression such as
``environment != 'production'`` or a template, evaluated when the step runs) approves at once
when true. ``notify`` tells people the gate waits (and reminds them before ``timeout``) through
the ``notify`` tool's channels (:mod:`yaml2dag.tools.gate_notifications`). Decisions come from
``yaml2dag approve RUN_ID`` / ``yaml2dag reject RUN_ID``, through the store in
``ctx.resources["approvals"]`` (Dagster's event log, see :mod:`yaml2dag.runs.approvals`).

Result: ``output`` and ``decision`` (``approved``, ``rejected`` or ``timed_out``),
``approved_by`` (list of names), ``comment``.
"""

from __future__ import annotations

import datetime as _dt
import time

from yaml2dag.format.durations import parse_duration
from yaml2dag.format.expressions import truthy
from yaml2dag.tools.base import Action, Tool, ToolContext, ToolError, ToolResult
from yaml2dag.tools.gate_notifications import NOTIFY_SCHEMA, GateFacts, GateNotifier, channels_of

#: Seconds between two looks at the event log while waiting.
DEFAULT_POLL_SECONDS = 1.0

PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["message"],
    "properties": {
        "message": {"type": "string", "description": "What the approvers are asked."},
        "approvers": {"type": "array", "items": {"type": "string"},
                      "description": "Who may decide (default: anyone)."},
        "required_approvals": {"type": "integer", "minimum": 1, "description": "Distinct approvals needed (default 1)."},
        "timeout": {"anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
                    "x-expected": "a duration such as 30, \"30m\" or \"24h\"",
                    "description": "How long to wait for a decision (default: no limit)."},
        "on_timeout": {"enum": ["approve", "reject", "fail"], "description": "What a timeout means (default fail)."},
        "auto_approve_if": {"description": "A condition, like `when` (a bare expression or a template); "
                                           "when true the gate approves without waiting."},
        "poll_interval": {"type": "number", "exclusiveMinimum": 0, "description": "Seconds between checks (default 1)."},
        "notify": NOTIFY_SCHEMA,
    },
}


def _result(decision: str, approved_by: list[str], comment: str | None) -> ToolResult:
    return ToolResult(output=decision, fields={"decision": decision, "approved_by": approved_by, "comment": comment},
                      metadata={"decision": decision, "approved_by": ", ".join(approved_by) or "-"})


def request(ctx: ToolContext, params: dict) -> ToolResult:
    """Wait for a decision; see the module docstring."""
    store = ctx.resources.get("approvals")
    if store is None:
        raise ToolError("an approval gate can only run inside a Dagster run", retryable=False)
    message = ctx.mask(str(params["message"]))  # it goes to the event log and `yaml2dag status`
    approvers = [str(a) for a in params.get("approvers") or []]
    required = int(params.get("required_approvals") or 1)
    if approvers and required > len(approvers):
        raise ToolError(f"required_approvals is {required} but only {len(approvers)} approver(s) are listed",
                        retryable=False)
    timeout = parse_duration(params["timeout"]) if params.get("timeout") not in (None, "") else None
    on_timeout = params.get("on_timeout") or "fail"
    poll = float(params.get("poll_interval") or DEFAULT_POLL_SECONDS)
    started = time.monotonic()
    deadline = started + timeout if timeout is not None else None
    deadline_iso = None
    if timeout is not None:
        deadline_iso = (_dt.datetime.now(_dt.timezone.utc) + _dt.timedelta(seconds=timeout)).isoformat(timespec="seconds")
    store.announce(message, required, approvers, deadline_iso)
    if "auto_approve_if" in params and truthy(params["auto_approve_if"]):
        comment = "auto_approve_if was true"
        store.resolve("approved", ["auto"], comment)
        ctx.log.info(f"approved automatically: {comment}")
        return _result("approved", ["auto"], comment)
    ctx.log.info(f"waiting for approval: {message} ({required} approval(s) needed"
                 + (f" from {', '.join(approvers)}" if approvers else "")
                 + f"); decide with `yaml2dag approve {ctx.run_id}` or `yaml2dag reject {ctx.run_id}`")
    step_left = ctx.time_left()
    ends = [t for t in (deadline, None if step_left is None else time.monotonic() + step_left) if t is not None]
    facts = GateFacts(ctx.run_id, ctx.workflow, getattr(store, "step_key", ctx.step_id), message, tuple(approvers),
                      required, deadline_iso, on_timeout)
    notifier = GateNotifier(ctx, channels_of(params.get("notify")), facts, min(ends) if ends else None)
    notifier.waiting()
    try:
        return _wait(ctx, store, notifier, approvers, required, timeout, on_timeout, deadline, poll)
    finally:
        notifier.close()


def _wait(ctx: ToolContext, store, notifier: GateNotifier, approvers: list[str], required: int,
          timeout: float | None, on_timeout: str, deadline: float | None, poll: float) -> ToolResult:
    """Poll for decisions until the gate is decided (see :func:`request`); sends the reminders due."""
    approved: list[str] = []
    comment: str | None = None
    while True:
        if ctx.cancelled:
            raise ToolError("stopped while waiting for approval (the run was terminated or timed out)",
                            {"decision": "canceled", "approved_by": approved, "comment": comment})
        for decision in store.poll():
            who = str(decision.get("by") or "unknown")
            if approvers and who not in approvers:
                ctx.log.warning(f"ignoring a decision by `{who}`: not an approver of this gate")
                continue
            if decision.get("decision") == "reject":
                note = decision.get("comment")
                store.resolve("rejected", approved, note)
                raise ToolError(f"rejected by {who}" + (f": {note}" if note else ""),
                                {"decision": "rejected", "approved_by": approved, "comment": note}, retryable=False)
            if decision.get("decision") == "approve" and who not in approved:
                approved.append(who)
                comment = decision.get("comment") or comment
                ctx.log.info(f"approved by {who} ({len(approved)}/{required})")
                if len(approved) >= required:
                    store.resolve("approved", approved, comment)
                    return _result("approved", approved, comment)
        notifier.remind_due(approved)
        now = time.monotonic()
        step_left = ctx.time_left()
        if step_left is not None and step_left <= 0:
            store.resolve("timed_out", approved, None)
            raise ToolError("the step timed out while waiting for approval",
                            {"decision": "timed_out", "approved_by": approved, "comment": None}, retryable=False)
        if deadline is not None and now >= deadline:
            waited = f"no decision within {timeout:g}s"
            if on_timeout == "approve":
                store.resolve("approved", approved or ["timeout"], f"{waited} (on_timeout: approve)")
                ctx.log.info(f"{waited}: approved (on_timeout: approve)")
                return _result("approved", approved or ["timeout"], f"{waited} (on_timeout: approve)")
            if on_timeout == "reject":
                store.resolve("rejected", approved, f"{waited} (on_timeout: reject)")
                raise ToolError(f"{waited}; rejected (on_timeout: reject)",
                                {"decision": "rejected", "approved_by": approved, "comment": None}, retryable=False)
            store.resolve("timed_out", approved, None)
            raise ToolError(f"{waited} (on_timeout: fail)",
                            {"decision": "timed_out", "approved_by": approved, "comment": None}, retryable=False)
        wait = poll
        for due in (deadline, notifier.next_reminder()):
            if due is not None:
                wait = min(wait, max(0.05, due - now))
        time.sleep(wait)


TOOL = Tool(
    name="approval",
    description="Pause the run until people approve or reject.",
    actions=(
        Action(
            name="request",
            description="Wait for `required_approvals` approvals (or a rejection, or the timeout).",
            parameters=PARAMETERS,
            run=request,
            result_fields=("decision", "approved_by", "comment"),
            output="the decision: approved (a rejection or timeout fails the step)",
            handles_timeout=True,
            condition_parameters=("auto_approve_if",),
        ),
    ),
)
