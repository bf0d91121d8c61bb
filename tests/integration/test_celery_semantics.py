"""Issue 13, section 4: the run-semantics and control-flow tests, run again with every step on
real Celery workers.

The tests of ``test_run_semantics.py`` and ``test_control_flow.py`` imported below run here a
second time, unchanged, with these fixtures in place of conftest's:

* two ``dagster-celery worker`` processes (own sessions and working folders) consuming a queue
  of this module (deleted afterwards), started once for the module and stopped at its end;
* ``dagster_home``/``instance``: a DAGSTER_HOME whose dagster.yaml is the shipped one plus the
  documented PostgreSQL storage, in a fresh database per test (dropped at the module's end);
* the folder-wide default ``YAML2DAG_EXECUTOR=celery`` and the broker and queue in
  ``YAML2DAG_CELERY_*``: every workflow without its own ``executor`` runs its steps on the
  workers, in-process runs (``run_yaml``) and CLI subprocesses alike.

Dependencies, skips, conditions, retry policies, ``on_error: continue``/``fallback``,
``for_each``, approval gates, compensation and ``on_failure``, pools, timeouts and secrets
masking are covered this way; tests below add what only Celery has (two failing steps on two
workers, the secret scan of the PostgreSQL database and of the workers' logs).
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid

import pytest

import test_control_flow as control_flow
import test_secret_sinks as secret_sinks
from celery_cluster import BROKER, Databases, Worker, delete_queue, postgres_home, require_services
from cli_forkserver import run_cli_env
from conftest import CLI_TIMEOUT, make_dagster_home, run_cli, write

pytestmark = pytest.mark.slow

#: A secret the module's workers have in their environment, with characters that get escaped.
LEAK_SECRET = secret_sinks._value("Sk")
LEAK_CONTROL = secret_sinks._value("Ct")


@pytest.fixture(scope="module")
def databases(tmp_path_factory):
    require_services()
    dbs = Databases(tmp_path_factory.mktemp("pg"))
    try:
        yield dbs
    finally:
        dbs.close()


@pytest.fixture(scope="module")
def celery_queue(tmp_path_factory, request):
    """The module's queue, consumed by two real workers for the whole module (started before the
    databases are made, which they do not need to start; stopped before the databases are dropped)."""
    require_services()
    name = f"yaml2dag-semantics-{uuid.uuid4().hex[:10]}"
    root = tmp_path_factory.mktemp("workers")
    env = {
        "YAML2DAG_CELERY_BROKER": BROKER,
        "YAML2DAG_PG_PASSWORD": os.environ.get("PGPASSWORD", ""),
        # the secrets the imported tests' steps read, set where the steps run: on the workers
        "API_TOKEN": control_flow.SECRET,
        "OTHER_SECRET": control_flow.SECRET[::-1],
        "TOKEN": "hunter2-secret",
        "LEAK_TOKEN": LEAK_SECRET,
    }
    # each worker: its own working folder and Dagster home (it only reads its settings there:
    # the steps' instance is the run's, sent with each step)
    workers = [Worker(root / n, n, name, {**env, "DAGSTER_HOME": str(make_dagster_home(root / f"{n}_home"))},
                      concurrency=3) for n in ("worker-a", "worker-b")]
    try:
        request.getfixturevalue("databases")  # the template is made while the workers start
        for w in workers:
            w.wait_ready()
        yield name, workers
    finally:
        for w in workers:
            w.stop()  # SIGTERM, SIGKILL after a bound: see Worker.stop
        delete_queue(name)


@pytest.fixture(autouse=True)
def on_celery(monkeypatch, celery_queue):
    """Every run of the test (in this process or a CLI subprocess) sends its steps to the
    module's workers."""
    monkeypatch.setenv("YAML2DAG_EXECUTOR", "celery")
    monkeypatch.setenv("YAML2DAG_CELERY_BROKER", BROKER)
    monkeypatch.setenv("YAML2DAG_CELERY_QUEUE", celery_queue[0])
    monkeypatch.setenv("YAML2DAG_CELERY_HEARTBEAT", "1")
    monkeypatch.setenv("YAML2DAG_PG_PASSWORD", os.environ.get("PGPASSWORD", ""))


@pytest.fixture
def dagster_home(tmp_path, monkeypatch, databases):
    """The shipped dagster.yaml with PostgreSQL storage in a fresh database."""
    home = postgres_home(tmp_path / "dagster_home", databases.user, databases.new())
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


