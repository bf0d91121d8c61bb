"""The seven built-in workflow templates (issue #4, "Templates"), each run end to end on real
input against real peers started by the test on 127.0.0.1 only:

* git repositories with commits and a bare remote made in temporary folders (Git Sync and Test,
  Daily Standup Report, Deploy Pipeline),
* a real directory tree and old archives (Backup Files),
* this host's real metrics with thresholds 0 and 100 (Monitor and Alert),
* stdlib HTTP servers receiving webhooks, aiosmtpd receiving mail, Dovecot serving IMAP and a
  small OpenAI-compatible fake answering ``/v1/chat/completions`` (Email Digest),
* vega_datasets' seattle-weather.csv, whose numbers are checked against pandas (Data Processing
  Pipeline),
* a production deploy approved from a second process with ``yaml2dag approve``.

The peers are the ones the tool tests use (imported from their modules, not copied). This file
is not called ``test_templates.py`` because ``tests/unit/test_templates.py`` exists and pytest
(rootdir import mode, no packages) refuses two test modules with the same basename.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
import re
import tarfile
from pathlib import Path

import pandas as pd
import pytest

from conftest import make_dagster_home, run_cli, run_process, write
from local_servers import everything_stored
from test_control_flow import _BackgroundRun as BackgroundRun
from test_control_flow import _wait_for_gate as wait_for_gate
from test_tool_email import PASSWORD as IMAP_PASSWORD
from test_tool_email import USER as IMAP_USER
from test_tool_email import dovecot  # noqa: F401 - a fixture: a real Dovecot on loopback
from test_tool_email import message
from test_tool_git import bare_and_clone, commit, git
from test_tool_llm import API_KEY
from test_tool_llm import fake  # noqa: F401 - a fixture: the OpenAI-compatible fake server
from test_tool_notify import hook, smtp  # noqa: F401 - fixtures: webhook receiver, aiosmtpd
from yaml2dag.format.validation import validate_text
from yaml2dag.library.workflow_templates import find_template, instantiate, list_templates, template_text

pytestmark = pytest.mark.slow

EXPECTED = {
    "Backup Files": "backup_files.yaml",
    "Daily Standup Report": "daily_standup_report.yaml",
    "Data Processing Pipeline": "data_processing_pipeline.yaml",
    "Deploy Pipeline": "deploy_pipeline.yaml",
    "Email Digest": "email_digest.yaml",
    "Git Sync and Test": "git_sync_and_test.yaml",
    "Monitor and Alert": "monitor_and_alert.yaml",
}

#: Bound for a deploy run in the background (seconds).
RUN_TIMEOUT = 180


def run_template(run_yaml, name: str, params: dict | None = None):
    """Run the template's own text (not a copy) through the real instance."""
    return run_yaml(template_text(name), params or {}, name=find_template(name).file)


# --------------------------------------------------------------------------- catalog


def test_the_seven_templates_ship_valid_typed_and_described():
    found = list_templates()
    assert {t.name: t.file for t in found} == EXPECTED
    for info in found:
        text = template_text(info.name)
        report = validate_text(text, info.file)
        assert report.valid and not report.problems, (info.name, [p.format() for p in report.problems])
        wf = report.workflow
        assert wf.description and wf.version == "1.0.0" and "template" in wf.tags, info.name
        assert text.startswith(f"# {info.name} — a built-in yaml2dag template"), info.name
        assert len(wf.parameters) >= 4, info.name
        for param in wf.parameters:
            assert param.type in ("string", "integer", "number", "boolean", "array", "object"), (info.name, param.name)
            assert not param.required, f"{info.name}: parameter {param.name} has no default"
            assert len(param.description) >= 20, (info.name, param.name)
    # lookups by name, job id and file stem, case-insensitive
    assert find_template("backup files").file == "backup_files.yaml"
    assert find_template("monitor_and_alert").name == "Monitor and Alert"
    # the command-line validator agrees on the package folder
    import yaml2dag.library.workflow_templates as package

    checked = run_cli("validate", str(Path(package.__file__).parent))
    assert checked.code == 0, checked.stdout + checked.stderr
    assert "7 workflow file(s) valid" in checked.stdout


def test_the_templates_page_documents_every_template_and_parameter():
    """docs/manual/workflow_templates_en.md has a section per template whose parameter table
    lists every parameter with its default, and a `create --from-template` example."""
    from conftest import REPO

    page = (REPO / "docs" / "manual" / "workflow_templates_en.md").read_text()
    starts = {}
    for info in list_templates():
        assert page.count(f"\n## {info.name}\n") == 1, f"no section for {info.name}"
        starts[info.name] = page.index(f"\n## {info.name}\n")
    bounds = sorted(starts.values()) + [len(page)]
    for info in list_templates():
        body = page[starts[info.name]:bounds[bounds.index(starts[info.name]) + 1]]
        for heading in ("### Parameters", "### Secrets and environment", "### Copy and run", "### Outputs"):
            assert heading in body, (info.name, heading)
        assert f'--from-template "{info.name}"' in body, info.name
        table = body.split("### Parameters", 1)[1].split("\n### ", 1)[0]
        rows = {m.group(1): m.group(0) for m in re.finditer(r"^\| `(\w+)` \|.*$", table, re.M)}
        for param in info.parameters:
            assert param.name in rows, f"{info.name}: parameter {param.name} is not documented"
            if param.name != "prompt":
                shown = json.dumps(param.default, ensure_ascii=False)
                assert f"`{shown}`" in rows[param.name], (info.name, param.name, shown)
        for output in info.workflow.outputs:
            assert f"`{output}`" in body, f"{info.name}: output {output} is not documented"


