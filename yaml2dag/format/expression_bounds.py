"""Bounds on what a template may build, and what it may touch (spec §5; issue 10, point 6).

A template runs in Jinja2's sandbox, which keeps it away from Python internals but not from
doing a lot of work in one operation: ``{{ 3 ** (10 ** 8) }}`` is one multiplication loop in C
that no timeout can interrupt, ``{{ 'a' * 2500000000 }}`` allocates 2.5 GB at once. So every
operation that can make a value much larger than its operands is checked *before* it runs,
through the sandbox's operator interception (:attr:`INTERCEPTED_BINOPS`, ``call_binop`` in
Jinja's ``SandboxedEnvironment``) and wrappers of the methods and filters that grow text:

* a number may have at most :data:`MAX_INT_DIGITS` digits (``**``, ``*``);
* a text, list or mapping one operation builds — ``*`` (repetition), ``+``, ``~``, ``%`` and
  ``format`` (widths count), ``str`` methods (``center``, ``ljust``, ``rjust``, ``zfill``,
  ``expandtabs``, ``replace``, ``join``, ``translate``), the filters ``center``, ``indent``,
  ``wordwrap``, ``join``, ``replace``, ``format``, ``sum``, ``string``, ``pprint``, ``tojson``,
  and the conversion of a list or mapping to text — may hold at most :data:`MAX_TEXT`
  characters, counting nested values as they would print (``[x] * 1000`` of a long ``x`` counts
  its whole text, :func:`weight`);
* a template's output is at most :data:`MAX_TEXT` characters;
* ``range`` gives at most :data:`MAX_RANGE` numbers (Jinja's own sandbox limit), the filters
  ``batch`` and ``slice`` make at most that many groups; ``lipsum`` is not available.

Time is bounded separately: a step renders its parameters within its ``timeout``
(:func:`yaml2dag.compiler.runtime.within_step_time`).

:func:`static_problems` finds, without rendering, the operations whose operands are constants
and would break a bound (``{{ 'a' * 2500000000 }}``), and uses of ``env`` other than reading one
variable; the validator reports them (rule ``sandbox``).
"""

from __future__ import annotations

import math
import operator
import re
import string
from functools import lru_cache
from typing import Any, Callable, Iterable

from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.exceptions import SecurityError
from jinja2.sandbox import MAX_RANGE

#: Most digits a number in a template may have: Python's own limit for turning an integer into
#: text (``sys.int_info.default_max_str_digits``), so a larger one could not be shown anyway.
MAX_INT_DIGITS = 4300
#: Most characters a template operation may build, and a template may render (10 million): a
#: generous page of data (a 10,000-row table as HTML is about 2 MB), far below what would
#: strain a worker.
MAX_TEXT = 10_000_000
#: Operators the sandbox hands to :func:`binop` (Jinja's ``intercepted_binops``). ``-``, ``/``
#: and ``//`` cannot make a value much larger than its operands.
INTERCEPTED_BINOPS = frozenset(("**", "*", "+", "%"))
#: Unary operators handed to :func:`unop` (no unary operator grows a value; intercepting them
#: keeps Jinja from evaluating them while it compiles, outside any bound).
INTERCEPTED_UNOPS = frozenset(("-", "+"))

_BINOPS: dict[str, Callable[[Any, Any], Any]] = {"**": operator.pow, "*": operator.mul, "+": operator.add,
                                                 "%": operator.mod}
_UNOPS: dict[str, Callable[[Any], Any]] = {"-": operator.neg, "+": operator.pos}
_LOG10_2 = math.log10(2)


class TemplateBoundError(SecurityError):
    """An operation would break one of the bounds above (a :class:`jinja2.exceptions.SecurityError`,
    so the step fails with "blocked by the template sandbox: ...")."""


def _too_large(what: str, size: float, limit: int, unit: str) -> TemplateBoundError:
    return TemplateBoundError(f"{what} would make {_approx(size)} {unit}; templates allow at most {limit:,} "
                              f"(spec §5, template bounds)")


def _approx(size: float) -> str:
    return f"about {size:,.0f}" if size < 1e15 else f"about {size:.1e}"


