"""The ``analyze`` action: a summary of a DataFrame as a plain, JSON-friendly dict.

The summary (the step's ``output``)::

    {"rows": 1461,
     "columns": {"temp_max": {"dtype": "float64", "nulls": 0, "unique": 67}, ...},
     "describe": {"temp_max": {"count": 1461, "mean": 16.44, "std": 7.35, "min": -1.6,
                               "25%": 10.6, "50%": 15.6, "75%": 22.2, "max": 35.6},
                  "weather": {"count": 1461, "unique": 5, "top": "sun", "freq": 714}, ...},
     "value_counts": {"weather": {"sun": 714, "fog": 411, ...}},
     "correlations": {"temp_max": {"temp_max": 1.0, "temp_min": 0.875, ...}, ...},
     "correlation_method": "pearson"}

Numbers are Python ints and floats, nulls are None, times are ISO text; a null value in
``value_counts`` is counted under the key ``"null"``. The step's output metadata ``summary``
shows the same as markdown tables.
"""

from __future__ import annotations

from typing import Any

from yaml2dag.tools.base import Markdown, ToolContext, ToolError, ToolResult
from yaml2dag.tools.data.frames import (
    as_frame,
    as_list,
    column_names,
    column_types,
    markdown_table,
    plain,
    require_columns,
    rows_text,
)
from yaml2dag.tools.data.schemas import CORRELATION_METHODS

#: Values kept per column in ``value_counts`` unless ``top`` says otherwise.
DEFAULT_TOP = 10


def analyze(ctx: ToolContext, params: dict) -> ToolResult:
    """Summarize ``input`` (see the module docstring).

    Args:
        ctx: the step's context.
        params: ``input``; ``columns`` (only these), ``describe`` (bool, default true),
            ``value_counts`` (columns), ``top`` (values per count, default 10), ``correlations``
            (true for pearson, or ``pearson``/``spearman``/``kendall``; default false).

    Returns:
        ``output``: the summary dict; fields ``rows`` (int) and ``columns`` (names analyzed);
        metadata ``rows``, ``columns`` (name → dtype) and ``summary`` (markdown).

    Raises:
        ToolError: (not retryable) an unknown column (with "did you mean"), or a bad
            ``top``/``correlations`` value.
    """
    frame = as_frame(params.get("input"))
    if params.get("columns") is not None:
        frame = frame[require_columns(frame, as_list(params["columns"]), "columns")]
    top = params.get("top", DEFAULT_TOP)
    if isinstance(top, bool) or not isinstance(top, int) or top < 1:
        raise ToolError(f"`top` must be a whole number of at least 1, got {top!r}", retryable=False)
    method = params.get("correlations", False)
    if method is True:
        method = "pearson"
    if method not in (False, None) and method not in CORRELATION_METHODS:
        raise ToolError(f"`correlations` must be true, false or one of {', '.join(CORRELATION_METHODS)}, "
                        f"got {method!r}", retryable=False)

    summary: dict[str, Any] = {"rows": int(len(frame)), "columns": column_summary(frame)}
    if params.get("describe", True):
        summary["describe"] = describe(frame)
    if params.get("value_counts"):
        names = require_columns(frame, as_list(params["value_counts"]), "value_counts")
        summary["value_counts"] = {name: value_counts(frame[name], top) for name in names}
    if method:
        summary["correlations"] = correlations(frame, method)
        summary["correlation_method"] = method
    ctx.log.info(f"analyzed {rows_text(len(frame))} × {len(frame.columns)} columns")
    return ToolResult(
        output=summary,
        fields={"rows": int(len(frame)), "columns": column_names(frame)},
        metadata={"rows": int(len(frame)), "columns": column_types(frame),
                  "summary": Markdown(summary_markdown(summary))},
    )


