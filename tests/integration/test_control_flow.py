"""Issue #3: for_each, sub-workflows, secrets, approvals, compensation/on_failure, pools,
concurrency limits and workflow timeouts — each in real runs on a temporary instance.

`yaml2dag` commands run as real subprocesses forked from the CLI fork server
(tests/cli_forkserver.py: ``run_cli`` of conftest, ``start_cli`` for the runs in the
background); waits for a background run poll its instance in-process (tests/paused_runs.py).
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

import pytest

from cli_forkserver import start_cli
from conftest import REPO, make_dagster_home, run_cli, run_process, write
from paused_runs import paused_run_id
from waiting import wait_until

pytestmark = pytest.mark.slow


# --------------------------------------------------------------------------- for_each

def test_for_each_keeps_element_order_and_each_element_is_a_mapped_step(run_yaml):
    ran = run_yaml("""
        name: Fan out
        parameters:
          names: {type: array, default: [delta, alpha, charlie, bravo]}
        steps:
          - id: greet
            for_each: "{{ names }}"
            tool: shell
            parameters: {command: "sleep 0.$(( (4 - {{ index }}) )); echo {{ index }}-{{ item }}"}
          - id: count
            tool: python
            parameters: {callable: "builtins:len", args: ["{{ greet.output }}"]}
        outputs:
          greetings: "{{ greet.output }}"
          count: "{{ count.output }}"
          elements: "{{ greet.count }}"
    """)
    assert ran.result.status == "SUCCESS"
    assert ran.result.outputs["greetings"] == ["0-delta", "1-alpha", "2-charlie", "3-bravo"]
    assert ran.result.outputs["count"] == 4 and ran.result.outputs["elements"] == 4
    assert {"greet[0]", "greet[1]", "greet[2]", "greet[3]"} <= ran.step_keys("STEP_SUCCESS")
    assert ran.result.steps == {"greet": "succeeded", "count": "succeeded"}


def test_for_each_max_parallel_bounds_concurrency_and_elements_overlap(run_yaml, tmp_path):
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    helper = tmp_path / "wf" / "stamp_helper.py"
    helper.parent.mkdir(parents=True, exist_ok=True)
    helper.write_text(
        "import time, pathlib\n"
        "def stamp(folder, index, seconds):\n"
        "    start = time.time(); time.sleep(seconds); end = time.time()\n"
        "    pathlib.Path(folder, f'{index}.txt').write_text(f'{start} {end}')\n"
        "    return index\n"
    )
    ran = run_yaml(f"""
        name: Bounded fan out
        steps:
          - id: work
            for_each: [1, 2, 3, 4, 5, 6]
            max_parallel: 2
            tool: python
            parameters:
              callable: "stamp_helper:stamp"
              args: ["{stamps}", "{{{{ index }}}}", 0.5]
        outputs: {{indices: "{{{{ work.output }}}}"}}
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.outputs["indices"] == [0, 1, 2, 3, 4, 5]
    spans = [tuple(map(float, (stamps / f"{i}.txt").read_text().split())) for i in range(6)]
    most = max(sum(1 for s, e in spans if s <= start < e) for start, _ in spans)
    assert most == 2, f"expected exactly 2 elements at once at the peak, saw {most}: {spans}"


def test_for_each_empty_list_succeeds_with_empty_output(run_yaml):
    ran = run_yaml("""
        name: Empty fan out
        steps:
          - id: none_here
            for_each: []
            tool: shell
            parameters: {command: "echo never"}
          - id: after
            tool: shell
            parameters: {command: "echo after {{ none_here.output | length }}"}
        outputs: {items: "{{ none_here.output }}", after: "{{ after.output }}"}
    """)
    assert ran.result.status == "SUCCESS"
    assert ran.result.outputs == {"items": [], "after": "after 0"}


def test_for_each_failing_element_fails_the_step_or_is_marked_with_continue(run_yaml):
    abort = run_yaml("""
        name: Element abort
        steps:
          - id: check
            for_each: [1, 2, 3]
            tool: shell
            parameters: {command: "test {{ item }} -ne 2"}
          - id: after
            tool: shell
            parameters: {command: "true"}
    """)
    assert abort.result.status == "FAILURE"
    assert abort.result.steps == {"check": "failed", "after": "not_run"}
    assert "check[1]" in abort.step_keys("STEP_FAILURE")

    cont = run_yaml("""
        name: Element continue
        steps:
          - id: check
            for_each: [1, 2, 3]
            on_error: continue
            tool: shell
            parameters: {command: "test {{ item }} -ne 2 && echo ok-{{ item }}"}
        outputs:
          statuses: "{{ check.results | map(attribute='status') | list }}"
          outputs: "{{ check.output }}"
          status: "{{ check.status }}"
    """)
    assert cont.result.status == "SUCCESS"
    assert cont.result.outputs["statuses"] == ["succeeded", "failed", "succeeded"]
    assert cont.result.outputs["outputs"] == ["ok-1", None, "ok-3"]
    assert cont.result.outputs["status"] == "failed"
    assert cont.result.steps == {"check": "continued"}


# --------------------------------------------------------------------------- sub-workflows

