"""Row expressions of the ``data`` tool: checked, then evaluated by pandas' own evaluator.

``filter`` and ``derive`` take pandas expressions (``precipitation > 0``,
``date.dt.year``, ``weather.str.contains("rain")``). They are never given to Python's
``eval``: :func:`evaluate` runs them with ``DataFrame.eval(engine="python", parser="pandas")``,
which parses the text into an AST and walks it with pandas' own visitor.

pandas' evaluator alone is not a sandbox: ``temp_max.to_csv("/tmp/x")`` writes a file,
``temp_max.__class__`` reaches Python internals and ``@name`` reads the caller's variables. So
every expression first passes :func:`check_expression`, which rejects

* ``@`` local-variable references (outside quoted strings);
* any attribute that is not in :data:`ALLOWED_ATTRIBUTES` (the ``.dt``/``.str``/``.cat``
  accessors and a fixed set of harmless column methods; nothing starting with ``_``);
* calls of anything but those methods and pandas' math functions (:data:`MATH_FUNCTIONS`);
* syntax pandas would not evaluate anyway (lambdas, comprehensions, assignments, ...).

Names resolve only to the frame's columns (and ``index``): the evaluation scope is given empty
local and global dictionaries.

Nothing here imports pandas at module import.
"""

from __future__ import annotations

import ast
import re
from typing import Any
from yaml2dag.format.schema import did_you_mean

#: Functions callable by name: pandas' ``MATHOPS`` (``pandas.core.computation.ops``).
MATH_FUNCTIONS = frozenset((
    "sin", "cos", "tan", "exp", "log", "expm1", "log1p", "sqrt", "sinh", "cosh", "tanh",
    "arcsin", "arccos", "arctan", "arccosh", "arcsinh", "arctanh", "abs", "log10", "floor",
    "ceil", "arctan2",
))

#: Accessors of a column.
ACCESSORS = frozenset(("dt", "str", "cat"))

#: Methods of a column (and of ``.rolling(n)`` / ``.expanding()`` windows).
COLUMN_METHODS = frozenset((
    "abs", "round", "clip", "isna", "isnull", "notna", "notnull", "isin", "between", "fillna",
    "astype", "shift", "diff", "pct_change", "cumsum", "cumprod", "cummax", "cummin", "rank",
    "where", "mask", "sum", "mean", "median", "min", "max", "std", "var", "count", "nunique",
    "quantile", "rolling", "expanding",
))

#: Properties and methods of the ``.dt`` accessor.
DT_ATTRIBUTES = frozenset((
    "year", "month", "day", "hour", "minute", "second", "microsecond", "nanosecond", "date",
    "time", "dayofweek", "day_of_week", "weekday", "dayofyear", "day_of_year", "quarter",
    "days_in_month", "daysinmonth", "is_month_start", "is_month_end", "is_quarter_start",
    "is_quarter_end", "is_year_start", "is_year_end", "is_leap_year", "month_name", "day_name",
    "strftime", "floor", "ceil", "round", "normalize", "tz_localize", "tz_convert", "days",
    "seconds", "microseconds", "total_seconds",
))

#: Methods of the ``.str`` accessor (``.cat.codes`` for categories).
STR_ATTRIBUTES = frozenset((
    "len", "lower", "upper", "title", "capitalize", "casefold", "strip", "lstrip", "rstrip",
    "contains", "startswith", "endswith", "match", "fullmatch", "replace", "slice", "get",
    "find", "rfind", "zfill", "pad", "center", "ljust", "rjust", "isalpha", "isdigit",
    "isnumeric", "isalnum", "isspace", "islower", "isupper", "istitle", "isdecimal",
    "removeprefix", "removesuffix", "extract", "codes",
))

#: Every attribute an expression may use, whatever it is applied to.
ALLOWED_ATTRIBUTES = ACCESSORS | COLUMN_METHODS | DT_ATTRIBUTES | STR_ATTRIBUTES

_ALLOWED_NODES = (
    ast.Expression, ast.BoolOp, ast.BinOp, ast.UnaryOp, ast.Compare, ast.Call, ast.Attribute,
    ast.Name, ast.Constant, ast.List, ast.Tuple, ast.Subscript, ast.Slice, ast.keyword,
    ast.expr_context, ast.boolop, ast.operator, ast.unaryop, ast.cmpop,
)

_NODE_NAMES = {
    "Lambda": "`lambda`", "IfExp": "`x if c else y`", "Dict": "a `{...}` mapping",
    "Set": "a `{...}` set", "ListComp": "a comprehension", "SetComp": "a comprehension",
    "DictComp": "a comprehension", "GeneratorExp": "a generator", "NamedExpr": "`:=`",
    "Starred": "`*`", "JoinedStr": "an f-string", "Await": "`await`", "Yield": "`yield`",
    "YieldFrom": "`yield`",
}

_UNDEFINED = re.compile(r"name '([^']+)' is not defined")


class ExpressionError(Exception):
    """An expression is refused or fails; the message says why (without a traceback)."""


