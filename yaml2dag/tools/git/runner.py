"""Running the git CLI for an action: :func:`run_git` and the queries the actions share.

git runs as an argument list (never a shell) in its own process group, stdin closed and
``GIT_TERMINAL_PROMPT=0``; the step's time left bounds every command and a stopped group is
collected for at most :data:`COLLECT_SECONDS`. Failures become
:class:`~yaml2dag.tools.base.ToolError` with git's error line, not retryable when the error is
one of ``_PERMANENT``; credentials in URLs are masked (:func:`redact`). Also here: :func:`head`,
:func:`current_branch`, :func:`changed_files` and the checks of a repository folder.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from dataclasses import dataclass
from typing import Any, Sequence

from yaml2dag.tools.base import StepTimeoutError, ToolContext, ToolError
from yaml2dag.tools.shell import _last_line, _stop_group


#: Seconds to collect output after a stopped git process group.
COLLECT_SECONDS = 10.0
#: stderr lines of one git command copied into the event log.
MAX_LOGGED_LINES = 200

_CREDENTIALS = re.compile(r"(\b[a-z][a-z0-9+.-]*://)[^/@\s]+@", re.IGNORECASE)
#: git errors that no retry can fix (the step fails at once even with a `retry` block).
_PERMANENT = (
    "not a git repository", "not possible to fast-forward", "would be overwritten", "conflict",
    "repository not found", "does not exist", "authentication failed", "could not read username",
    "couldn't find remote ref", "not found in upstream", "pathspec", "did not match any",
    "already exists", "invalid reference", "unknown revision", "bad revision", "dubious ownership",
    "not a valid", "please commit your changes", "permission denied", "terminal prompts disabled",
    "no such remote", "does not appear to be a git repository", "divergent branches",
    "need to specify how to reconcile",
)


@dataclass
class GitRun:
    """One finished git command: ``args`` (without ``git``), ``exit_code``, ``stdout``, ``stderr``."""

    args: list[str]
    exit_code: int
    stdout: str
    stderr: str


def redact(text: str) -> str:
    """``text`` with credentials in URLs replaced: ``https://***@host/...``."""
    return _CREDENTIALS.sub(r"\1***@", text)


def git_program() -> str:
    """Path of the git executable.

    Raises:
        ToolError: (not retryable) git is not installed.
    """
    path = shutil.which("git")
    if not path:
        raise ToolError("git is not installed: no `git` program on PATH (install it, e.g. "
                        "`apt-get install git`)", retryable=False)
    return path


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env.update(GIT_TERMINAL_PROMPT="0", GCM_INTERACTIVE="never", GIT_PAGER="cat", PAGER="cat",
               LC_ALL="C", LANGUAGE="C", GIT_OPTIONAL_LOCKS="0")
    env.pop("GIT_DIR", None)
    env.pop("GIT_WORK_TREE", None)
    return env


