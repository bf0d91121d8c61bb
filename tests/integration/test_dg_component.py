"""Issue 14, part 1: ``yaml2dag.WorkflowsComponent`` through the real ``dg`` CLI (dagster-dg-cli 1.13).

The ``dg`` project is built by hand in a temporary folder, the layout ``create-dagster project``
makes minus its ``uv`` environment (``create-dagster`` needs ``uv`` and the network to create
the project's virtual environment; here the project runs in the test's own environment, where
yaml2dag is installed): a ``pyproject.toml`` with ``[tool.dg] directory_type = "project"`` and
``[tool.dg.project] root_module``, the package beside it (flat layout: ``dg`` runs the code
location with the project folder as working directory), ``definitions.py`` calling
``dagster.load_from_defs_folder`` and an empty ``defs`` package. Every ``dg`` command runs as a
subprocess from the project folder, on a temporary DAGSTER_HOME, without YAML2DAG_* variables.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import make_dagster_home, run_process, stored_outputs, write

pytestmark = pytest.mark.slow

DG = str(Path(sys.executable).with_name("dg"))
PACKAGE = "wfproj"

PYPROJECT = f"""
[project]
name = "{PACKAGE}"
version = "0.1.0"
requires-python = ">=3.10"
dependencies = ["yaml2dag"]

[tool.dg]
directory_type = "project"

[tool.dg.project]
root_module = "{PACKAGE}"
"""

DEFINITIONS_PY = """
from pathlib import Path

import dagster as dg


@dg.definitions
def defs():
    return dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
"""

#: A workflow with a file trigger and a workflow trigger: the component's sensors.
WATCHER = """
name: Inbox Watcher
triggers:
  - type: file
    path: "{inbox}"
    pattern: "*.csv"
    interval: 30
    parameters: {{path: "{{{{ trigger.path }}}}"}}
  - type: workflow
    workflow: "Hello from team"
    status: success
parameters:
  path: ""
steps:
  - id: show
    tool: shell
    parameters: {{command: "echo {{{{ path }}}}"}}
"""

#: Runs in separate processes: each step process must rebuild the job from the dg project.
MULTIPROCESS = """
name: Two Processes
executor: {type: multiprocess}
steps:
  - id: one
    tool: shell
    parameters: {command: "echo one"}
  - id: two
    tool: shell
    parameters: {command: "echo {{ one.output }} two"}
outputs:
  joined: "{{ two.output }}"
"""

BROKEN = """
name: Broken One
steps:
  - id: a
    tool: shell
    retry: {max_attempts: zero}
"""


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A dg project (see the module docstring) and the environment its commands run with."""
    root = tmp_path_factory.mktemp("dg") / "proj"
    write(root, "pyproject.toml", PYPROJECT)
    write(root, f"{PACKAGE}/__init__.py", "")
    write(root, f"{PACKAGE}/definitions.py", DEFINITIONS_PY)
    write(root, f"{PACKAGE}/defs/__init__.py", "")
    home = make_dagster_home(root.parent / "dagster_home")
    with pytest.MonkeyPatch.context() as mp:
        for name in list(os.environ):
            if name.startswith("YAML2DAG_"):
                mp.delenv(name)
        mp.setenv("DAGSTER_HOME", str(home))
        mp.setenv("COLUMNS", "200")
        yield root


def dg(project: Path, *args: str):
    """``dg ARGS`` from the project folder; returns the completed process."""
    return run_process([DG, *args], cwd=project)


def component_dir(project: Path, name: str) -> Path:
    return project / PACKAGE / "defs" / name


def listed(project: Path) -> dict:
    done = dg(project, "list", "defs", "--json")
    assert done.code == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def names(defs: dict, kind: str) -> set[str]:
    return {item["name"] for item in defs[kind]}


def expected(folder: Path) -> dict[str, set[str]]:
    """Job, schedule and sensor names of ``yaml2dag.build_definitions(folder)`` (the code
    location's own builder), for comparison with what ``dg`` lists."""
    from yaml2dag import build_definitions

    built = build_definitions(folder, strict=False)
    return {"jobs": {j.name for j in built.jobs}, "schedules": {s.name for s in built.schedules},
            "sensors": {s.name for s in built.sensors}}


