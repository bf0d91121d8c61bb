"""Issue 13, section 4, without a broker: ``executor: {type: celery}`` validated like every other
key, the folder-wide default (``YAML2DAG_EXECUTOR``), the Celery settings (environment, then
``$DAGSTER_HOME/celery.yaml``, never the workflow file), the retry rule for a step whose worker
was lost, and stdout capture under a Celery worker (whose sys.stdout has no file descriptor).
(`yaml2dag run` with a wrong default executor: tests/integration/test_celery_settings_cli.py.)
"""

from __future__ import annotations

import io
import itertools
import os
import random
import sys

import pytest

from conftest import REPO
from yaml2dag.format.executors import ExecutorSettingError, default_executor_type, executor_type
from yaml2dag.format.model import EXECUTOR_TYPES
from yaml2dag.format.validation import validate_text

BASE = "name: Exec\nsteps:\n  - {id: s, tool: shell, parameters: {command: 'true'}}\n"


def _problems(text: str) -> list[str]:
    return [p.format() for p in validate_text(text, "wf.yaml").errors]


def test_every_executor_type_validates_and_is_kept():
    for kind in EXECUTOR_TYPES:
        report = validate_text(BASE + f"executor: {{type: {kind}, max_parallel: 3}}\n", "wf.yaml")
        assert report.valid, [p.format() for p in report.errors]
        assert report.workflow.executor.type == kind and report.workflow.executor.explicit
        assert report.workflow.executor.max_parallel == 3
    plain = validate_text(BASE, "wf.yaml").workflow
    assert plain.executor.type == "threads" and not plain.executor.explicit


@pytest.mark.parametrize("key, value", [("broker", "'amqp://user:pw@host//'"), ("queue", "q"), ("backend", "'rpc://'"),
                                        ("password", "x"), ("typ", "celery")])
def test_broker_queue_and_other_unknown_keys_are_refused_with_their_position(key, value):
    """Broker and queue settings never come from the file: like any unknown key they are
    reported at FILE:LINE:COL."""
    problems = _problems(BASE + f"executor:\n  type: celery\n  {key}: {value}\n")
    assert any(p.startswith("wf.yaml:6:3: executor") and key in p for p in problems), problems


def test_wrong_types_and_values_under_executor_point_at_the_value():
    assert any(p.startswith("wf.yaml:5:9: executor.type") for p in _problems(BASE + "executor:\n  type: celeri\n"))
    assert any(p.startswith("wf.yaml:5:17: executor.max_parallel")
               for p in _problems(BASE + "executor:\n  max_parallel: many\n"))
    assert any(p.startswith("wf.yaml:4:11: executor") for p in _problems(BASE + "executor: celery\n"))


def test_random_executor_mappings_are_valid_exactly_when_the_schema_allows_them():
    """Property: any mapping under `executor` validates iff every key is type/max_parallel, type
    is one of the executor types and max_parallel an integer >= 1; otherwise a problem points
    into `executor` with a line and column."""
    rng = random.Random(13)
    keys = ["type", "max_parallel", "broker", "queue", "concurrency"]
    values = ["celery", "threads", "multiprocess", "in_process", "celeryy", "3", "0", "-1", "'x'", "true", "[1]"]
    for _ in range(300):
        chosen = rng.sample(keys, rng.randint(0, 3))
        pairs = {k: rng.choice(values) for k in chosen}
        text = BASE + "executor:\n" + "".join(f"  {k}: {v}\n" for k, v in pairs.items()) if pairs else BASE + "executor: {}\n"
        ok = all(k in ("type", "max_parallel") for k in pairs)
        if "type" in pairs:
            ok = ok and pairs["type"] in EXECUTOR_TYPES
        if "max_parallel" in pairs:
            ok = ok and pairs["max_parallel"].isdigit() and int(pairs["max_parallel"]) >= 1
        report = validate_text(text, "wf.yaml")
        assert report.valid == ok, (pairs, [p.format() for p in report.errors])
        if not ok:
            assert any(p.path.startswith("executor") and p.line >= 4 and p.column >= 1 for p in report.errors), pairs