def test_instantiate_keeps_the_comments_renames_and_sets_typed_defaults():
    from ruamel.yaml import YAML

    from yaml2dag.format.errors import ParameterError

    text = instantiate("Backup Files", "My Backup",
                       {"source": "/data", "target": "/backups", "keep_last": "3", "exclude": '["*.log", "cache/"]',
                        "older_than_days": "14.5"})
    data = YAML(typ="safe").load(text)
    assert data["name"] == "My Backup" and "id" not in data
    params = data["parameters"]
    assert params["source"]["default"] == "/data" and params["target"]["default"] == "/backups"
    assert params["keep_last"]["default"] == 3 and params["older_than_days"]["default"] == 14.5
    assert params["exclude"]["default"] == ["*.log", "cache/"]
    assert params["format"]["default"] == "tar.gz", "parameters not given keep the template's default"
    report = validate_text(text, "my_backup.yaml")
    assert report.valid, [p.format() for p in report.problems]
    assert report.workflow.id == "my_backup"
    # every comment line of every template survives the copy
    for name in EXPECTED:
        original = template_text(name)
        copy = instantiate(name, f"Copy of {name}")
        comments = [line.strip() for line in original.splitlines() if line.strip().startswith("#")]
        copied = {line.strip() for line in copy.splitlines()}
        assert comments and all(c in copied for c in comments), name
        assert validate_text(copy, "copy.yaml").valid, name
    with pytest.raises(ParameterError) as unknown:
        instantiate("Backup Files", "X", {"keep_lats": "3"})
    assert "did you mean `keep_last`" in str(unknown.value)
    with pytest.raises(ParameterError) as wrong:
        instantiate("Backup Files", "X", {"keep_last": "many"})
    assert "keep_last" in str(wrong.value)
    with pytest.raises(ParameterError):
        instantiate("Monitor and Alert", "X", {"disk_percent": "150"})


def test_templates_command_lists_and_shows_templates():
    listed = run_cli("templates", env={"COLUMNS": "200"})
    assert listed.code == 0, listed.stderr
    for name, file in EXPECTED.items():
        assert name in listed.stdout and file in listed.stdout
    for param in ("keep_last", "older_than_days", "approval_timeout", "row_filter", "llm_model"):
        assert param in listed.stdout
    assert "7 built-in workflow template(s)" in listed.stdout

    as_json = run_cli("templates", "--format", "json")
    assert as_json.code == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert [t["name"] for t in data["templates"]] == sorted(EXPECTED, key=lambda n: EXPECTED[n])
    backup = next(t for t in data["templates"] if t["name"] == "Backup Files")
    assert backup["id"] == "backup_files" and "backup" in backup["tags"]
    keep = next(p for p in backup["parameters"] if p["name"] == "keep_last")
    assert keep == {"name": "keep_last", "type": "integer", "required": False, "default": 7, "minimum": 1,
                    "description": keep["description"]}
    env_param = next(p for p in next(t for t in data["templates"] if t["name"] == "Deploy Pipeline")["parameters"]
                     if p["name"] == "environment")
    assert env_param["enum"] == ["staging", "production"]

    shown = run_cli("templates", "backup_files")
    assert shown.code == 0 and shown.stdout == template_text("Backup Files")
    shown_json = json.loads(run_cli("templates", "Git Sync and Test", "--format", "json").stdout)
    assert shown_json["yaml"] == template_text("Git Sync and Test")
    assert shown_json["file"] == "git_sync_and_test.yaml"

    missing = run_cli("templates", "Backup File")
    assert missing.code == 2 and missing.stdout == ""
    assert "no template named 'Backup File'; did you mean `Backup Files`?" in missing.stderr

    # the command never imports Dagster
    probe = run_process([
        __import__("sys").executable, "-c",
        "import sys\nfrom click.testing import CliRunner\nfrom yaml2dag.cli import main\n"
        "r = CliRunner().invoke(main, ['templates', '--format', 'json'])\nassert r.exit_code == 0, r.output\n"
        "print(sorted(m for m in sys.modules if m == 'dagster' or m.startswith('dagster.')))",
    ])
    assert probe.code == 0, probe.stderr
    assert probe.stdout.strip() == "[]"


# --------------------------------------------------------------------------- Git Sync and Test


@pytest.fixture
def project(tmp_path) -> dict:
    """A bare remote whose `main` has a test script, and a developer clone that pushes to it."""
    bare, dev = bare_and_clone(tmp_path, "project.git")
    first = commit(dev, {"status.txt": "ok\n", "run_tests.sh": 'grep -qx ok status.txt || { echo "1 failed" >&2; exit 1; }\n'
                                                               'echo "3 passed"\n'}, "initial")
    git(dev, "push", "-q", "-u", "origin", "main")
    return {"bare": bare, "dev": dev, "first": first}


