"""Issue #5, triggers: schedules, file sensors and workflow (run-status) sensors evaluated
through Dagster's own evaluation APIs (`build_schedule_context`, `build_sensor_context`,
`build_run_status_sensor_context`) on real temporary instances, plus the folder-level
validation of workflow triggers and the pieces of hot reload and remote launch that need no
server (path filtering, debouncing against a local fake GraphQL endpoint, URL parsing).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import re
import textwrap
import time
from pathlib import Path

import dagster as dg
import pytest

from yaml2dag.location import build_definitions
from yaml2dag.format.validation import validate_paths

from conftest import run_cli, stored_outputs, write
from local_servers import LocalHTTPServer, QuietHandler, free_port, serving
from waiting import wait_until

SHELL_STEP = """
steps:
  - id: say
    tool: shell
    parameters: {command: "echo hi"}
"""


def write_wf(folder: Path, name: str, text: str) -> Path:
    """Write a workflow whose only step is a shell `echo` (after the dedented ``text``)."""
    return write(folder, name, textwrap.dedent(text).lstrip("\n") + SHELL_STEP.lstrip("\n"))


def repo_of(folder: Path) -> dg.RepositoryDefinition:
    return build_definitions(folder).get_repository_def()


def drop(path: Path, text: str, age: float = 30.0) -> Path:
    """Write a file whose modification time is ``age`` seconds in the past (settled)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    stamp = time.time() - age
    os.utime(path, (stamp, stamp))
    return path


def tick(sensor: dg.SensorDefinition, instance, cursor: str | None):
    return sensor.evaluate_tick(dg.build_sensor_context(instance=instance, cursor=cursor))


def info_of(request: dg.RunRequest) -> dict:
    return json.loads(request.tags["yaml2dag/trigger_info"])


# --------------------------------------------------------------------------- schedules


def test_schedules_get_stable_names_normalized_cron_zone_and_default_status(tmp_path):
    folder = tmp_path / "defs"
    nightly = write_wf(folder, "nightly.yaml", """
        name: Nightly Build
        triggers:
          - type: manual
          - type: schedule
            cron: "30 6 * * 1-5"
            timezone: Europe/Berlin
          - type: schedule
            name: weekly_full
            cron: "@weekly"
            enabled: false
          - type: schedule
            cron: "@daily"
    """)
    write_wf(folder, "single.yaml", """
        name: Single
        triggers:
          - type: schedule
            cron: "*/15 * * * *"
    """)
    repo = repo_of(folder)
    by_name = {s.name: s for s in repo.schedule_defs}
    # several unnamed schedules are named from their own cron (`*` → x); the only one is <job>_schedule
    assert sorted(by_name) == ["nightly_build_schedule_0_0_x_x_x", "nightly_build_schedule_30_6_x_x_1_5",
                               "single_schedule", "weekly_full"]
    first = by_name["nightly_build_schedule_30_6_x_x_1_5"]
    assert first.cron_schedule == "30 6 * * 1-5"
    assert first.execution_timezone == "Europe/Berlin"
    assert first.default_status == dg.DefaultScheduleStatus.RUNNING
    assert first.job_name == "nightly_build"
    weekly = by_name["weekly_full"]
    assert weekly.cron_schedule == "0 0 * * 0" and weekly.execution_timezone == "UTC"
    assert weekly.default_status == dg.DefaultScheduleStatus.STOPPED
    assert by_name["nightly_build_schedule_0_0_x_x_x"].cron_schedule == "0 0 * * *"

    # inserting a schedule in front and removing the named one renames none of the others
    text = nightly.read_text()
    text = text.replace("  - type: manual\n", "  - type: manual\n  - type: schedule\n    cron: \"0 12 * * *\"\n")
    text = text.replace("  - type: schedule\n    name: weekly_full\n    cron: \"@weekly\"\n    enabled: false\n", "")
    nightly.write_text(text)
    assert sorted(s.name for s in repo_of(folder).schedule_defs) == [
        "nightly_build_schedule_0_0_x_x_x", "nightly_build_schedule_0_12_x_x_x", "nightly_build_schedule_30_6_x_x_1_5",
        "single_schedule"]


