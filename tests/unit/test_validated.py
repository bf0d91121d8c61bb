"""Validation gives a ValidatedWorkflow; the compiler and the runner take only that (issue 11)."""

from __future__ import annotations

import dataclasses

import pytest

from yaml2dag.format.errors import WorkflowInvalidError
from yaml2dag.format.validated import ValidatedWorkflow
from yaml2dag.format.validation import validate_text

GOOD = "name: Good\nsteps:\n  - {id: a, tool: shell, parameters: {command: echo}}\n  - {id: b, tool: shell, parameters: {command: 'echo {{ a.output }}'}}\n"


def test_a_valid_report_gives_a_frozen_validated_workflow():
    report = validate_text(GOOD, "good.yaml")
    validated = report.validated()
    assert isinstance(validated, ValidatedWorkflow)
    assert (validated.id, validated.name, validated.file) == ("good", "Good", "good.yaml")
    assert validated.workflow is report.workflow and validated.plan is report.plan
    assert validated.plan.order == ["a", "b"] and validated.warnings == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        validated.workflow = None  # type: ignore[misc]


def test_an_invalid_report_gives_none():
    report = validate_text("name: Bad\nsteps:\n  - {id: a, tool: nope}\n", "bad.yaml")
    with pytest.raises(WorkflowInvalidError) as info:
        report.validated()
    assert info.value.file == "bad.yaml"
    assert [p.rule for p in info.value.problems] == ["tool"]


def test_compiler_and_runner_refuse_a_bare_workflow():
    from yaml2dag.compiler.job import compile_workflow
    from yaml2dag.runs.runner import run_workflow

    report = validate_text(GOOD, "good.yaml")
    with pytest.raises(TypeError, match="compile_workflow takes a ValidatedWorkflow"):
        compile_workflow(report.workflow)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="run_workflow takes a ValidatedWorkflow"):
        run_workflow(report)  # type: ignore[arg-type]
    assert compile_workflow(report.validated()).name == "good"


def test_the_model_is_immutable_all_the_way_down():
    import copy
    import json
    import pickle

    text = ("name: Frozen\nlabels: {team: ops}\ndefaults: {timeout: 5m}\noutputs: {o: '{{ a.output }}'}\n"
            "triggers:\n  - {type: schedule, cron: '0 * * * *'}\nsteps:\n"
            "  - id: a\n    tool: shell\n    for_each: [1, [2, 3]]\n    parameters: {command: echo, env: {X: '1'}}\n")
    wf = validate_text(text).validated().workflow
    step = wf.steps[0]
    for value, change in [
        (step.parameters, lambda v: v.__setitem__("command", "rm")),
        (step.parameters["env"], lambda v: v.update(Y="2")),
        (step.for_each, lambda v: v.append(4)),
        (step.for_each[1], lambda v: v.pop()),
        (wf.labels, lambda v: v.clear()),
        (wf.defaults, lambda v: v.setdefault("tool", "x")),
        (wf.outputs, lambda v: v.pop("o")),
        (wf.triggers[0].options, lambda v: v.__delitem__("cron")),
    ]:
        with pytest.raises(TypeError, match="read-only"):
            change(value)
    assert step.parameters == {"command": "echo", "env": {"X": "1"}} and step.for_each == [1, [2, 3]]
    assert pickle.loads(pickle.dumps(wf)) == wf  # Dagster's run workers get the same, frozen model
    assert json.loads(json.dumps(step.parameters)) == step.parameters
    plain = copy.deepcopy(step.parameters)
    plain["env"]["Y"] = "2"  # a deep copy is an ordinary, changeable value
    assert "Y" not in step.parameters["env"]
