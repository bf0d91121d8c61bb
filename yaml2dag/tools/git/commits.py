"""The ``log`` action of the ``git`` tool: commits as a list, text lines or Markdown.

``git log`` runs with a record/unit-separated ``--format`` (:data:`_LOG_FORMAT`) so subjects with
any characters parse safely; the fields add an author count.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from yaml2dag.tools.base import Markdown, ToolContext, ToolResult
from yaml2dag.tools.git.runner import _no_option, _repository, head, run_git


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
