"""An approval gate's `notify` parameter (issue 15, point 2): validation with FILE:LINE:COL, the
messages it composes, and a notifier that never raises (no Dagster run, no server)."""

from __future__ import annotations

import time

import pytest

from local_servers import free_port
from yaml2dag.format.validation import validate_text
from yaml2dag.format.webserver import DEFAULT_URL, run_page_url, webserver_url
from yaml2dag.tools.base import ToolContext, ToolLog
from yaml2dag.tools.gate_notifications import GateFacts, GateNotifier, channels_of, readable_seconds


def _problems(params: str, step: str = "") -> list[str]:
    text = ("name: Gate\nsteps:\n  - id: gate\n    tool: approval\n" + step + "    parameters:\n"
            "      message: ok?\n" + "".join(f"      {line}\n" for line in params.strip("\n").splitlines()))
    return [p.format() for p in validate_text(text, "gate.yaml").problems]


def test_valid_channels_one_or_a_list_with_templates():
    assert _problems("""
timeout: 1h
notify:
  - channel: webhook
    url: "{{ env.HOOK_URL }}"
    headers: {Authorization: "Bearer {{ secrets.HOOK_TOKEN }}"}
    remind_before: 10m
  - {channel: email, to: [ops@example.com], host: smtp.example.com}
  - {channel: log, level: warning}
""") == []
    assert _problems("notify: {channel: webhook, url: 'https://hooks.example/x'}") == []


@pytest.mark.parametrize("params, expected", [
    ("notify: {channel: slack, url: 'http://x'}",
     "gate.yaml:7:25: steps[0].parameters.notify.channel: the string 'slack' is not one of `webhook`, `email`, `log`"),
    ("notify: [{channel: webhook}]", "gate.yaml:7:16: steps[0].parameters.notify[0]: missing required key `url`"),
    ("notify: {channel: webhook, url: 'http://x', text: hi}",
     "gate.yaml:7:51: steps[0].parameters.notify.text: unknown key `text`"),
    ("notify: {channel: email, to: a@example.com, subject: hi}",
     "gate.yaml:7:51: steps[0].parameters.notify.subject: unknown key `subject`"),
    ("notify: {url: 'http://x'}", "gate.yaml:7:15: steps[0].parameters.notify: missing required key `channel`"),
    ("notify: 'http://x'", "gate.yaml:7:15: steps[0].parameters.notify: expected a mapping or a list, "
                           "got the string 'http://x'"),
    ("notify: []", "gate.yaml:7:15: steps[0].parameters.notify: must not be empty"),
    ("timeout: 1h\nnotify: {channel: log, remind_before: soon}",
     "gate.yaml:8:45: steps[0].parameters.notify.remind_before: expected a duration such as 30, \"30s\", "
     "\"10m\", \"2h\", \"1h30m\" or \"PT10M\", got the string 'soon'"),
])
def test_schema_errors_name_file_line_column(params, expected):
    problems = _problems(params)
    assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_remind_before_needs_a_timeout_longer_than_itself():
    assert _problems("notify: {channel: log, remind_before: 30s}") == [
        "gate.yaml:7:45: steps[0].parameters.notify.remind_before: `remind_before` needs a timeout: set the "
        "gate's `timeout` parameter (the reminder goes out that long before it) [parameters]"]
    assert _problems("timeout: 1m\nnotify: [{channel: log}, {channel: log, remind_before: 2m}]") == [
        "gate.yaml:8:62: steps[0].parameters.notify[1].remind_before: `remind_before` (2m) is not shorter than "
        "the gate's timeout (60s): the reminder would go out with the first message [parameters]"]
    # the step's own timeout counts; the shorter of the two decides
    assert _problems("notify: {channel: log, remind_before: 30s}", step="    timeout: 1m\n") == []
    assert _problems("timeout: 1h\nnotify: {channel: log, remind_before: 2m}", step="    timeout: 1m\n")[0] \
        .startswith("gate.yaml:9:45: steps[0].parameters.notify.remind_before: `remind_before` (2m) is not shorter")
    # a templated timeout is only known at run time
    assert _problems("timeout: '{{ 30 }}'\nnotify: {channel: log, remind_before: 2m}") == []


def test_webserver_url_setting(monkeypatch):
    assert webserver_url({}) == DEFAULT_URL == "http://127.0.0.1:3000"
    assert webserver_url({"YAML2DAG_URL": "https://host/dagster/"}) == "https://host/dagster"
    assert webserver_url({"YAML2DAG_URL": "host:3001"}) == "http://host:3001"
    monkeypatch.setenv("YAML2DAG_URL", "http://ui:3000")
    assert run_page_url("abc-123") == "http://ui:3000/runs/abc-123"


FACTS = GateFacts("0f1e2d3c-run", "Release", "gate[1]", "Ship it?", ("alice", "bob"), 2,
                  "2026-12-07T14:00:00+00:00", "reject")