def test_git_sync_and_test_clones_pulls_and_runs_the_tests(run_yaml, tmp_path, project):
    work = tmp_path / "checkouts" / "project"
    params = {"repo_url": str(project["bare"]), "directory": str(work), "test_command": "sh run_tests.sh",
              "only_when_changed": True}
    first = run_template(run_yaml, "Git Sync and Test", params)
    assert first.result.status == "SUCCESS", first.result.error
    out = first.result.outputs
    assert out["directory"] == str(work) and (work / "status.txt").read_text() == "ok\n"
    assert out["commit"] == project["first"] and out["branch"] == "main"
    assert out["updated"] is True and out["tests"] == "succeeded" and out["test_summary"] == "3 passed"
    assert first.result.steps["checkout"] == "skipped"

    second_commit = commit(project["dev"], {"feature.txt": "new\n"}, "add a feature")
    git(project["dev"], "push", "-q")
    second = run_template(run_yaml, "Git Sync and Test", params)
    assert second.result.status == "SUCCESS", second.result.error
    assert second.result.outputs["commit"] == second_commit
    assert second.result.outputs["changed"] == ["feature.txt"]
    assert second.result.outputs["tests"] == "succeeded"

    # nothing new: with only_when_changed the tests are skipped (a real STEP_SKIPPED)
    third = run_template(run_yaml, "Git Sync and Test", params)
    assert third.result.status == "SUCCESS", third.result.error
    assert third.result.outputs["updated"] is False and third.result.outputs["tests"] == "skipped"
    assert "tests" in third.step_keys("STEP_SKIPPED")

    # a commit that breaks the tests fails the run at the test step
    commit(project["dev"], {"status.txt": "broken\n"}, "break it")
    git(project["dev"], "checkout", "-q", "-b", "release", second_commit)
    release = commit(project["dev"], {"release.txt": "1.0\n"}, "release 1.0")
    git(project["dev"], "push", "-q", "origin", "main", "release")
    broken = run_template(run_yaml, "Git Sync and Test", params)
    assert broken.result.status == "FAILURE"
    assert broken.result.steps["tests"] == "failed"
    assert "exited with code 1" in broken.result.error and "1 failed" in broken.result.error

    # another branch of the same clone: checked out, pulled, tested
    on_release = run_template(run_yaml, "Git Sync and Test", {**params, "branch": "release", "only_when_changed": False})
    assert on_release.result.status == "SUCCESS", on_release.result.error
    assert on_release.result.outputs["branch"] == "release" and on_release.result.outputs["commit"] == release
    assert on_release.result.steps["checkout"] == "succeeded"
    assert (work / "release.txt").exists()


# --------------------------------------------------------------------------- Daily Standup Report


def test_daily_standup_report_collects_the_last_day_across_repositories(run_yaml, tmp_path, hook):
    old = (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=10)).strftime("%Y-%m-%dT%H:%M:%S+00:00")
    api, web, docs = tmp_path / "api", tmp_path / "web", tmp_path / "docs"
    for repo in (api, web, docs):
        git(tmp_path, "init", "-q", "-b", "main", str(repo))
    commit(api, {"a.py": "1\n"}, "old api work", author="Bob Builder", email="bob@example.test", date=old)
    commit(api, {"a.py": "2\n"}, "Fix the login timeout", author="Alice Smith", email="alice@example.test")
    commit(api, {"b.py": "3\n"}, "Add rate limits", author="Alice Smith", email="alice@example.test")
    git(api, "checkout", "-q", "-b", "feature")
    commit(api, {"c.py": "4\n"}, "Draft the export", author="Bob Builder", email="bob@example.test")
    git(api, "checkout", "-q", "main")
    commit(web, {"index.html": "<p>hi</p>\n"}, "Restyle the header", author="Bob Builder", email="bob@example.test")
    commit(docs, {"README.md": "old\n"}, "ancient docs", author="Carol", email="carol@example.test", date=old)

    reports = tmp_path / "reports"
    ran = run_template(run_yaml, "Daily Standup Report", {
        "repos": [str(api), str(web), str(docs)], "report_dir": str(reports), "webhook_url": hook.url + "/standup"})
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    day = ran.result.outputs["report_file"].rsplit("standup-", 1)[1][:10]
    now = dt.datetime.now(dt.timezone.utc)  # the run started a moment ago (maybe before midnight)
    assert day in {now.strftime("%Y-%m-%d"), (now - dt.timedelta(minutes=10)).strftime("%Y-%m-%d")}
    path = reports / f"standup-{day}.md"
    assert out["report_file"] == str(path) and path.exists()
    text = path.read_text()
    assert out["report"] == text.strip()
    assert out["commits"] == 4 and out["per_repository"] == [3, 1, 0]
    assert out["authors"] == [{"Alice Smith": 2, "Bob Builder": 1}, {"Bob Builder": 1}, {}]
    assert text.startswith(f"# Standup report {day}\n")
    assert "4 in 3 repositories" in text
    assert f"## {api} (3 commits)" in text and f"## {web} (1 commit)" in text and f"## {docs} (0 commits)" in text
    assert "### Alice Smith (2 commits)" in text and "Fix the login timeout" in text and "Add rate limits" in text
    assert "Draft the export" in text, "all_branches includes the feature branch"
    assert "old api work" not in text and "ancient docs" not in text, "older than a day"
    assert "_No commits._" in text
    assert [r["path"] for r in hook.requests] == ["/standup"]
    assert hook.requests[0]["json"] == {"text": text.strip()}
    assert out["posted"] is True

    # only some authors, current branch only; nothing to post when nobody committed
    alice = run_template(run_yaml, "Daily Standup Report", {
        "repos": [str(api)], "report_dir": str(reports), "authors": ["alice@"], "all_branches": False})
    assert alice.result.status == "SUCCESS", alice.result.error
    assert alice.result.outputs["per_repository"] == [2]
    assert "Draft the export" not in alice.result.outputs["report"]
    quiet = run_template(run_yaml, "Daily Standup Report", {
        "repos": [str(docs)], "report_dir": str(reports), "webhook_url": hook.url + "/standup"})
    assert quiet.result.status == "SUCCESS", quiet.result.error
    assert quiet.result.outputs["commits"] == 0 and quiet.result.steps["post"] == "skipped"
    assert len(hook.requests) == 1, "no post for an empty report unless post_when_empty"