def test_same_cron_in_two_zones_gets_the_zone_and_a_real_clash_is_a_validation_error(tmp_path):
    folder = tmp_path / "defs"
    write_wf(folder, "zones.yaml", """
        name: Zones
        triggers:
          - type: schedule
            cron: "0 9 * * *"
            timezone: Europe/Berlin
          - type: schedule
            cron: "0 9 * * *"
          - type: schedule
            cron: "@hourly"
    """)
    write_wf(folder, "clash.yaml", """
        name: Clash
        triggers:
          - type: schedule
            cron: "@daily"
          - type: schedule
            cron: "0 0 * * *"
    """)
    files = {Path(r.file).stem: r for r in validate_paths([folder]).files}
    assert files["zones"].valid
    assert sorted(s.name for s in repo_of(folder).schedule_defs) == [
        "zones_schedule_0_9_x_x_x_europe_berlin", "zones_schedule_0_9_x_x_x_utc", "zones_schedule_0_x_x_x_x"]
    [error] = files["clash"].errors
    assert (error.line, error.path, error.rule) == (5, "triggers[1]", "trigger")
    assert "clash_schedule_0_0_x_x_x" in error.message and "add a `name:`" in error.message


def test_shipped_schedule_names_show_in_show_and_list_json(tmp_path):
    folder = tmp_path / "defs"
    write_wf(folder, "two.yaml", """
        name: Two Schedules
        triggers:
          - type: schedule
            cron: "30 6 * * 1-5"
            timezone: Europe/Berlin
          - type: schedule
            name: monthly
            cron: "@monthly"
            enabled: false
    """)
    schedules = {s.name for s in repo_of(folder).schedule_defs}
    env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(tmp_path / "nohome")}
    shown = run_cli("show", "Two Schedules", "--format", "json", env=env, cwd=tmp_path)
    assert shown.code == 0, shown.stderr
    assert {s["name"] for s in json.loads(shown.stdout)["schedules"]} == schedules == {
        "two_schedules_schedule", "monthly"}
    listed = run_cli("list", "--format", "json", "--no-runs", env=env, cwd=tmp_path)
    [row] = json.loads(listed.stdout)["workflows"]
    assert [s["name"] for s in row["schedules"]] == ["two_schedules_schedule", "monthly"]
    text = run_cli("show", "Two Schedules", env=env, cwd=tmp_path).stdout
    assert "schedule two_schedules_schedule: At 06:30, Monday through Friday (Europe/Berlin)" in text
    assert "schedule monthly: At 00:00, on day 1 of the month (UTC) (disabled)" in text


def test_schedule_tick_renders_parameters_with_trigger_values_and_concurrency_key(tmp_path, instance):
    folder = tmp_path / "defs"
    write_wf(folder, "report.yaml", """
        name: Report
        parameters:
          region: {type: string, default: us}
          label: {type: string, default: ""}
          days: {type: integer, default: 7}
        concurrency: {limit: 2, key: "{{ region }}"}
        triggers:
          - type: schedule
            cron: "0 5 * * *"
            timezone: Asia/Tokyo
            parameters:
              region: eu
              label: "{{ trigger.schedule }} at {{ trigger.scheduled_time }} (default {{ params.days }})"
    """)
    schedule = repo_of(folder).get_schedule_def("report_schedule")
    when = dt.datetime(2024, 3, 1, 5, 0, tzinfo=dt.timezone(dt.timedelta(hours=9)))
    result = schedule.evaluate_tick(dg.build_schedule_context(instance=instance, scheduled_execution_time=when))
    [request] = result.run_requests
    assert request.run_config == {"region": "eu", "label": "report_schedule at 2024-03-01T05:00:00+09:00 (default 7)",
                                  "days": 7}
    assert request.tags["yaml2dag/trigger"] == "schedule"
    assert request.tags["yaml2dag/concurrency_2"] == "report:eu"  # rendered with the trigger's values
    assert info_of(request) == {"type": "schedule", "schedule": "report_schedule", "cron": "0 5 * * *",
                                "timezone": "Asia/Tokyo", "scheduled_time": "2024-03-01T05:00:00+09:00"}


