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

Modules: :mod:`~yaml2dag.tools.git.params` (parameter schemas), :mod:`~yaml2dag.tools.git.runner`
(running git, shared queries), :mod:`~yaml2dag.tools.git.remote` (``pull``, ``clone``),
:mod:`~yaml2dag.tools.git.worktree` (``status``, ``checkout``), :mod:`~yaml2dag.tools.git.commits`
(``log``); this package assembles :data:`TOOL`.
"""

from __future__ import annotations

from yaml2dag.tools.base import Action, Tool
from yaml2dag.tools.git.commits import log
from yaml2dag.tools.git.params import (
    CHECKOUT_PARAMETERS,
    CLONE_PARAMETERS,
    GIT_DATE_PATTERN,
    LOG_PARAMETERS,
    PULL_PARAMETERS,
    STATUS_PARAMETERS,
)
from yaml2dag.tools.git.remote import clone, pull
from yaml2dag.tools.git.runner import (
    COLLECT_SECONDS,
    MAX_LOGGED_LINES,
    GitRun,
    changed_files,
    current_branch,
    error_line,
    git_program,
    head,
    redact,
    run_git,
)
from yaml2dag.tools.git.worktree import checkout, status

__all__ = ["CHECKOUT_PARAMETERS", "CLONE_PARAMETERS", "COLLECT_SECONDS", "GIT_DATE_PATTERN", "LOG_PARAMETERS",
           "MAX_LOGGED_LINES", "PULL_PARAMETERS", "STATUS_PARAMETERS", "TOOL", "GitRun", "changed_files", "checkout",
           "clone", "current_branch", "error_line", "git_program", "head", "log", "pull", "redact", "run_git", "status"]


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