# --------------------------------------------------------------------------- Backup Files


def test_backup_files_archives_a_tree_applies_retention_and_reports(run_yaml, tmp_path, hook):
    source = tmp_path / "data"
    files = {"readme.md": b"# data\n", "tables/2024.csv": b"a,b\n1,2\n", "tables/deep/notes.txt": b"x" * 5000,
             "scratch.tmp": b"temporary", ".cache/blob": os.urandom(1000)}
    for rel, data in files.items():
        (source / rel).parent.mkdir(parents=True, exist_ok=True)
        (source / rel).write_bytes(data)
    target = tmp_path / "backups"
    target.mkdir()
    old = [target / f"data-2020010{i}-020000.tar.gz" for i in (1, 2, 3)]
    keep = [target / "notes.txt", target / "other-20200101-020000.tar.gz"]
    for path in old + keep:
        path.write_bytes(b"old")

    ran = run_template(run_yaml, "Backup Files", {"source": str(source), "target": str(target), "keep_last": 2,
                                                  "older_than_days": 30, "webhook_url": hook.url})
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    archive = Path(out["archive"])
    assert archive.parent == target and archive.name.startswith("data-") and archive.name.endswith(".tar.gz")
    with tarfile.open(archive) as tar:
        names = sorted(m.name for m in tar.getmembers() if m.isfile())
        assert tar.extractfile("data/tables/deep/notes.txt").read() == b"x" * 5000
    assert names == ["data/readme.md", "data/tables/2024.csv", "data/tables/deep/notes.txt"], "exclude left out *.tmp and .cache/"
    assert out["files"] == 3 and out["source_bytes"] == 7 + 8 + 5000 and out["bytes"] == archive.stat().st_size
    # keep_last 2 keeps the new archive and the newest old one; both rules agree on the others
    assert sorted(out["removed"]) == [str(old[0]), str(old[1])]
    assert not old[0].exists() and not old[1].exists() and old[2].exists()
    assert all(p.exists() for p in keep), "retention never touches other names"
    assert len(hook.requests) == 1
    posted = hook.requests[0]["json"]["text"]
    assert posted.startswith(":floppy_disk: Backed up 3 file(s) of " + str(source))
    assert str(archive) in posted and "retention removed 2 old archive(s)" in posted
    assert any("Backed up 3 file(s)" in m for m in ran.messages("summary"))

    # zip format, and a second archive of the same folder
    zipped = run_template(run_yaml, "Backup Files", {"source": str(source), "target": str(target), "format": "zip"})
    assert zipped.result.status == "SUCCESS", zipped.result.error
    assert zipped.result.outputs["archive"].endswith(".zip") and zipped.result.outputs["posted"] is False

    # a failure is reported by on_failure, on the webhook too
    failed = run_template(run_yaml, "Backup Files", {"source": str(tmp_path / "missing"), "target": str(target),
                                                    "webhook_url": hook.url})
    assert failed.result.status == "FAILURE"
    assert "source folder" in failed.result.error and "does not exist" in failed.result.error
    alert = hook.requests[-1]["json"]["text"]
    assert alert.startswith(f":rotating_light: backup of {tmp_path / 'missing'} failed at `archive`: source folder")


# --------------------------------------------------------------------------- Monitor and Alert


