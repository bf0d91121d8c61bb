"""The ``write`` action: a DataFrame to CSV, JSON, Parquet or a SQLite table.

* Files are written to a temporary file in the target folder and then moved into place, so a
  failed write never leaves half a file, and readers never see one.
* An existing file is never replaced unless ``overwrite: true``; the check and the move are one
  atomic step (a hard link), so two runs cannot both "create" the same file.
* SQLite: ``table`` in the database file ``path`` (created if missing); ``if_exists``
  (``fail``, the default, ``replace`` or ``append``) decides what happens to an existing table.
* ``index: true`` writes the frame's index as a column (default: not written).
* Missing parent folders are created.
"""

from __future__ import annotations

import os
import secrets
import sqlite3
from pathlib import Path
from typing import Any

from yaml2dag.tools.base import ToolContext, ToolError, ToolResult
from yaml2dag.tools.data.formats import WRITE_OPTIONS, Format, check_options, require_parquet_engine, resolve_format
from yaml2dag.tools.data.frames import as_frame, frame_result, rows_text
from yaml2dag.tools.data.read import local_path, sqlite_error_text


def write(ctx: ToolContext, params: dict) -> ToolResult:
    """Write ``input`` to ``path`` (see the module docstring).

    Args:
        ctx: the step's context (log).
        params: ``input`` (DataFrame), ``path``, ``format``, ``table``, ``if_exists``,
            ``overwrite``, ``index``, ``options``.

    Returns:
        ``output``: the absolute path written (str); fields ``rows`` (rows written), ``columns``
        (names) and ``bytes`` (size of the file, or of the whole database file for SQLite);
        metadata ``rows``, ``columns``, ``preview``, ``path``, ``bytes`` (and ``table``).

    Raises:
        ToolError: (not retryable) the file exists and ``overwrite`` is not set, the table exists
            and ``if_exists`` is ``fail``, a parameter does not fit the format, no Parquet engine
            is installed, or the writer failed (message names the file).
    """
    frame = as_frame(params.get("input"))
    target = local_path(params.get("path"))
    fmt = resolve_format(params.get("format"), str(target))
    options = check_options(params.get("options"), fmt.name, WRITE_OPTIONS)
    index = bool(params.get("index", False))
    if fmt.name == "sqlite":
        if params.get("overwrite") is not None:
            raise ToolError("`overwrite` applies to files; for a SQLite table set `if_exists: replace` "
                            "(or `append`)", retryable=False)
        table = params.get("table")
        if not isinstance(table, str) or not table:
            raise ToolError(f"set `table`: the SQLite table to write in {target}", retryable=False)
        write_sqlite(frame, target, table, params.get("if_exists") or "fail", index, options)
        extra = {"table": table}
    else:
        if params.get("if_exists") is not None:
            raise ToolError("`if_exists` applies to SQLite tables; to replace an existing file set "
                            "`overwrite: true`", retryable=False)
        if params.get("table") is not None:
            raise ToolError(f"`table` applies to SQLite databases; {target} is written as {fmt.name} "
                            "(set `format: sqlite` to write a database)", retryable=False)
        write_file(frame, target, fmt, bool(params.get("overwrite", False)), index, options)
        extra = {}
    size = target.stat().st_size
    where = f"{target} (table `{extra['table']}`)" if extra else str(target)
    ctx.log.info(f"wrote {rows_text(len(frame))} × {len(frame.columns)} columns to {where}, {size:,} bytes")
    result = frame_result(frame, output=str(target), fields={"bytes": size},
                          metadata={"path": str(target), "bytes": size, "format": fmt.name, **extra})
    result.written = (f"sqlite:///{target}#{extra['table']}",) if extra else (str(target),)
    return result


def write_file(frame: Any, target: Path, fmt: Format, overwrite: bool, index: bool, options: dict) -> None:
    """Write ``frame`` to ``target`` as CSV, JSON or Parquet, atomically.

    Args:
        frame: the DataFrame.
        target: absolute file path; its folder is created if missing.
        fmt: the resolved format (default options from the suffix, compression).
        overwrite: replace an existing file.
        index: write the index as a column.
        options: writer options already checked against :data:`~.formats.WRITE_OPTIONS`.

    Raises:
        ToolError: (not retryable) the file exists (without ``overwrite``), the path is a
            folder, no Parquet engine, or the writer's error.
    """
    if target.is_dir():
        raise ToolError(f"{target} is a folder; `path` must name a file", retryable=False)
    if target.exists() and not overwrite:
        raise ToolError(f"file exists: {target} (set `overwrite: true` to replace it)", retryable=False)
    if fmt.name == "parquet":
        require_parquet_engine("writing")
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToolError(f"cannot create the folder {target.parent}: {exc.strerror or exc}", retryable=False) from None
    temp = _temp_file(target)
    try:
        try:
            _write_format(frame, temp, fmt, index, options)
        except Exception as exc:  # noqa: BLE001 - reported with the file's name
            text = str(exc).strip()
            detail = text.splitlines()[0] if text else ""
            raise ToolError(f"cannot write {target} as {fmt.name}: {type(exc).__name__}"
                            + (f": {detail}" if detail else ""), retryable=False) from None
        _move_into_place(temp, target, overwrite)
    finally:
        try:
            os.unlink(temp)
        except OSError:
            pass


