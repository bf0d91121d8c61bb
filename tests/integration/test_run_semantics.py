"""Real Dagster runs of the spec's rules: dependencies, conditions, errors, timeouts, outputs."""

from __future__ import annotations

import os

import pytest

from waiting import wait_until
from yaml2dag.format.errors import ParameterError

pytestmark = pytest.mark.slow


def test_list_order_runs_steps_one_after_another(run_yaml, tmp_path):
    log = tmp_path / "order.log"
    ran = run_yaml(f"""
        name: Order
        steps:
          - id: first
            tool: shell
            parameters: {{command: "echo first >> {log}"}}
          - id: second
            tool: shell
            parameters: {{command: "echo second >> {log}"}}
          - id: third
            tool: shell
            parameters: {{command: "echo third >> {log}"}}
    """)
    assert ran.result.status == "SUCCESS"
    assert log.read_text().split() == ["first", "second", "third"]
    starts = {k: ran.timestamps(k, "STEP_START")[0] for k in ("first", "second", "third")}
    ends = {k: ran.timestamps(k, "STEP_SUCCESS")[0] for k in ("first", "second", "third")}
    assert ends["first"] <= starts["second"] and ends["second"] <= starts["third"]


def test_parallel_group_members_overlap_and_next_entry_waits_for_all(run_yaml):
    ran = run_yaml("""
        name: Parallel
        steps:
          - id: setup
            tool: shell
            parameters: {command: "true"}
          - parallel:
              - id: a
                tool: shell
                parameters: {command: "sleep 1"}
              - id: b
                tool: shell
                parameters: {command: "sleep 1"}
              - id: c
                tool: shell
                parameters: {command: "sleep 1"}
          - id: after
            tool: shell
            parameters: {command: "true"}
    """)
    assert ran.result.status == "SUCCESS"
    starts = [ran.timestamps(k, "STEP_START")[0] for k in "abc"]
    ends = [ran.timestamps(k, "STEP_SUCCESS")[0] for k in "abc"]
    assert max(starts) < min(ends), "parallel members must overlap in time"
    assert ran.timestamps("after", "STEP_START")[0] >= max(ends)
    assert ran.timestamps("a", "STEP_START")[0] >= ran.timestamps("setup", "STEP_SUCCESS")[0]


def test_parallel_group_max_parallel_limits_concurrency(run_yaml):
    ran = run_yaml("""
        name: Limited
        steps:
          - parallel:
              - {id: a, tool: shell, parameters: {command: "sleep 0.6"}}
              - {id: b, tool: shell, parameters: {command: "sleep 0.6"}}
              - {id: c, tool: shell, parameters: {command: "sleep 0.6"}}
              - {id: d, tool: shell, parameters: {command: "sleep 0.6"}}
            max_parallel: 2
    """)
    assert ran.result.status == "SUCCESS"
    spans = [(ran.timestamps(k, "STEP_START")[0], ran.timestamps(k, "STEP_SUCCESS")[0]) for k in "abcd"]
    for start, _end in spans:
        running = sum(1 for s, e in spans if s <= start < e)
        assert running <= 2, spans


def test_depends_on_replaces_list_order_and_needs_is_an_alias(run_yaml):
    ran = run_yaml("""
        name: Explicit
        steps:
          - id: slow
            tool: shell
            parameters: {command: "sleep 1"}
          - id: independent
            depends_on: []
            tool: shell
            parameters: {command: "true"}
          - id: joined
            needs: [slow, independent]
            tool: shell
            parameters: {command: "true"}
    """)
    assert ran.result.status == "SUCCESS"
    assert ran.timestamps("independent", "STEP_SUCCESS")[0] < ran.timestamps("slow", "STEP_SUCCESS")[0]
    assert ran.timestamps("joined", "STEP_START")[0] >= ran.timestamps("slow", "STEP_SUCCESS")[0]


def test_template_reference_adds_an_edge_inside_a_parallel_group(run_yaml):
    ran = run_yaml("""
        name: Implied
        steps:
          - parallel:
              - id: producer
                tool: shell
                parameters: {command: "sleep 0.5; echo 42"}
              - id: consumer
                tool: shell
                parameters: {command: "echo got {{ producer.output }}"}
        outputs:
          got: "{{ consumer.output }}"
    """)
    assert ran.result.outputs == {"got": "got 42"}
    assert ran.timestamps("consumer", "STEP_START")[0] >= ran.timestamps("producer", "STEP_SUCCESS")[0]


