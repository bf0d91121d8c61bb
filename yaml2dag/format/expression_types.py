"""The type a Jinja expression renders to, seen without running it (spec §5, rule ``shell``).

:func:`expression_type` tells whether an expression inserted where bash evaluates arithmetic
(:mod:`yaml2dag.format.shell_contexts`) is always an integer (:data:`INTEGER`), a number, or may
be text or a boolean, and why; the validator reports the last two.
"""


from __future__ import annotations

from typing import Any, Callable

from jinja2 import nodes

from yaml2dag.format.shell_context_kinds import is_integer


# --------------------------------------------------------------------------- static types

#: Types :func:`expression_type` gives, from "may be text" down to "always an integer".
TEXT, BOOLEAN, UNKNOWN, NUMBER, INTEGER = "text", "boolean", "unknown", "number", "integer"
_TYPE_ORDER = (TEXT, BOOLEAN, UNKNOWN, NUMBER, INTEGER)
#: Jinja filters whose result is always an integer / a number / text.
_INTEGER_FILTERS = frozenset(("int", "length", "count", "wordcount"))
_NUMBER_FILTERS = frozenset(("float", "round"))
_TEXT_FILTERS = frozenset(("string", "upper", "lower", "title", "capitalize", "trim", "striptags", "replace",
                           "join", "tojson", "quote", "urlencode", "format", "center", "indent", "truncate",
                           "wordwrap", "e", "escape", "filesizeformat", "pprint", "xmlattr", "urlize", "list",
                           "items", "dictsort", "batch", "slice", "map", "select", "reject", "selectattr",
                           "rejectattr", "unique", "reverse", "sort", "groupby", "forceescape", "safe"))


def expression_type(node: Any, resolve: Callable[[tuple[str, ...]], tuple[str, str]]) -> tuple[str, str]:
    """The type a Jinja expression renders to, as far as can be seen without running it.

    Args:
        node: a :mod:`jinja2.nodes` expression.
        resolve: ``resolve(("name", "attr", ...)) -> (type, source)`` for a name and its constant
            attributes (``("n",)``, ``("params", "n")``, ``("build", "exit_code")``), where
            ``source`` says what the value is (``"the string parameter `n`"``).

    Returns:
        ``(type, source)``: one of ``"text"``, ``"boolean"`` (renders ``true``/``false``),
        ``"unknown"``, ``"number"``, ``"integer"``, and what made it so when it may be text or a
        boolean ("" otherwise).
    """
    def walk(n: Any) -> tuple[str, str]:
        if isinstance(n, nodes.Const):
            v = n.value
            if isinstance(v, bool):
                return BOOLEAN, f"the constant {v}"
            if isinstance(v, int):
                return INTEGER, ""
            if isinstance(v, float):
                return NUMBER, ""
            if isinstance(v, str) and is_integer(v):
                return INTEGER, ""
            return TEXT, f"the text {v!r}"
        if isinstance(n, (nodes.Name, nodes.Getattr, nodes.Getitem)):
            chain: list[str] = []
            cur = n
            while isinstance(cur, (nodes.Getattr, nodes.Getitem)):
                if isinstance(cur, nodes.Getattr):
                    chain.append(cur.attr)
                elif isinstance(cur.arg, nodes.Const) and isinstance(cur.arg.value, (str, int)):
                    chain.append(str(cur.arg.value))
                else:
                    return UNKNOWN, ""
                cur = cur.node
            if not isinstance(cur, nodes.Name):
                return UNKNOWN, ""
            return resolve((cur.name, *reversed(chain)))
        if isinstance(n, nodes.Filter):
            if n.name in _INTEGER_FILTERS:
                return INTEGER, ""
            if n.name in _NUMBER_FILTERS:
                return NUMBER, ""
            if n.name == "abs" and n.node is not None:
                return walk(n.node)
            if n.name in ("default", "d") and n.node is not None:
                fallback = walk(n.args[0]) if n.args else (TEXT, "an empty default")
                return _pick(walk(n.node), fallback)
            if n.name in ("string", "trim", "quote", "e", "escape", "safe") and n.node is not None:
                inner = walk(n.node)  # the text of a number is still a number
                if inner[0] in (INTEGER, NUMBER):
                    return inner
            if n.name in _TEXT_FILTERS:
                return TEXT, f"the `{n.name}` filter's result"
            return UNKNOWN, ""
        if isinstance(n, nodes.Concat):
            return TEXT, "a text joined with `~`"
        if isinstance(n, (nodes.Compare, nodes.Test, nodes.Not)):
            return BOOLEAN, "a comparison (it renders true or false)"
        if isinstance(n, (nodes.And, nodes.Or)):
            return _pick(walk(n.left), walk(n.right))
        if isinstance(n, nodes.CondExpr):
            other = walk(n.expr2) if n.expr2 is not None else (TEXT, "an empty else branch")
            return _pick(walk(n.expr1), other)
        if isinstance(n, (nodes.Neg, nodes.Pos)):
            return walk(n.node)
        if isinstance(n, nodes.BinExpr):
            left, right = walk(n.left), walk(n.right)
            if TEXT in (left[0], right[0]) and isinstance(n, (nodes.Add, nodes.Mul, nodes.Mod)):
                return left if left[0] == TEXT else right
            if left[0] == INTEGER and right[0] == INTEGER and not isinstance(n, nodes.Div):
                return INTEGER, ""
            if left[0] in (INTEGER, NUMBER) and right[0] in (INTEGER, NUMBER):
                return NUMBER, ""
            return UNKNOWN, ""
        if isinstance(n, (nodes.List, nodes.Tuple, nodes.Dict)):
            return TEXT, "a list or mapping (it renders as JSON)"
        return UNKNOWN, ""

    return walk(node)


def _pick(a: tuple[str, str], b: tuple[str, str]) -> tuple[str, str]:
    return a if _TYPE_ORDER.index(a[0]) <= _TYPE_ORDER.index(b[0]) else b