@pytest.fixture
def gate_env(tmp_path, databases):
    home = postgres_home(tmp_path / "home", databases.user, databases.new())
    folder = tmp_path / "defs"
    folder.mkdir()
    return {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder)}, folder


# --------------------------------------------------------------------------- the same tests, on Celery

from test_run_semantics import (  # noqa: E402,F401 - collected here a second time, on Celery
    test_a_state_reader_of_an_aborted_step_does_not_run,
    test_a_state_reader_after_a_branch_sees_the_side_not_taken_as_skipped,
    test_a_step_reading_only_the_state_of_a_skipped_step_runs_and_sees_skipped,
    test_abort_fails_the_run_and_dependents_do_not_run,
    test_condition_true_runs_the_step,
    test_depends_on_replaces_list_order_and_needs_is_an_alias,
    test_false_condition_is_a_real_skip_and_ordering_survives_it,
    test_if_then_else_runs_exactly_one_side,
    test_jitter_waits_a_random_time_up_to_the_backoff,
    test_linear_backoff_waits_delay_times_the_retry_number_through_dagsters_retry_policy,
    test_list_order_runs_steps_one_after_another,
    test_max_delay_caps_every_wait,
    test_on_error_continue_records_the_failure_and_goes_on,
    test_on_error_fallback_takes_the_fallback_result,
    test_outputs_keep_native_types,
    test_parallel_group_max_parallel_limits_concurrency,
    test_parallel_group_members_overlap_and_next_entry_waits_for_all,
    test_parameter_value_is_one_literal_shell_word,
    test_python_step_timeout_stops_the_step,
    test_retry_gives_up_after_max_attempts,
    test_rewriting_a_file_runs_the_new_version_in_the_same_process,
    test_runs_are_tagged_with_workflow_version_and_content_hash,
    test_shell_output_reaches_the_event_log_while_the_step_still_runs,
    test_shell_timeout_kills_the_whole_process_group,
    test_state_readers_see_the_real_state_when_the_step_ran,
    test_step_failing_twice_then_succeeding_under_max_attempts_3,
    test_sub_workflow_steps_read_and_are_read_by_state,
    test_switch_runs_the_matching_case_or_default,
    test_template_reference_adds_an_edge_inside_a_parallel_group,
)
from test_control_flow import (  # noqa: E402,F401
    test_a_secret_never_reaches_storage_logs_outputs_or_cli_output,
    test_a_sub_workflows_compensate_and_on_failure_run_when_it_fails,
    test_approval_from_a_second_process_while_the_run_waits,
    test_approval_timeout,
    test_auto_approve_if_decides_without_waiting,
    test_compensation_runs_newest_first_then_on_failure_and_run_still_fails,
    test_control_flow_under_dagster_job_execute,
    test_failure_handling_in_a_re_execution_reads_reused_results,
    test_for_each_empty_list_succeeds_with_empty_output,
    test_for_each_failing_element_fails_the_step_or_is_marked_with_continue,
    test_for_each_keeps_element_order_and_each_element_is_a_mapped_step,
    test_for_each_max_parallel_bounds_concurrency_and_elements_overlap,
    test_rejection_fails_the_gate_and_on_failure_sees_it,
    test_subworkflow_is_a_nested_graph_and_its_outputs_are_the_step_output,
    test_two_runs_contending_for_a_pool_of_one_never_overlap,
    test_workflow_timeout_and_priority_become_run_tags_and_timeout_is_enforced,
)


def test_a_workflow_timeout_stops_the_steps_on_the_workers_and_runs_failure_handling(run_yaml, tmp_path):
    """test_control_flow's timeout test, on Celery (the workflow sets no executor)."""
    control_flow.test_a_workflow_timeout_stops_the_run_and_runs_failure_handling(run_yaml, tmp_path, "")


def test_every_step_ran_on_a_worker(run_yaml, celery_queue):
    """What the tests above rely on: with YAML2DAG_EXECUTOR=celery a workflow without an
    `executor` key runs each step on one of the module's workers, never in the run's process."""
    ran = run_yaml("""
        name: Where
        steps:
          - {id: one, tool: python, parameters: {callable: "os:getpid"}}
          - {id: two, tool: python, parameters: {callable: "os:getpid"}}
        outputs: {one: "{{ one.output }}", two: "{{ two.output }}"}
    """)
    assert ran.result.status == "SUCCESS"
    workers = celery_queue[1]
    for key in ("one", "two"):
        pid = ran.result.outputs[key]
        assert pid != os.getpid() and any(w.owns(pid) for w in workers), (key, pid)
    assert any("Executing steps on Celery workers" in (r.dagster_event.message or "")
               for r in ran.records if r.dagster_event)