def test_folder_wide_default_from_yaml2dag_executor():
    explicit = validate_text(BASE + "executor: {type: multiprocess}\n").workflow
    plain = validate_text(BASE).workflow
    assert default_executor_type({}) == "threads"
    assert default_executor_type({"YAML2DAG_EXECUTOR": " celery "}) == "celery"
    assert default_executor_type({"YAML2DAG_EXECUTOR": ""}) == "threads"
    for kind in EXECUTOR_TYPES:
        assert executor_type(plain, {"YAML2DAG_EXECUTOR": kind}) == kind
        assert executor_type(explicit, {"YAML2DAG_EXECUTOR": kind}) == "multiprocess"  # the file wins
    with pytest.raises(ExecutorSettingError) as err:
        executor_type(plain, {"YAML2DAG_EXECUTOR": "kubernetes"})
    assert str(err.value) == ("YAML2DAG_EXECUTOR: expected one of threads, in_process, multiprocess, celery, "
                              "got 'kubernetes'")


def test_the_compiled_job_gets_the_default_executor(monkeypatch, tmp_path):
    from yaml2dag.compiler.job import compile_workflow

    report = validate_text(BASE, str(tmp_path / "wf.yaml"))
    monkeypatch.setenv("YAML2DAG_EXECUTOR", "celery")
    assert compile_workflow(report.validated(), workflow_dir=str(tmp_path)).executor_def.name == "yaml2dag_celery"
    monkeypatch.delenv("YAML2DAG_EXECUTOR")
    assert compile_workflow(report.validated(), workflow_dir=str(tmp_path)).executor_def.name == "yaml2dag_threads"
    monkeypatch.setenv("YAML2DAG_EXECUTOR", "nope")
    with pytest.raises(ExecutorSettingError):
        compile_workflow(report.validated(), workflow_dir=str(tmp_path))


# --------------------------------------------------------------------------- Celery settings


def test_settings_come_from_the_environment_then_the_dagster_home(tmp_path):
    from yaml2dag.compiler.celery import celery_settings

    default = celery_settings({})
    assert default.broker == "pyamqp://guest@localhost:5672//" and default.queue == "yaml2dag"
    assert default.backend == "rpc://" and default.heartbeat == 5.0 and default.lost_after == 30.0
    (tmp_path / "celery.yaml").write_text(
        "execution:\n  config:\n    broker: {env: MY_BROKER_URL}\n    backend: 'rpc://'\n"
        "    config_source:\n      task_default_queue: from-file\n      worker_prefetch_multiplier: 1\n")
    env = {"DAGSTER_HOME": str(tmp_path), "MY_BROKER_URL": "pyamqp://u:s3cr3t@mq:5672//"}
    from_file = celery_settings(env)
    assert from_file.broker == "pyamqp://u:s3cr3t@mq:5672//" and from_file.queue == "from-file"
    assert "s3cr3t" not in from_file.safe_broker()
    over = celery_settings({**env, "YAML2DAG_CELERY_BROKER": "pyamqp://other//", "YAML2DAG_CELERY_QUEUE": "q2",
                            "YAML2DAG_CELERY_HEARTBEAT": "0.5"})
    assert (over.broker, over.queue, over.heartbeat, over.lost_after) == ("pyamqp://other//", "q2", 0.5, 3.0)
    assert celery_settings({"DAGSTER_CELERY_BROKER_HOST": "mq.internal"}).broker == "pyamqp://guest@mq.internal:5672//"


@pytest.mark.parametrize("text, expected", [
    ("execution:\n  config:\n    brokr: x\n", "not valid Celery executor config"),
    ("execution:\n  config:\n    broker: {env: UNSET_BROKER_VARIABLE}\n", "celery.yaml"),
    ("execution: [\n", "cannot be read as Celery executor config"),
])
def test_a_bad_settings_file_is_named_in_one_line(tmp_path, text, expected):
    from yaml2dag.compiler.celery import celery_settings

    (tmp_path / "celery.yaml").write_text(text)
    with pytest.raises(ExecutorSettingError) as err:
        celery_settings({"DAGSTER_HOME": str(tmp_path)})
    assert str(tmp_path / "celery.yaml") in str(err.value) and expected in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize("value", ["0", "-1", "soon", "nan", "inf", "3600"])
def test_a_wrong_heartbeat_names_the_variable(value):
    from yaml2dag.compiler.celery import celery_settings

    with pytest.raises(ExecutorSettingError) as err:
        celery_settings({"YAML2DAG_CELERY_HEARTBEAT": value})
    assert str(err.value).startswith("YAML2DAG_CELERY_HEARTBEAT: expected a number of seconds")


# --------------------------------------------------------------------------- lost workers