def test_schedule_parameter_that_does_not_check_fails_the_tick_naming_the_parameter(tmp_path, instance):
    folder = tmp_path / "defs"
    write_wf(folder, "bad.yaml", """
        name: Bad Param
        parameters:
          count: {type: integer, default: 1}
        triggers:
          - type: schedule
            cron: "@hourly"
            parameters: {count: "{{ trigger.schedule }}"}
    """)
    assert validate_paths([folder]).files[0].valid  # templates are checked when they render
    schedule = repo_of(folder).get_schedule_def("bad_param_schedule")
    context = dg.build_schedule_context(instance=instance,
                                        scheduled_execution_time=dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc))
    with pytest.raises(Exception) as caught:
        schedule.evaluate_tick(context)
    text = str(caught.value) + str(getattr(caught.value, "__cause__", ""))
    assert "count" in text and "expected an integer" in text


def test_list_shows_each_schedule_on_its_own_line_with_its_next_run_and_whole_descriptions(tmp_path):
    folder = tmp_path / "defs"
    description = ("Pulls the overnight exports of every regional warehouse, reconciles stock levels "
                   "against the ledger and mails the discrepancies to the inventory team")
    write_wf(folder, "stock.yaml", f"""
        name: Stock Reconciliation
        description: "{description}"
        tags: [inventory, finance]
        triggers:
          - type: schedule
            cron: "30 6 * * 1-5"
            timezone: Europe/Berlin
          - type: schedule
            name: month_end
            cron: "0 22 28 * *"
            enabled: false
          - type: schedule
            cron: "@hourly"
    """)
    env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(tmp_path / "nohome"), "COLUMNS": "200"}
    done = run_cli("list", "--no-runs", env=env, cwd=tmp_path)
    assert done.code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["Name", "Job", "Steps", "Tags", "Schedules", "Description"]
    assert "…" not in done.stdout and all(len(line) <= 200 for line in lines)
    column = lines[0].index("Schedules")
    cells = [line[column:].split("  ")[0].strip() for line in lines[1:]]
    assert re.fullmatch(r"At 06:30, Monday through Friday \(Europe/Berlin\), next in \d+[dhms]", cells[0]), cells
    assert cells[1] == "At 22:00, on day 28 of the month (UTC) (disabled)"
    assert re.fullmatch(r"Every hour \(UTC\), next in \d+[ms]", cells[2]), cells
    # the description wraps onto the schedule lines instead of being cut
    start = lines[0].index("Description")
    assert " ".join(line[start:].strip() for line in lines[1:] if len(line) > start) == description


def test_a_trigger_name_two_workflows_share_is_an_error_in_the_second_file(tmp_path):
    folder = tmp_path / "defs"
    for stem, name in (("a", "Alpha"), ("b", "Beta")):
        write_wf(folder, f"{stem}.yaml", f"""
            name: {name}
            triggers:
              - type: schedule
                name: nightly
                cron: "@daily"
              - type: file
                name: inbox
                path: /nonexistent/inbox
        """)
    files = {Path(r.file).stem: r for r in validate_paths([folder]).files}
    assert files["a"].valid
    errors = files["b"].errors
    assert [(e.line, e.path) for e in errors] == [(4, "triggers[0].name"), (7, "triggers[1].name")]
    assert "`nightly` is also the name of a trigger of" in errors[0].message and "a.yaml" in errors[0].message
    # the code location: the first file keeps its triggers, the second is a broken job (no renaming)
    repo = repo_of(folder)
    assert [s.name for s in repo.schedule_defs] == ["nightly"] and [s.name for s in repo.sensor_defs] == ["inbox"]
    assert repo.get_schedule_def("nightly").job_name == "alpha"
    assert "is also the name of a trigger" in repo.get_job("beta").description


# --------------------------------------------------------------------------- file triggers


@pytest.fixture
def inbox_workflow(tmp_path):
    inbox = tmp_path / "inbox"
    folder = tmp_path / "defs"
    write_wf(folder, "ingest.yaml", f"""
        name: Ingest
        parameters:
          input: {{type: string, default: ""}}
          note: {{type: string, default: ""}}
        triggers:
          - type: file
            path: "{inbox}"
            pattern: "*.csv"
            interval: 7
            parameters:
              input: "{{{{ trigger.path }}}}"
              note: "{{{{ trigger.name }}}} has {{{{ trigger.size }}}} bytes"
    """)
    return inbox, repo_of(folder).get_sensor_def("ingest_file_sensor")


