"""Approval gates in Dagster's event log (spec §6 ``approval``; issue #3, feature 4).

Mechanism: the gate is an op that waits for a recorded decision (not a job split at the gate).
The op announces itself with an engine event, then polls the run's event log; ``yaml2dag
approve``/``reject`` (from any machine that reaches the same Dagster instance) append a
decision as another engine event of that run. Everything lives in the instance's event log:
who decided, when, with what comment, and the outcome; nothing is kept in side files. This
keeps one run per workflow execution, works under ``dagster job execute`` in CI (no daemon
needed) and shows the whole story on the run page. The cost is a worker that stays alive while
it waits (a thread, with yaml2dag's default executor).

Event metadata key ``yaml2dag/approval`` marks the three kinds of events: ``waiting``,
``decision`` and ``resolved``. What the gate's op records and reads is
:mod:`yaml2dag.compiler.approval_gate` (below the runs layer, beside the ops); this module lists
the gates of a run and records decisions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from yaml2dag.compiler.approval_gate import MARKER, InstanceApprovals, _meta_values, _now, _report, _text  # noqa: F401 - MARKER, InstanceApprovals, _text re-exported
from yaml2dag.format.errors import Yaml2DagError
from yaml2dag.runs.users import default_user
from dagster import DagsterEventType

class ApprovalError(Yaml2DagError):
    """A decision that cannot be recorded: unknown run, no gate waiting, not an approver..."""


@dataclass
class Gate:
    """An approval gate of a run, as its event log tells it.

    Attributes:
        step_key: the gate's Dagster step key.
        message: what the approvers are asked.
        required: distinct approvals needed.
        approvers: who may decide (empty: anyone).
        waiting_since: ISO time the gate started waiting.
        decisions: recorded decisions ``{decision, by, comment, at}`` in order.
        resolved: the outcome ``{decision, approved_by, comment}`` once decided, else None.
    """

    step_key: str
    message: str = ""
    required: int = 1
    approvers: list[str] = field(default_factory=list)
    waiting_since: str | None = None
    deadline: str | None = None
    decisions: list[dict] = field(default_factory=list)
    resolved: dict | None = None

    @property
    def waiting(self) -> bool:
        return self.resolved is None

    @property
    def approved_by(self) -> list[str]:
        seen: list[str] = []
        for d in self.decisions:
            if d.get("decision") == "approve" and d.get("by") not in seen:
                seen.append(d["by"])
        return seen

    def to_json(self) -> dict:
        return {
            "step": self.step_key,
            "message": self.message,
            "required_approvals": self.required,
            "approvers": self.approvers,
            "waiting_since": self.waiting_since,
            "deadline": self.deadline,
            "approved_by": self.approved_by,
            "decisions": self.decisions,
            "resolved": self.resolved,
        }


def gates(instance: Any, run_id: str) -> list[Gate]:
    """Every approval gate of a run, from its event log, in the order they started waiting."""
    return gates_in(instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT))


def gates_in(records: Any) -> list[Gate]:
    """The approval gates an iterable of event log entries (or records) tells of, in the order
    they started waiting: :func:`gates` of the whole log, or of a prefix of it to know the gates
    at a past moment (``yaml2dag status --at``). Entries that are not approval events are ignored."""
    found: dict[str, Gate] = {}
    for record in records:
        values = _meta_values(record)
        if values is None:
            continue
        key = str(values.get("step") or record.step_key or "")
        kind = values.get(MARKER)
        if kind == "waiting":
            found[key] = Gate(
                step_key=key,
                message=str(values.get("message", "")),
                required=int(values.get("required_approvals", 1) or 1),
                approvers=[a for a in str(values.get("approvers", "")).split(",") if a],
                waiting_since=str(values.get("at", "")) or None,
                deadline=str(values.get("deadline", "")) or None,
            )
        elif kind == "decision" and key in found:
            found[key].decisions.append({
                "decision": values.get("decision"), "by": values.get("by"),
                "comment": values.get("comment") or None, "at": values.get("at"),
            })
        elif kind == "resolved" and key in found:
            found[key].resolved = {
                "decision": values.get("decision"),
                "approved_by": [a for a in str(values.get("approved_by", "")).split(",") if a],
                "comment": values.get("comment") or None,
            }
    return list(found.values())


def _names(step_key: str, step: str) -> bool:
    """True when ``step`` names the gate at ``step_key``: its step id (``approve``, also inside
    a sub-workflow: ``deploy.approve``), with or without the element of a ``for_each`` step
    (``gate[0]`` is matched by ``gate``)."""
    base = step_key.split("[")[0]
    return step in (base, base.split(".")[-1], step_key.split(".")[-1])


def record_decision(instance: Any, run_id: str, decision: str, *, step: str | None = None,
                    by: str | None = None, comment: str | None = None) -> Gate:
    """Record ``approve`` or ``reject`` for a waiting gate of ``run_id``.

    Args:
        instance: the Dagster instance the run lives in (a shared instance works from any
            machine).
        run_id: the run.
        decision: ``approve`` or ``reject``.
        step: the gate's step key or step id (default: the only waiting gate); a ``for_each``
            gate's step id matches its elements (``gate`` → ``gate[0]``) when one of them waits.
        by: who decides (default: :func:`default_user`).
        comment: optional text.

    Returns:
        The gate, with the new decision appended.

    Raises:
        ApprovalError: unknown run, run not in progress, no gate waiting (or several and no
            ``step``, or several waiting elements of the ``step``), unknown step, decider not
            among the gate's approvers, or a second approval by the same person.
    """
    if decision not in ("approve", "reject"):
        raise ApprovalError(f"decision must be approve or reject, not {decision!r}")
    run = instance.get_run_by_id(run_id)
    if run is None:
        raise ApprovalError(f"no run with id {run_id!r} in this Dagster instance ({instance.root_directory})")
    if run.is_finished:
        raise ApprovalError(f"run {run_id} has already finished ({run.status.value}); nothing is waiting for a decision")
    all_gates = gates(instance, run_id)
    waiting = [g for g in all_gates if g.waiting]
    if step is not None:
        matches = [g for g in all_gates if g.step_key == step] or [g for g in all_gates if _names(g.step_key, step)]
        if not matches:
            known = ", ".join(g.step_key for g in all_gates) or "none"
            raise ApprovalError(f"run {run_id} has no approval gate `{step}` (gates so far: {known})")
        open_ = [g for g in matches if g.waiting]
        if len(open_) > 1:
            raise ApprovalError(f"several approval gates of `{step}` are waiting in run {run_id}: "
                                + ", ".join(g.step_key for g in open_) + "; choose one with --step, e.g. "
                                f"--step '{open_[0].step_key}'")
        gate = open_[0] if open_ else matches[-1]
        if not gate.waiting:
            raise ApprovalError(f"approval gate `{gate.step_key}` of run {run_id} is not waiting: it was "
                                f"already {gate.resolved.get('decision') if gate.resolved else 'decided'}")
    else:
        if not waiting:
            raise ApprovalError(f"no approval gate is waiting in run {run_id}")
        if len(waiting) > 1:
            raise ApprovalError("several approval gates are waiting: "
                                + ", ".join(g.step_key for g in waiting) + "; choose one with --step")
        gate = waiting[0]
    who = by or default_user()
    if gate.approvers and who not in gate.approvers:
        raise ApprovalError(f"`{who}` is not an approver of gate `{gate.step_key}` (approvers: {', '.join(gate.approvers)})")
    if decision == "approve" and who in gate.approved_by:
        raise ApprovalError(f"`{who}` has already approved gate `{gate.step_key}`; "
                            f"{gate.required} distinct approvals are required")
    entry = {"decision": decision, "by": who, "comment": comment or "", "at": _now()}
    verb = "approved" if decision == "approve" else "rejected"
    _report(instance, run, f"approval gate `{gate.step_key}` {verb} by {who}" + (f": {comment}" if comment else ""),
            gate.step_key, {MARKER: "decision", "step": gate.step_key, **entry})
    gate.decisions.append({**entry, "comment": comment or None})
    return gate
