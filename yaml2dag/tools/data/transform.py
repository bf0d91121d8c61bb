"""The ``transform`` action: an ordered list of operations applied to a DataFrame.

Each operation is a mapping with one key, the operation's name (see
``docs/manual/tools/data_en.md`` for every shape)::

    operations:
      - filter: "precipitation > 0"
      - derive: {year: "date.dt.year"}
      - group_by: {by: [year], agg: {precipitation: sum}, count: rainy_days}
      - sort: {by: [year], descending: true}
      - limit: 10

Expressions (``filter``, ``derive``) go through :mod:`.expressions` (pandas' evaluator behind an
allow-list, never Python's ``eval``). A failing operation stops the step with
``operations[N].NAME: why`` (N counted from 0, as in validator paths), e.g.
``operations[0].filter: name 'precip' is not defined; did you mean `precipitation`? (columns: ...)``.
The input frame is never modified.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Callable

from yaml2dag.tools.base import ToolContext, ToolError, ToolResult
from yaml2dag.tools.data.expressions import ExpressionError, evaluate
from yaml2dag.tools.data.frames import as_frame, as_list, column_names, frame_result, require_columns
from yaml2dag.tools.data.schemas import AGG_FUNCTIONS, JOIN_HOWS, OPERATIONS
from yaml2dag.format.schema import did_you_mean


class OperationError(Exception):
    """An operation cannot be applied; the message says why (the caller adds where)."""


def transform(ctx: ToolContext, params: dict) -> ToolResult:
    """Apply ``operations`` to ``input`` in order.

    Args:
        ctx: the step's context (one log line per operation with the row count).
        params: ``input`` (a DataFrame or records) and ``operations`` (a list of one-key mappings).

    Returns:
        ``output``: the new DataFrame; fields ``rows`` and ``columns``; metadata ``rows``,
        ``columns`` (name → dtype), ``preview`` (markdown) and ``operations`` (count).

    Raises:
        ToolError: (not retryable) ``operations[N].NAME: reason`` for the first operation that
            fails: a malformed operation, an unknown column (with "did you mean"), a refused or
            failing expression, or pandas' own error.
    """
    frame = as_frame(params.get("input"))
    operations = params.get("operations")
    if not isinstance(operations, list) or not operations:
        raise ToolError("`operations` must be a non-empty list of operations such as "
                        "{filter: \"precipitation > 0\"}", retryable=False)
    for i, item in enumerate(operations):
        name, arg = _split(item, i)
        where = f"operations[{i}].{name}"
        before = len(frame)
        try:
            frame = HANDLERS[name](frame, arg, where)
        except ToolError as exc:
            raise ToolError(exc.message if exc.message.startswith(where) else f"{where}: {exc.message}",
                            retryable=False) from None
        except (OperationError, ExpressionError) as exc:
            raise ToolError(f"{where}: {exc}", retryable=False) from None
        except Exception as exc:  # noqa: BLE001 - pandas' own errors, with the operation named
            text = str(exc).strip()
            detail = text.splitlines()[0] if text else ""
            raise ToolError(f"{where}: {type(exc).__name__}" + (f": {detail}" if detail else ""),
                            retryable=False) from None
        ctx.log.info(f"{where}: {before:,} → {len(frame):,} rows, {len(frame.columns)} columns")
    return frame_result(frame, metadata={"operations": len(operations)})


def _split(item: Any, i: int) -> tuple[str, Any]:
    if not isinstance(item, Mapping) or len(item) != 1:
        got = f"a mapping with {len(item)} keys ({', '.join(map(str, item))})" if isinstance(item, Mapping) \
            else type(item).__name__
        raise ToolError(f"operations[{i}]: expected one operation per item, such as "
                        f"{{filter: \"precipitation > 0\"}}, got {got}", retryable=False)
    (name, arg), = item.items()
    if name not in HANDLERS:
        raise ToolError(f"operations[{i}]: unknown operation `{name}`{did_you_mean(str(name), OPERATIONS)} "
                        f"(operations: {', '.join(OPERATIONS)})", retryable=False)
    return str(name), arg


def _columns_arg(value: Any, what: str) -> list[str]:
    names = as_list(value)
    if not names or not all(isinstance(n, str) and n for n in names):
        raise OperationError(f"{what} must be a column name or a list of column names, got {value!r}")
    return names


def _mapping_arg(value: Any, what: str) -> Mapping:
    if not isinstance(value, Mapping) or not value:
        raise OperationError(f"{what} must be a non-empty mapping, got {value!r}")
    return value


# --------------------------------------------------------------------------- operations


def op_filter(frame: Any, expr: Any, where: str) -> Any:
    """Rows where ``expr`` is true (nulls count as false)."""
    mask = evaluate(frame, expr)
    if not hasattr(mask, "index"):  # one value for the whole frame, e.g. "1 > 0"
        if isinstance(mask, bool) or str(getattr(mask, "dtype", "")) == "bool":
            return frame if bool(mask) else frame.iloc[0:0]
        raise OperationError(f"the expression must be true or false for each row, but gives the single "
                             f"value {_python(mask)!r}")
    dtype = str(getattr(mask, "dtype", type(mask).__name__))
    if dtype not in ("bool", "boolean"):
        raise OperationError(f"the expression must be true or false for each row, but gives {dtype} values "
                             "(compare it, e.g. `precipitation > 0`)")
    return frame[mask.fillna(False).astype(bool)]


def _python(value: Any) -> Any:
    """A numpy scalar as the Python value it holds (shown as ``4426.0``, not ``np.float64(4426.0)``)."""
    return value.item() if type(value).__module__ == "numpy" and hasattr(value, "item") else value


def op_select(frame: Any, columns: Any, where: str) -> Any:
    """Only ``columns``, in that order."""
    names = require_columns(frame, _columns_arg(columns, "the argument"), where)
    return frame[names]


def op_rename(frame: Any, mapping: Any, where: str) -> Any:
    """Columns renamed ``{old: new}``; a rename that would duplicate a name is refused."""
    mapping = {str(k): v for k, v in _mapping_arg(mapping, "the argument").items()}
    require_columns(frame, list(mapping), where)
    for new in mapping.values():
        if not isinstance(new, str) or not new:
            raise OperationError(f"a new column name must be a non-empty string, got {new!r}")
    after = [mapping.get(c, c) for c in column_names(frame)]
    dupes = sorted({c for c in after if after.count(c) > 1})
    if dupes:
        raise OperationError(f"renaming would give two columns named `{dupes[0]}`")
    return frame.rename(columns=dict(mapping))


def op_derive(frame: Any, mapping: Any, where: str) -> Any:
    """New (or replaced) columns ``{name: expression}``, in order: later ones see earlier ones."""
    mapping = _mapping_arg(mapping, "the argument")
    out = frame.copy()
    for name, expr in mapping.items():
        try:
            value = evaluate(out, expr)
        except ExpressionError as exc:
            raise OperationError(f"{name}: {exc}") from None
        if type(value).__name__ == "DataFrame":
            raise OperationError(f"{name}: the expression gives several columns; it must give one")
        refused = _not_values(value, expr)
        if refused:
            raise OperationError(f"{name}: {refused}")
        if hasattr(value, "__len__") and not isinstance(value, str) and hasattr(value, "index") \
                and len(value) != len(out):
            raise OperationError(f"{name}: the expression gives {len(value)} values for {len(out)} rows")
        out[str(name)] = value
    return out


#: What a window expression gives before it is aggregated (``temp_max.rolling(7)``).
_WINDOWS = ("Rolling", "Expanding", "Window", "RollingGroupby", "ExpandingGroupby")


def _not_values(value: Any, expr: Any) -> str | None:
    """Why ``value`` (what ``expr`` gave) cannot be a column, or None when it can: a column, an
    array or one value can; a window, an accessor or an uncalled method cannot."""
    # lazy: pandas is heavy and optional here; kept off light paths
    import pandas as pd

    if pd.api.types.is_scalar(value) or isinstance(value, (pd.Series, pd.Index, list, tuple)) \
            or hasattr(value, "dtype"):
        return None
    kind = type(value).__name__
    if kind in _WINDOWS:
        return f"`{expr}` is a window ({kind}), not values: end it with an aggregation such as `{expr}.mean()`"
    if callable(value):
        return f"`{expr}` is a method that is not called: add the parentheses, e.g. `{expr}()`"
    return (f"`{expr}` gives a {kind}, not values: use one of its properties or methods, such as "
            "`date.dt.year` or `weather.str.len()`")


def op_group_by(frame: Any, spec: Any, where: str) -> Any:
    """One row per group of ``by``: aggregations ``agg`` and a row count ``count``.

    ``agg`` maps a column to a function (``sum``), a list of functions (columns named
    ``<column>_<function>``) or ``{column: c, func: f}`` (the key is the new column's name).
    Rows whose key is null form their own group (as SQL's GROUP BY does).
    """
    # lazy: pandas is heavy and optional here; kept off light paths
    import pandas as pd

    spec = _mapping_arg(spec, "the argument")
    unknown = [k for k in spec if k not in ("by", "agg", "count")]
    if unknown:
        raise OperationError(f"unknown key `{unknown[0]}` (keys: by, agg, count)")
    if "by" not in spec:
        raise OperationError("missing `by`: the column(s) to group by")
    by = require_columns(frame, _columns_arg(spec["by"], "`by`"), where + ".by")
    agg = spec.get("agg") or {}
    count = spec.get("count")
    if not agg and not count:
        raise OperationError("set `agg` (column: function) and/or `count` (name of a row-count column)")
    if not isinstance(agg, Mapping):
        raise OperationError(f"`agg` must be a mapping of column: function, got {agg!r}")
    named: dict[str, tuple[str, str]] = {}
    for key, value in agg.items():
        key = str(key)
        if isinstance(value, Mapping):
            column, func = value.get("column"), value.get("func")
            pairs = [(key, column, func)]
        elif isinstance(value, list):
            pairs = [(f"{key}_{f}", key, f) for f in value]
        else:
            pairs = [(key, key, value)]
        for out_name, column, func in pairs:
            if func not in AGG_FUNCTIONS:
                raise OperationError(f"agg.{key}: unknown function {func!r}{did_you_mean(str(func), AGG_FUNCTIONS)} "
                                     f"(functions: {', '.join(AGG_FUNCTIONS)})")
            require_columns(frame, [column], f"{where}.agg.{key}")
            if out_name in named or out_name in by:
                raise OperationError(f"agg.{key}: two result columns would be named `{out_name}`")
            named[out_name] = (column, func)
    if count:
        if not isinstance(count, str):
            raise OperationError(f"`count` must be a column name, got {count!r}")
        if count in named or count in by:
            raise OperationError(f"`count: {count}` would duplicate the column `{count}`")
        named[count] = (by[0], "size")
    grouped = frame.groupby(by, dropna=False, sort=True, as_index=False)
    try:
        return grouped.agg(**{name: pd.NamedAgg(column=col, aggfunc=func) for name, (col, func) in named.items()})
    except TypeError as exc:
        raise OperationError(f"cannot aggregate: {str(exc).strip().splitlines()[0] if str(exc).strip() else exc!r} "
                             f"(column types: {', '.join(f'{c} {frame[c].dtype}' for c, _ in named.values())})") from None


def op_sort(frame: Any, spec: Any, where: str) -> Any:
    """Rows ordered by ``by`` (stable); ``descending`` is a bool or one bool per column."""
    descending: Any = False
    if isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in ("by", "descending")]
        if unknown:
            raise OperationError(f"unknown key `{unknown[0]}` (keys: by, descending)")
        if "by" not in spec:
            raise OperationError("missing `by`: the column(s) to sort by")
        by_value, descending = spec["by"], spec.get("descending", False)
    else:
        by_value = spec
    by = require_columns(frame, _columns_arg(by_value, "the columns"), where)
    if isinstance(descending, list):
        if len(descending) != len(by) or not all(isinstance(d, bool) for d in descending):
            raise OperationError(f"`descending` must be true/false or one true/false per column ({len(by)})")
        ascending: Any = [not d for d in descending]
    elif isinstance(descending, bool):
        ascending = not descending
    else:
        raise OperationError(f"`descending` must be true or false, got {descending!r}")
    return frame.sort_values(by, ascending=ascending, kind="stable")


def op_dropna(frame: Any, spec: Any, where: str) -> Any:
    """Rows without nulls: ``true`` (any column), columns, or ``{subset, how}``."""
    if spec is True:
        return frame.dropna()
    if spec is False:
        return frame
    how = "any"
    if isinstance(spec, Mapping):
        unknown = [k for k in spec if k not in ("subset", "how")]
        if unknown:
            raise OperationError(f"unknown key `{unknown[0]}` (keys: subset, how)")
        how = spec.get("how", "any")
        if how not in ("any", "all"):
            raise OperationError(f"`how` must be any or all, got {how!r}")
        subset = spec.get("subset")
    else:
        subset = spec
    if subset is None:
        return frame.dropna(how=how)
    names = require_columns(frame, _columns_arg(subset, "the columns"), where)
    return frame.dropna(subset=names, how=how)


def op_fillna(frame: Any, spec: Any, where: str) -> Any:
    """Nulls replaced: ``{column: value}``, or one value for every column."""
    if isinstance(spec, Mapping):
        if not spec:
            raise OperationError("the mapping of column: value is empty")
        values = {str(k): v for k, v in spec.items()}
        require_columns(frame, list(values), where)
    elif isinstance(spec, (str, int, float, bool)):
        values = spec
    else:
        raise OperationError(f"expected a value or a mapping of column: value, got {spec!r}")
    return frame.fillna(value=values)


def op_join(frame: Any, spec: Any, where: str) -> Any:
    """This frame joined with ``with`` (``on`` or ``left_on``/``right_on``, ``how``, ``suffixes``).

    Without ``on``/``left_on``/``right_on`` the frames join on the columns they share. Clashing
    column names of the right frame get the suffix ``_right`` (``suffixes: ["", "_right"]``).
    """
    spec = _mapping_arg(spec, "the argument")
    unknown = [k for k in spec if k not in ("with", "on", "left_on", "right_on", "how", "suffixes")]
    if unknown:
        raise OperationError(f"unknown key `{unknown[0]}` (keys: with, on, left_on, right_on, how, suffixes)")
    if "with" not in spec:
        raise OperationError("missing `with`: the other frame, such as \"{{ other.output }}\"")
    right = as_frame(spec["with"], "with")
    how = spec.get("how", "inner")
    if how not in JOIN_HOWS:
        raise OperationError(f"`how` must be one of {', '.join(JOIN_HOWS)}, got {how!r}")
    suffixes = spec.get("suffixes", ["", "_right"])
    if not (isinstance(suffixes, (list, tuple)) and len(suffixes) == 2 and all(isinstance(s, str) for s in suffixes)):
        raise OperationError(f"`suffixes` must be two strings, got {suffixes!r}")
    kwargs: dict[str, Any] = {"how": how, "suffixes": tuple(suffixes)}
    if how == "cross":
        if any(k in spec for k in ("on", "left_on", "right_on")):
            raise OperationError("a cross join takes no `on`/`left_on`/`right_on`")
    elif "on" in spec:
        if "left_on" in spec or "right_on" in spec:
            raise OperationError("set `on`, or `left_on` and `right_on`, not both")
        on = _columns_arg(spec["on"], "`on`")
        require_columns(frame, on, where + ".on")
        require_columns(right, on, where + ".on", " of the right frame (`with`)")
        kwargs["on"] = on
    elif "left_on" in spec or "right_on" in spec:
        if "left_on" not in spec or "right_on" not in spec:
            raise OperationError("`left_on` and `right_on` go together")
        left_on = _columns_arg(spec["left_on"], "`left_on`")
        right_on = _columns_arg(spec["right_on"], "`right_on`")
        if len(left_on) != len(right_on):
            raise OperationError(f"`left_on` has {len(left_on)} columns and `right_on` {len(right_on)}")
        require_columns(frame, left_on, where + ".left_on")
        require_columns(right, right_on, where + ".right_on", " of the right frame (`with`)")
        kwargs.update(left_on=left_on, right_on=right_on)
    else:
        shared = [c for c in column_names(frame) if c in set(column_names(right))]
        if not shared:
            raise OperationError("the frames share no column: set `on` (or `left_on` and `right_on`)")
        kwargs["on"] = shared
    try:
        return frame.merge(right, **kwargs)
    except ValueError as exc:
        text = str(exc).strip().splitlines()[0]
        raise OperationError(f"cannot join: {text}") from None


def op_limit(frame: Any, n: Any, where: str) -> Any:
    """The first ``n`` rows."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise OperationError(f"expected a number of rows (0 or more), got {n!r}")
    return frame.head(n)


HANDLERS: dict[str, Callable[[Any, Any, str], Any]] = {
    "filter": op_filter,
    "select": op_select,
    "rename": op_rename,
    "derive": op_derive,
    "group_by": op_group_by,
    "sort": op_sort,
    "dropna": op_dropna,
    "fillna": op_fillna,
    "join": op_join,
    "limit": op_limit,
}
assert tuple(HANDLERS) == OPERATIONS
