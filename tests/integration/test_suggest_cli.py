"""Issue 12, §1: `yaml2dag suggest`, run as a real subprocess the way a user runs it.

Shell histories are written as a user's shells write them (zsh extended history with
multi-line and metafied entries, bash with HISTTIMEFORMAT, fish), with noise: typos, one-off
commands, secrets, different days. The CLI runs from a project folder with the defaults a
user has (a relative `definitions` folder, no YAML2DAG_* variables, its own HOME). Schedule
suggestions come from real Dagster runs on a temporary DAGSTER_HOME.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
import textwrap
from pathlib import Path

import pytest
import yaml

from conftest import _COUNT_DAGSTER, CLI_TIMEOUT, make_dagster_home, run_process

pytestmark = pytest.mark.slow

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone.utc)  # a Friday
MONDAY = dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc)
SECRETS = ["ghp_9f8e7d6c5b4a39281706f5e4d3c2b1a0ZZ", "Hunter2sqlpw", "tok_live_5f1e2d3c4b5a6978", "pl41nS3cret"]
SUGGESTION_KEYS = {"name", "commands", "occurrences", "first_seen", "last_seen", "parameters", "covered_by", "workflow"}


def _at(day: int, hour: int, minute: int = 0, second: int = 0) -> int:
    return int((MONDAY + dt.timedelta(days=day, hours=hour, minutes=minute, seconds=second)).timestamp())


def _zsh_history() -> bytes:
    """Four mornings in ~/src/shop; multi-line and non-ASCII (metafied) entries; noise."""
    def meta(text: str) -> bytes:
        return b"".join(bytes([0x83, b ^ 0x20]) if 0x83 <= b <= 0x9f else bytes([b]) for b in text.encode())

    out = []
    for day, branch in enumerate(["feature-login", "fix-cart", "feature-login", None]):
        t = _at(day, 9, 5)
        rows = ["cd ~/src/shop", "ls", "gti status", "git status"]
        if branch:
            rows += [f"git checkout {branch}", "git pull", "clear", "make test"]
        else:
            rows += ["vim README.md", "git log --oneline -3"]
        for i, row in enumerate(rows):
            out.append(f": {t + 17 * i}:0;{row}".encode())
    out.append(f": {_at(1, 14)}:0;docker run --rm \\\\".encode())       # a typed line continuation...
    out.append(b"  alpine echo hi")                                        # ...written over two lines
    out.append(f": {_at(1, 14, 1)}:0;echo '".encode() + meta("Grüße ツ") + b"'")
    out.append(f": {_at(2, 16)}:0;export GITHUB_TOKEN={SECRETS[0]}".encode())
    out.append(f": {_at(2, 16, 1)}:0;gh pr list".encode())
    out.append(b"\x00\x9f\xfe garbage from a crash")
    return b"\n".join(out) + b"\n"


def _bash_history() -> str:
    """HISTTIMEFORMAT on: a nightly backup on three days, a database load with a password on
    three days, and older lines from before timestamps were turned on."""
    rows = ["make clean", "ls -la"]
    for day in range(3):
        rows += [f"#{_at(day, 18)}", f"tar czf backups/site-2026-12-0{day + 1}.tar.gz site && rsync -av backups /mnt/nas",
                 f"#{_at(day, 18, 1)}", "sl", f"#{_at(day, 20)}", f"mysql -uroot -p{SECRETS[1]} shop < dumps/latest.sql"]
    rows += [f"#{_at(3, 8)}", "df -h"]
    return "\n".join(rows) + "\n"


def _fish_history() -> str:
    rows = []
    for day in (0, 2, 3):
        rows += [f"- cmd: curl -s -H 'Authorization: Bearer {SECRETS[2]}' https://api.example.com/v1/orders",
                 f"  when: {_at(day, 11)}"]
    rows += ["- cmd: for f in *.md\\n    wc -l $f\\nend", f"  when: {_at(1, 11)}", "  paths:", "    - ~/notes",
             f"- cmd: psql --password={SECRETS[3]} -c 'select 1'", f"  when: {_at(1, 12)}"]
    return "\n".join(rows) + "\n"


@pytest.fixture
def user(tmp_path, monkeypatch):
    """A user: HOME with three shell histories, a project folder with an empty `definitions`,
    and an environment without YAML2DAG_* variables, DAGSTER_HOME or HISTFILE."""
    home = tmp_path / "home"
    (home / ".local/share/fish").mkdir(parents=True)
    (home / ".zsh_history").write_bytes(_zsh_history())
    (home / ".bash_history").write_text(_bash_history())
    (home / ".local/share/fish/fish_history").write_text(_fish_history())
    project = tmp_path / "project"
    (project / "definitions").mkdir(parents=True)
    for name in list(os.environ):
        if name.startswith("YAML2DAG_") or name in ("DAGSTER_HOME", "HISTFILE"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("TZ", "UTC")
    return project


def suggest_cli(project: Path, *args: str, timeout: float = CLI_TIMEOUT):
    return run_process([sys.executable, "-m", "yaml2dag", "suggest", "--now", NOW.isoformat(), *args], cwd=project,
                       timeout=timeout)


def _leaks(text: str) -> list[str]:
    return [s for s in SECRETS if s in text]


def test_suggestions_from_the_users_own_histories(user):
    done = suggest_cli(user, "--format", "json")
    assert done.code == 0, done.stderr
    assert _leaks(done.stdout + done.stderr) == []
    report = json.loads(done.stdout)
    assert set(report) == {"suggestions", "sources", "window"}
    assert report["window"] == {"from": "2026-11-27T12:00:00+00:00", "to": "2026-12-04T12:00:00+00:00"}
    home = Path(os.environ["HOME"])
    sources = {Path(s["path"]).name: s for s in report["sources"]}
    assert set(sources) == {".zsh_history", ".bash_history", "fish_history"}
    assert sources[".zsh_history"]["format"] == "zsh" and sources[".zsh_history"]["skipped"] == {
        "not UTF-8 text (binary data)": 1}
    assert sources[".bash_history"]["skipped"] == {"no timestamp (the file has timestamps elsewhere)": 2}
    assert str(home) in sources["fish_history"]["path"]
    for item in report["suggestions"]:
        assert set(item) == SUGGESTION_KEYS
        assert item["covered_by"] is None
    by_first = {item["commands"][0]: item for item in report["suggestions"]}
    assert set(by_first) == {"cd ~/src/shop", "tar czf backups/site-2026-12-03.tar.gz site",
                             "mysql -uroot -p{{ password }} shop < dumps/latest.sql",
                             "curl -s -H 'Authorization: Bearer '{{ bearer_token }} https://api.example.com/v1/orders"}

    shop = by_first["cd ~/src/shop"]
    assert shop["commands"] == ["cd ~/src/shop", "git checkout {{ branch }}", "git pull", "make test"]
    assert shop["occurrences"] == 3 and shop["first_seen"] == "2026-11-30T09:05:00+00:00"
    assert shop["parameters"] == {"branch": {"type": "string", "default": "feature-login",
                                             "values": ["feature-login", "fix-cart"]}}
    steps = yaml.safe_load(shop["workflow"])["steps"]
    assert [(s["tool"], s.get("action")) for s in steps] == [("git", "checkout"), ("git", "pull"), ("shell", None)]
    assert steps[2]["parameters"] == {"command": "make test", "cwd": "{{ env.HOME }}/src/shop"}

    backup = yaml.safe_load(by_first["tar czf backups/site-2026-12-03.tar.gz site"]["workflow"])["steps"]
    assert [(s["tool"], s["action"]) for s in backup] == [("files", "backup"), ("files", "copy")]
    assert backup[0]["parameters"]["name"] == "site"

    mysql = by_first["mysql -uroot -p{{ password }} shop < dumps/latest.sql"]
    assert mysql["parameters"] == {"password": {"type": "secret", "default": None, "values": []}}
    api = yaml.safe_load(by_first["curl -s -H 'Authorization: Bearer '{{ bearer_token }} "
                                  "https://api.example.com/v1/orders"]["workflow"])
    assert api["steps"][0]["tool"] == "http"
    assert api["steps"][0]["parameters"]["headers"] == {"Authorization": "Bearer {{ bearer_token }}"}
    assert api["parameters"]["bearer_token"]["type"] == "secret"
    # ranked by the estimated time saved: occurrences x steps
    savings = [item["occurrences"] * len(yaml.safe_load(item["workflow"])["steps"]) for item in report["suggestions"]]
    assert savings == sorted(savings, reverse=True)

    text = suggest_cli(user)
    assert text.code == 0 and _leaks(text.stdout + text.stderr) == []
    assert "1. Git checkout, git pull and make test  3× · 3 steps" in text.stdout
    assert "$ git checkout {{ branch }}" in text.stdout


def test_write_saves_a_valid_workflow_once(user):
    done = suggest_cli(user, "--write", "1")
    assert done.code == 0, done.stderr
    files = list((user / "definitions").glob("*.yaml"))
    assert [f.name for f in files] == ["git_checkout_git_pull_and_make_test.yaml"]
    assert _leaks(files[0].read_text() + done.stdout) == []
    assert "✓ created Git checkout, git pull and make test version 1.0.0" in done.stdout
    validated = run_process([sys.executable, "-m", "yaml2dag", "validate", "definitions"], cwd=user)
    assert validated.code == 0, validated.stdout + validated.stderr
    log = (user / "definitions/.versions/git_checkout_git_pull_and_make_test/log.jsonl").read_text()
    assert json.loads(log)["action"] == "create"
    # the library now does it: the same suggestion is marked, ranked last, and not written again
    listed = json.loads(suggest_cli(user, "--format", "json").stdout)
    assert listed["suggestions"][-1]["covered_by"] == "Git checkout, git pull and make test"
    again = suggest_cli(user, "--write", str(len(listed["suggestions"])), "--format", "json")
    assert again.code == 1 and "already done by" in json.loads(again.stdout)["error"]
    by_name = suggest_cli(user, "--write", "Make test", "--format", "json")
    assert by_name.code == 2 and "no suggestion 'Make test'" in json.loads(by_name.stdout)["error"]


def test_write_by_name_with_a_file_name_and_never_overwriting(user):
    listed = json.loads(suggest_cli(user, "--format", "json").stdout)
    name = next(s["name"] for s in listed["suggestions"] if s["commands"][0].startswith("mysql"))
    done = suggest_cli(user, "--write", name, "--file", "load.yaml", "--format", "json")
    assert done.code == 0, done.stdout + done.stderr
    change = json.loads(done.stdout)
    assert change["action"] == "create" and change["suggestion"]["name"] == name
    assert Path(change["file"]).name == "load.yaml" and _leaks(done.stdout) == []
    (user / "definitions" / "other.yaml").write_text("not: [a workflow\n")
    clash = suggest_cli(user, "--write", "1", "--file", "load.yaml")
    assert clash.code == 1 and "refusing to overwrite" in clash.stderr


def test_explicit_history_files_and_usage_errors(user, tmp_path):
    plain = tmp_path / "old_history"
    plain.write_text("make build\nls\nmake build\nls\nmake build\nmake build\n")
    done = suggest_cli(user, "--history", str(plain), "--format", "json")
    report = json.loads(done.stdout)
    assert [s["commands"] for s in report["suggestions"]] == [["make build"]]  # --history replaces the defaults
    assert report["suggestions"][0]["first_seen"] is None
    assert "window does not apply" in report["sources"][0]["note"]
    missing = suggest_cli(user, "--history", str(tmp_path / "nope"), "--format", "json")
    assert missing.code == 2 and "nope" in json.loads(missing.stdout)["error"]
    bad_now = run_process([sys.executable, "-m", "yaml2dag", "suggest", "--now", "yesterday-ish", "--format", "json"],
                          cwd=user)
    assert bad_now.code == 2 and "--now" in json.loads(bad_now.stdout)["error"]
    assert suggest_cli(user, "--write", "99").code == 2


def test_shell_history_alone_imports_no_dagster(user):
    done = run_process([sys.executable, "-c", _COUNT_DAGSTER, "suggest", "--now", NOW.isoformat()], cwd=user)
    assert done.stderr.strip().splitlines()[-1] == "EXIT 0 DAGSTER 0", done.stderr


def test_a_written_suggestion_runs(user, tmp_path):
    """A suggestion mapped to the files tool, saved with --write, runs for real."""
    (user / "notes.txt").write_text("remember the milk\n")
    history = tmp_path / "hist"
    history.write_text("".join(f"#{_at(day, 10)}\nmkdir -p archive && cp notes.txt archive/\n" for day in range(3)))
    done = suggest_cli(user, "--history", str(history), "--write", "1")
    assert done.code == 0, done.stderr
    home = make_dagster_home(tmp_path / "dagster_home")
    ran = run_process([sys.executable, "-m", "yaml2dag", "run", "Mkdir and cp"], cwd=user,
                      env={"DAGSTER_HOME": str(home)})
    assert ran.code == 0, ran.stdout + ran.stderr
    assert (user / "archive" / "notes.txt").read_text() == "remember the milk\n"


# --------------------------------------------------------------------------- run history

TINY = """\
name: Tiny Report
description: A report people start by hand every morning
parameters:
  region: {type: string, default: eu}