def test_a_lost_step_is_retried_exactly_while_its_retry_allows():
    """Property, over attempts and policies: with the op's RetryPolicy Dagster's rule and delay,
    else the step's retry.max_attempts (op tag) at once; never with retries disabled."""
    import dagster as dg

    from yaml2dag.compiler.celery import retry_after_loss
    from yaml2dag.compiler.scope import TAG_MAX_ATTEMPTS

    for attempts, done in itertools.product(range(1, 6), range(0, 7)):
        tags = {TAG_MAX_ATTEMPTS: str(attempts)} if attempts > 1 else {}
        assert retry_after_loss(None, tags, done) == ((done < attempts - 1), None)
        assert retry_after_loss(None, tags, done, disabled=True) == (False, None)
        policy = dg.RetryPolicy(max_retries=attempts - 1, delay=2, backoff=dg.Backoff.LINEAR)
        retry, wait = retry_after_loss(policy, tags, done)
        assert retry == (done < attempts - 1)
        assert wait == (policy.calculate_delay(done + 1) if retry else None)
    assert retry_after_loss(None, {TAG_MAX_ATTEMPTS: "lots"}, 0) == (False, None)


def test_steps_with_retries_carry_their_attempts_as_an_op_tag(tmp_path):
    from yaml2dag.compiler.job import compile_workflow
    from yaml2dag.compiler.scope import TAG_MAX_ATTEMPTS

    report = validate_text("""
name: Tags
steps:
  - {id: once, tool: shell, parameters: {command: 'true'}}
  - {id: thrice, tool: shell, retry: {max_attempts: 3, backoff: exponential}, parameters: {command: 'true'}}
""", str(tmp_path / "wf.yaml"))
    job = compile_workflow(report.validated(), workflow_dir=str(tmp_path))
    tags = {node.name: node.definition.tags for node in job.graph.nodes}
    assert TAG_MAX_ATTEMPTS not in tags["once"] and tags["thrice"][TAG_MAX_ATTEMPTS] == "3"


# --------------------------------------------------------------------------- capture under a worker


class _NoFileno(io.TextIOBase):
    """Like a Celery worker's sys.stdout (celery.utils.log.LoggingProxy): no fileno at all."""

    def __init__(self):
        self.written = []

    def write(self, text):
        self.written.append(text)
        return len(text)

    def __getattribute__(self, name):
        if name == "fileno":
            raise AttributeError(name)
        return super().__getattribute__(name)


def test_stdout_router_over_a_stream_without_descriptor_says_unsupported(monkeypatch):
    """The second step a Celery pool process ran failed to capture its logs: the router that the
    first python step installed over the worker's LoggingProxy raised AttributeError from
    fileno(), which Dagster's compute log capture does not expect (it handles
    io.UnsupportedOperation, as io streams raise)."""
    from dagster._core.execution.compute_logs import _fileno

    from yaml2dag.tools import capture

    proxy = _NoFileno()
    assert not hasattr(proxy, "fileno")
    router = capture._Router(proxy, "stdout")
    with pytest.raises(io.UnsupportedOperation):
        router.fileno()
    with pytest.raises(io.UnsupportedOperation):
        router.buffer.fileno()
    assert _fileno(router) is None
    router.write("passes through\n")
    assert proxy.written == ["passes through\n"]
    real = capture._Router(sys.__stdout__, "stdout")
    assert real.fileno() == sys.__stdout__.fileno()


def test_worker_app_registers_the_step_task_on_the_settings_queue(monkeypatch):
    monkeypatch.setenv("YAML2DAG_CELERY_QUEUE", "unit-queue")
    monkeypatch.setenv("YAML2DAG_CELERY_BROKER", "pyamqp://guest@127.0.0.1:1//")
    monkeypatch.delitem(sys.modules, "yaml2dag.compiler.celery_app", raising=False)
    import importlib

    from yaml2dag.compiler.celery import TASK_NAME

    module = importlib.import_module("yaml2dag.compiler.celery_app")
    assert TASK_NAME in module.app.tasks
    assert module.app.conf.task_default_queue == "unit-queue"
    assert module.app.conf.broker_url == "pyamqp://guest@127.0.0.1:1//"
    # steps print to file descriptors 1 and 2, which Dagster's compute log capture redirects
    assert module.app.conf.worker_redirect_stdouts is False
    assert os.path.isfile(REPO / "yaml2dag" / "compiler" / "celery_app.py")
