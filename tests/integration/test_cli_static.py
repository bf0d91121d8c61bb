"""The CLI commands that never run anything: validate, schema, list, show, run --dry-run.

Every test runs ``python -m yaml2dag`` in a fresh interpreter, as a user does (``run_cli(fresh=True)``), against a
temporary definitions folder and a temporary DAGSTER_HOME.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from conftest import REPO, make_dagster_home, run_cli, run_cli_counting_dagster, write

pytestmark = pytest.mark.slow

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<warning>warning: )?"
                  r"(?P<path>[^ ]+): (?P<message>.+) \[(?P<rule>[a-z-]+)\]$")

DEPLOY = """
name: "Deploy Pipeline"
version: "1.2.0"
description: "Pull, test, build and deploy a branch"
tags: [deployment, ci/cd]
parameters:
  branch:      {type: string, default: main}
  environment: {type: string, default: staging, enum: [staging, production]}
  max_retries: {type: integer, default: 3, minimum: 0}
  dry_run:     false
triggers:
  - type: schedule
    cron: "30 6 * * 1-5"
    timezone: "Europe/Berlin"
defaults:
  timeout: 10m
steps:
  - id: pull
    tool: shell
    parameters: {command: "git pull origin {{ branch }}"}
  - parallel:
      - id: unit_tests
        tool: shell
        parameters: {command: "pytest -q"}
        on_error: continue
      - id: lint
        tool: shell
        timeout: 90s
        parameters: {command: "ruff check ."}
    id: checks
    max_parallel: 2
  - id: deploy
    when: "{{ unit_tests.succeeded and environment == 'production' }}"
    tool: shell
    parameters: {command: "./deploy.sh {{ environment }}"}
    retry: {max_attempts: 4, backoff: exponential, delay: 5}
outputs:
  deployed: "{{ deploy.succeeded }}"
"""

BROKEN = """
name: Broken Flow
steps:
  - id: build
    tool: shel
    parameters: {command: "make"}
  - id: test
    dependson: [build]
    tool: shell
    parameters: {command: "make test"}
"""


WEATHER = """
name: "Seattle Weather Report"
description: "Yearly rain summary"
tags: [data, example]
steps:
  - id: load
    tool: python
    parameters: {callable: "weather_steps:load"}
"""

GIT = """
name: "Git Sync and Test"
description: "Clone, pull and test"
tags: [git, example]
steps:
  - id: pull
    tool: shell
    parameters: {args: [git, pull]}
