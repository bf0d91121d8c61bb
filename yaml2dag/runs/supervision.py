"""Answering a run's questions from the process that runs it (``yaml2dag run --mode
supervised|hybrid``; issue 15, "supervised mode").

A step that asks before it runs records a question in the run's event log and waits for a
decision (:mod:`yaml2dag.compiler.confirm_gate`). :class:`QuestionWatch` is a thread of the
``yaml2dag run`` process that reads the run's event log, hands each question asked by the
terminal (``confirm``: ``supervised`` or ``hybrid``) to an ``ask`` function (the CLI prompts on
the terminal: :mod:`yaml2dag.cli.supervise`) and records the answer with
:func:`record_answer`, as a decision of the question's gate: who, when, what. A question
decided meanwhile elsewhere (``yaml2dag approve``/``reject`` from another shell) closes the
prompt.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable

from yaml2dag.format.run_modes import ANSWERS, QUESTION_KEY
from yaml2dag.compiler.approval_gate import MARKER, MarkedEvents, _now, _report
from yaml2dag.runs.users import default_user

#: Seconds between two looks at the event log.
POLL_SECONDS = 0.2


@dataclass(frozen=True)
class PendingQuestion:
    """A question a step asks before it runs.

    Attributes:
        run_id: the run.
        step_key: the step's key (``deploy``, ``sub.deploy``).
        title: the step's name (or id).
        message: the question as recorded.
        asker: ``supervised`` or ``hybrid`` (the mode that asks).
    """

    run_id: str
    step_key: str
    title: str
    message: str
    asker: str


#: ``ask(question, is_open) -> answer``: one of :data:`~yaml2dag.format.run_modes.ANSWERS`, or
#: None when ``is_open()`` turned False (decided elsewhere, or the run ended) before an answer.
Ask = Callable[[PendingQuestion, Callable[[], bool]], "str | None"]


def record_answer(instance: Any, run_id: str, step_key: str, answer: str, *, by: str | None = None,
                  comment: str | None = None) -> dict:
    """Record the answer to the question of step ``step_key`` of ``run_id`` (an engine event of
    the run, like an approval decision).

    Args:
        instance: the Dagster instance.
        run_id: the run.
        step_key: the step's key.
        answer: ``continue``, ``skip`` or ``abort``.
        by: who answers (default: ``$YAML2DAG_USER`` or the login name).
        comment: optional text.

    Returns:
        The decision ``{decision, by, comment, at}``.

    Raises:
        ValueError: ``answer`` is not one of :data:`~yaml2dag.format.run_modes.ANSWERS`.
    """
    if answer not in ANSWERS:
        raise ValueError(f"answer must be one of {', '.join(ANSWERS)}, not {answer!r}")
    entry = {"decision": answer, "by": by or default_user(), "comment": comment or "", "at": _now()}
    run = instance.get_run_by_id(run_id)
    _report(instance, run, f"step `{step_key}`: {answer} (answered by {entry['by']})", step_key,
            {MARKER: "decision", "step": step_key, **entry})
    return entry


class QuestionWatch:
    """A thread that answers the questions of one run through ``ask`` (see the module docstring).

    Args:
        instance: the Dagster instance the run lives in.
        run_id: the run.
        ask: asks a person (:data:`Ask`); called in this thread, one question at a time.
        by: who answers (default: ``$YAML2DAG_USER`` or the login name).
    """

    def __init__(self, instance: Any, run_id: str, ask: Ask, by: str | None = None):
        self.instance = instance
        self.run_id = run_id
        self.ask = ask
        self.by = by or default_user()
        self._events = MarkedEvents(instance, run_id)
        self._open: dict[str, PendingQuestion] = {}  # step key -> question not yet decided
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"yaml2dag-questions-{run_id[:8]}", daemon=True)

    def __enter__(self) -> "QuestionWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=5.0)

    def _read(self) -> None:
        for values in self._events.read_new():
            key = str(values.get("step") or "")
            if values.get(MARKER) == "waiting" and values.get(QUESTION_KEY) in ("supervised", "hybrid"):
                self._open[key] = PendingQuestion(self.run_id, key, str(values.get("title") or key),
                                                  str(values.get("message") or ""), str(values.get(QUESTION_KEY)))
            elif values.get(MARKER) in ("decision", "resolved"):
                self._open.pop(key, None)

    def _is_open(self, key: str) -> bool:
        if self._stop.is_set():
            return False
        self._read()
        if key not in self._open:
            return False
        run = self.instance.get_run_by_id(self.run_id)
        return run is not None and not run.is_finished

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self._read()
                for key in list(self._open):
                    question = self._open.get(key)
                    if question is None:
                        continue
                    answer = self.ask(question, lambda key=key: self._is_open(key))
                    if answer is not None and self._is_open(key):
                        record_answer(self.instance, self.run_id, key, answer, by=self.by)
                        self._open.pop(key, None)
            except Exception:  # noqa: BLE001 - a failed look is retried; the run itself goes on
                pass
            self._stop.wait(POLL_SECONDS)


__all__ = ["Ask", "POLL_SECONDS", "PendingQuestion", "QuestionWatch", "record_answer"]
