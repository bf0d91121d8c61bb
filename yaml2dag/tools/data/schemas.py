"""JSON Schemas (draft 2020-12) of the ``data`` tool's parameters, checked by the validator.

Shapes are chosen so that each mistake is reported at the exact line of the value at fault:

* a transform operation is a mapping with exactly one key, the operation's name; every name is
  a declared property and ``additionalProperties`` is false, so a misspelt operation is an
  "unknown key `filtr`; did you mean `filter`?" at that key's line;
* values that may take several shapes (a column or a list of columns; ``sort: year`` or
  ``sort: {by: ..., descending: ...}``) dispatch on the value's type with ``if``/``then``/``else``,
  so the error is the specific one ("expected a string, got null") at the value's line instead
  of an opaque "not valid under any of the given schemas";
* ``x-expected`` gives a readable message where a choice must stay an ``anyOf``/``oneOf``.

Templates skip these checks (the validator ignores failing values that are templates), so
``input: "{{ load.output }}"`` or ``filter: "temp_max > {{ limit }}"`` always pass here and are
checked again when the step runs.
"""

from __future__ import annotations

from yaml2dag.tools.data.formats import FORMATS, READ_OPTIONS, WRITE_OPTIONS

#: Aggregation functions of ``group_by.agg``.
AGG_FUNCTIONS = ("sum", "mean", "median", "min", "max", "count", "size", "nunique", "std", "var",
                 "first", "last", "prod", "any", "all")
#: ``how`` of ``join``.
JOIN_HOWS = ("inner", "left", "right", "outer", "cross")
#: Operation names of ``transform``, in the order the docs list them.
OPERATIONS = ("filter", "select", "rename", "derive", "group_by", "sort", "dropna", "fillna", "join", "limit")
#: Correlation methods of ``analyze``.
CORRELATION_METHODS = ("pearson", "spearman", "kendall")

_DURATION = {
    "anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"type": "string"}],
    "x-expected": "a duration such as 30, \"30s\" or \"2m\"",
}

FRAME = {
    "anyOf": [
        {"type": "string", "pattern": r"\{\{"},
        {"type": "array", "items": {"type": "object"}},
        {"type": "object"},
    ],
    "x-expected": "a DataFrame from another step, such as \"{{ load.output }}\" (or a list of records)",
}

COLUMN = {"type": "string", "minLength": 1}


def _one_or_many(item: dict) -> dict:
    """A value or a non-empty list of values; errors name the failing element."""
    return {"if": {"type": "array"}, "then": {"items": item, "minItems": 1}, "else": item}


COLUMNS = _one_or_many(COLUMN)
EXPRESSION = {"type": "string", "minLength": 1}
SCALAR = {"type": ["string", "number", "boolean"]}

_AGG_FUNCTION = {"enum": list(AGG_FUNCTIONS)}
AGGREGATION = {
    "if": {"type": "string"},
    "then": _AGG_FUNCTION,
    "else": {
        "if": {"type": "array"},
        "then": {"items": _AGG_FUNCTION, "minItems": 1},
        "else": {
            "type": "object",
            "additionalProperties": False,
            "required": ["column", "func"],
            "properties": {"column": COLUMN, "func": _AGG_FUNCTION},
        },
    },
}

