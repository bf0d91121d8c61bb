"""Issue 14, part 1, without Dagster runs: the component's declaration file is not a workflow,
no workflow is ever mistaken for one, and ``yaml2dag.WorkflowsComponent`` loads lazily.
(`yaml2dag validate` and `list` on a component folder: tests/integration/test_dg_component.py.)"""

from __future__ import annotations

import random
import sys
import pytest

from conftest import REPO, run_process, write

from yaml2dag.format.component_files import is_component_declaration
from yaml2dag.format.loader import iter_workflow_files
from yaml2dag.format.schema import load_schema

SHIPPED = sorted([*REPO.glob("definitions/*.yaml"), *REPO.glob("yaml2dag/library/workflow_templates/*.yaml")])

DECLARATIONS = [
    "type: yaml2dag.WorkflowsComponent\n",
    "type: yaml2dag.WorkflowsComponent\n\nattributes:\n  path: .\n",
    "# a comment first\ntype: yaml2dag.WorkflowsComponent\nattributes: {path: workflows, strict: true}\n",
    "type: other.Component\n---\ntype: yaml2dag.WorkflowsComponent\n",
    "type : yaml2dag.WorkflowsComponent\n",
]


def test_a_workflow_has_no_top_level_type_key():
    """The rule that makes the skip safe: the schema's top level allows no `type` key."""
    schema = load_schema()
    assert schema["additionalProperties"] is False
    assert "type" not in schema["properties"]


@pytest.mark.parametrize("text", DECLARATIONS)
@pytest.mark.parametrize("name", ["defs.yaml", "defs.yml"])
def test_component_declarations_are_skipped(tmp_path, name, text):
    write(tmp_path, name, text)
    write(tmp_path, "hello.yaml", "name: Hello\nsteps:\n  - {id: a, tool: shell, parameters: {command: echo}}\n")
    assert is_component_declaration(tmp_path / name)
    assert [p.name for p in iter_workflow_files(tmp_path)] == ["hello.yaml"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
@pytest.mark.parametrize("name", ["defs.yaml", "defs.yml"])
def test_no_shipped_workflow_named_defs_yaml_is_skipped(tmp_path, path, name):
    """Property over every shipped workflow: saved as defs.yaml it is still a workflow."""
    target = tmp_path / name
    target.write_text(path.read_text())
    assert not is_component_declaration(target)
    assert list(iter_workflow_files(tmp_path)) == [target]


def test_random_workflow_texts_named_defs_yaml_are_never_skipped(tmp_path):
    """Property: whatever the top-level keys of a workflow (indented or not, any order, with
    `type:` inside triggers or parameters), a file named defs.yaml with them is kept."""
    keys = [k for k in load_schema()["properties"] if k != "type"]
    fragments = {k: f"{k}: x\n" for k in keys}
    fragments["triggers"] = "triggers:\n- type: manual\n  # type: not a key\n"
    fragments["parameters"] = "parameters:\n  kind: {type: string}\n  type_: 1\n"
    rng = random.Random(14)
    target = tmp_path / "defs.yaml"
    for _ in range(300):
        chosen = rng.sample(keys, rng.randint(1, len(keys)))
        text = "".join(fragments[k] for k in chosen) + "# type: commented\n"
        target.write_text(text)
        assert not is_component_declaration(target), text


@pytest.mark.parametrize("name", ["workflow.yaml", "defs.json", "my_defs.yaml", "defs.yaml.bak"])
def test_only_the_reserved_names_are_declarations(tmp_path, name):
    write(tmp_path, name, "type: yaml2dag.WorkflowsComponent\n")
    assert not is_component_declaration(tmp_path / name)


def test_unreadable_or_missing_files_are_not_declarations(tmp_path):
    assert not is_component_declaration(tmp_path / "defs.yaml")
    (tmp_path / "defs.yaml").mkdir()
    assert not is_component_declaration(tmp_path / "defs.yaml")


def test_workflows_component_is_lazy_and_listed_by_dir():
    """`import yaml2dag` stays Dagster-free; dir() lists the component for dg's registry walk;
    the attribute is a Dagster Component with a scaffolder."""
    code = (
        "import sys, yaml2dag\n"
        "assert 'WorkflowsComponent' in dir(yaml2dag)\n"
        "print(sum(1 for m in sys.modules if m == 'dagster' or m.startswith('dagster.')))\n"
        "import dagster as dg\n"
        "from yaml2dag import WorkflowsComponent\n"
        "from dagster.components.scaffold.scaffold import has_scaffolder\n"
        "print(issubclass(WorkflowsComponent, dg.Component), has_scaffolder(WorkflowsComponent))\n"
    )
    done = run_process([sys.executable, "-c", code], cwd=REPO)
    assert done.code == 0, done.stderr
    assert done.stdout.split("\n")[:2] == ["0", "True True"]


def test_registry_entry_point_names_the_package(tmp_path):
    """pyproject.toml registers `yaml2dag` in the group dg reads (dagster_dg_cli.registry_modules),
    and the installed metadata has it (reinstall after editing pyproject.toml). Read from a
    fresh interpreter outside the repository, as `dg` does: a stale ``yaml2dag.egg-info`` in
    the checkout would shadow the installed metadata for a process started in it."""
    import tomllib

    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert project["project"]["entry-points"]["dagster_dg_cli.registry_modules"] == {"yaml2dag": "yaml2dag"}
    code = ("from importlib.metadata import entry_points\n"
            "print({e.name: e.value for e in entry_points(group='dagster_dg_cli.registry_modules')}.get('yaml2dag'))")
    done = run_process([sys.executable, "-c", code], cwd=tmp_path)
    assert done.stdout.strip() == "yaml2dag", done.stderr
