"""What a template may read of a value, data values above all (spec §5).

Data values (pandas and numpy objects: a ``data`` step's DataFrame, a column, an array, a
timestamp) expose only an allow-list of read-only attributes and methods
(:data:`DATA_ATTRIBUTES`) plus a DataFrame's column names; the writers
(:data:`TEXT_WRITERS`) may only return text, and the methods that write files or run code
(:data:`FORBIDDEN_METHODS`) are refused. :class:`NameReader` is the base of the namespaces that
read one name at a time (``env``, ``secrets``). Used by the sandbox
(:mod:`yaml2dag.format.expression_sandbox`).
"""


from __future__ import annotations

import datetime
import decimal
import fractions
import uuid
from collections.abc import Mapping
from typing import Any, Callable

from jinja2.exceptions import SecurityError

from yaml2dag.format import expression_bounds as template_bounds


# --------------------------------------------------------------------------- data values

#: Top-level packages whose objects are "data values" (see :data:`DATA_ATTRIBUTES`).
DATA_PACKAGES = frozenset(("pandas", "numpy", "pyarrow"))

#: The only attributes and methods of a data value (a pandas DataFrame, Series, Index, group-by,
#: ``.str``/``.dt``/``.cat`` accessor, Timestamp, or a numpy array or scalar) a template may use:
#: properties and methods that read the data and return a new value. Anything else — the file
#: writers (``to_csv('/path')``, ``to_pickle``, ``to_parquet``, ``to_sql``, ``to_excel``,
#: ``tofile``, ``dump``...), the methods that run code (``eval``, ``query``, ``apply``, ``pipe``,
#: ``map``, ``agg``, ``transform``...), ``style`` and ``plot`` — is refused (spec §5: no file or
#: network access from templates). A DataFrame's column names are allowed as attributes too.
DATA_ATTRIBUTES = frozenset((
    # shape and labels
    "shape", "columns", "index", "dtypes", "dtype", "size", "ndim", "empty", "T", "values",
    "name", "names", "nbytes", "is_unique", "hasnans", "is_monotonic_increasing",
    "is_monotonic_decreasing", "real", "imag",
    # indexing and accessors
    "iloc", "loc", "iat", "at", "str", "dt", "cat", "codes", "categories",
    # reading rows
    "head", "tail", "get", "keys", "items", "iterrows", "itertuples", "item", "sample",
    # statistics
    "sum", "prod", "mean", "median", "min", "max", "std", "var", "sem", "count", "nunique",
    "unique", "value_counts", "describe", "quantile", "mode", "corr", "cov", "idxmax", "idxmin",
    "argmax", "argmin", "any", "all", "cumsum", "cumprod", "cummax", "cummin", "diff",
    "pct_change", "shift", "rank", "groupby", "rolling", "expanding", "nlargest", "nsmallest",
    # new values
    "round", "abs", "clip", "isna", "isnull", "notna", "notnull", "isin", "between", "where",
    "mask", "fillna", "dropna", "drop_duplicates", "duplicated", "astype", "sort_values",
    "sort_index", "reset_index", "set_index", "drop", "rename", "select_dtypes", "transpose",
    "replace", "ravel", "flatten",
    # plain Python values and text
    "to_dict", "to_list", "tolist", "to_numpy", "to_records", "to_pydatetime",
    "to_markdown", "to_string", "to_csv", "to_json", "to_html",
    # .str
    "len", "lower", "upper", "title", "capitalize", "casefold", "strip", "lstrip", "rstrip",
    "contains", "startswith", "endswith", "match", "fullmatch", "slice", "find", "rfind",
    "zfill", "pad", "center", "ljust", "rjust", "split", "rsplit", "join", "cat", "isalpha",
    "isdigit", "isnumeric", "isalnum", "isspace", "islower", "isupper", "istitle", "isdecimal",
    "removeprefix", "removesuffix", "extract",
    # .dt and timestamps
    "year", "month", "day", "hour", "minute", "second", "microsecond", "nanosecond", "date",
    "time", "dayofweek", "day_of_week", "weekday", "isoweekday", "dayofyear", "day_of_year",
    "quarter", "week", "days_in_month", "daysinmonth", "is_month_start", "is_month_end",
    "is_quarter_start", "is_quarter_end", "is_year_start", "is_year_end", "is_leap_year",
    "month_name", "day_name", "strftime", "isoformat", "timestamp", "floor", "ceil",
    "normalize", "tz", "tz_localize", "tz_convert", "days", "seconds", "microseconds",
    "total_seconds",
))

#: Methods of a data value that write a file when given a path or buffer, and otherwise return
#: the text: allowed only without one (``to_csv(index=False)`` yes, ``to_csv('/tmp/x')`` no).
#: Maps each to its path argument's keyword name.
TEXT_WRITERS = {"to_csv": "path_or_buf", "to_json": "path_or_buf", "to_markdown": "buf",
                "to_string": "buf", "to_html": "buf"}

#: Method names the validator refuses to see called in a template (:func:`analyze`): data-value
#: methods that write files or run code. Called on a data value at run time they are refused
#: anyway (they are not in :data:`DATA_ATTRIBUTES`); the static check reports them earlier.
FORBIDDEN_METHODS = frozenset((
    "to_pickle", "to_parquet", "to_sql", "to_excel", "to_feather", "to_hdf", "to_stata",
    "to_clipboard", "to_orc", "to_xml", "to_latex", "to_gbq", "to_iceberg", "tofile", "dump",
    "eval", "query", "pipe", "apply", "applymap", "map", "agg", "aggregate", "transform",
    "plot", "hist", "boxplot",
))


