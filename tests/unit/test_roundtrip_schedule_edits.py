"""Round-trip editing (yaml2dag.library.roundtrip) as a user meets it, in-process through click's
CliRunner on a temporary definitions folder: `yaml2dag schedule` with several schedule triggers,
`--index`, `--timezone` and `--remove` on YAML and JSON workflows, `import` of files the
round-trip cannot read, and the layout (indentation, blank lines, comments) the edits keep.
No Dagster run, no subprocess."""

from __future__ import annotations

import difflib
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from yaml2dag.format.validation import validate_file
from yaml2dag.library.roundtrip import RoundTripDocument, to_json, to_yaml

from conftest import write

TWO_SCHEDULES = """\
# two schedules: keep me
name: "Twice Daily"
version: "1.0.0"

triggers:
  - type: schedule
    cron: "0 6 * * *"   # morning
  - type: manual
  - type: schedule
    cron: '0 18 * * *'
    timezone: 'Europe/Paris'

steps:
  - id: hello
    tool: shell
    parameters:
      command: "echo hello"
"""

NO_TRIGGERS = """\
name: "Plain Flow"   # the display name
version: "1.0.0"

steps:
  # the only step
  - id: hello
    tool: shell
    parameters:
      command: "echo hello"
"""

#: A workflow indented with four spaces, sequences at two (mapping 4, sequence 4, offset 2).
FOUR_SPACES = """\
name: "Four Spaces"
version: "1.0.0"
triggers:
  - type: manual
steps:
  - id: hello
    tool: shell
    parameters:
        command: "echo hello"
        env:
            GREETING: "hi"
"""

JSON_FLOW = {
    "name": "Json Flow",
    "version": "1.0.0",
    "steps": [{"id": "hello", "tool": "shell", "parameters": {"command": "echo hello"}}],
}


