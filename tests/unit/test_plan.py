"""The dependency plan: edges and sinks for each dependency form, skips, groups, order, cycles."""

from __future__ import annotations

import textwrap

from yaml2dag.format.loader import load_text
from yaml2dag.format.model_builder import build_workflow
from yaml2dag.format.plan import Plan, build_plan, step_references, template_fields


def plan_of(text: str) -> Plan:
    doc = load_text(textwrap.dedent(text).lstrip("\n"), "wf.yaml")
    assert doc.ok, doc.problems
    return build_plan(build_workflow(doc.data, doc.file), doc)


def edges(plan: Plan) -> dict[str, list[str]]:
    return {n: node.upstream() for n, node in plan.nodes.items()}


def step(sid: str, command: str = "echo", extra: str = "") -> str:
    return f'{{id: {sid}, tool: shell, parameters: {{command: "{command}"}}{extra}}}'


def test_list_order_chains_steps():
    plan = plan_of(f"""
        name: A
        steps:
          - {step("a")}
          - {step("b")}
          - {step("c")}
    """)
    assert edges(plan) == {"a": [], "b": ["a"], "c": ["b"]}
    assert plan.order == ["a", "b", "c"]
    assert plan.sinks == ["c"]
    assert plan.problems == []


def test_depends_on_replaces_list_order_and_empty_list_makes_a_root():
    plan = plan_of(f"""
        name: A
        steps:
          - {step("a")}
          - {step("b")}
          - {step("c", extra=", depends_on: [a]")}
          - {step("d", extra=", depends_on: []")}
          - {step("e", extra=", needs: [b, c]")}
    """)
    assert edges(plan) == {"a": [], "b": ["a"], "c": ["a"], "d": [], "e": ["b", "c"]}
    assert sorted(plan.sinks) == ["d", "e"]


def test_parallel_members_wait_for_the_previous_entry_and_the_next_waits_for_all():
    plan = plan_of(f"""
        name: A
        steps:
          - {step("setup")}
          - parallel:
              - {step("x")}
              - {step("y")}
              - {step("z")}
            id: checks
            max_parallel: 2
          - {step("after")}
    """)
    assert edges(plan) == {"setup": [], "x": ["setup"], "y": ["setup"], "z": ["setup"], "after": ["x", "y", "z"]}
    assert {n: plan.nodes[n].group for n in "xyz"} == {"x": "checks", "y": "checks", "z": "checks"}
    assert plan.parallel_limits == {"checks": 2}
    assert plan.groups["checks"] == ["x", "y", "z"]
    assert plan.completion("checks") == ["x", "y", "z"] and plan.completion("setup") == ["setup"]
    assert plan.sinks == ["after"]


def test_unnamed_parallel_groups_get_numbered_keys():
    plan = plan_of(f"""
        name: A
        steps:
          - parallel: [{step("a")}, {step("b")}]
            max_parallel: 1
          - parallel: [{step("c")}, {step("d")}]
    """)
    assert plan.nodes["a"].group == "parallel_1" and plan.nodes["c"].group == "parallel_2"
    assert plan.parallel_limits == {"parallel_1": 1}
    assert edges(plan)["c"] == ["a", "b"]


def test_depends_on_a_group_waits_for_its_members():
    plan = plan_of(f"""
        name: A
        steps:
          - parallel: [{step("a")}, {step("b")}]
            id: grp
          - {step("c", extra=", depends_on: []")}
          - {step("d", extra=", depends_on: [grp]")}
    """)
    assert edges(plan)["d"] == ["a", "b"]
    assert sorted(plan.sinks) == ["c", "d"]


def test_group_depends_on_applies_to_members_unless_they_set_their_own():
    plan = plan_of(f"""
        name: A
        steps:
          - {step("a")}
          - {step("b")}
          - parallel:
              - {step("c")}
              - {step("d", extra=", depends_on: [b]")}
            depends_on: [a]
    """)
    assert edges(plan)["c"] == ["a"]
    assert edges(plan)["d"] == ["b"]