def test_subworkflow_is_a_nested_graph_and_its_outputs_are_the_step_output(tmp_path, instance, monkeypatch):
    from yaml2dag.compiler import reconstructable_job
    from yaml2dag.library.folder import Library
    from yaml2dag.runs.runner import run_workflow

    folder = tmp_path / "defs"
    monkeypatch.setenv("YAML2DAG_DEFINITIONS", str(folder))
    write(folder, "child.yaml", """
        name: Child Steps
        parameters:
          who: {type: string}
          times: {type: integer, default: 2}
        steps:
          - id: greet
            tool: shell
            parameters: {command: "echo hello {{ who }} x{{ times }}"}
          - id: shout
            tool: python
            parameters: {callable: "builtins:str.upper", args: ["{{ greet.output }}"]}
        outputs:
          loud: "{{ shout.output }}"
    """)
    write(folder, "parent.yaml", """
        name: Parent Steps
        steps:
          - id: first
            tool: shell
            parameters: {command: "echo ann"}
          - id: child
            workflow: "Child Steps"
            parameters: {who: "{{ first.output }}", times: 3}
          - id: last
            tool: shell
            parameters: {command: "echo got {{ child.output.loud }}"}
        outputs: {last: "{{ last.output }}", child: "{{ child.output }}"}
    """)
    report = Library(folder).find("Parent Steps")
    assert report.valid, [p.format() for p in report.problems]
    job = reconstructable_job(report.file).get_definition()
    child_node = job.graph.node_named("child")
    assert child_node.definition.__class__.__name__ == "GraphDefinition"
    assert {n.name for n in child_node.definition.nodes} >= {"greet", "shout", "workflow_outputs"}
    result = run_workflow(report.validated(), {}, instance=instance)
    assert result.status == "SUCCESS", result.error
    assert result.outputs == {"last": "got HELLO ANN X3", "child": {"loud": "HELLO ANN X3"}}
    assert result.steps["child.greet"] == "succeeded" and result.steps["child"] == "succeeded"
    keys = {r.dagster_event.step_key for r in instance.all_logs(result.run_id)
            if r.dagster_event and r.dagster_event.event_type_value == "STEP_SUCCESS"}
    assert {"child.greet", "child.shout"} <= keys


def test_subworkflow_validation_unknown_recursive_and_parameter_types(tmp_path):
    from yaml2dag.format.validation import validate_paths

    folder = tmp_path / "defs"
    write(folder, "a.yaml", """
        name: A
        steps:
          - {id: to_b, workflow: B}
    """)
    write(folder, "b.yaml", """
        name: B
        steps:
          - {id: to_a, workflow: A}
    """)
    write(folder, "c.yaml", """
        name: C
        parameters: {count: {type: integer}, label: {type: string, default: x}}
        steps:
          - {id: s, tool: shell, parameters: {command: "echo {{ count }}"}}
    """)
    write(folder, "d.yaml", """
        name: D
        steps:
          - id: bad_type
            workflow: C
            parameters: {count: "many"}
          - id: unknown_param
            workflow: C
            parameters: {count: 1, colour: red}
          - id: missing
            workflow: C
          - id: nowhere
            workflow: Does Not Exist
    """)
    report = validate_paths([folder])
    messages = {(Path(p.file).name, p.line, p.path): p.message for p in report.problems}
    assert any("recursive sub-workflows" in m for (f, _l, _p), m in messages.items() if f == "a.yaml")
    assert messages[("d.yaml", 5, "steps[0].parameters.count")] == "expected an integer, got 'many'"
    assert "has no parameter `colour`" in messages[("d.yaml", 8, "steps[1].parameters.colour")]
    assert "requires the parameter `count`" in messages[("d.yaml", 9, "steps[2]")]
    assert "unknown workflow 'Does Not Exist'" in messages[("d.yaml", 12, "steps[3].workflow")]


# --------------------------------------------------------------------------- secrets

SECRET = "tok-9f8e7d6c5b4a-SECRET"


