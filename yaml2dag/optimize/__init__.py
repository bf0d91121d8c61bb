"""Advice from a workflow's own runs (issue 12, §2: ``yaml2dag optimize``).

:func:`optimize` reads the workflow's last finished runs from Dagster's run storage
(:mod:`.observations`, with the per-step reader of ``yaml2dag stats``) and returns advice of
four kinds (:data:`KINDS`): ``retry``, ``timeout`` and ``unused`` (:mod:`.advice`; outputs
nothing reads: :mod:`.outputs`) and ``parallel`` (:mod:`.parallel`), each with its evidence, the seconds it saves per run where
time is concerned, and the change it proposes as a YAML fragment. :func:`apply_advice` writes
the changes into the workflow text through the comment-preserving round trip
(:mod:`.edits`); the CLI saves the result as a new version of the workflow.

Dagster is only touched through the instance passed in (run storage and event log).

Example::

    from yaml2dag.optimize import optimize
    from yaml2dag.runs.runner import get_instance

    report = optimize(file_report, get_instance(), runs=20)
    for item in report.advice:
        print(item.kind, item.steps, item.saving_s)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from yaml2dag.library.roundtrip import RoundTripDocument, is_json_path
from yaml2dag.optimize.advice import KINDS, Advice, retry_advice, timeout_advice, unused_advice
from yaml2dag.optimize.edits import ChangeError, apply_changes, fragment
from yaml2dag.optimize.observations import observe
from yaml2dag.optimize.outputs import unused_outputs
from yaml2dag.optimize.parallel import parallel_advice

#: Runs analysed by default (``--runs``).
DEFAULT_RUNS = 20
#: Runs read after ``yaml2dag run`` to decide whether to point at ``optimize`` (kept small: cheap).
PENDING_RUNS = 10


@dataclass
class OptimizeReport:
    """What ``yaml2dag optimize`` prints.

    Attributes:
        workflow: the workflow's name; ``job``: its job id; ``file``: its file.
        runs_analyzed: how many finished runs were read.
        advice: the :class:`~yaml2dag.optimize.advice.Advice`, in the order of :data:`KINDS`.
    """

    workflow: str
    job: str
    file: str
    runs_analyzed: int
    advice: list[Advice]

    def to_json(self) -> dict:
        """``{"workflow", "runs_analyzed", "advice": [{"kind", "steps", "evidence", "saving_s", "change"}]}``."""
        return {"workflow": self.workflow, "runs_analyzed": self.runs_analyzed,
                "advice": [a.to_json() for a in self.advice]}


def optimize(file_report: Any, instance: Any, runs: int = DEFAULT_RUNS, others: list | None = None) -> OptimizeReport:
    """Advice for one valid workflow from its last ``runs`` finished runs.

    Args:
        file_report: the workflow's :class:`~yaml2dag.format.validation.FileReport` (valid).
        instance: the Dagster instance whose run storage holds the runs.
        runs: how many of the newest finished runs to read (at least 1).
        others: the other workflows of the folder as ``(Workflow, file)``, to find outputs no
            consumer reads (:mod:`.outputs`); None skips that check.

    Returns:
        The :class:`OptimizeReport` (no advice when there are no runs).
    """
    workflow = file_report.workflow
    text = file_report.document.text
    json_format = is_json_path(file_report.file)
    obs = observe(instance, workflow.id, runs)
    advice = (retry_advice(workflow, obs) + parallel_advice(workflow, obs, text, json_format)
              + timeout_advice(workflow, obs) + unused_advice(workflow, obs))
    if others is not None:
        advice += unused_outputs(workflow, str(file_report.file), others, len(obs.run_ids))
    data = RoundTripDocument(text, json_format).data
    for item in advice:
        item.text = fragment(item.change, data)
    return OptimizeReport(workflow.name, workflow.id, str(file_report.file), len(obs.run_ids), advice)


def pending_advice(file_report: Any, instance: Any) -> int:
    """How many pieces of advice the last :data:`PENDING_RUNS` runs give (for the hint after a run;
    the other workflows of the folder are not read, so a run's end does not grow with the folder)."""
    return len(optimize(file_report, instance, PENDING_RUNS).advice)


def apply_advice(text: str, json_format: bool, advice: list[Advice], kind: str | None = None) -> tuple[str, list[str]]:
    """Write ``advice`` (or only that of ``kind``) into a workflow text.

    Args:
        text: the workflow file's text; ``json_format``: it is JSON.
        advice: from :func:`optimize`.
        kind: one of :data:`KINDS`, or None for all.

    Returns:
        (the new text, one line per change written). ``unused`` advice is never written
        (deleting a step is left to the user).

    Raises:
        ChangeError: a step of the advice is no longer where the runs saw it.
    """
    doc = RoundTripDocument(text, json_format)
    chosen = [a.change for a in advice if kind is None or a.kind == kind]
    done = apply_changes(doc, chosen)
    return (doc.dump() if done else text), done


__all__ = ["DEFAULT_RUNS", "KINDS", "PENDING_RUNS", "Advice", "ChangeError", "OptimizeReport", "apply_advice",
           "optimize", "pending_advice"]