def _scan(expr: str) -> str:
    """``expr`` with backtick-quoted names replaced by identifiers, for ``ast.parse``.

    Raises:
        ExpressionError: ``@`` outside quotes, or an unterminated quote or backtick.
    """
    out: list[str] = []
    quote: str | None = None
    i = 0
    n = 0
    while i < len(expr):
        ch = expr[i]
        if quote in ("'", '"'):
            out.append(ch)
            if ch == "\\" and i + 1 < len(expr):
                out.append(expr[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in ("'", '"'):
            quote = ch
            out.append(ch)
        elif ch == "`":
            end = expr.find("`", i + 1)
            if end < 0:
                raise ExpressionError("a backtick-quoted column name is not closed")
            out.append(f" bt_{n}_ ")
            n += 1
            i = end + 1
            continue
        elif ch == "@":
            raise ExpressionError(
                "`@` local variables are not allowed in expressions: write the value itself, "
                "or insert it with a template such as {{ threshold }}")
        else:
            out.append(ch)
        i += 1
    if quote is not None:
        raise ExpressionError(f"a string starting with {quote} is not closed")
    return "".join(out).strip()


def check_expression(expr: Any) -> str:
    """Refuse anything but a plain pandas row expression (see the module docstring).

    Args:
        expr: the expression text, e.g. ``"precipitation > 0 and weather == 'rain'"``.

    Returns:
        ``expr`` on one line (newlines become spaces), stripped.

    Raises:
        ExpressionError: not a string, empty, a syntax error, or a construct that is not
            allowed; the message names the construct and what to write instead.
    """
    if not isinstance(expr, str):
        raise ExpressionError(f"an expression must be a string, got {type(expr).__name__} {expr!r}")
    text = " ".join(expr.split("\n")).strip()
    if not text:
        raise ExpressionError("the expression is empty")
    scanned = _scan(text)
    try:
        tree = ast.parse(scanned, mode="eval")
    except SyntaxError as exc:
        hint = ""
        if re.search(r"(?<![=!<>])=(?!=)", scanned):
            hint = " (use `==` to compare)"
        raise ExpressionError(f"invalid expression {text!r}: {exc.msg}{hint}") from None
    for node in ast.walk(tree):  # outside-in: a lambda is reported as a lambda, not its parts
        if not isinstance(node, _ALLOWED_NODES):
            kind = type(node).__name__
            raise ExpressionError(f"{_NODE_NAMES.get(kind, kind)} is not allowed in expressions")
    # attributes and calls: the first offending one in reading order
    nodes = sorted((n for n in ast.walk(tree) if isinstance(n, (ast.Attribute, ast.Call))),
                   key=lambda n: (n.end_lineno or 0, n.end_col_offset or 0))
    for node in nodes:
        if isinstance(node, ast.Attribute) and node.attr not in ALLOWED_ATTRIBUTES:
            raise ExpressionError(
                f"`.{node.attr}` is not allowed in expressions: use the `.dt`, `.str` and `.cat` "
                f"accessors and the column methods {', '.join(sorted(COLUMN_METHODS))}")
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                if func.id not in MATH_FUNCTIONS:
                    raise ExpressionError(
                        f"`{func.id}()` is not a function expressions can call "
                        f"(functions: {', '.join(sorted(MATH_FUNCTIONS))}; or column methods "
                        "such as `temp_max.round(1)`)")
            elif not isinstance(func, ast.Attribute):
                raise ExpressionError("only functions and column methods can be called in expressions")
    return text


def evaluate(frame: Any, expr: Any) -> Any:
    """Check ``expr`` and evaluate it against ``frame``'s columns with pandas' evaluator.

    Args:
        frame: a ``pandas.DataFrame``; its columns (and ``index``) are the names in scope.
        expr: the expression text.

    Returns:
        What pandas returns: usually a ``Series`` aligned with ``frame``, or a scalar.

    Raises:
        ExpressionError: the expression is refused, names an unknown column (the message
            suggests the closest column and lists them), or pandas cannot evaluate it.
    """
    text = check_expression(expr)
    try:
        return frame.eval(text, engine="python", parser="pandas", local_dict={}, global_dict={})
    except NameError as exc:  # pandas' UndefinedVariableError
        message = str(exc)
        match = _UNDEFINED.search(message)
        columns = [str(c) for c in frame.columns]
        hint = ""
        if match:
            hint = did_you_mean(match.group(1), columns)
        quoting = ""
        if any(not c.isidentifier() for c in columns):
            quoting = "; write a name that is not an identifier in backticks: `my column`"
        raise ExpressionError(f"{message}{hint} (columns: {column_list(columns)}){quoting}") from None
    except Exception as exc:  # noqa: BLE001 - pandas raises many types; report type and text
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        raise ExpressionError(f"cannot evaluate {text!r}: {type(exc).__name__}"
                              + (f": {detail}" if detail else "")) from None


def column_list(columns: list[str], limit: int = 30) -> str:
    """``"a, b, c"``, shortened to ``limit`` names with a count of the rest."""
    shown = ", ".join(columns[:limit])
    if len(columns) > limit:
        shown += f", … ({len(columns) - limit} more)"
    return shown or "(none)"