def test_file_sensor_requests_one_run_per_new_file_then_skips_until_a_file_changes(inbox_workflow, instance):
    inbox, sensor = inbox_workflow
    assert sensor.minimum_interval_seconds == 7
    assert sensor.default_status == dg.DefaultSensorStatus.RUNNING
    a = drop(inbox / "a.csv", "x,y\n1,2\n", age=20)
    b = drop(inbox / "b.csv", "x\n", age=10)
    drop(inbox / "notes.txt", "not a csv")
    drop(inbox / ".hidden.csv", "editor temp file")

    first = tick(sensor, instance, None)
    assert [r.run_config["input"] for r in first.run_requests] == [str(a), str(b)]  # oldest first
    req_a = first.run_requests[0]
    stat = a.stat()
    assert req_a.run_key == f"{a}:{stat.st_mtime_ns}:{stat.st_size}"
    assert req_a.run_config["note"] == "a.csv has 8 bytes"
    info = info_of(req_a)
    assert info["path"] == str(a) and info["name"] == "a.csv" and info["size"] == 8
    assert info["type"] == "file" and info["sensor"] == "ingest_file_sensor" and info["relative_path"] == "a.csv"
    assert req_a.tags["yaml2dag/trigger"] == "sensor"

    second = tick(sensor, instance, first.cursor)
    assert second.run_requests == [] and "no new or changed files" in second.skip_message

    drop(a, "x,y\n1,2\n3,4\n", age=5)  # rewritten: new mtime and size
    b.unlink()
    third = tick(sensor, instance, second.cursor)
    assert [r.run_config["input"] for r in third.run_requests] == [str(a)]
    assert third.run_requests[0].run_key != req_a.run_key
    assert json.loads(third.cursor)["seen"].keys() == {str(a)}  # the removed file left the cursor


def test_file_sensor_missing_folder_is_a_skip_reason_and_recursion_is_opt_in(tmp_path, instance):
    inbox = tmp_path / "later"
    folder = tmp_path / "defs"
    write_wf(folder, "flat.yaml", f"""
        name: Flat
        triggers:
          - type: file
            path: "{inbox}"
    """)
    write_wf(folder, "deep.yaml", """
        name: Deep
        triggers:
          - type: file
            path: ../later
            pattern: "*.json"
            recursive: true
            enabled: false
    """)
    repo = repo_of(folder)
    flat, deep = repo.get_sensor_def("flat_file_sensor"), repo.get_sensor_def("deep_file_sensor")
    assert deep.default_status == dg.DefaultSensorStatus.STOPPED
    assert flat.minimum_interval_seconds == 30

    missing = tick(flat, instance, None)
    assert missing.run_requests == [] and missing.cursor is None
    assert f"watched folder {inbox} does not exist" in missing.skip_message

    drop(inbox / "top.json", "{}")
    drop(inbox / "sub" / "nested.json", "{}")
    assert sorted(r.run_key.split(":")[0] for r in tick(flat, instance, None).run_requests) == [str(inbox / "top.json")]
    # a relative path is read from the workflow file's folder; recursive descends into sub
    assert sorted(r.run_key.split(":")[0] for r in tick(deep, instance, None).run_requests) == [
        str(inbox / "sub" / "nested.json"), str(inbox / "top.json")]


def test_file_sensor_waits_for_a_file_that_is_still_being_written(inbox_workflow, instance):
    inbox, sensor = inbox_workflow
    fresh = inbox / "fresh.csv"
    inbox.mkdir()
    fresh.write_text("partial")
    waiting = tick(sensor, instance, None)
    assert waiting.run_requests == [] and "still being written" in waiting.skip_message
    assert str(fresh) not in json.loads(waiting.cursor)["seen"]
    drop(fresh, "complete", age=3)
    assert [r.run_config["input"] for r in tick(sensor, instance, waiting.cursor).run_requests] == [str(fresh)]