OPERATION_SCHEMAS: dict[str, dict] = {
    "filter": dict(EXPRESSION, description="Keep the rows where this pandas expression is true."),
    "select": dict(COLUMNS, description="Keep these columns, in this order."),
    "rename": {"type": "object", "minProperties": 1, "additionalProperties": COLUMN,
               "description": "Rename columns: {old: new}."},
    "derive": {"type": "object", "minProperties": 1, "additionalProperties": EXPRESSION,
               "description": "Add or replace columns: {name: expression}, evaluated in order."},
    "group_by": {
        "type": "object",
        "additionalProperties": False,
        "required": ["by"],
        "properties": {
            "by": COLUMNS,
            "agg": {"type": "object", "minProperties": 1, "additionalProperties": AGGREGATION},
            "count": COLUMN,
        },
        "anyOf": [{"required": ["agg"]}, {"required": ["count"]}],
        "x-expected": "`agg` (column: function) and/or `count` (name of a row-count column)",
        "description": "One row per group: {by: [...], agg: {column: function}, count: name}.",
    },
    "sort": {
        "if": {"type": ["string", "array"]},
        "then": COLUMNS,
        "else": {
            "type": "object",
            "additionalProperties": False,
            "required": ["by"],
            "properties": {
                "by": COLUMNS,
                "descending": {"if": {"type": "array"}, "then": {"items": {"type": "boolean"}},
                               "else": {"type": "boolean"}},
            },
        },
        "description": "Order rows: a column, a list, or {by: [...], descending: true}.",
    },
    "dropna": {
        "if": {"type": "boolean"},
        "then": {"type": "boolean"},
        "else": {
            "if": {"type": ["string", "array"]},
            "then": COLUMNS,
            "else": {
                "type": "object",
                "additionalProperties": False,
                "properties": {"subset": COLUMNS, "how": {"enum": ["any", "all"]}},
            },
        },
        "description": "Drop rows with nulls: true, columns, or {subset: [...], how: any|all}.",
    },
    "fillna": {
        "if": {"type": "object"},
        "then": {"minProperties": 1, "additionalProperties": SCALAR},
        "else": SCALAR,
        "description": "Replace nulls: {column: value}, or one value for every column.",
    },
    "join": {
        "type": "object",
        "additionalProperties": False,
        "required": ["with"],
        "properties": {
            "with": FRAME,
            "on": COLUMNS,
            "left_on": COLUMNS,
            "right_on": COLUMNS,
            "how": {"enum": list(JOIN_HOWS)},
            "suffixes": {"type": "array", "items": {"type": "string"}, "minItems": 2, "maxItems": 2},
        },
        "description": "Join with another frame: {with: \"{{ other.output }}\", on: [...], how: left}.",
    },
    "limit": {"type": "integer", "minimum": 0, "description": "Keep the first N rows."},
}

#: One item of ``operations``.
OPERATION = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": False,
    "properties": {
        **OPERATION_SCHEMAS,
        # `agg` and `count` belong inside `group_by`; declared here only to say so
        "agg": {"anyOf": [{"not": {}}],
                "x-expected": "`agg` inside `group_by`, as in {group_by: {by: [year], agg: {temp_max: mean}}}"},
        "count": {"anyOf": [{"not": {}}],
                  "x-expected": "`count` inside `group_by`, as in {group_by: {by: [year], count: days}}"},
    },
    "anyOf": [{"maxProperties": 1}],
    "x-expected": "one operation per list item, such as {filter: \"precipitation > 0\"}",
}

_READ_OPTION_SCHEMAS = {
    "sep": {"type": "string", "minLength": 1},
    "header": {"type": ["integer", "array", "null", "string"]},
    "names": {"type": "array", "items": {"type": "string"}},
    "index_col": {"type": ["string", "integer", "array", "boolean"]},
    "usecols": {"type": "array", "items": {"type": ["string", "integer"]}, "minItems": 1},
    "dtype": {"type": ["string", "object"], "additionalProperties": {"type": "string"}},
    "parse_dates": {"type": ["boolean", "array", "string"]},
    "date_format": {"type": ["string", "object"]},
    "encoding": {"type": "string"},
    "nrows": {"type": "integer", "minimum": 0},
    "skiprows": {"type": ["integer", "array"]},
    "na_values": {"type": ["string", "array", "object"]},
    "keep_default_na": {"type": "boolean"},
    "true_values": {"type": "array"},
    "false_values": {"type": "array"},
    "decimal": {"type": "string", "minLength": 1, "maxLength": 1},
    "thousands": {"type": "string", "minLength": 1, "maxLength": 1},
    "comment": {"type": "string", "minLength": 1, "maxLength": 1},
    "quotechar": {"type": "string", "minLength": 1, "maxLength": 1},
    "orient": {"enum": ["records", "columns", "index", "split", "values", "table"]},
    "lines": {"type": "boolean"},
    "convert_dates": {"type": ["boolean", "array"]},
}

_WRITE_OPTION_SCHEMAS = {
    "sep": {"type": "string", "minLength": 1},
    "header": {"type": ["boolean", "array"]},
    "encoding": {"type": "string"},
    "date_format": {"type": "string"},
    "float_format": {"type": "string"},
    "na_rep": {"type": "string"},
    "quotechar": {"type": "string", "minLength": 1, "maxLength": 1},
    "decimal": {"type": "string", "minLength": 1, "maxLength": 1},
    "orient": {"enum": ["records", "columns", "index", "split", "values", "table"]},
    "lines": {"type": "boolean"},
    "indent": {"type": "integer", "minimum": 0},
    "double_precision": {"type": "integer", "minimum": 0, "maximum": 15},
    "compression": {"enum": ["snappy", "gzip", "brotli", "zstd", "lz4", "none"]},
    "dtype": {"type": "object", "additionalProperties": {"type": "string"}},
    "chunksize": {"type": "integer", "minimum": 1},
}