def test_a_secret_never_reaches_storage_logs_outputs_or_cli_output(tmp_path):
    home = make_dagster_home(tmp_path / "home")
    folder = tmp_path / "defs"
    # a sub-workflow receiving a secret as a parameter: its steps see the real value, while the
    # parameters Dagster stores between the steps (pickled by the IO manager) must not hold it
    write(folder, "secret_child.yaml", """
        name: Secret Child
        parameters:
          who: {type: string}
        steps:
          - id: check
            tool: shell
            parameters: {command: 'test {{ who }} = "$OTHER_SECRET" && echo child-saw-the-real-value'}
        outputs:
          seen: "{{ check.output }}"
    """)
    write(folder, "secretive.yaml", """
        name: Secretive
        parameters:
          api_token: {type: secret, description: "read from $API_TOKEN"}
          label: {type: string, default: demo}
        steps:
          - id: shell_echo
            tool: shell
            parameters:
              command: "echo token={{ api_token }} other={{ secrets.OTHER_SECRET }}; echo err {{ api_token }} >&2"
          - id: py_echo
            tool: python
            parameters: {callable: "builtins:str", args: ["{{ api_token }}"]}
          - id: printer
            tool: python
            parameters: {callable: "builtins:print", args: ["printed", "{{ api_token }}"]}
          - id: failing
            on_error: continue
            tool: shell
            parameters: {command: "echo failing with {{ api_token }} >&2; exit 1"}
          - id: fallback_user
            tool: shell
            on_error: fallback
            parameters: {command: "exit 2"}
            fallback: {tool: shell, parameters: {command: "echo fallback {{ secrets.OTHER_SECRET }} {{ error }}"}}
          - id: each_secret
            for_each: ["{{ api_token }}", "plain"]
            tool: shell
            parameters: {command: 'if test {{ item }} = "$API_TOKEN"; then echo real-{{ index }}; else echo other-{{ index }}; fi'}
          - id: child
            workflow: Secret Child
            parameters: {who: "{{ secrets.OTHER_SECRET }}"}
          - id: gate
            tool: approval
            parameters: {message: "ship with {{ secrets.API_TOKEN }}?", auto_approve_if: true}
        outputs:
          echoed: "{{ shell_echo.output }}"
          returned: "{{ py_echo.output }}"
          failed_error: "{{ failing.error }}"
          direct: "{{ secrets.API_TOKEN }}"
          fallback: "{{ fallback_user.output }}"
          each_secret: "{{ each_secret.output }}"
          child: "{{ child.output.seen }}"
    """)
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder), "API_TOKEN": SECRET,
           "OTHER_SECRET": SECRET[::-1]}
    dry = run_cli("run", "Secretive", "--dry-run", env=env)
    dry_json = run_cli("run", "Secretive", "--dry-run", "--format", "json", env=env)
    text = run_cli("run", "Secretive", env=env)
    js = run_cli("run", "Secretive", "--format", "json", env=env)
    for out in (dry, dry_json, text, js):
        assert SECRET not in out.stdout + out.stderr
        assert SECRET[::-1] not in out.stdout + out.stderr
    assert dry.code == 0 and text.code == 0, text.stdout + text.stderr
    data = json.loads(js.stdout)
    assert data["status"] == "SUCCESS"
    assert data["outputs"]["echoed"] == "token=*** other=***"
    assert data["outputs"]["returned"] == "***" and data["outputs"]["direct"] == "***"
    assert "***" in data["outputs"]["failed_error"]
    assert data["outputs"]["fallback"].startswith("fallback ***")
    # the for_each element and the sub-workflow's step saw the real value
    assert data["outputs"]["each_secret"] == ["real-0", "other-1"]
    assert data["outputs"]["child"] == "child-saw-the-real-value"
    # the approval gate's message is recorded masked (event log, `yaml2dag status`)
    status = run_cli("status", data["run_id"], "--format", "json", env=env)
    events = run_cli("events", data["run_id"], "--format", "json", env=env)
    for out in (status, events):
        assert out.code == 0, out.stderr
        assert SECRET not in out.stdout + out.stderr and SECRET[::-1] not in out.stdout + out.stderr
    assert "ship with ***?" in events.stdout
    # the stored values exist (so the scan below does look at them): the child's parameters and
    # the for_each elements, pickled by Dagster's IO manager
    storage = home / "storage" / data["run_id"]
    assert (storage / "child__parameters" / "parameters").is_file()
    assert list(storage.glob("each_secret__items/*"))
    assert json.loads(dry_json.stdout)["secrets"] == {"api_token": {"variable": "API_TOKEN", "set": True}}
    # nothing under DAGSTER_HOME holds the secret: run storage, event logs, compute logs, pickles
    scanned = 0
    for path in home.rglob("*"):
        if path.is_file():
            blob = path.read_bytes()
            scanned += 1
            assert SECRET.encode() not in blob, f"secret found in {path}"
            assert SECRET[::-1].encode() not in blob, f"secret found in {path}"
    assert scanned > 5
    # without the variable the run does not start and names it
    without = {k: v for k, v in env.items() if k != "API_TOKEN"}
    missing = run_cli("run", "Secretive", env=without, drop=("API_TOKEN",))
    assert missing.code == 2 and "API_TOKEN" in missing.stderr


def test_secret_cannot_be_passed_as_a_parameter_value(run_yaml):
    from yaml2dag.format.errors import ParameterError

    with pytest.raises(ParameterError) as excinfo:
        run_yaml("""
            name: No secret values
            parameters: {token: {type: secret}}
            steps: [{id: s, tool: shell, parameters: {command: "true"}}]
        """, {"token": "abc"})
    assert "environment variable TOKEN" in str(excinfo.value)


# --------------------------------------------------------------------------- approvals

def _gate_workflow(folder: Path, extra: str = "", params: str = "") -> None:
    write(folder, "gate.yaml", f"""
        name: Gated Deploy
        steps:
          - id: build
            tool: shell
            parameters: {{command: "echo built"}}
          - id: approve
            tool: approval
            parameters:
              message: "Deploy to production?"
              {params}
          - id: deploy
            tool: shell
            parameters: {{command: "echo deployed after {{{{ approve.approved_by | join(',') }}}}"}}
        outputs:
          decision: "{{{{ approve.decision }}}}"
          deploy: "{{{{ deploy.output }}}}"
        {extra}
    """)


class _BackgroundRun:
    """``yaml2dag run --format json`` in the background: a real subprocess forked from the CLI
    fork server (its own session and process group)."""

    def __init__(self, env: dict, *args: str):
        self.call = start_cli("run", *args, "--format", "json", env={**env, "NO_COLOR": "1"})

    def result(self, timeout: float = 120) -> dict:
        done = self.call.finish(timeout)  # past the bound: its process group killed, the test failed
        assert done.stdout.strip(), done.stderr
        return json.loads(done.stdout)

    def kill(self) -> None:
        self.call.kill()


