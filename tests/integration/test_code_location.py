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
    from yaml2dag.errors import WorkflowInvalidError

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
