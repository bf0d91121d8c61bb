"""The generated tables of the format reference (``docs/reference/workflow-format*.md``; issue 14, part 3).

One source, three generators, no Dagster import (``yaml2dag schema --markdown`` stays instant):

* :func:`schema_blocks` — one table per object of the shipped JSON Schema
  (``yaml2dag/format/schema/workflow.schema.json``): the root, every ``$defs`` entry with
  ``properties`` and every nested object (``workflow.concurrency``, ``parameter.items``, ...);
* :func:`tool_blocks` — the built-in tools of :data:`yaml2dag.tools.registry.BUILTIN_TOOLS`, and
  one table per action from its parameter schema (third-party tools are left out, so the output
  does not depend on what else is installed);
* :func:`yaml2dag.cli.reference.cli_blocks` — the ``yaml2dag`` commands (:data:`yaml2dag.cli.COMMANDS`)
  with their arguments and options, read from the click command objects (in the CLI package:
  this module sits below the CLI and does not import it; :func:`yaml2dag.cli.reference.all_blocks`
  puts the blocks of both together).

The reference embeds each block between ``<!-- BEGIN GENERATED name -->`` and
``<!-- END GENERATED name -->``; :func:`update_document` replaces the blocks of a document with
what the generators print now (``python scripts/update_reference.py``), and
``tests/unit/test_reference.py`` fails when a document's blocks differ from it.

Defaults: the ``default`` keyword when the schema has one, else the value a description names
("Default 3.", "(default true)", "info (default), ..."), else ``—``.
"""

from __future__ import annotations

import re
from typing import Any, Iterator, Mapping
import json
from yaml2dag.format.problem_rules import RULES
from yaml2dag.format.schema import load_schema
from yaml2dag.tools.registry import BUILTIN_TOOLS, get_tool

BEGIN = "<!-- BEGIN GENERATED {name} -->"
END = "<!-- END GENERATED {name} -->"
_BLOCK = re.compile(r"<!-- BEGIN GENERATED (?P<name>[\w.-]+) -->\n(?P<body>.*?)<!-- END GENERATED (?P=name) -->",
                    re.S)

LANGS = ("en", "zh")

_WORDS = {
    "en": {
        "key": "key", "parameter": "parameter", "type": "type", "required": "required", "default": "default",
        "description": "description", "yes": "yes", "tool": "tool", "actions": "actions (default first)",
        "output": "`output`", "fields": "result fields", "command": "command", "what": "what it does",
        "usage": "Usage: ", "option": "argument / option", "help": "help", "none": "—", "params": "Parameters",
        "no_options": "No arguments or options besides `--help`.",
        "no_params": "No parameters.", "repeatable": "repeatable", "colon": ": ",
        "rule": "rule", "checks": "what it checks",
    },
    "zh": {
        "key": "键", "parameter": "参数", "type": "类型", "required": "必填", "default": "默认值",
        "description": "说明（取自 JSON Schema / 工具声明，英文）", "yes": "是", "tool": "工具",
        "actions": "动作（第一个为默认动作）", "output": "`output`", "fields": "结果字段", "command": "命令",
        "what": "作用（`yaml2dag --help`，英文）", "usage": "用法：", "option": "参数 / 选项",
        "help": "说明（`--help`，英文）", "none": "—", "params": "参数",
        "no_options": "除 `--help` 外没有参数或选项。",
        "no_params": "没有参数。", "repeatable": "可重复", "colon": "：",
        "rule": "规则", "checks": "检查内容（取自 `yaml2dag.format.problem_rules`，英文）",
    },
}

#: How a ``$ref`` to a shared definition reads in the type column.
_REF_NAMES = {
    "identifier": "identifier `[a-z_][a-z0-9_]*`",
    "parameter_name": "name `[A-Za-z_][A-Za-z0-9_]*`",
    "template": "template",
    "duration": "duration",
    "step_ids": "step id or list of step ids",
    "condition": "condition (template or boolean)",
    "parameter": "parameter declaration",
    "parameter_or_default": "parameter declaration or bare default",
    "retry": "retry mapping",
    "body": "step body (`tool`, `action`, `parameters`, ...)",
    "defaults": "defaults mapping",
    "entry": "entry (step, parallel, branch, switch or sub-workflow)",
    "trigger": "trigger",
    "asset_key": "asset key `seg/seg`",
    "asset": "asset mapping (`key`, `path` or `table`, ...)",
}

#: Patterns longer than this are not printed (they would fill the table); the schema has them.
_LONGEST_PATTERN = 40

_DEFAULT_IN_TEXT = re.compile(r"(?:^|\.\s+|\()[Dd]efault:?\s+(?P<value>[^\s)].*?)(?=\.(?:\s|$)|\)|;|$)")
_DEFAULT_BEFORE = re.compile(r"(?P<value>[\w.-]+) \(default\)")


