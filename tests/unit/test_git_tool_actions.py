"""The `git` tool's actions called directly (the TOOL's `Action.run` with a ToolContext, no
Dagster run) on real repositories in tmp_path: the errors a workflow author can cause, with the
messages of docs/manual/tools/git_en.md ("Errors") and their retry decision, and the less-used
options (pull without an upstream, `clone` with `depth`/`branch`/`if_exists`, `log` filters and
formats). git runs as the tool runs it (a subprocess of the action); the fixtures use git too.
"""

from __future__ import annotations

import shutil
import subprocess
import time

import pytest

from recording_log import RecordingLog
from yaml2dag.tools.base import StepTimeoutError, ToolContext, ToolError
from yaml2dag.tools.git import TOOL

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


@pytest.fixture(autouse=True)
def _identity(monkeypatch, tmp_path):
    # commits by the fixtures and merges by the tool need an identity; no user config is read
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    for who in ("AUTHOR", "COMMITTER"):
        monkeypatch.setenv(f"GIT_{who}_NAME", "Ann")
        monkeypatch.setenv(f"GIT_{who}_EMAIL", "ann@example.test")


def git(cwd, *args) -> str:
    return subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True).stdout.strip()


def commit(repo, name: str, text: str, message: str | None = None, author: str | None = None) -> str:
    (repo / name).parent.mkdir(parents=True, exist_ok=True)
    (repo / name).write_text(text)
    git(repo, "add", name)
    extra = ["--author", author] if author else []
    git(repo, "commit", "-q", "-m", message or f"edit {name}", *extra)
    return git(repo, "rev-parse", "HEAD")


@pytest.fixture
def origin(tmp_path):
    repo = tmp_path / "origin"
    repo.mkdir()
    git(repo, "init", "-q", "-b", "main")
    commit(repo, "a.txt", "one\n", "first")
    commit(repo, "b.txt", "two\n", "second")
    return repo


def _run(action: str, params: dict, ctx: ToolContext | None = None):
    ctx = ctx or ToolContext("g", log=RecordingLog())
    return next(a for a in TOOL.actions if a.name == action).run(ctx, params)


def _error(action: str, params: dict, ctx: ToolContext | None = None) -> ToolError:
    with pytest.raises(ToolError) as info:
        _run(action, params, ctx)
    return info.value


# --------------------------------------------------------------------------- the folder


def test_a_missing_folder_a_file_and_a_plain_folder_are_refused_and_not_retried(tmp_path):
    (tmp_path / "file.txt").write_text("x")
    (tmp_path / "plain").mkdir()
    cases = {
        "gone": f"folder {tmp_path / 'gone'} does not exist",
        "file.txt": f"{tmp_path / 'file.txt'} is not a folder",
        "plain": f"{tmp_path / 'plain'} is not a git repository (no .git here or in a parent folder)",
    }
    for name, message in cases.items():
        error = _error("status", {"directory": str(tmp_path / name)})
        assert (error.message, error.retryable) == (message, False)


def test_a_step_already_out_of_time_does_not_start_git(origin):
    ctx = ToolContext("g", timeout=5, log=RecordingLog())
    ctx.deadline = time.monotonic() - 1  # the step's time is up
    with pytest.raises(StepTimeoutError) as info:
        _run("status", {"directory": str(origin)}, ctx)
    assert info.value.message == "git rev-parse did not start: the step timed out after 5s"


# --------------------------------------------------------------------------- pull


def test_pull_without_upstream_takes_the_same_branch_from_origin(tmp_path, origin):
    clone = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "branch", "--unset-upstream")
    before = git(clone, "rev-parse", "HEAD")
    new = commit(origin, "docs/c.md", "three\n", "third")
    log = RecordingLog()
    result = _run("pull", {"directory": str(clone)}, ToolContext("g", log=log))
    assert result.fields["commit"] == new and result.fields["previous"] == before
    assert result.fields["updated"] is True and result.fields["branch"] == "main"
    assert result.fields["changed"] == ["docs/c.md"]
    assert result.metadata["changed files"] == "- `docs/c.md`"
    assert "Fast-forward" in result.output
    assert ("info", "$ git pull --ff-only --no-edit origin main") in log.lines
    assert ("info", f"{clone}: {before[:7]} -> {new[:7]}, 1 files changed") in log.lines