def test_monitor_and_alert_sends_nothing_when_healthy_and_alerts_when_over(run_yaml, tmp_path, hook, smtp,
                                                                             monkeypatch):
    recorder, smtp_port = smtp
    monkeypatch.setenv("YAML2DAG_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("YAML2DAG_SMTP_PORT", str(smtp_port))
    monkeypatch.setenv("YAML2DAG_SMTP_FROM", "monitor@example.test")
    for name in ("YAML2DAG_SMTP_USER", "YAML2DAG_SMTP_PASSWORD", "YAML2DAG_SMTP_SSL", "YAML2DAG_SMTP_STARTTLS"):
        monkeypatch.delenv(name, raising=False)
    common = {"mounts": [str(tmp_path)], "webhook_url": hook.url + "/alerts", "email_to": "oncall@example.test"}

    healthy = run_template(run_yaml, "Monitor and Alert", {**common, "cpu_percent": 100, "memory_percent": 100,
                                                           "disk_percent": 100})
    assert healthy.result.status == "SUCCESS", healthy.result.error
    assert healthy.result.outputs["healthy"] is True and healthy.result.outputs["alerts"] == []
    assert healthy.result.steps["alert_webhook"] == "skipped" and healthy.result.steps["alert_email"] == "skipped"
    assert {"alert_webhook", "alert_email", "fail_when_unhealthy"} <= healthy.step_keys("STEP_SKIPPED")
    assert hook.requests == [] and recorder.messages == []
    assert 0 < healthy.result.outputs["memory_percent"] < 100

    over = run_template(run_yaml, "Monitor and Alert", {**common, "cpu_percent": 100, "memory_percent": 0,
                                                        "disk_percent": 0, "fail_on_alert": True})
    assert over.result.status == "FAILURE", "fail_on_alert turns alerts into a failed run"
    assert over.result.steps["alert_webhook"] == "succeeded" and over.result.steps["alert_email"] == "succeeded"
    assert over.result.steps["fail_when_unhealthy"] == "failed"
    assert "memory usage is" in over.result.error and f"disk {tmp_path} is" in over.result.error
    assert len(hook.requests) == 1 and hook.requests[0]["path"] == "/alerts"
    body = hook.requests[0]["json"]
    assert [a["metric"] for a in body["alerts"]] == ["memory_percent", "disk_percent"]
    assert body["alerts"][1]["mount"] == str(tmp_path) and body["alerts"][1]["threshold"] == 0
    assert body["text"].startswith(f":rotating_light: {body['host']}: memory usage is")
    assert len(recorder.messages) == 1
    mail = recorder.messages[0]
    assert mail["rcpt_tos"] == ["oncall@example.test"] and mail["mail_from"] == "monitor@example.test"
    assert mail["message"]["Subject"] == f"[yaml2dag] 2 alert(s) on {body['host']}"
    text = mail["message"].get_content()
    assert "- memory usage is" in text and f"- disk {tmp_path} is" in text and over.result.run_id in text

    # the same alert without fail_on_alert: a successful run that still alerted
    # (cpu_percent: 100 so that a busy test machine cannot add a CPU alert)
    again = run_template(run_yaml, "Monitor and Alert", {**common, "cpu_percent": 100, "memory_percent": 0,
                                                         "disk_percent": 100, "email_to": ""})
    assert again.result.status == "SUCCESS", again.result.error
    assert [a["metric"] for a in again.result.outputs["alerts"]] == ["memory_percent"]
    assert again.result.outputs["webhook"] == "succeeded" and again.result.outputs["email"] == "skipped"
    assert len(hook.requests) == 2 and len(recorder.messages) == 1


# --------------------------------------------------------------------------- Deploy Pipeline


@pytest.fixture
def deploy_setup(tmp_path, project, hook) -> dict:
    """A working copy of `project` to deploy from, and commands that write to a log file."""
    checkout = tmp_path / "deploy-src"
    git(tmp_path, "clone", "-q", str(project["bare"]), str(checkout))
    log = tmp_path / "deploy.log"
    return {
        "checkout": checkout,
        "log": log,
        "params": {
            "repo_dir": str(checkout),
            "test_command": "sh run_tests.sh",
            "build_command": f'echo "build $DEPLOY_BRANCH" >> {log}',
            "deploy_command": f'echo "deploy $DEPLOY_ENV $DEPLOY_COMMIT" >> {log}',
            "rollback_command": f'echo "rollback $DEPLOY_ENV $DEPLOY_COMMIT" >> {log}',
            "webhook_url": hook.url + "/deploys",
        },
    }


def test_deploy_pipeline_waits_for_approval_in_production(tmp_path, project, deploy_setup, hook):
    home = make_dagster_home(tmp_path / "home")
    folder = tmp_path / "defs"
    params = dict(deploy_setup["params"])
    params["approvers"] = json.dumps(["alice", "bob"])
    write(folder, "ship_it.yaml", instantiate("Deploy Pipeline", "Ship It", params))
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder)}
    log: Path = deploy_setup["log"]
    bg = BackgroundRun(env, "Ship It", "environment=production")
    try:
        run_id = wait_for_gate(env, bg, timeout=RUN_TIMEOUT)
        status = json.loads(run_cli("status", run_id, "--format", "json", env=env).stdout)
        assert status["status"] == "paused" and status["current_step"] == "approval"
        assert status["waiting"][0]["message"] == f"Deploy main at {project['first'][:12]} to production?"
        assert log.read_text().splitlines() == ["build main"], "tested and built; nothing deployed before approval"
        refused = run_cli("approve", run_id, "--by", "mallory", env=env)
        assert refused.code != 0, "only the listed approvers may decide"
        approved = run_cli("approve", run_id, "--by", "alice", "--comment", "ship it", env=env)
        assert approved.code == 0, approved.stderr
        result = bg.result(timeout=RUN_TIMEOUT)
    finally:
        bg.kill()
    assert result["status"] == "SUCCESS", result
    assert result["outputs"]["decision"] == "approved" and result["outputs"]["approved_by"] == ["alice"]
    assert result["outputs"]["commit"] == project["first"] and result["outputs"]["environment"] == "production"
    assert result["steps"]["smoke_test"] == "skipped"
    assert log.read_text().splitlines() == ["build main", f"deploy production {project['first']}"]
    announced = [r["json"]["text"] for r in hook.requests]
    assert announced == [f":rocket: deployed main at {project['first'][:12]} to production (approved by alice)"]


