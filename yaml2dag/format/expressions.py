"""Templates and expressions: Jinja2 in a sandbox (spec §5).

* Templates render in :class:`jinja2.sandbox.ImmutableSandboxedEnvironment`: no access to Python
  internals, no mutation of values, no imports, no file or network access.
* Data values (pandas and numpy objects: a ``data`` step's DataFrame, a column, an array, a
  timestamp) expose only an allow-list of read-only attributes and methods
  (:data:`DATA_ATTRIBUTES`) plus a DataFrame's column names, because their public methods can
  otherwise write files (``to_csv('/path')``, ``to_pickle``, ``to_sql``) or run code (``eval``,
  ``query``, ``apply``, ``pipe``). Calling one of them is refused with a function as an argument,
  with ``inplace=``, and for the text writers (:data:`TEXT_WRITERS`: ``to_csv``, ``to_json``,
  ``to_markdown``, ``to_string``, ``to_html``) with a path or buffer: they may only return text.
  :func:`analyze` reports calls of the writer and code-running methods it can see
  (:data:`FORBIDDEN_METHODS`) so the validator flags them before a run.
* A value that is exactly one ``{{ ... }}`` keeps its native type; a value mixing text and
  templates renders to a string in which ``null`` is empty, booleans are ``true``/``false`` and
  lists and maps are JSON.
* ``when``, ``if``, ``switch`` and ``for_each`` also accept a bare expression without braces.
* In a shell command, every ``{{ ... }}`` is inserted as one quoted shell word, whatever quotes
  surround it in the command; ``| raw`` opts out (spec §5, "Shell safety").

Reference extraction walks the Jinja AST (:func:`references`) so the validator can check every
name a template uses without rendering it.
"""

from __future__ import annotations

import datetime
import decimal
import fractions
import json
import re
import shlex
import types
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Iterable

from jinja2 import StrictUndefined, Undefined, nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.exceptions import TemplateSyntaxError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from yaml2dag.format import expression_bounds as template_bounds
from yaml2dag.format.errors import TemplateError

_WHOLE = re.compile(r"^\s*\{\{(?P<expr>.*)\}\}\s*$", re.S)


class Raw(str):
    """A string that the shell renderer inserts unquoted (the ``raw`` filter's result)."""


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        template_bounds.check_weight(value, "printing this value")
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _raw(value: Any) -> Raw:
    return Raw(_to_text(value))


def _fromjson(value: Any) -> Any:
    return json.loads(value)


def _tojson(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, indent=indent)


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


