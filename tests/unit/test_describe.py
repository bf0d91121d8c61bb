"""The phrase grammar of `yaml2dag create --describe` (yaml2dag.library.describe): schedules, clauses,
conditions, verbs, what is reported as not understood — and the optional model drafts, against
a local fake OpenAI-compatible server."""

from __future__ import annotations

import pytest

from yaml2dag.library.describe import DescribeError, draft_from_description, draft_with_llm, parse_schedule
from yaml2dag.format.validation import validate_text

from fake_llm import VALID_YAML, fake_model


def steps_of(draft) -> list[tuple]:
    """(id, tool, action) of each step."""
    return [(s["id"], s["tool"], s.get("action")) for s in draft.data["steps"]]


def step(draft, sid: str) -> dict:
    return next(s for s in draft.data["steps"] + draft.data.get("on_failure", []) if s["id"] == sid)


def crons(draft) -> list[str]:
    return [t["cron"] for t in draft.data.get("triggers", []) if t["type"] == "schedule"]


def valid(draft) -> None:
    report = validate_text(draft.yaml_text(), "draft.yaml")
    assert report.valid, "\n".join(p.format() for p in report.problems) + "\n" + draft.yaml_text()


# --------------------------------------------------------------------------- schedules


@pytest.mark.parametrize("phrase, cron, tz", [
    ("every morning at 10am", "0 10 * * *", None),
    ("weekdays at 6pm", "0 18 * * 1-5", None),
    ("every weekday at 9am", "0 9 * * 1-5", None),
    ("every monday at 8:30", "30 8 * * 1", None),
    ("at 9:30 pm every weekend", "30 21 * * 0,6", None),
    ("every day at noon", "0 12 * * *", None),
    ("daily", "0 0 * * *", None),
    ("every night at midnight", "0 0 * * *", None),
    ("every tuesday and thursday at 7pm UTC", "0 19 * * 2,4", "UTC"),
    ("every weekday at 9am and 5pm", "0 9,17 * * 1-5", None),
    ("every 15 minutes", "*/15 * * * *", None),
    ("every 2 hours", "0 */2 * * *", None),
    ("hourly", "0 * * * *", None),
    ("monthly on the 15th at 6am", "0 6 15 * *", None),
    ("on the 1st of every month", "0 0 1 * *", None),
    ("weekly", "0 0 * * 0", None),
    ("every friday at 17:45 europe/berlin", "45 17 * * 5", "Europe/Berlin"),
    # a day without a time is at midnight, like "daily" and cron's @daily/@weekly (issue 12: "每周一")
    ("every weekday", "0 0 * * 1-5", None),
    ("every monday", "0 0 * * 1", None),
])
def test_schedule_phrases(phrase, cron, tz):
    assert parse_schedule(phrase) == (cron, tz)


@pytest.mark.parametrize("phrase, message", [
    ("every morning", "say at what time"),
    ("every monday morning", "say at what time"),
    ("every 90 minutes", "interval"),
    ("at 13pm every day", "1 to 12"),
    ("now and then", "not a schedule phrase"),
    ("every weekday at 9am and 5:30pm", "different minutes"),
])
def test_schedule_phrases_that_are_refused_not_guessed(phrase, message):
    with pytest.raises(DescribeError) as err:
        parse_schedule(phrase)
    assert message in str(err.value)


# --------------------------------------------------------------------------- whole descriptions


def test_the_issue_example():
    draft = draft_from_description("Deploy", "pull latest code, run tests, and deploy if tests pass, every weekday at 9am")
    assert steps_of(draft) == [("pull", "git", "pull"), ("tests", "shell", None), ("deploy", "shell", None)]
    assert crons(draft) == ["0 9 * * 1-5"]
    assert step(draft, "deploy")["when"] == "{{ tests.succeeded }}"
    assert step(draft, "tests")["on_error"] == "continue"  # so its failure reaches the condition
    assert step(draft, "tests")["parameters"] == {"command": "pytest -q", "cwd": "{{ repo_dir }}"}
    assert step(draft, "deploy")["parameters"]["args"] == ["sh", "-c", "{{ deploy_command }}"]
    assert draft.data["parameters"]["deploy_command"]["default"] == "./deploy.sh"
    assert step(draft, "pull")["parameters"] == {"directory": "{{ repo_dir }}"}
    assert step(draft, "deploy")["name"] == "Deploy if tests pass"
    assert draft.unknown == [] and draft.notes
    valid(draft)


