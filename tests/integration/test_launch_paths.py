"""Issue #3, "Done when": the control-flow features in real runs started the two ways besides
`yaml2dag run` (covered in test_control_flow.py).

* From the UI: `yaml2dag dev` (webserver + daemon + code server) on a temporary DAGSTER_HOME
  with the shipped dagster.yaml, runs launched over GraphQL (the launchpad's `launchRun`
  mutation, through Dagster's GraphQL client), so they go through the instance's run
  coordinator, the daemon's run queue and the default run launcher: for_each, a sub-workflow,
  an approval gate approved from another process, compensation + on_failure, a pool of 1
  between two runs, and `concurrency: {limit: 1, key}` queueing a second run of the same key
  while a run of another key goes ahead.
* `dagster job execute -m yaml2dag.definitions -j JOB` (no daemon, no webserver): compensation,
  an approval gate, a pool of 1 between two processes, and the workflow timeout.

Steps that must overlap or not hold themselves open until the test writes a marker file, so the
ordering checks do not depend on sleeps; every wait is bounded, every process group started
here is killed on teardown.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cli_forkserver import run_cli, start_cli
from conftest import run_process, stored_outputs, write
from local_servers import shipped_dagster_home, start_dev, stop_process_tree
from waiting import wait_until

pytestmark = [pytest.mark.slow,
              # dagster_graphql's client still passes variables the way gql 3.5 deprecates
              pytest.mark.filterwarnings("ignore:Using variable_values and operation_name:DeprecationWarning")]

#: Bound for one run to finish, for a step to reach a point, for a gate to start waiting (seconds).
RUN_TIMEOUT = 180
#: Bound a held step waits for its marker file before it gives up (deciseconds: 120 s).
HOLD_TICKS = 1200
POOL = "launch_lock"
JOB_EXECUTE = [sys.executable, "-m", "dagster", "job", "execute", "-m", "yaml2dag.definitions", "-j"]

#: A shell command that stamps DIR/TAG.start, waits (bounded) for the test to create DIR/TAG.go,
#: then stamps DIR/TAG.end.
HELD = ("date +%s.%N > {{ dir }}/{{ tag }}.start; n=0; "
        f"while [ ! -e {{{{ dir }}}}/{{{{ tag }}}}.go ] && [ $n -lt {HOLD_TICKS} ]; do sleep 0.1; n=$((n+1)); done; "
        "date +%s.%N > {{ dir }}/{{ tag }}.end")

WORKFLOWS = {
    "fan_out.yaml": """
        name: Launch Fan Out
        parameters:
          names: {type: array, default: [solo]}
        steps:
          - id: greet
            for_each: "{{ names }}"
            max_parallel: 2
            tool: shell
            parameters: {command: "sleep 0.$(( 9 - 3 * {{ index }} )); echo {{ index }}-{{ item }}"}
          - id: count
            tool: shell
            parameters: {command: "echo {{ greet.output | length }}"}
        outputs:
          greetings: "{{ greet.output }}"
          count: "{{ count.output }}"
          trigger: "{{ run.trigger }}"
    """,
    "child.yaml": """
        name: Launch Child
        parameters:
          who: {type: string}
        steps:
          - id: greet
            tool: shell
            parameters: {command: "echo hello {{ who }}"}
        outputs:
          said: "{{ greet.output }}"
    """,
    "parent.yaml": """
        name: Launch Parent
        parameters:
          who: {type: string, default: nobody}
        steps:
          - id: child
            workflow: Launch Child
            parameters: {who: "{{ who }}"}
          - id: after
            tool: shell
            parameters: {command: "echo parent got {{ child.output.said }}"}
        outputs:
          after: "{{ after.output }}"
          child: "{{ child.output }}"
    """,
    "gate.yaml": """
        name: Launch Gate
        steps:
          - id: build
            tool: shell
            parameters: {command: "echo built"}
          - id: approve
            tool: approval
            parameters: {message: "Ship the launch build?", poll_interval: 0.5}
          - id: deploy
            tool: shell
            parameters: {command: "echo deployed after {{ approve.approved_by | join(',') }}"}
        outputs:
          decision: "{{ approve.decision }}"
          deploy: "{{ deploy.output }}"
    """,
    "saga.yaml": """
        name: Launch Saga
        parameters:
          log: {type: string}
        steps:
          - id: reserve
            tool: shell
            parameters: {command: "echo seat-42"}
            compensate: {tool: shell, parameters: {command: "echo release {{ reserve.output }} >> {{ log }}"}}
          - id: charge
            tool: shell
            parameters: {command: "echo charged"}
            compensate: {tool: shell, parameters: {command: "echo refund after {{ failed_step }} >> {{ log }}"}}
          - id: ship
            tool: shell
            parameters: {command: "echo no truck >&2; exit 9"}
            compensate: {tool: shell, parameters: {command: "echo never >> {{ log }}"}}
        on_failure:
          - id: alert
            tool: shell
            parameters: {command: "echo alert {{ failed_step }}: {{ error }} >> {{ log }}"}
    """,
    "locked.yaml": f"""
        name: Launch Locked
        parameters:
          dir: {{type: string}}
          tag: {{type: string}}
        steps:
          - id: critical
            pool: {POOL}
            tool: shell
            parameters: {{command: "{HELD}"}}
    """,
    "limited.yaml": f"""
        name: Launch Limited
        parameters:
          dir: {{type: string}}
          tag: {{type: string}}
          target: {{type: string, default: staging}}
        concurrency: {{limit: 1, key: "{{{{ target }}}}"}}
        steps:
          - id: work
            tool: shell
            parameters: {{command: "{HELD}"}}
    """,
    "slow.yaml": """
        name: Launch Too Slow
        timeout: 2
        steps:
          - id: slow
            tool: shell
            parameters: {command: "sleep 30"}
    """,
}

JOBS = {"launch_fan_out", "launch_child", "launch_parent", "launch_gate", "launch_saga", "launch_locked",
        "launch_limited", "launch_too_slow"}

SAGA_LINES = ["refund after ship", "release seat-42", "alert ship: command exited with code 9: no truck"]


# --------------------------------------------------------------------------- helpers

def _wait(what: str, check, timeout: float = RUN_TIMEOUT, poll: float = 0.3, alive=None):
    """Poll ``check`` until it returns a true value (returned), at most ``timeout`` seconds;
    ``alive()`` (optional) raises if the process being waited on died."""

    def checked():
        value = check()
        if not value and alive is not None:
            alive()
        return value

    return wait_until(checked, timeout, poll, what)


def _instance(home: Path):
    from dagster import DagsterInstance

    return DagsterInstance.from_config(str(home))


def _finished(instance, run_id: str, alive=None):
    """The run once it has finished (bounded by RUN_TIMEOUT)."""
    return _wait(f"run {run_id} to finish",
                 lambda: (run := instance.get_run_by_id(run_id)) is not None and run.is_finished and run,
                 alive=alive)


def _events(instance, run_id: str, event_type: str) -> list:
    return [r for r in instance.all_logs(run_id)
            if r.dagster_event is not None and r.dagster_event.event_type_value == event_type]


def _step_keys(instance, run_id: str, event_type: str = "STEP_SUCCESS") -> list[str]:
    return [r.dagster_event.step_key for r in _events(instance, run_id, event_type)]


def _pool_blocked(instance, run_id: str) -> bool:
    """True once Dagster logged that a step of the run waits for the pool's slot."""
    return any(f"blocked by limit for pool {POOL}" in (r.dagster_event.message or "")
               for r in _events(instance, run_id, "ENGINE_EVENT"))