@pytest.fixture
def defs(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "defs"
    folder.mkdir()
    monkeypatch.setenv("YAML2DAG_DEFINITIONS", str(folder))
    monkeypatch.setenv("YAML2DAG_USER", "tester")
    monkeypatch.chdir(tmp_path)
    return folder


def cli(*args: str):
    from yaml2dag.cli import main

    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def schedules(path: Path) -> list[dict]:
    return [dict(t.options) for t in validate_file(path).workflow.schedules]


def added_and_removed(before: str, after: str) -> tuple[list[str], list[str]]:
    diff = list(difflib.ndiff(before.splitlines(), after.splitlines()))
    return [d[2:] for d in diff if d.startswith("+ ")], [d[2:] for d in diff if d.startswith("- ")]


# --------------------------------------------------------------------------- several schedules


def test_replacing_one_of_several_schedules_needs_an_index_in_range(defs):
    path = write(defs, "twice_daily.yaml", TWO_SCHEDULES)
    ambiguous = cli("schedule", "Twice Daily", "@hourly")
    assert ambiguous.exit_code == 2
    assert "the workflow has 2 schedule triggers: choose one with --index 1..2" in ambiguous.output
    out_of_range = cli("schedule", "Twice Daily", "@hourly", "--index", "3", "--format", "json")
    assert out_of_range.exit_code == 2
    assert json.loads(out_of_range.output)["error"] == "--index 3: the workflow has 2 schedule trigger(s)"
    assert path.read_text() == TWO_SCHEDULES  # nothing written on either error


def test_a_time_zone_is_added_after_the_cron_of_the_chosen_schedule(defs):
    path = write(defs, "twice_daily.yaml", TWO_SCHEDULES)
    done = cli("schedule", "Twice Daily", "30 7 * * *", "--index", "1", "--timezone", "Asia/Tokyo")
    assert done.exit_code == 0, done.output
    assert schedules(path) == [{"cron": "30 7 * * *", "timezone": "Asia/Tokyo"},
                               {"cron": "0 18 * * *", "timezone": "Europe/Paris"}]
    added, removed = added_and_removed(TWO_SCHEDULES, path.read_text())
    # the cron keeps its double quotes and its comment, the new key sits right after it
    assert removed == ['version: "1.0.0"', '    cron: "0 6 * * *"   # morning']
    assert [" ".join(line.split()) for line in added] == ['version: "1.0.1"', 'cron: "30 7 * * *" # morning',
                                                          'timezone: "Asia/Tokyo"']
    assert added[2].startswith("    timezone")


def test_an_existing_time_zone_is_replaced_in_its_own_quoting(defs):
    path = write(defs, "twice_daily.yaml", TWO_SCHEDULES)
    done = cli("schedule", "Twice Daily", "0 19 * * *", "--index", "2", "--timezone", "Europe/Berlin")
    assert done.exit_code == 0, done.output
    text = path.read_text()
    assert "    cron: '0 19 * * *'\n    timezone: 'Europe/Berlin'\n" in text
    assert "# two schedules: keep me" in text and 'cron: "0 6 * * *"   # morning' in text
    assert schedules(path)[1] == {"cron": "0 19 * * *", "timezone": "Europe/Berlin"}


def test_removing_one_schedule_by_index_keeps_the_other_triggers(defs):
    path = write(defs, "twice_daily.yaml", TWO_SCHEDULES)
    wrong = cli("schedule", "Twice Daily", "--remove", "--index", "5")
    assert wrong.exit_code == 2 and "--index 5: the workflow has 2 schedule trigger(s)" in wrong.output
    assert path.read_text() == TWO_SCHEDULES
    done = cli("schedule", "Twice Daily", "--remove", "--index", "1")
    assert done.exit_code == 0, done.output
    assert "schedule removed" in done.output
    assert [t.type for t in validate_file(path).workflow.triggers] == ["manual", "schedule"]
    assert schedules(path) == [{"cron": "0 18 * * *", "timezone": "Europe/Paris"}]
    everything = cli("schedule", "Twice Daily", "--remove")
    assert everything.exit_code == 0
    assert [t.type for t in validate_file(path).workflow.triggers] == ["manual"]


def test_removing_the_only_trigger_removes_the_triggers_section_and_a_second_remove_fails(defs):
    path = write(defs, "plain_flow.yaml", NO_TRIGGERS)
    assert cli("schedule", "Plain Flow", "@daily").exit_code == 0
    assert cli("schedule", "Plain Flow", "--remove").exit_code == 0
    assert "triggers" not in path.read_text()
    again = cli("schedule", "Plain Flow", "--remove")
    assert again.exit_code == 1 and "has no schedule trigger" in again.output


# --------------------------------------------------------------------------- layout kept


def test_a_new_triggers_section_gets_the_blank_lines_the_other_sections_have(defs):
    path = write(defs, "plain_flow.yaml", NO_TRIGGERS)
    done = cli("schedule", "Plain Flow", "0 5 * * *")
    assert done.exit_code == 0, done.output
    assert path.read_text() == NO_TRIGGERS.replace('version: "1.0.0"\n', 'version: "1.0.1"\n\ntriggers:\n'
                                                   '  - type: schedule\n    cron: "0 5 * * *"\n')
    assert schedules(path) == [{"cron": "0 5 * * *"}]


def test_an_added_schedule_goes_after_the_existing_triggers_in_a_four_space_file(defs):
    path = write(defs, "four_spaces.yaml", FOUR_SPACES)
    done = cli("schedule", "Four Spaces", "@daily", "--timezone", "America/New_York")
    assert done.exit_code == 0, done.output
    added, removed = added_and_removed(FOUR_SPACES, path.read_text())
    assert removed == ['version: "1.0.0"']  # the 4-space step parameters are untouched
    assert added == ['version: "1.0.1"', "  - type: schedule", '    cron: "@daily"', '    timezone: "America/New_York"']
    assert schedules(path) == [{"cron": "@daily", "timezone": "America/New_York"}]


def test_a_file_no_indentation_style_reproduces_keeps_its_comments_and_values():
    """Mixed indentation (two and three spaces): the closest style is used, nothing is lost."""
    text = ("name: \"Mixed\"   # keep\nversion: \"1.0.0\"\nsteps:\n  - id: a\n    tool: shell\n    parameters:\n"
            "       command: \"echo a\"   # three more\n")
    doc = RoundTripDocument(text)
    doc.set_top("description", "added")
    out = doc.dump()
    assert "# keep" in out and "# three more" in out
    reread = RoundTripDocument(out).data
    assert list(reread) == ["name", "description", "version", "steps"]
    assert reread["steps"][0]["parameters"]["command"] == "echo a"


# --------------------------------------------------------------------------- JSON workflows


def test_json_workflows_are_edited_as_json_with_their_indent_and_key_order(defs):
    path = defs / "json_flow.json"
    path.write_text(json.dumps(JSON_FLOW, indent=4) + "\n")
    done = cli("schedule", "Json Flow", "0 3 * * *", "--timezone", "UTC")
    assert done.exit_code == 0, done.output
    text = path.read_text()
    data = json.loads(text)
    assert list(data) == ["name", "version", "triggers", "steps"]
    assert data["version"] == "1.0.1"
    assert data["triggers"] == [{"type": "schedule", "cron": "0 3 * * *", "timezone": "UTC"}]
    assert '\n    "name": "Json Flow"' in text  # 4-space indentation kept
    # a second schedule, then a time zone added to the first one (after its cron)
    data["triggers"] = [{"type": "schedule", "cron": "0 3 * * *"}]
    path.write_text(json.dumps(data, indent=4) + "\n")
    assert cli("schedule", "Json Flow", "0 4 * * *", "--timezone", "Asia/Tokyo").exit_code == 0
    assert json.loads(path.read_text())["triggers"] == [{"type": "schedule", "cron": "0 4 * * *",
                                                         "timezone": "Asia/Tokyo"}]


def test_a_json_document_gets_new_top_level_keys_after_its_name():
    doc = RoundTripDocument(json.dumps({"id": "x", "steps": []}, indent=2), json_format=True)
    doc.set_top("description", "d", after=("name",))
    assert list(doc.data) == ["description", "id", "steps"]  # no `name`: first
    doc.set_top("name", "X", after=("id",))
    assert list(doc.data) == ["description", "id", "name", "steps"]
    assert doc.dump().startswith('{\n  "description": "d",')


# --------------------------------------------------------------------------- unreadable files


@pytest.mark.parametrize("name, text, message", [
    ("broken.yaml", "name: [unclosed\nsteps: x\n", "not valid YAML"),
    ("list.yaml", "- just\n- a list\n", "the document is not a mapping"),
    ("broken.json", '{"name": "x",}\n', "not valid JSON"),
])
def test_import_of_a_file_the_round_trip_cannot_read_names_the_file_and_saves_nothing(defs, tmp_path, name, text,
                                                                                     message):
    source = tmp_path / name
    source.write_text(text)
    done = cli("import", str(source), "--format", "json")
    assert done.exit_code == 1
    error = json.loads(done.output)["error"]
    assert error.startswith(f"{source}: {message}")
    assert list(defs.iterdir()) == []


def test_create_from_a_file_that_is_not_a_mapping_fails_with_exit_2(defs, tmp_path):
    source = tmp_path / "list.yaml"
    source.write_text("- a\n- b\n")
    done = cli("create", "From List", "--from-file", str(source), "--yes")
    assert done.exit_code == 2 and "the document is not a mapping" in done.output
    assert list(defs.iterdir()) == []


# --------------------------------------------------------------------------- writing from scratch


def test_export_as_json_and_import_again_round_trips_the_data(defs, tmp_path):
    write(defs, "plain_flow.yaml", NO_TRIGGERS)
    exported = cli("export", "Plain Flow", "--format", "json", "--file", str(tmp_path / "plain.json"))
    assert exported.exit_code == 0, exported.output
    text = (tmp_path / "plain.json").read_text()
    assert text == to_json(json.loads(text)) and text.endswith("}\n")
    data = json.loads(text)
    assert data["steps"][0]["parameters"] == {"command": "echo hello"}
    imported = cli("import", str(tmp_path / "plain.json"), "--name", "Plain Copy")
    assert imported.exit_code == 0, imported.output
    copy = validate_file(defs / "plain_copy.yaml")
    assert copy.valid and copy.workflow.name == "Plain Copy"


def test_to_yaml_writes_a_header_comment_quotes_non_identifiers_and_lists_tuples():
    text = to_yaml({"name": "Made Up", "tags": ("a", "yes"), "steps": [{"id": "s1", "tool": "shell"}]},
                   header="made by a test\n\nsecond line")
    assert text.startswith("# made by a test\n#\n# second line\nname: \"Made Up\"\n")
    assert "  - a\n" in text and '  - "yes"\n' in text  # `yes` would read back as a boolean
    assert "\nsteps:\n  - id: s1\n" in text


def test_a_new_triggers_section_is_set_apart_by_one_blank_line_on_each_side(defs):
    """The file separates only some sections with blank lines (two before `steps`): the new
    section gets exactly one blank line before and after it."""
    text = ('name: "Spaced Flow"\nversion: "1.0.0"\n\n\nsteps:\n  - id: a\n    tool: shell\n'
            '    parameters: {command: "echo a"}\n\noutputs:\n  done: "yes"\n')
    path = write(defs, "spaced_flow.yaml", text)
    assert cli("schedule", "Spaced Flow", "@weekly").exit_code == 0
    assert path.read_text() == text.replace('version: "1.0.0"\n\n\n', 'version: "1.0.1"\n\ntriggers:\n'
                                            '  - type: schedule\n    cron: "@weekly"\n\n')
    tight = ('name: "Tight Flow"\nversion: "1.0.0"\nsteps:\n  - id: a\n    tool: shell\n'
             '    parameters: {command: "echo a"}\n\noutputs:\n  done: "yes"\n')
    tight_path = write(defs, "tight_flow.yaml", tight)
    assert cli("schedule", "Tight Flow", "@weekly").exit_code == 0
    assert tight_path.read_text() == tight.replace('version: "1.0.0"\n', 'version: "1.0.1"\n\ntriggers:\n'
                                                   '  - type: schedule\n    cron: "@weekly"\n\n')


def test_replacing_a_schedule_without_timezone_keeps_the_one_it_has(defs):
    path = write(defs, "twice_daily.yaml", TWO_SCHEDULES)
    done = cli("schedule", "Twice Daily", "15 18 * * *", "--index", "2")
    assert done.exit_code == 0, done.output
    assert schedules(path)[1] == {"cron": "15 18 * * *", "timezone": "Europe/Paris"}
    assert "At 18:15 (Europe/Paris)" in done.output


def test_create_from_a_file_drops_its_job_id_so_the_new_name_gives_the_id(defs, tmp_path):
    source = write(tmp_path, "source.yaml", NO_TRIGGERS.replace('version: "1.0.0"', 'id: plain_flow\nversion: "1.0.0"'))
    done = cli("create", "Copied Flow", "--from-file", str(source), "--yes")
    assert done.exit_code == 0, done.output
    saved = (defs / "copied_flow.yaml").read_text()
    first = saved.splitlines()[0]
    assert "id: plain_flow" not in saved and " ".join(first.split()) == 'name: "Copied Flow" # the display name'
    assert validate_file(defs / "copied_flow.yaml").workflow.id == "copied_flow"
