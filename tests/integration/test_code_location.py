"""The code location: broken-file isolation, strict mode, and Dagster's own CLI on it."""

from __future__ import annotations

import sys

import pytest

from conftest import run_process, stored_outputs, write

pytestmark = pytest.mark.slow

GOOD = """
name: Good One
description: "a valid workflow"
parameters:
  count: {type: integer, default: 2, minimum: 1, maximum: 5}
  mode: {type: string, default: fast, enum: [fast, safe]}
steps:
  - id: hello
    tool: shell
    parameters: {command: "echo {{ count }} {{ mode }}"}
outputs: {line: "{{ hello.output }}"}
"""

BROKEN = """
name: Broken One
steps:
  - id: a
    tool: shel
    parameters: {command: "echo {{ nope }}"}
"""


@pytest.fixture
def folder(tmp_path):
    defs = tmp_path / "definitions"
    write(defs, "good.yaml", GOOD)
    write(defs, "broken.yaml", BROKEN)
    write(defs, "_helpers/ignored.yaml", "this is not even yaml: [")
    write(defs, ".versions/good/0.9.yaml", "name: Old")
    return defs


def test_an_invalid_file_becomes_a_failing_job_and_never_takes_the_others_down(folder, instance):
    from yaml2dag import build_definitions

    defs = build_definitions(folder, strict=False)
    jobs = {job.name: job for job in defs.resolve_all_job_defs()}
    assert {"good_one", "broken_one"} <= set(jobs)
    assert not any("ignored" in name or name == "old" for name in jobs)
    broken = jobs["broken_one"]
    assert "INVALID WORKFLOW FILE" in broken.description
    assert "unknown tool `shel`" in broken.description and "broken.yaml:4:11" in broken.description
    result = broken.execute_in_process(instance=instance, raise_on_error=False)
    assert not result.success
    failure = result.get_step_failure_events()[0]
    assert "unknown tool `shel`" in failure.step_failure_data.user_failure_data.description
    good = jobs["good_one"].execute_in_process(instance=instance, run_config={"count": 3})
    assert good.success


def test_strict_mode_fails_the_whole_load(folder):
    from yaml2dag import build_definitions
    from yaml2dag.format.errors import WorkflowInvalidError

    with pytest.raises(WorkflowInvalidError) as excinfo:
        build_definitions(folder, strict=True)
    assert "unknown tool `shel`" in str(excinfo.value)


def test_dagster_definitions_validate_and_strict_env(folder, tmp_path, dagster_home):
    env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(dagster_home)}
    lenient = run_process([sys.executable, "-m", "dagster", "definitions", "validate", "-m", "yaml2dag.definitions"],
                          env=env, cwd=tmp_path)
    assert lenient.code == 0, lenient.stdout + lenient.stderr
    strict = run_process([sys.executable, "-m", "dagster", "definitions", "validate", "-m", "yaml2dag.definitions"],
                         env={**env, "YAML2DAG_STRICT": "1"}, cwd=tmp_path)
    assert strict.code != 0
    assert "unknown tool `shel`" in strict.stdout + strict.stderr


def test_dagster_job_execute_runs_a_workflow_with_run_config(folder, tmp_path, dagster_home):
    (folder / "broken.yaml").unlink()
    env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(dagster_home)}
    params = tmp_path / "params.yaml"
    params.write_text("count: 4\nmode: safe\n")
    done = run_process([sys.executable, "-m", "dagster", "job", "execute", "-m", "yaml2dag.definitions",
                        "-j", "good_one", "-c", str(params)], env=env, cwd=tmp_path)
    assert done.code == 0, done.stderr[-3000:]
    from dagster import DagsterInstance

    with DagsterInstance.get() as inst:
        run = inst.get_runs(limit=1)[0]
        assert run.status.value == "SUCCESS"
        assert run.run_config == {"count": 4, "mode": "safe"}
        assert run.tags["yaml2dag/workflow"] == "Good One"
        assert stored_outputs(inst, run.run_id) == [{"line": "4 safe"}]
    for bad, name in (("count: 9\n", "count"), ("mode: slow\n", "mode"), ("count: many\n", "count"),
                      ("colour: red\n", "colour")):
        params.write_text(bad)
        rejected = run_process([sys.executable, "-m", "dagster", "job", "execute", "-m", "yaml2dag.definitions",
                                "-j", "good_one", "-c", str(params)], env=env, cwd=tmp_path)
        assert rejected.code != 0
        assert name in rejected.stdout + rejected.stderr