def _wait_for_gate(env: dict, bg: _BackgroundRun, timeout: float = 90) -> str:
    """The id of the run that is paused at a gate: polled in-process, with the status `yaml2dag
    status` computes (failing at once if ``bg`` exits first)."""
    return paused_run_id(env["DAGSTER_HOME"], bg.call, timeout=timeout)


@pytest.fixture
def gate_env(tmp_path):
    home = make_dagster_home(tmp_path / "home")
    folder = tmp_path / "defs"
    folder.mkdir()
    return {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder)}, folder


def test_approval_from_a_second_process_while_the_run_waits(gate_env):
    env, folder = gate_env
    _gate_workflow(folder, params="required_approvals: 2")
    bg = _BackgroundRun(env, "Gated Deploy")
    try:
        run_id = _wait_for_gate(env, bg)
        status = run_cli("status", run_id, "--format", "json", env=env)
        info = json.loads(status.stdout)
        assert info["status"] == "paused"
        assert info["current_step"] == "approve"
        assert info["waiting"][0]["message"] == "Deploy to production?"
        text = run_cli("status", run_id, env=env)
        assert "paused" in text.stdout and "Deploy to production?" in text.stdout
        first = run_cli("approve", run_id, "--by", "alice", "--comment", "looks good", env=env)
        assert first.code == 0, first.stderr
        again = run_cli("approve", run_id, "--by", "alice", env=env)
        assert again.code == 1 and "already approved" in again.stderr
        second = run_cli("approve", run_id, "--step", "approve", "--by", "bob", env=env)
        assert second.code == 0, second.stderr
        result = bg.result()
    finally:
        bg.kill()
    assert result["status"] == "SUCCESS"
    assert result["outputs"] == {"decision": "approved", "deploy": "deployed after alice,bob"}
    # the decisions are in the run's event log, with who and the comment
    from dagster import DagsterInstance

    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as inst:
        messages = [r.dagster_event.message for r in inst.all_logs(result["run_id"])
                    if r.dagster_event and r.dagster_event.event_type_value == "ENGINE_EVENT"]
    assert any("approved by alice: looks good" in m for m in messages)
    assert any("approved by bob" in m for m in messages)
    late = run_cli("approve", result["run_id"], env=env)
    assert late.code == 1 and "already finished" in late.stderr
    unknown = run_cli("approve", "no-such-run", env=env)
    assert unknown.code == 1 and "no run with id 'no-such-run'" in unknown.stderr


def test_rejection_fails_the_gate_and_on_failure_sees_it(gate_env):
    env, folder = gate_env
    _gate_workflow(folder, extra="""on_failure:
          - id: notify
            tool: shell
            parameters: {command: "echo rollback because {{ failed_step }}: {{ error }}"}""")
    bg = _BackgroundRun(env, "Gated Deploy")
    try:
        run_id = _wait_for_gate(env, bg)
        rejected = run_cli("reject", run_id, "--by", "carol", "--comment", "not today", env=env)
        assert rejected.code == 0, rejected.stderr
        result = bg.result()
    finally:
        bg.kill()
    assert result["status"] == "FAILURE"
    assert result["steps"] == {"build": "succeeded", "approve": "failed", "deploy": "not_run"}
    info = json.loads(run_cli("status", result["run_id"], "--format", "json", env=env).stdout)
    assert info["error_message"] == "rejected by carol: not today"
    assert info["handlers"][0]["step"] == "notify"
    assert info["handlers"][0]["output"] == "rollback because approve: rejected by carol: not today"


@pytest.mark.parametrize("on_timeout,status,decision", [("approve", "SUCCESS", "approved"),
                                                         ("fail", "FAILURE", None),
                                                         ("reject", "FAILURE", None)])
def test_approval_timeout(run_yaml, on_timeout, status, decision):
    ran = run_yaml(f"""
        name: Timeout {on_timeout}
        steps:
          - id: gate
            tool: approval
            parameters: {{message: "anyone?", timeout: 1, on_timeout: {on_timeout}, poll_interval: 0.2}}
        outputs: {{decision: "{{{{ gate.decision }}}}"}}
    """)
    assert ran.result.status == status
    if decision:
        assert ran.result.outputs == {"decision": decision}
    else:
        assert "no decision within 1s" in ran.result.error


def test_auto_approve_if_decides_without_waiting(run_yaml):
    ran = run_yaml("""
        name: Auto approve
        parameters: {environment: staging}
        steps:
          - id: gate
            tool: approval
            parameters: {message: "prod?", auto_approve_if: "{{ environment != 'production' }}"}
        outputs: {decision: "{{ gate.decision }}", by: "{{ gate.approved_by }}"}
    """)
    assert ran.result.outputs == {"decision": "approved", "by": ["auto"]}


