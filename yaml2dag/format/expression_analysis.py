"""Reading a template without rendering it: parsing, references, limits (spec §5, §8).

:func:`analyze` walks the Jinja AST and lists every name a template uses (:class:`Reference`), so
the validator can check them; :func:`parse_template` refuses templates nested deeper than the
limit (:class:`TemplateLimitError`); :func:`is_template`, :func:`whole_expression` and
:func:`iter_strings` find the templates in a workflow's values.
"""


from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Iterable

from jinja2 import nodes
from jinja2.exceptions import TemplateSyntaxError

from yaml2dag.format import expression_bounds as template_bounds
from yaml2dag.format.errors import TemplateError
from yaml2dag.format.expression_data import FORBIDDEN_METHODS, TEXT_WRITERS
from yaml2dag.format.expression_sandbox import ENV
from yaml2dag.format.limits import MAX_EXPRESSION_DEPTH, integer_problem, integer_text_problem


_WHOLE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.S)


def is_template(value: Any) -> bool:
    """True for strings that contain ``{{`` or ``{%``."""
    return isinstance(value, str) and ("{{" in value or "{%" in value)


def whole_expression(value: str) -> str | None:
    """The expression of a value that is exactly one ``{{ ... }}``, else None."""
    match = _WHOLE.match(value)
    if not match:
        return None
    expr = match.group("expr")
    if "{{" in expr or "}}" in expr or "{%" in expr:
        return None
    return expr


# --------------------------------------------------------------------------- parsing / analysis


@dataclass(frozen=True)
class Reference:
    """One name used by a template.

    Attributes:
        name: the root name (``build`` in ``build.output``, ``steps`` in ``steps.build.output``).
        attr: the first attribute or constant subscript after it, if any.
        attr2: the second one (``output`` in ``steps.build.output``), if any.
        lineno: 1-based line inside the template text.
    """

    name: str
    attr: str | None = None
    attr2: str | None = None
    lineno: int = 1


@dataclass(frozen=True)
class Analysis:
    """What a template uses: references, whether it splices raw text, and the calls the sandbox
    refuses that can be seen without rendering (``forbidden``: one message per call, e.g.
    ``"`.to_csv('/tmp/x')` would write a file ..."``; see :data:`FORBIDDEN_METHODS`)."""

    references: tuple[Reference, ...]
    uses_raw: bool
    forbidden: tuple[str, ...] = ()


def _source_for(value: str, bare: bool) -> str:
    if bare and not is_template(value):
        return "{{ " + value + " }}"
    return value


class TemplateLimitError(TemplateError):
    """A template nests deeper than :data:`yaml2dag.format.limits.MAX_EXPRESSION_DEPTH` (the validator
    reports it with rule ``limit``)."""


_OPENING = frozenset(("lparen", "lbracket", "lbrace"))
_CLOSING = frozenset(("rparen", "rbracket", "rbrace"))
#: ``{% tag %}`` blocks that have an ``{% end... %}``.
_BLOCK_TAGS = frozenset(("if", "for", "macro", "call", "filter", "with", "autoescape", "block", "trans"))


def _too_deep(lineno: int | None = None) -> TemplateLimitError:
    where = f" (line {lineno})" if lineno and lineno > 1 else ""
    return TemplateLimitError(f"the template nests brackets, blocks or chained operators more than "
                              f"{MAX_EXPRESSION_DEPTH} levels deep; split it into simpler parts{where}")


def _check_nesting(source: str) -> None:
    """Raise :class:`TemplateLimitError` when brackets and ``{% %}`` blocks nest more than
    :data:`~yaml2dag.format.limits.MAX_EXPRESSION_DEPTH` deep, from Jinja's tokens (its lexer is not
    recursive): before the parser, which recurses about 14 Python frames per bracket; and when
    an integer literal is outside 64 bits (Jinja converts literals with ``int()``, which
    refuses more than 4,300 digits)."""
    depth = 0
    after_block_begin = False
    try:
        for lineno, token, value in ENV.lexer.tokeniter(source, None):
            if token == "whitespace":
                continue
            if token == "integer":
                problem = integer_text_problem(value.replace("_", ""))
                if problem is None:
                    try:
                        problem = integer_problem(int(value.replace("_", ""), 0))
                    except ValueError:  # e.g. `007`: the parser reports it
                        problem = None
                if problem:
                    where = f" (line {lineno})" if lineno > 1 else ""
                    raise TemplateLimitError(f"in the template, {problem}{where}")
            elif token in _OPENING:
                depth += 1
            elif token in _CLOSING:
                depth = max(0, depth - 1)
            elif after_block_begin and token == "name":
                if value in _BLOCK_TAGS:
                    depth += 1
                elif value.startswith("end"):
                    depth = max(0, depth - 1)
            after_block_begin = token == "block_begin"
            if depth > MAX_EXPRESSION_DEPTH:
                raise _too_deep(lineno)
    except TemplateSyntaxError:
        return  # the parser reports it, with its message