# --------------------------------------------------------------------------- Celery only


def test_two_steps_failing_at_once_on_two_workers_are_handled_once(tmp_path, dagster_home):
    """Each failing step's failure hook runs on the worker that ran it. Two parallel steps that
    fail at the same instant on different workers still get one round of compensation and
    on_failure (the first `started` marker in the shared event log wins)."""
    folder = tmp_path / "defs"
    log = tmp_path / "handlers.log"
    gate = tmp_path / "gate"
    gate.mkdir()

    def branch(me: str, other: str) -> str:
        return (f"touch {gate}/{me}; i=0; while [ ! -e {gate}/{other} ] && [ $i -lt 2000 ]; "
                f"do sleep 0.01; i=$((i+1)); done; exit 3")

    write(folder, "twice.yaml", f"""
        name: Fail Twice On Workers
        executor: {{type: celery, max_parallel: 2}}
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
    ran = run_cli("run", "Fail Twice On Workers", env={"DAGSTER_HOME": str(dagster_home),
                                                         "YAML2DAG_DEFINITIONS": str(folder)})
    assert ran.code == 1, ran.stdout + ran.stderr
    assert sorted(p.name for p in gate.iterdir()) == ["left", "right"]
    assert log.read_text().splitlines() == ["release", "alert"]


def test_no_secret_in_any_form_in_postgres_the_home_or_the_workers_logs(tmp_path, databases, celery_queue):
    """test_secret_sinks' adversarial workflow with its steps on the workers: the secret (set
    only where the steps run, the workers) is in no form in the PostgreSQL database (a full
    dump), the Dagster home (pickles, compute logs), the workers' logs or the CLI's output, while
    the control value that took the same paths is found in each."""
    project = tmp_path / "project"
    folder = project / "definitions"
    folder.mkdir(parents=True)
    (folder / "leak_helpers.py").write_text(secret_sinks.HELPERS)
    write(folder, "leak_child.yaml", secret_sinks.CHILD)
    (folder / "leak_celery.yaml").write_text(secret_sinks.workflow("Leak Celery", "celery"))
    db = databases.new()
    home = postgres_home(project / "dagster_home", databases.user, db)
    # the user's shell: relative folders, the Celery settings, and the secret (checked before
    # the run starts; the steps read the workers' copy)
    env = {k: v for k, v in os.environ.items() if k != "DAGSTER_HOME" and k != "YAML2DAG_DEFINITIONS"}
    env.update(NO_COLOR="1", LEAK_TOKEN=LEAK_SECRET)
    # forked from the fork server (tests/cli_forkserver.py): the output as bytes, exactly as written
    done = run_cli_env(["run", "Leak Celery", f"control={LEAK_CONTROL}", "--format", "json"], env, cwd=project,
                       timeout=CLI_TIMEOUT)
    data = json.loads(done.stdout.decode())
    assert data["status"] == "FAILURE" and data["steps"]["last"] == "failed", data
    assert data["steps"]["box_secret"] == "continued"
    for step in ("frozen", "raw", "frame", "array", "as_json", "each", "sub", "python_logging"):
        assert data["steps"].get(step) == "succeeded", (step, data["steps"])
    # INSERT statements keep the stored text as it is (COPY would double every backslash, and a
    # secret's escaped forms would no longer be found)
    dump = subprocess.run(["pg_dump", "-h", "127.0.0.1", "-U", databases.user, "--data-only", "--inserts", db],
                          capture_output=True, timeout=CLI_TIMEOUT, check=True).stdout
    assert data["run_id"].encode() in dump
    sinks = {"postgres dump": dump, "cli": done.stdout + done.stderr}
    for worker in celery_queue[1]:
        sinks[f"log of {worker.name}"] = worker.log.read_bytes()
    for path in home.rglob("*"):
        if path.is_file():
            sinks[str(path.relative_to(home))] = path.read_bytes()
    leaks = [f"{where}: {found}" for where, blob in sinks.items() if (found := secret_sinks.hits(blob, LEAK_SECRET))]
    assert not leaks, "the secret leaked:\n" + "\n".join(leaks)
    # the control value took the same paths: the same search finds it in the database and files
    assert {"json"} <= set(secret_sinks.hits(dump, LEAK_CONTROL))
    assert any(secret_sinks.hits(blob, LEAK_CONTROL) for where, blob in sinks.items() if "compute_logs" in where)
    assert any(secret_sinks.hits(blob, LEAK_CONTROL) for where, blob in sinks.items() if where.startswith("storage"))
