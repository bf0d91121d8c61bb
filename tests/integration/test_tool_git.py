"""The `git` tool against real repositories made in temporary folders (issue #4).

Each test builds a bare "remote" repository, a developer clone that commits and pushes to it,
and lets workflows clone/pull/inspect their own clones. Nothing touches the project's own
repository.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import psutil
import pytest

from yaml2dag.tools import git as git_tool
from yaml2dag.tools.base import ToolContext, ToolError
from yaml2dag.format.validation import validate_text

pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")]

#: Bound for one git command of the test setup (seconds).
GIT_TIMEOUT = 60


def git(cwd: Path, *args: str, author: str = "Dev One", email: str = "dev1@example.com",
        date: str | None = None) -> str:
    """Run git for the test setup with a fixed identity; returns stdout."""
    env = dict(os.environ, GIT_AUTHOR_NAME=author, GIT_AUTHOR_EMAIL=email, GIT_COMMITTER_NAME=author,
               GIT_COMMITTER_EMAIL=email, GIT_TERMINAL_PROMPT="0")
    if date:
        env.update(GIT_AUTHOR_DATE=date, GIT_COMMITTER_DATE=date)
    done = subprocess.run(["git", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=GIT_TIMEOUT)
    assert done.returncode == 0, f"git {args} failed: {done.stderr}"
    return done.stdout.strip()


def commit(repo: Path, files: dict[str, str], message: str, **who) -> str:
    """Write files, commit them, return the new commit hash."""
    for rel, text in files.items():
        path = repo / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", message, **who)
    return git(repo, "rev-parse", "HEAD")


def bare_and_clone(tmp_path: Path, name: str) -> tuple[Path, Path]:
    """An empty bare repository ``tmp_path/name`` (branch `main`) and a developer clone of it in
    ``tmp_path/dev``, on `main`: (bare, dev)."""
    bare = tmp_path / name
    git(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    dev = tmp_path / "dev"
    git(tmp_path, "clone", "-q", str(bare), str(dev))
    git(dev, "checkout", "-q", "-b", "main")
    return bare, dev


@pytest.fixture
def remote(tmp_path) -> dict:
    """A bare remote with `main` (2 commits) and `feature` (1 more), and a dev clone of it."""
    bare, dev = bare_and_clone(tmp_path, "remote.git")
    first = commit(dev, {"README.md": "hello\n", "src/app.py": "print(1)\n"}, "initial")
    second = commit(dev, {"src/app.py": "print(2)\n"}, "second")
    git(dev, "push", "-q", "origin", "main")
    git(dev, "checkout", "-q", "-b", "feature")
    feature = commit(dev, {"feature.txt": "new feature\n"}, "feature work")
    git(dev, "push", "-q", "origin", "feature")
    git(dev, "checkout", "-q", "main")
    return {"bare": bare, "dev": dev, "first": first, "second": second, "feature": feature}


def test_clone_then_pull_reports_the_new_commit_and_changed_files(run_yaml, tmp_path, remote):
    clone_dir = tmp_path / "work" / "app"
    dev = remote["dev"]
    ran = run_yaml(f"""
        name: Sync
        steps:
          - id: get
            tool: git
            action: clone
            parameters: {{url: "{remote['bare']}", directory: "{clone_dir}", branch: main}}
          - id: fresh
            tool: git
            parameters: {{directory: "{clone_dir}"}}
          - id: upstream_change
            tool: shell
            parameters:
              command: >-
                cd {dev} && echo changed > README.md && mkdir -p docs && echo guide > docs/guide.md &&
                git add -A && git -c user.name=Dev -c user.email=dev@example.com commit -q -m "docs" &&
                git push -q origin main && git rev-parse HEAD
          - id: pull
            tool: git
            action: pull
            parameters: {{directory: "{clone_dir}"}}
          - id: again
            tool: git
            action: pull
            parameters: {{directory: "{clone_dir}", remote: origin, branch: main}}
          - id: state
            tool: git
            action: status
            parameters: {{directory: "{clone_dir}"}}
        outputs:
          cloned: "{{{{ get.cloned }}}}"
          clone_commit: "{{{{ get.commit }}}}"
          clone_branch: "{{{{ get.branch }}}}"
          fresh_output: "{{{{ fresh.output }}}}"
          fresh_changed: "{{{{ fresh.changed }}}}"
          pushed: "{{{{ upstream_change.output }}}}"
          commit: "{{{{ pull.commit }}}}"
          previous: "{{{{ pull.previous }}}}"
          changed: "{{{{ pull.changed }}}}"
          updated: "{{{{ pull.updated }}}}"
          pull_output: "{{{{ pull.output }}}}"
          again_changed: "{{{{ again.changed }}}}"
          again_updated: "{{{{ again.updated }}}}"
          clean: "{{{{ state.clean }}}}"
          ahead: "{{{{ state.ahead }}}}"
          state_commit: "{{{{ state.commit }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    assert out["cloned"] is True
    assert out["clone_commit"] == remote["second"]
    assert out["clone_branch"] == "main"
    assert out["fresh_output"] == "Already up to date."
    assert out["fresh_changed"] == []
    pushed = out["pushed"]
    assert len(pushed) == 40 and pushed != remote["second"]
    assert out["commit"] == pushed == out["state_commit"]
    assert out["previous"] == remote["second"]
    assert sorted(out["changed"]) == ["README.md", "docs/guide.md"]
    assert out["updated"] is True
    assert "Fast-forward" in out["pull_output"]
    assert out["again_changed"] == [] and out["again_updated"] is False
    assert out["clean"] is True and out["ahead"] == 0
    assert (clone_dir / "docs" / "guide.md").read_text() == "guide\n"