def test_pull_on_a_detached_head_without_upstream_asks_for_a_branch(tmp_path, origin):
    clone = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    git(clone, "checkout", "-q", "--detach", "HEAD~1")
    error = _error("pull", {"directory": str(clone)})
    assert error.message == f"cannot pull in {clone}: HEAD is detached and no `branch` is given"
    assert error.retryable is False


def test_pull_of_diverged_history_fails_and_is_not_retried_but_merges_without_ff_only(tmp_path, origin):
    clone = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    commit(origin, "remote.txt", "r\n")
    commit(clone, "local.txt", "l\n")
    log = RecordingLog()
    with pytest.raises(ToolError) as info:
        _run("pull", {"directory": str(clone)}, ToolContext("g", log=log))
    assert info.value.message.startswith("git pull failed: fatal: Not possible to fast-forward")
    assert info.value.retryable is False
    assert info.value.fields["exit_code"] != 0
    assert any(line.startswith("[git] ") for _, line in log.lines)  # git's own lines are in the step log
    merged = _run("pull", {"directory": str(clone), "ff_only": False})
    assert merged.fields["changed"] == ["remote.txt"] and merged.fields["updated"] is True
    assert git(clone, "log", "-1", "--pretty=%P").count(" ") == 1  # a merge commit


def test_pull_of_an_unknown_remote_branch_is_not_retried(tmp_path, origin):
    clone = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(origin), str(clone))
    error = _error("pull", {"directory": str(clone), "branch": "nope"})
    assert error.message == "git pull failed: fatal: couldn't find remote ref nope"
    assert error.retryable is False


# --------------------------------------------------------------------------- clone


def test_clone_a_branch_shallowly(tmp_path, origin):
    git(origin, "checkout", "-q", "-b", "release")
    tip = commit(origin, "r.txt", "r\n", "release only")
    git(origin, "checkout", "-q", "main")
    target = tmp_path / "deep" / "er" / "copy"
    result = _run("clone", {"url": f"file://{origin}", "directory": str(target), "branch": "release", "depth": 1})
    assert result.fields["commit"] == tip and result.fields["branch"] == "release"
    assert result.fields["cloned"] is True and result.fields["previous"] is None
    assert result.output == f"cloned file://{origin} into {target} at {tip[:7]} (release)"
    assert git(target, "rev-list", "--count", "HEAD") == "1"  # depth 1: one commit


def test_clone_into_a_taken_folder(tmp_path, origin):
    busy = tmp_path / "busy"
    busy.mkdir()
    (busy / "notes.txt").write_text("mine")
    error = _error("clone", {"url": str(origin), "directory": str(busy)})
    assert error.message == f"cannot clone into {busy}: it exists and is not an empty folder (nor a git repository)"
    assert error.retryable is False
    # a folder inside some repository is not "a repository already there"
    inner = origin / "sub"
    inner.mkdir()
    (inner / "x").write_text("x")
    assert _error("clone", {"url": str(origin), "directory": str(inner)}).message.endswith(
        "it exists and is not an empty folder (nor a git repository)")


def test_clone_over_an_existing_clone_fails_skips_or_pulls_as_asked(tmp_path, origin):
    target = tmp_path / "copy"
    first = _run("clone", {"url": str(origin), "directory": str(target)})
    error = _error("clone", {"url": str(origin), "directory": str(target)})
    assert error.message == (f"cannot clone into {target}: a repository is already there; set `if_exists: pull` "
                             "to update it or `if_exists: skip` to keep it")
    assert error.retryable is False
    new = commit(origin, "c.txt", "c\n")
    kept = _run("clone", {"url": str(origin), "directory": str(target), "if_exists": "skip"})
    assert kept.output == f"kept the existing repository in {target} at {first.fields['commit'][:7]}"
    assert kept.fields["cloned"] is False and kept.fields["updated"] is False and kept.fields["changed"] == []
    pulled = _run("clone", {"url": str(origin), "directory": str(target), "if_exists": "pull"})
    assert pulled.fields["commit"] == new and pulled.fields["changed"] == ["c.txt"]
    assert pulled.fields["cloned"] is False and pulled.fields["directory"] == str(target)


