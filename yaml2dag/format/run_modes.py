"""Run modes of ``yaml2dag run --mode``: who says whether a step runs (issue 15, "supervised mode").

* ``autopilot`` (the default, and the behaviour before modes existed): nothing is asked.
* ``supervised``: before every step (sub-workflow steps and the steps inside them included;
  a ``for_each`` step is asked once, not per element; branches, switches and the
  ``on_failure``/``compensate`` handlers are never asked) the terminal asks continue, skip or abort.
* ``hybrid``: only before the steps marked ``confirm: true``.

A run launched anywhere else (the Dagster UI, a schedule, a sensor, ``dagster job execute``)
carries no mode tag: its ``confirm: true`` steps wait as approval gates, decided with ``yaml2dag
approve`` (continue) or ``yaml2dag reject`` (abort).

The answers: ``continue`` (the step runs), ``skip`` (the step ends SKIPPED, as with a false
``when``: the steps that read its result are skipped too, the steps only ordered after it run)
and ``abort`` (the step's condition op fails with "aborted by USER before STEP", so the run ends
FAILURE and the workflow's failure handling runs; no question is asked after it).

Nothing here imports Dagster.
"""

from __future__ import annotations

# the run tag of a run's mode (re-exported: the modes' one import)
from yaml2dag.format.tags import TAG_MODE  # noqa: F401

#: The run modes, the default first.
MODES = ("autopilot", "supervised", "hybrid")
DEFAULT_MODE = "autopilot"
#: What a person may answer to a question, and the decisions of ``yaml2dag approve``/``reject``
#: that stand for them.
ANSWERS = ("continue", "skip", "abort")
DECISION_ANSWERS = {"continue": "continue", "skip": "skip", "abort": "abort", "approve": "continue",
                    "reject": "abort"}
#: Metadata key of a question's ``waiting`` event (value: the mode that asks: ``supervised``,
#: ``hybrid`` or ``gate``), beside the approval marker the question shares with approval gates.
QUESTION_KEY = "confirm"
#: Resolution of a question per answer (the ``resolved`` event of its gate).
RESOLUTIONS = {"continue": "continued", "skip": "skipped", "abort": "aborted"}


def asks(mode: str | None, confirm: bool) -> str | None:
    """Who decides whether a step runs in a run of ``mode``.

    Args:
        mode: the run's ``yaml2dag/mode`` tag, or None for a run not started by ``yaml2dag run``.
        confirm: the step is marked ``confirm: true``.

    Returns:
        ``supervised`` or ``hybrid`` (the terminal asks), ``gate`` (an approval gate waits), or
        None (nothing is asked).
    """
    if mode == "supervised":
        return "supervised"
    if mode == "hybrid":
        return "hybrid" if confirm else None
    if mode is None or mode not in MODES:
        return "gate" if confirm else None
    return None


def check_mode(mode: str) -> str:
    """``mode`` if it is one of :data:`MODES`.

    Raises:
        ValueError: an unknown mode (the message lists the modes).
    """
    if mode not in MODES:
        raise ValueError(f"unknown run mode {mode!r}: expected one of {', '.join(MODES)}")
    return mode


__all__ = ["ANSWERS", "DECISION_ANSWERS", "DEFAULT_MODE", "MODES", "QUESTION_KEY", "RESOLUTIONS", "TAG_MODE",
           "asks", "check_mode"]
