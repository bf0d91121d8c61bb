"""`dag: true` (issue 12 §2): list order makes no edge; reads, depends_on and decisions still do."""

from __future__ import annotations

import textwrap

from yaml2dag.format.loader import load_text
from yaml2dag.format.model_builder import build_workflow
from yaml2dag.format.plan import Plan, build_plan
from yaml2dag.format.validation import validate_text


def plan_of(text: str) -> Plan:
    doc = load_text(textwrap.dedent(text).lstrip("\n"), "wf.yaml")
    assert doc.ok, doc.problems
    return build_plan(build_workflow(doc.data, doc.file), doc)


def edges(plan: Plan) -> dict[str, list[str]]:
    return {n: node.upstream() for n, node in plan.nodes.items()}


def step(sid: str, command: str = "echo", extra: str = "") -> str:
    return f'{{id: {sid}, tool: shell, parameters: {{command: "{command}"}}{extra}}}'


STEPS = f"""
    steps:
      - {step("a")}
      - {step("b")}
      - {step("c", "echo {{ a.output }}")}
      - {step("d", extra=", depends_on: [b]")}
      - {step("e")}
"""


def test_dag_true_keeps_only_reads_and_depends_on():
    plan = plan_of("name: A\ndag: true\n" + textwrap.dedent(STEPS))
    assert edges(plan) == {"a": [], "b": [], "c": ["a"], "d": ["b"], "e": []}
    assert sorted(plan.sinks) == ["c", "d", "e"]
    assert plan.problems == []


def test_without_dag_list_order_chains_them():
    plan = plan_of("name: A\n" + textwrap.dedent(STEPS))
    assert edges(plan) == {"a": [], "b": ["a"], "c": ["b", "a"], "d": ["b"], "e": ["d"]}
    assert plan_of("name: A\ndag: false\n" + textwrap.dedent(STEPS)).sinks == ["c", "e"]  # d replaced its edge


def test_dag_true_inside_a_branch_waits_for_the_decision_only():
    plan = plan_of(f"""
        name: B
        dag: true
        steps:
          - {step("check")}
          - id: gate
            if: "{{{{ check.succeeded }}}}"
            then:
              - {step("x")}
              - {step("y")}
    """)
    assert edges(plan)["gate"] == ["check"]
    assert edges(plan)["x"] == ["gate"] and edges(plan)["y"] == ["gate"]


def test_dag_true_allows_reading_a_step_listed_later_and_reports_cycles():
    later = validate_text(textwrap.dedent(f"""
        name: C
        dag: true
        steps:
          - {step("report", "echo {{ build.output }}")}
          - {step("build")}
    """))
    assert later.valid, [p.format() for p in later.problems]
    assert later.plan.order == ["build", "report"]
    cycle = validate_text(textwrap.dedent(f"""
        name: D
        dag: true
        steps:
          - {step("a", "echo {{ b.output }}")}
          - {step("b", "echo {{ a.output }}")}
    """))
    assert not cycle.valid
    assert any("dependency cycle" in p.message and "drop the reference" in p.message for p in cycle.errors)


def test_dag_must_be_a_boolean():
    report = validate_text(f"name: E\ndag: \"yes\"\nsteps:\n  - {step('a')}\n", "e.yaml")
    assert not report.valid
    assert any(p.path == "dag" and "true or false" in p.message for p in report.errors), report.errors