def test_deploy_pipeline_rolls_back_a_failed_release(run_yaml, project, deploy_setup, hook):
    log: Path = deploy_setup["log"]
    commit_id = project["first"]
    # staging is approved automatically; the smoke test fails after the deploy succeeded, so the
    # deploy step's `compensate` rolls it back, then on_failure tells the webhook
    smoke = run_template(run_yaml, "Deploy Pipeline", {**deploy_setup["params"], "smoke_test_command": "exit 3"})
    assert smoke.result.status == "FAILURE"
    assert smoke.result.steps["approval"] == "succeeded" and smoke.result.steps["deploy"] == "succeeded"
    assert smoke.result.steps["smoke_test"] == "failed" and smoke.result.steps["announce"] == "not_run"
    assert log.read_text().splitlines() == ["build main", f"deploy staging {commit_id}", f"rollback staging {commit_id}"]
    approvals = [m for m in smoke.messages("approval") if "approved automatically" in m]
    assert approvals, smoke.messages("approval")
    assert [r["json"]["text"] for r in hook.requests] == [
        ":x: deploy of main to staging failed at `smoke_test`: command exited with code 3"]

    # the deploy command itself fails half-way: on_failure runs the rollback (once)
    log.unlink()
    broken = run_template(run_yaml, "Deploy Pipeline", {
        **deploy_setup["params"], "build_command": "",
        "deploy_command": f'echo "deploy half" >> {log}; echo "disk full" >&2; exit 4'})
    assert broken.result.status == "FAILURE"
    assert broken.result.steps["deploy"] == "failed" and broken.result.steps["build"] == "skipped"
    assert log.read_text().splitlines() == ["deploy half", f"rollback staging {commit_id}"]
    assert hook.requests[-1]["json"]["text"] == (
        ":x: deploy of main to staging failed at `deploy`: command exited with code 4: disk full")

    # failing tests stop everything before the gate: nothing deployed, nothing rolled back
    log.unlink()
    commit(project["dev"], {"status.txt": "broken\n"}, "break the tests")
    git(project["dev"], "push", "-q")
    red = run_template(run_yaml, "Deploy Pipeline", deploy_setup["params"])
    assert red.result.status == "FAILURE"
    assert red.result.steps["test"] == "failed" and red.result.steps["deploy"] == "not_run"
    assert not log.exists()
    assert "failed at `test`" in hook.requests[-1]["json"]["text"]


# --------------------------------------------------------------------------- Email Digest