def _cell(text: Any) -> str:
    """Text fit for one markdown table cell."""
    return str(text).replace("|", "\\|").replace("\n", " ").strip()


def _code(value: Any) -> str:
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif value is None:
        value = "null"
    elif isinstance(value, str):
        value = value if value and value.strip() == value else repr(value)
    else:
        value = json.dumps(value)
    return f"`{value}`"


def _table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(c) if c else "" for c in row) + " |" for row in rows]
    return "\n".join(lines)


def _ref_name(schema: Mapping[str, Any]) -> str | None:
    ref = schema.get("$ref")
    return ref.rsplit("/", 1)[-1] if isinstance(ref, str) else None


def type_text(schema: Any, root: Mapping[str, Any]) -> str:
    """The type of a JSON Schema node in words: ``integer, minimum 1``, ``list of entry``,
    ``map of name → string``, `` `a` \\| `b` `` for enums.

    Args:
        schema: the node.
        root: the whole schema (for ``$ref`` to ``#/$defs/...``).
    """
    if not isinstance(schema, Mapping) or not schema:
        return "any"
    name = _ref_name(schema)
    if name is not None:
        target = root.get("$defs", {}).get(name, {})
        if "enum" in target and name not in _REF_NAMES:
            return type_text(target, root)
        return _REF_NAMES.get(name, name)
    if schema.get("x-expected"):
        return str(schema["x-expected"])
    if "const" in schema:
        return _code(schema["const"])
    if "enum" in schema:
        return " | ".join(_code(v) for v in schema["enum"])
    if "anyOf" in schema or "oneOf" in schema:
        return " or ".join(type_text(s, root) for s in schema.get("anyOf", schema.get("oneOf")))
    kind = schema.get("type")
    if isinstance(kind, list):
        text = " or ".join(kind)
    elif kind == "array":
        items = schema.get("items")
        text = f"list of {type_text(items, root)}" if items else "list"
    elif kind == "object" or (not kind and isinstance(schema.get("properties"), Mapping)):
        extra = schema.get("additionalProperties")
        names = schema.get("propertyNames")
        if isinstance(extra, Mapping) and extra:
            key = type_text(names, root) if names else "string"
            text = f"map of {key} → {type_text(extra, root)}"
        elif isinstance(schema.get("properties"), Mapping) and schema["properties"]:
            text = "mapping of " + ", ".join(f"`{k}`" for k in schema["properties"])
        else:
            text = "mapping"
    elif kind:
        text = str(kind)
    elif isinstance(schema.get("if"), Mapping) and isinstance(schema.get("then"), Mapping):
        sides = [{**schema["if"], **schema["then"]}]
        if isinstance(schema.get("else"), Mapping):
            sides.append(schema["else"])
        return " or ".join(type_text(side, root) for side in sides)
    else:
        return "any"
    limits = []
    for keyword, word in (("minimum", "minimum"), ("maximum", "maximum"), ("minLength", "min length"),
                          ("maxLength", "max length"), ("minItems", "min items"), ("maxItems", "max items"),
                          ("minProperties", "min entries"), ("pattern", "pattern")):
        if keyword in schema:
            value = schema[keyword]
            if keyword != "pattern":
                limits.append(f"{word} {value}")
            elif len(str(value)) <= _LONGEST_PATTERN:
                limits.append(f"{word} `{value}`")
            else:
                limits.append("checked by a pattern")
    return ", ".join([text, *limits])


def default_text(schema: Any, none: str = "—") -> str:
    """The default of a property: its ``default`` keyword, else the value its description names,
    else ``none``."""
    if not isinstance(schema, Mapping):
        return none
    if "default" in schema:
        return _code(schema["default"])
    text = str(schema.get("description", ""))
    before = _DEFAULT_BEFORE.search(text)
    if before and before.group("value") in schema.get("enum", ()):
        return _code(before.group("value"))
    found = _DEFAULT_IN_TEXT.search(text)
    if found:
        return found.group("value").strip()
    return none


def _property_rows(obj: Mapping[str, Any], root: Mapping[str, Any], words: Mapping[str, str]) -> list[list[str]]:
    required = set(obj.get("required", ()))
    rows = []
    for key, sub in obj.get("properties", {}).items():
        sub = sub if isinstance(sub, Mapping) else {}
        description = sub.get("description", "")
        if not description and _ref_name(sub):
            description = root.get("$defs", {}).get(_ref_name(sub), {}).get("description", "")
        rows.append([f"`{key}`", type_text(sub, root), words["yes"] if key in required else "",
                     default_text(sub, words["none"]), description])
    return rows


