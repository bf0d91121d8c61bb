"""The `confirm` step key and the run modes (issue 15.7): schema, model, validation positions,
the plan (a step that asks may skip), the supervised job's condition ops, who asks in which mode,
and the CLI's terminal check. No Dagster run here (tests/integration/test_supervised_mode.py runs them).
"""

from __future__ import annotations

import io
import textwrap

import pytest

from yaml2dag.cli.supervise import REPLIES, terminal_problem
from yaml2dag.format.model import Step, SubWorkflow
from yaml2dag.format.plan import build_plan
from yaml2dag.format.run_modes import MODES, asks, check_mode
from yaml2dag.format.validation import validate_text

WORKFLOW = """
name: Confirm Unit
id: confirm_unit
steps:
  - id: first
    tool: shell
    parameters: {command: "echo one"}
  - id: second
    tool: shell
    confirm: true
    parameters: {command: "echo two"}
  - id: reads_result
    tool: shell
    parameters: {command: "echo {{ second.output }}"}
  - id: reads_state
    tool: shell
    parameters: {command: "echo {{ second.status }}"}
  - id: pick
    if: "{{ true }}"
    then:
      - id: inside
        tool: shell
        parameters: {command: "echo inside"}
"""


def _valid(text: str):
    report = validate_text(textwrap.dedent(text))
    assert report.valid, "\n".join(p.format() for p in report.problems)
    return report


def _errors(text: str) -> list[str]:
    return [p.format() for p in validate_text(textwrap.dedent(text).lstrip("\n"), "wf.yaml").problems
            if p.severity == "error"]


def test_model_reads_confirm_on_steps_and_subworkflow_steps():
    report = _valid(WORKFLOW)
    steps = {s.id: s for s in report.workflow.iter_steps()}
    assert steps["second"].confirm is True and steps["first"].confirm is False
    assert Step(id="x").confirm is False and SubWorkflow(id="y", workflow="z").confirm is False


def test_a_non_boolean_confirm_is_an_error_at_its_position():
    errors = _errors("""
        name: Bad Confirm
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo a"}
            confirm: "yes"
          - id: b
            tool: shell
            parameters: {command: "echo b"}
            confirm: 1
        """)
    assert "wf.yaml:6:14: steps[0].confirm: expected true or false, got the string 'yes' [schema]" in errors
    assert "wf.yaml:10:14: steps[1].confirm: expected true or false, got the integer 1 [schema]" in errors


def test_confirm_is_refused_in_on_failure_and_in_defaults():
    errors = _errors("""
        name: Handler Confirm
        defaults:
          confirm: true
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo a"}
        on_failure:
          - id: tell
            tool: shell
            parameters: {command: "echo failed"}
            confirm: true
        """)
    assert any(e.startswith("wf.yaml:3:3: defaults.confirm:") for e in errors), errors
    assert ("wf.yaml:12:14: on_failure[0].confirm: `confirm` cannot be used in `on_failure`: failure handlers run "
            "inline, without asking; remove it [on_failure]") in errors


def test_a_step_that_asks_may_skip_and_so_may_the_readers_of_its_result():
    wf = _valid(WORKFLOW).workflow
    plan = build_plan(wf)
    gated = {n for n, node in plan.nodes.items() if node.gated}
    # `inside` sits in a branch; `reads_state` only reads the state: it runs after a skip
    assert gated == {"second", "reads_result", "inside"}
    everything = build_plan(wf, confirm_all=True)
    assert {n for n, node in everything.nodes.items() if node.gated} == set(everything.nodes) - {"pick"}
    assert not everything.nodes["pick"].gated  # a decision is never asked


def test_the_supervised_job_has_a_condition_op_before_every_step():
    from yaml2dag.compiler.job import compile_workflow  # Dagster: only this test needs it

    report = _valid(WORKFLOW)
    usual = {n.name for n in compile_workflow(report.validated()).graph.nodes}
    supervised = {n.name for n in compile_workflow(report.validated(), supervised=True).graph.nodes}
    assert {"second__when", "reads_result__when"} <= usual and "first__when" not in usual
    assert {f"{s}__when" for s in ("first", "second", "reads_result", "reads_state", "inside")} <= supervised
    assert "pick__when" not in supervised


@pytest.mark.parametrize(("mode", "confirm", "who"), [
    ("autopilot", True, None), ("autopilot", False, None),
    ("supervised", False, "supervised"), ("supervised", True, "supervised"),
    ("hybrid", True, "hybrid"), ("hybrid", False, None),
    (None, True, "gate"), (None, False, None),  # UI, schedule, sensor, dagster job execute
])
def test_who_asks_in_each_mode(mode, confirm, who):
    assert asks(mode, confirm) == who


def test_modes_and_answers():
    assert MODES[0] == "autopilot"
    assert check_mode("hybrid") == "hybrid"
    with pytest.raises(ValueError, match="expected one of autopilot, supervised, hybrid"):
        check_mode("manual")
    assert {REPLIES[r] for r in ("c", "s", "a")} == {"continue", "skip", "abort"}
    assert REPLIES["abort"] == "abort"


def test_supervised_and_hybrid_need_a_terminal_on_stdin():
    assert terminal_problem("autopilot", io.StringIO()) is None
    message = terminal_problem("supervised", io.StringIO())
    assert message is not None and "stdin is not a terminal" in message and "\n" not in message

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert terminal_problem("hybrid", Tty()) is None