def test_file_sensor_skips_a_file_whose_parameters_do_not_check_and_moves_on(tmp_path, instance):
    inbox = tmp_path / "inbox"
    folder = tmp_path / "defs"
    write_wf(folder, "sized.yaml", f"""
        name: Sized
        parameters:
          size: {{type: integer, default: 0, maximum: 100}}
        triggers:
          - type: file
            path: "{inbox}"
            parameters: {{size: "{{{{ trigger.size }}}}"}}
    """)
    sensor = repo_of(folder).get_sensor_def("sized_file_sensor")
    drop(inbox / "big.bin", "x" * 500, age=20)
    drop(inbox / "small.bin", "x" * 5, age=10)
    result = tick(sensor, instance, None)
    assert [r.run_config for r in result.run_requests] == [{"size": 5}]
    assert set(json.loads(result.cursor)["seen"]) == {str(inbox / "big.bin"), str(inbox / "small.bin")}
    small = str(inbox / "small.bin")
    only_big = tick(sensor, instance, json.dumps({"v": 1, "seen": {small: json.loads(result.cursor)["seen"][small]}}))
    assert only_big.run_requests == []
    assert "big.bin" in only_big.skip_message and "size" in only_big.skip_message and "100" in only_big.skip_message


# --------------------------------------------------------------------------- workflow triggers


@pytest.fixture
def chain(tmp_path):
    folder = tmp_path / "defs"
    write(folder, "extract.yaml", """
        name: Extract
        parameters:
          fail: {type: boolean, default: false}
        steps:
          - id: pull
            tool: shell
            parameters: {command: "echo pulled-42; exit {{ 1 if fail else 0 }}"}
        outputs:
          rows: "{{ pull.output }}"
    """)
    write(folder, "load.yaml", """
        name: Load
        parameters:
          upstream: {type: string, default: ""}
          rows: {type: string, default: ""}
        triggers:
          - type: workflow
            workflow: extract
            parameters:
              upstream: "{{ trigger.run_id }}"
              rows: "{{ trigger.outputs.rows }}"
        steps:
          - id: show
            tool: shell
            parameters: {command: "echo {{ trigger.workflow }}/{{ trigger.status }}/{{ rows }}"}
        outputs:
          seen: "{{ show.output }}"
          from_run: "{{ trigger.run_id }}"
    """)
    write_wf(folder, "alert.yaml", """
        name: Alert
        parameters:
          message: {type: string, default: ""}
        triggers:
          - type: workflow
            workflow: Extract
            status: failure
            parameters: {message: "{{ trigger.workflow }} failed at {{ trigger.failed_step }}: {{ trigger.error }}"}
          - type: workflow
            name: audit
            workflow: Load
            status: any
    """)
    return repo_of(folder)


def _ended(instance, job: dg.JobDefinition, run_config: dict):
    """Run ``job`` in this process (like `dagster job execute`: no code-location origin)."""
    result = job.execute_in_process(run_config=run_config, instance=instance, raise_on_error=False)
    run = instance.get_run_by_id(result.run_id)
    assert run.remote_job_origin is None
    return run


def test_workflow_trigger_sensors_have_readable_names_and_watch_the_upstream_job(chain):
    sensors = {s.name: s for s in chain.sensor_defs}
    assert sorted(sensors) == ["alert_on_extract_failure", "audit_failure", "audit_success", "load_on_extract_success"]
    # plain sensors on the instance's run-status events, not run-status sensors (see the next tests)
    assert not any(isinstance(s, dg.RunStatusSensorDefinition) for s in sensors.values())
    assert sensors["load_on_extract_success"].job_name == "load"
    assert sensors["load_on_extract_success"].minimum_interval_seconds == 10
    assert sensors["alert_on_extract_failure"].default_status == dg.DefaultSensorStatus.RUNNING
    assert "ends with failure" in sensors["alert_on_extract_failure"].description
    assert sensors["audit_failure"].metadata["yaml2dag/upstream_job"].value == "load"
    assert sensors["audit_success"].metadata["yaml2dag/status"].value == "success"