# (description, expected steps, expected crons, expected whens, expected on_failure ids)
CASES = [
    ("back up /var/data to /mnt/backups every night at 2am, then notify the team on slack",
     [("backup", "files", "backup"), ("notify", "notify", "webhook")], ["0 2 * * *"], {}, []),
    ("run `make docs` and then run 'npm ci', on failure notify the team",
     [("run_make", "shell", None), ("run_npm", "shell", None)], [], {}, ["notify"]),
    # system.check succeeds when the disk is full (its alerts are data): "if it fails" tests the
    # alerts the check found, never the step's failure, which could not happen (issue 12)
    ("check disk space every 15 minutes and email ops@example.com if it fails",
     [("check_system", "system", "check"), ("email", "notify", "email")], ["*/15 * * * *"],
     {"email": "{{ check_system.count > 0 }}"}, []),
    ("ask for approval from alice and bob, then deploy to production",
     [("approval", "approval", "request"), ("deploy", "shell", None)], [], {}, []),
    ("fetch https://example.com/api/health every 5 minutes, alert the team if it fails",
     [("fetch", "http", "request"), ("notify", "notify", "log")], ["*/5 * * * *"],
     {"notify": "{{ fetch.status == 'failed' }}"}, []),
    ("install dependencies, run the unit tests, lint the code, build the project",
     [("install", "shell", None), ("tests", "shell", None), ("lint", "shell", None), ("build", "shell", None)], [], {}, []),
    ("every monday at 8:30 run tests", [("tests", "shell", None)], ["30 8 * * 1"], {}, []),
    ("run tests; if tests pass, deploy", [("tests", "shell", None), ("deploy", "shell", None)], [],
     {"deploy": "{{ tests.succeeded }}"}, []),
    ("build it, deploy unless the build fails", [("build", "shell", None), ("deploy", "shell", None)], [],
     {"deploy": "{{ build.succeeded }}"}, []),
    ("clone https://github.com/acme/app.git, run tests and notify me if the tests fail",
     [("clone", "git", "clone"), ("tests", "shell", None), ("notify", "notify", "log")], [],
     {"notify": "{{ tests.status == 'failed' }}"}, []),
    ("run tests then wait 5 minutes then run tests again", None, [], {}, []),
    ("sync the repo at 6am and 6pm, run pytest", [("pull", "git", "pull"), ("tests", "shell", None)], ["0 6,18 * * *"], {}, []),
    ("first pull the code, then build, finally ship it; on failure email dev@example.com",
     [("pull", "git", "pull"), ("build", "shell", None), ("deploy", "shell", None)], [], {}, ["email"]),
    ("check the system every hour and post a message on slack when anything fails",
     [("check_system", "system", "check")], ["0 * * * *"], {}, ["notify"]),
    ("wait for approval, run `./release.sh --fast` every weekday at 6pm",
     [("approval", "approval", "request"), ("run_release_sh", "shell", None)], ["0 18 * * 1-5"], {}, []),
]


@pytest.mark.parametrize("text, expected_steps, expected_crons, whens, failure_ids", CASES)
def test_descriptions_become_the_expected_workflows(text, expected_steps, expected_crons, whens, failure_ids):
    draft = draft_from_description("Example", text)
    if expected_steps is not None:
        assert steps_of(draft) == expected_steps, draft.yaml_text()
    assert crons(draft) == expected_crons
    for sid, when in whens.items():
        assert step(draft, sid)["when"] == when
    assert [s["id"] for s in draft.data.get("on_failure", [])] == failure_ids
    assert draft.data["name"] == "Example" and draft.data["description"] == text.rstrip(".")
    if draft.data.get("triggers"):
        assert draft.data["triggers"][0] == {"type": "manual"}
    valid(draft)


def test_details_of_some_steps():
    draft = draft_from_description("X", "back up /var/data to /mnt/backups, email ops@example.com")
    params = draft.data["parameters"]
    assert params["backup_source"]["default"] == "/var/data" and params["backup_target"]["default"] == "/mnt/backups"
    assert params["email_to"]["default"] == "ops@example.com"
    cmd = draft_from_description("X", "run `make Docs-HTML`")
    assert step(cmd, "run_make")["parameters"]["command"] == "make Docs-HTML"  # the command keeps its case
    approval = draft_from_description("X", "ask for approval from alice and bob")
    assert step(approval, "approval")["parameters"]["approvers"] == ["alice", "bob"]
    on_fail = draft_from_description("X", "run tests, on failure notify the team")
    assert "{{ failed_step }}" in step(on_fail, "notify")["parameters"]["message"]
    twice = draft_from_description("X", "run tests then wait 5 minutes then run tests again")
    assert [s["id"] for s in twice.data["steps"]][:2] == ["tests", "wait"]
    assert step(twice, "wait")["parameters"]["command"] == "sleep 300"


def test_phrases_it_does_not_understand_are_reported_never_guessed():
    draft = draft_from_description("X", "run tests then fly to the moon, and make coffee every morning")
    assert steps_of(draft) == [("tests", "shell", None)]
    assert "fly to the moon" in draft.unknown
    assert any("say at what time" in u for u in draft.unknown)  # "every morning" without a time
    assert crons(draft) == []


def test_a_condition_on_an_unknown_step_leaves_the_clause_out():
    draft = draft_from_description("X", "run lint, then deploy if tests pass")
    assert steps_of(draft) == [("lint", "shell", None)]
    assert draft.unknown == ["deploy if tests pass (no step called 'tests' before it)"]


def test_no_step_understood_is_an_error():
    with pytest.raises(DescribeError) as err:
        draft_from_description("X", "make everything better every day")
    assert "no step understood" in str(err.value) and "make everything better" in str(err.value)


# --------------------------------------------------------------------------- model drafts


def test_model_draft_is_validated_and_errors_are_fed_back():
    with fake_model(["```yaml\nname: x\nsteps:\n  - id: a\n    tool: shel\n```", f"Here:\n```yaml\n{VALID_YAML}```"]) as model:
        draft = draft_with_llm("Hello Flow", "say hello", url=model.url, model="m1", api_key="k3y")
    assert draft.source == "llm" and draft.data["name"] == "Hello Flow"  # the name is forced
    assert validate_text(draft.yaml_text()).valid
    assert len(model.requests) == 2
    first, second = model.requests
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer k3y"
    assert first["body"]["model"] == "m1"
    feedback = second["body"]["messages"][-1]["content"]
    assert "unknown tool `shel`" in feedback and "steps[0].tool" in feedback


def test_model_draft_gives_up_after_three_corrections():
    with fake_model(["name: x\nsteps: []\n"] * 4) as model:
        with pytest.raises(DescribeError) as err:
            draft_with_llm("X", "nothing", url=model.url, retries=3)
    assert "after 3 correction(s)" in str(err.value)
    assert len(model.requests) == 4  # the first draft and three corrections
