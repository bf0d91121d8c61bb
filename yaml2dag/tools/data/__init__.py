"""The ``data`` tool: read, transform, analyze and write tables with pandas (spec §6).

Actions (``read`` is the default):

* ``read`` — CSV, JSON, Parquet (with pyarrow) or a SQLite table/query, from a path or a URL
  (:mod:`.read`);
* ``transform`` — an ordered list of operations: ``filter``, ``select``, ``rename``,
  ``derive``, ``group_by``, ``sort``, ``dropna``, ``fillna``, ``join``, ``limit``
  (:mod:`.transform`, expressions in :mod:`.expressions`);
* ``analyze`` — a summary dict: columns, statistics, value counts, correlations
  (:mod:`.analyze`);
* ``write`` — CSV, JSON, Parquet or a SQLite table (:mod:`.write`).

DataFrames pass between steps as the ``output`` of a step (``input: "{{ load.output }}"``),
through Dagster's IO manager. Every action records ``rows``, ``columns`` (name → dtype) and a
markdown ``preview`` (or ``summary``) as Dagster output metadata.

Importing this package does not import pandas: the validator reads the parameter schemas
(:mod:`.schemas`) without it; each action imports pandas when it runs.
User reference: ``docs/manual/tools/data_en.md``.
"""

from __future__ import annotations

from yaml2dag.tools.base import Action, Tool
from yaml2dag.tools.data import schemas
from yaml2dag.tools.data.analyze import analyze
from yaml2dag.tools.data.read import read
from yaml2dag.tools.data.transform import transform
from yaml2dag.tools.data.write import write

FRAME_FIELDS = ("rows", "columns")

TOOL = Tool(
    name="data",
    description="Read, transform, analyze and write tables (pandas): CSV, JSON, Parquet, SQLite.",
    actions=(
        Action(
            name="read",
            description="Read a CSV, JSON or Parquet file, or a SQLite table or query, from `path` or `url`.",
            parameters=schemas.READ,
            run=read,
            result_fields=FRAME_FIELDS,
            output="a DataFrame",
        ),
        Action(
            name="transform",
            description="Apply `operations` (filter, select, rename, derive, group_by, sort, dropna, "
                        "fillna, join, limit) to `input`, in order.",
            parameters=schemas.TRANSFORM,
            run=transform,
            result_fields=FRAME_FIELDS,
            output="a DataFrame",
        ),
        Action(
            name="analyze",
            description="Summarize `input`: column types and nulls, statistics, value counts, correlations.",
            parameters=schemas.ANALYZE,
            run=analyze,
            result_fields=FRAME_FIELDS,
            output="a summary dict (rows, columns, describe, value_counts, correlations)",
        ),
        Action(
            name="write",
            description="Write `input` to a CSV, JSON or Parquet file, or a SQLite table.",
            parameters=schemas.WRITE,
            run=write,
            result_fields=(*FRAME_FIELDS, "bytes"),
            output="the path written",
        ),
    ),
)

__all__ = ["TOOL"]