assert set(_READ_OPTION_SCHEMAS) == {k for keys in READ_OPTIONS.values() for k in keys}
assert set(_WRITE_OPTION_SCHEMAS) == {k for keys in WRITE_OPTIONS.values() for k in keys}

_SQLITE_SUFFIX = r"\.(sqlite3?|db)$"


def _when_sqlite(then: dict) -> list[dict]:
    """``allOf`` items applying ``then`` when the format is sqlite (explicit or by suffix)."""
    return [
        {"if": {"required": ["format"], "properties": {"format": {"const": "sqlite"}}}, "then": then},
        {"if": {"not": {"required": ["format"]}, "required": ["path"],
                "properties": {"path": {"type": "string", "pattern": _SQLITE_SUFFIX}}}, "then": then},
    ]


READ = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "path": {"type": "string", "minLength": 1, "description": "File to read (`~` is expanded)."},
        "url": {"type": "string", "pattern": r"^https?://|\{\{", "x-expected": "an http:// or https:// URL",
                "description": "http(s) URL to download and read."},
        "format": {"enum": list(FORMATS), "description": "Default: from the suffix."},
        "options": {"type": "object", "additionalProperties": False, "properties": _READ_OPTION_SCHEMAS,
                    "description": "Options for the pandas reader (a fixed list per format)."},
        "table": {"type": "string", "minLength": 1, "description": "SQLite: table or view to read."},
        "query": {"type": "string", "minLength": 1, "description": "SQLite: SELECT query to run (read-only)."},
        "query_params": {"type": ["array", "object"], "description": "SQLite: values for `?` or `:name` in `query`."},
        "headers": {"type": "object", "additionalProperties": SCALAR, "description": "URL: request headers."},
        "timeout": dict(_DURATION, description="URL: give up after this long (default 60s)."),
    },
    "allOf": [
        {"oneOf": [{"required": ["path"]}, {"required": ["url"]}],
         "x-expected": "exactly one of `path` (a file) or `url` (http or https)"},
        {"anyOf": [{"not": {"required": ["table", "query"]}}],
         "x-expected": "at most one of `table` or `query`"},
        *_when_sqlite({"anyOf": [{"required": ["table"]}, {"required": ["query"]}],
                       "x-expected": "`table` or `query` to read a SQLite database"}),
    ],
}

TRANSFORM = {
    "type": "object",
    "additionalProperties": False,
    "required": ["input", "operations"],
    "properties": {
        "input": dict(FRAME, description="The frame to transform."),
        "operations": {"type": "array", "minItems": 1, "items": OPERATION,
                       "description": "Operations applied in order, each `{name: argument}`."},
    },
}

ANALYZE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["input"],
    "properties": {
        "input": dict(FRAME, description="The frame to analyze."),
        "columns": dict(COLUMNS, description="Analyze only these columns (default: all)."),
        "describe": {"type": "boolean", "description": "Per-column statistics (default true)."},
        "value_counts": dict(COLUMNS, description="Columns whose most frequent values are counted."),
        "top": {"type": "integer", "minimum": 1, "description": "Values kept per value count (default 10)."},
        "correlations": {
            "if": {"type": "boolean"}, "then": {"type": "boolean"}, "else": {"enum": list(CORRELATION_METHODS)},
            "description": "Correlations of numeric columns: true (pearson) or a method.",
        },
    },
}

WRITE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["input", "path"],
    "properties": {
        "input": dict(FRAME, description="The frame to write."),
        "path": {"type": "string", "minLength": 1, "description": "File to write (folders are created)."},
        "format": {"enum": list(FORMATS), "description": "Default: from the suffix."},
        "table": {"type": "string", "minLength": 1, "description": "SQLite: table to write."},
        "if_exists": {"enum": ["fail", "replace", "append"], "description": "SQLite: when the table exists."},
        "overwrite": {"type": "boolean", "description": "Files: replace an existing file (default false)."},
        "index": {"type": "boolean", "description": "Write the frame's index as a column (default false)."},
        "options": {"type": "object", "additionalProperties": False, "properties": _WRITE_OPTION_SCHEMAS,
                    "description": "Options for the pandas writer (a fixed list per format)."},
    },
    "allOf": _when_sqlite({"required": ["table"]}),
}