def test_dg_list_components_shows_the_workflows_component(project):
    done = dg(project, "list", "components", "--json")
    assert done.code == 0, done.stderr
    keys = {item["key"]: item["summary"] for item in json.loads(done.stdout)["items"]}
    assert "yaml2dag.WorkflowsComponent" in keys
    assert "workflow" in keys["yaml2dag.WorkflowsComponent"].lower()


def test_scaffold_check_list_and_launch(project, tmp_path):
    done = dg(project, "scaffold", "defs", "yaml2dag.WorkflowsComponent", "team")
    assert done.code == 0, done.stdout + done.stderr
    folder = component_dir(project, "team")
    declaration = (folder / "defs.yaml").read_text()
    assert declaration.startswith("type: yaml2dag.WorkflowsComponent\n")
    assert "path: ." in declaration
    example = folder / "hello.yaml"
    assert example.is_file()
    # the example is a valid workflow by the linter, run from the component's folder
    lint = run_process([sys.executable, "-m", "yaml2dag", "validate"], cwd=project,
                       env={"YAML2DAG_DEFINITIONS": str(folder)})
    assert lint.code == 0, lint.stdout + lint.stderr
    assert "1 workflow file(s) valid" in lint.stdout  # defs.yaml is not taken for a workflow

    inbox = tmp_path / "inbox"
    inbox.mkdir()
    write(folder, "watch/inbox.yaml", WATCHER.format(inbox=inbox))
    write(folder, "two.yaml", MULTIPROCESS)

    check = dg(project, "check", "defs")
    assert check.code == 0, check.stdout + check.stderr
    assert "All definitions loaded successfully" in check.stdout + check.stderr

    defs = listed(project)
    want = expected(folder)
    assert names(defs, "jobs") == want["jobs"] == {"hello_from_team", "inbox_watcher", "two_processes"}
    assert names(defs, "schedules") == want["schedules"] == {"hello_from_team_schedule"}
    assert names(defs, "sensors") == want["sensors"]
    assert len(want["sensors"]) == 2  # the file sensor and the run-status sensor
    # the job description is the workflow's (name, description, version)
    hello = next(j for j in defs["jobs"] if j["name"] == "hello_from_team")
    assert "Greets someone" in hello["description"]

    from dagster import DagsterInstance, DagsterRunStatus

    for job, outputs in (("hello_from_team", {"greeting": "Hello, world", "letters": "12"}),
                         ("two_processes", {"joined": "one two"})):
        run = dg(project, "launch", "--job", job)
        assert run.code == 0, run.stdout[-3000:] + run.stderr[-3000:]
        instance = DagsterInstance.get()
        try:
            records = instance.get_runs(filters=None)
            mine = [r for r in records if r.job_name == job]
            assert len(mine) == 1 and mine[0].status == DagsterRunStatus.SUCCESS
            assert stored_outputs(instance, mine[0].run_id) == [outputs]
        finally:
            instance.dispose()


def test_broken_file_is_a_stand_in_job_unless_strict(project):
    done = dg(project, "scaffold", "defs", "yaml2dag.WorkflowsComponent", "ops")
    assert done.code == 0, done.stdout + done.stderr
    folder = component_dir(project, "ops")
    broken = write(folder, "broken.yaml", BROKEN)

    check = dg(project, "check", "defs")
    assert check.code == 0, check.stdout + check.stderr
    defs = listed(project)
    stand_in = next(j for j in defs["jobs"] if j["name"] == "broken_one")
    assert stand_in["description"].startswith("INVALID WORKFLOW FILE")
    assert f"{broken}:5:27: steps[0].retry.max_attempts" in stand_in["description"]
    assert "hello_from_ops" in names(defs, "jobs")  # the valid neighbour still loads

    launched = dg(project, "launch", "--job", "broken_one")
    assert launched.code != 0
    assert "is not a valid workflow" in launched.stdout + launched.stderr

    declaration = folder / "defs.yaml"
    original = declaration.read_text()
    try:
        declaration.write_text(original.replace("# strict: false", "strict: true"))
        strict = dg(project, "check", "defs")
        assert strict.code != 0
        assert f"{broken}:5:27: steps[0].retry.max_attempts: expected an integer" in strict.stdout + strict.stderr
        # unset `strict` follows YAML2DAG_STRICT, as the module code location does
        declaration.write_text(original)
        env_strict = run_process([DG, "check", "defs"], cwd=project, env={"YAML2DAG_STRICT": "1"})
        assert env_strict.code != 0
        assert f"{broken}:5:27:" in env_strict.stdout + env_strict.stderr
    finally:
        declaration.write_text(original)
        broken.unlink()
    assert dg(project, "check", "defs").code == 0


