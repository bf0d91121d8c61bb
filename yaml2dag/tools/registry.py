"""Finding tools by name: the built-in ones and those registered through entry points.

Built-in tools are imported only when first used, so validating a workflow that uses ``shell``
does not import pandas. Third-party packages register a :class:`~yaml2dag.tools.base.Tool`
(or a zero-argument callable returning one) under the ``yaml2dag.tools`` entry-point group::

    [project.entry-points."yaml2dag.tools"]
    jira = "my_package.jira_tool:TOOL"

A third-party tool may not replace a built-in one (a clear error is raised instead).
"""

from __future__ import annotations

import importlib
import threading
from yaml2dag.format.errors import Yaml2DagError
from yaml2dag.tools.base import Tool

ENTRY_POINT_GROUP = "yaml2dag.tools"

#: Built-in tools: name → "module:attribute" of their Tool object (spec §6). A module that is
#: not part of this installation makes its tool "not supported yet" instead of an error.
BUILTIN_TOOLS: dict[str, str] = {
    "shell": "yaml2dag.tools.shell:TOOL",
    "python": "yaml2dag.tools.python:TOOL",
    "http": "yaml2dag.tools.http:TOOL",
    "data": "yaml2dag.tools.data:TOOL",
    "files": "yaml2dag.tools.files:TOOL",
    "git": "yaml2dag.tools.git:TOOL",
    "system": "yaml2dag.tools.system:TOOL",
    "notify": "yaml2dag.tools.notify:TOOL",
    "email": "yaml2dag.tools.email:TOOL",
    "llm": "yaml2dag.tools.llm:TOOL",
    "approval": "yaml2dag.tools.approval:TOOL",
}

#: Tools named by the format (spec §6): reported as "not supported yet" when their module is
#: missing, never as unknown.
PLANNED_TOOLS = ("http", "data", "files", "git", "system", "notify", "email", "llm", "approval")

_lock = threading.Lock()
_cache: dict[str, Tool] = {}
_entry_points: dict[str, object] | None = None
_extra: dict[str, Tool] = {}


class ToolRegistrationError(Yaml2DagError):
    """A tool entry point is broken or clashes with a built-in tool."""


def _load_target(target: str) -> Tool | None:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            return None  # a planned built-in tool this installation does not have yet
        raise
    return _as_tool(getattr(module, attr), target)


def _as_tool(obj: object, origin: str) -> Tool:
    if isinstance(obj, Tool):
        return obj
    if callable(obj):
        made = obj()
        if isinstance(made, Tool):
            return made
    raise ToolRegistrationError(f"{origin} is not a yaml2dag Tool (nor a callable returning one)")


def _discover_entry_points() -> dict[str, object]:
    global _entry_points
    if _entry_points is None:
        from importlib.metadata import entry_points

        found: dict[str, object] = {}
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            found[ep.name] = ep
        _entry_points = found
    return _entry_points


def register_tool(tool: Tool) -> None:
    """Register a tool object at run time (tests and embedding code).

    Raises:
        ToolRegistrationError: the name is taken by a built-in tool.
    """
    if tool.name in BUILTIN_TOOLS:
        raise ToolRegistrationError(f"tool `{tool.name}` is built in and cannot be replaced")
    with _lock:
        _extra[tool.name] = tool
        _cache[tool.name] = tool


def get_tool(name: str) -> Tool | None:
    """The tool called ``name``, or None when no tool has that name.

    Raises:
        ToolRegistrationError: an entry point with that name fails to load.
    """
    with _lock:
        if name in _cache:
            return _cache[name]
    tool: Tool | None = None
    if name in BUILTIN_TOOLS:
        tool = _load_target(BUILTIN_TOOLS[name])
    elif name in _extra:
        tool = _extra[name]
    else:
        ep = _discover_entry_points().get(name)
        if ep is not None:
            try:
                obj = ep.load()  # type: ignore[attr-defined]
            except Exception as exc:  # noqa: BLE001 - report any import failure clearly
                raise ToolRegistrationError(
                    f"tool `{name}` (entry point {ep.value}) failed to load: {exc}"  # type: ignore[attr-defined]
                ) from exc
            tool = _as_tool(obj, f"entry point {ep.value}")  # type: ignore[attr-defined]
    if tool is not None:
        with _lock:
            _cache[name] = tool
    return tool


def tool_names() -> list[str]:
    """Every available tool name: built-in first, then registered ones, sorted."""
    names = [name for name in BUILTIN_TOOLS if _builtin_available(name)]
    extra = sorted((set(_extra) | set(_discover_entry_points())) - set(BUILTIN_TOOLS))
    return names + extra


def _builtin_available(name: str) -> bool:
    import importlib.util

    module_name = BUILTIN_TOOLS[name].partition(":")[0]
    return importlib.util.find_spec(module_name) is not None


def all_tools() -> list[Tool]:
    """Every available tool, loaded (entry points that fail to load are skipped)."""
    out = []
    for name in tool_names():
        try:
            tool = get_tool(name)
        except ToolRegistrationError:
            continue
        if tool is not None:
            out.append(tool)
    return out


def reset_cache() -> None:
    """Forget discovered entry points (after installing a package in the same process)."""
    global _entry_points
    with _lock:
        _entry_points = None
        for name in list(_cache):
            if name not in BUILTIN_TOOLS and name not in _extra:
                del _cache[name]