def _objects(node: Any, name: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every object schema with ``properties`` under ``node``, named ``name`` or
    ``name.key...`` for nested ones, in document order (``$defs`` are walked by the caller)."""
    if not isinstance(node, Mapping):
        return
    if isinstance(node.get("properties"), Mapping) and node["properties"]:
        yield name, node
        for key, sub in node["properties"].items():
            yield from _objects(sub, f"{name}.{key}")
    for keyword in ("items", "additionalProperties"):
        sub = node.get(keyword)
        if isinstance(sub, Mapping):
            yield from _objects(sub, name)


def schema_objects(schema: Mapping[str, Any] | None = None) -> list[tuple[str, Mapping[str, Any]]]:
    """``(block name, object schema)`` for every object with properties in the schema: the root
    (``workflow``), then each ``$defs`` entry, nested objects after their parent."""
    if schema is None:
        schema = load_schema()
    out = list(_objects({k: v for k, v in schema.items() if k != "$defs"}, "workflow"))
    for name, sub in schema.get("$defs", {}).items():
        out.extend(_objects(sub, name))
    return out


def schema_blocks(lang: str = "en", schema: Mapping[str, Any] | None = None) -> dict[str, str]:
    """One markdown table per object of the JSON Schema, keyed ``schema.<name>``.

    Columns: key, type, required, default, description (the schema's own description)."""
    if schema is None:
        schema = load_schema()
    words = _WORDS[lang]
    header = [words["key"], words["type"], words["required"], words["default"], words["description"]]
    return {f"schema.{name}": _table(header, _property_rows(obj, schema, words))
            for name, obj in schema_objects(schema)}


def builtin_tools() -> list:
    """The built-in :class:`~yaml2dag.tools.base.Tool` objects, in registry order."""
    return [tool for tool in (get_tool(name) for name in BUILTIN_TOOLS) if tool is not None]


def tool_blocks(lang: str = "en") -> dict[str, str]:
    """``tools``: every built-in tool with its actions; ``tool.<tool>.<action>``: the action's
    result (``output`` and result fields) and its parameter table from its JSON Schema."""
    words = _WORDS[lang]
    tools = builtin_tools()
    blocks = {"tools": _table([words["tool"], words["actions"], words["description"]],
                              [[f"`{t.name}`", ", ".join(f"`{a.name}`" for a in t.actions), t.description]
                               for t in tools])}
    header = [words["parameter"], words["type"], words["required"], words["default"], words["description"]]
    for tool in tools:
        for action in tool.actions:
            schema = action.parameters
            lines = [f"{action.description}"]
            fields = ", ".join(f"`{f}`" for f in action.result_fields) or words["none"]
            lines.append(f"{words['output']}{words['colon']}{action.output or words['none']}. "
                         f"{words['fields']}{words['colon']}{fields}.")
            if schema.get("x-expected"):
                lines.append(f"{words['params']}{words['colon']}{schema['x-expected']}.")
            rows = _property_rows(schema, schema, words)
            lines.append("")
            lines.append(_table(header, rows) if rows else words["no_params"])
            blocks[f"tool.{tool.name}.{action.name}"] = "\n".join(lines)
    return blocks


def rule_blocks(lang: str = "en") -> dict[str, str]:
    """``rules``: the closed set of problem rules (:data:`yaml2dag.format.problem_rules.RULES`),
    in its order, with what each checks."""
    words = _WORDS[lang]
    return {"rules": _table([words["rule"], words["checks"]], [[f"`{rule}`", text] for rule, text in RULES.items()])}


def wrap(name: str, body: str) -> str:
    """``body`` between the markers of block ``name``."""
    return f"{BEGIN.format(name=name)}\n{body.rstrip()}\n{END.format(name=name)}"


def document_blocks(text: str) -> dict[str, str]:
    """The generated blocks embedded in a document: name → body (without the markers).

    Raises:
        ValueError: a block name appears twice.
    """
    found: dict[str, str] = {}
    for match in _BLOCK.finditer(text):
        name = match.group("name")
        if name in found:
            raise ValueError(f"generated block {name!r} appears twice")
        found[name] = match.group("body").rstrip("\n")
    return found


def update_document(text: str, blocks: Mapping[str, str]) -> tuple[str, list[str]]:
    """``text`` with each embedded block replaced by the body of the same name in ``blocks``.

    Returns:
        ``(new text, names of blocks that are generated but not embedded in the document)``;
        a block embedded in the document but no longer generated is left as it is (the test
        reports it).
    """
    present = set()

    def replace(match: re.Match) -> str:
        name = match.group("name")
        present.add(name)
        if name not in blocks:
            return match.group(0)
        return wrap(name, blocks[name])

    new = _BLOCK.sub(replace, text)
    return new, [name for name in blocks if name not in present]