def test_auto_approve_if_bare_expression_is_a_condition_like_when(run_yaml, tmp_path):
    """A bare expression (no braces) is evaluated, as `when` is: a false one must wait."""
    ran = run_yaml("""
        name: Auto approve bare
        parameters: {environment: production}
        steps:
          - id: prep
            tool: shell
            parameters: {command: "echo ready"}
          - id: gate
            tool: approval
            parameters:
              message: "prod?"
              auto_approve_if: "environment != 'production' and prep.output == 'ready'"
              timeout: 1
              on_timeout: reject
              poll_interval: 0.2
        outputs: {decision: "{{ gate.decision }}"}
    """)
    assert ran.result.status == "FAILURE", "a false bare condition must not approve"
    assert "no decision within 1s" in ran.result.error
    approved = run_yaml("""
        name: Auto approve bare true
        parameters: {environment: staging}
        steps:
          - id: prep
            tool: shell
            parameters: {command: "echo ready"}
          - id: gate
            tool: approval
            parameters: {message: "prod?", auto_approve_if: "environment != 'production' and prep.output == 'ready'"}
        outputs: {decision: "{{ gate.decision }}", by: "{{ gate.approved_by }}"}
    """)
    assert approved.result.outputs == {"decision": "approved", "by": ["auto"]}
    # the validator checks its names like a `when`
    from yaml2dag.format.validation import validate_file

    bad = write(tmp_path / "bad", "bad.yaml", """
        name: Bad auto approve
        parameters: {environment: production}
        steps:
          - {id: prep, tool: shell, parameters: {command: "echo ready"}}
          - id: gate
            tool: approval
            parameters: {message: "?", auto_approve_if: "enviroment == 'x' or prep.outptu"}
    """)
    messages = [p.format() for p in validate_file(bad).problems]
    assert any("unknown name `enviroment`; did you mean `environment`?" in m for m in messages), messages
    assert any("step `prep` has no result field `outptu`" in m for m in messages), messages


def _wait_until(env: dict, check, what: str, timeout: float = 120, process: _BackgroundRun | None = None):
    """Poll the instance of ``env`` every 0.2 s until ``check(instance)`` gives a true value;
    return it. Fails at once if ``process`` (the background run awaited) exits first."""
    from dagster import DagsterInstance

    from yaml2dag.runs.runner import prepare_storage

    # never alongside a background run creating the storage (see paused_runs.paused_run_id)
    prepare_storage(env["DAGSTER_HOME"])
    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as inst:
        return wait_until(lambda: check(inst), timeout, 0.2, what,
                          process=process.call if process is not None else None)


def test_approve_errors_and_step_ids_of_for_each_gates(gate_env, tmp_path):
    env, folder = gate_env
    release = tmp_path / "release"
    write(folder, "gates.yaml", f"""
        name: Element Gates
        steps:
          - id: prep
            tool: shell
            parameters: {{command: "i=0; while [ ! -e {release} ] && [ $i -lt 1200 ]; do sleep 0.1; i=$((i+1)); done"}}
          - id: gate
            for_each: [eu, us]
            tool: approval
            parameters: {{message: "deploy {{{{ item }}}}?", poll_interval: 0.2}}
        outputs:
          decisions: "{{{{ gate.results | map(attribute='decision') | list }}}}"
    """)
    bg = _BackgroundRun(env, "Element Gates")
    try:
        from yaml2dag.runs.approvals import gates

        def started(inst):
            runs = inst.get_runs(limit=1)
            return runs[0].run_id if runs and runs[0].status.value == "STARTED" else None

        run_id = _wait_until(env, started, "the run to start", process=bg)
        nothing = run_cli("approve", run_id, env=env)
        assert nothing.code == 1 and f"no approval gate is waiting in run {run_id}" in nothing.stderr
        unknown = run_cli("approve", run_id, "--step", "gate", env=env)
        assert unknown.code == 1 and "has no approval gate `gate`" in unknown.stderr
        release.write_text("go")
        _wait_until(env, lambda inst: sum(g.waiting for g in gates(inst, run_id)) == 2, "both gates to wait",
                    process=bg)
        several = run_cli("approve", run_id, "--step", "gate", env=env)
        assert several.code == 1 and "several approval gates of `gate` are waiting" in several.stderr
        first = run_cli("approve", run_id, "--step", "gate[0]", "--by", "ann", env=env)
        assert first.code == 0, first.stderr
        again = run_cli("approve", run_id, "--step", "gate[0]", "--by", "bob", env=env)
        assert again.code == 1 and "approval gate `gate[0]`" in again.stderr and "is not waiting" in again.stderr
        # one element still waits: its step id is enough
        second = run_cli("reject", run_id, "--step", "gate", "--by", "bob", env=env)
        assert second.code == 0, second.stderr
        assert "gate `gate[1]`" in second.stdout
        result = bg.result()
    finally:
        release.write_text("go")
        bg.kill()
    assert result["status"] == "FAILURE"
    assert result["steps"]["gate"] == "failed"


# --------------------------------------------------------------------------- compensation

def test_compensation_runs_newest_first_then_on_failure_and_run_still_fails(run_yaml, tmp_path):
    log = tmp_path / "handlers.log"
    ran = run_yaml(f"""
        name: Saga
        steps:
          - id: reserve
            tool: shell
            parameters: {{command: "echo seat-42"}}
            compensate: {{tool: shell, parameters: {{command: "echo release {{{{ reserve.output }}}} >> {log}"}}}}
          - id: charge
            tool: shell
            parameters: {{command: "echo charged"}}
            compensate: {{tool: shell, parameters: {{command: "echo refund after {{{{ failed_step }}}} >> {log}"}}}}
          - id: ship
            tool: shell
            parameters: {{command: "echo no truck >&2; exit 9"}}
            compensate: {{tool: shell, parameters: {{command: "echo never >> {log}"}}}}
        on_failure:
          - id: alert
            tool: shell
            parameters: {{command: "echo alert {{{{ failed_step }}}}: {{{{ error }}}} >> {log}"}}
    """)
    assert ran.result.status == "FAILURE"
    assert log.read_text().splitlines() == [
        "refund after ship",
        "release seat-42",
        "alert ship: command exited with code 9: no truck",
    ]
    handler_events = [r for r in ran.events("ENGINE_EVENT")
                      if "yaml2dag/failure" in (r.dagster_event.engine_event_data.metadata or {})]
    kinds = [r.dagster_event.engine_event_data.metadata["yaml2dag/failure"].value for r in handler_events]
    assert kinds == ["started", "compensate", "compensate", "on_failure", "finished"]