def column_summary(frame: Any) -> dict[str, dict[str, Any]]:
    """Per column: ``dtype`` (text), ``nulls`` (count), ``unique`` (distinct non-null values, or
    None when the values cannot be compared)."""
    out = {}
    for name in frame.columns:
        series = frame[name]
        try:
            unique = int(series.nunique(dropna=True))
        except TypeError:
            unique = None
        out[str(name)] = {"dtype": str(series.dtype), "nulls": int(series.isna().sum()), "unique": unique}
    return out


def describe(frame: Any) -> dict[str, dict[str, Any]]:
    """``DataFrame.describe(include="all")`` per column, keeping only the statistics that apply
    (numbers: count, mean, std, min, quartiles, max; text: count, unique, top, freq; times:
    count, mean, min, quartiles, max)."""
    if len(frame.columns) == 0:
        return {}
    try:
        table = frame.describe(include="all")
    except (ValueError, TypeError):
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name in table.columns:
        stats = {}
        for stat, value in table[name].items():
            value = plain(value)
            if value is None:
                continue
            if stat in _COUNTS and isinstance(value, float) and value.is_integer():
                value = int(value)
            stats[str(stat)] = value
        out[str(name)] = {k: stats[k] for k in sorted(stats, key=_stat_order)}
    return out


#: Statistics that are counts (whole numbers), and the order statistics are listed in.
_COUNTS = ("count", "unique", "freq")
_STAT_ORDER = ("count", "unique", "top", "freq", "mean", "std", "min", "25%", "50%", "75%", "max")


def _stat_order(stat: str) -> tuple[int, str]:
    return (_STAT_ORDER.index(stat), stat) if stat in _STAT_ORDER else (len(_STAT_ORDER), stat)


def value_counts(series: Any, top: int) -> dict[str, int]:
    """The ``top`` most frequent values of ``series`` → count; nulls are counted as ``"null"``."""
    counts = series.value_counts(dropna=False).head(top)
    out = {}
    for value, count in counts.items():
        key = plain(value)
        out["null" if key is None else str(key)] = int(count)
    return out


def correlations(frame: Any, method: str) -> dict[str, dict[str, Any]]:
    """Pairwise correlation of the numeric columns (``method``: pearson, spearman or kendall)."""
    numeric = frame.select_dtypes(include="number")
    if numeric.shape[1] == 0:
        return {}
    matrix = numeric.corr(method=method)
    return {str(row): {str(col): plain(matrix.loc[row, col]) for col in matrix.columns} for row in matrix.index}


def _rounded(value: Any) -> Any:
    return round(value, 4) if isinstance(value, float) else value


def summary_markdown(summary: dict) -> str:
    """The summary as markdown: columns, statistics, value counts and correlations."""
    # lazy: pandas is heavy and optional here; kept off light paths
    import pandas as pd

    parts = [f"**{summary['rows']:,} rows × {len(summary['columns'])} columns**"]
    columns = summary["columns"]
    if columns:
        table = pd.DataFrame([{"column": name, **info} for name, info in columns.items()])
        parts += ["### Columns", markdown_table(table, rows=len(table), note=False)]
    stats = summary.get("describe") or {}
    if stats:
        order = sorted({k for values in stats.values() for k in values}, key=_stat_order)
        rows = [{"column": name, **{k: _rounded(values.get(k)) for k in order}} for name, values in stats.items()]
        table = pd.DataFrame(rows, columns=["column", *order])
        parts += ["### Statistics", markdown_table(table, rows=len(table), note=False)]
    for name, counts in (summary.get("value_counts") or {}).items():
        table = pd.DataFrame(list(counts.items()), columns=[name, "count" if name != "count" else "rows"])
        parts += [f"### Values of `{name}`", markdown_table(table, rows=len(table), note=False)]
    corr = summary.get("correlations") or {}
    if corr:
        rows = [{"": name, **{k: _rounded(v) for k, v in values.items()}} for name, values in corr.items()]
        table = pd.DataFrame(rows)
        parts += [f"### Correlations ({summary.get('correlation_method')})",
                  markdown_table(table, rows=len(table), note=False)]
    return "\n\n".join(parts)
