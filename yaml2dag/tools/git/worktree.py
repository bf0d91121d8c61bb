"""The ``status`` and ``checkout`` actions of the ``git`` tool: the state of the work tree."""

from __future__ import annotations

import re

from yaml2dag.tools.base import Markdown, ToolContext, ToolResult
from yaml2dag.tools.git.runner import _no_option, _repository, _short, changed_files, current_branch, head, run_git


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
