"""Bounds a template's operations check while it renders (spec §5; issue 10, point 6).

The runtime half of :mod:`yaml2dag.format.expression_bounds` (read its docstring for the bounds and
why): the size of a value (:func:`weight`), the checks run before ``**``, ``*``, ``+``, ``%``,
``format`` and the ``str`` methods that grow text, the wrapped filters (:func:`install`) and the
bounded output (:func:`join_output`, :class:`BoundedCodeGenerator`). Each check raises
:class:`TemplateBoundError` (a Jinja ``SecurityError``) naming the bound it would break.
"""


from __future__ import annotations

import math
import operator
import re
import string
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
