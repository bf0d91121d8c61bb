"""Loading workflow files: safe YAML (or JSON) with the position of every node.

Files are read with PyYAML's safe loader only (the libyaml C loader when PyYAML was built with
it), so no Python tags or arbitrary objects can be constructed (spec, introduction). Unlike
``yaml.safe_load`` this loader keeps the line and column of every key and value, reports
duplicate keys (YAML would silently keep the last one), and recognises the most common YAML
trap in template-heavy files: an unquoted ``{{ ... }}`` that YAML reads as a nested mapping.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from yaml2dag.format.errors import Problem
from yaml2dag.format import limits
from yaml2dag.format.limits import MAX_DEPTH, MAX_FILE_BYTES, RULE as LIMIT_RULE, float_problem, integer_problem, integer_text_problem
from yaml2dag.format.component_files import is_component_declaration

try:  # libyaml is ~10x faster; fall back to the pure-Python loader when it is missing
    _Loader = yaml.CSafeLoader
except AttributeError:  # pragma: no cover - depends on how PyYAML was built
    _Loader = yaml.SafeLoader

#: Path inside a document: mapping keys (str) and sequence indices (int).
DocPath = tuple

_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_STR_TAG = "tag:yaml.org,2002:str"
_SEQ_TAG = "tag:yaml.org,2002:seq"
_MAP_TAG = "tag:yaml.org,2002:map"
_BINARY_TAG = "tag:yaml.org,2002:binary"
_INT_TAG = "tag:yaml.org,2002:int"
_FLOAT_TAG = "tag:yaml.org,2002:float"


def format_path(path: DocPath) -> str:
    """``('steps', 2, 'retry')`` → ``steps[2].retry``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


@dataclass
class Document:
    """A parsed workflow file.

    Attributes:
        file: the file name as the user gave it.
        text: the file's text.
        data: the document as plain Python values (dict, list, str, int, float, bool, None);
            ``None`` when the file could not be parsed.
        problems: syntax problems found while loading (duplicate keys, unquoted templates, ...).
        content_hash: SHA-256 of the file's bytes (hex), recorded on every run.
    """

    file: str
    text: str
    data: Any = None
    problems: list[Problem] = field(default_factory=list)
    content_hash: str = ""
    _values: dict = field(default_factory=dict, repr=False)
    _keys: dict = field(default_factory=dict, repr=False)
    _literal: dict = field(default_factory=dict, repr=False)  # path -> line of a `|` block scalar
    _lines: list | None = field(default=None, repr=False)  # the text's lines, split when first needed
    _ends: dict = field(default_factory=dict, repr=False)  # path -> end mark of a scalar value

    @property
    def ok(self) -> bool:
        """True when the file parsed (it may still be an invalid workflow)."""
        return self.data is not None and not any(p.rule == "syntax" for p in self.problems)

    def position(self, path: DocPath, key: bool = False) -> tuple[int, int]:
        """1-based (line, column) of the value at ``path`` (of its key when ``key``).

        Falls back to the nearest ancestor that has a position, then to (1, 1).
        """
        path = tuple(path)
        if key and path in self._keys:
            return self._keys[path]
        while path:
            if path in self._values:
                return self._values[path]
            path = path[:-1]
        return self._values.get((), (1, 1))

    def problem(
        self, path: DocPath, message: str, rule: str = "schema", *, key: bool = False, severity="error",
        keyword: str = "", expected: Any = None, actual: Any = None,
    ) -> Problem:
        """A :class:`Problem` located at ``path`` in this document (at its key when ``key``),
        with its end column (:meth:`end_column`); ``keyword``, ``expected`` and ``actual`` are
        passed on (:class:`~yaml2dag.format.errors.Problem`)."""
        line, column = self.position(path, key=key)
        inner = _INNER_LINE.search(message)
        start = self._literal.get(tuple(path))
        if inner and start is not None and not key:
            # a template error inside a `|` block: point at the line itself, not at the `|`
            lines = self.text.splitlines()
            target = start + int(inner.group(1))
            if target <= len(lines):
                text = lines[target - 1]
                line, column = target, len(text) - len(text.lstrip()) + 1
                message = message[: inner.start()].rstrip()
        return Problem(self.file, line, column, format_path(path), message, rule, severity, keyword=keyword,
                       expected=expected, actual=actual, end_column=self.end_column(line, column, path, key))

    def end_column(self, line: int, column: int, path: DocPath | None = None, key: bool = False) -> int:
        """1-based column just after the YAML token that starts at ``line``:``column`` (exclusive,
        like SARIF's ``endColumn``). The end of the scalar value at ``path`` as the YAML parser saw
        it, when it ends on that line; else read from the line: a quoted string to its closing
        quote, a flow ``[...]``/``{...}`` to its closing bracket, a key to its ``:``, a plain value
        to the end of the line (without a trailing comment); the rest of the line when the token
        goes on past it. 0 when the position is unknown or outside the text."""
        if line < 1 or column < 1:
            return 0
        mark = self._ends.get(tuple(path)) if path is not None and not key else None
        if mark is not None and mark.line + 1 == line and mark.column + 1 > column:
            return mark.column + 1
        if self._lines is None:
            self._lines = _YAML_LINE_BREAK.split(self.text)  # the lines YAML counts (not str.splitlines)
        if line > len(self._lines):
            return 0
        return _token_end(self._lines[line - 1], column - 1) + 1