def test_false_condition_is_a_real_skip_and_ordering_survives_it(run_yaml):
    ran = run_yaml("""
        name: Conditions
        parameters:
          deploy: false
        steps:
          - id: build
            tool: shell
            parameters: {command: "echo built"}
          - id: ship
            when: "{{ deploy }}"
            tool: shell
            parameters: {command: "echo shipped"}
          - id: notify
            tool: shell
            parameters: {command: "echo done"}
          - id: report_ship
            if: "build.succeeded"
            tool: shell
            parameters: {command: "echo {{ ship.output }}"}
        outputs:
          ship_status: "{{ ship.status }}"
          notified: "{{ notify.output }}"
    """)
    assert ran.result.status == "SUCCESS"
    skipped = ran.step_keys("STEP_SKIPPED")
    assert {"ship", "report_ship"} <= skipped
    assert "notify" in ran.step_keys("STEP_SUCCESS")
    assert ran.result.steps == {"build": "succeeded", "ship": "skipped", "notify": "succeeded", "report_ship": "skipped"}
    assert ran.result.outputs == {"ship_status": "skipped", "notified": "done"}


def test_condition_true_runs_the_step(run_yaml):
    ran = run_yaml("""
        name: Cond true
        parameters: {n: 7}
        steps:
          - id: big
            when: n > 5
            tool: shell
            parameters: {command: "echo big"}
    """)
    assert ran.result.steps == {"big": "succeeded"}


def test_if_then_else_runs_exactly_one_side(run_yaml):
    text = """
        name: Branching
        parameters:
          risk: {type: integer, default: 3}
        steps:
          - id: route
            if: "{{ risk < 5 }}"
            then:
              - id: fast
                tool: shell
                parameters: {command: "echo fast"}
              - id: fast_more
                tool: shell
                parameters: {command: "echo fast more"}
            else:
              - id: careful
                tool: shell
                parameters: {command: "echo careful"}
          - id: after
            tool: shell
            parameters: {command: "echo after"}
        outputs:
          fast: "{{ fast.status }}"
          careful: "{{ careful.status }}"
    """
    low = run_yaml(text, {"risk": 1})
    assert low.result.steps == {"fast": "succeeded", "fast_more": "succeeded", "careful": "skipped", "after": "succeeded"}
    assert "careful" in low.step_keys("STEP_SKIPPED")
    high = run_yaml(text, {"risk": 9})
    assert high.result.steps == {"fast": "skipped", "fast_more": "skipped", "careful": "succeeded", "after": "succeeded"}
    assert {"fast", "fast_more"} <= high.step_keys("STEP_SKIPPED")
    assert high.result.outputs == {"fast": "skipped", "careful": "succeeded"}


_STATE_READERS = """
        name: State readers
        parameters:
          deploy: {type: boolean, default: false}
        steps:
          - id: b
            when: "{{ deploy }}"
            tool: shell
            parameters: {command: "echo shipped"}
          - id: on_skip
            when: "{{ b.status == 'skipped' }}"
            tool: shell
            parameters: {command: "echo ok={{ b.succeeded }} error={{ b.error is none }} d={{ b.duration }} a={{ b.attempts }}"}
          - id: steps_form
            tool: shell
            parameters: {command: "echo {{ steps.b.status }}"}
          - id: each_el
            for_each: [1, 2]
            tool: shell
            parameters: {command: "echo {{ item }}-{{ b.status }}"}
          - id: reads_output
            tool: shell
            parameters: {command: "echo got {{ b.output }}"}
          - id: mixed
            tool: shell
            parameters: {command: "echo {{ b.status }} {{ b.output }}"}
        outputs:
          on_skip: "{{ on_skip.output }}"
          steps_form: "{{ steps_form.output }}"
          each_el: "{{ each_el.output }}"
          reads_output: "{{ reads_output.status }}"
    """


