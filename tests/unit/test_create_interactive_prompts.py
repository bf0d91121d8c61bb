"""The questions of `yaml2dag create --interactive` and of `create --describe -i`
(yaml2dag.cli.library.prompts) answered in-process through click's CliRunner: every invalid
answer is explained and asked again, the valid answer that follows is what the saved file holds,
too many invalid answers or the end of input stop with a message and save nothing.
No Dagster run, no subprocess."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from yaml2dag.format.validation import validate_file


@pytest.fixture
def defs(tmp_path, monkeypatch) -> Path:
    folder = tmp_path / "defs"
    folder.mkdir()
    monkeypatch.setenv("YAML2DAG_DEFINITIONS", str(folder))
    monkeypatch.setenv("YAML2DAG_USER", "tester")
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.delenv("YAML2DAG_LLM_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return folder


def create(*args: str, answers: list[str]):
    from yaml2dag.cli import main

    return CliRunner().invoke(main, ["create", *args], input="\n".join(answers) + "\n", catch_exceptions=False)


#: A session in which almost every question first gets a wrong answer: (answer, what it is).
CORRECTED = [
    ("", "name: the default (NAME)"),
    ("Mails and cleans up", "description"),
    ("", "tags: none"),
    ("count:integer=abc", "parameter: not an integer"),
    ("count:integer=5", "parameter"),
    ("token:secret=hunter2", "parameter: a secret with a default"),
    ("token:colour", "parameter: unknown type"),
    ("token:secret", "parameter"),
    ("options={a: 1}", "parameter: a mapping default stays text"),
    ("blank=", "parameter: an empty default"),
    ("ratio=0.5", "parameter: a number"),
    ("flag:boolean=yes", "parameter: a boolean"),
    ("pattern=[a-z", "parameter: not YAML, the default is the text"),
    ("", "end of parameters"),
    ("", "step id: none yet"),
    ("count", "step id: a parameter's name"),
    ("Mail", "step id: uppercase"),
    ("mail", "step 1 id"),
    ("Send the mail", "step name"),
    ("notfy", "tool: unknown"),
    ("notify", "tool"),
    ("shout", "action: unknown"),
    ("email", "action"),
    ("[ops@example.org, dev@example.org]", "to: a list"),
    ("{{ count }} builds", "subject: a template stays text"),
    ("body", "more parameters: no ="),
    ("colour=red", "more parameters: not a parameter of notify.email"),
    ("body=[unclosed", "more parameters: not YAML, kept as text"),
    ("", "end of parameters"),
    ("ignore", "on error: not a choice"),
    ("retry", "on error"),
    ("1", "max attempts: too few"),
    ("3", "max attempts"),
    ("cleanup", "step 2 id"),
    ("", "name: none"),
    ("", "tool: the default (shell)"),
    ("", "command: required"),
    ("rm -rf build", "command"),
    ("fallback", "on error"),
    ("echo cleanup failed", "fallback command"),
    ("", "no more steps"),
    ("", "on failure: nothing"),
    ("once in a blue moon", "schedule: neither cron nor a phrase"),
    ("0 6 * * 1", "schedule: cron"),
    ("Mars/Olympus", "time zone: unknown"),
    ("", "time zone: the default (UTC)"),
    ("y", "save"),
]


def test_each_invalid_answer_is_explained_and_the_valid_one_after_it_is_saved(defs):
    done = create("Corrected Flow", "-i", answers=[a for a, _ in CORRECTED])
    assert done.exit_code == 0, done.output
    for message in ("parameter `count`: expected an integer (e.g. count=5), got 'abc'",
                    "a secret has no default: it is read from the environment",
                    "unknown type 'colour'; types: string, integer",
                    "a workflow needs at least one step",
                    "ids are lowercase letters, digits and _ (not starting with a digit)",
                    "unknown tool 'notfy'; did you mean `notify`? (tools: shell, python",
                    "`count` is already a step or parameter",
                    "notify actions: log, webhook, email",
                    "write key=value",
                    "notify.email parameters: to, cc, bcc, subject",
                    "one of abort, continue, retry, fallback",
                    "a whole number of at least 2 (the first try counts)",
                    "an answer is required",
                    "not a cron expression (",
                    "nor a phrase like \"every weekday at 9am\"",
                    "unknown time zone `Mars/Olympus`"):
        assert message in done.output, message
    assert "created Corrected Flow version 1.0.0" in done.output
    report = validate_file(defs / "corrected_flow.yaml")
    assert report.valid, [p.format() for p in report.problems]
    wf = report.workflow
    declared = (defs / "corrected_flow.yaml").read_text()
    assert "  token:\n    type: secret\n  options:" in declared  # a secret without a default
    assert {p.name: (p.type, p.default) for p in wf.parameters if p.name != "token"} == {
        "count": ("integer", 5), "options": ("string", "{a: 1}"),
        "blank": ("string", ""), "ratio": ("number", 0.5), "flag": ("boolean", True), "pattern": ("string", "[a-z")}
    assert wf.description == "Mails and cleans up"
    mail, cleanup = wf.steps
    assert (mail.name, mail.tool, mail.action) == ("Send the mail", "notify", "email")
    assert mail.parameters == {"to": ["ops@example.org", "dev@example.org"], "subject": "{{ count }} builds",
                               "body": "[unclosed"}
    assert (mail.retry.max_attempts, mail.on_error) == (3, "retry")
    assert (cleanup.tool, cleanup.parameters, cleanup.on_error) == ("shell", {"command": "rm -rf build"}, "fallback")
    assert cleanup.fallback.parameters == {"command": "echo cleanup failed"}
    assert not wf.on_failure
    assert [t.type for t in wf.triggers] == ["manual", "schedule"]
    assert wf.schedules[0].options == {"cron": "0 6 * * 1"}  # UTC: no timezone key


def test_twenty_invalid_answers_to_one_question_stop_the_session(defs):
    answers = ["", "", ""] + ["not a parameter!"] * 20 + ["", "build", "", "shell", "true", "", "", "", "y"]
    done = create("Stubborn", "-i", answers=answers)
    assert done.exit_code == 2
    assert "Error: too many invalid answers to 'parameter'" in done.output  # the question, not its indentation
    assert done.output.count("write it as name[:type][=default]") == 20
    assert list(defs.iterdir()) == []


@pytest.mark.parametrize("answers, last_question", [
    (["", "", ""], "  parameter"),
    (["", "", "", "", "build", "", "shell"], "  command"),
    (["", "", "", "", "build", "", "shell", "true", "abort", ""], "On failure, log this message"),
])
def test_the_input_ending_at_any_question_saves_nothing(defs, answers, last_question):
    from yaml2dag.cli import main

    done = CliRunner().invoke(main, ["create", "Cut Short", "-i"], input="\n".join(answers) + "\n")
    assert done.exit_code == 1
    assert done.output.rstrip().endswith("error: the input ended before the questions did; nothing was saved")
    assert last_question in done.output.splitlines()[-2]
    assert list(defs.iterdir()) == []
    as_json = CliRunner().invoke(main, ["create", "Cut Short", "-i", "--format", "json"], input="\n".join(answers) + "\n")
    assert as_json.exit_code == 1
    assert json.loads(as_json.stdout)["error"] == "the input ended before the questions did; nothing was saved"


def test_a_schedule_phrase_suggests_its_time_zone_and_a_failure_message_adds_a_report_step(defs):
    answers = ["Phrased", "", "nightly,  ,ci", "", "build", "", "shell", "make", "continue", "",
               "the build broke", "every day at 7am", "Europe/Rome", "y"]
    done = create("Ignored Name", "-i", answers=answers)
    assert done.exit_code == 0, done.output
    wf = validate_file(defs / "phrased.yaml").workflow
    assert (wf.name, wf.tags, wf.steps[0].on_error) == ("Phrased", ("nightly", "ci"), "continue")
    assert wf.schedules[0].options == {"cron": "0 7 * * *", "timezone": "Europe/Rome"}
    (report,) = wf.on_failure
    assert (report.tool, report.action, report.parameters) == ("notify", "log",
                                                               {"message": "the build broke", "level": "error"})
    text = (defs / "phrased.yaml").read_text()
    assert text.index("triggers:") < text.index("steps:") < text.index("on_failure:")


def test_declining_to_save_at_the_end_saves_nothing(defs):
    done = create("Declined", "-i", answers=["", "", "", "", "build", "", "shell", "true", "", "", "", "", "n"])
    assert done.exit_code == 1 and "not saved" in done.output
    assert list(defs.iterdir()) == []


# --------------------------------------------------------------------------- create --describe -i


def test_rephrasing_stops_quietly_when_the_input_ends_and_the_rest_can_still_be_saved(defs):
    """The input ends at the rephrasing question: the phrase is left out; the end of input at
    the save question answers no."""
    from yaml2dag.cli import main

    done = CliRunner().invoke(main, ["create", "Moon", "-i", "--describe", "run tests then fly to the moon"], input="")
    assert "not understood: fly to the moon" in done.output
    assert done.exit_code == 1 and "not saved" in done.output
    assert list(defs.iterdir()) == []


def test_a_rephrasing_that_is_still_not_understood_is_asked_again_then_left_out(defs):
    done = create("Moon", "-i", "--describe", "run tests then fly to the moon",
                  answers=["jump over the moon", "", "y"])
    assert done.exit_code == 0, done.output
    assert "not understood: fly to the moon" in done.output
    assert "not understood: jump over the moon" in done.output
    import yaml

    saved = yaml.safe_load((defs / "moon.yaml").read_text())
    assert [s["parameters"].get("command") for s in saved["steps"]] == ["pytest -q"]


def test_a_refused_phrase_is_shown_with_its_reason_and_can_be_left_out(defs):
    done = create("Disk", "-i", "--describe", "check disk usage, alert if disk usage is above 100%, fly to the moon",
                  answers=["", "", "y"])
    assert done.exit_code == 0, done.output
    assert ("? refused (disk usage is a percentage from 0 to 100: it can never be above 100%, so this step would "
            "never run): alert if disk usage is above 100%") in done.output
    assert "? not understood: fly to the moon\n  closest supported phrasing: run `COMMAND`" in done.output
    assert "2 phrase(s) were left out. Save the rest to" in done.output
    wf = validate_file(defs / "disk.yaml").workflow
    assert [s.tool for s in wf.steps] == ["system"]


def test_a_rephrasing_that_leaves_no_step_is_reported_and_the_previous_draft_kept(defs):
    done = create("Moon", "-i", "--describe", "run tests then fly to the moon", answers=["every day at 25pm", "y"])
    assert done.exit_code == 0, done.output
    assert "  no step understood in the description" in done.output
    assert "hours with am/pm go from 1 to 12" in done.output
    saved = validate_file(defs / "moon.yaml").workflow
    assert [s.parameters.get("command") for s in saved.steps] == ["pytest -q"] and not saved.schedules


def test_a_condition_without_a_step_says_why_it_was_not_understood(defs):
    done = create("Cond", "-i", "--describe", "run tests then fly to the moon", answers=["if tests pass", "", "y"])
    assert done.exit_code == 0, done.output
    assert "? not understood (a condition at the end has no step to apply to): tests pass" in done.output
    assert validate_file(defs / "cond.yaml").valid


def test_rephrasing_stops_after_ten_rounds(defs):
    answers = [f"fly to planet {n}" for n in range(12)] + ["y"]
    done = create("Planets", "-i", "--describe", "run tests then fly to the moon", answers=answers)
    assert done.output.count("say it another way") == 10
    assert "? not understood: fly to planet 8" in done.output and "? not understood: fly to planet 9" not in done.output
    assert "? not understood, left out: fly to planet 9" in done.output  # the last answer, in the draft shown
    # the eleventh answer is the one the save question reads: not y/n, asked again, then y
    assert "please answer y or n" in done.output
    assert done.exit_code == 0, done.output
    assert [s.id for s in validate_file(defs / "planets.yaml").workflow.steps] == ["tests"]


def test_a_rephrasing_that_is_understood_ends_the_questions(defs):
    done = create("Moon Two", "-i", "--describe", "run tests then fly to the moon", answers=["run `echo moon`", "y"])
    assert done.exit_code == 0, done.output
    assert done.output.count("say it another way") == 1
    wf = validate_file(defs / "moon_two.yaml").workflow
    assert [s.parameters.get("command") for s in wf.steps] == ["pytest -q", "echo moon"]
    assert wf.description == "run tests then run `echo moon`"