def test_a_yaml2dag_run_of_the_upstream_starts_the_downstream_once_with_its_run_id_and_outputs(chain, instance, tmp_path):
    from yaml2dag.library.folder import Library
    from yaml2dag.runs.runner import run_workflow

    sensor = chain.get_sensor_def("load_on_extract_success")
    before = _ended(instance, chain.get_job("extract"), {})  # ended before the sensor's first check
    first = tick(sensor, instance, None)
    assert first.run_requests == [] and "started watching runs of extract" in first.skip_message

    # `yaml2dag run` executes outside any code location, as `dagster job execute` does
    ran = run_workflow(Library(tmp_path / "defs").find("Extract").validated(), instance=instance)
    assert ran.status == "SUCCESS" and instance.get_run_by_id(ran.run_id).remote_job_origin is None
    _ended(instance, chain.get_job("extract"), {"fail": True})  # a failure: not for this sensor
    result = tick(sensor, instance, first.cursor)
    [request] = result.run_requests
    assert request.run_key == f"{ran.run_id}:success"
    assert request.run_config == {"upstream": ran.run_id, "rows": "pulled-42"}
    info = info_of(request)
    assert info["run_id"] == ran.run_id and info["workflow"] == "Extract" and info["job"] == "extract"
    assert info["status"] == "success" and info["outputs"] == {"rows": "pulled-42"}
    assert info["parameters"] == {"fail": False}
    assert request.tags["yaml2dag/trigger"] == "sensor"
    assert before.run_id not in json.dumps([r.run_key for r in result.run_requests])

    again = tick(sensor, instance, result.cursor)  # each upstream run fires once
    assert again.run_requests == [] and "no run of extract ended with success" in again.skip_message
    second = _ended(instance, chain.get_job("extract"), {})
    assert [r.run_key for r in tick(sensor, instance, again.cursor).run_requests] == [f"{second.run_id}:success"]

    # the requested run sees trigger.* in its own steps and outputs
    load = chain.get_job("load").execute_in_process(run_config=request.run_config, tags=request.tags,
                                                    instance=instance)
    assert load.success
    assert stored_outputs(instance, load.run_id) == [{"seen": "Extract/success/pulled-42", "from_run": ran.run_id}]
    assert instance.get_run_by_id(load.run_id).tags["yaml2dag/trigger"] == "sensor"


def test_upstream_failure_fires_the_failure_trigger_with_the_error(chain, instance):
    sensor = chain.get_sensor_def("alert_on_extract_failure")
    start = tick(sensor, instance, None).cursor
    _ended(instance, chain.get_job("extract"), {})  # a success: not for this sensor
    run = _ended(instance, chain.get_job("extract"), {"fail": True})
    assert run.status == dg.DagsterRunStatus.FAILURE
    [request] = tick(sensor, instance, start).run_requests
    assert request.run_key == f"{run.run_id}:failure"
    assert request.run_config["message"].startswith("Extract failed at pull: ")
    info = info_of(request)
    assert info["status"] == "failure" and info["failed_step"] == "pull" and info["outputs"] == {}

    # status: any → one sensor per status, each seeing only its own
    audit_success, audit_failure = chain.get_sensor_def("audit_success"), chain.get_sensor_def("audit_failure")
    cursors = {s.name: tick(s, instance, None).cursor for s in (audit_success, audit_failure)}
    loaded = _ended(instance, chain.get_job("load"), {})  # started by hand: trigger.workflow is undefined
    assert loaded.status == dg.DagsterRunStatus.FAILURE
    assert [r.run_key for r in tick(audit_failure, instance, cursors["audit_failure"]).run_requests] == [
        f"{loaded.run_id}:failure"]
    assert tick(audit_success, instance, cursors["audit_success"]).run_requests == []


def test_a_workflow_trigger_parameter_that_does_not_check_skips_that_upstream_run(tmp_path, instance):
    folder = tmp_path / "defs"
    write_wf(folder, "up.yaml", "name: Up\n")
    write_wf(folder, "down.yaml", """
        name: Down
        parameters:
          count: {type: integer, default: 0}
        triggers:
          - type: workflow
            workflow: Up
            parameters: {count: "{{ trigger.run_id }}"}
    """)
    repo = repo_of(folder)
    sensor = repo.get_sensor_def("down_on_up_success")
    start = tick(sensor, instance, None).cursor
    run = _ended(instance, repo.get_job("up"), {})
    skipped = tick(sensor, instance, start)
    assert skipped.run_requests == []
    assert run.run_id in skipped.skip_message and "count" in skipped.skip_message
    assert "expected an integer" in skipped.skip_message
    assert skipped.cursor != start  # the sensor goes on: that run is not looked at again
    assert "no run of up ended with success" in tick(sensor, instance, skipped.cursor).skip_message