def test_a_step_reading_only_the_state_of_a_skipped_step_runs_and_sees_skipped(run_yaml):
    ran = run_yaml(_STATE_READERS)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.steps == {"b": "skipped", "on_skip": "succeeded", "steps_form": "succeeded",
                                "each_el": "succeeded", "reads_output": "skipped", "mixed": "skipped"}
    assert ran.result.outputs == {"on_skip": "ok=false error=true d=0.0 a=0", "steps_form": "skipped",
                                  "each_el": ["1-skipped", "2-skipped"], "reads_output": "skipped"}
    assert {"b", "reads_output", "mixed"} <= ran.step_keys("STEP_SKIPPED")
    assert {"on_skip", "steps_form", "each_el[0]", "each_el[1]"} <= ran.step_keys("STEP_SUCCESS")
    assert not {"on_skip", "steps_form"} & ran.step_keys("STEP_SKIPPED")


def test_state_readers_see_the_real_state_when_the_step_ran(run_yaml):
    ran = run_yaml(_STATE_READERS, {"deploy": True})
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.steps == {"b": "succeeded", "on_skip": "skipped", "steps_form": "succeeded",
                                "each_el": "succeeded", "reads_output": "succeeded", "mixed": "succeeded"}
    assert ran.result.outputs["steps_form"] == "succeeded"
    assert ran.result.outputs["each_el"] == ["1-succeeded", "2-succeeded"]
    assert "on_skip" in ran.step_keys("STEP_SKIPPED")