class _Environment(ImmutableSandboxedEnvironment):
    """Sandboxed environment where ``a.b`` on a mapping prefers the key ``b``, values are read as
    data only and every operation is bounded (spec §5).

    * Jinja's default tries the attribute first, so ``result.items`` would return the dict
      method ``items`` instead of a tool field named ``items``.
    * Only :func:`is_readable` values expose attributes, items and methods (an allow-list: a
      ``pathlib.Path`` a step returned cannot ``write_text``); data values (pandas/numpy objects)
      only :data:`DATA_ATTRIBUTES`; ``env`` only reads (:class:`NameReader`). Only Jinja's own
      globals, macros and the methods of readable values can be called.
    * ``**``, ``*``, ``+``, ``%``, ``~``, ``format``, the growing ``str`` methods and filters, and
      the output are bounded by :mod:`.template_bounds` (Jinja's ``intercepted_binops`` and
      ``call_binop``).
    """

    intercepted_binops = template_bounds.INTERCEPTED_BINOPS
    intercepted_unops = template_bounds.INTERCEPTED_UNOPS
    code_generator_class = template_bounds.BoundedCodeGenerator
    join_concat = staticmethod(template_bounds.join_concat)

    def concat(self, parts: Iterable[str]) -> str:  # Jinja's Environment.concat: the output
        return template_bounds.join_output(parts)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        template_bounds.check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
        return super().call_unop(context, operator, arg)  # nothing to bound (see INTERCEPTED_UNOPS)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, (Mapping, NameReader)):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        if not is_readable(obj):
            return self.unsafe_undefined(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if not is_readable(obj):
            return self.undefined(_not_data(obj, f"`[{argument!r}]`"), name=str(argument), obj=obj,
                                  exc=SecurityError)
        return super().getitem(obj, argument)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if is_data_value(obj):
            if attr in DATA_ATTRIBUTES:
                return True
            # a column read as an attribute (``frame.temp_max``, ``frame.groupby("year").temp_max``)
            frame = getattr(obj, "obj", None) if type(obj).__name__ == "DataFrameGroupBy" else obj
            if type(frame).__name__ != "DataFrame" or callable(value):
                return False
            try:
                return attr in frame.columns
            except TypeError:
                return False
        base = _plain_base(obj)
        if base is not None:  # the type's own attributes, and a named tuple's fields
            return hasattr(base, attr) or (isinstance(obj, tuple) and attr in getattr(type(obj), "_fields", ()))
        if isinstance(obj, NameReader):
            return attr == "get"
        if isinstance(obj, Mapping):
            return attr in _MAPPING_READS
        return _jinja_object(obj)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        if is_data_value(obj):
            return self.undefined(_refusal(obj, attribute), name=attribute, obj=obj, exc=SecurityError)
        if not is_readable(obj):
            return self.undefined(_not_data(obj, f"`.{attribute}`"), name=attribute, obj=obj, exc=SecurityError)
        return super().unsafe_undefined(obj, attribute)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed ``str.format``/``format_map``, refused past the size bound."""
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        text, is_map = value.__self__, value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            if is_map:
                mapping = args[0] if args and isinstance(args[0], Mapping) else {}
                template_bounds.check_str_format(text, (), dict(mapping))
            else:
                template_bounds.check_str_format(text, args, kwargs)
            return wrapper(*args, **kwargs)

        checked.yaml2dag_template_safe = True  # type: ignore[attr-defined]
        return checked

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:  # noqa: D401
        """Call ``obj`` from sandboxed code: data-value methods pass :func:`_check_data_call`,
        methods of other readable values are allowed (growing text methods are bounded), and
        otherwise only Jinja's globals, macros and objects; a function or object a step returned
        is refused."""
        owner = getattr(obj, "__self__", None)
        if is_data_value(owner):
            _check_data_call(owner, getattr(obj, "__name__", "?"), args, kwargs)
        elif is_data_value(obj):
            raise SecurityError(f"{_kind(obj)} cannot be called in a template")
        elif owner is not None and isinstance(obj, (types.MethodType, types.BuiltinMethodType)) \
                and not isinstance(owner, (types.ModuleType, type)):
            if not is_readable(owner):
                raise SecurityError(_not_data(owner, f"`.{getattr(obj, '__name__', '?')}()`"))
            if isinstance(owner, (str, bytes)):
                args = template_bounds.check_str_call(owner, getattr(obj, "__name__", ""), args, kwargs)
        elif not self._may_call(obj):
            raise SecurityError(f"calling {_kind(obj)} is not allowed in templates: parameters and step "
                                "results are data, not functions (spec §5)")
        return super().call(context, obj, *args, **kwargs)

    def _may_call(self, obj: Any) -> bool:
        if any(obj is value for value in self.globals.values()):
            return True
        if getattr(obj, "yaml2dag_template_safe", False):
            return True
        module = getattr(obj, "__module__", None) if isinstance(obj, (type, types.FunctionType)) else type(obj).__module__
        return bool(module) and (module == "jinja2" or module.startswith("jinja2."))


def _make_env(finalize=None) -> _Environment:
    env = _Environment(undefined=StrictUndefined, autoescape=False, finalize=finalize,
                       keep_trailing_newline=True)
    env.filters["raw"] = _raw
    env.filters["fromjson"] = _fromjson
    env.filters["tojson"] = _tojson
    env.filters["_shell_word"] = _shell_word
    env.filters["quote"] = _quote
    template_bounds.install(env)  # bounds the filters that grow text, drops `lipsum`
    return env


#: Environment variables that carry the values of a shell command: YAML2DAG_V1, YAML2DAG_V2...
SHELL_VAR_PREFIX = "YAML2DAG_V"
_SHELL_VARS = "__yaml2dag_shell_vars__"


class ShellCommand(str):
    """A rendered shell command; ``env`` holds the values its ``${YAML2DAG_Vn}`` refer to.

    The values never appear in the command text: the shell expands them from the environment
    without parsing them, so no value can inject a command, whatever the quoting around it
    (plain words, ``"..."``, ``'...'``, ``$'...'``, comments, here-documents).
    """

    env: dict[str, str]

    def __new__(cls, text: str, env: Mapping[str, str] | None = None) -> "ShellCommand":
        obj = super().__new__(cls, text)
        obj.env = dict(env or {})
        return obj


@pass_context
def _shell_word(context: Any, value: Any, state: str, kind: str | None = None, where: str = "",
                label: str = "") -> str:
    """A reference to ``value`` as one shell word, given the quote state around it.

    ``kind`` is where bash uses the word (:mod:`yaml2dag.format.shell_contexts`): in arithmetic
    (``$(( ))``, ``[[ -gt ]]``, an array index...) the value must be an integer, as a variable
    name a name, as a declared array's value it must not start with ``(``; otherwise bash would
    evaluate it. ``where`` names the construct and ``label`` the template expression, for the
    message.

    Raises:
        TemplateError: the value contains NUL, or does not fit ``kind``.
    """
    if isinstance(value, Raw):
        return str(value)
    text = _to_text(value)
    if "\0" in text:
        raise TemplateError("a value inserted in a shell command cannot contain a NUL character")
    if kind is not None:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
            text = str(int(value))  # a `number` parameter given 41 arrives as 41.0; bash needs 41
        _check_shell_context(value, text, kind, where, label)
    values = context.get(_SHELL_VARS)
    if values is None:  # rendered outside render_string(shell=True): fall back to quoting
        return shlex.quote(text)
    name = f"{SHELL_VAR_PREFIX}{len(values) + 1}"
    values[name] = text
    ref = "${" + name + "}"
    if state in ('"', "#", "<<"):
        return ref  # inside double quotes, a comment or a here-document body: no quotes needed
    if state == "'":
        return f"'\"{ref}\"'"  # close the single quotes, expand in double quotes, reopen
    if state == "$'":
        return f"'\"{ref}\"$'"
    return f'"{ref}"'


def _shown(value: Any, text: str) -> str:
    if isinstance(value, bool):
        return f"the boolean {text}"
    if len(text) <= 40 and text.isprintable():
        return repr(text)
    return f"a text of {len(text)} characters"


def _check_shell_context(value: Any, text: str, kind: str, where: str, label: str) -> None:
    """Refuse a value bash would evaluate where it is inserted (see :func:`_shell_word`)."""
    from yaml2dag.format.shell_contexts import ARITH, NAME, SCALAR, is_integer, is_name

    shown = f"`{{{{ {label} }}}}`" if label else "a value"
    if kind == ARITH and (isinstance(value, bool) or not is_integer(text)):
        raise TemplateError(
            f"{shown} is inserted where bash evaluates arithmetic ({where}), so its value must be an "
            f"integer, got {_shown(value, text)}: bash would evaluate any other text as an expression, "
            "and an array index in it runs commands (`a[$(cmd)]`); make it a number first"
            + (f" (`{{{{ {label} | int }}}}`)" if label else ""))
    if kind == NAME and not is_name(text):
        raise TemplateError(
            f"{shown} is inserted where bash expects a variable name ({where}), so its value must be a "
            f"name (letters, digits and `_`), got {_shown(value, text)}: bash would evaluate an array "
            "index in any other text (`a[$(cmd)]`)")
    if kind == SCALAR and text.lstrip().startswith("("):
        raise TemplateError(
            f"{shown} is inserted as {where}, where bash would run a value starting with `(` as a list "
            f"assignment and expand it again, got {_shown(value, text)}")


def _quote(value: Any) -> str:
    """``quote`` filter: the value as one shell word (for commands passed to another shell)."""
    return shlex.quote(_to_text(value))


ENV = _make_env(finalize=_to_text)

#: Names that every template may use besides parameters and step ids (spec §5).
NAMESPACES = ("params", "steps", "env", "secrets", "run", "trigger")
#: Names that only exist in some places.
LOOP_NAMES = ("item", "index")
FAILURE_NAMES = ("failed_step", "error")
#: Jinja's own globals and constants.
JINJA_GLOBALS = tuple(ENV.globals) + ("true", "false", "none", "True", "False", "None", "loop")


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
    from yaml2dag.format.limits import MAX_EXPRESSION_DEPTH

    where = f" (line {lineno})" if lineno and lineno > 1 else ""
    return TemplateLimitError(f"the template nests brackets, blocks or chained operators more than "
                              f"{MAX_EXPRESSION_DEPTH} levels deep; split it into simpler parts{where}")


def _check_nesting(source: str) -> None:
    """Raise :class:`TemplateLimitError` when brackets and ``{% %}`` blocks nest more than
    :data:`~yaml2dag.format.limits.MAX_EXPRESSION_DEPTH` deep, from Jinja's tokens (its lexer is not
    recursive): before the parser, which recurses about 14 Python frames per bracket; and when
    an integer literal is outside 64 bits (Jinja converts literals with ``int()``, which
    refuses more than 4,300 digits)."""
    from yaml2dag.format.limits import MAX_EXPRESSION_DEPTH, integer_problem, integer_text_problem

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
    from yaml2dag.format.limits import MAX_EXPRESSION_DEPTH

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


# --------------------------------------------------------------------------- rendering


@lru_cache(maxsize=4096)
def _compiled_expression(expr: str):
    try:
        return ENV.compile_expression(expr, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}") from None


@lru_cache(maxsize=4096)
def _compiled_template(source: str):
    try:
        return ENV.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message} (line {exc.lineno})") from None


@lru_cache(maxsize=1024)
def _compiled_shell_template(source: str):
    return _compiled_template(shell_source(source))


def shell_source(source: str) -> str:
    """Rewrite a command template so each ``{{ expr }}`` becomes one shell word.

    Each expression is filtered through ``_shell_word`` with the shell state around it (plain,
    inside ``'...'``, ``$'...'`` or ``"..."``, a ``# comment``, or a here-document body), tracked
    through the literal text by :class:`_ShellScanner`, so ``echo "hello {{ name }}"`` prints
    ``hello bob`` and a value such as ``x; touch pwned`` stays one literal word.

    Raises:
        TemplateError: a backslash escapes the start of an inserted value (``\\{{ x }}``), or a
            value is inserted into a quoted here-document (``<<'EOF'``), where it cannot expand.
    """
    out: list[str] = []
    scanner = _ShellScanner()
    in_var = False
    var_state: str | None = None
    tokens = _shell_tokens(source)
    contexts = iter(shell_analysis(source)[0])
    for lineno, token, value in tokens:
        if token == "variable_begin":
            if scanner.escaped:  # `\{{ x }}` would escape the opening quote of the inserted word
                raise TemplateError(f"template syntax error: a backslash right before {value} would escape "
                                    f"the inserted value; remove it (line {lineno})")
            if scanner.state == "<<'":
                raise TemplateError(f"template syntax error: a value cannot be inserted into a quoted "
                                    f"here-document (<<'{scanner.heredoc[0]}'), where the shell does not "
                                    f"expand it; leave the delimiter unquoted (line {lineno})")
            in_var = True
            var_state = scanner.state
            out.append(value + " (")
            continue
        if token == "variable_end":
            in_var = False
            label, context, _line = next(contexts)
            extra = f", {context.kind!r}, {context.where!r}, {label!r}" if context.kind else ""
            out.append(f") | _shell_word({var_state!r}{extra}) " + value)
            scanner.word_inserted()
            continue
        if token == "data" and not in_var:
            scanner.feed(value)
        out.append(value)
    return "".join(out)


def _shell_tokens(source: str) -> list:
    try:
        return list(ENV.lexer.tokeniter(source, None))
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message} (line {exc.lineno})") from None


def _label(tokens: list[tuple[str, Any]]) -> str:
    """The source of a ``{{ ... }}`` expression, rebuilt from its tokens (for messages)."""
    out = ""
    for token, value in tokens:
        text = str(value)  # the lexer's raw text (a string keeps its quotes)
        if out and out[-1] not in ".([" and text not in (".", ",", ")", "]", "(", "["):
            out += " "
        out += text
    return out


@lru_cache(maxsize=1024)
def shell_analysis(source: str) -> tuple[tuple[tuple[str, Any, int], ...], frozenset[str]]:
    """Where bash uses each ``{{ ... }}`` of a command template (:mod:`yaml2dag.format.shell_contexts`).

    Returns:
        ``(((label, Context, line), ...), arith_names)``: for each expression in order, its
        source text (``"n"``, ``"params.n | int"``), its :class:`~yaml2dag.format.shell_contexts.Context`
        and its line in the template; and the shell variables the command evaluates as arithmetic.

    Raises:
        TemplateError: the template has a syntax error.
    """
    from yaml2dag.format.shell_contexts import analyze_command

    pieces: list[str] = [""]
    labels: list[str] = []
    lines: list[int] = []
    expression: list[tuple[str, Any]] | None = None
    for lineno, token, value in _shell_tokens(source):
        if token == "variable_begin":
            expression = []
            lines.append(lineno)
        elif token == "variable_end":
            labels.append(_label(expression or []))
            pieces.append("")
            expression = None
        elif expression is not None:
            if token not in ("whitespace", "comment"):
                expression.append((token, value))
        elif token == "data":
            pieces[-1] += value
    analysis = analyze_command(pieces)
    return tuple(zip(labels, analysis.contexts, lines)), analysis.arith_names


#: An unquoted ``#`` after one of these (or at the start) begins a shell comment.
_COMMENT_AFTER = " \t\n;&|()<>"
_HEREDOC = re.compile(r"<<(-?)[ \t]*(?:'([^'\n]+)'|\"([^\"\n]+)\"|\\?([A-Za-z_][A-Za-z0-9_]*))")


class _ShellScanner:
    """Follows the quoting state of a shell command's literal text, one piece at a time.

    ``state`` is None (plain), ``'``, ``$'``, ``"``, ``#`` (a comment), ``<<`` (the body of an
    unquoted here-document, where the shell expands ``${...}`` but not quotes) or ``<<'`` (a
    quoted here-document, where nothing expands).
    """

    def __init__(self) -> None:
        self.state: str | None = None
        self.escaped = False  # the text so far ends with an escaping backslash
        self.prev = ""  # the last character (or "x" after an inserted word)
        self.line = ""  # the current line (to find here-document delimiters)
        self.pending: list[tuple[str, bool, bool]] = []  # here-documents opened on this line
        self.heredoc: tuple[str, bool, bool] | None = None  # (delimiter, strip tabs, quoted)

    def word_inserted(self) -> None:
        self.prev = "x"
        self.line += "\0"  # a line with a value in it is never a delimiter line

    def feed(self, text: str) -> None:
        for ch in text:
            self._char(ch)

    def _char(self, ch: str) -> None:
        last, self.prev = self.prev, ch
        if ch == "\n":
            self._end_of_line()
            return
        self.line += ch
        state = self.state
        if state in ("<<", "<<'"):
            return
        if state == "#":
            return
        if self.escaped:
            self.escaped, self.prev = False, "\0"  # an escaped `$` does not start a $'...' string
            return
        if ch == "\\" and state != "'":
            self.escaped = True  # also inside $'...', where \' does not end the string
        elif ch == "#" and state is None and (last == "" or last in _COMMENT_AFTER):
            self.state = "#"
        elif ch == "'" and state is None:
            self.state = "$'" if last == "$" else "'"
        elif ch == "'" and state in ("'", "$'"):
            self.state = None
        elif ch == '"' and state is None:
            self.state = '"'
        elif ch == '"' and state == '"':
            self.state = None

    def _end_of_line(self) -> None:
        line, self.line = self.line, ""
        if self.state in ("<<", "<<'"):
            assert self.heredoc is not None
            word, strip, _quoted = self.heredoc
            candidate = line.lstrip("\t") if strip else line
            if candidate == word:
                self.heredoc = self.pending.pop(0) if self.pending else None
                self.state = ("<<'" if self.heredoc[2] else "<<") if self.heredoc else None
            return
        if self.state == "#":
            self.state = None
        if self.state is None:
            for match in _HEREDOC.finditer(line):
                if line[match.start():match.start() + 3] == "<<<":
                    continue
                word = match.group(2) or match.group(3) or match.group(4)
                quoted = match.group(4) is None or match.group(0).find("\\") != -1
                self.pending.append((word, match.group(1) == "-", quoted))
            if self.pending:
                self.heredoc = self.pending.pop(0)
                self.state = "<<'" if self.heredoc[2] else "<<"


def render_string(value: str, scope: Mapping[str, Any], *, shell: bool = False) -> Any:
    """Render one string: native value for a whole ``{{ expr }}``, else text.

    Args:
        value: the template text.
        scope: the names in scope (spec §5).
        shell: quote every expression as one shell word (for shell command strings).

    Raises:
        TemplateError: syntax error, unknown name or attribute, or a sandbox violation.
    """
    if not is_template(value):
        return value
    try:
        if not shell:
            expr = whole_expression(value)
            if expr is not None:
                return _defined(_compiled_expression(expr)(**scope))
            return _compiled_template(value).render(scope)
        values: dict[str, str] = {}
        text = _compiled_shell_template(value).render({**scope, _SHELL_VARS: values})
        return ShellCommand(text, values)
    except TemplateError:
        raise
    except JinjaTemplateError as exc:
        raise TemplateError(_explain(exc)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, RecursionError) as exc:
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None


def evaluate(value: Any, scope: Mapping[str, Any]) -> Any:
    """Evaluate a condition-like value: a bare expression, a template or a constant."""
    if not isinstance(value, str):
        return value
    if is_template(value):
        return render_string(value, scope)
    try:
        return _defined(_compiled_expression(value)(**scope))
    except TemplateError:
        raise
    except JinjaTemplateError as exc:
        raise TemplateError(_explain(exc)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, RecursionError) as exc:
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None


def _defined(value: Any) -> Any:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError with Jinja's message
    if isinstance(value, NameReader):
        str(value)  # `{{ env }}`: the namespace itself cannot be handed out (it raises SecurityError)
    return value


_FALSE_STRINGS = {"", "false", "0", "no", "off", "none", "null"}


def truthy(value: Any) -> bool:
    """Truth of a rendered condition; the strings false/0/no/off/none/null/"" are false."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_STRINGS
    return bool(value)


def render_value(value: Any, scope: Mapping[str, Any], *, shell_keys: Iterable[str] = ()) -> Any:
    """Render every string inside ``value`` (dicts and lists recursively).

    ``shell_keys`` names top-level keys of a mapping whose string values are shell commands.
    """
    shell_keys = frozenset(shell_keys)
    if isinstance(value, Mapping):
        return {
            k: (render_string(v, scope, shell=True) if k in shell_keys and isinstance(v, str)
                else render_value(v, scope))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [render_value(v, scope) for v in value]
    if isinstance(value, str):
        return render_string(value, scope)
    return value


def _explain(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    if "is undefined" in message or "has no attribute" in message:
        return f"undefined value: {message}"
    if isinstance(exc, SecurityError) or "unsafe" in message or "access to attribute" in message:
        return f"blocked by the template sandbox: {message}"
    return message