steps:
  - id: hello
    tool: shell
    parameters: {command: "echo report {{ region }}"}
"""

#: Runs made with Dagster's clock set to the given time (dagster._core.test_utils.freeze_time,
#: Dagster's own test clock): the real `yaml2dag run` command, a real run in the instance;
#: only the time Dagster records for it is chosen. `schedule` runs go through the library API
#: with the tags a schedule tick gives a run.
_RUNS = """
import datetime as dt, json, sys
from dagster._core.test_utils import freeze_time
from yaml2dag.cli import main
from yaml2dag.library.folder import Library
from yaml2dag.runs.runner import run_workflow
for when, how, args in json.loads(sys.argv[1]):
    with freeze_time(dt.datetime.fromisoformat(when)):
        if how == "cli":
            try:
                main.main(args=["run", *args], prog_name="yaml2dag", standalone_mode=False)
            except SystemExit as exc:
                assert not exc.code, exc.code
        else:
            run_workflow(Library().find(args[0]).validated(), {}, tags={"yaml2dag/trigger": "schedule",
                                                             "dagster/schedule_name": "tiny_report_schedule"})
"""


def test_schedule_suggestion_from_runs_started_by_hand(user, tmp_path, monkeypatch):
    (user / "definitions" / "tiny.yaml").write_text(TINY)
    (user / "definitions" / "other.yaml").write_text(TINY.replace("Tiny Report", "Other Report"))
    home = make_dagster_home(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    runs = [
        # by hand, region=us, at about 9:00 on Monday, Tuesday and Wednesday: a schedule
        ("2026-11-30T09:02:00+00:00", "cli", ["Tiny Report", "region=us"]),
        ("2026-12-01T08:57:00+00:00", "cli", ["Tiny Report", "region=us"]),
        ("2026-12-02T09:06:00+00:00", "cli", ["Tiny Report", "region=us"]),
        ("2026-12-03T15:30:00+00:00", "cli", ["Tiny Report", "region=us"]),       # another time of day
        ("2026-11-30T14:00:00+00:00", "cli", ["Tiny Report"]),                    # other parameters, 2 days
        ("2026-12-01T14:00:00+00:00", "cli", ["Tiny Report"]),
        ("2026-11-20T09:00:00+00:00", "cli", ["Tiny Report", "region=us"]),       # before the window
        ("2026-11-30T07:00:00+00:00", "schedule", ["Other Report"]),              # not by hand
        ("2026-12-01T07:00:00+00:00", "schedule", ["Other Report"]),
        ("2026-12-02T07:00:00+00:00", "schedule", ["Other Report"]),
    ]
    made = run_process([sys.executable, "-c", _RUNS, json.dumps(runs)], cwd=user)
    assert made.code == 0, made.stdout + made.stderr
    check = run_process([sys.executable, "-c", textwrap.dedent("""
        from dagster import DagsterInstance
        for r in DagsterInstance.get().get_run_records():
            print(r.dagster_run.job_name, r.start_time, r.dagster_run.status.value)
    """)], cwd=user)
    recorded = sorted(line.split()[1] for line in check.stdout.splitlines())
    assert recorded == sorted(str(float(int(dt.datetime.fromisoformat(w).timestamp()))) for w, _, _ in runs)

    empty = tmp_path / "empty_history"
    empty.write_text("")
    done = suggest_cli(user, "--history", str(empty), "--format", "json")
    assert done.code == 0, done.stderr
    report = json.loads(done.stdout)
    [item] = report["suggestions"]
    assert set(item) == SUGGESTION_KEYS
    assert (item["name"], item["commands"], item["occurrences"]) == ("Tiny Report", [], 3)
    assert (item["first_seen"], item["last_seen"]) == ("2026-11-30T09:02:00+00:00", "2026-12-02T09:06:00+00:00")
    assert item["parameters"] == {"region": {"type": "string", "default": "us", "values": ["us"]}}
    workflow = yaml.safe_load(item["workflow"])
    assert workflow["triggers"] == [{"type": "schedule", "cron": "0 9 * * 1-5", "timezone": "UTC",
                                     "parameters": {"region": "us"}}]
    assert workflow["steps"] == yaml.safe_load(TINY)["steps"]
    runs_source = report["sources"][-1]
    # the run of 2026-11-20 was created long before the window: not even read
    assert runs_source["format"] == "dagster runs" and runs_source["entries"] == 9 and runs_source["used"] == 6
    assert runs_source["skipped"] == {"not started by hand (schedule, sensor...)": 3}

    text = suggest_cli(user, "--history", str(empty))
    assert '1. Schedule Tiny Report: cron "0 9 * * 1-5" (UTC)' in text.stdout
    written = suggest_cli(user, "--history", str(empty), "--write", "1")
    assert written.code == 0, written.stdout + written.stderr
    saved = yaml.safe_load((user / "definitions" / "tiny.yaml").read_text())
    assert saved["version"] == "1.0.1" and saved["triggers"][0]["cron"] == "0 9 * * 1-5"
    assert list((user / "definitions/.versions/tiny_report").glob("1.0.0.yaml"))
    again = json.loads(suggest_cli(user, "--history", str(empty), "--format", "json").stdout)
    assert again["suggestions"][0]["covered_by"] == "Tiny Report"
    no_runs = json.loads(suggest_cli(user, "--history", str(empty), "--no-runs", "--format", "json").stdout)
    assert no_runs["suggestions"] == [] and len(no_runs["sources"]) == 1
