"""Issue #5 with the real Dagster daemon: `dagster-daemon run -m yaml2dag.definitions` on a
temporary instance (the project's dagster.yaml: queued runs, run monitoring). A CSV file dropped
into a watched folder starts a run of A (file trigger); A's success starts B and B's success
starts C (workflow triggers), each run seeing the upstream run id and outputs; then a
`yaml2dag run` of B (outside the deployment, as in CI) starts C again.

Every wait is bounded (polled every 0.25 s); the daemon's process group is killed on teardown.
The `yaml2dag` commands run through :mod:`cli_forkserver` (real subprocesses forked from an
interpreter that has imported Dagster already); the daemon is a plain `python -m` process.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from cli_forkserver import run_cli
from conftest import stored_outputs, write
from local_servers import shipped_dagster_home, stop_process_tree
from waiting import wait_until

pytestmark = pytest.mark.slow

#: Bound for the whole chain (daemon start, three runs each in its own process).
CHAIN_TIMEOUT = 300


def _wait(what: str, check, timeout: float, proc: subprocess.Popen, log: Path, poll: float = 0.25):
    """:func:`waiting.wait_until` on the daemon ``proc``: fails at once if it exits; the failure
    shows the tail of its ``log``."""
    return wait_until(check, timeout, poll, what, process=proc, details=lambda: "daemon log tail:\n" + log.read_text()[-5000:])


@pytest.fixture
def daemon_env(tmp_path):
    home = shipped_dagster_home(tmp_path / "home")
    folder = tmp_path / "definitions"
    inbox = tmp_path / "inbox"
    write(folder, "a_ingest.yaml", f"""
        name: Ingest
        description: Count the lines of a dropped file
        parameters:
          input: {{type: string, default: ""}}
        triggers:
          - type: file
            path: "{inbox}"
            pattern: "*.csv"
            interval: 1
            parameters: {{input: "{{{{ trigger.path }}}}"}}
        steps:
          - id: count
            tool: shell
            parameters: {{command: "wc -l < {{{{ input }}}} | tr -d ' '"}}
        outputs:
          lines: "{{{{ count.output }}}}"
          file: "{{{{ trigger.name }}}}"
    """)
    write(folder, "b_report.yaml", """
        name: Report
        parameters:
          upstream: {type: string, default: ""}
          lines: {type: string, default: ""}
          file: {type: string, default: ""}
        triggers:
          - type: workflow
            workflow: Ingest
            status: success
            parameters: {upstream: "{{ trigger.run_id }}", lines: "{{ trigger.outputs.lines }}",
                         file: "{{ trigger.outputs.file }}"}
        steps:
          - id: write
            tool: shell
            parameters: {command: "echo report of {{ file }}: {{ lines }} lines"}
        outputs:
          text: "{{ write.output }}"
          upstream: "{{ upstream }}"
    """)
    write(folder, "c_publish.yaml", """
        name: Publish
        parameters:
          text: {type: string, default: ""}
        triggers:
          - type: workflow
            workflow: report
            parameters: {text: "{{ trigger.outputs.text }}"}
        steps:
          - id: publish
            tool: shell
            parameters: {command: "echo published {{ text }}"}
        outputs:
          said: "{{ publish.output }}"
          after: "{{ trigger.run_id }}"
    """)
    env = dict(os.environ, DAGSTER_HOME=str(home), YAML2DAG_DEFINITIONS=str(folder), NO_COLOR="1")
    return env, home, inbox


def test_dropped_file_starts_a_run_and_workflow_triggers_chain_a_b_c(daemon_env, tmp_path, monkeypatch):
    from dagster import DagsterInstance, DagsterRunStatus

    env, home, inbox = daemon_env
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    log = tmp_path / "daemon.log"
    from yaml2dag.runs.runner import prepare_storage

    prepare_storage(home)  # as `yaml2dag dev` does: the daemon and this test would race to create it
    with open(log, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "dagster._daemon", "run", "-m", "yaml2dag.definitions"],
                                cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    instance = DagsterInstance.get()
    try:
        # workflow-trigger sensors start from where the event log stands on their first check:
        # wait until both have checked once before anything runs
        def initialized():
            states = {s.name: s for s in instance.all_instigator_state()}
            wanted = ("report_on_ingest_success", "publish_on_report_success")
            return all(name in states and states[name].instigator_data is not None
                       and states[name].instigator_data.cursor for name in wanted)

        _wait("the workflow-trigger sensors' first check", initialized, 120, proc, log)

        def missing_folder_reported():
            return "does not exist" in log.read_text()

        _wait("the file sensor to report the missing inbox", missing_folder_reported, 60, proc, log)
        inbox.mkdir()
        dropped = inbox / "sales.csv"
        dropped.write_text("region,amount\neu,3\nus,4\n")
        (inbox / "ignored.txt").write_text("not a csv\n")

        def finished(job: str):
            runs = instance.get_runs()
            done = [r for r in runs if r.job_name == job and r.is_finished]
            return done[0] if done else None

        publish = _wait("the Publish run (C) to finish", lambda: finished("publish"), CHAIN_TIMEOUT, proc, log)
        ingest, report = finished("ingest"), finished("report")
        for run in (ingest, report, publish):
            assert run.status == DagsterRunStatus.SUCCESS, (run.job_name, run.status, log.read_text()[-3000:])

        assert ingest.tags["yaml2dag/trigger"] == "sensor"
        assert ingest.tags["dagster/sensor_name"] == "ingest_file_sensor"
        assert ingest.run_config == {"input": str(dropped)}
        assert stored_outputs(instance, ingest.run_id) == [{"lines": "3", "file": "sales.csv"}]

        assert report.tags["yaml2dag/trigger"] == "sensor"
        assert report.run_config == {"upstream": ingest.run_id, "lines": "3", "file": "sales.csv"}
        assert stored_outputs(instance, report.run_id) == [{"text": "report of sales.csv: 3 lines",
                                                            "upstream": ingest.run_id}]

        assert publish.tags["dagster/sensor_name"] == "publish_on_report_success"
        assert stored_outputs(instance, publish.run_id) == [{"said": "published report of sales.csv: 3 lines",
                                                             "after": report.run_id}]
        assert len(instance.get_runs()) == 3  # the .txt file started nothing

        # a chain started in CI: `yaml2dag run` executes B outside the deployment (no code
        # location origin), and its success still starts C under the daemon
        ran = run_cli("run", "Report", "file=ci.csv", "lines=7", "--format", "json", env=env, cwd=tmp_path)
        assert ran.code == 0, ran.stderr
        cli_run = json.loads(ran.stdout)["run_id"]
        assert instance.get_run_by_id(cli_run).remote_job_origin is None

        def second_publish():
            runs = [r for r in instance.get_runs() if r.job_name == "publish" and r.is_finished]
            return next((r for r in runs if r.run_id != publish.run_id), None)

        again = _wait("the Publish run started by the `yaml2dag run` of Report", second_publish, CHAIN_TIMEOUT,
                      proc, log)
        assert again.status == DagsterRunStatus.SUCCESS, log.read_text()[-3000:]
        assert again.tags["dagster/sensor_name"] == "publish_on_report_success"
        assert stored_outputs(instance, again.run_id) == [{"said": "published report of ci.csv: 7 lines",
                                                           "after": cli_run}]
        assert len(instance.get_runs()) == 5
    finally:
        stop_process_tree(proc, timeout=30)
        instance.dispose()



def test_the_shipped_dagster_yaml_is_the_repository_one_and_goes_into_every_new_home(tmp_path):
    """yaml2dag/deploy/dagster.yaml (package data) is dagster_home/dagster.yaml; `yaml2dag run`
    writes it into a DAGSTER_HOME that does not exist or has no dagster.yaml, and the instance
    loaded from there has yaml2dag's queued run coordinator, the concurrency rules, pools and
    run monitoring. A dagster.yaml that is there already is left alone."""
    from dagster import DagsterInstance

    from conftest import REPO
    from yaml2dag.deploy import DAGSTER_YAML, dagster_yaml_text, ensure_dagster_yaml
    from yaml2dag.runs.run_coordinator import WorkflowRunCoordinator

    assert (REPO / "dagster_home" / "dagster.yaml").read_bytes() == DAGSTER_YAML.read_bytes()
    folder = tmp_path / "definitions"
    write(folder, "hello.yaml", """
        name: Hello
        steps:
          - id: hi
            tool: shell
            parameters: {command: "echo hi"}
    """)
    missing, empty = tmp_path / "new" / "home", tmp_path / "empty"
    empty.mkdir()
    for home in (missing, empty):
        ran = run_cli("run", "Hello", "--format", "json", env={"DAGSTER_HOME": str(home),
                                                              "YAML2DAG_DEFINITIONS": str(folder)}, cwd=tmp_path)
        assert ran.code == 0, ran.stderr
        assert (home / "dagster.yaml").read_text() == dagster_yaml_text()
        instance = DagsterInstance.from_config(str(home))
        try:
            assert isinstance(instance.run_coordinator, WorkflowRunCoordinator)
            queue = instance.get_concurrency_config().run_queue_config
            limits = {rule["key"]: rule["limit"] for rule in queue.tag_concurrency_limits}
            assert limits == {f"yaml2dag/concurrency_{n}": n for n in range(1, 21)}
            assert all(rule["value"] == {"applyLimitPerUniqueValue": True} for rule in queue.tag_concurrency_limits)
            assert instance.get_concurrency_config().pool_config.default_pool_limit == 1
            assert instance.run_monitoring_enabled
            assert [r.job_name for r in instance.get_runs()] == ["hello"]
        finally:
            instance.dispose()
    own = tmp_path / "own"
    own.mkdir()
    (own / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert ensure_dagster_yaml(own) is False
    assert (own / "dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