_CLOSING = {"[": "]", "{": "}"}
#: The line breaks of YAML 1.1 as PyYAML reads them (its marks count lines by these).
_YAML_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _token_end(text: str, start: int) -> int:
    """0-based index just after the token of ``text`` (one line) that starts at ``start``."""
    end = len(text.rstrip())
    if start >= end:
        return min(start + 1, len(text)) if start < len(text) else start
    first = text[start]
    if first in "'\"":
        i = start + 1
        while i < len(text):
            if text[i] == first:
                if first == "'" and text[i + 1:i + 2] == "'":  # '' is a quote inside '...'
                    i += 2
                    continue
                return i + 1
            i += 2 if first == '"' and text[i] == "\\" else 1
        return end
    if first in _CLOSING:
        depth, quote = 0, ""
        for i in range(start, len(text)):
            c = text[i]
            if quote:
                quote = "" if c == quote else quote
            elif c in "'\"":
                quote = c
            elif c in "[{":
                depth += 1
            elif c in "]}":
                depth -= 1
                if depth == 0:
                    return i + 1
        return end
    # a key (`name:`), a plain scalar, a `|`/`>` indicator or `- ` item: up to `: `, ` #` or the end
    stop = end
    for marker in (": ", " #"):
        at = text.find(marker, start)
        if at != -1:
            stop = min(stop, at)
    if text.endswith(":", 0, stop) and stop == end:
        stop -= 1
    return max(len(text[:stop].rstrip()), start + 1)


#: "(line N)" at the end of a template error: the line inside the template text.
_INNER_LINE = re.compile(r"\s*\(line (\d+)\)$")


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


def load_text(text: str, file: str = "<string>") -> Document:
    """Parse workflow text (YAML or JSON) into a :class:`Document`.

    Never raises for bad input: syntax errors become problems with rule ``syntax``; text over
    :data:`~yaml2dag.format.limits.MAX_FILE_BYTES`, nesting deeper than
    :data:`~yaml2dag.format.limits.MAX_DEPTH` and recursive aliases one problem with rule ``limit``
    (and no data); integers outside 64 bits (``limit``) and NaN or infinite numbers
    (``number``) a problem each. Anything else that goes wrong while parsing is a bug, reported
    as a problem with rule ``internal`` rather than raised.
    """
    encoded = text.encode("utf-8", "surrogatepass")
    doc = Document(file=file, text=text, content_hash=hashlib.sha256(encoded).hexdigest())
    if len(encoded) > MAX_FILE_BYTES:
        doc.problems.append(_too_big(file, len(encoded)))
        doc.text = ""
        return doc
    if len(encoded) > limits.PRESCAN_BYTES:  # a large file of too many steps is refused before it is parsed
        where = limits.too_many_steps(text)
        if where is not None:
            doc.problems.append(Problem(file, where[0], where[1], "steps", f"the workflow has more than "
                                        f"{limits.MAX_STEPS:,} steps; a workflow has at most {limits.MAX_STEPS:,} "
                                        "(split it into sub-workflows)", LIMIT_RULE,
                                        end_column=doc.end_column(*where)))
            return doc
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            doc.problems.append(Problem(file, 1, 1, "", "the file is empty", "syntax"))
            return doc
        doc.data = _Builder(loader, doc).build(node, ())
    except LimitExceeded as exc:
        doc.data = None
        doc.problems.append(Problem(file, exc.line, exc.column, format_path(exc.path), exc.message, LIMIT_RULE,
                                    end_column=doc.end_column(exc.line, exc.column)))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        lines = text.splitlines()
        if mark and line <= len(lines) and lines[line - 1][col - 1 : col] == "\t":
            message += " (a tab: YAML is indented with spaces only)"
        if file.endswith(".json"):
            return _load_json_fallback(text, doc, line, col)
        doc.problems.append(Problem(file, line, col, "", f"invalid YAML: {message}", "syntax",
                                    end_column=doc.end_column(line, col)))
    except yaml.YAMLError as exc:  # pragma: no cover - errors without marks are rare
        doc.problems.append(Problem(file, 1, 1, "", f"invalid YAML: {exc}", "syntax"))
    except Exception as exc:  # noqa: BLE001 - a bug: one file never takes the others down
        doc.data = None
        doc.problems.append(internal_problem(file, exc, "reading this file"))
    finally:
        loader.dispose()
    return doc