def test_log_since_a_date_and_per_author(run_yaml, tmp_path):
    repo = tmp_path / "history"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    alice = {"author": "Alice Smith", "email": "alice@example.com"}
    bob = {"author": "Bob Jones", "email": "bob@example.com"}
    c1 = commit(repo, {"a.txt": "1"}, "alice old", date="2024-01-10T10:00:00+00:00", **alice)
    c2 = commit(repo, {"b.txt": "1"}, "bob march", date="2024-03-05T10:00:00+00:00", **bob)
    c3 = commit(repo, {"a.txt": "2", "c/d.txt": "x"}, "alice april", date="2024-04-01T09:30:00+00:00", **alice)
    c4 = commit(repo, {"b.txt": "2"}, "bob april", date="2024-04-02T12:00:00+00:00", **bob)
    ran = run_yaml(f"""
        name: Standup
        steps:
          - id: recent
            tool: git
            action: log
            parameters: {{directory: "{repo}", since: "2024-03-01"}}
          - id: alice
            tool: git
            action: log
            parameters: {{directory: "{repo}", author: "alice@example.com"}}
          - id: window
            tool: git
            action: log
            parameters: {{directory: "{repo}", since: "2024-02-01", until: "2024-03-31", format: text}}
          - id: report
            tool: git
            action: log
            parameters: {{directory: "{repo}", since: "2024-03-01", author: [Alice, Bob], format: markdown}}
          - id: latest
            tool: git
            action: log
            parameters: {{directory: "{repo}", max_count: 1, paths: [c]}}
        outputs:
          recent: "{{{{ recent.output | map(attribute='subject') | list }}}}"
          recent_count: "{{{{ recent.count }}}}"
          authors: "{{{{ recent.authors }}}}"
          changed: "{{{{ recent.changed }}}}"
          head: "{{{{ recent.commit }}}}"
          first: "{{{{ recent.commits[-1] }}}}"
          alice: "{{{{ alice.output | map(attribute='commit') | list }}}}"
          window: "{{{{ window.output }}}}"
          report: "{{{{ report.output }}}}"
          latest: "{{{{ latest.commits[0].subject }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    assert out["recent"] == ["bob april", "alice april", "bob march"]
    assert out["recent_count"] == 3
    assert out["authors"] == {"Bob Jones": 2, "Alice Smith": 1}
    assert out["changed"] == ["a.txt", "b.txt", "c/d.txt"]
    assert out["head"] == c4
    assert out["first"] == {"commit": c2, "short": c2[:7], "author": "Bob Jones", "email": "bob@example.com",
                            "date": "2024-03-05T10:00:00+00:00", "subject": "bob march", "files": ["b.txt"]}
    assert out["alice"] == [c3, c1]
    assert out["window"] == f"{c2[:7]} 2024-03-05 Bob Jones: bob march"
    assert out["report"] == (
        "### Bob Jones (2 commits)\n"
        f"- `{c4[:7]}` bob april (2024-04-02)\n"
        f"- `{c2[:7]}` bob march (2024-03-05)\n"
        "\n"
        "### Alice Smith (1 commit)\n"
        f"- `{c3[:7]}` alice april (2024-04-01)\n"
    )
    assert out["latest"] == "alice april"


def test_log_since_accepts_git_dates_and_refuses_text_git_would_misread(run_yaml, tmp_path):
    from datetime import datetime, timedelta, timezone

    repo = tmp_path / "ages"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    ages = {"40 days": 40, "10 days": 10, "3 days": 3}
    for subject, days in ages.items():
        commit(repo, {"f.txt": subject}, subject, date=(now - timedelta(days=days)).isoformat())
    twelve_days_ago = int((now - timedelta(days=12)).timestamp())
    ran = run_yaml(f"""
        name: Ages
        parameters:
          since: "1 week ago"
          bad_since: "not a date"
        steps:
          - id: week
            tool: git
            action: log
            parameters: {{directory: "{repo}", since: "{{{{ since }}}}"}}
          - id: two_weeks
            tool: git
            action: log
            parameters: {{directory: "{repo}", since: "2 weeks ago"}}
          - id: dotted
            tool: git
            action: log
            parameters: {{directory: "{repo}", since: "5.weeks.ago", until: "1 week, 2 days ago"}}
          - id: epoch
            tool: git
            action: log
            parameters: {{directory: "{repo}", since: "@{twelve_days_ago}"}}
          - id: yesterday
            tool: git
            action: log
            parameters: {{directory: "{repo}", since: "yesterday"}}
          - id: iso
            tool: git
            action: log
            parameters: {{directory: "{repo}", since: "{(now - timedelta(days=20)).strftime('%Y-%m-%dT%H:%M:%SZ')}"}}
          - id: bad
            tool: git
            action: log
            on_error: continue
            retry: {{max_attempts: 3, delay: 1}}
            parameters: {{directory: "{repo}", since: "{{{{ bad_since }}}}"}}
        outputs:
          week: "{{{{ week.output | map(attribute='subject') | list }}}}"
          two_weeks: "{{{{ two_weeks.count }}}}"
          dotted: "{{{{ dotted.output | map(attribute='subject') | list }}}}"
          epoch: "{{{{ epoch.count }}}}"
          yesterday: "{{{{ yesterday.count }}}}"
          iso: "{{{{ iso.count }}}}"
          bad: "{{{{ bad.error }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    assert out["week"] == ["3 days"]
    assert out["two_weeks"] == 2 and out["epoch"] == 2 and out["iso"] == 2
    assert out["dotted"] == ["10 days"]
    assert out["yesterday"] == 0
    # a template that renders to text git would quietly read as "now" fails before git runs
    assert out["bad"].startswith("git.log: parameters.since: expected a date (\"2024-05-01\")")
    assert out["bad"].endswith(", got 'not a date'")
    assert [r for r in ran.events("STEP_UP_FOR_RETRY") if r.dagster_event.step_key == "bad"] == []


@pytest.mark.parametrize("value, ok", [
    ("2024-05-01", True), ("2024-05-01 09:00", True), ("2024-05-01T09:00:00+02:00", True), ("@1700000000", True),
    ("1 day ago", True), ("2 weeks ago", True), ("1 hour 30 minutes ago", True), ("3 months", True),
    ("yesterday", True), ("today", True), ("last monday", True), ("{{ since }}", True),
    ("not a date", False), ("36h", False), ("1 sec ago", False), ("1.5 days ago", False), ("May 1 2024", False),
    ("2 days ago; rm -rf /", False),
])
def test_validator_checks_log_since_and_until(value, ok):
    report = validate_text(f"""\
name: Since
parameters:
  since: "1 day ago"
steps:
  - id: log
    tool: git
    action: log
    parameters:
      directory: /tmp/x
      since: "{value}"
      until: "{value}"
""", "since.yaml")
    if ok:
        assert report.valid, [p.format() for p in report.problems]
        return
    assert [(p.line, p.path) for p in report.errors] == [(10, "steps[0].parameters.since"),
                                                         (11, "steps[0].parameters.until")]
    assert report.errors[0].message == (
        "expected a date (\"2024-05-01\"), a date-time (\"2024-05-01T08:00:00Z\"), \"@<unix seconds>\", \"today\", "
        "\"yesterday\", \"last monday\" or an age in whole units (\"1 day ago\", \"2 weeks ago\", "
        f"\"1 hour 30 minutes ago\"), got the string '{value}'")


def test_checkout_of_a_remote_branch_and_a_new_branch(run_yaml, tmp_path, remote):
    clone_dir = tmp_path / "co"
    git(tmp_path, "clone", "-q", str(remote["bare"]), str(clone_dir))
    ran = run_yaml(f"""
        name: Switch
        steps:
          - id: feature
            tool: git
            action: checkout
            parameters: {{directory: "{clone_dir}", ref: feature}}
          - id: hotfix
            tool: git
            action: checkout
            parameters: {{directory: "{clone_dir}", ref: hotfix, create: true, start_point: "{remote['first']}"}}
          - id: tag_like
            tool: git
            action: checkout
            parameters: {{directory: "{clone_dir}", ref: "{remote['second']}"}}
          - id: state
            tool: git
            action: status
            parameters: {{directory: "{clone_dir}"}}
        outputs:
          feature_branch: "{{{{ feature.branch }}}}"
          feature_commit: "{{{{ feature.commit }}}}"
          feature_changed: "{{{{ feature.changed }}}}"
          feature_previous: "{{{{ feature.previous }}}}"
          hotfix: "{{{{ hotfix.output }}}}"
          hotfix_commit: "{{{{ hotfix.commit }}}}"
          hotfix_changed: "{{{{ hotfix.changed }}}}"
          detached_branch: "{{{{ tag_like.branch }}}}"
          status_branch: "{{{{ state.branch }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    assert out["feature_branch"] == "feature"
    assert out["feature_commit"] == remote["feature"]
    assert out["feature_previous"] == remote["second"]
    assert out["feature_changed"] == ["feature.txt"]
    assert out["hotfix"] == f"switched to hotfix at {remote['first'][:7]}"
    assert out["hotfix_commit"] == remote["first"]
    assert sorted(out["hotfix_changed"]) == ["feature.txt", "src/app.py"]
    assert out["detached_branch"] is None
    assert out["status_branch"] is None
    assert git(clone_dir, "rev-parse", "hotfix") == remote["first"]
    assert (clone_dir / "src/app.py").read_text() == "print(2)\n"


def test_status_lists_changed_untracked_and_renamed_files(run_yaml, tmp_path, remote):
    clone_dir = tmp_path / "st"
    git(tmp_path, "clone", "-q", str(remote["bare"]), str(clone_dir))
    (clone_dir / "README.md").write_text("edited\n")
    (clone_dir / "notes").mkdir()
    (clone_dir / "notes" / "todo.txt").write_text("todo\n")
    git(clone_dir, "mv", "src/app.py", "src/main.py")
    ran = run_yaml(f"""
        name: Status
        steps:
          - id: state
            tool: git
            action: status
            parameters: {{directory: "{clone_dir}"}}
          - id: tracked_only
            tool: git
            action: status
            parameters: {{directory: "{clone_dir}", untracked: false}}
        outputs:
          text: "{{{{ state.output }}}}"
          changed: "{{{{ state.changed }}}}"
          untracked: "{{{{ state.untracked }}}}"
          clean: "{{{{ state.clean }}}}"
          branch: "{{{{ state.branch }}}}"
          upstream: "{{{{ state.upstream }}}}"
          tracked_changed: "{{{{ tracked_only.changed }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    assert out["text"].splitlines() == [" M README.md", "R  src/app.py -> src/main.py", "?? notes/todo.txt"]
    assert out["changed"] == ["README.md", "src/main.py", "notes/todo.txt"]
    assert out["untracked"] == ["notes/todo.txt"]
    assert out["clean"] is False
    assert out["branch"] == "main" and out["upstream"] == "origin/main"
    assert out["tracked_changed"] == ["README.md", "src/main.py"]


def test_git_errors_are_actionable(run_yaml, tmp_path, remote):
    clone_dir = tmp_path / "diverged"
    git(tmp_path, "clone", "-q", str(remote["bare"]), str(clone_dir))
    commit(clone_dir, {"local.txt": "local\n"}, "local work")
    commit(remote["dev"], {"remote.txt": "remote\n"}, "remote work")
    git(remote["dev"], "push", "-q", "origin", "main")
    plain = tmp_path / "plain"
    plain.mkdir()
    ran = run_yaml(f"""
        name: Errors
        defaults:
          on_error: continue
        steps:
          - id: not_repo
            tool: git
            action: status
            parameters: {{directory: "{plain}"}}
          - id: missing
            tool: git
            action: pull
            parameters: {{directory: "{tmp_path}/nothing"}}
          - id: diverged
            tool: git
            action: pull
            parameters: {{directory: "{clone_dir}"}}
          - id: unknown_ref
            tool: git
            action: checkout
            parameters: {{directory: "{clone_dir}", ref: no-such-branch}}
          - id: taken
            tool: git
            action: clone
            parameters: {{url: "{remote['bare']}", directory: "{clone_dir}"}}
          - id: keep
            tool: git
            action: clone
            parameters: {{url: "{remote['bare']}", directory: "{clone_dir}", if_exists: skip}}
          - id: bad_url
            tool: git
            action: clone
            parameters: {{url: "{tmp_path}/no-such-repo.git", directory: "{tmp_path}/x"}}
        outputs:
          not_repo: "{{{{ not_repo.error }}}}"
          missing: "{{{{ missing.error }}}}"
          diverged: "{{{{ diverged.error }}}}"
          unknown_ref: "{{{{ unknown_ref.error }}}}"
          taken: "{{{{ taken.error }}}}"
          keep: "{{{{ keep.output }}}}"
          keep_cloned: "{{{{ keep.cloned }}}}"
          bad_url: "{{{{ bad_url.error }}}}"
    """)
    out = ran.result.outputs
    assert out["not_repo"] == f"{plain} is not a git repository (no .git here or in a parent folder)"
    assert out["missing"] == f"folder {tmp_path}/nothing does not exist"
    assert out["diverged"] == "git pull failed: fatal: Not possible to fast-forward, aborting."
    assert out["unknown_ref"] == "git checkout failed: fatal: invalid reference: no-such-branch"
    assert out["taken"] == (f"cannot clone into {clone_dir}: a repository is already there; set `if_exists: pull` "
                            "to update it or `if_exists: skip` to keep it")
    assert out["keep"].startswith(f"kept the existing repository in {clone_dir} at ")
    assert out["keep_cloned"] is False
    assert out["bad_url"] == f"git clone failed: fatal: repository '{tmp_path}/no-such-repo.git' does not exist"
    assert ran.result.steps["keep"] == "succeeded"
    assert not (tmp_path / "x").exists()


def test_permanent_failures_are_not_retried_and_missing_git_is_explained(tmp_path, monkeypatch, remote):
    ctx = ToolContext("t", timeout=60)
    with pytest.raises(ToolError) as info:
        git_tool.status(ctx, {"directory": str(tmp_path)})
    assert info.value.retryable is False
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    with pytest.raises(ToolError) as info:
        git_tool.pull(ToolContext("t"), {"directory": str(remote["dev"])})
    assert info.value.message == ("git is not installed: no `git` program on PATH (install it, e.g. "
                                  "`apt-get install git`)")
    assert info.value.retryable is False


@pytest.fixture
def silent_server():
    """A TCP server on loopback that accepts connections and never answers."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                held.append(conn)
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(timeout=5)
        for conn in held:
            conn.close()
        server.close()


def test_step_timeout_kills_a_hanging_git(run_yaml, tmp_path, silent_server):
    started = time.monotonic()
    ran = run_yaml(f"""
        name: Hanging clone
        steps:
          - id: hang
            tool: git
            action: clone
            timeout: 2
            parameters: {{url: "http://127.0.0.1:{silent_server}/repo.git", directory: "{tmp_path}/hang"}}
    """)
    elapsed = time.monotonic() - started
    assert ran.result.status == "FAILURE"
    assert ran.result.error == "git clone timed out after 2s and was killed (its whole process group)"
    assert elapsed < 30
    marker = f"127.0.0.1:{silent_server}"
    survivors = []
    for proc in psutil.process_iter(["cmdline"]):
        if any(marker in part for part in proc.info["cmdline"] or []):
            survivors.append(proc.info["cmdline"])
    assert survivors == [], "a git process survived the timeout"


def test_validator_reports_bad_git_parameters_with_line_numbers():
    text = """\
name: Bad git
steps:
  - id: c
    tool: git
    action: clone
    parameters:
      url: "--upload-pack=touch /tmp/pwned"
      directory: /tmp/x
      depth: 0
  - id: p
    tool: git
    parameters: {directory: /tmp/x, ff_only: "no"}
  - id: l
    tool: git
    action: log
    parameters:
      directory: /tmp/x
      format: json
      max_count: many
  - id: k
    tool: git
    action: checkout
    parameters: {directory: /tmp/x}
  - id: s
    tool: git
    action: stats
    parameters: {directory: /tmp/x}
outputs:
  head: "{{ p.commit }}"
  files: "{{ p.changed_files }}"
"""
    report = validate_text(text, "bad.yaml")
    assert [p.format() for p in report.problems] == [
        "bad.yaml:7:12: steps[0].parameters.url: expected a value that does not start with `-`, got the string "
        "'--upload-pack=touch /tmp/pwned' [parameters]",
        "bad.yaml:9:14: steps[0].parameters.depth: must be at least 1, got 0 [parameters]",
        "bad.yaml:12:46: steps[1].parameters.ff_only: expected true or false, got the string 'no' [parameters]",
        "bad.yaml:18:15: steps[2].parameters.format: the string 'json' is not one of `list`, `text`, `markdown` "
        "[parameters]",
        "bad.yaml:19:18: steps[2].parameters.max_count: expected an integer, got the string 'many' [parameters]",
        "bad.yaml:23:17: steps[3].parameters: missing required key `ref` [parameters]",
        "bad.yaml:26:13: steps[4].action: unknown action `stats` of tool `git`; did you mean `status`? (actions: "
        "pull, clone, status, log, checkout) [tool]",
        "bad.yaml:30:10: outputs.files: step `p` has no result field `changed_files`; did you mean `changed`? "
        "(fields: attempts, branch, changed, commit, duration, error, output, previous, status, succeeded, "
        "updated) [reference]",
    ]