# --------------------------------------------------------------------------- validation


def test_unknown_or_self_upstream_is_an_error_with_its_line_and_loops_are_warned(tmp_path):
    folder = tmp_path / "defs"
    write_wf(folder, "one.yaml", """
        name: One
        triggers:
          - type: workflow
            workflow: Tow
          - type: workflow
            workflow: one
    """)
    write_wf(folder, "two.yaml", """
        name: Two
        triggers:
          - type: workflow
            workflow: three
    """)
    write_wf(folder, "three.yaml", """
        name: Three
        triggers:
          - type: file
            path: /tmp
          - type: workflow
            workflow: TWO
            status: failure
    """)
    files = {Path(r.file).stem: r for r in validate_paths([folder]).files}
    one = files["one"]
    assert [(p.line, p.column, p.path, p.rule) for p in one.errors] == [
        (4, 15, "triggers[0].workflow", "trigger"), (6, 15, "triggers[1].workflow", "trigger")]
    assert "unknown workflow 'Tow'" in one.errors[0].message and "did you mean" in one.errors[0].message
    assert "cannot trigger itself" in one.errors[1].message
    # a file trigger is supported now, and a loop is only a warning
    for stem in ("two", "three"):
        assert files[stem].valid, [p.format() for p in files[stem].problems]
        [warning] = files[stem].warnings
        assert "form a loop" in warning.message and warning.path.endswith(".workflow")
    assert "Three → Two → Three" in files["two"].warnings[0].message


def test_invalid_workflow_trigger_makes_a_broken_job_not_a_dead_location(tmp_path):
    folder = tmp_path / "defs"
    write_wf(folder, "ok.yaml", "name: Ok\n")
    write_wf(folder, "orphan.yaml", """
        name: Orphan
        triggers:
          - type: workflow
            workflow: Missing
    """)
    repo = repo_of(folder)
    assert sorted(j.name for j in repo.get_all_jobs()) == ["ok", "orphan"]
    assert "unknown workflow 'Missing'" in repo.get_job("orphan").description
    assert repo.sensor_defs == []


# --------------------------------------------------------------------------- hot reload and remote pieces


def test_only_workflow_files_outside_hidden_and_underscore_folders_cause_a_reload(tmp_path):
    from yaml2dag.library.reloader import is_workflow_path, pick_locations

    root = tmp_path / "defs"
    assert is_workflow_path(root / "a.yaml", root) and is_workflow_path(root / "sub" / "b.YML", root)
    assert is_workflow_path(root / "c.json", root) and is_workflow_path(root / "folder", root)
    assert not is_workflow_path(root / ".versions" / "a.yaml", root)
    assert not is_workflow_path(root / "_helpers" / "a.yaml", root)
    assert not is_workflow_path(root / ".a.yaml.swp", root) and not is_workflow_path(root / "steps.py", root)
    assert not is_workflow_path(tmp_path / "elsewhere.yaml", root) and not is_workflow_path(root, root)
    assert pick_locations(["other", "yaml2dag"]) == ["yaml2dag"]
    assert pick_locations(["yaml2dag.definitions"]) == ["yaml2dag.definitions"]
    assert pick_locations(["mine"]) == ["mine"]


class _FakeDagster(QuietHandler):
    """Answers the two GraphQL operations of the reloader and records reloads."""

    reloads: list[float] = []

    def do_POST(self):  # noqa: N802 - http.server API
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        if "reloadRepositoryLocation" in body["query"]:
            type(self).reloads.append(time.monotonic())
            data = {"reloadRepositoryLocation": {"__typename": "WorkspaceLocationEntry", "name": "yaml2dag",
                                                 "locationOrLoadError": {"__typename": "RepositoryLocation",
                                                                         "isReloadSupported": True,
                                                                         "repositories": [{"name": "__repository__"}]}}}
        else:
            data = {"workspaceOrError": {"__typename": "Workspace",
                                         "locationEntries": [{"name": "yaml2dag", "loadStatus": "LOADED"}]}}
        self._json(200, {"data": data})