def _failure_handler_kinds(instance, run_id: str) -> list[str]:
    kinds = []
    for r in _events(instance, run_id, "ENGINE_EVENT"):
        metadata = r.dagster_event.engine_event_data.metadata or {}
        if "yaml2dag/failure" in metadata:
            kinds.append(metadata["yaml2dag/failure"].value)
    return kinds


def _config_file(root: Path, name: str, config: dict) -> Path:
    path = root / f"{name}-config.json"  # JSON is YAML
    path.write_text(json.dumps(config))
    return path


def _stamp(path: Path) -> float:
    return float(path.read_text())


def _gate_waiting(instance, run_id: str) -> bool:
    """True once the run's event log says its gate waits (the engine event ``yaml2dag status``
    reads; polled here in-process rather than with one CLI subprocess per poll)."""
    for r in _events(instance, run_id, "ENGINE_EVENT"):
        metadata = r.dagster_event.engine_event_data.metadata or {}
        if "yaml2dag/approval" in metadata and metadata["yaml2dag/approval"].value == "waiting":
            return True
    return False


def _approve_from_another_process(instance, env: dict, run_id: str, alive=None) -> None:
    """Wait for the gate, check `yaml2dag status` shows it paused, approve with `yaml2dag approve`."""
    _wait(f"run {run_id} to wait at its gate", lambda: _gate_waiting(instance, run_id), alive=alive)
    status = run_cli("status", run_id, "--format", "json", env=env)
    assert status.code == 0, status.stderr
    info = json.loads(status.stdout)
    assert info["status"] == "paused" and info["current_step"] == "approve"
    assert [(g["step"], g["message"]) for g in info["waiting"]] == [("approve", "Ship the launch build?")]
    approved = run_cli("approve", run_id, "--by", "alice", "--comment", "go", env=env)
    assert approved.code == 0, approved.stdout + approved.stderr