def test_email_digest_fetches_summarizes_and_mails_and_skips_an_empty_mailbox(run_yaml, dovecot, fake, smtp,  # noqa: F811
                                                                               hook, monkeypatch):
    recorder, smtp_port = smtp
    for name in ("YAML2DAG_SMTP_USER", "YAML2DAG_SMTP_PASSWORD", "YAML2DAG_SMTP_SSL", "YAML2DAG_SMTP_STARTTLS",
                 "YAML2DAG_IMAP_HOST", "YAML2DAG_IMAP_PORT", "YAML2DAG_IMAP_USER", "YAML2DAG_IMAP_SSL",
                 "YAML2DAG_IMAP_STARTTLS"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("YAML2DAG_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("YAML2DAG_SMTP_PORT", str(smtp_port))
    monkeypatch.setenv("YAML2DAG_SMTP_FROM", "Digest Robot <digest@example.test>")
    monkeypatch.setenv("YAML2DAG_IMAP_PASSWORD", IMAP_PASSWORD)
    monkeypatch.setenv("OPENAI_API_KEY", API_KEY)
    dovecot.deliver(message("Carol Finance <carol@example.test>", "Quarterly numbers", "Revenue is up 12%.\n"))
    dovecot.deliver(message("bob@example.test", "Server migration on Friday", "Please confirm the window.\n"))
    params = {"imap_host": "127.0.0.1", "imap_port": dovecot.imap_port, "imap_user": IMAP_USER,
              "llm_base_url": fake.base_url, "llm_model": "digest-model", "channel": "email",
              "email_to": "me@example.test", "mark_seen": True}

    ran = run_template(run_yaml, "Email Digest", params)
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    assert out["count"] == 2 and out["subjects"] == ["Server migration on Friday", "Quarterly numbers"]
    # what the model was sent: the template's prompt and both messages
    assert len(fake.state.requests) == 1
    request = fake.state.requests[0]
    assert request["headers"]["authorization"] == f"Bearer {API_KEY}"
    assert request["body"]["model"] == "digest-model" and request["body"]["temperature"] == 0.2
    user = request["body"]["messages"][-1]["content"]
    assert user.startswith("Write a short digest of these emails")
    assert "From: Carol Finance <carol@example.test>" in user and "Revenue is up 12%." in user
    assert "Subject: Server migration on Friday" in user and "Please confirm the window." in user
    assert user.count("---- message ") == 2, "one header line per message"
    # the fake echoes the request upper-cased: the digest really is the model's answer
    assert out["summary"].startswith("ECHO[digest-model|t=0.2|n=2]: WRITE A SHORT DIGEST")
    assert "REVENUE IS UP 12%." in out["summary"] and out["model"] == "digest-model-2024"
    assert out["delivered"] == "email"
    assert len(recorder.messages) == 1
    mail = recorder.messages[0]
    assert mail["rcpt_tos"] == ["me@example.test"] and mail["message"]["From"] == "Digest Robot <digest@example.test>"
    assert mail["message"]["Subject"] == "Digest: 2 message(s) in INBOX since 1 day ago"
    body = mail["message"].get_content().replace("\r\n", "\n")
    assert body.startswith(out["summary"] + "\n\nMessages:\n")
    assert "bob@example.test: Server migration on Friday" in body and "carol@example.test>: Quarterly numbers" in body
    stored = everything_stored(ran)
    assert IMAP_PASSWORD not in stored and API_KEY not in stored

    # mark_seen: the next digest finds nothing new, so no model call and no mail
    empty = run_template(run_yaml, "Email Digest", params)
    assert empty.result.status == "SUCCESS", empty.result.error
    assert empty.result.outputs["count"] == 0 and empty.result.outputs["delivered"] == "nothing"
    assert empty.result.outputs["summary"] == ""
    assert empty.result.steps["summarize"] == "skipped" and empty.result.steps["send_email"] == "skipped"
    assert len(fake.state.requests) == 1 and len(recorder.messages) == 1

    # channel log: a new message, the digest lands in the run's event log
    dovecot.deliver(message("dave@example.test", "Lunch?", "Pizza at noon.\n"))
    logged = run_template(run_yaml, "Email Digest", {**params, "channel": "log"})
    assert logged.result.status == "SUCCESS", logged.result.error
    assert logged.result.outputs["delivered"] == "log" and logged.result.steps["send_email"] == "skipped"
    assert any(m.startswith("Digest of 1 message(s) in INBOX:\nECHO[digest-model") and "PIZZA AT NOON." in m
               for m in logged.messages("log_digest"))
    assert len(recorder.messages) == 1

    # channel webhook: the digest is POSTed as Slack-compatible `text`
    dovecot.deliver(message("erin@example.test", "Invoice 42", "Due on Monday.\n"))
    posted = run_template(run_yaml, "Email Digest", {**params, "channel": "webhook", "webhook_url": hook.url + "/mail"})
    assert posted.result.status == "SUCCESS", posted.result.error
    assert posted.result.outputs["delivered"] == "webhook" and posted.result.outputs["subjects"] == ["Invoice 42"]
    assert [r["path"] for r in hook.requests] == ["/mail"]
    text = hook.requests[0]["json"]["text"]
    assert text.startswith("*Digest: 1 message(s) in INBOX*\nECHO[digest-model") and "DUE ON MONDAY." in text
    assert len(fake.state.requests) == 3 and len(recorder.messages) == 1


# --------------------------------------------------------------------------- Data Processing Pipeline


@pytest.fixture(scope="module")
def seattle() -> tuple[str, pd.DataFrame]:
    from vega_datasets import local_data

    path = local_data.seattle_weather.filepath
    return path, pd.read_csv(path, parse_dates=["date"])


def test_data_processing_pipeline_on_seattle_weather_matches_pandas(run_yaml, tmp_path, seattle):
    path, frame = seattle
    assert len(frame) == 1461
    csv, db = tmp_path / "out" / "summary.csv", tmp_path / "out" / "warehouse.sqlite"
    ran = run_template(run_yaml, "Data Processing Pipeline", {"output_csv": str(csv), "output_sqlite": str(db)})
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    assert out["rows"] == 1461
    assert out["columns"] == ["date", "precipitation", "temp_max", "temp_min", "wind", "weather"]

    # computed directly with pandas, independently of the workflow
    rainy = frame[frame["precipitation"] > 0]
    by_year = rainy.groupby(rainy["date"].dt.year)
    expected_days = {int(y): int(n) for y, n in by_year.size().items()}
    assert expected_days == {2012: 177, 2013: 152, 2014: 150, 2015: 144}   # the real numbers of the file
    summary = out["summary"]
    assert {row["year"]: row["rainy_days"] for row in summary} == expected_days
    for row in summary:
        year = by_year.get_group(row["year"])
        assert row["precipitation"] == pytest.approx(year["precipitation"].sum())
        assert row["temp_max"] == pytest.approx(year["temp_max"].max())
        assert row["temp_min"] == pytest.approx(year["temp_min"].min())
    assert out["rows_matching"] == len(rainy) == 623
    stats = out["statistics"]
    assert stats["temp_max"]["mean"] == pytest.approx(frame["temp_max"].mean())
    assert stats["precipitation"]["max"] == pytest.approx(frame["precipitation"].max())
    assert out["most_frequent"]["weather"] == {k: int(v) for k, v in frame["weather"].value_counts().items()}

    # stored: the CSV and the SQLite table hold the same summary
    assert out["csv"] == str(csv) and out["sqlite"] == str(db)
    from_csv = pd.read_csv(csv)
    assert list(from_csv.columns) == ["year", "precipitation", "temp_max", "temp_min", "rainy_days"]
    assert dict(zip(from_csv["year"], from_csv["rainy_days"])) == expected_days
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT year, rainy_days FROM summary ORDER BY year").fetchall()
    assert dict(rows) == expected_days

    # a second run replaces the CSV and the table instead of failing or appending
    again = run_template(run_yaml, "Data Processing Pipeline", {"output_csv": str(csv), "output_sqlite": str(db),
                                                                "row_filter": "weather == 'snow'"})
    assert again.result.status == "SUCCESS", again.result.error
    snow = frame[frame["weather"] == "snow"]
    snowy = {int(y): int(n) for y, n in snow.groupby(snow["date"].dt.year).size().items()}
    assert {r["year"]: r["rainy_days"] for r in again.result.outputs["summary"]} == snowy
    with sqlite3.connect(db) as conn:
        assert dict(conn.execute("SELECT year, rainy_days FROM summary").fetchall()) == snowy
    assert again.result.steps["sample"] == "succeeded"


def test_data_processing_pipeline_on_your_own_table(run_yaml, tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text("day,city,amount\n2024-01-03,Oslo,12.5\n2024-01-04,Bergen,8\n2024-02-01,Oslo,30\n"
                      "2024-02-11,Bergen,41.25\n2024-02-12,Oslo,5\n")
    csv = tmp_path / "per_month.csv"
    ran = run_template(run_yaml, "Data Processing Pipeline", {
        "source": str(orders), "date_columns": ["day"], "row_filter": "amount > 6",
        "group_expression": "day.dt.strftime('%Y-%m')", "group_name": "month", "count_name": "orders",
        "aggregations": {"amount": "sum"}, "value_counts": ["city"], "output_csv": str(csv)})
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    assert out["rows"] == 5 and out["rows_matching"] == 4
    assert out["summary"] == [{"month": "2024-01", "amount": 20.5, "orders": 2},
                              {"month": "2024-02", "amount": 71.25, "orders": 2}]
    assert out["most_frequent"] == {"city": {"Oslo": 3, "Bergen": 2}}
    assert ran.result.steps["store_sqlite"] == "skipped" and out["sqlite"] == ""
    assert pd.read_csv(csv).to_dict("records") == out["summary"]


def test_data_processing_pipeline_without_vega_datasets(tmp_path):
    """The sample is optional: without vega_datasets a given `source` works, and no source
    fails with what to do (vega_datasets is hidden from a real `yaml2dag run` subprocess)."""
    blocker = tmp_path / "blocker" / "vega_datasets"
    blocker.mkdir(parents=True)
    (blocker / "__init__.py").write_text("raise ImportError('vega_datasets is hidden by the test')\n")
    home = make_dagster_home(tmp_path / "home")
    workflow = write(tmp_path / "defs", "pipeline.yaml", template_text("Data Processing Pipeline"))
    table = tmp_path / "t.csv"
    table.write_text("date,precipitation,temp_max,temp_min,weather\n2020-01-01,1,5,1,rain\n2021-01-01,0,6,2,sun\n")
    env = {"DAGSTER_HOME": str(home), "PYTHONPATH": str(blocker.parent)}
    missing = run_cli("run", str(workflow), f"output_csv={tmp_path / 'a.csv'}", env=env)
    assert missing.code == 1, missing.stdout + missing.stderr
    assert "failed at step sample" in missing.stdout
    assert ("no source given, and the sample dataset needs the vega_datasets package: pip install vega_datasets, "
            "or set source=PATH_OR_URL") in missing.stdout
    assert not (tmp_path / "a.csv").exists()
    given = run_cli("run", str(workflow), f"source={table}", f"output_csv={tmp_path / 'b.csv'}", "--format", "json",
                    env=env)
    assert given.code == 0, given.stdout + given.stderr
    result = json.loads(given.stdout)
    # the fallback accepted the missing sample: the step ends "continued" (its fallback ran)
    assert result["steps"]["sample"] == "continued" and result["steps"]["store_csv"] == "succeeded"
    assert result["outputs"]["summary"] == [{"year": 2020, "precipitation": 1.0, "temp_max": 5.0, "temp_min": 1.0,
                                             "rainy_days": 1}]