def _temp_file(target: Path) -> str:
    """A new empty file next to ``target``, created with the usual (umask) permissions; its name
    keeps at most 100 bytes of the target's, so a long file name still leaves room for it."""
    stem = target.name.encode("utf-8", "surrogateescape")[:100].decode("utf-8", "ignore")
    for _ in range(100):
        name = str(target.parent / f".{stem}.{secrets.token_hex(6)}.tmp")
        try:
            os.close(os.open(name, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
            return name
        except FileExistsError:
            continue
        except OSError as exc:
            raise ToolError(f"cannot write in {target.parent}: {exc.strerror or exc}", retryable=False) from None
    raise ToolError(f"cannot create a temporary file in {target.parent}", retryable=False)


def _write_format(frame: Any, temp: str, fmt: Format, index: bool, options: dict) -> None:
    kwargs = {**fmt.defaults, **options}
    if fmt.name == "csv":
        frame.to_csv(temp, index=index, compression=fmt.compression, **kwargs)
    elif fmt.name == "json":
        kwargs.setdefault("orient", "records")
        kwargs.setdefault("date_format", "iso")
        if kwargs.get("lines"):
            kwargs["orient"] = "records"
        data = frame.reset_index() if index else frame
        if kwargs["orient"] in ("split", "table"):
            kwargs["index"] = False
        data.to_json(temp, compression=fmt.compression, **kwargs)
    else:
        compression = kwargs.pop("compression", "snappy")
        frame.to_parquet(temp, index=index, compression=None if compression == "none" else compression)


def _move_into_place(temp: str, target: Path, overwrite: bool) -> None:
    if overwrite:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)  # fails if target exists: the no-overwrite check is atomic
    except FileExistsError:
        raise ToolError(f"file exists: {target} (set `overwrite: true` to replace it)", retryable=False) from None
    except OSError:
        # a file system without hard links: check, then move
        if target.exists():
            raise ToolError(f"file exists: {target} (set `overwrite: true` to replace it)", retryable=False) from None
        os.replace(temp, target)


def write_sqlite(frame: Any, target: Path, table: str, if_exists: str, index: bool, options: dict) -> None:
    """Write ``frame`` to ``table`` in the SQLite database file ``target`` (created if missing).

    Args:
        frame: the DataFrame (datetimes are stored as ISO text).
        target: the database file.
        table: table name.
        if_exists: ``fail``, ``replace`` or ``append``.
        index: write the index as a column.
        options: ``dtype`` (column → SQL type) and ``chunksize``.

    Raises:
        ToolError: (not retryable) the table exists and ``if_exists`` is ``fail``, the file is
            not a database, or SQLite's error.
    """
    if if_exists not in ("fail", "replace", "append"):
        raise ToolError(f"`if_exists` must be fail, replace or append, got {if_exists!r}", retryable=False)
    if target.is_dir():
        raise ToolError(f"{target} is a folder; `path` must name a database file", retryable=False)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ToolError(f"cannot create the folder {target.parent}: {exc.strerror or exc}", retryable=False) from None
    try:
        conn = sqlite3.connect(str(target), timeout=30)
    except sqlite3.Error as exc:
        raise ToolError(f"cannot open the SQLite database {target}: {exc}", retryable=False) from None
    try:
        with conn:  # commit on success, roll back what is still open on failure
            frame.to_sql(table, conn, if_exists=if_exists, index=index, **options)
    except ValueError as exc:
        if "already exists" in str(exc):
            raise ToolError(f"table `{table}` already exists in {target} (set `if_exists: replace` or "
                            "`append`)", retryable=False) from None
        raise ToolError(f"cannot write table `{table}` to {target}: {exc}", retryable=False) from None
    except Exception as exc:  # noqa: BLE001 - sqlite3 and pandas errors
        raise ToolError(f"cannot write table `{table}` to {target}: {sqlite_error_text(exc)}",
                        retryable=False) from None
    finally:
        conn.close()
