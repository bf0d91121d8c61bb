"""Drafted workflows run for real (issue 12 section 3): conditions built so they can fire.

Each test works as a user would: `yaml2dag create NAME --describe "..." --yes` in a project folder
with the default relative `definitions` folder, then `yaml2dag run NAME key=value` on a temporary
DAGSTER_HOME, against real local servers (aiosmtpd for e-mail, an HTTP server for webhooks) and a
real git repository. A threshold parameter of 0 makes "disk usage is above the threshold" true on
any machine; 100 makes it false.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from email import message_from_bytes
from email import policy as email_policy
from pathlib import Path

import pytest
import yaml

from conftest import CLI_TIMEOUT, make_dagster_home, run_cli
from local_servers import LocalHTTPServer, QuietHandler, serving, start_smtp

GIT_TIMEOUT = 60


class Mailbox:
    """aiosmtpd handler keeping the messages it receives."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):
        self.messages.append((list(envelope.rcpt_tos),
                              message_from_bytes(envelope.original_content, policy=email_policy.default)))
        return "250 OK queued"


class Hooks:
    def __init__(self) -> None:
        self.requests: list[dict] = []


class HookHandler(QuietHandler):
    server: LocalHTTPServer

    def do_POST(self):  # noqa: N802 - http.server API
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.state.requests.append({"path": self.path, "json": json.loads(raw.decode("utf-8"))})
        self._json(200, {"ok": True})


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A user's project folder: `definitions/` (the default, relative), no YAML2DAG_* settings,
    a fresh DAGSTER_HOME, and this interpreter's tools (pytest) on PATH for shell steps."""
    for key in [k for k in os.environ if k.startswith("YAML2DAG_")]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("DAGSTER_HOME", str(make_dagster_home(tmp_path / "dagster_home")))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    root = tmp_path / "project"
    (root / "definitions").mkdir(parents=True)
    return root


def create(project: Path, name: str, sentence: str) -> dict:
    done = run_cli("create", name, "--describe", sentence, "--yes", "--format", "json", cwd=project)
    assert done.code == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["draft"]["unknown"] == []
    return data


def run(project: Path, name: str, *assignments: str, env: dict | None = None) -> dict:
    done = run_cli("run", name, *assignments, "--format", "json", cwd=project, env=env)
    assert done.code == 0, done.stdout + done.stderr
    return json.loads(done.stdout)


def test_an_email_alert_drafted_from_a_sentence_fires_when_the_disk_is_over_the_threshold(project, request):
    mailbox = Mailbox()
    port = start_smtp(request, mailbox)
    smtp = {"YAML2DAG_SMTP_HOST": "127.0.0.1", "YAML2DAG_SMTP_PORT": str(port), "YAML2DAG_SMTP_FROM": "y2d@example.test"}
    create(project, "Disk Mail", "send me an email alert if disk usage is above 90%")
    saved = yaml.safe_load((project / "definitions" / "disk_mail.yaml").read_text())
    assert saved["parameters"]["disk_threshold"]["default"] == 90

    fired = run(project, "Disk Mail", "disk_threshold=0", "email_to=ops@example.com", env=smtp)
    assert fired["status"] == "SUCCESS" and fired["steps"] == {"check_system": "succeeded", "email": "succeeded"}
    assert len(mailbox.messages) == 1
    rcpt, message = mailbox.messages[0]
    assert rcpt == ["ops@example.com"] and message["Subject"] == "[yaml2dag] Disk Mail: alert"
    assert "disk usage on" in message.get_content() and "(over 0" in message.get_content()

    quiet = run(project, "Disk Mail", "disk_threshold=100", "email_to=ops@example.com", env=smtp)
    assert quiet["steps"] == {"check_system": "succeeded", "email": "skipped"}
    assert len(mailbox.messages) == 1  # nothing more was sent


def test_a_chinese_chat_alert_fires_only_when_the_condition_holds(project):
    with serving(LocalHTTPServer(HookHandler, Hooks())) as server:
        hooks = server.state
        create(project, "Disk Ding", "每10分钟检查磁盘，磁盘使用率超过90%时在钉钉上通知我")
        env = {"DINGTALK_WEBHOOK_URL": server.url + "/robot/send"}
        fired = run(project, "Disk Ding", "disk_threshold=0", env=env)
        assert fired["steps"] == {"check_system": "succeeded", "notify": "succeeded"}
        (posted,) = hooks.requests
        assert posted["path"] == "/robot/send" and posted["json"]["msgtype"] == "text"
        assert "disk usage on" in posted["json"]["text"]["content"]
        quiet = run(project, "Disk Ding", "disk_threshold=100", env=env)
        assert quiet["steps"]["notify"] == "skipped" and len(hooks.requests) == 1


def test_alert_if_the_disk_check_fails_now_fires_where_the_old_draft_never_could(project):
    """The old grammar drafted `when: "{{ check_system.status == 'failed' }}"` for this sentence;
    system.check succeeds when a disk is over its threshold, so that alert was skipped even with a
    threshold of 0. The new draft tests the check's alerts."""
    create(project, "Disk Check", "check disk usage and alert if it fails")
    new = run(project, "Disk Check", "disk_threshold=0")
    assert new["steps"] == {"check_system": "succeeded", "notify": "succeeded"}
    old = (project / "definitions" / "old_disk_check.yaml")
    old.write_text(yaml.safe_dump({
        "name": "Old Disk Check",
        "steps": [{"id": "check_system", "tool": "system", "action": "check", "parameters": {"disk_percent": 0},
                   "on_error": "continue"},
                  {"id": "notify", "when": "{{ check_system.status == 'failed' }}", "tool": "notify", "action": "log",
                   "parameters": {"message": "disk check failed"}}]}))
    assert run(project, "Old Disk Check")["steps"]["notify"] == "skipped"


def git(*args: str, cwd: Path) -> None:
    subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, timeout=GIT_TIMEOUT,
                   env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.test",
                        "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.test"})


def test_deploy_if_tests_pass_runs_the_deploy_only_after_passing_tests(project, tmp_path):
    upstream, work, clone = tmp_path / "upstream.git", tmp_path / "work", tmp_path / "clone"
    git("init", "--bare", "-q", str(upstream), cwd=tmp_path)
    git("clone", "-q", str(upstream), str(work), cwd=tmp_path)
    (work / "test_app.py").write_text("def test_ok():\n    assert sum([1, 1]) == 2\n")
    git("add", ".", cwd=work)
    git("commit", "-qm", "passing", cwd=work)
    git("push", "-q", "origin", "HEAD", cwd=work)
    git("clone", "-q", str(upstream), str(clone), cwd=tmp_path)
    create(project, "Ship", "I want to create a workflow that pulls latest code, runs tests, and deploys if tests pass")
    marker = tmp_path / "deployed"
    args = (f"repo_dir={clone}", f"deploy_command=touch {marker}")

    passed = run(project, "Ship", *args)
    assert passed["steps"] == {"pull": "succeeded", "tests": "succeeded", "deploy": "succeeded"}
    assert marker.exists()

    marker.unlink()
    (work / "test_app.py").write_text("def test_ok():\n    assert False\n")
    git("commit", "-qam", "failing", cwd=work)
    git("push", "-q", "origin", "HEAD", cwd=work)
    done = run_cli("run", "Ship", *args, "--format", "json", cwd=project, timeout=CLI_TIMEOUT)
    failed = json.loads(done.stdout)
    assert failed["steps"] == {"pull": "succeeded", "tests": "continued", "deploy": "skipped"}, done.stderr
    assert not marker.exists()
