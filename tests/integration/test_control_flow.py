"""Issue #3: for_each, sub-workflows, secrets, approvals, compensation/on_failure, pools,
concurrency limits and workflow timeouts — each in real runs on a temporary instance."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from conftest import REPO, make_dagster_home, run_cli, run_process, write

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
    from yaml2dag.library import Library
    from yaml2dag.runner import run_workflow

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
    result = run_workflow(report, {}, instance=instance)
    assert result.status == "SUCCESS", result.error
    assert result.outputs == {"last": "got HELLO ANN X3", "child": {"loud": "HELLO ANN X3"}}
    assert result.steps["child.greet"] == "succeeded" and result.steps["child"] == "succeeded"
    keys = {r.dagster_event.step_key for r in instance.all_logs(result.run_id)
            if r.dagster_event and r.dagster_event.event_type_value == "STEP_SUCCESS"}
    assert {"child.greet", "child.shout"} <= keys


def test_subworkflow_validation_unknown_recursive_and_parameter_types(tmp_path):
    from yaml2dag.validation import validate_paths

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
        outputs:
          echoed: "{{ shell_echo.output }}"
          returned: "{{ py_echo.output }}"
          failed_error: "{{ failing.error }}"
          direct: "{{ secrets.API_TOKEN }}"
          fallback: "{{ fallback_user.output }}"
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
    saved = os.environ.pop("API_TOKEN", None)
    try:
        missing = run_cli("run", "Secretive", env=without)
    finally:
        if saved is not None:
            os.environ["API_TOKEN"] = saved
    assert missing.code == 2 and "API_TOKEN" in missing.stderr


def test_secret_cannot_be_passed_as_a_parameter_value(run_yaml):
    from yaml2dag.errors import ParameterError

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
    """``yaml2dag run --format json`` in a background subprocess (its own process group)."""

    def __init__(self, env: dict, *args: str):
        full = dict(os.environ)
        full.update(env)
        full["NO_COLOR"] = "1"
        self.proc = subprocess.Popen([sys.executable, "-m", "yaml2dag", "run", *args, "--format", "json"],
                                     env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)

    def result(self, timeout: float = 120) -> dict:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            out, err = self.proc.communicate()
            raise AssertionError(f"run did not finish in {timeout}s: {out}\n{err}")
        assert out.strip(), err
        return json.loads(out)

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass


def _wait_for_gate(env: dict, timeout: float = 90) -> str:
    """The id of the run that is paused at a gate (polled through `yaml2dag status`)."""
    from dagster import DagsterInstance

    deadline = time.monotonic() + timeout
    old = os.environ.get("DAGSTER_HOME")
    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    try:
        while time.monotonic() < deadline:
            with DagsterInstance.get() as inst:
                runs = inst.get_runs(limit=1)
                if runs:
                    from yaml2dag.approvals import gates

                    if any(g.waiting for g in gates(inst, runs[0].run_id)):
                        return runs[0].run_id
            time.sleep(0.5)
    finally:
        if old is None:
            os.environ.pop("DAGSTER_HOME", None)
        else:
            os.environ["DAGSTER_HOME"] = old
    raise AssertionError("no run reached its approval gate in time")


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
        run_id = _wait_for_gate(env)
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

    os.environ["DAGSTER_HOME"] = env["DAGSTER_HOME"]
    with DagsterInstance.get() as inst:
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
        run_id = _wait_for_gate(env)
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
    write(folder, "limited.yaml", f"""
        name: Limited Runs
        parameters: {{target: staging, tag: a}}
        concurrency: {{limit: 1, key: "{{{{ target }}}}"}}
        steps:
          - id: work
            tool: shell
            parameters: {{command: "echo $(date +%s.%N) > {stamps}/{{{{ tag }}}}.start; sleep 3; echo $(date +%s.%N) > {stamps}/{{{{ tag }}}}.end"}}
    """)
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder)}
    holder = _BackgroundRun(env, "Limited Runs", "tag=a")
    try:
        deadline = time.monotonic() + 60
        while not (stamps / "a.start").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        refused = run_cli("run", "Limited Runs", "tag=x", "--no-wait", env=env)
        other_key = run_cli("run", "Limited Runs", "tag=p", "target=production", "--format", "json", env=env)
        waiter = _BackgroundRun(env, "Limited Runs", "tag=b")
        results = [holder.result(), waiter.result()]
    finally:
        holder.kill()
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
    took = ran.records[-1].timestamp - ran.records[0].timestamp
    assert took < 25


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
