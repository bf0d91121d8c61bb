"""What every ``data`` action shares: taking a frame in, and handing one out with metadata.

* :func:`as_frame` turns an action's ``input`` (a DataFrame passed by a whole-value template
  such as ``"{{ load.output }}"``, or a list of records) into a ``pandas.DataFrame``.
* :func:`frame_result` builds the :class:`~yaml2dag.tools.base.ToolResult` of an action that
  produces a frame: ``output`` is the frame, fields ``rows`` and ``columns``, and Dagster output
  metadata ``rows``, ``columns`` (name → dtype) and ``preview`` (markdown table of the first rows).
* :func:`require_columns` reports unknown column names with a "did you mean".

pandas is imported inside the functions only: validating a workflow never imports it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Iterable

from yaml2dag.tools.base import Markdown, ToolError, ToolResult
from yaml2dag.tools.data.expressions import column_list
from yaml2dag.format.schema import did_you_mean

#: Rows shown in the ``preview`` metadata.
PREVIEW_ROWS = 10
#: Characters kept per preview cell.
MAX_CELL_CHARS = 80


def as_frame(value: Any, what: str = "input") -> Any:
    """The ``pandas.DataFrame`` held by a parameter value.

    Args:
        value: a DataFrame, a Series (one column), a list of mappings (records) or a mapping of
            column name → list of values.
        what: the parameter's name, for messages (``input``, ``operations[3].join.with``).

    Returns:
        A DataFrame (the same object when ``value`` already is one with text column names).

    Raises:
        ToolError: (not retryable) anything else, e.g. a file path given where a frame is
            expected; the message says what to write instead.
    """
    # lazy: pandas is heavy and optional here; kept off light paths
    import pandas as pd

    if isinstance(value, pd.DataFrame):
        return text_columns(value)
    if isinstance(value, pd.Series):
        return text_columns(value.to_frame())
    if isinstance(value, list) and all(isinstance(v, Mapping) for v in value):
        return text_columns(pd.DataFrame.from_records([dict(v) for v in value]))
    if isinstance(value, Mapping):
        try:
            return pd.DataFrame({str(k): v for k, v in value.items()})
        except (ValueError, TypeError) as exc:
            raise ToolError(f"`{what}` is a mapping that is not a table of columns ({exc}); "
                            "pass a DataFrame such as \"{{ load.output }}\"", retryable=False) from None
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:79] + "…"
    hint = "; to load a file, use the `read` action" if isinstance(value, str) else ""
    raise ToolError(f"`{what}` must be a DataFrame from another step, such as \"{{{{ load.output }}}}\" "
                    f"(or a list of records), got {type(value).__name__} {shown}{hint}", retryable=False)


def text_columns(frame: Any) -> Any:
    """``frame`` with every column name as text (``header: null`` in a CSV gives 0, 1, 2, ...);
    the same object when they already are, else a renamed copy (the input is not changed)."""
    if all(isinstance(c, str) for c in frame.columns):
        return frame
    return frame.set_axis([str(c) for c in frame.columns], axis=1)


def column_names(frame: Any) -> list[str]:
    """The frame's column names as strings."""
    return [str(c) for c in frame.columns]


def column_types(frame: Any) -> dict[str, str]:
    """Column name → pandas dtype name (``float64``, ``datetime64[us]``, ``str``, ...)."""
    return {str(name): str(dtype) for name, dtype in frame.dtypes.items()}


def as_list(value: Any) -> list:
    """A column spec as a list: ``"a"`` → ``["a"]``, a list stays a list."""
    if isinstance(value, (list, tuple)):
        return list(value)
    return [value]


def require_columns(frame: Any, names: Iterable[Any], where: str, side: str = "") -> list[str]:
    """Check that every name is a column of ``frame``.

    Args:
        frame: the DataFrame.
        names: column names (strings).
        where: prefix of the message, e.g. ``operations[2].select``.
        side: words inserted after "column", e.g. ``" of the right frame"``.

    Returns:
        ``names`` as a list of strings.

    Raises:
        ToolError: (not retryable) a name is not a string or not a column; the message has the
            closest column and the list of columns.
    """
    out = []
    columns = column_names(frame)
    for name in names:
        if not isinstance(name, str):
            raise ToolError(f"{where}: a column name must be a string, got {name!r}", retryable=False)
        if name not in columns:
            raise ToolError(f"{where}: unknown column `{name}`{side}{did_you_mean(name, columns)} "
                            f"(columns: {column_list(columns)})", retryable=False)
        out.append(name)
    return out