def is_data_value(obj: Any) -> bool:
    """True for pandas, numpy and pyarrow objects (tuples, such as ``itertuples()`` rows, excepted)."""
    if isinstance(obj, tuple):
        return False
    module = type(obj).__module__ or ""
    return module.partition(".")[0] in DATA_PACKAGES


def _kind(obj: Any) -> str:
    name = type(obj).__name__
    return "an " + name if name[:1].lower() in "aeiou" else "a " + name


def _refusal(obj: Any, attribute: str) -> str:
    return (f"`.{attribute}` of {_kind(obj)} is not allowed in templates: templates may only read "
            "data, never write files or run code (spec §5); use a `data` step (action `write` or "
            "`transform`) for that")


def _check_data_call(owner: Any, name: str, args: tuple, kwargs: Mapping[str, Any]) -> None:
    """Refuse a call of data-value method ``name`` that could write a file or run code.

    Raises:
        SecurityError: the method is not allowed, a function is passed as an argument,
            ``inplace=`` is set, or a text writer is given a path or buffer.
    """
    if name not in DATA_ATTRIBUTES:
        raise SecurityError(_refusal(owner, name))
    if any(callable(v) for v in (*args, *kwargs.values())):
        raise SecurityError(f"`.{name}()` of {_kind(owner)} cannot take a function as an argument "
                            "in a template (it would run code)")
    if kwargs.get("inplace"):
        raise SecurityError(f"`.{name}(inplace=...)` is not allowed in templates: values cannot be "
                            "changed, only read")
    path_arg = TEXT_WRITERS.get(name)
    if path_arg and ((args and args[0] is not None) or kwargs.get(path_arg) is not None):
        raise SecurityError(f"`.{name}()` in a template may only return text: give it no path or "
                            f"buffer (`{path_arg}`); to write a file use a `data` step with action `write`")


#: Types whose values templates read freely (and their subclasses, through the attributes of
#: the type itself): texts, numbers, lists, mappings, sets, dates and times (spec §5).
PLAIN_TYPES = (str, bytes, bool, int, float, complex, type(None), list, tuple, dict, set, frozenset, range,
               slice, datetime.datetime, datetime.date, datetime.time, datetime.timedelta, datetime.timezone,
               decimal.Decimal, fractions.Fraction, uuid.UUID)
_PLAIN = frozenset(PLAIN_TYPES)
#: Attributes of a mapping that is not a ``dict`` (``run``, a skipped step's result).
_MAPPING_READS = frozenset(("keys", "items", "values", "get"))


def _plain_base(obj: Any) -> type | None:
    for cls in type(obj).__mro__:
        if cls in _PLAIN:
            return cls
    return None


def _jinja_object(obj: Any) -> bool:
    module = type(obj).__module__ or ""
    return module.startswith("jinja2.") or module in ("jinja2", "markupsafe")


def is_readable(obj: Any) -> bool:
    """True for the values whose attributes and items templates may read: plain data
    (:data:`PLAIN_TYPES`), data values (:func:`is_data_value`), mappings, ``env`` and Jinja's own
    objects (``loop``, ``namespace()``...). Anything else a step returns (a ``pathlib.Path``, a
    file, a client object) renders as its text, but none of its attributes or methods can be used:
    they could act on the world (``path.write_text('x')``)."""
    return (_plain_base(obj) is not None or is_data_value(obj) or isinstance(obj, (Mapping, NameReader))
            or _jinja_object(obj))


class NameReader:
    """A namespace templates read one name at a time: ``env.HOME``, ``env['HOME']``,
    ``env.get('HOME', 'x')``, ``'HOME' in env``. Listing it (``env | list``, ``env.items()``,
    ``for k in env``, ``env | length``, ``{{ env }}``) raises :class:`SecurityError`.

    Args:
        lookup: ``lookup(name)`` gives the value or raises ``KeyError``.
        what: the namespace's name, for messages (``"env"``).
    """

    def __init__(self, lookup: Callable[[str], Any], what: str):
        self._lookup = lookup
        self._what = what

    def __getitem__(self, name: str) -> Any:
        if not isinstance(name, str):
            raise KeyError(name)
        return self._lookup(name)

    def get(self, name: str, default: Any = None) -> Any:
        try:
            return self[name]
        except KeyError:
            return default

    def __contains__(self, name: object) -> bool:
        try:
            self[name]  # type: ignore[index]
        except KeyError:
            return False
        return True

    def _refuse(self, *_args: Any) -> Any:
        raise SecurityError(f"`{self._what}` can only be read one variable at a time in templates "
                            f"({template_bounds.ENV_READS.replace('env', self._what)}): listing it is not allowed (spec §5)")

    __iter__ = __len__ = __str__ = keys = items = values = _refuse

    def __repr__(self) -> str:
        return f"<{self._what}: read one variable at a time>"


def _not_data(obj: Any, what: str) -> str:
    return (f"{what} of {_kind(obj)} is not allowed in templates: templates only read data (texts, "
            f"numbers, lists, mappings, dates, tables), and a {type(obj).__name__} could act on files or the "
            "system (spec §5); a step can return its text or fields instead")