def _saga(log: Path, name: str = "Saga", executor: str = "", ship: str = "echo no truck >&2; exit 9") -> str:
    return f"""
        name: {name}
        {executor}
        steps:
          - id: reserve
            tool: shell
            parameters: {{command: "echo seat-42"}}
            compensate: {{tool: shell, parameters: {{command: "echo release {{{{ reserve.output }}}} >> {log}"}}}}
          - id: charge
            tool: shell
            parameters: {{command: "echo charged"}}
            compensate: {{tool: shell, parameters: {{command: "echo refund {{{{ charge.output }}}} after {{{{ failed_step }}}} >> {log}"}}}}
          - id: ship
            tool: shell
            parameters: {{command: "{ship}"}}
        on_failure:
          - id: alert
            tool: shell
            parameters: {{command: "echo alert {{{{ failed_step }}}} {{{{ reserve.output }}}}: {{{{ error }}}} >> {log}"}}
    """


def test_compensation_and_on_failure_under_the_multiprocess_executor(tmp_path):
    """Each step runs in its own process: handlers read the results from the event log. And
    `yaml2dag run` stays as quiet on stderr as with the default executor."""
    home = make_dagster_home(tmp_path / "home")
    folder = tmp_path / "defs"
    log = tmp_path / "handlers.log"
    write(folder, "saga.yaml", _saga(log, "Saga MP", "executor: {type: multiprocess}"))
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder)}
    ran = run_cli("run", "Saga MP", env=env)
    assert ran.code == 1, ran.stdout + ran.stderr
    assert "failed at step ship" in ran.stdout
    assert ran.stderr == "", "Dagster's logs of the step processes leak to stderr"
    assert log.read_text().splitlines() == [
        "refund charged after ship",
        "release seat-42",
        "alert ship seat-42: command exited with code 9: no truck",
    ]


def test_failure_handling_in_a_re_execution_reads_reused_results(run_yaml, instance, tmp_path):
    """A re-execution from failure reuses `reserve` and `charge` from the parent run: its
    on_failure still reads them, and the parent's compensations are not run a second time."""
    from dagster import ReexecutionOptions, execute_job

    from yaml2dag.compiler import reconstructable_job

    log = tmp_path / "handlers.log"
    first = run_yaml(_saga(log, "Saga Again"), name="saga_again.yaml")
    assert first.result.status == "FAILURE"
    assert log.read_text().splitlines() == [
        "refund charged after ship", "release seat-42", "alert ship seat-42: command exited with code 9: no truck"]
    log.write_text("")
    recon = reconstructable_job(str(tmp_path / "wf" / "saga_again.yaml"))
    again = execute_job(recon, instance, reexecution_options=ReexecutionOptions.from_failure(
        first.result.run_id, instance), raise_on_error=False)
    assert not again.success
    executed = {r.dagster_event.step_key for r in instance.all_logs(again.run_id)
                if r.dagster_event and r.dagster_event.event_type_value == "STEP_START"}
    assert executed == {"ship"}, "the re-execution reuses reserve and charge"
    assert log.read_text().splitlines() == ["alert ship seat-42: command exited with code 9: no truck"]


def test_a_sub_workflows_compensate_and_on_failure_run_when_it_fails(tmp_path, instance, monkeypatch):
    from yaml2dag.library.folder import Library
    from yaml2dag.runs.runner import run_workflow

    folder = tmp_path / "defs"
    log = tmp_path / "handlers.log"
    monkeypatch.setenv("YAML2DAG_DEFINITIONS", str(folder))
    write(folder, "child.yaml", f"""
        name: Booking
        parameters: {{who: {{type: string}}}}
        steps:
          - id: book
            tool: shell
            parameters: {{command: "echo room-for-{{{{ who }}}}"}}
            compensate: {{tool: shell, parameters: {{command: "echo cancel {{{{ book.output }}}} after {{{{ failed_step }}}} >> {log}"}}}}
          - id: pay
            tool: shell
            parameters: {{command: "echo card declined >&2; exit 3"}}
        on_failure:
          - id: child_alert
            tool: shell
            parameters: {{command: "echo child alert {{{{ failed_step }}}} for {{{{ who }}}}: {{{{ error }}}} >> {log}"}}
    """)
    # the including workflow has no failure handling of its own
    write(folder, "plain.yaml", """
        name: Plain Trip
        steps:
          - {id: first, tool: shell, parameters: {command: "echo ann"}}
          - id: trip
            workflow: Booking
            parameters: {who: "{{ first.output }}"}
    """)
    plain = run_workflow(Library(folder).find("Plain Trip").validated(), {}, instance=instance)
    assert plain.status == "FAILURE"
    assert log.read_text().splitlines() == [
        "cancel room-for-ann after pay",
        "child alert pay for ann: command exited with code 3: card declined",
    ]
    # with handlers on both levels: compensations, then the child's on_failure, then the parent's
    log.write_text("")
    write(folder, "handled.yaml", f"""
        name: Handled Trip
        steps:
          - id: first
            tool: shell
            parameters: {{command: "echo bo"}}
            compensate: {{tool: shell, parameters: {{command: "echo undo first after {{{{ failed_step }}}} >> {log}"}}}}
          - id: trip
            workflow: Booking
            parameters: {{who: "{{{{ first.output }}}}"}}
        on_failure:
          - id: parent_alert
            tool: shell
            parameters: {{command: "echo parent alert {{{{ failed_step }}}}: {{{{ error }}}} >> {log}"}}
    """)
    handled = run_workflow(Library(folder).find("Handled Trip").validated(), {}, instance=instance)
    assert handled.status == "FAILURE"
    assert log.read_text().splitlines() == [
        "cancel room-for-bo after pay",
        "undo first after trip.pay",
        "child alert pay for bo: command exited with code 3: card declined",
        "parent alert trip.pay: command exited with code 3: card declined",
    ]