def test_dagster_job_execute_rejects_an_out_of_range_value_as_a_config_error(folder, tmp_path, dagster_home):
    # minimum/maximum/pattern are checked in the config mapping; the error must be Dagster's own
    # config error naming each parameter and its rule, not "the config mapping function has
    # thrown an unexpected error", and nothing may run
    (folder / "broken.yaml").unlink()
    write(folder, "patterned.yaml", """
        name: Patterned
        parameters:
          count: {type: integer, default: 2, minimum: 1, maximum: 5}
          branch: {type: string, default: main, pattern: "^[a-z]+$"}
        steps:
          - {id: hello, tool: shell, parameters: {command: "echo {{ count }} {{ branch }}"}}
    """)
    env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(dagster_home)}
    params = tmp_path / "params.yaml"
    params.write_text("count: 9\nbranch: Not-Valid\n")
    rejected = run_process([sys.executable, "-m", "dagster", "job", "execute", "-m", "yaml2dag.definitions",
                            "-j", "patterned", "-c", str(params)], env=env, cwd=tmp_path)
    assert rejected.code != 0
    lines = (rejected.stdout + rejected.stderr).strip().splitlines()
    assert lines[-3] == "dagster._core.errors.DagsterInvalidConfigError: Error in config for job patterned"
    assert lines[-2].strip() == "Error 1: parameter `count` (path root:count): 9 is greater than the maximum 5"
    assert lines[-1].strip() == ("Error 2: parameter `branch` (path root:branch): 'Not-Valid' does not match "
                                 "the pattern '^[a-z]+$'")
    assert "unexpected error" not in rejected.stdout + rejected.stderr
    from dagster import DagsterInstance

    with DagsterInstance.get() as inst:
        for run in inst.get_runs():
            assert not [r for r in inst.all_logs(run.run_id)
                        if r.dagster_event is not None and r.dagster_event.event_type_value == "STEP_START"]


def test_executor_escape_hatches_run_the_same_workflow(run_yaml):
    for kind in ("in_process", "multiprocess"):
        ran = run_yaml(f"""
            name: Escape {kind}
            executor: {{type: {kind}}}
            steps:
              - id: a
                tool: python
                parameters: {{callable: "operator:add", args: [20, 22]}}
              - id: b
                when: "{{{{ a.output == 42 }}}}"
                tool: shell
                parameters: {{command: "echo answer {{{{ a.output }}}}"}}
            outputs: {{b: "{{{{ b.output }}}}"}}
        """)
        assert ran.result.status == "SUCCESS", ran.result.error
        assert ran.result.outputs == {"b": "answer 42"}


# --------------------------------------------------------------------------- definition names

def test_clashing_op_and_job_names_become_a_broken_job_and_the_location_still_loads(tmp_path, dagster_home, instance):
    # job `a` has step `b` (op `a__b`); another workflow's job id is `a__b`: Dagster would refuse
    # the whole location ("Conflicting definitions found in repository with name 'a__b'")
    from yaml2dag import build_definitions

    defs_dir = tmp_path / "definitions"
    write(defs_dir, "a.yaml", """
        name: a
        steps:
          - {id: b, tool: shell, parameters: {command: "echo from a"}}
    """)
    write(defs_dir, "z.yaml", """
        name: Other
        id: a__b
        steps:
          - {id: x, tool: shell, parameters: {command: "echo x"}}
    """)
    jobs = {job.name: job for job in build_definitions(defs_dir, strict=False).resolve_all_job_defs()}
    assert "a__b" not in jobs  # the stand-in job of z.yaml must not take the clashing name either
    stand_in = jobs["z"]
    assert stand_in.tags.get("yaml2dag/invalid") == "true"
    assert "z.yaml:2:5: id:" in stand_in.description and "a.yaml" in stand_in.description
    assert jobs["a"].execute_in_process(instance=instance).success
    env = {"YAML2DAG_DEFINITIONS": str(defs_dir), "DAGSTER_HOME": str(dagster_home)}
    done = run_process([sys.executable, "-m", "dagster", "definitions", "validate", "-m", "yaml2dag.definitions"],
                       env=env, cwd=tmp_path)
    assert done.code == 0, done.stdout[-3000:] + done.stderr[-3000:]