def error_line(stderr: str, stdout: str = "") -> str:
    """The line of git's output that says what went wrong: the last ``fatal:``/``error:`` line,
    else the last non-empty line of stderr (then stdout)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if line.startswith(("fatal:", "error:")):
            return line[:300]
    if lines:
        return lines[-1][:300]
    return _last_line(stdout)


def run_git(ctx: ToolContext, args: Sequence[str], *, cwd: str | None = None, check: bool = True,
            what: str | None = None, log: bool = False) -> GitRun:
    """Run ``git ARGS`` in its own process group, within the step's remaining time.

    Args:
        ctx: the step's context (deadline, cancellation, log, secrets).
        args: arguments after ``git`` (a list: never parsed by a shell).
        cwd: working directory (the repository).
        check: raise on a non-zero exit code.
        what: the command named in messages (default ``git <first arg>``).
        log: copy the command and its stderr lines into the step's log.

    Returns:
        The finished :class:`GitRun` (stdout/stderr decoded as UTF-8, secrets masked).

    Raises:
        ToolError: git is missing, failed (with ``check``), or the run was terminated.
        StepTimeoutError: the step's timeout passed; the process group was killed.
    """
    argv = [git_program(), "-c", "core.quotepath=off", "-c", "color.ui=false", *[str(a) for a in args]]
    what = what or f"git {args[0]}"
    shown = ctx.mask(redact(" ".join(str(a) for a in args)))
    if log:
        ctx.log.info(f"$ git {shown}")
    timeout = ctx.time_left()
    if timeout is not None and timeout <= 0:
        raise StepTimeoutError(f"{what} did not start: the step timed out after {ctx.timeout:g}s")
    try:
        proc = subprocess.Popen(argv, cwd=cwd, env=_env(), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, start_new_session=True)
    except FileNotFoundError:
        raise ToolError("git is not installed: the `git` program could not be started", retryable=False) from None
    ctx.started_process(proc.pid)  # killed with its group if the run's process dies
    stopped = threading.Event()

    def stop() -> None:
        if proc.poll() is None:
            stopped.set()
            _stop_group(proc)

    ctx.on_cancel(stop)
    timed_out = False
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        stopped.set()
        _stop_group(proc)
        try:
            out, err = proc.communicate(timeout=COLLECT_SECONDS)
        except subprocess.TimeoutExpired:
            out, err = b"", b""
    stdout = ctx.mask(redact(out.decode("utf-8", errors="replace")))
    stderr = ctx.mask(redact(err.decode("utf-8", errors="replace")))
    if log:
        for line in [l for l in stderr.splitlines() if l.strip()][:MAX_LOGGED_LINES]:
            ctx.log.info(f"[git] {line}")
    fields = {"exit_code": proc.returncode, "stderr": stderr}
    if timed_out:
        raise StepTimeoutError(f"{what} timed out after {ctx.timeout:g}s and was killed (its whole process "
                               "group)", fields)
    if stopped.is_set():
        raise ToolError(f"{what} was stopped (the step timed out or the run was terminated)", fields)
    if check and proc.returncode != 0:
        if not log:  # the full story goes to the step's log; the message keeps one line
            ctx.log.info(f"$ git {shown}")
            for line in [l for l in stderr.splitlines() if l.strip()][:MAX_LOGGED_LINES]:
                ctx.log.info(f"[git] {line}")
        line = error_line(stderr, stdout)
        raise ToolError(f"{what} failed: {line or f'exit code {proc.returncode}'}", fields,
                        retryable=not _is_permanent(stderr))
    return GitRun([str(a) for a in args], proc.returncode, stdout, stderr)


def _is_permanent(stderr: str) -> bool:
    low = stderr.lower()
    return any(marker in low for marker in _PERMANENT)


def _no_option(value: Any, name: str) -> str:
    text = str(value)
    if text.startswith("-"):
        raise ToolError(f"`{name}` must not start with `-` (got {text!r})", retryable=False)
    return text


def _repository(ctx: ToolContext, directory: str) -> str:
    """The absolute work-tree folder, checked to be inside a git repository."""
    path = os.path.normpath(os.path.abspath(os.path.expanduser(str(directory))))
    if not os.path.exists(path):
        raise ToolError(f"folder {path} does not exist", retryable=False)
    if not os.path.isdir(path):
        raise ToolError(f"{path} is not a folder", retryable=False)
    probe = run_git(ctx, ["rev-parse", "--is-inside-work-tree"], cwd=path, check=False)
    if probe.exit_code != 0 or probe.stdout.strip() != "true":
        line = error_line(probe.stderr)
        if "not a git repository" in line.lower() or probe.exit_code == 0:
            raise ToolError(f"{path} is not a git repository (no .git here or in a parent folder)",
                            {"stderr": probe.stderr}, retryable=False)
        raise ToolError(f"git cannot use {path}: {line}", {"stderr": probe.stderr}, retryable=False)
    return path


def head(ctx: ToolContext, repo: str) -> str | None:
    """The full hash of HEAD, or None in a repository without commits."""
    run = run_git(ctx, ["rev-parse", "--verify", "--quiet", "HEAD^{commit}"], cwd=repo, check=False)
    value = run.stdout.strip()
    return value if run.exit_code == 0 and value else None


def current_branch(ctx: ToolContext, repo: str) -> str | None:
    """The checked-out branch's short name, or None when HEAD is detached."""
    run = run_git(ctx, ["symbolic-ref", "--quiet", "--short", "HEAD"], cwd=repo, check=False)
    return run.stdout.strip() or None if run.exit_code == 0 else None


def changed_files(ctx: ToolContext, repo: str, old: str | None, new: str | None) -> list[str]:
    """Paths that differ between commits ``old`` and ``new`` (every file of ``new`` when
    ``old`` is None; empty when they are equal or ``new`` is None)."""
    if new is None or old == new:
        return []
    if old is None:
        run = run_git(ctx, ["ls-tree", "-r", "-z", "--name-only", new], cwd=repo)
    else:
        run = run_git(ctx, ["diff", "--name-only", "-z", "--no-renames", old, new], cwd=repo)
    return [p for p in run.stdout.split("\0") if p]


def _short(commit: str | None) -> str:
    return commit[:7] if commit else "(no commits)"