class _Execute:
    """`dagster job execute -m yaml2dag.definitions -j JOB [-c CONFIG]` in the background (its
    own process group; output in a log file)."""

    def __init__(self, env: dict, cwd: Path, job: str, config: dict | None = None):
        self.log = cwd / f"{job}-{time.monotonic_ns()}.log"
        argv = [*JOB_EXECUTE, job]
        if config is not None:
            argv += ["-c", str(_config_file(cwd, self.log.stem, config))]
        with open(self.log, "w") as sink:
            self.proc = subprocess.Popen(argv, cwd=cwd, env={**os.environ, **env, "NO_COLOR": "1"},
                                         stdout=sink, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)

    def alive(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(f"dagster job execute exited ({self.proc.returncode}) early:\n"
                                 + self.log.read_text()[-3000:])

    def wait(self, timeout: float = RUN_TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"dagster job execute did not finish in {timeout}s:\n"
                                 + self.log.read_text()[-3000:]) from None

    def stop(self) -> None:
        stop_process_tree(self.proc, timeout=10)


@pytest.fixture(scope="module")
def launch_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("launch")
    for name, text in WORKFLOWS.items():
        write(root / "definitions", name, text)
    return root


def _pool_run_never_overlaps(instance, stamps: Path, run_ids: dict[str, str], alive=None, held=None) -> None:
    """Two runs (tags a, b) each hold the pool's step until released: the second to start must
    be held back while the first holds the pool (``held(run_id, started_too)`` waits until that
    is shown, or ``started_too()`` says its step started anyway; by default, until Dagster logs
    that its step is blocked on the pool), and start only after the first ended."""
    first = _wait("a step to take the pool", lambda: next((t for t in "ab" if (stamps / f"{t}.start").exists()), None),
                  alive=alive)
    second = "b" if first == "a" else "a"

    def started_too() -> bool:  # the pool did not hold it: fail at once, not at the timeout
        return (stamps / f"{second}.start").exists()

    if held is None:
        _wait(f"run {second} to wait for the pool", lambda: _pool_blocked(instance, run_ids[second]) or started_too(),
              alive=alive)
    else:
        held(run_ids[second], started_too)
    assert not (stamps / f"{second}.start").exists(), "the pool of 1 let both steps start"
    (stamps / f"{first}.go").touch()
    _wait(f"step {second} to start after {first}", lambda: (stamps / f"{second}.start").exists(), alive=alive)
    (stamps / f"{second}.go").touch()
    for tag in "ab":
        assert _finished(instance, run_ids[tag], alive).status.value == "SUCCESS", tag
    assert _stamp(stamps / f"{second}.start") >= _stamp(stamps / f"{first}.end")


# --------------------------------------------------------------------------- dagster job execute

@pytest.fixture(scope="module")
def cli_env(launch_root) -> dict:
    """DAGSTER_HOME (the shipped dagster.yaml: pools of 1) and definitions for `dagster job execute`."""
    home = shipped_dagster_home(launch_root / "cli_home")
    # create the SQLite storages now: two processes creating them at once race in alembic
    # ("more than one head present"), whichever test runs first
    with _instance(home) as instance:
        instance.get_runs(limit=1)
        instance.event_log_storage.get_concurrency_keys()
        instance.all_instigator_state()
    return {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(launch_root / "definitions")}


def _cli_runs(cli_env, job: str) -> list:
    from dagster import RunsFilter

    with _instance(Path(cli_env["DAGSTER_HOME"])) as instance:
        return list(instance.get_runs(filters=RunsFilter(job_name=job)))


def test_job_execute_compensation_newest_first_then_on_failure(cli_env, launch_root):
    log = launch_root / "cli_saga.log"
    config = _config_file(launch_root, "saga", {"log": str(log)})
    done = run_process([*JOB_EXECUTE, "launch_saga", "-c", str(config)], env=cli_env, cwd=launch_root)
    assert done.code != 0, "the run fails at `ship`"
    assert log.read_text().splitlines() == SAGA_LINES
    [run] = _cli_runs(cli_env, "launch_saga")
    assert run.status.value == "FAILURE"
    with _instance(Path(cli_env["DAGSTER_HOME"])) as instance:
        assert _failure_handler_kinds(instance, run.run_id) == ["started", "compensate", "compensate", "on_failure",
                                                                "finished"]


def test_job_execute_approval_gate_approved_from_a_second_process(cli_env, launch_root):
    bg = _Execute(cli_env, launch_root, "launch_gate")
    try:
        [run] = _wait("the gate run to be stored", lambda: _cli_runs(cli_env, "launch_gate"), alive=bg.alive)
        with _instance(Path(cli_env["DAGSTER_HOME"])) as instance:
            _approve_from_another_process(instance, cli_env, run.run_id, bg.alive)
        assert bg.wait() == 0, bg.log.read_text()[-3000:]
    finally:
        bg.stop()
    with _instance(Path(cli_env["DAGSTER_HOME"])) as instance:
        assert instance.get_run_by_id(run.run_id).status.value == "SUCCESS"
        assert stored_outputs(instance, run.run_id) == [{"decision": "approved", "deploy": "deployed after alice"}]


def test_job_execute_pool_of_one_between_two_processes(cli_env, launch_root):
    stamps = launch_root / "cli_pool"
    stamps.mkdir()
    runs = {tag: _Execute(cli_env, launch_root, "launch_locked", {"dir": str(stamps), "tag": tag}) for tag in "ab"}

    def alive():
        for r in runs.values():
            r.alive()

    try:
        def both_stored():
            found = {r.run_config.get("tag"): r.run_id for r in _cli_runs(cli_env, "launch_locked")}
            return found if set(found) == {"a", "b"} else None

        run_ids = _wait("both runs to be stored", both_stored, alive=alive)
        with _instance(Path(cli_env["DAGSTER_HOME"])) as instance:
            # the processes exit once their run is done: from then on only the stamps speak
            _pool_run_never_overlaps(instance, stamps, run_ids)
        assert [r.wait() for r in runs.values()] == [0, 0]
    finally:
        for r in runs.values():
            r.stop()


def test_job_execute_workflow_timeout_ends_the_run(cli_env, launch_root):
    done = run_process([*JOB_EXECUTE, "launch_too_slow"], env=cli_env, cwd=launch_root)
    assert done.code != 0
    [run] = _cli_runs(cli_env, "launch_too_slow")
    assert run.status.value == "FAILURE"
    assert run.tags["dagster/max_runtime"] == "2"
    with _instance(Path(cli_env["DAGSTER_HOME"])) as instance:
        text = "\n".join(str(r.dagster_event.message) + " " + str(r.dagster_event.event_specific_data)
                         for r in instance.all_logs(run.run_id) if r.dagster_event is not None)
        assert "exceeded its timeout of 2s" in text
        assert "slow" not in _step_keys(instance, run.run_id)


# --------------------------------------------------------------------------- the UI (webserver + daemon)

@pytest.fixture(scope="module")
def live(launch_root):
    # a graceful stop of `dagster dev` takes ~15 s and is tested in test_live.py: SIGKILL at once
    with start_dev(launch_root, launch_root / "definitions", JOBS, stop_timeout=0) as server:
        yield server


@pytest.fixture(scope="module")
def live_instance(live):
    with _instance(live.home) as instance:
        yield instance


@pytest.fixture(scope="module")
def early_runs(live) -> dict[str, str]:
    """The runs that need nothing from the test, launched together (they overlap in the queue
    and the run workers instead of one after the other): job name -> run id."""
    runs = {"launch_fan_out": _launch(live, "launch_fan_out", {"names": ["delta", "alpha", "charlie"]}),
            "launch_parent": _launch(live, "launch_parent", {"who": "ui"}),
            "launch_saga": _launch(live, "launch_saga", {"log": str(live.root / "ui_saga.log")})}
    # `yaml2dag trigger`, the CLI way to press "Launch Run", for the gate
    started = run_cli("trigger", "Launch Gate", "--url", live.url, "--format", "json", env=_live_env(live),
                      cwd=live.root)
    assert started.code == 0, started.stderr
    runs["launch_gate"] = json.loads(started.stdout)["run_id"]
    return runs


def _live_env(live) -> dict:
    return {"DAGSTER_HOME": str(live.home), "YAML2DAG_DEFINITIONS": str(live.folder)}


def _server_alive(live):
    def alive():
        if live.proc.poll() is not None:
            raise AssertionError(f"yaml2dag dev exited ({live.proc.returncode}):\n{live.tail()}")
    return alive


def _launch(live, job: str, config: dict | None = None) -> str:
    """Launch ``job`` with ``config`` like the launchpad's "Launch Run" (GraphQL ``launchRun``)."""
    from urllib.parse import urlsplit

    from dagster_graphql import DagsterGraphQLClient

    address = urlsplit(live.url)
    client = DagsterGraphQLClient(address.hostname, port_number=address.port)
    return client.submit_job_execution(job, repository_location_name="yaml2dag", repository_name="__repository__",
                                       run_config=config or {})


def _went_through_the_queue(instance, run_id: str) -> bool:
    """True when the run was queued by the run coordinator (and so started by the daemon)."""
    from dagster import DagsterEventType

    return bool(_events(instance, run_id, DagsterEventType.RUN_ENQUEUED.value))


def test_ui_for_each_maps_each_element_and_collects_them_in_order(live, live_instance, early_runs):
    run_id = early_runs["launch_fan_out"]
    run = _finished(live_instance, run_id, _server_alive(live))
    assert run.status.value == "SUCCESS", live.tail()
    assert _went_through_the_queue(live_instance, run_id)
    mapped = sorted(k for k in _step_keys(live_instance, run_id) if k.startswith("greet["))
    assert mapped == ["greet[0]", "greet[1]", "greet[2]"]
    # the dynamic output of the fan-out step maps the elements in list order
    keys = [r.dagster_event.event_specific_data.step_output_handle.mapping_key
            for r in _events(live_instance, run_id, "STEP_OUTPUT") if r.dagster_event.step_key == "greet__items"]
    assert keys == ["0", "1", "2"]
    # max_parallel: 2 - never three elements at once (from the steps' start and end events)
    spans = {}
    for event_type in ("STEP_START", "STEP_SUCCESS"):
        for r in _events(live_instance, run_id, event_type):
            if r.dagster_event.step_key in mapped:
                spans.setdefault(r.dagster_event.step_key, []).append(r.timestamp)
    peak = max(sum(1 for s, e in spans.values() if s <= start < e) for start, _ in spans.values())
    assert peak <= 2, spans
    assert stored_outputs(live_instance, run_id) == [{"greetings": ["0-delta", "1-alpha", "2-charlie"], "count": "3",
                                                     "trigger": "ui"}]


def test_ui_subworkflow_steps_are_nested_nodes(live, live_instance, early_runs):
    run_id = early_runs["launch_parent"]
    run = _finished(live_instance, run_id, _server_alive(live))
    assert run.status.value == "SUCCESS", live.tail()
    assert _went_through_the_queue(live_instance, run_id)
    keys = _step_keys(live_instance, run_id)
    assert "child.greet" in keys and "after" in keys
    assert stored_outputs(live_instance, run_id) == [{"after": "parent got hello ui", "child": {"said": "hello ui"}}]


def test_ui_approval_gate_pauses_and_an_approval_from_another_process_completes_it(live, live_instance, early_runs):
    run_id = early_runs["launch_gate"]
    _approve_from_another_process(live_instance, _live_env(live), run_id, _server_alive(live))
    run = _finished(live_instance, run_id, _server_alive(live))
    assert run.status.value == "SUCCESS", live.tail()
    assert stored_outputs(live_instance, run_id) == [{"decision": "approved", "deploy": "deployed after alice"}]
    messages = [r.dagster_event.message for r in _events(live_instance, run_id, "ENGINE_EVENT")]
    assert any("approved by alice: go" in m for m in messages), messages


def test_ui_compensation_newest_first_then_on_failure_and_the_run_fails(live, live_instance, early_runs):
    log = live.root / "ui_saga.log"
    run_id = early_runs["launch_saga"]
    run = _finished(live_instance, run_id, _server_alive(live))
    assert run.status.value == "FAILURE"
    assert _went_through_the_queue(live_instance, run_id)
    assert log.read_text().splitlines() == SAGA_LINES
    assert _failure_handler_kinds(live_instance, run_id) == ["started", "compensate", "compensate", "on_failure",
                                                             "finished"]


def test_ui_two_runs_contending_for_a_pool_of_one_never_overlap(live, live_instance):
    stamps = live.root / "ui_pool"
    stamps.mkdir()
    run_ids = {tag: _launch(live, "launch_locked", {"dir": str(stamps), "tag": tag}) for tag in "ab"}
    alive = _server_alive(live)

    def held(run_id: str, started_too) -> None:
        # Launched through the instance, a run whose pool is full may stay in the run queue
        # (Dagster's run queue blocks op-concurrency-limited runs) or start and wait at the
        # step. A run queued after both that has finished proves the daemon looked at the
        # second one while the first held the pool.
        witness = _launch(live, "launch_child", {"who": "witness"})
        assert _finished(live_instance, witness, alive).status.value == "SUCCESS"
        status = live_instance.get_run_by_id(run_id).status.value
        if status != "QUEUED":
            _wait("the step to report the pool", lambda: _pool_blocked(live_instance, run_id) or started_too(),
                  timeout=60, alive=alive)

    _pool_run_never_overlaps(live_instance, stamps, run_ids, alive, held)


def test_ui_concurrency_limit_queues_the_same_key_and_lets_another_key_run(live, live_instance):
    from dagster import DagsterRunStatus

    stamps = live.root / "ui_limit"
    stamps.mkdir()
    alive = _server_alive(live)

    def launch(tag: str, target: str) -> str:
        return _launch(live, "launch_limited", {"dir": str(stamps), "tag": tag, "target": target})

    first = launch("a", "staging")
    _wait("run a to start its step", lambda: (stamps / "a.start").exists(), alive=alive)
    same_key = launch("b", "staging")
    other_key = launch("c", "production")
    # c was queued after b: had the limit not held b back, the daemon would have dequeued b first
    _wait("run c (another key) to start its step", lambda: (stamps / "c.start").exists(), alive=alive)
    assert live_instance.get_run_by_id(same_key).status == DagsterRunStatus.QUEUED
    assert not (stamps / "b.start").exists()
    tags = {run_id: live_instance.get_run_by_id(run_id).tags.get("yaml2dag/concurrency_1")
            for run_id in (first, same_key, other_key)}
    assert tags == {first: "launch_limited:staging", same_key: "launch_limited:staging",
                    other_key: "launch_limited:production"}
    (stamps / "c.go").touch()
    (stamps / "a.go").touch()
    _wait("run b to start once a is done", lambda: (stamps / "b.start").exists(), alive=alive)
    (stamps / "b.go").touch()
    for run_id in (first, same_key, other_key):
        assert _finished(live_instance, run_id, alive).status == DagsterRunStatus.SUCCESS, live.tail()
    assert _stamp(stamps / "b.start") >= _stamp(stamps / "a.end")
    assert _stamp(stamps / "c.start") < _stamp(stamps / "a.end")


def test_ui_terminate_stops_a_run_of_the_yaml2dag_cli(live, live_instance):
    """The UI's Terminate (GraphQL ``terminateRun``) on a run that `yaml2dag run` executes: the CLI
    process is told (SIGINT), the shell step in flight is stopped, the run ends CANCELED and the
    CLI exits; Dagster's default launcher could only log "Unable to get grpc client"."""
    from urllib.parse import urlsplit

    from dagster_graphql import DagsterGraphQLClient

    stamps = live.root / "ui_terminate"
    stamps.mkdir()
    # forked from the fork server (tests/cli_forkserver.py): a process of its own, as `yaml2dag run` is
    cli = start_cli("run", "Launch Limited", f"dir={stamps}", "tag=t", "target=terminate", env=_live_env(live),
                    cwd=live.root)

    def output() -> str:
        out, err = cli.output()
        return (out + err).decode(errors="replace")[-3000:]

    try:
        def cli_alive():
            _server_alive(live)()
            if cli.poll() is not None:
                raise AssertionError(f"yaml2dag run exited early:\n{output()}")

        _wait("the CLI run's step to start", lambda: (stamps / "t.start").exists(), alive=cli_alive)
        [run] = [r for r in live_instance.get_runs() if r.job_name == "launch_limited"
                 and r.tags.get("yaml2dag/cli_pid") == str(cli.pid) and not r.is_finished]
        address = urlsplit(live.url)
        DagsterGraphQLClient(address.hostname, port_number=address.port).terminate_run(run.run_id)
        ended = _finished(live_instance, run.run_id, _server_alive(live))
        assert ended.status.value == "CANCELED", output()
        assert cli.finish(RUN_TIMEOUT).code != 0
        assert not (stamps / "t.end").exists(), "the step went on after the run was terminated"
        messages = [r.message for r in live_instance.all_logs(run.run_id)]
        assert not any("Unable to get grpc client" in m for m in messages), messages
        assert any("is sent SIGINT" in m for m in messages), messages
    finally:
        if cli.code is None:  # not reaped yet: its process group (setsid: the pid) is still its own
            os.killpg(cli.pid, signal.SIGKILL)
            cli.finish()