"""


@pytest.fixture
def folder(tmp_path) -> Path:
    defs = tmp_path / "defs"
    write(defs, "deploy.yaml", DEPLOY)
    write(defs, "weather/seattle.yaml", WEATHER)
    write(defs, "git_sync.yml", GIT)
    write(defs, "_drafts/ignored.yaml", "not: [a workflow")
    return defs


@pytest.fixture
def home(tmp_path) -> Path:
    return make_dagster_home(tmp_path / "dagster_home", storage=False)  # the dry-run tests check it stays empty


@pytest.fixture
def cli(folder, home):
    env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "80"}

    def run(*args: str, **kwargs):
        return run_cli(*args, env=env, fresh=True, **kwargs)  # the linter path as a user starts it

    return run


# --------------------------------------------------------------------------- validate


def test_validate_defaults_to_the_definitions_folder_and_exits_0(cli, folder):
    done = cli("validate")
    assert done.code == 0, done.stdout + done.stderr
    assert done.stdout.strip().splitlines()[-1] == "✓ 3 workflow file(s) valid"


def test_validate_reports_every_problem_as_file_line_column_path_message_rule(cli, folder):
    broken = write(folder, "broken.yaml", BROKEN)
    done = cli("validate")
    assert done.code == 1
    lines = done.stdout.strip().splitlines()
    problems = [LINE.match(line) for line in lines[:-1]]
    assert all(problems), lines
    assert [(m["file"], int(m["line"]), int(m["column"]), m["path"], m["rule"]) for m in problems] == [
        (str(broken), 4, 11, "steps[0].tool", "tool"),
        (str(broken), 7, 5, "steps[1].dependson", "schema"),
    ]
    assert problems[0]["message"].startswith("unknown tool `shel`; did you mean `shell`?")
    assert problems[1]["message"] == "unknown key `dependson`; did you mean `depends_on`?"
    assert lines[-1] == "✗ 1 of 4 workflow file(s) invalid: 2 error(s), 0 warning(s)"


def test_validate_only_the_given_file(cli, folder):
    assert cli("validate", str(folder / "deploy.yaml")).code == 0
    broken = write(folder.parent, "single.yaml", BROKEN)
    assert cli("validate", str(broken)).code == 1


def test_validate_warnings_do_not_fail(cli, tmp_path):
    path = write(tmp_path, "raw.yaml", """
        name: Raw
        parameters:
          flags: "-la"
        steps:
          - id: a
            tool: shell
            parameters: {command: "ls {{ flags | raw }}"}
    """)
    done = cli("validate", str(path))
    assert done.code == 0
    match = LINE.match(done.stdout.splitlines()[0])
    assert match and match["warning"] and match["rule"] == "raw" and int(match["line"]) == 7
    assert "1 warning(s)" in done.stdout


@pytest.mark.parametrize("args", [("validate", "/nonexistent/path.yaml"), ("validate", "--format", "xml"),
                                  ("validate", "--nope")])
def test_validate_usage_errors_exit_2(cli, args):
    done = cli(*args)
    assert done.code == 2
    assert "Error:" in done.stderr and done.stdout == ""


def test_validate_without_paths_and_without_a_definitions_folder_exits_2(tmp_path):
    done = run_cli("validate", fresh=True, env={"YAML2DAG_DEFINITIONS": str(tmp_path / "missing")})
    assert done.code == 2
    assert "does not exist" in done.stderr


def test_validate_json_contract(cli, folder):
    broken = write(folder, "broken.yaml", BROKEN)
    done = cli("validate", "--format", "json")
    assert done.code == 1
    data = json.loads(done.stdout)
    assert set(data) == {"valid", "workflows", "errors", "warnings"}
    assert data["valid"] is False
    assert isinstance(data["workflows"], list) and len(data["workflows"]) == 4
    assert {w["file"]: w["valid"] for w in data["workflows"]}[str(broken)] is False
    assert all(set(w) >= {"file", "name", "id", "valid"} for w in data["workflows"])
    assert [(e["file"], e["line"], e["column"], e["path"]) for e in data["errors"]] == [
        (str(broken), 4, 11, "steps[0].tool"), (str(broken), 7, 5, "steps[1].dependson")]
    for error in data["errors"]:
        assert {"file", "line", "column", "path", "message"} <= set(error)
        assert isinstance(error["line"], int) and isinstance(error["column"], int)
        assert error["severity"] == "error"
    assert data["warnings"] == []


def test_validate_json_when_valid(cli):
    done = cli("validate", "--format", "json")
    assert done.code == 0
    data = json.loads(done.stdout)
    assert data["valid"] is True and data["errors"] == []
    assert sorted(w["name"] for w in data["workflows"]) == ["Deploy Pipeline", "Git Sync and Test",
                                                            "Seattle Weather Report"]


def test_the_shipped_definitions_are_valid():
    done = run_cli("validate", str(REPO / "definitions"), "--format", "json", fresh=True)
    assert done.code == 0, done.stdout
    data = json.loads(done.stdout)
    assert data["valid"] is True and len(data["workflows"]) >= 2


# --------------------------------------------------------------------------- schema


def test_schema_is_a_valid_json_schema_and_the_shipped_examples_match_it(cli):
    done = cli("schema")
    assert done.code == 0
    schema = json.loads(done.stdout)
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    validator = Draft202012Validator(schema)
    examples = sorted((REPO / "definitions").glob("*.yaml"))
    assert len(examples) >= 2
    for path in examples:
        errors = [e.message for e in validator.iter_errors(yaml.safe_load(path.read_text()))]
        assert errors == [], f"{path.name}: {errors}"
    assert not validator.is_valid(yaml.safe_load(BROKEN))  # `dependson` is an unknown key
    assert not validator.is_valid({"name": "x"})           # `steps` is required


# --------------------------------------------------------------------------- list


def test_list_text_shows_full_names_and_job_ids(cli):
    done = cli("list")
    assert done.code == 0
    lines = done.stdout.splitlines()
    assert lines[0].split()[:3] == ["Name", "Job", "Steps"]
    for name, job in (("Deploy Pipeline", "deploy_pipeline"), ("Git Sync and Test", "git_sync_and_test"),
                      ("Seattle Weather Report", "seattle_weather_report")):
        row = next(line for line in lines if line.startswith(name))
        assert job in row
    assert all(len(line) <= 80 for line in lines)


def test_list_leaves_the_description_out_rather_than_breaking_words_on_a_narrow_terminal(folder, home):
    def listing(columns: int) -> list[str]:
        env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(home), "NO_COLOR": "1",
               "COLUMNS": str(columns)}
        done = run_cli("list", env=env, fresh=True)
        assert done.code == 0, done.stderr
        return done.stdout.splitlines()

    narrow = listing(60)
    assert "Description" not in narrow[0] and all(len(line) <= 60 for line in narrow)
    wide = listing(200)
    assert wide[0].split()[-1] == "Description"
    # every word of each description is whole on some line (wrapped at spaces, never cut mid-word)
    descriptions = [d for d in (yaml.safe_load((folder / f).read_text()).get("description")
                                for f in ("deploy.yaml", "weather/seattle.yaml", "git_sync.yml")) if d]
    assert descriptions
    middle = listing(140)
    assert middle[0].split()[-1] == "Description"
    for text in descriptions:
        for word in text.split():
            assert any(word in line.split() for line in middle), word


def test_list_filters_by_tags_and_search(cli):
    tagged = cli("list", "--tags", "deployment", "--format", "json")
    assert [w["name"] for w in json.loads(tagged.stdout)["workflows"]] == ["Deploy Pipeline"]
    both = cli("list", "--tags", "example,data", "--format", "json")
    assert [w["name"] for w in json.loads(both.stdout)["workflows"]] == ["Seattle Weather Report"]
    search = cli("list", "--search", "SEATTLE")
    assert "Seattle Weather Report" in search.stdout and "Deploy Pipeline" not in search.stdout
    none = cli("list", "--search", "no such thing")
    assert none.code == 0 and none.stdout.strip() == "no workflows match"


def test_list_json(cli, folder):
    done = cli("list", "--format", "json")
    assert done.code == 0
    data = json.loads(done.stdout)
    assert data["definitions"] == str(folder)
    deploy = next(w for w in data["workflows"] if w["name"] == "Deploy Pipeline")
    assert deploy["id"] == "deploy_pipeline" and deploy["steps"] == 4 and deploy["valid"] is True
    assert deploy["tags"] == ["deployment", "ci/cd"]
    (schedule,) = deploy["schedules"]
    assert schedule["description"] == "At 06:30, Monday through Friday (Europe/Berlin)"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT06:30:00\+0[12]:00", schedule["next_run"])


def test_list_marks_invalid_workflows_and_survives_markup_in_names(cli, folder):
    write(folder, "broken.yaml", BROKEN)
    write(folder, "odd.yaml", 'name: "ETL [daily]"\ndescription: "uses [/] and [bold]"\nsteps:\n'
                              '  - {id: a, tool: shell, parameters: {command: echo}}\n')
    done = cli("list")
    assert done.code == 0, done.stderr
    assert "✗ Broken Flow (2 error(s))" in done.stdout
    assert "ETL [daily]" in done.stdout


def test_list_without_a_folder_exits_2(tmp_path):
    done = run_cli("list", fresh=True, env={"YAML2DAG_DEFINITIONS": str(tmp_path / "missing")})
    assert done.code == 2 and "does not exist" in done.stderr


# --------------------------------------------------------------------------- show


@pytest.mark.parametrize("ref", ["deploy pipeline", "DEPLOY PIPELINE", "deploy_pipeline", "{folder}/deploy.yaml"])
def test_show_finds_by_name_job_id_and_path(cli, folder, ref):
    done = cli("show", ref.format(folder=folder))
    assert done.code == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == f"Deploy Pipeline  {folder / 'deploy.yaml'}"
    assert "job deploy_pipeline · version 1.2.0" in done.stdout
    assert "schedule: At 06:30, Monday through Friday (Europe/Berlin), next " in done.stdout
    assert "deploy" in done.stdout and "retry 4 attempts (exponential, waits 5s, 10s, 20s)" in done.stdout


def test_show_unknown_name_exits_2_with_did_you_mean(cli):
    done = cli("show", "Deploy Pipline")
    assert done.code == 2
    assert done.stdout == ""
    assert "did you mean `Deploy Pipeline`?" in done.stderr


def test_show_json_has_native_parameter_defaults_and_the_plan(cli):
    done = cli("show", "deploy_pipeline", "--format", "json")
    assert done.code == 0
    data = json.loads(done.stdout)
    params = {p["name"]: p for p in data["parameters"]}
    assert params["max_retries"] == {"name": "max_retries", "type": "integer", "required": False, "default": 3,
                                     "description": "", "minimum": 0}
    assert params["dry_run"]["default"] is False
    assert params["environment"]["enum"] == ["staging", "production"]
    assert [s["id"] for s in data["plan"]["steps"]] == ["pull", "unit_tests", "lint", "deploy"]
    assert data["problems"] == [] and data["valid"] is True


def test_show_of_an_invalid_workflow_exits_1_with_its_problems(cli, folder):
    write(folder, "broken.yaml", BROKEN)
    done = cli("show", "broken flow")
    assert done.code == 1
    assert any(LINE.match(line) and "unknown tool `shel`" in line for line in done.stdout.splitlines())


# --------------------------------------------------------------------------- run --dry-run


def test_dry_run_text_prints_the_plan_and_runs_nothing(cli, home):
    done = cli("run", "Deploy Pipeline", "environment=production", "max_retries=5", "--dry-run")
    assert done.code == 0, done.stderr
    out = done.stdout
    assert out.splitlines()[0] == "Dry run: nothing will run."
    assert "Parameters: branch='main', environment='production', max_retries=5, dry_run=False" in out
    steps = re.findall(r"^\s+(\d+)\. (\w+)", out, re.M)
    assert steps == [("1", "pull"), ("2", "unit_tests"), ("3", "lint"), ("4", "deploy")]
    assert "parallel group checks (max 2)" in out
    assert "when {{ unit_tests.succeeded and environment == 'production' }}" in out
    assert "timeout 1m30s" in out and "timeout 10m" in out
    assert sorted(p.name for p in home.iterdir()) == ["dagster.yaml"]


def test_dry_run_json(cli, home):
    done = cli("run", "deploy_pipeline", "dry_run=true", "--dry-run", "--format", "json")
    assert done.code == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["dry_run"] is True and data["workflow"] == "Deploy Pipeline" and data["job"] == "deploy_pipeline"
    assert data["parameters"] == {"branch": "main", "environment": "staging", "max_retries": 3, "dry_run": True}
    steps = {s["id"]: s for s in data["steps"]}
    assert [s["id"] for s in data["steps"]] == ["pull", "unit_tests", "lint", "deploy"]
    assert steps["pull"]["after"] == [] and steps["unit_tests"]["after"] == ["pull"]
    assert steps["deploy"]["after"] == ["unit_tests", "lint"] and steps["deploy"]["reads"] == ["unit_tests"]
    assert steps["lint"]["parallel_group"] == "checks" and data["parallel_limits"] == {"checks": 2}
    assert steps["deploy"]["condition"] == "{{ unit_tests.succeeded and environment == 'production' }}"
    assert steps["deploy"]["max_attempts"] == 4 and steps["deploy"]["retry_waits_s"] == [5.0, 10.0, 20.0]
    assert steps["deploy"]["on_error"] == "retry"
    assert steps["unit_tests"]["on_error"] == "continue"
    assert (steps["lint"]["timeout_s"], steps["pull"]["timeout_s"]) == (90.0, 600.0)
    assert data["outputs"] == ["deployed"]
    assert sorted(p.name for p in home.iterdir()) == ["dagster.yaml"]


@pytest.mark.parametrize("args, phrase", [
    (("environment=prod",), "parameter `environment`: 'prod' is not one of \"staging\", \"production\""),
    (("max_retries=many",), "parameter `max_retries`: expected an integer"),
    (("max_retries=-1",), "parameter `max_retries`: -1 is less than the minimum 0"),
    (("brnch=x",), "did you mean `branch`?"),
    (("novalue",), "expected key=value"),
])
def test_dry_run_rejects_bad_parameters_with_exit_2(cli, home, args, phrase):
    done = cli("run", "Deploy Pipeline", *args, "--dry-run")
    assert done.code == 2
    assert phrase in done.stderr
    json_done = cli("run", "Deploy Pipeline", *args, "--dry-run", "--format", "json")
    assert json_done.code == 2 and phrase in json.loads(json_done.stdout)["error"]
    assert sorted(p.name for p in home.iterdir()) == ["dagster.yaml"]


def test_dry_run_of_an_invalid_workflow_exits_2_and_lists_the_errors(cli, folder):
    write(folder, "broken.yaml", BROKEN)
    done = cli("run", "Broken Flow", "--dry-run", "--format", "json")
    assert done.code == 2
    data = json.loads(done.stdout)
    assert "is not a valid workflow" in data["error"]
    assert [e["path"] for e in data["errors"]] == ["steps[0].tool", "steps[1].dependson"]


# --------------------------------------------------------------------------- no Dagster


@pytest.mark.parametrize("args, expect", [
    (("validate",), "valid"),
    (("validate", "--format", "json"), '"valid": true'),
    (("list",), "Deploy Pipeline"),
    (("list", "--format", "json"), "deploy_pipeline"),
    (("show", "deploy pipeline"), "Plan"),
    (("show", "deploy_pipeline", "--format", "json"), '"plan"'),
    (("schema",), "$schema"),
])
def test_static_commands_never_import_dagster(folder, home, args, expect):
    env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(home), "NO_COLOR": "1"}
    done = run_cli_counting_dagster(*args, env=env)
    assert "EXIT 0 DAGSTER 0" in done.stderr, done.stderr
    assert expect in done.stdout
