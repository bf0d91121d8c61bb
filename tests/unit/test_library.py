"""The library: finding a workflow by name (any case), job id, file path or stem."""

from __future__ import annotations

import pytest

from yaml2dag.format.errors import WorkflowNotFoundError
from yaml2dag.library.folder import Library, definitions_dir

from conftest import write


def workflow(name: str, extra: str = "") -> str:
    return f"name: {name!r}\n{extra}steps:\n  - id: a\n    tool: shell\n    parameters: {{command: echo}}\n"


@pytest.fixture
def library(tmp_path) -> Library:
    folder = tmp_path / "defs"
    write(folder, "git.yaml", workflow("Git Sync and Test"))
    write(folder, "team/weather.yml", workflow("Seattle Weather Report", "id: weather\n"))
    write(folder, "broken.yaml", "name: Broken\nsteps: [\n")
    return Library(folder)


def test_find_by_name_ignoring_case(library):
    assert library.find("git sync AND test").workflow.id == "git_sync_and_test"


def test_find_by_job_id_and_stem(library):
    assert library.find("weather").workflow.name == "Seattle Weather Report"
    assert library.find("git_sync_and_test").workflow.name == "Git Sync and Test"
    assert library.find("broken").workflow is None  # the file stem finds even an unparsable file


def test_find_by_path_inside_and_outside_the_folder(library, tmp_path):
    inside = library.find(str(library.folder / "team" / "weather.yml"))
    assert inside.workflow.name == "Seattle Weather Report"
    assert inside is library.reports()[2]  # the cached report, with the checks across files
    outside = write(tmp_path, "elsewhere.yaml", workflow("Elsewhere"))
    assert library.find(str(outside)).workflow.name == "Elsewhere"


def test_not_found_suggests_the_closest_name(library):
    with pytest.raises(WorkflowNotFoundError) as err:
        library.find("Git Sync and Tset")
    message = str(err.value)
    assert "no workflow named 'Git Sync and Tset'" in message
    assert "did you mean `Git Sync and Test`?" in message
    assert "'Seattle Weather Report'" in message


def test_missing_folder(tmp_path):
    with pytest.raises(WorkflowNotFoundError, match="does not exist"):
        Library(tmp_path / "missing").find("anything")


def test_reports_include_problems_across_files(tmp_path):
    folder = tmp_path / "defs"
    write(folder, "a.yaml", workflow("Same"))
    write(folder, "b.yaml", workflow("same"))
    report = Library(folder).report()
    assert [f.valid for f in report.files] == [True, False]
    assert report.files[1].problems[0].rule == "duplicate"


def test_definitions_dir_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("YAML2DAG_DEFINITIONS", str(tmp_path))
    assert definitions_dir() == tmp_path
    assert Library().folder == tmp_path
    monkeypatch.delenv("YAML2DAG_DEFINITIONS")
    assert str(definitions_dir()) == "definitions"
