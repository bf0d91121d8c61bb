"""Issue #10, point 1: every library write command works with the folder a user has.

`yaml2dag create "My Backup" --from-template "Backup Files" -y`, run from a project folder with
YAML2DAG_DEFINITIONS unset (the folder is the relative `definitions`), wrote
`definitions/definitions/my_backup.yaml`; `schedule`, `edit` and `delete` then failed. Every
write command (create in each mode, edit, schedule, delete, rollback, import) runs here as a real
`python -m yaml2dag` subprocess, from a working directory, in each way a user names the folder:

* ``default``: no YAML2DAG_DEFINITIONS at all (the relative ``definitions``), cwd = the project;
* ``relative_env``: a relative YAML2DAG_DEFINITIONS of two parts (``lib/flows``);
* ``absolute_env``: an absolute one, from an unrelated working directory;
* ``subdirectory``: from a subdirectory of the project, with ``../../definitions``.

After each command the test asserts the exact set of files in the project (a file written
anywhere else, such as ``definitions/definitions/...``, fails it), that the path the command
printed is the file it wrote, and that the library still reads the result.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from yaml2dag.format.validation import validate_file

from conftest import make_dagster_home, run_process, write

pytestmark = pytest.mark.slow

NIGHTLY = """\
# keep this comment
name: "Nightly Sync"
version: "2.1.0"
steps:
  - id: pull
    tool: shell
    parameters: {command: "echo done"}
"""

TEAM = """\
name: "Team Flow"
version: "1.0.0"
steps:
  - id: hello
    tool: shell
    parameters: {command: "echo done"}
"""

INCOMING = """\
name: "Incoming Flow"
steps:
  - id: hello
    tool: shell
    parameters: {command: "echo incoming"}
