"""Write-backs to the library (yaml2dag.library.roundtrip, yaml2dag.library.versions): round-trip edits keep
comments and layout, versions are bumped or checked, previous files are kept byte for byte,
paths are checked, and an invalid file is never written."""

from __future__ import annotations

import json

import pytest

from yaml2dag.library import versions
from yaml2dag.library.roundtrip import RoundTripDocument, to_yaml
from yaml2dag.library.versions import LibraryWriteError, bump_patch, commit_change, next_version

from conftest import write

COMMENTED = """\
# Header comment: keep me
name: "Commented Flow"   # the display name
version: "1.2.0"
tags: [a, b]

parameters:
  who: {type: string, default: world}  # flow style kept

steps:
  # the first step
  - id: hello
    tool: shell
    parameters:
      command: "echo hello {{ who }}"

  - id: bye   # trailing comment
    tool: shell
    parameters: {command: "echo bye"}
"""


@pytest.mark.parametrize("version, bumped", [("1.2.3", "1.2.4"), ("2", "2.0.1"), ("1.9", "1.9.1"),
                                             ("v1.0.9", "1.0.10"), ("2024a", "2024a.1"), ("r.7", "r.8")])
def test_bump_patch(version, bumped):
    assert bump_patch(version) == bumped


def test_next_version_goes_above_every_known_version():
    assert next_version("1.0.0", ["1.0.0", "1.0.1", "1.0.2"]) == "1.0.3"  # after a rollback to 1.0.0
    assert next_version("1.0.0", []) == "1.0.1"


def test_round_trip_without_changes_is_identical_and_edits_keep_comments():
    assert RoundTripDocument(COMMENTED).dump() == COMMENTED
    doc = RoundTripDocument(COMMENTED)
    doc.set_top("version", "1.2.1")
    assert doc.set_schedule("0 9 * * 1-5", "Europe/Berlin") == "added"
    text = doc.dump()
    for kept in ("# Header comment: keep me", "# the display name", "# flow style kept", "# the first step",
                 "# trailing comment", "{type: string, default: world}", 'version: "1.2.1"'):
        assert kept in text
    assert text.index("triggers:") < text.index("steps:")
    doc = RoundTripDocument(text)
    assert doc.set_schedule("30 6 * * *") == "replaced"
    replaced = doc.dump()
    assert 'cron: "30 6 * * *"' in replaced and 'timezone: "Europe/Berlin"' in replaced
    doc = RoundTripDocument(replaced)
    assert doc.remove_schedule() == 1
    assert doc.dump() == COMMENTED.replace('version: "1.2.0"', 'version: "1.2.1"')


def test_several_schedules_need_an_index():
    doc = RoundTripDocument(COMMENTED)
    doc.set_schedule("0 1 * * *")
    doc.data["triggers"].append({"type": "schedule", "cron": "0 2 * * *"})
    with pytest.raises(ValueError, match="--index"):
        doc.set_schedule("0 3 * * *")
    doc.set_schedule("0 3 * * *", which=2)
    assert [t["cron"] for t in doc.data["triggers"]] == ["0 1 * * *", "0 3 * * *"]


def test_json_files_stay_json_with_their_key_order():
    text = json.dumps({"name": "J", "steps": [{"id": "a", "tool": "shell", "parameters": {"command": "echo"}}]}, indent=4)
    doc = RoundTripDocument(text, json_format=True)
    doc.set_top("version", "2.0.0")
    doc.set_schedule("@daily")
    data = json.loads(doc.dump())
    assert list(data) == ["name", "version", "triggers", "steps"]
    assert doc.dump().startswith('{\n    "name"')


def test_to_yaml_quotes_templates_and_keeps_order():
    text = to_yaml({"name": "x", "steps": [{"id": "a", "tool": "shell", "parameters": {"command": "{{ x }}"}}]})
    assert text.index("name:") < text.index("steps:") and 'command: "{{ x }}"' in text


# --------------------------------------------------------------------------- commit_change


@pytest.fixture
def lib(tmp_path):
    folder = tmp_path / "defs"
    write(folder, "commented.yaml", COMMENTED)
    write(folder, "other.yaml", 'name: "Other"\nsteps:\n  - {id: a, tool: shell, parameters: {command: echo}}\n')
    return folder


def test_a_change_bumps_the_version_and_keeps_the_previous_file(lib):
    path = lib / "commented.yaml"
    before = path.read_bytes()
    change = commit_change(lib, path, COMMENTED.replace("echo bye", "echo ciao"), action="edit")
    assert (change.previous_version, change.version) == ("1.2.0", "1.2.1")
    assert 'version: "1.2.1"' in path.read_text() and "echo ciao" in path.read_text()
    assert (lib / ".versions" / "commented_flow" / "1.2.0.yaml").read_bytes() == before
    log = versions.read_log(lib, "commented_flow")
    assert [(e["action"], e["previous"], e["version"]) for e in log] == [("edit", "1.2.0", "1.2.1")]


def test_an_explicit_version_must_be_new_and_newer(lib):
    path = lib / "commented.yaml"
    commit_change(lib, path, COMMENTED.replace('"1.2.0"', '"1.3.0"'), action="edit")  # explicit, newer: kept
    assert 'version: "1.3.0"' in path.read_text()
    with pytest.raises(LibraryWriteError, match="not newer"):
        commit_change(lib, path, COMMENTED.replace('"1.2.0"', '"1.1.0"'), action="edit")
    with pytest.raises(LibraryWriteError, match="already exists in the archive"):
        commit_change(lib, path, COMMENTED, action="edit")  # 1.2.0 is archived with other content


