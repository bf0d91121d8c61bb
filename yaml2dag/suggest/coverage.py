"""Does a workflow of the library already do what a suggestion proposes? (issue 12, §1)

Each step is reduced to the *operations* it performs, in order:

* a tool step: ``(tool, action)`` (``git pull``, ``files copy``, ``http request``);
* a ``shell`` step: each simple command of its command line (templates read as one word):
  commands a built-in tool also does are named like that tool's operation (``git pull`` →
  ``(git, pull)``, ``curl`` → ``(http, request)``, ``cp``/``rsync`` → ``(files, copy)``,
  ``mv`` → ``(files, move)``, ``tar c...`` and ``zip`` → ``(files, backup)``), others by program and
  subcommand (``make test`` → ``(make, test)``; an interpreter also by its script:
  ``python manage.py`` → ``(python, manage.py)``).

A workflow *covers* a suggestion when the suggestion's operations appear among the workflow's,
in the same order (other steps may come between). Context commands (``cd``, ``export``) do
not count: they perform nothing on their own.

Nothing here imports Dagster.
"""

from __future__ import annotations

import re
from typing import Any, Iterable

from yaml2dag.suggest.commands import INTERPRETERS, read_line
from yaml2dag.tools.registry import get_tool

_TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)


def command_operations(text: str) -> list[tuple[str, str]]:
    """The operations of a shell command line (see the module docstring)."""
    out = []
    for cmd, _ in read_line(_TEMPLATE.sub("X", text)):
        if cmd.kind != "work" or not cmd.program:
            continue
        base = cmd.base
        sub = (cmd.subcommand or "").split(" ")[0]
        if base == "git" and sub in ("pull", "clone", "checkout", "switch", "status", "log"):
            out.append(("git", "checkout" if sub == "switch" else sub))
        elif base in ("curl", "wget", "http", "https"):
            out.append(("http", "request"))
        elif base in ("cp", "rsync", "scp"):
            out.append(("files", "copy"))
        elif base == "mv":
            out.append(("files", "move"))
        elif base == "zip" or (base == "tar" and any("c" in (w.value or "") for w in cmd.words[1:2])):
            out.append(("files", "backup"))
        elif base in INTERPRETERS:
            script = next((w.value for w in cmd.words[cmd.program_index + 1:]
                           if w.value and not w.value.startswith("-")), "")
            out.append((base, script.rsplit("/", 1)[-1]))
        else:
            out.append((base, sub))
    return out


def step_operations(step: Any) -> list[tuple[str, str]]:
    """The operations of a step of a loaded workflow (:class:`yaml2dag.format.model.Step`)."""
    tool = getattr(step, "tool", "") or ""
    params = getattr(step, "parameters", None) or {}
    if tool == "shell":
        command = params.get("command")
        if isinstance(command, str):
            return command_operations(command)
        args = params.get("args")
        if isinstance(args, list) and args:
            return command_operations(" ".join(str(a) for a in args))
        return []
    if not tool:
        return []
    action = getattr(step, "action", None)
    if action is None:
        found = get_tool(tool)
        action = found.actions[0].name if found is not None and found.actions else ""
    return [(tool, action)]


def workflow_operations(workflow: Any) -> list[tuple[str, str]]:
    """The operations of every step of a workflow, in file order."""
    out: list[tuple[str, str]] = []
    for step in workflow.iter_steps(include_on_failure=False):
        out.extend(step_operations(step))
    return out


def _subsequence(needle: list, haystack: list) -> bool:
    it = iter(haystack)
    return all(any(item == other for other in it) for item in needle)


def covered_by(operations: list[tuple[str, str]], library: Iterable[tuple[str, list[tuple[str, str]]]]) -> str | None:
    """The name of the first library workflow whose operations contain ``operations`` in
    order, or None.

    Args:
        operations: the suggestion's operations.
        library: ``(workflow name, its operations)`` for each workflow of the library.
    """
    if not operations:
        return None
    for name, ops in library:
        if _subsequence(operations, ops):
            return name
    return None


__all__ = ["command_operations", "covered_by", "step_operations", "workflow_operations"]
