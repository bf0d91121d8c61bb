"""YAML node trees to plain values, with positions: the safe loader and :class:`_Builder`.

Files are read with PyYAML's safe loader only (the libyaml C loader when PyYAML was built with
it), so no Python tags or arbitrary objects are constructed. The builder records the line and
column of every key and value in the :class:`~yaml2dag.format.document.Document`, reports
duplicate keys, disallowed tags and unquoted ``{{ ... }}`` templates as ``syntax`` problems, and
enforces the nesting, alias and number limits of :mod:`yaml2dag.format.limits`
(:class:`LimitExceeded`, :data:`MAX_ALIAS_VALUES`). Nothing here imports Dagster.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from yaml2dag.format.document import Document, DocPath, format_path
from yaml2dag.format.errors import Problem
from yaml2dag.format.limits import MAX_DEPTH, RULE as LIMIT_RULE, float_problem, integer_problem, integer_text_problem

try:  # libyaml is ~10x faster; fall back to the pure-Python loader when it is missing
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_BINARY_TAG = "tag:yaml.org,2002:binary"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


def _mark(node: Node) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1


#: Values that YAML aliases may copy in one document; beyond this the file is rejected, so
#: a few lines of nested aliases cannot make loading (and validation) run for hours.
MAX_ALIAS_VALUES = 100_000


class LimitExceeded(Exception):
    """A document goes past one of the limits of :mod:`yaml2dag.format.limits` (nesting depth, a
    recursive alias): loading stops and the file gets one ``limit`` problem at ``line``:``column``."""

    def __init__(self, line: int, column: int, path: DocPath, message: str):
        super().__init__(message)
        self.line, self.column, self.path, self.message = line, column, path, message


class _Builder:
    """Turns a composed YAML node tree into plain values while recording positions.

    Nesting deeper than :data:`~yaml2dag.format.limits.MAX_DEPTH` (aliases included) and an alias
    inside the node it refers to raise :class:`LimitExceeded`; integers outside 64 bits and
    NaN/infinite floats become problems (rules ``limit`` and ``number``) and ``None`` values.
    """

    def __init__(self, loader, doc: Document):
        self.loader = loader
        self.doc = doc
        self._built: set[int] = set()
        self._repeats = 0
        self._open: set[int] = set()  # nodes being built: the current path from the root

    def source(self, node: Node) -> str:
        return self.doc.text[node.start_mark.index : node.end_mark.index]

    def build(self, node: Node, path: DocPath) -> Any:
        if len(path) > MAX_DEPTH:
            line, col = _mark(node)
            raise LimitExceeded(line, col, path, f"mappings and lists are nested more than {MAX_DEPTH} levels "
                                f"deep here; a workflow file nests at most {MAX_DEPTH}")
        if id(node) in self._open:
            line, col = _mark(node)
            raise LimitExceeded(line, col, path, f"this alias refers to a node that contains it (the anchor on line "
                                f"{line}): a recursive alias would be infinitely deep")
        if id(node) in self._built:  # reached again through an alias: its values are copied
            self._repeats += 1
            if self._repeats > MAX_ALIAS_VALUES:
                raise yaml.MarkedYAMLError(
                    problem=f"aliases expand to more than {MAX_ALIAS_VALUES} values (a \"billion laughs\" "
                    "document?); use fewer aliases", problem_mark=node.start_mark)
        self._built.add(id(node))
        mark = node.start_mark
        self.doc._values[path] = (mark.line + 1, mark.column + 1)
        tag = node.tag
        if tag == _STR_TAG and type(node) is ScalarNode:
            self.doc._ends[path] = node.end_mark
            if node.style == "|":
                self.doc._literal[path] = mark.line + 1
            return node.value  # the common case, without the constructor
        if tag == _BINARY_TAG or (not isinstance(node, ScalarNode) and tag not in (_SEQ_TAG, _MAP_TAG)):
            # e.g. `!!python/object/apply:os.system [...]`: never constructed, and never silently dropped
            line, col = _mark(node)
            tag = node.tag.replace("tag:yaml.org,2002:", "!!")
            self.doc.problems.append(
                Problem(self.doc.file, line, col, format_path(path),
                        f"the YAML tag `{tag}` is not allowed: a workflow holds plain mappings, lists, "
                        "strings, numbers, booleans and null", "syntax",
                        end_column=self.doc.end_column(line, col))
            )
            if isinstance(node, ScalarNode):
                return node.value
        if isinstance(node, ScalarNode):
            self.doc._ends[path] = node.end_mark
            if node.style == "|":
                self.doc._literal[path] = mark.line + 1
            if node.tag == _TIMESTAMP_TAG:
                return node.value  # dates stay strings: templates and JSON both expect text
            if node.tag == _INT_TAG:
                return self._integer(node, path)
            value = self.loader.construct_object(node, deep=True)
            if node.tag == _FLOAT_TAG and isinstance(value, float):
                problem = float_problem(value)
                if problem:
                    self._problem(node, path, problem, "number", "a finite number")
                    return None
            return value
        if isinstance(node, SequenceNode):
            if _looks_like_unquoted_template(node):
                return self._unquoted_template(node, path)
            self._open.add(id(node))
            try:
                return [self.build(child, path + (i,)) for i, child in enumerate(node.value)]
            finally:
                self._open.discard(id(node))
        if isinstance(node, MappingNode):
            if _looks_like_unquoted_template(node):
                return self._unquoted_template(node, path)
            self._open.add(id(node))
            try:
                return self._mapping(node, path)
            finally:
                self._open.discard(id(node))
        raise TypeError(f"unexpected YAML node {node!r}")  # pragma: no cover

    def _problem(self, node: Node, path: DocPath, message: str, rule: str, expected: str | None = None) -> None:
        line, col = _mark(node)
        actual = node.value if isinstance(node, ScalarNode) else None  # the text as written
        self.doc.problems.append(Problem(self.doc.file, line, col, format_path(path), message, rule,
                                         expected=expected, actual=actual,
                                         end_column=self.doc.end_column(line, col)))

    def _integer(self, node: ScalarNode, path: DocPath) -> int | None:
        """An integer scalar, or None with a ``limit`` problem when it is outside 64 bits (too
        long ones are refused before conversion: Python converts at most 4,300 digits)."""
        problem = integer_text_problem(node.value)
        if problem is None:
            value = self.loader.construct_object(node, deep=True)
            problem = integer_problem(value) if isinstance(value, int) else None
            if problem is None:
                return value
        self._problem(node, path, problem, LIMIT_RULE, "a 64-bit integer")
        return None

    def _mapping(self, node: MappingNode, path: DocPath) -> dict[str, Any]:
        try:
            self.loader.flatten_mapping(node)  # YAML merge keys (<<)
        except RecursionError:
            line, col = _mark(node)
            raise LimitExceeded(line, col, path, "a merge key (`<<`) refers to a mapping that contains it: "
                                "a recursive merge would be infinitely deep") from None
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                line, col = _mark(key_node)
                self.doc.problems.append(
                    Problem(self.doc.file, line, col, format_path(path),
                            "a mapping key must be a plain value, not a mapping or a list",
                            "syntax", end_column=self.doc.end_column(line, col))
                )
                continue
            key = key_node.value if key_node.tag != "tag:yaml.org,2002:null" else ""
            child_path = path + (key,)
            if key in result:
                line, col = _mark(key_node)
                first = self.doc._keys.get(child_path, (0, 0))[0]
                self.doc.problems.append(
                    Problem(self.doc.file, line, col, format_path(child_path),
                            f"duplicate key `{key}` (first defined on line {first})",
                            "syntax", end_column=self.doc.end_column(line, col))
                )
                continue
            self.doc._keys[child_path] = _mark(key_node)
            result[key] = self.build(value_node, child_path)
        return result

    def _unquoted_template(self, node: Node, path: DocPath) -> str:
        text = self.source(node)
        line, col = _mark(node)
        self.doc.problems.append(
            Problem(self.doc.file, line, col, format_path(path),
                    f"YAML read the unquoted template {text} as a mapping; quote it: \"{text}\"",
                    "syntax", end_column=self.doc.end_column(line, col))
        )
        return text


def _looks_like_unquoted_template(node: Node) -> bool:
    """``{{ x }}`` unquoted is a flow mapping whose only key is itself a flow mapping."""
    if not getattr(node, "flow_style", False):
        return False
    if isinstance(node, MappingNode):
        return len(node.value) == 1 and isinstance(node.value[0][0], MappingNode)
    return False
