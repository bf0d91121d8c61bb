"""The question asked before a step: continue, skip or abort (issue 15, "supervised mode").

Who asks is :func:`yaml2dag.format.run_modes.asks`: the terminal of ``yaml2dag run --mode
supervised|hybrid``, or, in a run launched without ``yaml2dag run`` (UI, schedule, sensor,
``dagster job execute``), an approval gate on the steps marked ``confirm: true``.

One mechanism serves both: the step's condition op (``<step>__when``, which the plan gives every
step that asks, :mod:`yaml2dag.format.plan`) records a question in the run's event log as an
approval gate of the step's key (``yaml2dag/approval: waiting`` with the extra metadata
``confirm``: ``supervised``, ``hybrid`` or ``gate``) and polls the event log for a decision, as
the ``approval`` tool does (:mod:`.approval_gate`). The terminal's answer
(:mod:`yaml2dag.runs.supervision`) and ``yaml2dag approve``/``reject``
(:mod:`yaml2dag.runs.approvals`) are both decisions of that gate; so ``status``, ``events`` and
``audit`` show who answered what and when.

Answers: ``continue``/``approve`` → the step runs; ``skip`` → the condition op yields
``skipped``, the step ends SKIPPED as with a false ``when``; ``abort``/``reject`` → the
condition op fails with "aborted by USER before STEP" (the run ends FAILURE, its failure
handling runs), and every question of the run after that is answered "skip" at once with the
reason, so nothing else is asked.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from yaml2dag.format.run_modes import DECISION_ANSWERS, QUESTION_KEY, RESOLUTIONS, TAG_MODE, asks
from yaml2dag.format.secrets import mask
from yaml2dag.compiler import runtime
from yaml2dag.compiler.approval_gate import MARKER, MarkedEvents, _now, _report
from yaml2dag.compiler.op_io import op_failure
from yaml2dag.compiler.scope import CompiledWorkflow

#: Seconds between two looks at the event log while a question waits.
POLL_SECONDS = 0.25


class _Stop:
    """Registered with :func:`yaml2dag.compiler.runtime.register_context` while a question waits,
    so that a terminated (or timed-out) run stops waiting."""

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason = ""

    def cancel(self, reason: str = "the run was terminated") -> None:
        self.reason = reason
        self.event.set()


class Question:
    """One question in the event log of a run (bound to the run and the step's key).

    Args:
        instance: the Dagster instance.
        run_id: the run.
        step_key: the step's Dagster step key (``deploy``, ``sub.deploy``): the gate's name for
            ``yaml2dag approve --step``.
        secrets: secret values, masked out of what is recorded.
    """

    def __init__(self, instance: Any, run_id: str, step_key: str, secrets: tuple[str, ...] = ()):
        self.instance = instance
        self.run_id = run_id
        self.step_key = step_key
        self.secrets = secrets
        self._events = MarkedEvents(instance, run_id)

    def announce(self, title: str, asker: str) -> str:
        """Record that the question waits; returns its message."""
        if asker == "gate":
            message = f"confirm step `{self.step_key}` ({title}): approve to run it, reject to abort the run"
        else:
            message = f"run step `{self.step_key}` ({title})? continue, skip or abort ({asker} mode)"
        message = mask(message, self.secrets)
        run = self.instance.get_run_by_id(self.run_id)
        _report(self.instance, run, f"step `{self.step_key}` waits for confirmation: {message}", self.step_key, {
            MARKER: "waiting", QUESTION_KEY: asker, "step": self.step_key, "message": message,
            "title": mask(title, self.secrets), "required_approvals": 1, "approvers": "", "at": _now(), "deadline": "",
        })
        return message

    def poll(self) -> tuple[dict | None, dict | None]:
        """(the first decision for this question since the last poll, the first question of the
        run resolved ``aborted``) — each None when there is none."""
        decision = aborted = None
        for values in self._events.read_new():
            if (decision is None and values.get(MARKER) == "decision" and values.get("step") == self.step_key
                    and str(values.get("decision")) in DECISION_ANSWERS):
                decision = values
            elif aborted is None and values.get(MARKER) == "resolved" and values.get("decision") == "aborted":
                aborted = values
        return decision, aborted

    def resolve(self, answer: str, by: str, comment: str | None) -> None:
        """Record the outcome: ``continued``, ``skipped`` or ``aborted`` (by whom)."""
        comment = mask(comment, self.secrets) if comment else ""
        run = self.instance.get_run_by_id(self.run_id)
        outcome = RESOLUTIONS[answer]
        _report(self.instance, run, f"step `{self.step_key}`: {outcome} by {by}" + (f": {comment}" if comment else ""),
                self.step_key, {MARKER: "resolved", "step": self.step_key, "decision": outcome, "approved_by": by,
                                "comment": comment, "at": _now()})


def _aborted(values: dict) -> str:
    return f"the run was aborted by {values.get('approved_by') or 'someone'} before {values.get('step')}"


def asker_of(context: Any, cw: CompiledWorkflow, entry: Any) -> str | None:
    """Who decides whether ``entry`` runs in the run of op ``context`` (see
    :func:`yaml2dag.format.run_modes.asks`), or None: it just runs."""
    confirm = bool(getattr(entry, "confirm", False))
    if not confirm and not cw.supervised:
        return None
    return asks(context.run.tags.get(TAG_MODE), bool(getattr(entry, "confirm", False)))


def confirm_step(context: Any, cw: CompiledWorkflow, entry: Any, asker: str) -> str | None:
    """Ask whether ``entry`` runs and wait for the answer (see the module docstring).

    Args:
        context: the condition op's context.
        cw: the compiled workflow the step belongs to.
        entry: the step (:class:`~yaml2dag.format.model.Step` or ``SubWorkflow``).
        asker: :func:`asker_of`'s answer (not None).

    Returns:
        None when the step runs, else why it is skipped.

    Raises:
        dagster.Failure: the answer was abort (or reject), or the run was stopped while waiting.
    """
    secrets = cw.secret_values()
    key = cw.step_key(entry.id)
    question = Question(context.instance, context.run_id, key, secrets)
    _decision, aborted = question.poll()
    if aborted is not None:  # nothing is asked after an abort
        return _aborted(aborted)
    message = question.announce(entry.title, asker)
    how = (f"decide with `yaml2dag approve {context.run_id} --step {key}` (run it) or `yaml2dag reject "
           f"{context.run_id} --step {key}` (abort)")
    context.log.info(f"waiting for confirmation: {message}; " + how)
    stop = _Stop()
    runtime.register_context(context.run_id, stop)  # type: ignore[arg-type] - anything with cancel(reason)
    try:
        while True:
            decision, aborted = question.poll()
            if decision is not None:
                answer = DECISION_ANSWERS[str(decision.get("decision"))]
                who = str(decision.get("by") or "unknown")
                question.resolve(answer, who, decision.get("comment") or None)
                if answer == "continue":
                    context.log.info(f"step `{key}` continues: confirmed by {who}")
                    return None
                if answer == "skip":
                    return f"skipped by {who} when asked"
                raise op_failure(f"aborted by {who} before {key}", None, secrets)
            if aborted is not None:
                why = _aborted(aborted)
                question.resolve("skip", "yaml2dag", why)
                return why
            if stop.event.is_set():
                raise op_failure(f"stopped while waiting for confirmation ({stop.reason})", None, secrets)
            stop.event.wait(POLL_SECONDS)
    finally:
        runtime.unregister_context(context.run_id, stop)  # type: ignore[arg-type]


__all__ = ["POLL_SECONDS", "Question", "asker_of", "confirm_step"]