def test_template_reference_adds_a_data_edge_inside_a_group():
    plan = plan_of(f"""
        name: A
        steps:
          - parallel:
              - {step("producer")}
              - {step("consumer", "echo {{ producer.output }}")}
    """)
    consumer = plan.nodes["consumer"]
    assert consumer.after == [] and consumer.reads == ["producer"]
    assert plan.order == ["producer", "consumer"]
    assert plan.sinks == ["consumer"]


def test_steps_namespace_and_conditions_add_data_edges():
    plan = plan_of(f"""
        name: A
        steps:
          - {step("a")}
          - {step("b", extra=", depends_on: []")}
          - {step("c", "echo {{ steps.a.output }}", ", depends_on: []")}
          - {step("d", extra=", depends_on: [], when: 'b.succeeded'")}
    """)
    assert plan.nodes["c"].reads == ["a"]
    assert plan.nodes["d"].reads == ["b"]
    assert sorted(plan.sinks) == ["c", "d"]


def test_branch_sides_wait_for_the_decision_and_the_next_entry_for_the_whole_branch():
    plan = plan_of(f"""
        name: A
        steps:
          - {step("a")}
          - id: route
            if: "a.output == 'x'"
            then:
              - {step("t1")}
              - {step("t2")}
            else:
              - {step("e1")}
          - {step("after")}
    """)
    nodes = plan.nodes
    assert nodes["route"].kind == "branch" and nodes["route"].after == ["a"]
    assert nodes["route"].reads == ["a"]
    assert (nodes["t1"].context, nodes["t2"].context, nodes["e1"].context) == (
        ("route", "then"), ("route", "then"), ("route", "else"))
    assert nodes["t1"].upstream() == ["route"]
    assert nodes["t2"].upstream() == ["t1", "route"]
    assert nodes["after"].after == ["route", "t1", "t2", "e1"]
    assert plan.groups["route"] == ["t2", "e1"]
    assert plan.sinks == ["after"]


def test_switch_cases_and_default():
    plan = plan_of(f"""
        name: A
        parameters:
          environment: staging
        steps:
          - id: by_env
            switch: "{{{{ environment }}}}"
            cases:
              staging: [{step("s")}]
              production: [{step("p")}]
            default: [{step("d")}]
    """)
    assert plan.nodes["by_env"].kind == "switch"
    assert {n: plan.nodes[n].context for n in "spd"} == {
        "s": ("by_env", "staging"), "p": ("by_env", "production"), "d": ("by_env", "default")}
    assert plan.groups["by_env"] == ["s", "p", "d"]
    assert sorted(plan.sinks) == ["d", "p", "s"]


def test_may_skip_propagates_through_reads_but_not_ordering():
    plan = plan_of(f"""
        name: A
        steps:
          - {step("cond", extra=", when: 'false'")}
          - {step("orders_after")}
          - {step("reads", "echo {{ cond.output }}")}
          - {step("reads_reader", "echo {{ reads.output }}")}
          - {step("always", extra=", when: true")}
          - id: route
            if: "true"
            then: [{step("inside")}]
    """)
    skip = {n: node.may_skip for n, node in plan.nodes.items()}
    assert skip == {"cond": True, "orders_after": False, "reads": True, "reads_reader": True,
                    "always": False, "route": False, "inside": True}
    assert plan.nodes["reads"].gated and not plan.nodes["route"].gated


def test_a_state_only_reader_does_not_inherit_the_skip_but_a_result_reader_does():
    plan = plan_of(f"""
        name: A
        steps:
          - {step("cond", extra=", when: 'false'")}
          - {step("state", "echo {{ cond.status }} {{ steps.cond['succeeded'] }} {{ cond.attempts }}")}
          - {step("result", "echo {{ steps.cond.exit_code }}")}
          - {step("mixed", "echo {{ cond.status }} {{ cond.output }}")}
          - {step("whole", "echo {{ cond }}")}
    """)
    nodes = plan.nodes
    assert nodes["state"].reads == ["cond"] and nodes["state"].state_reads == ["cond"]
    assert not nodes["state"].may_skip and not nodes["state"].gated
    assert [nodes[n].state_reads for n in ("result", "mixed", "whole")] == [[], [], []]
    assert all(nodes[n].reads == ["cond"] and nodes[n].may_skip for n in ("result", "mixed", "whole"))


