"""Finding tools by name: the built-in ones and those registered through entry points.

The registry is part of the tool specifications, :mod:`yaml2dag.format.toolspecs` (the validator
reads it, below the tools layer); this module keeps its public names, so
``from yaml2dag.tools.registry import get_tool`` keeps working.
"""

from __future__ import annotations

from yaml2dag.format.toolspecs import (  # noqa: F401
    BUILTIN_TOOLS,
    ENTRY_POINT_GROUP,
    PLANNED_TOOLS,
    ToolRegistrationError,
    all_tools,
    get_tool,
    register_tool,
    reset_cache,
    tool_names,
)

__all__ = ["BUILTIN_TOOLS", "ENTRY_POINT_GROUP", "PLANNED_TOOLS", "ToolRegistrationError", "all_tools", "get_tool",
           "register_tool", "reset_cache", "tool_names"]
