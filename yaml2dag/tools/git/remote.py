"""The ``pull`` and ``clone`` actions of the ``git`` tool: bringing commits from a remote.

Both report ``commit`` (HEAD afterwards) and ``changed`` (files differing between HEAD before and
after); ``clone`` with ``if_exists: pull`` pulls an existing clone of the same remote instead.
"""

from __future__ import annotations

import os

from yaml2dag.tools.base import Markdown, ToolContext, ToolError, ToolResult
from yaml2dag.tools.git.runner import (
    _no_option,
    _repository,
    _short,
    changed_files,
    current_branch,
    git_program,
    head,
    redact,
    run_git,
)


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