def test_order_is_topological_and_follows_the_file_where_it_can():
    plan = plan_of(f"""
        name: A
        steps:
          - {step("late", "echo {{ early.output }}", ", depends_on: []")}
          - {step("early", extra=", depends_on: []")}
          - {step("free", extra=", depends_on: []")}
    """)
    assert plan.order == ["early", "late", "free"]
    assert plan.ancestors("late") == {"early"}


def test_reading_a_later_step_is_a_problem_and_adds_no_edge():
    plan = plan_of(f"""
        name: A
        steps:
          - {step("a", "echo {{ b.output }}")}
          - {step("b")}
    """)
    (problem,) = plan.problems
    assert (problem.line, problem.path, problem.rule) == (3, "steps[0].parameters.command", "reference")
    assert "`a` reads step `b`, which runs after it" in problem.message
    assert plan.nodes["a"].reads == []


def test_mutual_reads_in_a_group_keep_the_first_edge_only():
    plan = plan_of(f"""
        name: A
        steps:
          - parallel:
              - {step("p", "echo {{ q.output }}")}
              - {step("q", "echo {{ p.output }}")}
    """)
    (problem,) = plan.problems
    assert problem.path == "steps[0].parallel[1].parameters.command"
    assert plan.nodes["p"].reads == ["q"] and plan.nodes["q"].reads == []
    assert plan.order == ["q", "p"]


def test_cycles_unknown_targets_self_dependency_and_group_containment():
    plan = plan_of(f"""
        name: A
        steps:
          - {step("a", extra=", depends_on: [b]")}
          - {step("b", extra=", depends_on: [a]")}
          - {step("c", extra=", depends_on: [zz]")}
          - {step("d", extra=", depends_on: [d]")}
          - parallel:
              - {step("e", extra=", depends_on: [g]")}
            id: g
    """)
    found = {(p.path, p.rule): p.message for p in plan.problems}
    assert found[("steps[0].depends_on", "cycle")] == "dependency cycle: a → b → a"
    assert found[("steps[2].depends_on[0]", "dependency")] == "`zz` is not a step or group of this workflow"
    assert found[("steps[3].depends_on[0]", "dependency")] == "`d` cannot depend on itself"
    assert found[("steps[4].parallel[0].depends_on[0]", "cycle")] == "`e` cannot depend on `g`, which contains it"
    assert len(plan.problems) == 4
    assert sorted(plan.order) == sorted(plan.nodes)  # still every node, even with a cycle


def test_plan_without_a_document_still_names_the_path():
    doc = load_text("name: A\nsteps:\n  - {id: a, depends_on: [nope], tool: shell, parameters: {command: x}}\n")
    plan = build_plan(build_workflow(doc.data, "mem.yaml"))
    (problem,) = plan.problems
    assert (problem.file, problem.line, problem.path) == ("mem.yaml", 0, "steps[0].depends_on[0]")


def test_template_fields_and_step_references():
    doc = load_text(textwrap.dedent("""
        name: A
        steps:
          - id: a
            when: "x > 1"
            tool: shell
            parameters: {command: "echo {{ b.output }}", cwd: plain, env: {K: "{{ steps.c.output }}"}}
            fallback: {tool: shell, parameters: {command: "echo {{ error }}"}}
    """).lstrip("\n"))
    wf = build_workflow(doc.data)
    fields = [(f.path, f.bare, f.scope) for f in template_fields(wf.steps[0])]
    assert fields == [
        (("steps", 0, "when"), True, "step"),
        (("steps", 0, "parameters", "command"), False, "step"),
        (("steps", 0, "parameters", "env", "K"), False, "step"),
        (("steps", 0, "fallback", "parameters", "command"), False, "failure"),
    ]
    from yaml2dag.format.expressions import analyze

    refs = analyze("{{ b.output }} {{ steps.c.output }} {{ d }} {{ params.b }}").references
    assert step_references(refs, {"b", "c"}) == ["b", "c"]
