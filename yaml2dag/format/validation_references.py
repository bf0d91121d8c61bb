"""References between the files of a folder: sub-workflow steps (unknown names, recursive
inclusion, the parameters passed) and ``workflow`` triggers (unknown upstreams, loops) (issue #3,
spec §7).

Nothing here imports Dagster.
"""

from __future__ import annotations

from typing import Any

from yaml2dag.format.errors import WARNING, ParameterError
from yaml2dag.format.expressions import is_template, iter_strings
from yaml2dag.format.model import SubWorkflow, Workflow, iter_entries
from yaml2dag.format.parameters import check_value
from yaml2dag.format.schema import did_you_mean
from yaml2dag.format.validation_lookup import _resolver
from yaml2dag.format.validation_report import FileReport


def subworkflow_problems(reports: list[FileReport]) -> None:
    """Check sub-workflow steps across files: unknown names, recursive inclusion, and the
    parameters passed against the child's declarations (issue #3, feature 2)."""
    resolve = _resolver(reports)
    for report in reports:
        wf = report.workflow
        if wf is None:
            continue
        doc = report.document
        for entry in iter_entries(wf.steps):
            if not isinstance(entry, SubWorkflow) or not entry.workflow:
                continue
            child = resolve(report, entry.workflow)
            if child is None or child.workflow is None:
                report.problems.append(doc.problem(entry.path + ("workflow",), f"unknown workflow {entry.workflow!r}: "
                                                   "no workflow of the definitions folder has that name, job id or file name",
                                                   "subworkflow"))
                continue
            if child is report:
                report.problems.append(doc.problem(entry.path + ("workflow",), "a workflow cannot include itself",
                                                   "subworkflow"))
                continue
            cycle = _inclusion_cycle(child, report, resolve)
            if cycle:
                report.problems.append(doc.problem(entry.path + ("workflow",), "recursive sub-workflows: "
                                                   + " → ".join([wf.name] + cycle), "subworkflow"))
                continue
            _check_child_parameters(report, entry, child.workflow)


def workflow_trigger_problems(reports: list[FileReport]) -> None:
    """Check ``workflow`` triggers across files (spec §7), in place: the upstream workflow must
    be a workflow of the definitions folder (name ignoring case, job id or file name, as for
    sub-workflows) and not the workflow itself; triggers that start each other in a loop
    (A → B → A) are a warning. Problems point at the trigger's ``workflow`` key."""
    resolve = _resolver(reports)

    def upstreams(report: FileReport) -> list[tuple[Any, FileReport | None]]:
        wf = report.workflow
        if wf is None:
            return []
        return [(trig, resolve(report, str(trig.options["workflow"])))
                for trig in wf.triggers
                if trig.type == "workflow" and isinstance(trig.options.get("workflow"), str)]

    def loop_from(start: FileReport, target: FileReport, seen: set[int]) -> list[str] | None:
        # a path of workflow triggers from `target`'s upstream `start` back to `target`
        if id(start) in seen or start.workflow is None:
            return None
        seen.add(id(start))
        for _trig, upstream in upstreams(start):
            if upstream is None:
                continue
            if upstream is target:
                return [start.workflow.name]
            deeper = loop_from(upstream, target, seen)
            if deeper:
                return [start.workflow.name] + deeper
        return None

    for report in reports:
        wf = report.workflow
        if wf is None:
            continue
        doc = report.document
        for trig, upstream in upstreams(report):
            ref = str(trig.options["workflow"])
            path = trig.path + ("workflow",)
            if upstream is None or upstream.workflow is None:
                names = sorted({r.workflow.name for r in reports + [x for v in resolve.extra.values() for x in v]
                                if r.workflow is not None and r.workflow.name})
                report.problems.append(doc.problem(path, f"unknown workflow {ref!r}: no workflow of the definitions "
                                                   "folder has that name, job id or file name"
                                                   + did_you_mean(ref, names), "trigger"))
                continue
            if upstream is report:
                report.problems.append(doc.problem(path, "a workflow cannot trigger itself: every run would start "
                                                   "another one", "trigger"))
                continue
            loop = loop_from(upstream, report, set())
            if loop:
                # the trigger says "after <upstream>": the loop reads in run order
                chain = " → ".join(list(reversed(loop)) + [wf.name, loop[-1]])
                report.problems.append(doc.problem(path, f"workflow triggers form a loop ({chain}): these runs "
                                                   "would start each other again and again", "trigger",
                                                   severity=WARNING))


def _inclusion_cycle(start: FileReport, target: FileReport, resolve, seen=None) -> list[str] | None:
    seen = seen or set()
    if id(start) in seen or start.workflow is None:
        return None
    seen.add(id(start))
    for entry in iter_entries(start.workflow.steps):
        if isinstance(entry, SubWorkflow) and entry.workflow:
            child = resolve(start, entry.workflow)
            if child is None:
                continue
            if child is target:
                return [start.workflow.name, target.workflow.name]
            deeper = _inclusion_cycle(child, target, resolve, seen)
            if deeper:
                return [start.workflow.name] + deeper
    return None


def _check_child_parameters(report: FileReport, entry: SubWorkflow, child: Workflow) -> None:
    doc = report.document
    declared = {p.name: p for p in child.parameters}
    for name, value in entry.parameters.items():
        path = entry.path + ("parameters", name)
        param = declared.get(name)
        if param is None:
            report.problems.append(doc.problem(path, f"{child.name!r} has no parameter `{name}`"
                                               + did_you_mean(name, declared), "subworkflow", key=True))
            continue
        if param.is_secret:
            report.problems.append(doc.problem(path, f"`{name}` is a secret of {child.name!r}: it is read from the "
                                               f"environment variable {param.env_var}, not passed", "subworkflow"))
            continue
        if any(is_template(text) for _p, text in iter_strings(value)):
            continue
        try:
            check_value(param, value)
        except ParameterError as exc:
            report.problems.append(doc.problem(path, exc.detail, "subworkflow"))
    for name, param in declared.items():
        if param.required and not param.is_secret and name not in entry.parameters:
            report.problems.append(doc.problem(entry.path, f"{child.name!r} requires the parameter `{name}` "
                                               f"({param.type})", "subworkflow"))
