"""Issue #6, the library commands, each as a real `python -m yaml2dag` subprocess (bounded by
`run_cli`) on a temporary definitions folder: create (interactive through stdin, template,
file, description, model), edit with a scripted $EDITOR, delete, schedule, export/import,
versions, rollback and diff. None of them may import Dagster."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest

from yaml2dag.format.loader import load_file, load_text
from yaml2dag.format.model import Source
from yaml2dag.format.model_builder import build_workflow
from yaml2dag.format.validation import validate_file

from conftest import make_dagster_home, run_cli, run_cli_counting_dagster, write
from fake_llm import VALID_YAML, fake_model

pytestmark = pytest.mark.slow

COMMENTED = """\
# yaml-language-server: $schema=../yaml2dag/format/schema/workflow.schema.json
# Nightly sync: keep these comments.
name: "Nightly Sync"
version: "2.1.0"
description: "Sync and report"   # inline comment
tags: [sync, nightly]

parameters:
  target: {type: string, default: "/tmp/out"}   # flow mapping kept

triggers:
  - type: manual

steps:
  # pull first
  - id: pull
    tool: shell
    parameters:
      command: "echo pulling into {{ target }}"

  - id: report
    tool: shell
    retry: {max_attempts: 2, delay: 1}
    parameters: {command: "echo done"}