def test_invalid_text_and_taken_names_are_never_written(lib):
    path = lib / "commented.yaml"
    before = path.read_bytes()
    with pytest.raises(LibraryWriteError) as err:
        commit_change(lib, path, COMMENTED.replace("tool: shell", "tool: shel"), action="edit")
    assert any("unknown tool" in p.message for p in err.value.problems)
    with pytest.raises(LibraryWriteError) as err:
        commit_change(lib, path, COMMENTED.replace('"Commented Flow"', '"other"'), action="edit")
    assert any("also used by" in p.message for p in err.value.problems)
    assert path.read_bytes() == before and not (lib / ".versions" / "commented_flow").exists()


def test_paths_outside_the_library_are_refused(lib, tmp_path):
    with pytest.raises(LibraryWriteError, match="outside the definitions folder"):
        commit_change(lib, lib / ".." / "escape.yaml", COMMENTED, action="create", create=True)
    with pytest.raises(LibraryWriteError, match="skips"):
        commit_change(lib, lib / ".versions" / "x.yaml", COMMENTED, action="create", create=True)
    outside = tmp_path / "elsewhere.yaml"
    outside.write_text("x")
    (lib / "link.yaml").symlink_to(outside)
    with pytest.raises(LibraryWriteError, match="outside"):
        versions.delete_workflow(lib, lib / "link.yaml", "x")
    assert outside.read_text() == "x"
    with pytest.raises(LibraryWriteError, match="already exists"):
        commit_change(lib, lib / "other.yaml", COMMENTED, action="create", create=True)


def test_rollback_restores_bytes_and_is_itself_recorded(lib):
    path = lib / "commented.yaml"
    original = path.read_bytes()
    commit_change(lib, path, COMMENTED.replace("echo bye", "echo 1"), action="edit")
    commit_change(lib, path, path.read_text().replace("echo 1", "echo 2"), action="edit")
    change = versions.rollback(lib, path, "commented_flow", "1.2.0")
    assert path.read_bytes() == original
    assert (change.previous_version, change.version) == ("1.2.2", "1.2.0")
    assert [v.version for v in versions.history(lib, path, "commented_flow")] == ["1.2.0", "1.2.1", "1.2.2"]
    # the next change bumps above every known version
    nxt = commit_change(lib, path, COMMENTED.replace("echo bye", "echo 3"), action="edit")
    assert nxt.version == "1.2.3"
    with pytest.raises(LibraryWriteError, match="no saved version 9.9.9"):
        versions.rollback(lib, path, "commented_flow", "9.9.9")


def test_a_rollback_is_a_new_revision_and_history_says_it_restored_the_current_file(lib):
    path = lib / "commented.yaml"
    first = commit_change(lib, path, COMMENTED.replace("echo bye", "echo 1"), action="edit")
    second = commit_change(lib, path, path.read_text().replace("echo 1", "echo 2"), action="edit")
    change = versions.rollback(lib, path, "commented_flow", "1.2.1")
    assert (first.revision, second.revision, change.revision, change.restored) == (1, 2, 3, "1.2.1")
    log = versions.read_log(lib, "commented_flow")
    assert [(e["seq"], e["action"], e["version"]) for e in log] == [(1, "edit", "1.2.1"), (2, "edit", "1.2.2"),
                                                                    (3, "rollback", "1.2.1")]
    items = {(v.version, v.current): v for v in versions.history(lib, path, "commented_flow")}
    current = items[("1.2.1", True)]
    assert current.revisions == [1, 3] and current.rollback["seq"] == 3 and current.rollback["previous"] == "1.2.2"
    assert items[("1.2.2", False)].revisions == [2] and items[("1.2.2", False)].rollback is None
    assert ("1.2.1", False) not in items  # the archived copy is the current file: listed once
    # the next change is revision 4 and no longer a rollback
    commit_change(lib, path, path.read_text().replace("echo 1", "echo 4"), action="edit")
    current = next(v for v in versions.history(lib, path, "commented_flow") if v.current)
    assert (current.version, current.revisions, current.rollback) == ("1.2.3", [4], None)


def test_log_entries_without_a_revision_number_get_their_position(lib):
    folder = versions.archive_dir(lib, "commented_flow")
    folder.mkdir(parents=True)
    (folder / "log.jsonl").write_text('{"action": "edit"}\nnot json\n{"action": "schedule"}\n')
    commit_change(lib, lib / "commented.yaml", COMMENTED.replace("echo bye", "echo x"), action="edit")
    assert [(e["seq"], e["action"]) for e in versions.read_log(lib, "commented_flow")] == [
        (1, "edit"), (2, "schedule"), (3, "edit")]


def test_a_hand_edit_that_kept_the_version_is_archived_beside_the_first(lib):
    path = lib / "commented.yaml"
    versions.archive(lib, "commented_flow", "1.2.0", b"an older 1.2.0\n")
    commit_change(lib, path, COMMENTED.replace("echo bye", "echo x"), action="edit")
    names = sorted(p.name for p in (lib / ".versions" / "commented_flow").glob("*.yaml"))
    assert names == ["1.2.0+2.yaml", "1.2.0.yaml"]