def test_reloader_debounces_a_burst_of_changes_into_one_reload_and_ignores_other_files(tmp_path):
    from yaml2dag.library.reloader import DefinitionsReloader
    from yaml2dag.triggers.remote import parse_url

    _FakeDagster.reloads = []
    folder = tmp_path / "defs"
    lines: list[str] = []
    with serving(LocalHTTPServer(_FakeDagster)) as server:
        reloader = DefinitionsReloader(folder, parse_url(f"127.0.0.1:{server.server_address[1]}"), debounce=0.6,
                                       log=lines.append).start()
        try:
            time.sleep(0.3)
            (folder / "notes.txt").write_text("ignored")
            (folder / ".swap.yaml").write_text("ignored")
            time.sleep(1.5)
            assert _FakeDagster.reloads == []
            for i in range(5):  # an editor saving a file several times in a row
                (folder / "wf.yaml").write_text(f"name: W{i}\n")
                time.sleep(0.1)
            wait_until(lambda: _FakeDagster.reloads, 10, 0.1, "the reload after the burst")
            time.sleep(1.5)  # and no second reload follows
            assert len(_FakeDagster.reloads) == 1, lines
            (folder / "wf.yaml").unlink()
            wait_until(lambda: len(_FakeDagster.reloads) >= 2, 10, 0.1, "the reload after the file was removed")
            assert len(_FakeDagster.reloads) == 2 and reloader.reloads == 2
            assert lines[0] == "wf.yaml changed: reloaded yaml2dag"
        finally:
            reloader.stop()


def test_reloader_retries_until_the_webserver_answers(tmp_path):
    from yaml2dag.library.reloader import DefinitionsReloader
    from yaml2dag.triggers.remote import parse_url

    port = free_port()
    _FakeDagster.reloads = []
    lines: list[str] = []
    reloader = DefinitionsReloader(tmp_path / "defs", parse_url(f"http://127.0.0.1:{port}"), debounce=0.2, retry=0.5,
                                   log=lines.append).start()
    with contextlib.ExitStack() as later:
        try:
            (tmp_path / "defs" / "a.yaml").write_text("name: A\n")
            wait_until(lambda: lines, 10, 0.1, "the reloader's first message")
            assert lines[0].startswith("reload pending (cannot reach the Dagster webserver")
            later.enter_context(serving(LocalHTTPServer(_FakeDagster, port=port)))
            wait_until(lambda: _FakeDagster.reloads, 10, 0.1, "the reload once the webserver answers")
            assert len(_FakeDagster.reloads) == 1 and lines[-1] == "a.yaml changed: reloaded yaml2dag"
        finally:
            reloader.stop()


def test_webserver_urls_and_remote_parameter_conversion():
    from yaml2dag.format.errors import ParameterError
    from yaml2dag.triggers.remote import RemoteError, coerce_remote, parse_url

    local = parse_url("127.0.0.1:3000")
    assert (local.url, local.host, local.port, local.https, local.path_prefix) == (
        "http://127.0.0.1:3000", "127.0.0.1", 3000, False, "")
    assert local.run_url("abc") == "http://127.0.0.1:3000/runs/abc"
    behind = parse_url("https://ops.example.com/dagster/")
    assert (behind.url, behind.port, behind.https, behind.path_prefix, behind.graphql_url) == (
        "https://ops.example.com/dagster", None, True, "/dagster", "https://ops.example.com/dagster/graphql")
    with pytest.raises(RemoteError):
        parse_url("ftp://host")
    assert coerce_remote("n", "5", "Int") == 5 and coerce_remote("x", "2.5", "Float") == 2.5
    assert coerce_remote("b", "yes", "Bool") is True and coerce_remote("l", '["a"]', "Array.String") == ["a"]
    assert coerce_remote("s", "007", "String") == "007" and coerce_remote("e", "fast", "report__mode") == "fast"
    with pytest.raises(ParameterError, match="expected an integer"):
        coerce_remote("n", "many", "Int")