@pytest.mark.parametrize("executor", ["", "executor: {type: in_process}"], ids=["threads", "in_process"])
def test_a_workflow_timeout_stops_the_run_and_runs_failure_handling(run_yaml, tmp_path, executor):
    log = tmp_path / "handlers.log"
    ran = run_yaml(f"""
        name: Saga Timeout
        timeout: 4
        {executor}
        steps:
          - id: reserve
            tool: shell
            parameters: {{command: "echo seat-7"}}
            compensate: {{tool: shell, parameters: {{command: "echo release {{{{ reserve.output }}}} after {{{{ failed_step }}}} >> {log}"}}}}
          - id: slow
            tool: shell
            parameters: {{command: "sleep 120"}}
          - id: never
            tool: shell
            parameters: {{command: "echo never ran >> {log}"}}
        on_failure:
          - id: alert
            tool: shell
            parameters: {{command: "echo alert {{{{ failed_step }}}}: {{{{ error }}}} >> {log}"}}
    """)
    assert ran.result.status == "FAILURE"
    assert ran.result.error == "the run exceeded its timeout of 4s"
    assert ran.result.steps["never"] == "not_run"
    assert log.read_text().splitlines() == [
        "release seat-7 after slow",
        "alert slow: the run exceeded its timeout of 4s",
    ]
    failures = [r for r in ran.events("STEP_FAILURE") if r.dagster_event.step_key == "slow"]
    assert failures, "the slow step was stopped, not left running"


# --------------------------------------------------------------------------- pools, limits, timeout

def _concurrent_home(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    return home


def test_two_runs_contending_for_a_pool_of_one_never_overlap(tmp_path):
    home = _concurrent_home(tmp_path)
    folder = tmp_path / "defs"
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    write(folder, "locked.yaml", f"""
        name: Locked
        parameters: {{tag: a}}
        steps:
          - id: critical
            pool: deploy_lock
            tool: shell
            parameters: {{command: "echo $(date +%s.%N) > {stamps}/{{{{ tag }}}}.start; sleep 1.5; echo $(date +%s.%N) > {stamps}/{{{{ tag }}}}.end"}}
    """)
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder)}
    runs = [_BackgroundRun(env, "Locked", f"tag={t}") for t in ("a", "b")]
    try:
        results = [r.result(timeout=180) for r in runs]
    finally:
        for r in runs:
            r.kill()
    assert all(r["status"] == "SUCCESS" for r in results), results
    spans = {t: (float((stamps / f"{t}.start").read_text()), float((stamps / f"{t}.end").read_text())) for t in "ab"}
    first, second = sorted(spans.values())
    assert first[1] <= second[0], f"pool of 1 let the steps overlap: {spans}"


def test_concurrency_limit_makes_yaml2dag_run_wait_or_fail(tmp_path):
    home = _concurrent_home(tmp_path)
    folder = tmp_path / "defs"
    stamps = tmp_path / "stamps"
    stamps.mkdir()
    release = tmp_path / "release"
    # the holder (tag a) keeps its slot until the test creates `release` (bounded: 180 s)
    write(folder, "limited.yaml", f"""
        name: Limited Runs
        parameters: {{target: staging, tag: a}}
        concurrency: {{limit: 1, key: "{{{{ target }}}}"}}
        steps:
          - id: work
            tool: shell
            parameters: {{command: "echo $(date +%s.%N) > {stamps}/{{{{ tag }}}}.start; if [ {{{{ tag }}}} = a ]; then i=0; while [ ! -e {release} ] && [ $i -lt 1800 ]; do sleep 0.1; i=$((i+1)); done; fi; echo $(date +%s.%N) > {stamps}/{{{{ tag }}}}.end"}}
    """)
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder)}
    holder = _BackgroundRun(env, "Limited Runs", "tag=a")
    waiter = None
    try:
        wait_until((stamps / "a.start").exists, 120, 0.2, "the holder run to start", process=holder.call)
        refused = run_cli("run", "Limited Runs", "tag=x", "--no-wait", env=env)
        other_key = run_cli("run", "Limited Runs", "tag=p", "target=production", "--format", "json", env=env)
        waiter = _BackgroundRun(env, "Limited Runs", "tag=b")

        def waiting(inst):
            return any(r.run_config.get("tag") == "b" and r.status.value == "NOT_STARTED" for r in inst.get_runs())

        _wait_until(env, waiting, "the second run to wait for its slot", process=waiter)
        assert not (stamps / "b.start").exists(), "the second run started while the slot was held"
        release.write_text("go")
        results = [holder.result(), waiter.result()]
    finally:
        release.write_text("go")
        holder.kill()
        if waiter is not None:
            waiter.kill()
    assert refused.code == 1 and "concurrency limit of 1" in refused.stderr
    assert not (stamps / "x.start").exists()
    assert json.loads(other_key.stdout)["status"] == "SUCCESS", "another key has its own slot"
    assert all(r["status"] == "SUCCESS" for r in results)
    assert float((stamps / "b.start").read_text()) >= float((stamps / "a.end").read_text())