def internal_problem(file: str, exc: BaseException, doing: str = "validating this file") -> Problem:
    """The problem (rule ``internal``, at 1:1) for an unexpected exception while ``doing``
    something with ``file``: the file is treated as invalid and the others go on."""
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return Problem(file, 1, 1, "", f"yaml2dag failed while {doing} ({type(exc).__name__}"
                   + (f": {detail}" if detail else "") + "); this is a bug in yaml2dag, please report it "
                   "with the file", "internal")


def _too_big(file: str, size: int) -> Problem:
    return Problem(file, 1, 1, "", f"the file is {size:,} bytes; a workflow file is at most {MAX_FILE_BYTES:,} "
                   "bytes (1 MiB)", LIMIT_RULE)


class _JsonLimit(ValueError):
    def __init__(self, message: str, rule: str = LIMIT_RULE):
        super().__init__(message)
        self.message, self.rule = message, rule


def _json_int(text: str) -> int:
    problem = integer_text_problem(text)
    value = int(text) if problem is None else 0
    problem = problem or integer_problem(value)
    if problem:
        raise _JsonLimit(problem)
    return value


def _json_float(text: str) -> float:
    value = float(text)
    problem = float_problem(value)
    if problem:
        raise _JsonLimit(problem, "number")
    return value


def _json_constant(text: str) -> float:
    raise _JsonLimit(float_problem(float(text)) or text, "number")


def _json_depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _load_json_fallback(text: str, doc: Document, line: int, col: int) -> Document:
    """A few valid JSON documents are not valid YAML 1.1 (tabs in odd places); retry as JSON,
    with the limits of :func:`load_text` (positions are not known: problems are at 1:1)."""
    try:
        data = json.loads(text, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        doc.problems.append(Problem(doc.file, exc.lineno, exc.colno, "", f"invalid JSON: {exc.msg}", "syntax",
                                    end_column=doc.end_column(exc.lineno, exc.colno)))
        return doc
    except _JsonLimit as exc:
        doc.problems.append(Problem(doc.file, 1, 1, "", exc.message, exc.rule))
        return doc
    except RecursionError:  # deeper than Python's recursion limit: far past MAX_DEPTH
        data = None
    if data is None and text.strip() != "null" or _json_depth_exceeds(data, MAX_DEPTH):
        doc.problems.append(Problem(doc.file, 1, 1, "", f"mappings and lists are nested more than {MAX_DEPTH} "
                                    f"levels deep; a workflow file nests at most {MAX_DEPTH}", LIMIT_RULE))
        return doc
    doc.data = data
    return doc


def load_file(path: str | Path, display: str | None = None) -> Document:
    """Read and parse one workflow file.

    Args:
        path: the file.
        display: the name to use in problems (default: ``str(path)``).

    Returns:
        A :class:`Document`; unreadable files give one ``syntax`` problem instead of raising.
    """
    name = display if display is not None else str(path)
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:  # refused before anything is read
            doc = Document(file=name, text="")
            doc.problems.append(_too_big(name, size))
            return doc
        raw = Path(path).read_bytes()
    except OSError as exc:
        doc = Document(file=name, text="")
        doc.problems.append(Problem(name, 0, 0, "", f"cannot read file: {exc.strerror or exc}", "syntax"))
        return doc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        doc = Document(file=name, text="")
        doc.problems.append(Problem(name, 1, 1, "", f"the file is not UTF-8 text ({exc.reason})", "syntax"))
        return doc
    doc = load_text(text, name)
    doc.content_hash = hashlib.sha256(raw).hexdigest()
    return doc


WORKFLOW_SUFFIXES = (".yaml", ".yml", ".json")


def iter_workflow_files(folder: str | Path) -> Iterator[Path]:
    """Workflow files under ``folder``, recursively, in a stable (sorted) order.

    Files and folders whose names start with ``.`` or ``_`` are skipped (issue #2, code
    location): that keeps version archives (``.versions/``) and helper folders out. So are
    Dagster component declarations (a ``defs.yaml`` with a top-level ``type:``, issue 14:
    :func:`yaml2dag.format.component_files.is_component_declaration`).
    """
    root = Path(folder)
    if root.is_file():
        yield root
        return
    if not root.is_dir():
        return
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).parts
        if any(part.startswith((".", "_")) for part in rel):
            continue
        if path.suffix.lower() in WORKFLOW_SUFFIXES and path.is_file() and not is_component_declaration(path):
            yield path