def test_a_state_reader_after_a_branch_sees_the_side_not_taken_as_skipped(run_yaml):
    ran = run_yaml("""
        name: Branch state
        parameters:
          risk: {type: integer, default: 1}
        steps:
          - id: route
            if: "{{ risk < 5 }}"
            then:
              - {id: fast, tool: shell, parameters: {command: "echo fast"}}
            else:
              - {id: careful, tool: shell, parameters: {command: "echo careful"}}
          - id: report
            if: "{{ not careful.succeeded }}"
            tool: shell
            parameters: {command: "echo careful={{ careful.status }} fast={{ fast.status }}"}
          - id: decide
            if: "{{ steps.careful.status == 'skipped' }}"
            then:
              - {id: noted, tool: shell, parameters: {command: "echo noted"}}
          - id: careful_output
            tool: shell
            parameters: {command: "echo {{ careful.output }}"}
        outputs:
          report: "{{ report.output }}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    assert ran.result.steps == {"fast": "succeeded", "careful": "skipped", "report": "succeeded",
                                "noted": "succeeded", "careful_output": "skipped"}
    assert ran.result.outputs == {"report": "careful=skipped fast=succeeded"}
    assert {"careful", "careful_output"} <= ran.step_keys("STEP_SKIPPED")


def test_a_state_reader_of_an_aborted_step_does_not_run(run_yaml):
    ran = run_yaml("""
        name: Abort state
        steps:
          - id: bad
            tool: shell
            parameters: {command: "exit 3"}
          - id: reads_state
            depends_on: []
            if: "{{ bad.status == 'failed' }}"
            tool: shell
            parameters: {command: "echo {{ bad.status }}"}
    """)
    assert ran.result.status == "FAILURE"
    assert ran.result.steps == {"bad": "failed", "reads_state": "not_run"}
    assert "reads_state" not in ran.step_keys("STEP_SUCCESS")


def test_sub_workflow_steps_read_and_are_read_by_state(tmp_path, instance, monkeypatch):
    from conftest import write
    from yaml2dag.library.folder import Library
    from yaml2dag.runs.runner import run_workflow

    folder = tmp_path / "defs"
    monkeypatch.setenv("YAML2DAG_DEFINITIONS", str(folder))
    write(folder, "child.yaml", """
        name: Echo Child
        parameters:
          what: {type: string}
        steps:
          - {id: say, tool: shell, parameters: {command: "echo child got {{ what }}"}}
        outputs:
          said: "{{ say.output }}"
    """)
    write(folder, "parent.yaml", """
        name: State Parent
        parameters:
          deploy: {type: boolean, default: false}
        steps:
          - {id: b, when: "{{ deploy }}", tool: shell, parameters: {command: "echo shipped"}}
          - id: sub
            workflow: Echo Child
            parameters: {what: "{{ b.status }}"}
          - {id: sub_skipped, workflow: Echo Child, when: "{{ deploy }}", parameters: {what: "x"}}
          - id: last
            tool: shell
            parameters: {command: "echo {{ sub_skipped.status }} {{ sub.output.said }}"}
        outputs: {last: "{{ last.output }}"}
    """)
    report = Library(folder).find("State Parent")
    assert report.valid, [p.format() for p in report.problems]
    result = run_workflow(report.validated(), {}, instance=instance)
    assert result.status == "SUCCESS", result.error
    assert result.outputs == {"last": "skipped child got skipped"}
    assert result.steps["sub"] == "succeeded" and result.steps["sub_skipped"] == "skipped"
    assert result.steps["last"] == "succeeded"


def test_switch_runs_the_matching_case_or_default(run_yaml):
    text = """
        name: Switching
        parameters:
          environment: {type: string, default: staging}
        steps:
          - id: by_env
            switch: "{{ environment }}"
            cases:
              staging:
                - {id: to_staging, tool: shell, parameters: {command: "echo staging"}}
              production:
                - {id: to_production, tool: shell, parameters: {command: "echo production"}}
            default:
              - {id: to_other, tool: shell, parameters: {command: "echo other"}}
    """
    staging = run_yaml(text, {"environment": "staging"})
    assert staging.result.steps == {"to_staging": "succeeded", "to_production": "skipped", "to_other": "skipped"}
    other = run_yaml(text, {"environment": "qa"})
    assert other.result.steps == {"to_staging": "skipped", "to_production": "skipped", "to_other": "succeeded"}
    assert {"to_staging", "to_production"} <= other.step_keys("STEP_SKIPPED")


@pytest.mark.parametrize("backoff", ["constant", "exponential"])
def test_step_failing_twice_then_succeeding_under_max_attempts_3(run_yaml, tmp_path, backoff):
    counter = tmp_path / f"attempts_{backoff}"
    ran = run_yaml(f"""
        name: Flaky {backoff}
        steps:
          - id: flaky
            tool: shell
            retry: {{max_attempts: 3, backoff: {backoff}, delay: 0.2}}
            parameters:
              command: 'n=$(cat {counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > {counter}; if [ $n -lt 3 ]; then echo "attempt $n failed" >&2; exit 1; fi; echo "ok on attempt $n"'
        outputs:
          out: "{{{{ flaky.output }}}}"
          attempts: "{{{{ flaky.attempts }}}}"
    """)
    assert ran.result.status == "SUCCESS"
    assert counter.read_text().strip() == "3"
    assert len(ran.events("STEP_UP_FOR_RETRY")) == 2
    assert ran.result.outputs == {"out": "ok on attempt 3", "attempts": 3}


def test_retry_gives_up_after_max_attempts(run_yaml, tmp_path):
    counter = tmp_path / "attempts"
    ran = run_yaml(f"""
        name: Hopeless
        steps:
          - id: broken
            tool: shell
            retry: {{max_attempts: 2, delay: 0.1}}
            parameters: {{command: "echo x >> {counter}; exit 3"}}
          - id: never
            tool: shell
            parameters: {{command: "true"}}
    """)
    assert ran.result.status == "FAILURE"
    assert counter.read_text().count("x") == 2
    assert ran.result.steps == {"broken": "failed", "never": "not_run"}
    assert "exited with code 3" in ran.result.error


def _retry_waits(ran, step_key: str) -> list[tuple[float, float]]:
    """(wait Dagster recorded on STEP_UP_FOR_RETRY, seconds until the next STEP_RESTARTED) per retry."""
    ups = [r for r in ran.events("STEP_UP_FOR_RETRY") if r.dagster_event.step_key == step_key]
    restarts = ran.timestamps(step_key, "STEP_RESTARTED")
    assert len(ups) == len(restarts)
    return [(up.dagster_event.event_specific_data.seconds_to_wait, restart - up.timestamp)
            for up, restart in zip(ups, restarts)]


ALWAYS_FAILS = """
    name: {name}
    steps:
      - id: flaky
        tool: shell
        retry: {retry}
        parameters: {{command: "exit 1"}}
"""


def test_linear_backoff_waits_delay_times_the_retry_number_through_dagsters_retry_policy(run_yaml):
    from yaml2dag.compiler.job import compile_workflow
    from yaml2dag.format.validation import validate_text

    retry = "{max_attempts: 4, backoff: linear, delay: 0.2}"
    policy = compile_workflow(validate_text(ALWAYS_FAILS.format(name="Linear", retry=retry)).validated()) \
        .graph.node_named("flaky").definition.retry_policy
    assert policy is not None and policy.backoff.value == "LINEAR" and policy.max_retries == 3
    ran = run_yaml(ALWAYS_FAILS.format(name="Linear", retry=retry))
    assert ran.result.status == "FAILURE"
    waits = _retry_waits(ran, "flaky")
    assert [round(w, 6) for w, _ in waits] == [0.2, 0.4, 0.6]
    for wait, gap in waits:  # the executor really waited (a lower bound only: the machine may be slow)
        assert gap >= wait - 0.01


@pytest.mark.parametrize("backoff, caps", [("constant", [0.3, 0.3, 0.3]), ("exponential", [0.3, 0.6, 1.2])])
def test_jitter_waits_a_random_time_up_to_the_backoff(run_yaml, backoff, caps):
    ran = run_yaml(ALWAYS_FAILS.format(name=f"Jitter {backoff}",
                                       retry=f"{{max_attempts: 4, backoff: {backoff}, delay: 0.3, jitter: true}}"))
    waits = _retry_waits(ran, "flaky")
    assert len(waits) == 3
    assert all(0 <= wait <= cap for (wait, _), cap in zip(waits, caps))
    assert any(wait < cap for (wait, _), cap in zip(waits, caps)), "full jitter never waits the whole backoff 3 times"
    for wait, gap in waits:
        assert gap >= wait - 0.01


@pytest.mark.parametrize("backoff", ["linear", "exponential"])
def test_max_delay_caps_every_wait(run_yaml, backoff):
    ran = run_yaml(ALWAYS_FAILS.format(name=f"Capped {backoff}",
                                       retry=f"{{max_attempts: 4, backoff: {backoff}, delay: 0.2, max_delay: 0.3}}"))
    waits = _retry_waits(ran, "flaky")
    assert [round(w, 6) for w, _ in waits] == [0.2, 0.3, 0.3]
    for wait, gap in waits:
        assert gap >= wait - 0.01


def test_shell_output_reaches_the_event_log_while_the_step_still_runs(run_yaml, tmp_path):
    import threading

    from dagster import DagsterInstance

    marker = tmp_path / "go-on"
    text = f"""
        name: Streaming
        steps:
          - id: talk
            tool: shell
            parameters:
              command: 'echo "first line out"; for i in $(seq 1200); do [ -f {marker} ] && break; sleep 0.05; done; [ -f {marker} ] && echo "after the marker"'
    """
    done: dict = {}
    runner = threading.Thread(target=lambda: done.setdefault("ran", run_yaml(text)), daemon=True)
    runner.start()
    with DagsterInstance.get() as watcher:

        def first_line_seen() -> bool:
            for run in watcher.get_runs(limit=1):
                records = watcher.all_logs(run.run_id)
                lines = [r.user_message for r in records if r.dagster_event is None and r.step_key == "talk"]
                finished = [r for r in records if r.dagster_event is not None and r.step_key == "talk"
                            and r.dagster_event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE")]
                if any("first line out" in line for line in lines):
                    assert not finished
                    return True
            return False

        try:
            seen_while_running = wait_until(first_line_seen, 60, 0.1, "the step's first line while it runs")
        finally:
            marker.touch()  # only now may the step finish
    runner.join(timeout=120)
    assert not runner.is_alive()
    assert seen_while_running, "the first line did not reach the event log while the step was running"
    ran = done["ran"]
    assert ran.result.status == "SUCCESS"
    assert any("after the marker" in line for line in ran.messages("talk"))


def test_rewriting_a_file_runs_the_new_version_in_the_same_process(instance, tmp_path):
    # Dagster caches rebuilt jobs per process by their reconstructable arguments
    from yaml2dag.runs.runner import run_workflow
    from yaml2dag.format.validation import validate_file

    from conftest import write

    outputs = []
    for word, extra in (("one", ""), ("two", "  # longer")):
        path = write(tmp_path, "same.yaml", f"""
            name: Same File
            steps:
              - {{id: say, tool: shell, parameters: {{command: "echo {word}"}}}}{extra}
            outputs: {{said: "{{{{ say.output }}}}"}}
        """)
        outputs.append(run_workflow(validate_file(path).validated(), {}, instance=instance).outputs)
    assert outputs == [{"said": "one"}, {"said": "two"}]


def test_on_error_continue_records_the_failure_and_goes_on(run_yaml):
    ran = run_yaml("""
        name: Continue on error
        steps:
          - id: tests
            tool: shell
            on_error: continue
            parameters: {command: "echo 2 failed; exit 1"}
          - id: next
            tool: shell
            parameters: {command: "echo next"}
        outputs:
          status: "{{ tests.status }}"
          succeeded: "{{ tests.succeeded }}"
          error: "{{ tests.error }}"
          exit_code: "{{ tests.exit_code }}"
    """)
    assert ran.result.status == "SUCCESS"
    assert ran.result.steps == {"tests": "continued", "next": "succeeded"}
    assert ran.result.outputs["status"] == "failed"
    assert ran.result.outputs["succeeded"] is False
    assert "exited with code 1" in ran.result.outputs["error"]
    assert ran.result.outputs["exit_code"] == 1


def test_on_error_fallback_takes_the_fallback_result(run_yaml):
    ran = run_yaml("""
        name: Fallback demo
        parameters: {branch: main}
        steps:
          - id: deploy
            tool: shell
            on_error: fallback
            parameters: {command: "echo boom >&2; exit 4"}
            fallback:
              tool: shell
              parameters: {command: "echo deploy of {{ branch }} failed in {{ failed_step }}: {{ error }}"}
        outputs:
          deployed: "{{ deploy.succeeded }}"
          note: "{{ deploy.output }}"
          status: "{{ deploy.status }}"
          error: "{{ deploy.error }}"
    """)
    assert ran.result.status == "SUCCESS"
    # the step failed (spec §1: `deployed` stays false when only the fallback ran), the run went
    # on with the fallback's output, like GitHub Actions' continue-on-error
    assert ran.result.steps == {"deploy": "continued"}
    assert ran.result.outputs["deployed"] is False
    assert ran.result.outputs["status"] == "failed"
    assert ran.result.outputs["error"] == "command exited with code 4: boom"
    assert ran.result.outputs["note"] == "deploy of main failed in deploy: command exited with code 4: boom"


def test_abort_fails_the_run_and_dependents_do_not_run(run_yaml):
    ran = run_yaml("""
        name: Abort
        steps:
          - id: bad
            tool: shell
            parameters: {command: "exit 7"}
          - id: dependent
            tool: shell
            parameters: {command: "true"}
    """)
    assert ran.result.status == "FAILURE"
    assert ran.result.steps == {"bad": "failed", "dependent": "not_run"}
    assert ran.result.failed_step == "bad"
    assert "bad" in ran.step_keys("STEP_FAILURE")


def test_shell_timeout_kills_the_whole_process_group(run_yaml, tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    ran = run_yaml(f"""
        name: Slow
        steps:
          - id: slow
            tool: shell
            timeout: 1
            parameters: {{command: "sleep 60 & echo $! > {pidfile}; wait"}}
    """)
    assert ran.result.status == "FAILURE"
    assert "timed out after 1s" in ran.result.error
    pid = int(pidfile.read_text())

    def gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    wait_until(gone, 10, 0.1, f"the grandchild {pid} to end after the timeout")
    took = ran.timestamps("slow", "STEP_FAILURE")[0] - ran.timestamps("slow", "STEP_START")[0]
    assert took < 30


def test_python_step_timeout_stops_the_step(run_yaml):
    ran = run_yaml("""
        name: Slow python
        steps:
          - id: spin
            tool: python
            timeout: 1
            parameters: {callable: "time:sleep", args: [30]}
    """)
    assert ran.result.status == "FAILURE"
    assert "timed out after 1s" in ran.result.error
    took = ran.timestamps("spin", "STEP_FAILURE")[0] - ran.timestamps("spin", "STEP_START")[0]
    assert took < 20


def test_outputs_keep_native_types(run_yaml):
    ran = run_yaml("""
        name: Natives
        parameters:
          retries: {type: integer, default: 3}
          ratio: 0.5
          flag: true
          items: {type: array, default: [1, 2, 3]}
        steps:
          - id: data
            tool: python
            parameters: {callable: "builtins:dict", kwargs: {a: "{{ retries }}", b: "{{ items }}"}}
        outputs:
          retries: "{{ retries }}"
          doubled: "{{ retries * 2 }}"
          ratio: "{{ ratio }}"
          flag: "{{ flag }}"
          items: "{{ items }}"
          mapping: "{{ data.output }}"
          text: "retries={{ retries }} flag={{ flag }}"
    """)
    assert ran.result.outputs == {
        "retries": 3, "doubled": 6, "ratio": 0.5, "flag": True, "items": [1, 2, 3],
        "mapping": {"a": 3, "b": [1, 2, 3]}, "text": "retries=3 flag=true",
    }
    meta = [r for r in ran.events("STEP_OUTPUT") if r.dagster_event.step_key == "workflow_outputs"]
    assert meta and meta[0].dagster_event.event_specific_data.metadata["outputs"].value["doubled"] == 6


def test_parameter_values_are_converted_and_checked_before_anything_runs(run_yaml, instance):
    text = """
        name: Typed
        parameters:
          count: {type: integer, default: 1, minimum: 0, maximum: 10}
          mode: {type: string, default: fast, enum: [fast, safe]}
          tag: {type: string, default: v1, pattern: "^v[0-9]+$"}
        steps:
          - id: show
            tool: shell
            parameters: {command: "echo {{ count }} {{ mode }} {{ tag }}"}
        outputs: {line: "{{ show.output }}"}
    """
    ok = run_yaml(text, {"count": "5", "mode": "safe"}, strings=True)
    assert ok.result.outputs == {"line": "5 safe v1"}
    runs_before = len(instance.get_runs())
    for params, name in (({"count": "many"}, "count"), ({"count": "11"}, "count"), ({"mode": "slow"}, "mode"),
                         ({"tag": "x1"}, "tag"), ({"nope": "1"}, "nope")):
        with pytest.raises(ParameterError) as excinfo:
            run_yaml(text, params, strings=True)
        assert excinfo.value.name == name
        assert f"parameter `{name}`" in str(excinfo.value)
    assert len(instance.get_runs()) == runs_before, "a rejected parameter must not create a run"


def test_parameter_value_is_one_literal_shell_word(run_yaml, tmp_path):
    marker = tmp_path / "pwned"
    ran = run_yaml("""
        name: Injection
        parameters:
          msg: {type: string, default: hello}
        steps:
          - id: echo
            tool: shell
            parameters: {command: 'echo {{ msg }}; echo "quoted: {{ msg }}"; echo ''single: {{ msg }}'''}
        outputs: {out: "{{ echo.output }}"}
    """, {"msg": f"x; touch {marker}"})
    assert ran.result.status == "SUCCESS"
    assert not marker.exists()
    assert ran.result.outputs["out"].splitlines() == [
        f"x; touch {marker}", f"quoted: x; touch {marker}", f"single: x; touch {marker}"]


def test_runs_are_tagged_with_workflow_version_and_content_hash(run_yaml, instance):
    import hashlib

    text = """
        name: Tagged
        version: "2.3.4"
        tags: [nightly]
        labels: {team: data}
        steps:
          - {id: s, tool: shell, parameters: {command: "true"}}
    """
    ran = run_yaml(text, name="tagged.yaml")
    run = instance.get_run_by_id(ran.result.run_id)
    assert run.tags["yaml2dag/workflow"] == "Tagged"
    assert run.tags["yaml2dag/version"] == "2.3.4"
    import textwrap

    expected = hashlib.sha256(textwrap.dedent(text).lstrip("\n").encode()).hexdigest()
    assert run.tags["yaml2dag/hash"] == expected
    assert run.tags["team"] == "data" and "nightly" in run.tags
    assert run.tags["yaml2dag/trigger"] == "cli"


def test_node_names_are_step_ids_and_op_names_are_unique(tmp_path):
    from yaml2dag.compiler.job import compile_workflow
    from yaml2dag.format.validation import validate_text

    report = validate_text("""
name: Names
steps:
  - {id: build, tool: shell, parameters: {command: "true"}}
  - {id: ship, when: "false", tool: shell, parameters: {command: "true"}}
""")
    job = compile_workflow(report.validated())
    names = {node.name for node in job.graph.nodes}
    assert names == {"build", "ship", "ship__when"}
    assert {node.definition.name for node in job.graph.nodes} == {"names__build", "names__ship", "names__ship__when"}