def test_clone_of_a_missing_repository_and_an_option_like_url_are_not_retried(tmp_path):
    error = _error("clone", {"url": str(tmp_path / "nowhere.git"), "directory": str(tmp_path / "c")})
    assert error.message.startswith("git clone failed: fatal: repository ")
    assert error.message.endswith("does not exist")
    assert error.retryable is False
    error = _error("clone", {"url": "--upload-pack=touch /tmp/x", "directory": str(tmp_path / "c")})
    assert error.message == "`url` must not start with `-` (got '--upload-pack=touch /tmp/x')"
    assert error.retryable is False


def test_a_password_in_the_url_never_shows(tmp_path):
    error = _error("clone", {"url": "http://bob:s3cr3tpw@127.0.0.1:9/r.git", "directory": str(tmp_path / "c")})
    assert "s3cr3tpw" not in error.message and "s3cr3tpw" not in error.fields["stderr"]
    assert error.retryable is True  # a network failure: a retry may help


# --------------------------------------------------------------------------- log


@pytest.fixture
def history(origin):
    commit(origin, "src/x.py", "x\n", "feature x", author="Bob <bob@corp.test>")
    commit(origin, "src/y.py", "y\n", "feature y", author="Bob <bob@corp.test>")
    git(origin, "checkout", "-q", "-b", "side")
    commit(origin, "side.txt", "s\n", "side work", author="Cy <cy@example.test>")
    git(origin, "checkout", "-q", "main")
    return origin


def test_log_filters_by_author_list_count_paths_ref_and_all(history):
    d = str(history)
    by_author = _run("log", {"directory": d, "author": ["bob@", "^Cy"]})
    assert [c["subject"] for c in by_author.output] == ["feature y", "feature x"]  # side is not on main
    assert by_author.fields["authors"] == {"Bob": 2}
    everywhere = _run("log", {"directory": d, "author": "Cy", "all": True})
    assert [c["subject"] for c in everywhere.output] == ["side work"]
    newest = _run("log", {"directory": d, "max_count": 1})
    assert [c["subject"] for c in newest.output] == ["feature y"] and newest.fields["count"] == 1
    in_src = _run("log", {"directory": d, "paths": ["src"]})
    assert in_src.fields["changed"] == ["src/x.py", "src/y.py"]
    side = _run("log", {"directory": d, "ref": "main..side"})
    assert [c["files"] for c in side.output] == [["side.txt"]]
    assert side.fields["commit"] == git(history, "rev-parse", "HEAD")  # HEAD, not the walked ref


def test_log_as_text_and_markdown(history):
    text = _run("log", {"directory": str(history), "format": "text", "max_count": 2}).output
    lines = text.splitlines()
    assert len(lines) == 2 and lines[0].endswith(" Bob: feature y")
    markdown = _run("log", {"directory": str(history), "format": "markdown"}).output
    assert markdown.startswith("### Bob (2 commits)\n- `")
    assert "### Ann (2 commits)" in markdown
    empty = _run("log", {"directory": str(history), "format": "markdown", "author": "nobody"})
    assert empty.output == "_No commits._" and empty.fields["count"] == 0


def test_log_of_an_unknown_ref_and_an_option_like_ref_are_not_retried(history):
    error = _error("log", {"directory": str(history), "ref": "no-such-branch"})
    assert error.message.startswith("git log failed: fatal: ")
    assert "no-such-branch" in error.message
    assert error.retryable is False
    error = _error("log", {"directory": str(history), "ref": "--output=/tmp/x"})
    assert error.message == "`ref` must not start with `-` (got '--output=/tmp/x')"