def test_a_stand_in_job_never_takes_a_name_a_valid_job_uses(tmp_path):
    # x.yaml is invalid, so its stand-in would be job `x` with op `x__invalid_workflow`: the
    # root graph of the valid job `x__invalid_workflow` has that name
    from yaml2dag import build_definitions

    defs_dir = tmp_path / "definitions"
    write(defs_dir, "x.yaml", BROKEN.replace("Broken One", "x"))
    write(defs_dir, "y.yaml", """
        name: Why
        id: x__invalid_workflow
        steps:
          - {id: a, tool: shell, parameters: {command: "echo y"}}
    """)
    jobs = {job.name: job for job in build_definitions(defs_dir, strict=False).resolve_all_job_defs()}
    assert jobs["x__invalid_workflow"].tags.get("yaml2dag/invalid") is None
    stand_ins = [job for job in jobs.values() if job.tags.get("yaml2dag/invalid") == "true"]
    assert len(stand_ins) == 1 and "unknown tool `shel`" in stand_ins[0].description
    assert stand_ins[0].name not in ("x", "x__invalid_workflow")


def test_the_validator_predicts_every_op_and_graph_name_the_compiler_makes(tmp_path):
    """The validator's name check (yaml2dag.format.naming) and the compiled jobs cannot drift apart."""
    from yaml2dag.library.folder import Library
    from yaml2dag.location import build_definitions, node_def_names
    from yaml2dag.format.validation import _resolver, report_definition_names

    defs_dir = tmp_path / "definitions"
    write(defs_dir, "child.yaml", """
        name: Child
        parameters: {who: {type: string, default: you}}
        steps:
          - {id: greet, tool: shell, parameters: {command: "echo hi {{ who }}"}}
          - {id: maybe, when: "{{ who == 'me' }}", tool: shell, parameters: {command: "echo me"}}
    """)
    write(defs_dir, "everything.yaml", """
        name: Everything
        parameters: {stage: {type: string, default: dev}, items: {type: array, default: [1, 2]}}
        steps:
          - {id: first, tool: shell, parameters: {command: "echo 1"}}
          - parallel:
              - {id: left, tool: shell, parameters: {command: "echo l"}}
              - {id: right, when: "false", tool: shell, parameters: {command: "echo r"}}
          - id: each
            for_each: "{{ items }}"
            tool: shell
            parameters: {command: "echo {{ item }}"}
          - id: pick
            if: "{{ stage == 'prod' }}"
            then:
              - {id: deploy, tool: shell, parameters: {command: "echo deploy"}}
            else:
              - {id: dry, tool: shell, parameters: {command: "echo dry"}}
          - id: route
            switch: "{{ stage }}"
            cases:
              dev:
                - {id: to_dev, tool: shell, parameters: {command: "echo dev"}}
            default:
              - {id: to_other, tool: shell, parameters: {command: "echo other"}}
          - {id: sub, workflow: Child, parameters: {who: "{{ first.output }}"}}
          - {id: reader, tool: shell, parameters: {command: "echo {{ right.output }}"}}
        outputs: {n: "{{ each.count }}"}
    """)
    library = Library(defs_dir)
    reports = library.reports()
    assert all(r.valid for r in reports), [p.format() for r in reports for p in r.problems]
    jobs = {job.name: job for job in build_definitions(defs_dir, strict=True).resolve_all_job_defs()}
    resolve = _resolver(reports)
    for report in reports:
        predicted = [dn.name for dn in report_definition_names(report, resolve)]
        compiled = node_def_names(jobs[report.workflow.id])
        assert len(predicted) == len(set(predicted))
        assert sorted(predicted) == sorted(compiled), report.file
    names = set(node_def_names(jobs["everything"]))
    assert {"everything__each__items", "everything__each__results", "everything__right__when",
            "everything__reader__when", "everything__pick", "everything__route", "everything__sub__parameters",
            "everything__sub", "everything__sub__greet", "everything__sub__maybe__when",
            "everything__sub__workflow_outputs", "everything__workflow_outputs"} <= names