"""


@pytest.fixture
def folder(tmp_path) -> Path:
    defs = tmp_path / "defs"
    write(defs, "nightly_sync.yaml", COMMENTED)
    return defs


@pytest.fixture
def cli(folder, tmp_path):
    home = make_dagster_home(tmp_path / "dagster_home")
    env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(home), "NO_COLOR": "1", "COLUMNS": "120",
           "YAML2DAG_USER": "tester"}

    def run(*args: str, input: str | None = None, extra_env: dict | None = None):
        return run_cli(*args, env={**env, **(extra_env or {})}, input=input, timeout=120)

    return run


def model_of(path_or_text, name: str | None = None):
    """The workflow model without its source (file name, hash) for comparisons."""
    doc = load_file(path_or_text) if isinstance(path_or_text, Path) else load_text(path_or_text)
    wf = build_workflow(doc.data)
    wf = dataclasses.replace(wf, source=Source())
    if name is not None:
        wf = dataclasses.replace(wf, name=name, id="x")
    return wf


# --------------------------------------------------------------------------- create


INTERACTIVE_ANSWERS = "\n".join([
    "",                          # name: keep the default (the NAME argument)
    "Builds and notifies",       # description
    "ci, nightly",               # tags
    "branch:string=main",        # parameter 1
    "retries=3",                 # parameter 2 (type inferred)
    "bad line!",                 # rejected, asked again
    "",                          # end of parameters
    "Build",                     # step id: rejected (uppercase), asked again
    "build",                     # step 1 id
    "Build it",                  # name
    "shel",                      # tool: unknown, asked again
    "shell",                     # tool
    "make build BRANCH={{ branch }}",  # command
    "retry",                     # on error
    "4",                         # max attempts
    "tell",                      # step 2 id
    "",                          # name
    "notify",                    # tool
    "",                          # action: default (log)
    "built {{ branch }}",        # message (required parameter)
    "level=warning",             # more parameters
    "",                          # end of parameters
    "continue",                  # on error
    "",                          # no more steps
    "Nightly build failed",      # on_failure message
    "every weekday at 9am",      # schedule (a phrase)
    "Europe/Berlin",             # time zone
    "y",                         # save
]) + "\n"


def test_interactive_create_through_stdin_validates_saves_and_refuses_to_overwrite(cli, folder):
    done = cli("create", "Nightly Build", "--interactive", input=INTERACTIVE_ANSWERS)
    assert done.code == 0, done.stdout + done.stderr
    assert "write it as name[:type][=default]" in done.stdout          # the bad parameter line
    assert "ids are lowercase letters" in done.stdout                 # the bad id
    assert "unknown tool 'shel'" in done.stdout and "did you mean" in done.stdout
    assert "created Nightly Build version 1.0.0" in done.stdout
    path = folder / "nightly_build.yaml"
    report = validate_file(path)
    assert report.valid, [p.format() for p in report.problems]
    wf = report.workflow
    assert (wf.name, wf.description, wf.tags) == ("Nightly Build", "Builds and notifies", ("ci", "nightly"))
    assert {p.name: (p.type, p.default) for p in wf.parameters} == {"branch": ("string", "main"), "retries": ("integer", 3)}
    build, tell = wf.steps
    assert build.parameters == {"command": "make build BRANCH={{ branch }}"} and build.retry.max_attempts == 4
    assert (tell.tool, tell.action, tell.parameters, tell.on_error) == (
        "notify", "log", {"message": "built {{ branch }}", "level": "warning"}, "continue")
    (sched,) = wf.schedules
    assert sched.options == {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"}
    assert wf.on_failure[0].parameters["message"] == "Nightly build failed"
    before = path.read_bytes()
    again = cli("create", "Nightly Build", "--interactive", input=INTERACTIVE_ANSWERS)
    assert again.code == 1 and "refusing to overwrite" in again.stderr
    assert path.read_bytes() == before


def _answers(name: str) -> str:
    """A minimal interactive session: NAME typed (or kept with ""), one shell step, saved."""
    return "\n".join([name, "", "", "", "build", "", "shell", "echo b", "abort", "", "", "", "y"]) + "\n"


def test_interactive_create_names_the_file_after_the_name_typed_at_the_prompt(cli, folder):
    done = cli("create", "Pipe2", "-i", input=_answers("Other Name"))
    assert done.code == 0, done.stdout + done.stderr
    assert "Workflow name [Pipe2]:" in done.stdout  # the command line's NAME is the default
    assert not (folder / "pipe2.yaml").exists()
    wf = validate_file(folder / "other_name.yaml").workflow
    assert (wf.name, wf.id) == ("Other Name", "other_name")
    # NAME's file exists: refused before any question is asked
    before = (folder / "other_name.yaml").read_bytes()
    early = cli("create", "Other Name", "-i", input=_answers(""))
    assert early.code == 1 and "refusing to overwrite" in early.stderr
    assert "Workflow name" not in early.stdout and (folder / "other_name.yaml").read_bytes() == before
    early_json = cli("create", "other_name", "-i", "--format", "json", input=_answers(""))
    assert early_json.code == 1 and "already exists" in json.loads(early_json.stdout)["error"]
    # a name typed at the prompt that another workflow has is asked again
    again = cli("create", "Pipe3", "-i", input="Nightly Sync\n" + _answers("Third Name"))
    assert again.code == 0, again.stdout + again.stderr
    assert "nightly_sync.yaml already exists; choose another name" in again.stdout
    assert (folder / "third_name.yaml").exists() and not (folder / "pipe3.yaml").exists()


def test_interactive_create_stops_when_the_input_ends_and_saves_nothing(cli, folder):
    done = cli("create", "Half Done", "-i", input="\nSome description\n")
    assert done.code == 1 and "input ended" in done.stderr
    assert not (folder / "half_done.yaml").exists()


def test_create_from_a_template_with_values(cli, folder):
    from yaml2dag.library.workflow_templates import list_templates

    templates = [t for t in list_templates() if any(not p.is_secret and p.type == "string" for p in t.parameters)]
    if not templates:
        pytest.skip("no built-in template with a string parameter yet")
    template = templates[0]
    param = next(p for p in template.parameters if not p.is_secret and p.type == "string")
    done = cli("create", "My Copy", "--from-template", template.name, f"{param.name}=/custom/value", "--format", "json")
    assert done.code == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["action"] == "create" and data["workflow"] == "My Copy" and data["job"] == "my_copy"
    wf = validate_file(folder / "my_copy.yaml").workflow
    assert wf.parameter(param.name).default == "/custom/value"
    bad = cli("create", "Other Copy", "--from-template", template.name, "no_such_param=1")
    assert bad.code == 2 and "not a parameter of the template" in bad.stderr
    assert not (folder / "other_copy.yaml").exists()


def test_create_from_a_file_renames_and_keeps_comments(cli, folder, tmp_path):
    source = write(tmp_path, "elsewhere.yaml", COMMENTED)
    done = cli("create", "Sync Copy", "--from-file", str(source))
    assert done.code == 0, done.stderr
    text = (folder / "sync_copy.yaml").read_text()
    assert 'name: "Sync Copy"' in text and "# Nightly sync: keep these comments." in text
    assert model_of(folder / "sync_copy.yaml", "n") == model_of(COMMENTED, "n")
    escape = cli("create", "Escape", "--from-file", str(source), "--file", "../escape.yaml")
    assert escape.code == 1 and "outside the definitions folder" in escape.stderr
    assert not (folder.parent / "escape.yaml").exists()


def test_create_from_a_description(cli, folder):
    done = cli("create", "Deploy Daily", "--describe",
               "pull latest code, run tests, and deploy if tests pass, every weekday at 9am", "--yes")
    assert done.code == 0, done.stderr
    assert "every weekday at 9am → schedule `0 9 * * 1-5`" in done.stdout
    wf = validate_file(folder / "deploy_daily.yaml").workflow
    assert [s.id for s in wf.steps] == ["pull", "tests", "deploy"]
    assert wf.schedules[0].options["cron"] == "0 9 * * 1-5"
    # not understood: reported; --yes refuses to save a partial workflow; a review can
    partial = cli("create", "Moon", "--describe", "run tests then fly to the moon", "--yes")
    assert partial.code == 1 and "fly to the moon" in partial.stderr
    assert not (folder / "moon.yaml").exists()
    declined = cli("create", "Moon", "--describe", "run tests then fly to the moon", input="\n")
    assert declined.code == 1 and "not understood, left out: fly to the moon" in declined.stdout
    assert not (folder / "moon.yaml").exists()
    accepted = cli("create", "Moon", "--describe", "run tests then fly to the moon", input="y\n")
    assert accepted.code == 0 and (folder / "moon.yaml").exists()


def test_create_describe_json_says_what_was_understood_and_what_was_not(cli, folder):
    done = cli("create", "Tested Daily", "--describe", "run tests, every day at 9am", "--yes", "--format", "json")
    assert done.code == 0, done.stderr
    data = json.loads(done.stdout)
    assert (data["action"], data["job"]) == ("create", "tested_daily")
    assert data["draft"]["understood"] == [{"phrase": "every day at 9am", "became": "schedule `0 9 * * *`"},
                                           {"phrase": "run tests", "became": "step `tests` (shell)"}]
    assert data["draft"]["unknown"] == [] and data["draft"]["source"] == "grammar"
    partial = cli("create", "Moon", "--describe", "run tests then fly to the moon", "--yes", "--format", "json")
    assert partial.code == 1
    refused = json.loads(partial.stdout)
    assert "not understood" in refused["error"] and refused["draft"]["unknown"] == ["fly to the moon"]
    assert [u["phrase"] for u in refused["draft"]["understood"]] == ["run tests"]
    assert not (folder / "moon.yaml").exists()


def test_every_library_error_is_json_with_format_json(cli, folder, tmp_path):
    """Unknown names, existing files and bad arguments: one JSON document, the usual exit code."""
    target = tmp_path / "out.json"
    target.write_text("{}")
    cases = [
        (("export", "No Such Flow", "--format", "json"), 2, "no workflow named 'No Such Flow'"),
        (("export", "Nightly Sync", "--format", "json", "--file", str(target)), 2, "--force"),
        (("export", "Nightly Sync", "--format=json", "--file", str(tmp_path / "no" / "x.json")), 2, "does not exist"),
        (("import", str(tmp_path / "missing.yaml"), "--format", "json"), 2, "does not exist"),
        (("versions", "No Such Flow", "--format", "json"), 2, "no workflow named"),
        (("diff", "Nightly Sync", "--format", "json", "--context", "-1"), 2, "--context"),
        (("rollback", "Nightly Sync", "--format", "json"), 2, "Missing argument 'VERSION'"),
        (("schedule", "Nightly Sync", "--format", "json", "--index", "zero"), 2, "--index"),
        (("delete", "Nightly Sync", "--format", "json", "--no-such-option"), 2, "No such option"),
        (("create", "X", "--describe", "run tests", "--from-file", str(target), "--format", "json"), 2, "choose one"),
    ]
    for args, code, message in cases:
        done = cli(*args)
        assert done.code == code, (args, done.stdout, done.stderr)
        assert message in json.loads(done.stdout)["error"], (args, done.stdout)
    assert target.read_text() == "{}" and (folder / "nightly_sync.yaml").exists()
    missing = cli("list", "--format", "json", extra_env={"YAML2DAG_DEFINITIONS": str(tmp_path / "missing")})
    assert missing.code == 2 and "does not exist" in json.loads(missing.stdout)["error"]
    text = cli("export", "No Such Flow")  # without --format json: text on stderr, as before
    assert text.code == 2 and text.stderr.startswith("error: no workflow named") and not text.stdout


# --------------------------------------------------------------------------- schedule


def test_schedule_round_trip_keeps_comments_and_key_order(cli, folder):
    path = folder / "nightly_sync.yaml"
    original = path.read_bytes()
    added = cli("schedule", "Nightly Sync", "0 9 * * 1-5", "--timezone", "Europe/Berlin", "--format", "json")
    assert added.code == 0, added.stderr
    data = json.loads(added.stdout)
    assert (data["schedule"], data["previous_version"], data["version"]) == ("added", "2.1.0", "2.1.1")
    text = path.read_text()
    for kept in ("# yaml-language-server", "# Nightly sync: keep these comments.", "# inline comment",
                 "# flow mapping kept", "# pull first", "retry: {max_attempts: 2, delay: 1}"):
        assert kept in text
    keys = [line.split(":")[0] for line in text.splitlines() if line and not line[0].isspace() and not line.startswith("#")]
    assert keys == ["name", "version", "description", "tags", "parameters", "triggers", "steps"]
    assert Path(data["archived"]).read_bytes() == original
    wf = validate_file(path).workflow
    assert [t.type for t in wf.triggers] == ["manual", "schedule"]
    assert wf.schedules[0].options == {"cron": "0 9 * * 1-5", "timezone": "Europe/Berlin"}
    # replace: a phrase works too, the time zone is kept
    replaced = cli("schedule", "nightly_sync", "every day at 6:30am")
    assert replaced.code == 0 and "At 06:30 (Europe/Berlin)" in replaced.stdout
    assert validate_file(path).workflow.schedules[0].options == {"cron": "30 6 * * *", "timezone": "Europe/Berlin"}
    # remove: back to the original file, but for the version
    removed = cli("schedule", "Nightly Sync", "--remove")
    assert removed.code == 0
    assert path.read_text() == COMMENTED.replace('version: "2.1.0"', 'version: "2.1.3"')
    bad = cli("schedule", "Nightly Sync", "61 * * * *")
    assert bad.code == 2 and "not a cron expression" in bad.stderr
    bad_tz = cli("schedule", "Nightly Sync", "@daily", "--timezone", "Mars/Olympus")
    assert bad_tz.code == 2


# --------------------------------------------------------------------------- export / import


def test_export_import_round_trip_yaml_json_yaml_gives_an_identical_model(cli, folder, tmp_path):
    exported = tmp_path / "sync.json"
    done = cli("export", "Nightly Sync", "--format", "json", "--file", str(exported))
    assert done.code == 0, done.stderr
    data = json.loads(exported.read_text())
    assert data["name"] == "Nightly Sync" and list(data)[:2] == ["name", "version"]
    again = cli("export", "Nightly Sync", "--format", "json", "--file", str(exported))
    assert again.code == 2 and "--force" in json.loads(again.stdout)["error"]
    imported = cli("import", str(exported), "--name", "Sync Back", "--format", "json")
    assert imported.code == 0, imported.stderr
    info = json.loads(imported.stdout)
    back = Path(info["file"])
    assert back.name == "sync_back.yaml" and back.read_text().startswith('name: "Sync Back"')
    assert model_of(back, "n") == model_of(COMMENTED, "n")
    yaml_out = cli("export", "Sync Back")
    assert yaml_out.code == 0 and yaml_out.stdout == back.read_text()
    assert cli("export", "Nightly Sync").stdout == COMMENTED  # the file as it is, comments included


def test_import_validates_first_and_replaces_only_with_force(cli, folder, tmp_path):
    broken = write(tmp_path, "broken.yaml", COMMENTED.replace("tool: shell", "tool: shel"))
    done = cli("import", str(broken), "--name", "Broken Import")
    assert done.code == 1 and "unknown tool `shel`" in done.stderr
    assert not (folder / "broken_import.yaml").exists()
    same = write(tmp_path, "same.yaml", COMMENTED.replace("echo done", "echo changed"))
    refused = cli("import", str(same))
    assert refused.code == 1 and "--force" in refused.stderr
    forced = cli("import", str(same), "--force", "--format", "json")
    assert forced.code == 0, forced.stderr
    info = json.loads(forced.stdout)
    assert (info["previous_version"], info["version"]) == ("2.1.0", "2.1.1")
    assert "echo changed" in (folder / "nightly_sync.yaml").read_text()
    assert Path(info["archived"]).read_text() == COMMENTED


# --------------------------------------------------------------------------- versions


def test_versions_rollback_restores_byte_identical_content_and_diff(cli, folder):
    path = folder / "nightly_sync.yaml"
    original = path.read_bytes()
    assert cli("schedule", "Nightly Sync", "@daily").code == 0
    assert cli("schedule", "Nightly Sync", "@hourly").code == 0
    listed = json.loads(cli("versions", "Nightly Sync", "--format", "json").stdout)
    assert [(v["version"], v["current"]) for v in listed["versions"]] == [("2.1.0", False), ("2.1.1", False), ("2.1.2", True)]
    assert [(e["action"], e["by"]) for e in listed["log"]] == [("schedule", "tester"), ("schedule", "tester")]
    diff = json.loads(cli("diff", "Nightly Sync", "2.1.1", "2.1.2", "--format", "json").stdout)
    assert diff["changed"] and '-    cron: "@daily"' in diff["diff"] and '+    cron: "@hourly"' in diff["diff"]
    text_diff = cli("diff", "Nightly Sync", "2.1.0")
    assert text_diff.code == 0 and "+++ nightly_sync@2.1.2 (current)" in text_diff.stdout
    rolled = cli("rollback", "Nightly Sync", "2.1.0", "--format", "json")
    assert rolled.code == 0, rolled.stderr
    assert path.read_bytes() == original  # byte-identical content: its `version` is 2.1.0 again...
    change = json.loads(rolled.stdout)
    assert (change["previous_version"], change["version"], change["restored"], change["revision"]) == (
        "2.1.2", "2.1.0", "2.1.0", 3)  # ...and the rollback is a new revision of the workflow
    assert Path(change["archived"]).name == "2.1.2.yaml"
    listed = json.loads(cli("versions", "Nightly Sync", "--format", "json").stdout)
    assert [(e["seq"], e["action"]) for e in listed["log"]] == [(1, "schedule"), (2, "schedule"), (3, "rollback")]
    assert listed["log"][-1]["restored"] == "2.1.0" and listed["log"][-1]["previous"] == "2.1.2"
    assert [(v["version"], v["current"], v["revisions"]) for v in listed["versions"]] == [
        ("2.1.0", True, [3]), ("2.1.1", False, [1]), ("2.1.2", False, [2])]
    assert listed["revision"] == 3 and listed["current"]["version"] == "2.1.0"
    assert listed["current"]["rollback"] == {**listed["current"]["rollback"], "seq": 3, "restored": "2.1.0",
                                             "previous": "2.1.2", "by": "tester"}
    shown = cli("versions", "Nightly Sync")
    assert "current version 2.1.0, revision #3 — rolled back to saved version 2.1.0 (replacing 2.1.2)" in shown.stdout
    assert "#3 (rollback)" in shown.stdout
    assert any(line.strip().startswith("#3 ") and "rollback  2.1.2 → 2.1.0 (restored saved version 2.1.0)" in line
               for line in shown.stdout.splitlines()), shown.stdout
    # the next change bumps above every saved version, and is revision 4
    nxt = json.loads(cli("schedule", "Nightly Sync", "@weekly", "--format", "json").stdout)
    assert (nxt["version"], nxt["revision"]) == ("2.1.3", 4)
    after = json.loads(cli("versions", "Nightly Sync", "--format", "json").stdout)
    assert after["current"]["rollback"] is None and [v["version"] for v in after["versions"]] == [
        "2.1.0", "2.1.1", "2.1.2", "2.1.3"]
    assert after["versions"][0]["revisions"] == [3]  # the content revision 3 restored, archived again
    assert cli("rollback", "Nightly Sync", "0.0.1").code == 1
    assert cli("diff", "Nightly Sync", "7.7.7").code == 2


# --------------------------------------------------------------------------- edit / delete


EDITOR = """\
import pathlib, sys
path = pathlib.Path(sys.argv[1])
counter = pathlib.Path({counter!r})
n = int(counter.read_text()) + 1 if counter.exists() else 1
counter.write_text(str(n))
pathlib.Path({seen!r}).open("a").write(f"--- call {{n}}\\n" + path.read_text())
text = path.read_text()
mode = {mode!r}
if mode == "fix" and n == 1:
    path.write_text(text.replace("tool: shell", "tool: shel", 1))