def test_relative_path_starts_at_the_defs_yaml_folder_and_typos_are_named(project):
    done = dg(project, "scaffold", "defs", "yaml2dag.WorkflowsComponent", "shared")
    assert done.code == 0, done.stdout + done.stderr
    folder = component_dir(project, "shared")
    elsewhere = project / "workflows"
    write(elsewhere, "nightly.yaml", """
        name: Nightly Elsewhere
        steps:
          - id: hi
            tool: shell
            parameters: {command: "echo hi"}
    """)
    (folder / "hello.yaml").unlink()
    declaration = folder / "defs.yaml"
    declaration.write_text(textwrap.dedent("""\
        type: yaml2dag.WorkflowsComponent
        attributes:
          path: ../../../workflows
    """))
    try:
        defs = listed(project)
        assert "nightly_elsewhere" in names(defs, "jobs")
        declaration.write_text(declaration.read_text().replace("../../../workflows", "../../../workflowz"))
        typo = dg(project, "check", "defs")
        assert typo.code != 0
        assert "workflowz does not exist" in typo.stdout + typo.stderr
    finally:
        declaration.unlink()
        folder.rmdir()


def test_python_format_scaffold_and_attribute_checks(project):
    done = dg(project, "scaffold", "defs", "yaml2dag.WorkflowsComponent", "pyform", "--format", "python")
    assert done.code == 0, done.stdout + done.stderr
    folder = component_dir(project, "pyform")
    assert (folder / "component.py").is_file() and (folder / "hello.yaml").is_file()
    assert "hello_from_pyform" in names(listed(project), "jobs")

    # `dg check yaml` checks defs.yaml against the component's attribute schema; values are
    # checked when the component loads (`dg check defs`)
    done = dg(project, "scaffold", "defs", "yaml2dag.WorkflowsComponent", "typed")
    assert done.code == 0, done.stdout + done.stderr
    declaration = component_dir(project, "typed") / "defs.yaml"
    original = declaration.read_text()
    try:
        assert dg(project, "check", "yaml").code == 0
        declaration.write_text(original.replace("  path: .", "  paht: ."))
        bad = dg(project, "check", "yaml")
        assert bad.code != 0
        assert "paht" in bad.stdout + bad.stderr
        declaration.write_text(original.replace("# strict: false", "strict: maybe"))
        bad = dg(project, "check", "defs")
        assert bad.code != 0
        assert "strict" in bad.stdout + bad.stderr
    finally:
        declaration.write_text(original)
    assert dg(project, "check", "yaml").code == 0


# --------------------------------------------------------------------------- validate and list on a component folder (from tests/unit/test_dg_component_files.py)

COMPONENT_DECLARATION = "type: yaml2dag.WorkflowsComponent\n\nattributes:\n  path: .\n"


def test_validate_and_list_on_a_component_folder_ignore_its_declaration(tmp_path):
    """`yaml2dag validate` / `list` pointed at a scaffolded component folder see its workflows
    only, with the defaults a user has (relative folder, cwd = the project)."""
    folder = tmp_path / "proj" / "defs" / "team"
    write(folder, "defs.yaml", COMPONENT_DECLARATION)  # DECLARATIONS[1] of the unit test
    write(folder, "hello.yaml", "name: Hello\nsteps:\n  - {id: a, tool: shell, parameters: {command: echo hi}}\n")
    env = {"YAML2DAG_DEFINITIONS": "defs/team"}
    done = run_process([sys.executable, "-m", "yaml2dag", "validate"], cwd=tmp_path / "proj", env=env)
    assert done.code == 0, done.stdout + done.stderr
    assert "1 workflow file(s) valid" in done.stdout
    done = run_process([sys.executable, "-m", "yaml2dag", "list", "--no-runs", "--format", "json"], cwd=tmp_path / "proj", env=env)
    assert done.code == 0, done.stdout + done.stderr
    assert '"Hello"' in done.stdout and "defs.yaml" not in done.stdout
