"""The validator, one check at a time: each problem's rule, line, column, path and message.

Every test validates real YAML text (or real files for the checks across files) through the
public entry points `validate_text`, `validate_file` and `validate_paths`.
"""

from __future__ import annotations

import textwrap

import pytest

from yaml2dag.format.errors import Problem
from yaml2dag.format.validation import FileReport, validate_file, validate_paths, validate_text

from conftest import write


def check(text: str, file: str = "wf.yaml") -> FileReport:
    return validate_text(textwrap.dedent(text).lstrip("\n"), file)


def only(report: FileReport, rule: str | None = None, *, severity: str = "error") -> Problem:
    """The single problem of ``report`` (of ``rule`` when given); fails listing all otherwise."""
    found = [p for p in report.problems if p.severity == severity and (rule is None or p.rule == rule)]
    assert len(found) == 1, "\n".join(p.format() for p in report.problems)
    return found[0]


def where(problem: Problem) -> tuple[int, int, str, str]:
    return problem.line, problem.column, problem.path, problem.rule


SHELL = "tool: shell\n    parameters: {command: echo}"


# --------------------------------------------------------------------------- YAML syntax


def test_yaml_syntax_error_has_the_position_of_the_broken_flow_mapping():
    report = check("""
        name: Broken
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo"
    """)
    problem = only(report)
    assert (problem.line, problem.rule, problem.path) == (6, "syntax", "")
    assert problem.message.startswith("invalid YAML:")
    assert "flow mapping" in problem.message
    assert report.workflow is None and not report.valid


def test_tab_indentation_is_a_syntax_error_on_its_line():
    report = check("name: A\nsteps:\n\t- id: a\n")
    problem = only(report)
    assert (problem.line, problem.rule) == (3, "syntax")
    assert "tab" in problem.message


def test_duplicate_key_names_the_line_of_the_first_definition():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo"}
        name: B
    """)
    problem = only(report)
    assert where(problem) == (6, 1, "name", "syntax")
    assert problem.message == "duplicate key `name` (first defined on line 1)"


def test_duplicate_key_inside_a_step():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            tool: python
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (5, 5, "steps[0].tool", "syntax")
    assert "first defined on line 4" in problem.message


def test_unquoted_template_read_as_a_mapping_says_quote_it():
    report = check("""
        name: A
        parameters:
          x: hi
        steps:
          - id: a
            tool: shell
            parameters:
              command: {{ x }}
    """)
    problem = only(report, "syntax")
    assert where(problem) == (8, 16, "steps[0].parameters.command", "syntax")
    assert "unquoted template {{ x }}" in problem.message
    assert 'quote it: "{{ x }}"' in problem.message
    assert not report.valid


def test_unquoted_template_in_a_flow_list_item():
    report = check("""
        name: A
        parameters:
          x: hi
        steps:
          - id: a
            tool: shell
            parameters:
              args: [echo, {{ x }}]
    """)
    problem = only(report, "syntax")
    assert where(problem) == (8, 20, "steps[0].parameters.args[1]", "syntax")
    assert "quote it" in problem.message


def test_python_tags_are_rejected_not_silently_dropped():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            parameters: !!python/object/apply:os.system ["echo hi"]
    """)
    problem = only(report, "syntax")
    assert where(problem) == (5, 17, "steps[0].parameters", "syntax")
    assert "`!!python/object/apply:os.system` is not allowed" in problem.message


# --------------------------------------------------------------------------- schema


def test_unknown_top_level_key_with_did_you_mean():
    report = check("""
        name: A
        stesp:
          - id: a
            tool: shell
            parameters: {command: "echo"}
    """)
    unknown = [p for p in report.problems if "unknown key" in p.message]
    assert len(unknown) == 1
    assert where(unknown[0]) == (2, 1, "stesp", "schema")
    assert unknown[0].message == "unknown key `stesp`; did you mean `steps`?"
    missing = [p for p in report.problems if "missing required key `steps`" in p.message]
    assert len(missing) == 1 and missing[0].line == 1


def test_unknown_step_key_dependson_suggests_depends_on():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo"}
          - id: b
            dependson: [a]
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (7, 5, "steps[1].dependson", "schema")
    assert problem.message == "unknown key `dependson`; did you mean `depends_on`?"