elif mode == "fix":
    lines = [l for l in text.splitlines(True) if not l.startswith("#! yaml2dag edit: ")]
    path.write_text("".join(lines).replace("tool: shel\\n", "tool: shell\\n").replace("echo done", "echo edited"))
elif mode == "always_bad" and n == 1:
    path.write_text(text.replace("tool: shell", "tool: shel", 1))
elif mode == "same":
    pass
"""


def editor(tmp_path, mode: str) -> tuple[str, Path]:
    counter, seen = tmp_path / f"{mode}.count", tmp_path / f"{mode}.seen"
    script = tmp_path / f"editor_{mode}.py"
    script.write_text(EDITOR.format(counter=str(counter), seen=str(seen), mode=mode))
    return f"{sys.executable} {script}", seen


def test_edit_reopens_on_errors_and_saves_only_a_valid_file(cli, folder, tmp_path):
    command, seen = editor(tmp_path, "fix")
    done = cli("edit", "Nightly Sync", extra_env={"EDITOR": command})
    assert done.code == 0, done.stdout + done.stderr
    assert "unknown tool `shel`" in done.stdout
    transcript = seen.read_text()
    assert "--- call 2\n#! yaml2dag edit: fix these and save" in transcript  # errors shown in the file
    text = (folder / "nightly_sync.yaml").read_text()
    assert "echo edited" in text and "#! yaml2dag" not in text and 'version: "2.1.1"' in text
    assert "# Nightly sync: keep these comments." in text


def test_edit_never_saves_an_invalid_file(cli, folder, tmp_path):
    path = folder / "nightly_sync.yaml"
    before = path.read_bytes()
    command, _seen = editor(tmp_path, "always_bad")
    done = cli("edit", "Nightly Sync", extra_env={"EDITOR": command})
    assert done.code == 1 and "nothing was saved" in done.stderr
    assert path.read_bytes() == before and not (folder / ".versions").exists()
    command, _seen = editor(tmp_path, "same")
    same = cli("edit", "Nightly Sync", "--format", "json", extra_env={"EDITOR": command})
    assert same.code == 0 and json.loads(same.stdout)["changed"] is False
    failing = cli("edit", "Nightly Sync", extra_env={"EDITOR": "false"})
    assert failing.code == 1 and path.read_bytes() == before


def test_delete_asks_and_keeps_a_copy(cli, folder):
    path = folder / "nightly_sync.yaml"
    declined = cli("delete", "Nightly Sync", input="n\n")
    assert declined.code == 1 and path.exists()
    no_answer = cli("delete", "Nightly Sync")  # no input: not deleted
    assert no_answer.code == 1 and path.exists()
    done = cli("delete", "Nightly Sync", "--yes", "--format", "json")
    assert done.code == 0, done.stderr
    info = json.loads(done.stdout)
    assert not path.exists() and Path(info["archived"]).read_text() == COMMENTED
    assert cli("show", "Nightly Sync").code == 2


# --------------------------------------------------------------------------- no Dagster


@pytest.mark.parametrize("args", [
    ("export", "Nightly Sync", "--format", "json"),
    ("versions", "Nightly Sync"),
    ("schedule", "Nightly Sync", "@daily"),
    ("diff", "Nightly Sync", "2.1.0"),
    ("create", "Described", "--describe", "run tests every day at 9am", "--yes"),
    ("list",),
])
def test_library_commands_never_import_dagster(folder, tmp_path, args):
    home = make_dagster_home(tmp_path / "dagster_home")
    env = {"YAML2DAG_DEFINITIONS": str(folder), "DAGSTER_HOME": str(home), "NO_COLOR": "1"}
    done = run_cli_counting_dagster(*args, env=env)
    assert "EXIT 0 DAGSTER 0" in done.stderr, done.stderr


# --------------------------------------------------------------------------- model drafts


def test_create_describe_uses_the_configured_model(cli, folder):
    with fake_model(["name: x\nsteps: []\n", f"```yaml\n{VALID_YAML}```"]) as model:
        done = cli("create", "Model Made", "--describe", "say hello", "--yes", extra_env={"YAML2DAG_LLM_URL": model.url})
    assert done.code == 0, done.stdout + done.stderr
    assert len(model.requests) == 2 and "after 1 correction(s)" in done.stdout
    wf = validate_file(folder / "model_made.yaml").workflow
    assert wf.name == "Model Made" and [s.id for s in wf.steps] == ["hello"]