def test_workflow_timeout_and_priority_become_run_tags_and_timeout_is_enforced(run_yaml, instance):
    ran = run_yaml("""
        name: Too Slow
        timeout: 2
        priority: 7
        steps:
          - id: slow
            tool: shell
            parameters: {command: "sleep 30"}
    """)
    run = instance.get_run_by_id(ran.result.run_id)
    assert run.tags["dagster/max_runtime"] == "2"
    assert run.tags["dagster/priority"] == "7"
    assert ran.result.status == "FAILURE"
    assert "exceeded its timeout of 2s" in ran.result.error
    stopped = [r for r in ran.events("STEP_FAILURE") if r.dagster_event.step_key == "slow"]
    assert stopped and "was stopped" in stopped[0].dagster_event.event_specific_data.error.message


# --------------------------------------------------------------------------- dagster job execute

def test_control_flow_under_dagster_job_execute(tmp_path):
    home = make_dagster_home(tmp_path / "home")
    folder = tmp_path / "defs"
    log = tmp_path / "handlers.log"
    write(folder, "child.yaml", """
        name: Child Job
        parameters: {n: {type: integer}}
        steps:
          - {id: double, tool: python, parameters: {callable: "operator:mul", args: ["{{ n }}", 2]}}
        outputs: {doubled: "{{ double.output }}"}
    """)
    write(folder, "main.yaml", f"""
        name: CI Control Flow
        parameters:
          token: {{type: secret}}
        steps:
          - id: each
            for_each: [1, 2, 3]
            tool: shell
            parameters: {{command: "echo {{{{ item }}}}"}}
          - id: nested
            workflow: Child Job
            parameters: {{n: 21}}
          - id: boom
            tool: shell
            parameters: {{command: "echo {{{{ token }}}} >&2; exit 1"}}
        on_failure:
          - id: record
            tool: shell
            parameters: {{command: "echo {{{{ nested.output.doubled }}}} {{{{ failed_step }}}} {{{{ error }}}} > {log}"}}
    """)
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder), "TOKEN": "hunter2-secret"}
    done = run_process([sys.executable, "-m", "dagster", "job", "execute", "-m", "yaml2dag.definitions",
                        "-j", "ci_control_flow"], env=env, cwd=tmp_path)
    assert done.code != 0, "the job fails at `boom`"
    assert log.read_text().strip() == "42 boom command exited with code 1: ***"
    for path in home.rglob("*"):
        if path.is_file():
            assert b"hunter2-secret" not in path.read_bytes(), path


def test_two_steps_failing_at_once_in_separate_processes_are_handled_once(tmp_path):
    """Under the multiprocess executor each failing step's hook runs in that step's process.
    Two parallel steps that fail at the same instant (a file barrier lines them up) still get
    one round of compensation and on_failure, not one per process."""
    home = make_dagster_home(tmp_path / "home")
    folder = tmp_path / "defs"
    log = tmp_path / "handlers.log"
    gate = tmp_path / "gate"
    gate.mkdir()
    # each branch announces itself, waits (bounded: 20 s, polling every 10 ms) for the other, then fails
    def branch(me: str, other: str) -> str:
        return (f"touch {gate}/{me}; i=0; while [ ! -e {gate}/{other} ] && [ $i -lt 2000 ]; "
                f"do sleep 0.01; i=$((i+1)); done; exit 3")

    write(folder, "twice.yaml", f"""
        name: Fail Twice
        executor: {{type: multiprocess, max_parallel: 2}}
        steps:
          - id: reserve
            tool: shell
            parameters: {{command: "echo seat-7"}}
            compensate: {{tool: shell, parameters: {{command: "echo release >> {log}"}}}}
          - parallel:
              - {{id: left, tool: shell, parameters: {{command: "{branch('left', 'right')}"}}}}
              - {{id: right, tool: shell, parameters: {{command: "{branch('right', 'left')}"}}}}
        on_failure:
          - id: alert
            tool: shell
            parameters: {{command: "echo alert >> {log}"}}
    """)
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder)}
    ran = run_cli("run", "Fail Twice", env=env)
    assert ran.code == 1, ran.stdout + ran.stderr
    assert sorted(p.name for p in gate.iterdir()) == ["left", "right"]
    assert log.read_text().splitlines() == ["release", "alert"]