def test_unknown_keys_in_nested_blocks_have_hints():
    report = check("""
        name: A
        parameters:
          n: {type: integer, default: 1, minimun: 0}
        steps:
          - id: a
            tool: shell
            retry: {max_attempts: 2, backof: linear}
            parameters: {command: "echo"}
    """)
    by_path = {p.path: p for p in report.problems}
    assert by_path["parameters.n.minimun"].message == "unknown key `minimun`; did you mean `minimum`?"
    assert (by_path["parameters.n.minimun"].line, by_path["parameters.n.minimun"].column) == (3, 34)
    assert by_path["steps[0].retry.backof"].message == "unknown key `backof`; did you mean `backoff`?"
    assert by_path["steps[0].retry.backof"].line == 7


@pytest.mark.parametrize("line, col, path, phrase", [
    (1, 7, "name", "expected a string, got the integer 5"),
    (2, 7, "tags", "expected a list, got the string 'deployment'"),
    (6, 14, "steps[0].timeout", "expected a duration"),
    (7, 27, "steps[0].retry.max_attempts", "expected an integer, got the string 'x'"),
    (8, 15, "steps[0].on_error", "the string 'explode' is not one of"),
])
def test_wrong_types_each_at_their_value(line, col, path, phrase):
    report = check("""
        name: 5
        tags: deployment
        steps:
          - id: a
            tool: shell
            timeout: forever
            retry: {max_attempts: "x"}
            on_error: explode
            parameters: {command: "echo"}
    """)
    matching = [p for p in report.problems if p.path == path]
    assert len(matching) == 1, "\n".join(p.format() for p in report.problems)
    assert (matching[0].line, matching[0].column, matching[0].rule) == (line, col, "schema")
    assert phrase in matching[0].message


def test_minimum_of_max_attempts():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            retry: {max_attempts: 0}
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (5, 27, "steps[0].retry.max_attempts", "schema")
    assert problem.message == "must be at least 1, got 0"


