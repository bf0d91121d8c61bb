"""Bounds a template would break, found without rendering it (spec §5; issue 10, point 6).

:func:`static_problems` walks a parsed template and reports the operations whose operands are
constants and would break a bound of :mod:`yaml2dag.format.expression_runtime_bounds`
(``{{ 'a' * 2500000000 }}``), and uses of ``env`` other than reading one variable
(:data:`ENV_READS`); the validator reports them with rule ``sandbox``.
"""


from __future__ import annotations

import operator
from typing import Any, Callable

from jinja2 import nodes
from jinja2.sandbox import MAX_RANGE

from yaml2dag.format.expression_runtime_bounds import (
    INTERCEPTED_BINOPS,
    INTERCEPTED_UNOPS,
    MAX_TEXT,
    TemplateBoundError,
    _approx,
    _int,
    binop,
    check_str_call,
    unop,
)


# --------------------------------------------------------------------------- static checks


class _NotConstant(Exception):
    pass


def _constant(node: nodes.Node) -> Any:
    """The value of a constant expression, computed with the bounds (raises _NotConstant)."""
    if isinstance(node, nodes.Const):
        return node.value
    if isinstance(node, (nodes.List, nodes.Tuple)):
        values = [_constant(n) for n in node.items]
        return values if isinstance(node, nodes.List) else tuple(values)
    if isinstance(node, nodes.BinExpr) and node.operator in INTERCEPTED_BINOPS:
        return binop(node.operator, _constant(node.left), _constant(node.right))
    if isinstance(node, nodes.BinExpr) and node.operator in ("-", "/", "//"):
        left, right = _constant(node.left), _constant(node.right)
        try:
            return {"-": operator.sub, "/": operator.truediv, "//": operator.floordiv}[node.operator](left, right)
        except Exception as exc:  # noqa: BLE001 - left to run time
            raise _NotConstant() from exc
    if isinstance(node, nodes.UnaryExpr) and node.operator in INTERCEPTED_UNOPS:
        try:
            return unop(node.operator, _constant(node.node))
        except TemplateBoundError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise _NotConstant() from exc
    raise _NotConstant()


_WIDTH_FILTERS = {"center": 0, "indent": 0, "wordwrap": 0}
_COUNT_FILTERS = {"slice": 0}
_GROWING_METHODS = ("center", "ljust", "rjust", "zfill", "expandtabs", "replace", "join", "translate")
#: What a template may do with ``env``: read one variable (``env.HOME``, ``env['HOME']``,
#: ``env.get('HOME', 'x')``, ``'HOME' in env``).
ENV_READS = "`env.NAME`, `env['NAME']`, `env.get('NAME', default)` or `'NAME' in env`"


def static_problems(tree: nodes.Template) -> tuple[str, ...]:
    """Messages for what the sandbox would refuse, seen without rendering: constant operations
    past a bound (``'a' * 2500000000``, ``3 ** 10 ** 8``, ``range(10 ** 9)``, ``center(10 ** 9)``)
    and uses of ``env`` other than reading one variable (``env | list``, ``env.items()``,
    ``for k in env``, ``{{ env }}``). A line number is added for templates of several lines."""
    found: list[str] = []
    declared = {n.name for n in tree.find_all(nodes.Name) if n.ctx in ("store", "param")}

    def add(message: str, node: nodes.Node) -> None:
        line = f" (line {node.lineno})" if getattr(node, "lineno", 1) > 1 else ""
        text = message + line
        if text not in found:
            found.append(text)

    def visit(node: nodes.Node, parent: nodes.Node | None, field: str) -> None:
        if isinstance(node, nodes.BinExpr) and node.operator in INTERCEPTED_BINOPS:
            try:
                _constant(node)
            except TemplateBoundError as exc:
                add(f"{exc.message}", node)
                return
            except _NotConstant:
                pass
        elif isinstance(node, nodes.Call):
            _check_call(node, add)
        elif isinstance(node, nodes.Filter) and node.name in {**_WIDTH_FILTERS, **_COUNT_FILTERS, "batch": 0}:
            _check_filter(node, add)
        elif isinstance(node, nodes.Name) and node.name == "env" and node.ctx == "load" and "env" not in declared:
            if not _env_read(node, parent, field):
                add(f"`env` can only be read one variable at a time in templates ({ENV_READS}): listing "
                    "the environment, its names or its size is not allowed (spec §5)", node)
        for name, child in node.iter_fields():
            for item in child if isinstance(child, list) else [child]:
                if isinstance(item, nodes.Node):
                    visit(item, node, name)

    visit(tree, None, "")
    return tuple(found)


def _env_read(node: nodes.Name, parent: nodes.Node | None, field: str) -> bool:
    if isinstance(parent, nodes.Getitem) and field == "node":
        return True
    if isinstance(parent, nodes.Getattr) and field == "node":
        return True  # a call of `env.items()` is checked at the Call
    if isinstance(parent, nodes.Operand) and parent.op in ("in", "notin"):
        return True
    return False


def _check_call(node: nodes.Call, add: Callable[[str, nodes.Node], None]) -> None:
    target = node.node
    if isinstance(target, nodes.Getattr) and isinstance(target.node, nodes.Name) and target.node.name == "env" \
            and target.attr != "get":
        add(f"`env.{target.attr}()`: `env` can only be read one variable at a time in templates ({ENV_READS}); "
            "listing the environment is not allowed (spec §5)", node)
        return
    try:
        args = [_constant(a) for a in node.args]
    except TemplateBoundError as exc:
        add(exc.message or str(exc), node)
        return
    except _NotConstant:
        return
    if isinstance(target, nodes.Name) and target.name == "range":
        try:
            size = len(range(*args))
        except (TypeError, ValueError, OverflowError):
            return
        if size > MAX_RANGE:
            add(f"`range` would give {size:,} numbers; templates allow at most {MAX_RANGE:,} (Jinja's "
                "sandbox limit, spec §5)", node)
        return
    if isinstance(target, nodes.Getattr) and target.attr in _GROWING_METHODS:
        try:
            owner = _constant(target.node)
        except (_NotConstant, TemplateBoundError):
            owner = ""  # unknown text: the arguments alone may break the bound
        if isinstance(owner, str):
            try:
                check_str_call(owner, target.attr, tuple(args), {})
            except TemplateBoundError as exc:
                add(exc.message or str(exc), node)
            except Exception:  # noqa: BLE001 - left to run time
                pass


def _check_filter(node: nodes.Filter, add: Callable[[str, nodes.Node], None]) -> None:
    try:
        args = [_constant(a) for a in node.args]
    except TemplateBoundError as exc:
        add(exc.message or str(exc), node)
        return
    except _NotConstant:
        return
    if not args:
        return
    limit, unit = (MAX_TEXT, "characters") if node.name in _WIDTH_FILTERS else (MAX_RANGE, "groups")
    size = _int(args[0])
    if node.name == "batch":
        limit, unit = MAX_RANGE, "elements per group"
        if len(args) < 2 or args[1] is None:
            return
    if size is not None and size > limit:
        add(f"`{node.name}({size})` would make {_approx(size)} {unit}; templates allow at most {limit:,} "
            "(spec §5, template bounds)", node)
