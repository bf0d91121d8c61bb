"""The ``git`` tool: clone, pull, status, log and checkout through the git CLI (spec §6, issue #4).

Actions (``pull`` is the default, as listed first in spec §6): ``pull``, ``clone``, ``status``,
``log``, ``checkout``. Every action reports ``commit`` (HEAD after the action, or null in a
repository without commits); the ones that move HEAD report ``changed``, the files that differ
between HEAD before and after (``git diff --name-only OLD NEW``).

How git runs:

* as an argument list, never through a shell; values that could be read as options (a URL or
  ref starting with ``-``) are refused, and paths follow ``--``;
* in its own process group (``start_new_session``), with stdin closed and
  ``GIT_TERMINAL_PROMPT=0``, so a missing credential fails at once instead of waiting for a
  password; on the step's ``timeout`` or run termination the whole group (git and its ssh or
  https helpers) is stopped with the shell tool's SIGTERM-then-SIGKILL helper;
* the step ``timeout`` is one budget shared by all git commands of the action
  (``handles_timeout``);
* failures become ``ToolError("git pull failed: <git's error line>")`` with ``stderr`` and
  ``exit_code`` in the fields; credentials in URLs (``https://user:token@host``) are masked in
  messages and logs.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass
from typing import Any, Sequence

from yaml2dag.tools.base import Action, Markdown, StepTimeoutError, Tool, ToolContext, ToolError, ToolResult
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

_NOT_OPTION = {"pattern": r"^[^-]", "x-expected": "a value that does not start with `-`"}
_DIRECTORY = {"type": "string", "minLength": 1, "description": "The repository's folder (a work tree)."}
_REF = dict(_NOT_OPTION, type="string", minLength=1)

_UNIT = r"(second|minute|hour|day|week|month|year)s?"
_WEEKDAY = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
#: Dates ``git log --since/--until`` reads the way they look. git's own parser (approxidate)
#: accepts anything and quietly reads text it does not understand as "now" (``since: "not a
#: date"`` finds no commits) or as something else (``36h`` lands in the future, ``1 sec ago`` is
#: two days), so only these forms are accepted (git-log(1), "--since"; checked at validation
#: and again after a template renders):
#: ISO dates and date-times, ``@UNIX-SECONDS``, ``now``/``today``/``yesterday``/``noon``/
#: ``midnight``, ``last week|month|year|<weekday>`` and ages of whole units such as
#: ``2 weeks ago``, ``1 hour 30 minutes ago`` or ``1.week.ago`` (``ago`` may be left out).
GIT_DATE_PATTERN = (
    r"^\s*("
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\s?(Z|[+-][0-9]{2}:?[0-9]{2})?)?"
    r"|@[0-9]+"
    r"|now|today|yesterday|noon|midnight|yesterday noon|yesterday midnight"
    rf"|last (week|month|year|{_WEEKDAY})"
    rf"|[0-9]+[ .]{_UNIT}(,?[ .][0-9]+[ .]{_UNIT})*([ .]ago)?"
    r")\s*$"
)
_GIT_DATE = {
    "type": "string", "pattern": GIT_DATE_PATTERN,
    "x-expected": "a date (\"2024-05-01\"), a date-time (\"2024-05-01T08:00:00Z\"), \"@<unix seconds>\", "
                  "\"today\", \"yesterday\", \"last monday\" or an age in whole units "
                  "(\"1 day ago\", \"2 weeks ago\", \"1 hour 30 minutes ago\")",
}

CLONE_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "directory"],
    "properties": {
        "url": dict(_NOT_OPTION, type="string", minLength=1,
                    description="Repository URL or path (https://, ssh://, git@host:path, /srv/repo.git)."),
        "directory": dict(_DIRECTORY, description="Folder to clone into."),
        "branch": dict(_REF, description="Branch or tag to check out (default: the remote's HEAD)."),
        "depth": {"type": "integer", "minimum": 1, "description": "Shallow clone with this many commits."},
        "if_exists": {"enum": ["fail", "skip", "pull"],
                      "description": "When `directory` already holds a repository (default fail)."},
    },
}

PULL_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["directory"],
    "properties": {
        "directory": _DIRECTORY,
        "remote": dict(_REF, description="Remote to pull from (default: the branch's upstream, else origin)."),
        "branch": dict(_REF, description="Remote branch to pull (default: the upstream branch)."),
        "ff_only": {"type": "boolean", "description": "Only fast-forward (default true); false merges."},
    },
}

STATUS_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["directory"],
    "properties": {
        "directory": _DIRECTORY,
        "untracked": {"type": "boolean", "description": "Report untracked files (default true)."},
    },
}

LOG_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["directory"],
    "properties": {
        "directory": _DIRECTORY,
        "since": dict(_GIT_DATE, description="Commits after this date: \"2024-05-01\", \"1 day ago\", \"yesterday\"."),
        "until": dict(_GIT_DATE, description="Commits before this date (same forms as `since`)."),
        "author": {
            "anyOf": [{"type": "string", "minLength": 1},
                      {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}],
            "x-expected": "an author pattern or a list of them",
            "description": "Only commits whose author name or email matches (a regex; a list ORs).",
        },
        "max_count": {"type": "integer", "minimum": 1, "description": "At most this many commits."},
        "ref": dict(_REF, description="Revision or range to walk (default HEAD), e.g. `main` or `v1.0..main`."),
        "all": {"type": "boolean", "description": "Walk all branches and tags (default false)."},
        "no_merges": {"type": "boolean", "description": "Leave out merge commits (default false)."},
        "paths": {"type": "array", "items": {"type": "string", "minLength": 1},
                  "description": "Only commits touching these paths."},
        "format": {"enum": ["list", "text", "markdown"],
                   "description": "Shape of `output`: list of commits (default), text lines or markdown."},
    },
}

CHECKOUT_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["directory", "ref"],
    "properties": {
        "directory": _DIRECTORY,
        "ref": dict(_REF, description="Branch, tag or commit to check out (a new branch's name with `create`)."),
        "create": {"type": "boolean", "description": "Create branch `ref` (default false)."},
        "start_point": dict(_REF, description="With `create`: where the new branch starts (default HEAD)."),
    },
}


# --------------------------------------------------------------------------- running git


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


# --------------------------------------------------------------------------- actions


def _pull(ctx: ToolContext, repo: str, remote: str | None, branch: str | None, ff_only: bool) -> ToolResult:
    old = head(ctx, repo)
    current = current_branch(ctx, repo)
    args = ["pull", "--ff-only" if ff_only else "--no-rebase", "--no-edit"]
    if branch:
        args += [remote or "origin", branch]
    else:
        upstream = run_git(ctx, ["rev-parse", "--abbrev-ref", "--symbolic-full-name", "@{upstream}"],
                           cwd=repo, check=False)
        if upstream.exit_code == 0 and upstream.stdout.strip():
            if remote:
                args.append(remote)
        else:
            if current is None:
                raise ToolError(f"cannot pull in {repo}: HEAD is detached and no `branch` is given", retryable=False)
            args += [remote or "origin", current]
    run = run_git(ctx, args, cwd=repo, what="git pull", log=True)
    new = head(ctx, repo)
    changed = changed_files(ctx, repo, old, new)
    ctx.log.info(f"{repo}: {_short(old)} -> {_short(new)}, {len(changed)} files changed")
    fields = {"commit": new, "previous": old, "changed": changed, "updated": old != new, "branch": current_branch(ctx, repo)}
    output = run.stdout.strip() or run.stderr.strip()
    metadata = {"commit": new or "", "changed": len(changed)}
    if changed:
        metadata["changed files"] = Markdown("\n".join(f"- `{p}`" for p in changed[:100])
                                             + (f"\n\n… and {len(changed) - 100} more" if len(changed) > 100 else ""))
    return ToolResult(output=output, fields=fields, metadata=metadata)


def pull(ctx: ToolContext, params: dict) -> ToolResult:
    """``git pull`` in ``directory``.

    Args (``params``):
        directory: the work tree.
        remote: remote name (default: the upstream's remote, else ``origin``).
        branch: remote branch (default: the current branch's upstream; without an upstream,
            the branch of the same name on ``remote``).
        ff_only: ``--ff-only`` (default true); false merges (``--no-rebase``).

    Returns:
        ``output``: git's output (``Already up to date.``, ``Fast-forward ...``); fields
        ``commit`` (new HEAD), ``previous`` (HEAD before), ``changed`` (paths changed by the
        pull), ``updated`` (bool), ``branch``.

    Raises:
        ToolError: not a repository, detached HEAD without ``branch``, git failed (message
            ``git pull failed: <git's error line>``; network errors are retryable, diverged
            branches or local changes are not). StepTimeoutError: the step timed out.
    """
    repo = _repository(ctx, params["directory"])
    remote = _no_option(params["remote"], "remote") if params.get("remote") else None
    branch = _no_option(params["branch"], "branch") if params.get("branch") else None
    return _pull(ctx, repo, remote, branch, bool(params.get("ff_only", True)))


def clone(ctx: ToolContext, params: dict) -> ToolResult:
    """``git clone URL DIRECTORY``, or skip/pull when the repository is already there.

    Args (``params``):
        url: repository URL or path. directory: target folder (parents are created).
        branch: branch or tag to check out. depth: shallow clone depth (commits).
        if_exists: ``fail`` (default), ``skip`` or ``pull`` when ``directory`` is already a
            git work tree; a non-empty folder that is not a repository always fails.

    Returns:
        ``output``: one line (``cloned URL into DIR at abc1234 (main)``, or git pull's output);
        fields ``commit``, ``branch``, ``directory``, ``cloned`` (bool), ``changed`` (empty for
        a fresh clone or a skip; the pulled files with ``if_exists: pull``), ``updated``.

    Raises:
        ToolError: the folder is taken, git failed (``git clone failed: ...``).
    """
    url = _no_option(params["url"], "url")
    directory = os.path.normpath(os.path.abspath(os.path.expanduser(str(params["directory"]))))
    branch = _no_option(params["branch"], "branch") if params.get("branch") else None
    if_exists = params.get("if_exists", "fail")
    git_program()
    if os.path.exists(directory) and (not os.path.isdir(directory) or os.listdir(directory)):
        top = None
        if os.path.isdir(directory):
            probe = run_git(ctx, ["rev-parse", "--show-toplevel"], cwd=directory, check=False)
            top = probe.stdout.strip() if probe.exit_code == 0 else None
        if top is None or os.path.realpath(top) != os.path.realpath(directory):
            raise ToolError(f"cannot clone into {directory}: it exists and is not an empty folder (nor a git "
                            "repository)", retryable=False)
        if if_exists == "fail":
            raise ToolError(f"cannot clone into {directory}: a repository is already there; set "
                            "`if_exists: pull` to update it or `if_exists: skip` to keep it", retryable=False)
        if if_exists == "pull":
            result = _pull(ctx, directory, None, branch, True)
            result.fields.update(directory=directory, cloned=False)
            return result
        commit = head(ctx, directory)
        ctx.log.info(f"{directory} is already a repository at {_short(commit)}; skipped (if_exists: skip)")
        return ToolResult(output=f"kept the existing repository in {directory} at {_short(commit)}",
                          fields={"commit": commit, "branch": current_branch(ctx, directory), "directory": directory,
                                  "cloned": False, "changed": [], "updated": False, "previous": commit})
    args = ["clone", "--no-progress"]
    if branch:
        args += ["--branch", branch]
    if params.get("depth"):
        args += ["--depth", str(int(params["depth"]))]
    args += ["--", url, directory]
    run_git(ctx, args, what="git clone", log=True)
    commit = head(ctx, directory)
    current = current_branch(ctx, directory)
    shown = ctx.mask(redact(url))
    output = f"cloned {shown} into {directory} at {_short(commit)}" + (f" ({current})" if current else "")
    ctx.log.info(output)
    return ToolResult(output=output, fields={"commit": commit, "branch": current, "directory": directory,
                                             "cloned": True, "changed": [], "updated": True, "previous": None},
                      metadata={"commit": commit or "", "directory": directory})


_BRANCH_HEADER = re.compile(r"^## (?:No commits yet on |Initial commit on )?(?P<branch>.+?)"
                            r"(?:\.\.\.(?P<upstream>\S+))?(?: \[(?P<track>[^\]]*)\])?$")


def status(ctx: ToolContext, params: dict) -> ToolResult:
    """``git status`` of ``directory``.

    Returns:
        ``output``: porcelain v1 text (``XY path`` lines; ``XY old -> new`` for renames; empty
        when clean); fields ``changed`` (every path listed, renamed files by their new path),
        ``untracked``, ``clean`` (bool), ``branch`` (None when detached), ``commit``,
        ``upstream``, ``ahead``/``behind`` (commits; None without an upstream).

    Raises:
        ToolError: not a repository, git failed.
    """
    repo = _repository(ctx, params["directory"])
    untracked_mode = "all" if params.get("untracked", True) else "no"
    run = run_git(ctx, ["status", "--porcelain=v1", "-z", "--branch", f"--untracked-files={untracked_mode}"],
                  cwd=repo)
    tokens = run.stdout.split("\0")
    lines: list[str] = []
    changed: list[str] = []
    untracked: list[str] = []
    upstream = None
    ahead = behind = None
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if not token:
            continue
        if token.startswith("## "):
            match = _BRANCH_HEADER.match(token)
            if match and match.group("upstream"):
                upstream = match.group("upstream")
                track = match.group("track") or ""
                ahead = int(m.group(1)) if (m := re.search(r"ahead (\d+)", track)) else 0
                behind = int(m.group(1)) if (m := re.search(r"behind (\d+)", track)) else 0
            continue
        code, path = token[:2], token[3:]
        if code[0] in "RC" and i < len(tokens):
            original = tokens[i]
            i += 1
            lines.append(f"{code} {original} -> {path}")
        else:
            lines.append(f"{code} {path}")
        changed.append(path)
        if code == "??":
            untracked.append(path)
    commit = head(ctx, repo)
    branch = current_branch(ctx, repo)
    text = "\n".join(lines)
    fields = {"changed": changed, "untracked": untracked, "clean": not changed, "branch": branch,
              "commit": commit, "upstream": upstream, "ahead": ahead, "behind": behind}
    ctx.log.info(f"{repo}: {branch or 'detached HEAD'} at {_short(commit)}, "
                 + ("clean" if not changed else f"{len(changed)} changed paths"))
    metadata = {"clean": not changed, "branch": branch or "(detached)", "commit": commit or ""}
    if lines:
        metadata["status"] = Markdown("```\n" + "\n".join(lines[:200]) + "\n```")
    return ToolResult(output=text, fields=fields, metadata=metadata)


_LOG_FORMAT = "%x1e%H%x1f%h%x1f%an%x1f%ae%x1f%aI%x1f%s"


def _parse_log(text: str) -> list[dict]:
    commits = []
    for record in text.split("\x1e"):
        if not record.strip("\0\n"):
            continue
        header, _sep, rest = record.partition("\n")
        parts = header.rstrip("\0").split("\x1f")
        if len(parts) < 6:
            continue
        full, short, author, email, date, subject = parts[:6]
        files = [p for p in rest.split("\0") if p.strip("\n")]
        commits.append({"commit": full, "short": short, "author": author, "email": email, "date": date,
                        "subject": subject, "files": [p.strip("\n") for p in files]})
    return commits


def _log_text(commits: list[dict]) -> str:
    return "\n".join(f"{c['short']} {c['date'][:10]} {c['author']}: {c['subject']}" for c in commits)


def _log_markdown(commits: list[dict]) -> str:
    if not commits:
        return "_No commits._"
    by_author: dict[str, list[dict]] = {}
    for c in commits:
        by_author.setdefault(c["author"], []).append(c)
    parts = []
    for author, items in by_author.items():
        parts.append(f"### {author} ({len(items)} commit{'s' if len(items) != 1 else ''})")
        parts.extend(f"- `{c['short']}` {c['subject']} ({c['date'][:10]})" for c in items)
        parts.append("")
    return "\n".join(parts).rstrip() + "\n"


def log(ctx: ToolContext, params: dict) -> ToolResult:
    """``git log`` of ``directory``, parsed.

    Args (``params``):
        since / until: dates in the forms of :data:`GIT_DATE_PATTERN` (``2024-05-01``,
            ``1 day ago``, ``yesterday``); the schema refuses others before git sees them.
        author: pattern(s) matched against ``Name <email>`` (regex; a list ORs).
        max_count, ref (default HEAD), all, no_merges, paths: as for ``git log``.
        format: ``list`` (default), ``text`` or ``markdown`` (grouped by author).

    Returns:
        ``output``: the commits (newest first) as ``{commit, short, author, email, date,
        subject, files}`` dicts (``date`` is ISO 8601 with offset), or text/markdown; fields
        ``commits`` (always the list), ``count``, ``authors`` (name → commit count),
        ``changed`` (every path touched, sorted), ``commit`` (HEAD).

    Raises:
        ToolError: not a repository, an unknown ref, git failed.
    """
    repo = _repository(ctx, params["directory"])
    commit = head(ctx, repo)
    args = ["log", f"--pretty=format:{_LOG_FORMAT}", "--name-only", "-z", "--encoding=UTF-8", "--no-color"]
    if params.get("since"):
        args.append(f"--since={params['since']}")
    if params.get("until"):
        args.append(f"--until={params['until']}")
    authors = params.get("author")
    for pattern in ([authors] if isinstance(authors, str) else authors or []):
        args.append(f"--author={pattern}")
    if params.get("max_count"):
        args.append(f"--max-count={int(params['max_count'])}")
    if params.get("no_merges"):
        args.append("--no-merges")
    if params.get("all"):
        args.append("--all")
    ref = _no_option(params["ref"], "ref") if params.get("ref") else None
    if ref:
        args.append(ref)
    args.append("--")
    args.extend(str(p) for p in params.get("paths") or [])
    if commit is None and not ref and not params.get("all"):
        commits: list[dict] = []  # a repository without commits has no history yet
    else:
        commits = _parse_log(run_git(ctx, args, cwd=repo, what="git log").stdout)
    fmt = params.get("format", "list")
    if fmt == "text":
        output: Any = _log_text(commits)
    elif fmt == "markdown":
        output = _log_markdown(commits)
    else:
        output = commits
    counts = Counter(c["author"] for c in commits)
    changed = sorted({p for c in commits for p in c["files"]})
    ctx.log.info(f"{repo}: {len(commits)} commits by {len(counts)} authors")
    fields = {"commits": commits, "count": len(commits), "authors": dict(counts.most_common()),
              "changed": changed, "commit": commit}
    metadata = {"count": len(commits), "log": Markdown(_log_markdown(commits[:200]))}
    return ToolResult(output=output, fields=fields, metadata=metadata)


def checkout(ctx: ToolContext, params: dict) -> ToolResult:
    """``git checkout REF`` (or ``git checkout -b REF [START]`` with ``create``).

    A branch that exists only on a remote is checked out as a new local branch tracking it.

    Returns:
        ``output``: ``switched to BRANCH at abc1234`` (``detached HEAD`` for tags/commits);
        fields ``commit``, ``previous``, ``branch`` (None when detached), ``changed`` (paths
        that differ between the previous and the new HEAD).

    Raises:
        ToolError: not a repository, unknown ref, local changes in the way, branch exists.
    """
    repo = _repository(ctx, params["directory"])
    ref = _no_option(params["ref"], "ref")
    old = head(ctx, repo)
    if params.get("create"):
        args = ["checkout", "-b", ref]
        if params.get("start_point"):
            args += [_no_option(params["start_point"], "start_point"), "--"]
    else:
        args = ["checkout", ref, "--"]
    run_git(ctx, args, cwd=repo, what="git checkout", log=True)
    new = head(ctx, repo)
    branch = current_branch(ctx, repo)
    changed = changed_files(ctx, repo, old, new) if old is not None else []
    output = f"switched to {branch or 'detached HEAD'} at {_short(new)}"
    ctx.log.info(f"{repo}: {output}; {len(changed)} files differ from {_short(old)}")
    return ToolResult(output=output, fields={"commit": new, "previous": old, "branch": branch, "changed": changed},
                      metadata={"commit": new or "", "branch": branch or "(detached)", "changed": len(changed)})


TOOL = Tool(
    name="git",
    description="Clone, pull, inspect and switch git repositories through the git CLI.",
    actions=(
        Action(
            name="pull",
            description="git pull (fast-forward only by default); reports the new commit and changed files.",
            parameters=PULL_PARAMETERS,
            run=pull,
            result_fields=("commit", "previous", "changed", "updated", "branch"),
            output="git's output",
            handles_timeout=True,
        ),
        Action(
            name="clone",
            description="git clone a repository (or skip/pull when it is already there).",
            parameters=CLONE_PARAMETERS,
            run=clone,
            result_fields=("commit", "branch", "directory", "cloned", "changed", "updated", "previous"),
            output="a one-line summary",
            handles_timeout=True,
        ),
        Action(
            name="status",
            description="git status: changed and untracked files, branch, ahead/behind.",
            parameters=STATUS_PARAMETERS,
            run=status,
            result_fields=("changed", "untracked", "clean", "branch", "commit", "upstream", "ahead", "behind"),
            output="porcelain status text",
            handles_timeout=True,
        ),
        Action(
            name="log",
            description="git log since a date, per author: the commits as data, text or markdown.",
            parameters=LOG_PARAMETERS,
            run=log,
            result_fields=("commits", "count", "authors", "changed", "commit"),
            output="list of commits (or text/markdown)",
            handles_timeout=True,
        ),
        Action(
            name="checkout",
            description="git checkout a branch, tag or commit, or create a branch.",
            parameters=CHECKOUT_PARAMETERS,
            run=checkout,
            result_fields=("commit", "previous", "branch", "changed"),
            output="a one-line summary",
            handles_timeout=True,
        ),
    ),
)