def test_bad_step_identifier():
    report = check("""
        name: A
        steps:
          - id: Bad-Id
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (3, 9, "steps[0].id", "schema")
    assert "`Bad-Id` is not a valid id" in problem.message


def test_bad_parameter_name():
    report = check("""
        name: A
        parameters:
          bad-name: 1
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (3, 3, "parameters.bad-name", "schema")
    assert "`bad-name` is not a valid name" in problem.message


def test_step_list_item_that_is_not_a_mapping():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo"}
          - "just a string"
    """)
    problem = only(report)
    assert where(problem) == (6, 5, "steps[1]", "schema")
    assert problem.message == "expected a mapping, got the string 'just a string'"


# --------------------------------------------------------------------------- ids and names


def test_duplicate_step_ids_name_the_first_line():
    report = check("""
        name: A
        steps:
          - id: build
            tool: shell
            parameters: {command: "echo"}
          - id: build
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (6, 9, "steps[1].id", "id")
    assert problem.message == "duplicate id `build` (first used on line 3)"


def test_duplicate_id_across_a_parallel_group():
    report = check("""
        name: A
        steps:
          - parallel:
              - id: x
                tool: shell
                parameters: {command: "echo"}
              - id: x
                tool: shell
                parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (7, 13, "steps[0].parallel[1].id", "id")
    assert "first used on line 4" in problem.message


def test_step_id_equal_to_a_parameter_name():
    report = check("""
        name: A
        parameters:
          branch: main
        steps:
          - id: branch
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (5, 9, "steps[0].id", "id")
    assert "step id `branch` is also a parameter name" in problem.message


def test_parameter_named_env_is_reserved():
    report = check("""
        name: A
        parameters:
          env: prod
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (3, 3, "parameters.env", "parameter")
    assert "`env` is a reserved name in templates" in problem.message


def test_step_named_input_is_reserved_by_dagster():
    report = check("""
        name: A
        steps:
          - id: input
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (3, 9, "steps[0].id", "id")
    assert "`input` is reserved by Dagster" in problem.message


def test_step_named_params_is_reserved_in_templates():
    report = check("""
        name: A
        steps:
          - id: params
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (3, 9, "steps[0].id", "id")
    assert "`params` is a reserved name in templates" in problem.message


def test_job_id_from_name_continue_is_reserved_by_dagster():
    report = check("""
        name: Continue
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (1, 7, "name", "id")
    assert "the job id `continue` is reserved by Dagster" in problem.message
    assert "set an `id:`" in problem.message


def test_explicit_reserved_job_id_points_at_id():
    report = check("""
        name: Fine Name
        id: config
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (2, 5, "id", "id")
    assert "choose another id" in problem.message


def test_explicit_id_avoids_the_reserved_slug():
    report = check("""
        name: Continue
        id: continue_job
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo"}
    """)
    assert report.valid, [p.format() for p in report.problems]


# --------------------------------------------------------------------------- parameter defaults


PARAMS = """
    name: A
    parameters:
      retries: {type: integer, default: "three"}
      envname: {type: string, default: dev, enum: [staging, production]}
      count: {type: integer, default: -1, minimum: 0}
      size: {type: number, default: 11, maximum: 10}
      branch: {type: string, default: "Main", pattern: "^[a-z]+$"}
      ok: {type: number, default: 2, minimum: 0, maximum: 10}
    steps:
      - id: a
        tool: shell
        parameters: {command: "echo"}
"""


@pytest.mark.parametrize("line, col, name, phrase", [
    (3, 37, "retries", "default expected an integer, got 'three'"),
    (4, 36, "envname", "default 'dev' is not one of \"staging\", \"production\""),
    (5, 35, "count", "default -1 is less than the minimum 0"),
    (6, 33, "size", "default 11 is greater than the maximum 10"),
    (7, 35, "branch", "default 'Main' does not match the pattern '^[a-z]+$'"),
])
def test_parameter_defaults_are_checked_against_their_declaration(line, col, name, phrase):
    report = check(PARAMS)
    problems = [p for p in report.problems if p.path == f"parameters.{name}.default"]
    assert len(problems) == 1, "\n".join(p.format() for p in report.problems)
    assert (problems[0].line, problems[0].column, problems[0].rule) == (line, col, "parameter")
    assert problems[0].message == phrase
    assert len(report.errors) == 5  # `ok` is fine


def test_bare_default_has_its_inferred_type_and_is_valid():
    report = check("""
        name: A
        parameters:
          dry_run: false
          n: 3
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo {{ dry_run }} {{ n }}"}
    """)
    assert report.valid
    types = {p.name: p.type for p in report.workflow.parameters}
    assert types == {"dry_run": "boolean", "n": "integer"}


def test_enum_values_of_the_wrong_type():
    report = check("""
        name: A
        parameters:
          level: {type: integer, default: 1, enum: [1, "two"]}
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (3, 48, "parameters.level.enum[1]", "parameter")
    assert "enum value expected an integer" in problem.message


# --------------------------------------------------------------------------- templates


def test_unknown_name_in_a_template_with_did_you_mean():
    report = check("""
        name: A
        parameters:
          branch: main
        steps:
          - id: build
            tool: shell
            parameters: {command: "echo {{ brnch }}"}
    """)
    problem = only(report)
    assert where(problem) == (7, 27, "steps[0].parameters.command", "reference")
    assert problem.message == "unknown name `brnch`; did you mean `branch`?"


def test_unknown_params_attribute():
    report = check("""
        name: A
        parameters:
          branch: main
        steps:
          - id: build
            tool: shell
            parameters: {command: "echo {{ params.brach }}"}
    """)
    problem = only(report)
    assert where(problem) == (7, 27, "steps[0].parameters.command", "reference")
    assert problem.message == "unknown parameter `brach`; did you mean `branch`?"


def test_unknown_step_result_field():
    report = check("""
        name: A
        steps:
          - id: build
            tool: shell
            parameters: {command: "make"}
          - id: test
            tool: shell
            parameters: {command: "echo {{ build.outptu }}"}
    """)
    problem = only(report)
    assert where(problem) == (8, 27, "steps[1].parameters.command", "reference")
    assert problem.message.startswith("step `build` has no result field `outptu`; did you mean `output`?")
    assert "exit_code" in problem.message  # the shell tool's own fields are listed


def test_steps_namespace_field_and_unknown_step():
    report = check("""
        name: A
        steps:
          - id: build
            tool: shell
            parameters: {command: "make"}
          - id: test
            tool: shell
            parameters:
              command: "echo {{ steps.build.exit_cod }}"
              cwd: "{{ steps.biuld.output }}"
    """)
    by_path = {p.path: p for p in report.problems}
    field = by_path["steps[1].parameters.command"]
    assert (field.line, field.rule) == (9, "reference")
    assert "has no result field `exit_cod`; did you mean `exit_code`?" in field.message
    step = by_path["steps[1].parameters.cwd"]
    assert (step.line, step.column) == (10, 12)
    assert step.message == "unknown step `biuld`; did you mean `build`?"


def test_template_syntax_error():
    report = check("""
        name: A
        steps:
          - id: build
            tool: shell
            parameters: {command: "echo {{ build.output "}
    """)
    problem = only(report)
    assert where(problem) == (5, 27, "steps[0].parameters.command", "template")
    assert problem.message.startswith("template syntax error:")


def test_condition_bare_expression_is_checked():
    report = check("""
        name: A
        parameters:
          environment: staging
        steps:
          - id: deploy
            when: "enviroment == 'production'"
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (6, 11, "steps[0].when", "reference")
    assert "did you mean `environment`?" in problem.message


def test_error_is_only_defined_in_fallbacks():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo {{ error }}"}
    """)
    problem = only(report)
    assert where(problem) == (5, 27, "steps[0].parameters.command", "reference")
    assert "`error` is only defined in `fallback`" in problem.message


def test_error_in_a_fallback_is_fine():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            parameters: {command: "false"}
            on_error: fallback
            fallback:
              tool: shell
              parameters: {command: "echo failed: {{ error }}"}
    """)
    assert report.valid, [p.format() for p in report.problems]


def test_reading_a_step_that_runs_later_points_at_the_template():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            parameters:
              command: "echo {{ b.output }}"
          - id: b
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (6, 16, "steps[0].parameters.command", "reference")
    assert problem.message.startswith("`a` reads step `b`, which runs after it")


def test_a_step_reading_its_own_result():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            parameters:
              command: "echo {{ a.output }}"
    """)
    problem = only(report)
    assert where(problem) == (6, 16, "steps[0].parameters.command", "reference")
    assert problem.message == "`a` cannot read its own result"


def test_reading_a_sibling_in_a_parallel_group_is_allowed():
    report = check("""
        name: A
        steps:
          - parallel:
              - id: producer
                tool: shell
                parameters: {command: "echo 42"}
              - id: consumer
                tool: shell
                parameters: {command: "echo {{ producer.output }}"}
    """)
    assert report.valid, [p.format() for p in report.problems]


def test_raw_filter_is_a_warning_and_the_file_stays_valid():
    report = check("""
        name: A
        parameters:
          flags: "-la"
        steps:
          - id: a
            tool: shell
            parameters: {command: "ls {{ flags | raw }}"}
    """)
    assert report.valid
    assert report.errors == []
    warning = only(report, "raw", severity="warning")
    assert (warning.line, warning.column, warning.path) == (7, 27, "steps[0].parameters.command")
    assert "`| raw` inserts text without quoting" in warning.message
    assert warning.format().startswith("wf.yaml:7:27: warning: steps[0].parameters.command:")


# --------------------------------------------------------------------------- dependencies


def test_dependency_cycle_via_depends_on():
    report = check("""
        name: A
        steps:
          - id: a
            depends_on: [b]
            tool: shell
            parameters: {command: "echo"}
          - id: b
            depends_on: [a]
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (4, 17, "steps[0].depends_on", "cycle")
    assert problem.message == "dependency cycle: a → b → a"


def test_every_cycle_and_the_other_reference_errors_are_reported_together():
    # two independent cycles (a <-> b, c -> d -> e -> c) and, away from them, a read of a later step
    report = check("""
        name: A
        steps:
          - id: a
            depends_on: [b]
            tool: shell
            parameters: {command: "echo"}
          - id: b
            depends_on: [a]
            tool: shell
            parameters: {command: "echo"}
          - id: early
            depends_on: []
            tool: shell
            parameters:
              command: "echo {{ late.output }}"
          - id: late
            depends_on: [early]
            tool: shell
            parameters: {command: "echo"}
          - id: c
            needs: [e]
            tool: shell
            parameters: {command: "echo"}
          - id: d
            needs: [c]
            tool: shell
            parameters: {command: "echo"}
          - id: e
            needs: [d]
            tool: shell
            parameters: {command: "echo"}
    """)
    found = [(p.line, p.path, p.rule, p.message) for p in report.errors]
    assert found == [
        (4, "steps[0].depends_on", "cycle", "dependency cycle: a → b → a"),
        (15, "steps[2].parameters.command", "reference",
         "`early` reads step `late`, which runs after it (a dependency cycle); move `late` earlier or drop the reference"),
        (21, "steps[4].needs", "cycle", "dependency cycle: c → d → e → c"),
    ], "\n".join(p.format() for p in report.problems)


def test_a_read_from_a_cycle_member_to_a_later_step_is_still_checked():
    report = check("""
        name: A
        steps:
          - id: a
            depends_on: [b]
            tool: shell
            parameters:
              command: "echo {{ b.output }} {{ after.output }}"
          - id: b
            depends_on: [a]
            tool: shell
            parameters: {command: "echo"}
          - id: after
            depends_on: [a]
            tool: shell
            parameters: {command: "echo"}
    """)
    rules = sorted((p.line, p.rule, p.message.split(",")[0]) for p in report.errors)
    # the read of `b` (on the same cycle) is not reported twice; the read of `after` is
    assert rules == [(4, "cycle", "dependency cycle: a → b → a"), (7, "reference", "`a` reads step `after`")]


def test_unknown_depends_on_target_with_did_you_mean():
    report = check("""
        name: A
        steps:
          - id: build
            tool: shell
            parameters: {command: "echo"}
          - id: test
            needs: [biuld]
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (7, 13, "steps[1].needs[0]", "dependency")
    assert problem.message == "`biuld` is not a step or group of this workflow; did you mean `build`?"


def test_step_depending_on_itself():
    report = check("""
        name: A
        steps:
          - id: a
            depends_on: [a]
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (4, 18, "steps[0].depends_on[0]", "dependency")
    assert problem.message == "`a` cannot depend on itself"


# --------------------------------------------------------------------------- tools


def test_unknown_tool_with_did_you_mean():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shel
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (4, 11, "steps[0].tool", "tool")
    assert problem.message.startswith("unknown tool `shel`; did you mean `shell`?")
    assert "(tools: shell, python" in problem.message


def test_unknown_action():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            action: exec
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (5, 13, "steps[0].action", "tool")
    assert problem.message == "unknown action `exec` of tool `shell`; did you mean `execute`? (actions: execute)"


def test_shell_parameter_typo():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            parameters: {comand: "echo"}
    """)
    typo = [p for p in report.problems if "unknown key" in p.message]
    assert len(typo) == 1
    assert where(typo[0]) == (5, 18, "steps[0].parameters.comand", "parameters")
    assert typo[0].message == "unknown key `comand`; did you mean `command`?"
    # without `command` the action's "one of command/args" rule fails too, at the mapping
    assert any(p.path == "steps[0].parameters" and "exactly one of `command`" in p.message for p in report.problems)


@pytest.mark.parametrize("params", ['{command: "echo", args: ["echo"]}', '{cwd: "/tmp"}'])
def test_shell_needs_exactly_one_of_command_or_args(params):
    report = check(f"""
        name: A
        steps:
          - id: a
            tool: shell
            parameters: {params}
    """)
    problem = only(report)
    assert where(problem) == (5, 17, "steps[0].parameters", "parameters")
    assert problem.message.startswith("expected exactly one of `command` (a string) or `args` (a list)")


def test_tool_parameter_of_the_wrong_type():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo", check: "yes"}
    """)
    problem = only(report)
    assert where(problem) == (5, 42, "steps[0].parameters.check", "parameters")
    assert problem.message == "expected true or false, got the string 'yes'"


def test_template_values_are_not_type_checked_against_the_tool_schema():
    report = check("""
        name: A
        parameters:
          strict: true
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo", check: "{{ strict }}"}
    """)
    assert report.valid, [p.format() for p in report.problems]


def test_tool_from_defaults_is_checked():
    report = check("""
        name: A
        defaults:
          tool: shel
        steps:
          - id: a
            parameters: {command: "echo"}
    """)
    problem = only(report, "tool")
    assert where(problem) == (3, 9, "defaults.tool", "tool")


def test_on_error_fallback_without_a_fallback():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            on_error: fallback
            parameters: {command: "false"}
    """)
    problem = only(report)
    assert where(problem) == (5, 15, "steps[0].on_error", "error-handling")
    assert problem.message == "`on_error: fallback` needs a `fallback` step body"


def test_fallback_body_tool_is_checked():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shell
            parameters: {command: "false"}
            fallback:
              tool: shell
              parameters: {comand: "echo"}
    """)
    typo = [p for p in report.problems if "unknown key" in p.message]
    assert len(typo) == 1
    assert where(typo[0]) == (8, 20, "steps[0].fallback.parameters.comand", "parameters")


# --------------------------------------------------------------------------- triggers


TRIGGERS = """
    name: A
    parameters:
      environment: {type: string, default: staging, enum: [staging, production]}
      n: 3
    triggers:
      - type: schedule
        cron: "0 25 * * *"
        timezone: "Europe/Berln"
        parameters: {enviroment: staging, n: "x"}
    steps:
      - id: a
        tool: shell
        parameters: {command: "echo"}
"""


def test_invalid_cron_expression():
    problem = only(check(TRIGGERS), "cron")
    assert (problem.line, problem.column, problem.path) == (7, 11, "triggers[0].cron")
    assert problem.message == "invalid cron expression '0 25 * * *': hour: 25 is out of range 0-23"


def test_unknown_time_zone_with_did_you_mean():
    problem = only(check(TRIGGERS), "timezone")
    assert (problem.line, problem.column, problem.path) == (8, 15, "triggers[0].timezone")
    assert problem.message.startswith("unknown time zone `Europe/Berln`; did you mean `Europe/Berlin`?")


def test_trigger_parameters_unknown_name_and_wrong_type():
    problems = [p for p in check(TRIGGERS).problems if p.rule == "trigger"]
    assert [(p.line, p.column, p.path) for p in problems] == [
        (9, 18, "triggers[0].parameters.enviroment"),
        (9, 42, "triggers[0].parameters.n"),
    ]
    assert problems[0].message == "unknown parameter `enviroment`; did you mean `environment`?"
    assert problems[1].message == "expected an integer, got 'x'"


def test_unknown_trigger_type_with_did_you_mean():
    report = check("""
        name: A
        triggers:
          - type: schedul
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo"}
    """)
    problem = only(report)
    assert where(problem) == (3, 11, "triggers[0].type", "schema")
    assert "did you mean `schedule`?" in problem.message


def test_valid_schedule_with_shorthand_and_zone():
    report = check("""
        name: A
        triggers:
          - type: schedule
            cron: "@daily"
            timezone: "America/New_York"
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo"}
    """)
    assert report.valid, [p.format() for p in report.problems]


# --------------------------------------------------------------------------- all at once


def test_every_problem_of_a_file_is_reported_at_once_sorted_by_line():
    report = check("""
        name: Five
        descripton: "typo in a top-level key"
        steps:
          - id: build
            tool: shell
            parameters: {command: "make"}
          - id: Test
            tool: shell
            parameters: {command: "make test"}
          - id: deploy
            tool: shel
            parameters: {command: "echo {{ buld.output }}"}
            retry: {max_attempts: "3"}
    """)
    assert [(p.line, p.rule) for p in report.problems] == [
        (2, "schema"),      # unknown key `descripton`
        (7, "schema"),      # id `Test`
        (11, "tool"),       # unknown tool `shel`
        (12, "reference"),  # unknown name `buld`
        (13, "schema"),     # max_attempts is a string
    ]
    messages = [p.message for p in report.problems]
    assert "did you mean `description`?" in messages[0]
    assert "`Test` is not a valid id" in messages[1]
    assert "did you mean `shell`?" in messages[2]
    assert "did you mean `build`?" in messages[3]
    assert "expected an integer" in messages[4]


def test_spec_example_is_valid_with_a_shell_fallback():
    report = check("""
        # yaml-language-server: $schema=../yaml2dag/format/schema/workflow.schema.json
        name: "Deploy Pipeline"
        version: "1.2.0"
        description: "Pull, test, build and deploy a branch"
        author: "platform-team"
        tags: [deployment, ci/cd]

        parameters:
          branch:      {type: string, default: main, description: "Branch to deploy"}
          environment: {type: string, default: staging, enum: [staging, production]}
          max_retries: {type: integer, default: 3, minimum: 0}
          dry_run:     false

        triggers:
          - type: manual
          - type: schedule
            cron: "0 9 * * 1-5"
            timezone: "Europe/Berlin"
            parameters: {environment: staging}

        defaults:
          timeout: 10m
          retry: {max_attempts: 2, backoff: exponential, delay: 2}

        steps:
          - id: pull
            name: "Git Pull"
            tool: shell
            parameters:
              command: "git pull origin {{ branch }}"
              cwd: "{{ env.REPO_DIR }}"

          - parallel:
              - id: unit_tests
                tool: shell
                parameters: {command: "pytest -q tests/unit"}
                on_error: continue
              - id: lint
                tool: shell
                parameters: {command: "ruff check ."}

          - id: deploy
            when: "{{ unit_tests.succeeded and environment == 'production' }}"
            tool: shell
            parameters: {command: "./deploy.sh {{ environment }}"}
            retry: {max_attempts: 3, backoff: exponential, delay: 5}
            on_error: fallback
            fallback:
              tool: shell
              parameters: {command: "echo deploy of {{ branch }} failed: {{ error }}"}

        outputs:
          test_report: "{{ unit_tests.output }}"
          deployed: "{{ deploy.succeeded }}"
    """)
    assert report.errors == [], "\n".join(p.format() for p in report.problems)
    assert report.valid
    wf = report.workflow
    assert (wf.name, wf.id, wf.version) == ("Deploy Pipeline", "deploy_pipeline", "1.2.0")
    assert [s.id for s in wf.iter_steps()] == ["pull", "unit_tests", "lint", "deploy"]


def test_problem_format_is_file_line_column_path_message_rule():
    report = check("""
        name: A
        steps:
          - id: a
            tool: shel
            parameters: {command: "echo"}
    """, file="flows/deploy.yaml")
    line = only(report).format()
    assert line.startswith("flows/deploy.yaml:4:11: steps[0].tool: unknown tool `shel`")
    assert line.endswith("[tool]")


# --------------------------------------------------------------------------- files and folders


def workflow(name: str, extra: str = "") -> str:
    return f"name: {name!r}\n{extra}steps:\n  - id: a\n    tool: shell\n    parameters: {{command: echo}}\n"


def test_duplicate_workflow_names_across_files_ignore_case(tmp_path):
    first = write(tmp_path, "a.yaml", workflow("Deploy"))
    second = write(tmp_path, "b.yaml", workflow("DEPLOY"))
    report = validate_paths([tmp_path])
    assert [f.valid for f in report.files] == [True, False]
    problem = only(report.files[1])
    assert (problem.file, problem.line, problem.column, problem.path, problem.rule) == (
        str(second), 1, 7, "name", "duplicate")
    assert f"also used by {first}" in problem.message
    assert "ignoring case" in problem.message
    assert not report.valid


def test_duplicate_job_ids_across_files(tmp_path):
    write(tmp_path, "a.yaml", workflow("Git Sync"))
    second = write(tmp_path, "b.yaml", workflow("git-sync"))   # slug git_sync too
    third = write(tmp_path, "c.yaml", workflow("Other", "id: git_sync\n"))
    report = validate_paths([tmp_path])
    assert [f.valid for f in report.files] == [True, False, False]
    slug = only(report.files[1])
    assert (slug.file, slug.line, slug.path, slug.rule) == (str(second), 1, "name", "duplicate")
    assert slug.message.startswith("job id `git_sync` is also used by")
    explicit = only(report.files[2])
    assert (explicit.file, explicit.line, explicit.column, explicit.path) == (str(third), 2, 5, "id")


def test_a_job_id_equal_to_another_jobs_op_name_is_reported_on_the_later_file(tmp_path):
    # job `a` has step `b` → op `a__b`; a workflow with id `a__b` has a root graph `a__b`
    first = write(tmp_path, "a.yaml", workflow("a").replace("id: a", "id: b"))
    second = write(tmp_path, "z.yaml", workflow("Other", "id: a__b\n"))
    report = validate_paths([tmp_path])
    assert [f.valid for f in report.files] == [True, False]
    problem = only(report.files[1])
    assert (problem.file, problem.line, problem.column, problem.path, problem.rule) == (
        str(second), 2, 5, "id", "duplicate")
    assert "`a__b`" in problem.message and "op of step `b`" in problem.message
    assert f"in {first}" in problem.message


def test_two_jobs_whose_op_names_coincide(tmp_path):
    # job `a` step `_b` and job `a_` step `b` both give the op name `a___b`
    write(tmp_path, "a.yaml", "name: a\nsteps:\n  - {id: ok, tool: shell, parameters: {command: echo}}\n"
                              "  - {id: _b, tool: shell, parameters: {command: echo}}\n")
    second = write(tmp_path, "b.yaml", "name: B\nid: a_\nsteps:\n  - id: b\n    tool: shell\n"
                                       "    parameters: {command: echo}\n")
    report = validate_paths([tmp_path])
    assert [f.valid for f in report.files] == [True, False]
    problem = only(report.files[1])
    assert (problem.file, problem.line, problem.column, problem.path) == (str(second), 4, 9, "steps[0].id")
    assert "`a___b`" in problem.message and "a.yaml" in problem.message


def test_names_of_a_sub_workflows_nested_ops_are_checked_too(tmp_path):
    # the child's step `x` inside step `s` of job `p` is op `p__s__x`; a step `s__x` of `p` is too
    write(tmp_path, "child.yaml", "name: child\nsteps:\n  - {id: x, tool: shell, parameters: {command: echo}}\n")
    parent = write(tmp_path, "p.yaml", """name: p
steps:
  - {id: s, workflow: child}
  - {id: s__x, tool: shell, parameters: {command: echo}}
""")
    report = validate_paths([tmp_path])
    problem = only(next(f for f in report.files if f.file == str(parent)))
    assert (problem.line, problem.path, problem.rule) == (4, "steps[1].id", "duplicate")
    assert "`p__s__x`" in problem.message and "sub-workflow 'child'" in problem.message


def test_same_name_twice_is_reported_once_not_also_as_a_job_id(tmp_path):
    write(tmp_path, "a.yaml", workflow("Deploy"))
    write(tmp_path, "b.yaml", workflow("deploy"))
    report = validate_paths([tmp_path])
    assert len(report.files[1].problems) == 1


def test_folders_skip_hidden_and_underscore_names_and_recurse(tmp_path):
    write(tmp_path, "team/a.yaml", workflow("A"))
    write(tmp_path, "team/b.yml", workflow("B"))
    write(tmp_path, "c.json", '{"name": "C", "steps": [{"id": "a", "tool": "shell", "parameters": {"command": "echo"}}]}')
    write(tmp_path, ".versions/a.yaml", workflow("A"))
    write(tmp_path, "_drafts/a.yaml", workflow("A"))
    write(tmp_path, "notes.txt", "not a workflow")
    report = validate_paths([tmp_path])
    assert sorted(f.workflow.name for f in report.files) == ["A", "B", "C"]
    assert report.valid


def test_validate_file_of_a_missing_path_is_a_problem_not_an_exception(tmp_path):
    report = validate_file(tmp_path / "missing.yaml")
    problem = only(report)
    assert problem.rule == "syntax" and "cannot read file" in problem.message
    assert not report.valid


def test_report_json_shape(tmp_path):
    write(tmp_path, "good.yaml", workflow("Good"))
    bad = write(tmp_path, "bad.yaml", workflow("Bad").replace("tool: shell", "tool: shel"))
    data = validate_paths([tmp_path]).to_json()
    assert set(data) == {"valid", "workflows", "errors", "warnings"}
    assert data["valid"] is False
    assert {w["name"]: w["valid"] for w in data["workflows"]} == {"Good": True, "Bad": False}
    (error,) = data["errors"]
    assert {"file", "line", "column", "path", "message"} <= set(error)
    assert (error["file"], error["line"], error["column"], error["path"]) == (str(bad), 4, 11, "steps[0].tool")


# --------------------------------------------------------------------------- shell commands


def test_backslash_before_an_inserted_shell_value_is_caught_at_validate_time():
    report = check("""
        name: wf
        parameters:
          who: {type: string, default: bob}
        steps:
          - id: a
            tool: shell
            parameters:
              command: echo \\{{ who }}
    """)
    problem = only(report, "template")
    assert where(problem) == (8, 16, "steps[0].parameters.command", "template")
    assert "backslash right before {{" in problem.message


def test_value_in_a_quoted_here_document_points_at_the_line_inside_the_block():
    report = check("""
        name: wf
        parameters:
          who: {type: string, default: bob}
        steps:
          - id: b
            tool: shell
            parameters:
              command: |
                cat <<'EOF'
                {{ who }}
                EOF
    """)
    problem = only(report, "template")
    assert where(problem) == (10, 9, "steps[0].parameters.command", "template")
    assert "quoted here-document (<<'EOF')" in problem.message
    assert "(line" not in problem.message


def test_unquoted_here_document_and_plain_commands_are_valid():
    report = check("""
        name: wf
        parameters:
          who: {type: string, default: bob}
        steps:
          - id: b
            tool: shell
            parameters:
              command: |
                cat <<EOF
                {{ who }}
                EOF
                echo "hi {{ who }}"
    """)
    assert report.valid, [p.format() for p in report.problems]


def test_reading_a_step_on_the_other_side_of_a_branch_is_an_error():
    report = check("""
        name: wf
        steps:
          - id: route
            if: "{{ true }}"
            then:
              - {id: low, tool: shell, parameters: {command: echo low}}
            else:
              - {id: high, tool: shell, parameters: {command: "echo {{ low.stdout }}"}}
          - id: after
            tool: shell
            parameters: {command: "echo {{ low.stdout }} {{ high.stdout }}"}
    """)
    problem = only(report, "reference")
    assert problem.path == "steps[0].else[0].parameters.command"
    assert "only runs on the `then` side of `route`" in problem.message


def test_switch_cases_cannot_read_each_other_but_nested_sides_can_read_outward():
    report = check("""
        name: wf
        parameters:
          env: {type: string, default: staging}
        steps:
          - id: by_env
            switch: "{{ env }}"
            cases:
              staging:
                - {id: s1, tool: shell, parameters: {command: echo s}}
                - id: inner
                  if: "{{ s1.succeeded }}"
                  then:
                    - {id: s2, tool: shell, parameters: {command: "echo {{ s1.stdout }}"}}
              production:
                - {id: p1, tool: shell, parameters: {command: "echo {{ s2.stdout }}"}}
    """)
    problem = only(report, "reference")
    assert problem.path == "steps[0].cases.production[0].parameters.command"
    assert "`staging` side of `by_env`" in problem.message
