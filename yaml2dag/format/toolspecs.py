"""Tool specifications: what each tool declares, found by name (spec §6).

A :class:`Tool` has a name and an ordered set of :class:`Action` s (the first is the default).
Each action declares a JSON Schema for its parameters, the result fields it produces, and the
function that runs it. This is the format layer's view of the tools: plain data the validator and
the plan read (no Dagster, no tool code imported until a tool is asked for by name). The tools
themselves (:mod:`yaml2dag.tools`: the ``run`` functions and :class:`~yaml2dag.tools.base.ToolContext`)
sit above the format layer and bind their actions here: a built-in tool by its entry in
:data:`BUILTIN_TOOLS` (``"module:attribute"``, imported when first used, so validating a workflow
that uses ``shell`` does not import pandas), a third-party tool through the ``yaml2dag.tools``
entry-point group::

    [project.entry-points."yaml2dag.tools"]
    jira = "my_package.jira_tool:TOOL"

or :func:`register_tool` at run time. A third-party tool may not replace a built-in one (a clear
error is raised instead). ``yaml2dag.tools.base`` and ``yaml2dag.tools.registry`` re-export these
names, so tool code keeps importing them from there.
"""

from __future__ import annotations

import importlib
import importlib.util
import threading
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Any, Callable, Mapping

from yaml2dag.format.errors import Yaml2DagError

#: Fields every step result has, whatever the tool (spec §5, "Names in scope").
COMMON_RESULT_FIELDS = ("output", "status", "succeeded", "error", "duration", "attempts")

# ``ToolContext`` and ``ToolResult`` (in the ``run`` annotation) are the tools layer's
# (:mod:`yaml2dag.tools.base`): named as strings here, never imported, to keep this layer below it.


@dataclass(frozen=True)
class Action:
    """One action of a tool.

    Args:
        name: the action's name (``execute``, ``call``, ``request``, ...).
        description: one line for ``yaml2dag show`` and the docs.
        parameters: JSON Schema (draft 2020-12) of the action's ``parameters`` mapping.
        run: ``run(ctx: ToolContext, params: dict) -> ToolResult``; raises :class:`ToolError`
            for failures a user can act on.
        result_fields: tool-specific fields of the step result, besides ``output``.
        shell_parameters: top-level parameters whose string value is a shell command: every
            template in them is inserted as one quoted shell word (spec §5).
        output: what ``output`` holds, for the docs.
        handles_timeout: the action honours ``ToolContext.deadline`` itself (and stops its
            own work); otherwise the step's timeout interrupts it from outside.
        condition_parameters: top-level parameters that are conditions, like ``when``: a string
            is a bare expression or a template and is evaluated (``"env == 'prod'"`` gives a
            boolean), not rendered as text (spec §5, bare expressions).
    """

    name: str
    description: str
    parameters: Mapping[str, Any]
    run: Callable[["ToolContext", dict], "ToolResult"]
    result_fields: tuple[str, ...] = ()
    shell_parameters: tuple[str, ...] = ()
    output: str = ""
    handles_timeout: bool = False
    condition_parameters: tuple[str, ...] = ()


#: Schema keyword that marks a parameter as a credential (a password, token or API key):
#: ``{"type": "string", "x-credential": True}``. The validator warns when a step writes such a
#: parameter as a literal string instead of a template such as ``"{{ secrets.SMTP_PASSWORD }}"``
#: (:func:`literal_credentials`). Third-party tools mark theirs the same way.
CREDENTIAL_KEYWORD = "x-credential"


def literal_credentials(schema: Mapping[str, Any], params: Any,
                        path: tuple = ()) -> list[tuple[tuple, str]]:
    """The credential parameters that ``params`` writes literally (not as a template).

    Walks ``properties`` of ``schema`` (nested objects too) for schemas marked with
    :data:`CREDENTIAL_KEYWORD`; a value is literal when it is a non-empty string without
    ``{{``/``{%``.

    Args:
        schema: an action's parameter schema (or a nested object's).
        params: the step's parameters as written in the YAML (unrendered).
        path: the path of ``params`` below ``parameters`` (for the recursion).

    Returns:
        ``[(path, key), ...]``: where each literal credential is (``("auth", "password")``) and
        its key name, in ``params`` order.
    """
    found: list[tuple[tuple, str]] = []
    properties = schema.get("properties") if isinstance(schema, Mapping) else None
    if not isinstance(params, Mapping) or not isinstance(properties, Mapping):
        return found
    for key, value in params.items():
        sub = properties.get(key)
        if not isinstance(sub, Mapping):
            continue
        if sub.get(CREDENTIAL_KEYWORD):
            if isinstance(value, str) and value and "{{" not in value and "{%" not in value:
                found.append((path + (key,), key))
        elif isinstance(value, Mapping):
            found.extend(literal_credentials(sub, value, path + (key,)))
    return found


@dataclass(frozen=True)
class Tool:
    """A named set of actions. ``actions[0]`` is the default action."""

    name: str
    description: str
    actions: tuple[Action, ...]

    def action(self, name: str | None) -> Action | None:
        """The action called ``name`` (the default action for None), or None if unknown."""
        if name is None:
            return self.actions[0]
        for action in self.actions:
            if action.name == name:
                return action
        return None

    @property
    def action_names(self) -> tuple[str, ...]:
        return tuple(a.name for a in self.actions)


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


__all__ = ["BUILTIN_TOOLS", "COMMON_RESULT_FIELDS", "CREDENTIAL_KEYWORD", "ENTRY_POINT_GROUP", "PLANNED_TOOLS", "Action",
           "Tool", "ToolRegistrationError", "all_tools", "get_tool", "literal_credentials", "register_tool",
           "reset_cache", "tool_names"]
