"""Tools: what a step runs (spec §6). See :mod:`yaml2dag.tools.base` for the interface."""

from yaml2dag.tools.base import (
    COMMON_RESULT_FIELDS,
    Action,
    Markdown,
    StepTimeoutError,
    Tool,
    ToolContext,
    ToolError,
    ToolLog,
    ToolResult,
)
from yaml2dag.tools.registry import ENTRY_POINT_GROUP, get_tool, register_tool, tool_names

__all__ = [
    "COMMON_RESULT_FIELDS",
    "ENTRY_POINT_GROUP",
    "Action",
    "Markdown",
    "StepTimeoutError",
    "Tool",
    "ToolContext",
    "ToolError",
    "ToolLog",
    "ToolResult",
    "get_tool",
    "register_tool",
    "tool_names",
]