def weight(value: Any, limit: int = MAX_TEXT) -> int:
    """About how many characters ``value`` prints as (a list as JSON, counting shared elements
    each time they print), stopping as soon as that passes ``limit``.

    Texts count their length, lists and mappings 2 plus one per element plus their elements,
    integers their digits, anything else 8. The walk stops after ``limit`` units, so it costs at
    most O(limit) even for a list that holds itself or shares its elements.

    Returns:
        the weight, or a number above ``limit`` once it is passed.
    """
    total = 0
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, (str, bytes, bytearray)):
            total += len(item)
        elif isinstance(item, bool) or item is None:
            total += 5
        elif isinstance(item, int):
            total += int(item.bit_length() * _LOG10_2) + 2
        elif isinstance(item, dict):
            total += 2 + len(item)
            if total > limit:
                return total
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, (list, tuple, set, frozenset)):
            total += 2 + len(item)
            if total > limit:
                return total
            stack.extend(item)
        else:
            total += 8
        if total > limit:
            return total
    return total


def check_weight(value: Any, what: str) -> None:
    """Refuse ``value`` when it would print as more than :data:`MAX_TEXT` characters."""
    size = weight(value)
    if size > MAX_TEXT:
        raise _too_large(what, size, MAX_TEXT, "characters")


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _digits(value: int) -> float:
    return abs(value).bit_length() * _LOG10_2


# --------------------------------------------------------------------------- operators


def binop(op: str, left: Any, right: Any) -> Any:
    """``left op right`` for the intercepted operators, refused when the result would break a bound.

    Raises:
        TemplateBoundError: the result would have more than :data:`MAX_INT_DIGITS` digits or
            more than :data:`MAX_TEXT` characters.
    """
    check_binop(op, left, right)
    return _BINOPS[op](left, right)


def check_binop(op: str, left: Any, right: Any) -> None:
    """Raise :class:`TemplateBoundError` when ``left op right`` would break a bound (see :func:`binop`)."""
    a, b = _int(left), _int(right)
    if op == "**":
        if a is not None and b is not None and b > 0 and abs(a) > 1:
            digits = b * math.log10(abs(a))
            if digits > MAX_INT_DIGITS:
                raise _too_large(f"`{_short(left)} ** {_short(right)}`", digits, MAX_INT_DIGITS, "digits")
        return
    if op == "*":
        if a is not None and b is not None:
            digits = _digits(a) + _digits(b)
            if digits > MAX_INT_DIGITS:
                raise _too_large("`*`", digits, MAX_INT_DIGITS, "digits")
            return
        count, sequence = (b, left) if b is not None else (a, right)
        if count is not None and count > 0 and isinstance(sequence, (str, bytes, list, tuple)):
            size = weight(sequence) * count
            if size > MAX_TEXT:
                what = "text" if isinstance(sequence, (str, bytes)) else "list"
                raise _too_large(f"repeating a {what} {count:,} times", size, MAX_TEXT, "characters")
        return
    if op == "+":
        if isinstance(left, (str, bytes, list, tuple)) and isinstance(right, (str, bytes, list, tuple)):
            size = weight(left) + weight(right)
            if size > MAX_TEXT:
                raise _too_large("`+`", size, MAX_TEXT, "characters")
        return
    if op == "%" and isinstance(left, str):
        check_percent_format(left, right)


def unop(op: str, value: Any) -> Any:
    """``op value`` for the intercepted unary operators (nothing to bound: see
    :data:`INTERCEPTED_UNOPS`)."""
    return _UNOPS[op](value)


def _short(value: Any) -> str:
    text = repr(value) if not isinstance(value, int) or _digits(value) < 30 else f"<a {int(_digits(value)) + 1}-digit number>"
    return text if len(text) <= 30 else text[:27] + "..."


# --------------------------------------------------------------------------- formatting

_PERCENT = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?([diouxXeEfFgGcrsab%])")


def check_percent_format(fmt: str, args: Any) -> None:
    """Refuse ``fmt % args`` (and the ``format`` filter) when the result could pass
    :data:`MAX_TEXT` characters: each conversion counts its width and precision (``*`` counts
    as the largest integer argument) and the text of the arguments."""
    values = args if isinstance(args, tuple) else (args,)
    star = max((abs(v) for v in values if _int(v) is not None), default=0)
    args_weight = weight(args)
    total = len(fmt)
    for match in _PERCENT.finditer(fmt):
        for part in (match.group(1), match.group(2)):
            if part == "*":
                total += star
            elif part:
                total += int(part) if len(part) < 20 else 10 ** 20
        if match.group(3) != "%":
            total += args_weight
        if total > MAX_TEXT:
            raise _too_large("formatting with `%`", total, MAX_TEXT, "characters")


