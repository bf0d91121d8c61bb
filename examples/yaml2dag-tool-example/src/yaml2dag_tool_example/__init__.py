"""An example yaml2dag tool, registered through the ``yaml2dag.tools`` entry point.

``textstats.count`` counts the lines, words and characters of a text; ``textstats.top``
returns the most frequent words. Parameters are checked by ``yaml2dag validate`` against the
JSON Schemas below, and results expose the declared fields to templates
(``{{ stats.words }}``).
"""

from __future__ import annotations

import collections
import re

from yaml2dag.tools import Action, Tool, ToolContext, ToolError, ToolResult


def count(ctx: ToolContext, params: dict) -> ToolResult:
    text = params["text"]
    if not isinstance(text, str):
        raise ToolError(f"`text` must be a string, got {type(text).__name__}", retryable=False)
    words = re.findall(r"\w+", text)
    ctx.log.info(f"{len(words)} words")
    return ToolResult(output=len(words), fields={"lines": len(text.splitlines()), "words": len(words),
                                                 "characters": len(text)})


def top(ctx: ToolContext, params: dict) -> ToolResult:
    words = [w.lower() for w in re.findall(r"\w+", str(params["text"]))]
    common = collections.Counter(words).most_common(int(params.get("limit", 3)))
    return ToolResult(output=[w for w, _n in common], fields={"counts": dict(common)})


TOOL = Tool(
    name="textstats",
    description="Count words and lines of a text.",
    actions=(
        Action(
            name="count",
            description="Count lines, words and characters.",
            parameters={"type": "object", "additionalProperties": False, "required": ["text"],
                        "properties": {"text": {"type": "string"}}},
            run=count,
            result_fields=("lines", "words", "characters"),
            output="the number of words",
        ),
        Action(
            name="top",
            description="The most frequent words.",
            parameters={"type": "object", "additionalProperties": False, "required": ["text"],
                        "properties": {"text": {"type": "string"}, "limit": {"type": "integer", "minimum": 1}}},
            run=top,
            result_fields=("counts",),
            output="the most frequent words, most frequent first",
        ),
    ),
)