def parse_template(source: str) -> nodes.Template:
    """Jinja's syntax tree of a template, within :data:`~yaml2dag.format.limits.MAX_EXPRESSION_DEPTH`:
    brackets and blocks are counted before parsing, the tree's depth (chained operators such as
    ``a + b + c``, attributes, ``not not x``) after it, without recursion.

    Raises:
        TemplateLimitError: the template nests too deeply.
        TemplateError: a syntax error (the message gives Jinja's reason and the line).
    """
    _check_nesting(source)
    try:
        tree = ENV.parse(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message} (line {exc.lineno})") from None
    except RecursionError:  # e.g. hundreds of `not` or `-` in a row: nested, without brackets
        raise _too_deep() from None
    except ValueError as exc:  # a literal Jinja cannot convert (guarded above; never a crash)
        raise TemplateError(f"template syntax error: {exc}") from None
    stack: list[tuple[nodes.Node, int]] = [(tree, 0)]
    while stack:  # the template is depth 0, its output 1, the expression in it 2...
        node, depth = stack.pop()
        if depth > MAX_EXPRESSION_DEPTH + 1:
            raise _too_deep(getattr(node, "lineno", None))
        stack.extend((child, depth + 1) for child in node.iter_child_nodes())
    return tree


@lru_cache(maxsize=4096)
def analyze(value: str, bare: bool = False) -> Analysis:
    """Parse a template (or a bare expression when ``bare``) and list what it references.

    Raises:
        TemplateLimitError: the template nests too deeply (:func:`parse_template`).
        TemplateError: the template has a syntax error (message gives the Jinja reason).
    """
    source = _source_for(value, bare)
    tree = parse_template(source)
    declared: set[str] = set()
    for node in tree.find_all(nodes.Name):
        if node.ctx in ("store", "param"):
            declared.add(node.name)
    refs: list[Reference] = []
    seen: set[int] = set()

    def chain(node) -> tuple[str | None, list[str]]:
        parts: list[str] = []
        while True:
            if isinstance(node, nodes.Getattr):
                parts.append(node.attr)
                node = node.node
            elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                parts.append(node.arg.value)
                node = node.node
            elif isinstance(node, (nodes.Getitem, nodes.Getattr)):
                parts.clear()
                node = node.node
            else:
                break
        if isinstance(node, nodes.Name) and node.ctx == "load":
            return node.name, list(reversed(parts))
        return None, []

    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if id(node) in seen:
            continue
        name, parts = chain(node)
        # mark the inner nodes of this chain so they are not reported again
        inner = node
        while isinstance(inner, (nodes.Getattr, nodes.Getitem)):
            seen.add(id(inner))
            inner = inner.node
        if name is None or name in declared:
            continue
        seen.add(id(inner))
        refs.append(Reference(name, parts[0] if parts else None, parts[1] if len(parts) > 1 else None, node.lineno))
    for node in tree.find_all(nodes.Name):
        if node.ctx != "load" or node.name in declared or id(node) in seen:
            continue
        refs.append(Reference(node.name, None, None, node.lineno))
    uses_raw = any(f.name == "raw" for f in tree.find_all(nodes.Filter))
    refs.sort(key=lambda r: (r.lineno, r.name, r.attr or "", r.attr2 or ""))
    return Analysis(tuple(refs), uses_raw, _forbidden_calls(tree))


@lru_cache(maxsize=4096)
def static_problems_of(source: str) -> tuple[str, ...]:
    """:func:`yaml2dag.format.expression_bounds.static_problems` of a template text (cached; ()
    when it does not parse: the validator reports the syntax error). Here, not beside
    ``static_problems``, because it parses with :func:`parse_template` (the bounds stay below the
    expression engine)."""
    try:
        tree = parse_template(source)  # within the nesting limit, so the walk cannot recurse too deep
    except Exception:  # noqa: BLE001 - syntax errors and nesting are reported by the template checks
        return ()
    return template_bounds.static_problems(tree)


def _forbidden_calls(tree: nodes.Template) -> tuple[str, ...]:
    """Messages for calls the sandbox would refuse on a data value, seen in the AST: methods in
    :data:`FORBIDDEN_METHODS`, and :data:`TEXT_WRITERS` given a path (a line number, the
    template's own, is added for templates of several lines)."""
    found: list[str] = []
    for call in tree.find_all(nodes.Call):
        if not isinstance(call.node, nodes.Getattr):
            continue
        name = call.node.attr
        line = f" (line {call.lineno})" if call.lineno > 1 else ""
        if name in FORBIDDEN_METHODS:
            found.append(f"`.{name}()` is not allowed in templates: on a data value it would write a "
                         f"file or run code, which the template sandbox forbids (spec §5); use a `data` "
                         f"step instead{line}")
        elif name in TEXT_WRITERS and (call.args or any(k.key == TEXT_WRITERS[name] for k in call.kwargs)):
            found.append(f"`.{name}()` with a path or buffer would write a file, which the template "
                         f"sandbox forbids (spec §5): call it without one to get the text, or write the "
                         f"file with a `data` step (action `write`){line}")
    return tuple(found)


def iter_strings(value: Any, path: tuple = ()) -> Iterable[tuple[tuple, str]]:
    """Every string inside a nested value, with its path."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from iter_strings(item, path + (key,))
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            yield from iter_strings(item, path + (i,))