def check_str_format(fmt: str, args: tuple, kwargs: dict) -> None:
    """Refuse ``fmt.format(*args, **kwargs)`` when the result could pass :data:`MAX_TEXT`
    characters (each field counts the numbers in its format spec and the arguments' text)."""
    star = max((abs(v) for v in (*args, *kwargs.values()) if _int(v) is not None), default=0)
    args_weight = weight(args) + weight(kwargs)
    total = len(fmt)
    try:
        fields = list(string.Formatter().parse(fmt))
    except ValueError:
        return  # str.format raises its own error
    for _literal, field, spec, _conversion in fields:
        if field is None:
            continue
        total += args_weight
        for number in re.findall(r"\d+", spec or ""):
            total += int(number) if len(number) < 20 else 10 ** 20
        if spec and "{" in spec:
            total += star
        if total > MAX_TEXT:
            raise _too_large("`format`", total, MAX_TEXT, "characters")


# --------------------------------------------------------------------------- str methods


def check_str_call(owner: str | bytes, name: str, args: tuple, kwargs: dict) -> tuple:
    """Check a call of a text method that can grow its text; returns the arguments to call it
    with (``join``'s iterable is read into a list to be measured).

    Raises:
        TemplateBoundError: the result would pass :data:`MAX_TEXT` characters.
    """
    size: float = 0
    if name in ("center", "ljust", "rjust", "zfill"):
        width = _int(args[0]) if args else _int(kwargs.get("width"))
        size = width or 0
    elif name == "expandtabs":
        tab = _int(args[0]) if args else _int(kwargs.get("tabsize", 8))
        size = len(owner) + owner.count("\t" if isinstance(owner, str) else b"\t") * max(tab or 0, 0)
    elif name == "replace" and len(args) >= 2:
        size = _replaced_size(owner, args[0], args[1], _int(args[2]) if len(args) > 2 else _int(kwargs.get("count")))
    elif name == "join" and args:
        items = list(args[0])
        size = weight(items) + len(owner) * len(items)
        args = (items, *args[1:])
    elif name == "translate" and args and isinstance(args[0], dict):
        longest = max((weight(v) for v in args[0].values()), default=1)
        size = len(owner) * max(longest, 1)
    if size > MAX_TEXT:
        raise _too_large(f"`.{name}()`", size, MAX_TEXT, "characters")
    return args


def _replaced_size(text: Any, old: Any, new: Any, count: int | None) -> float:
    if not isinstance(text, (str, bytes)) or type(old) is not type(text) or type(new) is not type(text):
        return 0
    found = text.count(old) if old else len(text) + 1
    if count is not None and count >= 0:
        found = min(found, count)
    return len(text) + found * max(len(new) - len(old), 0)


# --------------------------------------------------------------------------- filters


def _guard(original: Callable, check: Callable[..., tuple | None]) -> Callable:
    """``original`` filter, with ``check(value, *args, **kwargs)`` run first (it may return
    replacement ``(value, *args)``); keeps Jinja's ``pass_*`` marker."""
    passes = 1 if getattr(original, "jinja_pass_arg", None) is not None else 0

    def guarded(*args: Any, **kwargs: Any) -> Any:
        head, rest = args[:passes], args[passes:]
        replaced = check(*rest, **kwargs)
        if replaced is not None:
            rest = replaced
        return original(*head, *rest, **kwargs)

    guarded.__name__ = getattr(original, "__name__", "filter")
    guarded.__doc__ = original.__doc__
    if passes:
        guarded.jinja_pass_arg = original.jinja_pass_arg  # type: ignore[attr-defined]
    return guarded


def _check_center(value: Any, width: Any = 80, *_a: Any, **_k: Any) -> None:
    if (_int(width) or 0) > MAX_TEXT:
        raise _too_large("`center`", width, MAX_TEXT, "characters")


def _check_indent(s: Any, width: Any = 4, *_a: Any, **kwargs: Any) -> None:
    width = kwargs.get("width", width)
    step = len(width) if isinstance(width, str) else (_int(width) or 0)
    lines = str(s).count("\n") + 1
    size = len(str(s)) + lines * step
    if size > MAX_TEXT:
        raise _too_large("`indent`", size, MAX_TEXT, "characters")