"""

#: $EDITOR for `edit`: changes "echo done" to "echo edited" in the file it is given.
EDITOR = """\
import pathlib, sys
path = pathlib.Path(sys.argv[1])
path.write_text(path.read_text().replace("echo done", "echo edited"))
"""

#: A minimal `create --interactive` session: the NAME argument kept, one shell step, saved.
INTERACTIVE = "\n".join(["", "", "", "", "build", "", "shell", "echo b", "abort", "", "", "", "y"]) + "\n"


@dataclass
class Project:
    """A project folder as a user has it: where the command runs, its environment, and where
    the definitions folder really is."""

    root: Path
    cwd: Path
    env: dict
    folder: Path

    def cli(self, *args: str, input: str | None = None, extra_env: dict | None = None):
        return run_process([sys.executable, "-m", "yaml2dag", *args], env={**self.env, **(extra_env or {})},
                           cwd=self.cwd, input=input, timeout=120)

    def files(self) -> set[str]:
        """Every file under the project (paths relative to it), saved versions left out."""
        return {str(p.relative_to(self.root)) for p in self.root.rglob("*")
                if p.is_file() and ".versions" not in p.relative_to(self.root).parts}

    def rel(self, path: Path) -> str:
        return str(path.relative_to(self.root))


LAYOUTS = ("default", "relative_env", "absolute_env", "subdirectory")


@pytest.fixture(params=LAYOUTS)
def project(request, tmp_path, monkeypatch) -> Project:
    # the subprocess inherits os.environ: the variable must be absent, not just empty
    monkeypatch.delenv("YAML2DAG_DEFINITIONS", raising=False)
    root = tmp_path / "project"
    root.mkdir()
    home = make_dagster_home(tmp_path / "dagster_home")
    env = {"DAGSTER_HOME": str(home), "NO_COLOR": "1", "YAML2DAG_USER": "tester"}
    layout = request.param
    if layout == "default":
        folder, cwd = root / "definitions", root
    elif layout == "relative_env":
        folder, cwd = root / "lib" / "flows", root
        env["YAML2DAG_DEFINITIONS"] = "lib/flows"
    elif layout == "absolute_env":
        folder, cwd = root / "definitions", tmp_path / "elsewhere"
        env["YAML2DAG_DEFINITIONS"] = str(folder)
    else:
        folder, cwd = root / "definitions", root / "sub" / "dir"
        env["YAML2DAG_DEFINITIONS"] = os.path.join("..", "..", "definitions")
    cwd.mkdir(parents=True, exist_ok=True)
    write(folder, "nightly_sync.yaml", NIGHTLY)
    write(folder, "team/nested.yaml", TEAM)
    # inputs a user passes by a path relative to where they stand
    write(cwd, "incoming.yaml", INCOMING)
    write(cwd, "editor.py", EDITOR)
    return Project(root, cwd, env, folder)


def _printed_path(project: Project, stdout: str) -> Path:
    """The file a library command says it wrote (``✓ created X version V: PATH``), resolved
    from the command's working directory as a user's shell would."""
    line = next(line for line in stdout.splitlines() if line.startswith("✓ "))
    return (project.cwd / line.rsplit(": ", 1)[1].strip()).resolve()


def _expect_written(project: Project, done, target: Path, before: set[str], *, added: bool) -> None:
    assert done.code == 0, done.stdout + done.stderr
    assert target.is_file(), f"{target} was not written; project files: {sorted(project.files())}"
    assert _printed_path(project, done.stdout) == target.resolve(), done.stdout
    expected = before | {project.rel(target)} if added else before
    assert project.files() == expected, "files written outside the definitions folder's right place"
    assert validate_file(target).valid


def _no_nested_folder(project: Project) -> None:
    name = project.folder.name
    assert not any(p.name == name for p in project.folder.rglob("*") if p.is_dir()), \
        sorted(str(p) for p in project.folder.rglob("*"))


# --------------------------------------------------------------------------- create, every mode


def test_create_from_template(project):
    before = project.files()
    done = project.cli("create", "My Backup", "--from-template", "Backup Files", "-y")
    target = project.folder / "my_backup.yaml"
    _expect_written(project, done, target, before, added=True)
    assert validate_file(target).workflow.name == "My Backup"
    _no_nested_folder(project)
    # and the next command finds it where it is
    shown = project.cli("list", "--no-runs", "--format", "json")
    assert shown.code == 0, shown.stderr
    files = {(project.cwd / w["file"]).resolve() for w in json.loads(shown.stdout)["workflows"]}
    assert target.resolve() in files


def test_create_from_a_description(project):
    before = project.files()
    done = project.cli("create", "Tested Daily", "--describe", "run tests, every day at 9am", "--yes")
    _expect_written(project, done, project.folder / "tested_daily.yaml", before, added=True)
    _no_nested_folder(project)


def test_create_interactively_through_stdin(project):
    before = project.files()
    done = project.cli("create", "Pipe", "--interactive", input=INTERACTIVE)
    _expect_written(project, done, project.folder / "pipe.yaml", before, added=True)
    _no_nested_folder(project)


def test_create_from_a_file_given_relative_to_the_working_directory(project):
    before = project.files()
    done = project.cli("create", "Copied", "--from-file", "incoming.yaml")
    _expect_written(project, done, project.folder / "copied.yaml", before, added=True)
    assert validate_file(project.folder / "copied.yaml").workflow.name == "Copied"
    _no_nested_folder(project)


def test_create_into_a_subfolder_with_file(project):
    before = project.files()
    done = project.cli("create", "Placed", "--from-template", "Backup Files", "--file", "team/placed.yaml", "-y")
    _expect_written(project, done, project.folder / "team" / "placed.yaml", before, added=True)
    _no_nested_folder(project)


def test_create_json_names_the_file_it_wrote(project):
    done = project.cli("create", "My Backup", "--from-template", "Backup Files", "-y", "--format", "json")
    assert done.code == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert (project.cwd / data["file"]).resolve() == (project.folder / "my_backup.yaml").resolve()
    assert (project.folder / "my_backup.yaml").is_file()


# --------------------------------------------------------------------------- changes to existing files


@pytest.mark.parametrize("name, file", [("Nightly Sync", "nightly_sync.yaml"), ("Team Flow", "team/nested.yaml")])
def test_edit(project, name, file):
    before = project.files()
    target = project.folder / file
    done = project.cli("edit", name, extra_env={"EDITOR": f"{sys.executable} editor.py"})
    _expect_written(project, done, target, before, added=False)
    assert "echo edited" in target.read_text() and "echo done" not in target.read_text()
    job = "nightly_sync" if name == "Nightly Sync" else "team_flow"
    assert (project.folder / ".versions" / job).is_dir()
    _no_nested_folder(project)


def test_schedule(project):
    before = project.files()
    target = project.folder / "nightly_sync.yaml"
    done = project.cli("schedule", "Nightly Sync", "@daily")
    _expect_written(project, done, target, before, added=False)
    (trigger,) = validate_file(target).workflow.schedules
    assert trigger.options["cron"] == "@daily"
    assert "# keep this comment" in target.read_text()
    assert (project.folder / ".versions" / "nightly_sync" / "2.1.0.yaml").read_text() == NIGHTLY
    _no_nested_folder(project)


@pytest.mark.parametrize("name, file, job", [("Nightly Sync", "nightly_sync.yaml", "nightly_sync"),
                                             ("Team Flow", "team/nested.yaml", "team_flow")])
def test_delete(project, name, file, job):
    before = project.files()
    target = project.folder / file
    original = target.read_text()
    done = project.cli("delete", name, "-y")
    assert done.code == 0, done.stdout + done.stderr
    assert not target.exists()
    assert project.files() == before - {project.rel(target)}
    version = "2.1.0" if job == "nightly_sync" else "1.0.0"
    assert (project.folder / ".versions" / job / f"{version}.yaml").read_text() == original
    _no_nested_folder(project)


def test_rollback(project):
    target = project.folder / "nightly_sync.yaml"
    changed = project.cli("schedule", "Nightly Sync", "@daily")
    assert changed.code == 0, changed.stdout + changed.stderr
    assert target.read_text() != NIGHTLY
    before = project.files()
    done = project.cli("rollback", "Nightly Sync", "2.1.0")
    _expect_written(project, done, target, before, added=False)
    assert target.read_text() == NIGHTLY
    _no_nested_folder(project)


def test_import_a_file_given_relative_to_the_working_directory(project):
    before = project.files()
    done = project.cli("import", "incoming.yaml")
    _expect_written(project, done, project.folder / "incoming_flow.yaml", before, added=True)
    _no_nested_folder(project)


def test_import_force_replaces_the_library_file_where_it_is(project):
    write(project.cwd, "replacement.yaml", NIGHTLY.replace("echo done", "echo replaced"))
    before = project.files()
    target = project.folder / "nightly_sync.yaml"
    done = project.cli("import", "replacement.yaml", "--force")
    _expect_written(project, done, target, before, added=False)
    assert "echo replaced" in target.read_text()
    _no_nested_folder(project)


def test_a_sequence_of_writes_keeps_one_file(project):
    """The report's sequence: create, schedule, edit, then delete, each finding the file the
    previous one wrote."""
    target = project.folder / "my_backup.yaml"
    steps = [
        ("create", "My Backup", "--from-template", "Backup Files", "-y"),
        ("schedule", "My Backup", "@daily"),
        ("edit", "My Backup"),
        ("versions", "My Backup"),
        ("delete", "My Backup", "-y"),
    ]
    for args in steps:
        done = project.cli(*args, extra_env={"EDITOR": f"{sys.executable} editor.py"})
        assert done.code == 0, f"{args}: {done.stdout}{done.stderr}"
        if args[0] != "delete":
            assert target.is_file(), args
        _no_nested_folder(project)
    assert not target.exists()


# --------------------------------------------------------------------------- the class of bug, in-process


def _spellings(target: Path, cwd: Path) -> list[Path]:
    """Ways to name ``target`` from ``cwd``: absolute, relative, with ``./`` and ``..`` detours."""
    rel = Path(os.path.relpath(target, cwd))
    return [target, rel, Path(".") / rel, Path("..") / cwd.name / rel]


@pytest.mark.parametrize("where", ["project", "subdir", "inside_folder"])
@pytest.mark.parametrize("nested", [False, True])
def test_every_spelling_of_folder_and_file_writes_the_file_it_names(tmp_path, monkeypatch, where, nested):
    """Property over path spellings: whatever mix of absolute and relative (to the working
    directory) paths names the definitions folder and the workflow file, each write (create,
    edit, rollback, delete) touches exactly the file the path names, and nothing else."""
    from yaml2dag.library import versions

    folder = tmp_path / "project" / "definitions"
    folder.mkdir(parents=True)
    cwd = {"project": folder.parent, "subdir": folder.parent / "a" / "b", "inside_folder": folder}[where]
    cwd.mkdir(parents=True, exist_ok=True)
    monkeypatch.chdir(cwd)
    target = folder / ("team/flow.yaml" if nested else "flow.yaml")
    n = 0
    for root in _spellings(folder, cwd):
        for path in _spellings(target, cwd):
            n += 1
            text = NIGHTLY.replace("Nightly Sync", f"Flow {n}")
            change = versions.commit_change(root, path, text, action="create", create=True, bump=False)
            assert target.read_text() == text, (root, path)
            assert Path(change.file).resolve() == target.resolve()
            versions.commit_change(root, path, text.replace("echo done", "echo edited"), action="edit")
            assert "echo edited" in target.read_text()
            versions.rollback(root, path, f"flow_{n}", "2.1.0")
            assert target.read_text() == text
            versions.delete_workflow(root, path, f"flow_{n}")
            assert not target.exists()
            written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*")
                             if p.is_file() and ".versions" not in p.parts)
            assert written == [], (root, path, written)
    # a path outside the folder, however spelled, is refused
    for root in _spellings(folder, cwd):
        for path in _spellings(folder.parent / "escape.yaml", cwd) + _spellings(folder, cwd):
            with pytest.raises(versions.LibraryWriteError):
                versions.commit_change(root, path, NIGHTLY, action="create", create=True)
    assert not (folder.parent / "escape.yaml").exists()