def test_messages_say_run_question_approvers_commands_and_link(monkeypatch):
    monkeypatch.setenv("YAML2DAG_URL", "http://ui:3000")
    subject, text = FACTS.compose()
    assert subject == "Approval needed: Release / gate[1] (run 0f1e2d3c)"
    assert text.splitlines() == [
        'Approval needed in workflow "Release" (run 0f1e2d3c-run, step gate[1]).', "",
        "Question: Ship it?", "Who may decide: alice, bob (2 approvals needed)",
        "Times out at: 2026-12-07T14:00:00+00:00 (then it is rejected)", "",
        "Approve: yaml2dag approve 0f1e2d3c-run --step 'gate[1]'",
        "Reject:  yaml2dag reject 0f1e2d3c-run --step 'gate[1]'",
        "(add --by NAME to decide as NAME; the default is $YAML2DAG_USER or the login name)",
        "Run page: http://ui:3000/runs/0f1e2d3c-run"]
    subject, text = FACTS.compose(reminder=True, time_left=598.4, approved=["alice"])
    assert subject.startswith("Reminder: Approval needed")
    assert text.startswith('Reminder: still waiting for approval in workflow "Release" (run 0f1e2d3c-run, '
                           "step gate[1]); it times out in 9m 58s.")
    assert "Approved so far: alice (1 of 2)" in text
    assert readable_seconds(3900) == "1h 5m" and readable_seconds(0.2) == "0s" and readable_seconds(86400) == "1d"


class Lines(ToolLog):
    def __init__(self):
        self.lines: list[tuple[str, str]] = []

    def info(self, message):
        self.lines.append(("info", message))

    def warning(self, message):
        self.lines.append(("warning", message))


def _notifier(channels, deadline=None, secrets=()):
    log = Lines()
    ctx = ToolContext("gate", run_id="run-1", workflow="Release", log=log, secrets=secrets)
    facts = GateFacts("run-1", "Release", "gate", ctx.mask("token s3cr3t-value?"), (), 1, None, "fail")
    return GateNotifier(ctx, channels_of(channels), facts, deadline), log


def test_a_failing_channel_is_a_warning_and_the_others_still_send():
    notifier, log = _notifier([{"channel": "webhook", "url": f"http://127.0.0.1:{free_port()}/", "timeout": 5},
                               {"channel": "log"}], secrets=("s3cr3t-value",))
    notifier.waiting()
    deadline = time.monotonic() + 60
    while len(log.lines) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    notifier.close()
    warnings = [m for level, m in log.lines if level == "warning"]
    assert len(warnings) == 1 and "the waiting notification by webhook failed (webhook POST to" in warnings[0]
    assert "connection refused" in warnings[0] and warnings[0].endswith("the gate keeps waiting")
    sent = [m for level, m in log.lines if level == "info" and m.startswith("Approval needed")]
    assert len(sent) == 1 and "Question: token ***?" in sent[0] and "s3cr3t-value" not in sent[0]
    assert "approval gate `gate`: sent the waiting notification by log to the event log" in [m for _, m in log.lines]


def test_reminders_come_once_when_due_and_never_after_close():
    notifier, log = _notifier([{"channel": "log", "remind_before": 0.5}], deadline=time.monotonic() + 1.5)
    assert notifier.next_reminder() is not None
    notifier.remind_due()
    time.sleep(0.1)
    assert not log.lines, "not due yet"
    time.sleep(max(0.0, notifier.next_reminder() - time.monotonic()))
    notifier.remind_due(["alice"])
    notifier.remind_due(["alice"])
    bound = time.monotonic() + 30
    while not any(m.startswith("Reminder") for _, m in log.lines) and time.monotonic() < bound:
        time.sleep(0.05)
    notifier.close()
    reminders = [m for _, m in log.lines if m.startswith("Reminder")]
    assert len(reminders) == 1 and "Approved so far: alice (1 of 1)" in reminders[0]
    assert notifier.next_reminder() is None

    closed, log = _notifier([{"channel": "log", "remind_before": 5}], deadline=time.monotonic() + 5.2)
    closed.close()
    time.sleep(0.3)
    closed.remind_due()
    closed.waiting()
    assert log.lines == [] and closed.next_reminder() is None


def test_a_reminder_that_cannot_come_before_the_timeout_is_a_warning():
    _, log = _notifier([{"channel": "log", "remind_before": "1m"}], deadline=time.monotonic() + 30)
    assert log.lines == [("warning", "approval gate `gate`: no reminder by log: remind_before (1m) is not shorter "
                                     "than the time left until the timeout")]
    _, log = _notifier([{"channel": "log", "remind_before": "1m"}])
    assert "remind_before needs a timeout on the gate" in log.lines[0][1]
