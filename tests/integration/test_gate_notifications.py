"""Approval gates that tell someone (issue 15, point 2), on real runs.

A gate with `notify` channels sends its waiting message to the local webhook receiver and the
aiosmtpd server of test_tool_notify.py: run id, workflow, question, approvers, the exact
`yaml2dag approve`/`reject` commands and the run's page under $YAML2DAG_URL, secrets masked. A
failing channel leaves a warning in the event log and the gate still decides. A `remind_before`
reminder arrives before the timeout, and none after a decision. Runs start with `yaml2dag run`
and with `dagster job execute`, from a working directory with a relative definitions folder, and
from the UI (the launchpad's GraphQL `launchRun` against `yaml2dag dev`: queued, started by the
daemon's run launcher).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import make_dagster_home, run_cli, write
from local_servers import LocalHTTPServer, free_port, serving, start_dev
from test_tool_notify import Hook, HookHandler, smtp  # noqa: F401 - smtp: a fixture, an aiosmtpd server on 127.0.0.1
from waiting import wait_until

pytestmark = pytest.mark.slow

TOKEN = "tok-5Hq2-never-in-a-message"
UI = "http://dagster.example:3000/ops"
#: Bound for a run or a message to arrive (seconds): generous, the machine is shared.
WAIT = 150


class TimedHookHandler(HookHandler):
    """The webhook receiver of test_tool_notify.py, also noting when each POST arrived."""

    def do_POST(self):  # noqa: N802 - http.server API
        super().do_POST()
        self.server.state.requests[-1]["at"] = time.time()


@pytest.fixture
def hook():
    """A stdlib HTTP server on 127.0.0.1 recording POSTs (and their arrival times): the Hook."""
    with serving(LocalHTTPServer(TimedHookHandler, Hook())) as server:
        server.state.url = server.url
        yield server.state


class Background:
    """A command in a background subprocess (its own process group), cwd ``root``."""

    def __init__(self, argv: list[str], env: dict, root: Path):
        full = dict(os.environ, **env, NO_COLOR="1")
        self.proc = subprocess.Popen(argv, cwd=root, env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, start_new_session=True)

    def finish(self, timeout: float = WAIT) -> tuple[int, str, str]:
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            out, err = self.proc.communicate()
            raise AssertionError(f"did not finish in {timeout}s:\n{out}\n{err}")
        return self.proc.returncode, out, err

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def world(tmp_path, smtp):  # noqa: F811 - the imported fixture
    """(root, env, smtp recorder): a working directory with `defs/`, explicit settings."""
    recorder, port = smtp
    (tmp_path / "defs").mkdir()
    env = {"DAGSTER_HOME": str(make_dagster_home(tmp_path / "home")), "YAML2DAG_DEFINITIONS": "defs",
           "YAML2DAG_URL": UI, "YAML2DAG_SMTP_HOST": "127.0.0.1", "YAML2DAG_SMTP_PORT": str(port),
           "DEPLOY_TOKEN": TOKEN}
    return tmp_path, env, recorder


def _events(env: dict, run_id: str) -> list:
    from dagster import DagsterInstance

    with DagsterInstance.from_config(env["DAGSTER_HOME"]) as inst:
        return list(inst.all_logs(run_id))


def _run_id(env: dict) -> str:
    from dagster import DagsterInstance

    from yaml2dag.runs.runner import prepare_storage

    prepare_storage(env["DAGSTER_HOME"])  # never alongside the background run creating it

    def latest() -> str | None:
        with DagsterInstance.from_config(env["DAGSTER_HOME"]) as inst:
            runs = inst.get_runs(limit=1)
            return runs[0].run_id if runs else None

    return wait_until(latest, WAIT, 0.2, "the run to start")


def _assert_waiting_message(text: str, run_id: str, question: str, approvers: str, step: str = "approve") -> None:
    assert f"run {run_id}" in text
    assert 'workflow "Gated Release"' in text
    assert f"Question: {question}" in text
    assert f"Who may decide: {approvers}" in text
    assert f"Approve: yaml2dag approve {run_id} --step {step}" in text
    assert f"Reject:  yaml2dag reject {run_id} --step {step}" in text
    assert f"Run page: {UI}/runs/{run_id}" in text
    assert TOKEN not in text


def _gate(root: Path, notify: str, gate_params: str = "", after: str = "") -> None:
    write(root / "defs", "release.yaml", f"""
        name: Gated Release
        parameters:
          version: {{type: string, default: "2.1"}}
          deploy_token: {{type: secret}}
        steps:
          - id: approve
            tool: approval
            parameters:
              message: "Release {{{{ version }}}} with token {{{{ deploy_token }}}}?"
              approvers: [alice, bob]
              poll_interval: 0.2
              {gate_params}
              notify:
{notify}
          - id: release
            tool: shell
            parameters: {{command: "echo released by {{{{ approve.approved_by | join(',') }}}}{after}"}}
        outputs:
          decision: "{{{{ approve.decision }}}}"
    """)


def test_yaml2dag_run_notifies_webhook_and_email_and_a_failing_channel_does_not_block_the_gate(world, hook):
    root, env, mails = world
    dead = f"http://127.0.0.1:{free_port()}/nobody-listens"
    _gate(root, f"""
                - {{channel: webhook, url: "{dead}", timeout: 5s}}
                - {{channel: webhook, url: "{hook.url}/gates"}}
                - {{channel: email, to: [ops@example.com], from: gates@example.com}}
    """.rstrip(), gate_params="timeout: 10m\n              on_timeout: reject")
    run = Background([sys.executable, "-m", "yaml2dag", "run", "Gated Release", "--format", "json"], env, root)
    try:
        run_id = _run_id(env)
        wait_until(lambda: hook.requests and mails.messages, WAIT, 0.2, "the webhook POST and the email",
                   process=run.proc)
        text = hook.requests[0]["json"]["text"]
        _assert_waiting_message(text, run_id, "Release 2.1 with token ***?", "alice, bob (1 approval needed)")
        assert "Approval needed" in text and "then it is rejected" in text
        assert hook.requests[0]["path"] == "/gates"
        mail = mails.messages[0]["message"]
        assert mails.messages[0]["rcpt_tos"] == ["ops@example.com"]
        assert mail["Subject"].startswith("Approval needed: Gated Release / approve")
        _assert_waiting_message(mail.get_content(), run_id, "Release 2.1 with token ***?",
                                "alice, bob (1 approval needed)")
        # the dead channel's failure is a warning; the gate still waits and decides
        warned = wait_until(lambda: [r for r in _events(env, run_id) if "notification by webhook failed" in
                                     (r.user_message or "")], WAIT, 0.5, "the warning of the failed channel")
        assert warned[0].level == 30 and "the gate keeps waiting" in warned[0].user_message  # logging.WARNING
        decided = run_cli("approve", run_id, "--by", "bob", env=env, cwd=root)
        assert decided.code == 0, decided.stderr
        code, out, err = run.finish()
    finally:
        run.kill()
    assert code == 0, err
    result = json.loads(out)
    assert result["status"] == "SUCCESS" and result["outputs"] == {"decision": "approved"}
    assert len(hook.requests) == 1 and len(mails.messages) == 1  # no reminder was asked for
    stored = "\n".join(str(r.user_message) + repr(r.dagster_event) for r in _events(env, run_id))
    assert TOKEN not in stored
    assert "sent the waiting notification by email to ops@example.com" in stored


def test_dagster_job_execute_reminds_before_the_timeout(world, hook):
    """Two approvals needed: after alice's, the reminder comes before the timeout, saying so.

    The reminder is due 20 s after the gate starts waiting (timeout 40 s, remind_before 20 s):
    alice's `yaml2dag approve` (one CLI call after the first message, a few seconds, more on a
    loaded CI machine: 20 s leaves a wide margin) lands first."""
    root, env, mails = world
    _gate(root, f"""
                - {{channel: webhook, url: "{hook.url}", remind_before: 20s}}
    """.rstrip(), gate_params="timeout: 40s\n              on_timeout: approve\n              required_approvals: 2")
    run = Background([sys.executable, "-m", "dagster", "job", "execute", "-m", "yaml2dag.definitions",
                      "-j", "gated_release"], env, root)
    try:
        run_id = _run_id(env)
        wait_until(lambda: hook.requests, WAIT, 0.2, "the waiting message", process=run.proc)
        first = hook.requests[0]["json"]["text"]
        _assert_waiting_message(first, run_id, "Release 2.1 with token ***?", "alice, bob (2 approvals needed)")
        assert "Reminder" not in first
        decided = run_cli("approve", run_id, "--by", "alice", env=env, cwd=root)
        assert decided.code == 0, decided.stderr
        wait_until(lambda: len(hook.requests) >= 2, WAIT, 0.2, "the reminder", process=run.proc)
        code, _out, err = run.finish()
    finally:
        run.kill()
    assert code == 0, err
    reminder = hook.requests[1]["json"]["text"]
    assert reminder.startswith('Reminder: still waiting for approval in workflow "Gated Release"')
    assert "it times out in" in reminder and "Approved so far: alice (1 of 2)" in reminder
    _assert_waiting_message(reminder, run_id, "Release 2.1 with token ***?", "alice, bob (2 approvals needed)")
    assert len(hook.requests) == 2
    # before the timeout: before the deadline the gate announced, and before it resolved
    from yaml2dag.runs.approvals import MARKER, _meta_values

    records = _events(env, run_id)
    waiting = [_meta_values(r) for r in records if (_meta_values(r) or {}).get(MARKER) == "waiting"][0]
    deadline = dt.datetime.fromisoformat(waiting["deadline"]).timestamp()
    resolved = [r for r in records if (_meta_values(r) or {}).get(MARKER) == "resolved"][0]
    assert _meta_values(resolved)["decision"] == "approved"  # on_timeout: approve
    assert hook.requests[0]["at"] < hook.requests[1]["at"] < resolved.timestamp
    assert hook.requests[1]["at"] < deadline


def test_no_reminder_after_a_decision(world, hook):
    """Decided before the reminder's time: the run's process lives past it (a sleeping step after
    the gate), and no reminder is sent. The reminders are due 12 s after the gate starts waiting
    (timeout 60 s, remind_before 48 s); the decision comes a few seconds after the first message."""
    root, env, mails = world
    _gate(root, f"""
                - {{channel: webhook, url: "{hook.url}", remind_before: 48s}}
                - {{channel: email, to: ops@example.com, remind_before: 48s}}
    """.rstrip(), gate_params="timeout: 60s", after="; sleep 14")
    run = Background([sys.executable, "-m", "yaml2dag", "run", "Gated Release", "--format", "json"], env, root)
    try:
        run_id = _run_id(env)
        wait_until(lambda: hook.requests and mails.messages, WAIT, 0.2, "the waiting messages", process=run.proc)
        decided = run_cli("approve", run_id, "--by", "alice", env=env, cwd=root)
        assert decided.code == 0, decided.stderr
        code, out, err = run.finish()
    finally:
        run.kill()
    assert code == 0, err
    assert json.loads(out)["status"] == "SUCCESS"
    records = _events(env, run_id)
    from yaml2dag.runs.approvals import MARKER, _meta_values

    waiting = [r for r in records if (_meta_values(r) or {}).get(MARKER) == "waiting"][0]
    decision = [r for r in records if (_meta_values(r) or {}).get(MARKER) == "decision"][0]
    ended = max(r.timestamp for r in records)
    assert ended - waiting.timestamp > 12 + 1, "the run outlived the reminder's time (12s after waiting)"
    # a reminder may only come before the decision (on a very slow machine `approve` could take 12s)
    reminders = [r for r in hook.requests if r["json"]["text"].startswith("Reminder")]
    assert all(r["at"] < decision.timestamp for r in reminders)
    if decision.timestamp - waiting.timestamp < 11:
        assert len(hook.requests) == 1 and len(mails.messages) == 1 and not reminders
        assert not [r for r in records if "reminder notification" in (r.user_message or "")]


def test_a_run_launched_from_the_ui_notifies(tmp_path, hook, monkeypatch):
    (tmp_path / "defs").mkdir()
    _gate(tmp_path, f"""
                - {{channel: webhook, url: "{hook.url}/ui"}}
    """.rstrip(), gate_params="timeout: 10m")
    # the settings of the webserver and daemon, which the run workers they start inherit
    monkeypatch.setenv("YAML2DAG_URL", UI)
    monkeypatch.setenv("DEPLOY_TOKEN", TOKEN)
    with start_dev(tmp_path, tmp_path / "defs", {"gated_release"}, stop_timeout=0) as live:
        from urllib.parse import urlsplit

        from dagster_graphql import DagsterGraphQLClient

        address = urlsplit(live.url)
        client = DagsterGraphQLClient(address.hostname, port_number=address.port)
        run_id = client.submit_job_execution("gated_release", repository_location_name="yaml2dag",
                                             repository_name="__repository__", run_config={})
        live.wait_for("the waiting message", lambda: hook.requests, timeout=WAIT, poll=0.2)
        _assert_waiting_message(hook.requests[0]["json"]["text"], run_id, "Release 2.1 with token ***?",
                                "alice, bob (1 approval needed)")
        env = {"DAGSTER_HOME": str(live.home), "YAML2DAG_DEFINITIONS": "defs"}
        decided = run_cli("approve", run_id, "--by", "alice", env=env, cwd=tmp_path)
        assert decided.code == 0, decided.stderr
        live.wait_for("the run to succeed", lambda: live.run_status(run_id) == "SUCCESS", timeout=WAIT, poll=0.3)
    assert len(hook.requests) == 1 and hook.requests[0]["path"] == "/ui"
