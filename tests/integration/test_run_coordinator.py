"""The shipped run coordinator (``yaml2dag.runs.run_coordinator``): a run launched through the
instance is queued in the concurrency bucket of its own parameters, not of the parameter
defaults (issue #3, "Locks and run limits"). End to end through the webserver and the UI
launchpad in ``test_live.py``; here the tag rendering and the instance configuration."""

from __future__ import annotations

import json
import shutil

from dagster import DagsterInstance

from yaml2dag.compiler import job_from_file
from yaml2dag.compiler.job import TAG_CONCURRENCY_KEY, rendered_concurrency_tags
from yaml2dag.runs.run_coordinator import WorkflowRunCoordinator

from conftest import REPO, write

WORKFLOW = """
name: Deploy Locked
parameters:
  environment: {type: string, default: staging, enum: [staging, production]}
  region: {type: string, default: eu}
  token: {type: secret}
concurrency: {limit: 1, key: "{{ environment }}-{{ region }}"}
steps:
  - {id: hello, tool: shell, parameters: {command: "echo {{ environment }}"}}
"""


def test_the_shipped_instance_uses_the_coordinator_with_the_run_queue_rules(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(REPO / "dagster_home" / "dagster.yaml", home / "dagster.yaml")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    with DagsterInstance.get() as instance:
        assert isinstance(instance.run_coordinator, WorkflowRunCoordinator)
        limits = instance.get_concurrency_config().run_queue_config.tag_concurrency_limits
    rule = next(r for r in limits if r["key"] == "yaml2dag/concurrency_1")
    assert rule["limit"] == 1 and rule["value"] == {"applyLimitPerUniqueValue": True}


def test_the_key_is_rendered_from_the_run_config_over_the_defaults(tmp_path, monkeypatch):
    monkeypatch.setenv("TOKEN", "s3cr3t-value")  # a secret parameter's value never becomes a tag
    job = job_from_file(str(write(tmp_path, "deploy.yaml", WORKFLOW)))
    tags = dict(job.tags)
    assert tags["yaml2dag/concurrency_1"] == "deploy_locked:staging-eu"
    spec = json.loads(tags[TAG_CONCURRENCY_KEY])
    assert spec == {"key": "{{ environment }}-{{ region }}", "defaults": {"environment": "staging", "region": "eu"}}
    assert not any("s3cr3t-value" in value for value in tags.values())

    assert rendered_concurrency_tags(tags, {"environment": "production"}) == {
        "yaml2dag/concurrency_1": "deploy_locked:production-eu"}
    assert rendered_concurrency_tags(tags, {"region": "us", "environment": "staging"}) == {
        "yaml2dag/concurrency_1": "deploy_locked:staging-us"}
    assert rendered_concurrency_tags(tags, {}) == {"yaml2dag/concurrency_1": "deploy_locked:staging-eu"}


def test_runs_without_a_templated_key_are_left_alone(tmp_path):
    job = job_from_file(str(write(tmp_path, "plain.yaml", """
        name: Plain Limited
        concurrency: {limit: 2}
        steps:
          - {id: hello, tool: shell, parameters: {command: echo hi}}
    """)))
    assert dict(job.tags)["yaml2dag/concurrency_2"] == "plain_limited"
    assert TAG_CONCURRENCY_KEY not in job.tags
    assert rendered_concurrency_tags(dict(job.tags), {"x": 1}) == {}
    broken = {"yaml2dag/concurrency_2": "plain_limited", TAG_CONCURRENCY_KEY: "not json"}
    assert rendered_concurrency_tags(broken, {}) == {}