def rows_text(count: int) -> str:
    """``count`` rows in words: ``"1 row"``, ``"1,461 rows"``."""
    return f"{count:,} row" if count == 1 else f"{count:,} rows"


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    try:
        # lazy: pandas is heavy and optional here; kept off light paths
        import pandas as pd

        if value is pd.NaT or (not isinstance(value, (list, dict, tuple)) and pd.isna(value)):
            return ""
    except (TypeError, ValueError):
        pass
    text = str(value).replace("\r", " ").replace("\n", " ").replace("|", "\\|")
    if len(text) > MAX_CELL_CHARS:
        text = text[: MAX_CELL_CHARS - 1] + "…"
    return text


def markdown_table(frame: Any, rows: int = PREVIEW_ROWS, *, note: bool = True) -> str:
    """The first ``rows`` rows of ``frame`` as a markdown table, with a "N of M rows" line.

    ``note=False`` leaves the "N of M rows" line out.

    Uses ``DataFrame.to_markdown`` (which needs the ``tabulate`` package) when available and a
    plain pipe table otherwise. Cells are text: nulls are empty, ``|`` is escaped, long values
    are cut at :data:`MAX_CELL_CHARS` characters.
    """
    total = len(frame)
    headers = [_cell(c) or " " for c in frame.columns]
    if not headers:
        return f"_no columns; {rows_text(total)}_"
    head = frame.head(rows)
    body = [[_cell(v) for v in record] for record in head.itertuples(index=False, name=None)]
    table = None
    try:
        # optional: may be missing
        import pandas as pd
        import tabulate  # noqa: F401 - to_markdown needs it

        table = pd.DataFrame(body, columns=headers).to_markdown(index=False, disable_numparse=True)
    except ImportError:
        table = None
    except Exception:  # noqa: BLE001 - odd column names: fall back to the plain table
        table = None
    if table is None:
        lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
        lines += ["| " + " | ".join(row) + " |" for row in body]
        table = "\n".join(lines)
    if not note:
        return table
    shown = len(body)
    line = f"_{shown:,} of {total:,} rows_" if shown < total else f"_{rows_text(total)}_"
    return f"{table}\n\n{line}"


def frame_metadata(frame: Any) -> dict[str, Any]:
    """Dagster output metadata of a frame: ``rows``, ``columns`` (name → dtype), ``preview``."""
    return {
        "rows": int(len(frame)),
        "columns": column_types(frame),
        "preview": Markdown(markdown_table(frame)),
    }


def frame_result(frame: Any, *, output: Any = None, fields: Mapping[str, Any] | None = None,
                 metadata: Mapping[str, Any] | None = None) -> ToolResult:
    """The result of an action that produced ``frame``.

    Args:
        frame: the DataFrame.
        output: the step's ``output`` (default: ``frame`` itself).
        fields: extra result fields, besides ``rows`` (int) and ``columns`` (list of names).
        metadata: extra Dagster output metadata, besides :func:`frame_metadata`.
    """
    out_fields = {"rows": int(len(frame)), "columns": column_names(frame)}
    out_fields.update(fields or {})
    meta = frame_metadata(frame)
    meta.update(metadata or {})
    return ToolResult(output=frame if output is None else output, fields=out_fields, metadata=meta)


def plain(value: Any) -> Any:
    """A JSON-friendly Python value: numpy numbers → int/float, NaN/NaT → None, times → ISO text."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, float):
        return None if math.isnan(value) or math.isinf(value) else value
    if isinstance(value, int):
        return value
    type_name = type(value).__module__
    if type_name.startswith("numpy"):
        if type(value).__name__ in ("datetime64", "timedelta64"):
            # lazy: pandas is heavy and optional here; kept off light paths
            import pandas as pd

            return plain(pd.Timestamp(value) if type(value).__name__ == "datetime64" else pd.Timedelta(value))
        try:
            return plain(value.item())
        except (AttributeError, ValueError):
            return str(value)
    try:
        # lazy: pandas is heavy and optional here; kept off light paths
        import pandas as pd

        if value is pd.NaT or (not isinstance(value, (list, dict, tuple)) and pd.isna(value)):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return str(value)
