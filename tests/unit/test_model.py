"""The model: slugs, defaults, aliases, parameter inference, retry schedules, leniency."""

from __future__ import annotations

import random

import pytest

from yaml2dag.format.model import (
    MISSING,
    Branch,
    ParallelGroup,
    RetryConfig,
    Switch,
    infer_type,
    slugify,
)
from yaml2dag.format.model_builder import build_workflow, entry_kind


@pytest.mark.parametrize("name, slug", [
    ("Git Sync and Test", "git_sync_and_test"),
    ("Deploy Pipeline", "deploy_pipeline"),
    ("CI/CD v2.0", "ci_cd_v2_0"),
    ("123 go", "_123_go"),
    ("a__b", "a_b"),
    ("Über Café", "_ber_caf_"),
    ("", "_"),
])
def test_slugify(name, slug):
    assert slugify(name) == slug


@pytest.mark.parametrize("value, ptype", [
    (False, "boolean"), (3, "integer"), (2.5, "number"), ("x", "string"), ([1], "array"), ({"a": 1}, "object"),
    (None, "string"),
])
def test_infer_type(value, ptype):
    assert infer_type(value) == ptype


def wf(**data):
    return build_workflow({"name": "Deploy Pipeline", **data})


def test_workflow_defaults():
    workflow = wf(steps=[{"id": "a", "tool": "shell", "parameters": {"command": "x"}}])
    assert (workflow.id, workflow.version) == ("deploy_pipeline", "1.0.0")
    assert [t.type for t in workflow.triggers] == ["manual"]
    assert workflow.executor.type == "threads"
    assert build_workflow({"name": "X", "id": "custom"}).id == "custom"


def test_parameters_shorthand_declared_and_required():
    workflow = wf(parameters={"dry_run": False, "n": {"type": "integer", "default": 3, "minimum": 0},
                              "branch": {"type": "string"}, "inferred": {"default": 1.5},
                              "items": {"type": "array", "items": {"type": "string"}, "default": []}})
    by_name = {p.name: p for p in workflow.parameters}
    assert (by_name["dry_run"].type, by_name["dry_run"].default, by_name["dry_run"].required) == ("boolean", False, False)
    assert (by_name["n"].type, by_name["n"].minimum) == ("integer", 0)
    assert by_name["branch"].default is MISSING and by_name["branch"].required
    assert by_name["inferred"].type == "number"
    assert by_name["items"].items_type == "string"
    assert workflow.parameter("n") is by_name["n"] and workflow.parameter("zz") is None


def test_defaults_apply_to_steps_that_do_not_set_the_key():
    workflow = wf(
        defaults={"timeout": "10m", "tool": "shell", "retry": {"max_attempts": 2, "backoff": "exponential", "delay": 2}},
        steps=[{"id": "a", "parameters": {"command": "x"}},
               {"id": "b", "timeout": 5, "retry": {"max_attempts": 4}, "parameters": {"command": "x"}}])
    a, b = workflow.steps
    assert (a.tool, a.timeout, a.retry.max_attempts, a.retry.backoff) == ("shell", 600.0, 2, "exponential")
    assert (b.timeout, b.retry.max_attempts, b.retry.backoff) == (5.0, 4, "constant")  # the key is replaced whole


@pytest.mark.parametrize("step, on_error, attempts", [
    ({}, "abort", 1),
    ({"retry": {"max_attempts": 3}}, "retry", 3),
    ({"on_error": "retry"}, "retry", 3),
    ({"on_error": "log_and_continue"}, "continue", 1),
    ({"on_error": "continue", "retry": {"max_attempts": 2}}, "continue", 2),
    ({"fallback": {"tool": "shell", "parameters": {"command": "x"}}}, "fallback", 1),
])
def test_on_error_aliases_and_implications(step, on_error, attempts):
    (built,) = wf(steps=[{"id": "a", "tool": "shell", "parameters": {"command": "x"}, **step}]).steps
    assert built.on_error == on_error
    assert built.max_attempts == attempts
    assert built.final_on_error == ("abort" if on_error == "retry" else on_error)


def test_aliases_needs_and_if_are_remembered_for_error_paths():
    (built,) = wf(steps=[{"id": "a", "needs": ["x"], "if": "y", "tool": "shell"}]).steps
    assert built.depends_on == ("x",) and built.when == "y"
    assert (built.depends_key, built.when_key) == ("needs", "if")


def test_entry_kinds_and_nested_entries():
    assert [entry_kind(d) for d in ({"parallel": []}, {"if": "x", "then": []}, {"if": "x"}, {"switch": "x"},
                                    {"workflow": "w"}, {"id": "a"})] == [
        "parallel", "branch", "step", "switch", "workflow", "step"]
    workflow = wf(steps=[
        {"parallel": [{"id": "a", "tool": "shell"}], "id": "g", "max_parallel": 2},
        {"id": "br", "if": "x", "then": [{"id": "t", "tool": "shell"}], "else": [{"id": "e", "tool": "shell"}]},
        {"id": "sw", "switch": "x", "cases": {"one": [{"id": "c1", "tool": "shell"}]}, "default": [{"id": "d", "tool": "shell"}]},
    ])
    group, branch, switch = workflow.steps
    assert isinstance(group, ParallelGroup) and (group.id, group.max_parallel) == ("g", 2)
    assert isinstance(branch, Branch) and [s[0] for s in branch.sides] == ["then", "else"]
    assert isinstance(switch, Switch) and [s[0] for s in switch.sides] == ["one", "default"]
    assert [s.id for s in workflow.iter_steps()] == ["a", "t", "e", "c1", "d"]
    assert workflow.step("c1").path == ("steps", 2, "cases", "one", 0)


def test_building_is_lenient_about_wrong_shapes():
    workflow = build_workflow({"name": 5, "steps": ["x", {"id": "a", "timeout": "forever", "retry": "no"}],
                               "tags": "t", "parameters": [1]})
    assert workflow.name == "" and workflow.tags == () and workflow.parameters == ()
    (step,) = workflow.steps
    assert step.timeout is None and step.retry is None
    assert build_workflow([1, 2]).steps == ()


@pytest.mark.parametrize("retry, waits", [
    (RetryConfig(4, "exponential", 1, 3), [1, 2, 3]),
    (RetryConfig(4, "linear", 2), [2, 4, 6]),
    (RetryConfig(3, "constant", 5), [5, 5]),
    (RetryConfig(1), []),
])
def test_retry_schedule(retry, waits):
    assert retry.schedule() == waits


def test_retry_jitter_is_between_zero_and_the_wait():
    retry = RetryConfig(5, "exponential", 1, jitter=True)
    rng = random.Random(7)
    for n in (1, 2, 3, 4):
        wait = retry.delay_for(n, rng)
        assert 0 <= wait <= 2 ** (n - 1)
    assert retry.schedule() == [1, 2, 4, 8]