def _check_wordwrap(s: Any, width: Any = 79, break_long_words: Any = True, wrapstring: Any = None,
                    *_a: Any, **kwargs: Any) -> None:
    wrapstring = kwargs.get("wrapstring", wrapstring)
    width = _int(kwargs.get("width", width)) or 1
    text = str(s)
    size = len(text) + (len(text) // max(width, 1) + 1) * len(str(wrapstring or "\n"))
    if size > MAX_TEXT:
        raise _too_large("`wordwrap`", size, MAX_TEXT, "characters")


def _check_join(value: Any, *args: Any, **kwargs: Any) -> tuple:
    items = list(value)
    d = kwargs.get("d", args[0] if args else "")
    size = weight(items) + len(str(d)) * len(items)
    if size > MAX_TEXT:
        raise _too_large("`join`", size, MAX_TEXT, "characters")
    return (items, *args)


def _check_replace(s: Any, old: Any = "", new: Any = "", count: Any = None, *_a: Any, **_k: Any) -> None:
    size = _replaced_size(str(s), str(old), str(new), _int(count))
    if size > MAX_TEXT:
        raise _too_large("`replace`", size, MAX_TEXT, "characters")


def _check_format(value: Any, *args: Any, **kwargs: Any) -> None:
    check_percent_format(str(value), kwargs or args)


def _check_batch(value: Any, linecount: Any = 1, fill_with: Any = None, *_a: Any, **_k: Any) -> None:
    if fill_with is not None and (_int(linecount) or 0) > MAX_RANGE:
        raise _too_large("`batch` with `fill_with`", linecount, MAX_RANGE, "elements per group")


def _check_slice(value: Any, slices: Any = 1, *_a: Any, **_k: Any) -> None:
    if (_int(slices) or 0) > MAX_RANGE:
        raise _too_large("`slice`", slices, MAX_RANGE, "groups")


def _check_sum(iterable: Any, *args: Any, **kwargs: Any) -> tuple:
    items = list(iterable)
    start = kwargs.get("start", args[1] if len(args) > 1 else 0)
    if not isinstance(start, (int, float)) or any(isinstance(i, (str, bytes, list, tuple)) for i in items):
        size = weight(items) + weight(start)
        if size > MAX_TEXT:
            raise _too_large("`sum`", size, MAX_TEXT, "characters")
    return (items, *args)


def _check_printed(value: Any, *_a: Any, **_k: Any) -> None:
    check_weight(value, "printing this value")


_FILTER_CHECKS: dict[str, Callable[..., tuple | None]] = {
    "center": _check_center, "indent": _check_indent, "wordwrap": _check_wordwrap, "join": _check_join,
    "replace": _check_replace, "format": _check_format, "batch": _check_batch, "slice": _check_slice,
    "sum": _check_sum, "string": _check_printed, "pprint": _check_printed, "tojson": _check_printed,
}


def install(env: Any) -> None:
    """Bound ``env``'s filters that can grow text (see the module docstring) and drop ``lipsum``."""
    for name, check in _FILTER_CHECKS.items():
        if name in env.filters:
            env.filters[name] = _guard(env.filters[name], check)
    env.globals.pop("lipsum", None)


def join_output(parts: Iterable[Any]) -> str:
    """A template's output (Jinja's ``Environment.concat``), refused past :data:`MAX_TEXT` characters."""
    out: list[str] = []
    size = 0
    for part in parts:
        size += len(part)
        if size > MAX_TEXT:
            raise _too_large("the rendered text", size, MAX_TEXT, "characters")
        out.append(part)
    return "".join(out)


def join_concat(parts: Iterable[Any]) -> str:
    """The ``~`` operator: each part as text, refused past :data:`MAX_TEXT` characters."""
    out: list[str] = []
    size = 0
    for part in parts:
        if not isinstance(part, str):
            check_weight(part, "`~`")
            part = str(part)
        size += len(part)
        if size > MAX_TEXT:
            raise _too_large("`~`", size, MAX_TEXT, "characters")
        out.append(part)
    return "".join(out)


class BoundedCodeGenerator(CodeGenerator):
    """Jinja's code generator, with ``a ~ b`` compiled to ``environment.join_concat((a, b))``
    (Jinja joins the parts with a module function no sandbox hook sees)."""

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        self.write("environment.join_concat((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


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


@lru_cache(maxsize=4096)
def static_problems_of(source: str) -> tuple[str, ...]:
    """:func:`static_problems` of a template text (cached; () when it does not parse: the
    validator reports the syntax error)."""
    from yaml2dag.format.expressions import parse_template

    try:
        tree = parse_template(source)  # within the nesting limit, so the walk cannot recurse too deep
    except Exception:  # noqa: BLE001 - syntax errors and nesting are reported by the template checks
        return ()
    return static_problems(tree)


__all__ = ["ENV_READS", "INTERCEPTED_BINOPS", "INTERCEPTED_UNOPS", "MAX_INT_DIGITS", "MAX_RANGE", "MAX_TEXT",
           "BoundedCodeGenerator", "TemplateBoundError", "binop", "check_binop", "check_percent_format",
           "check_str_call", "check_str_format", "check_weight", "install", "join_concat", "join_output",
           "static_problems", "static_problems_of", "unop", "weight"]
