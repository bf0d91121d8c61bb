"""The ``read`` action: a file, a URL or a SQLite database into a DataFrame.

* ``path``: a local file; relative paths are relative to the working directory of the run
  (as for the ``shell`` tool), ``~`` is expanded.
* ``url``: an ``http://``/``https://`` URL, downloaded with ``requests`` (``headers``,
  ``timeout``); a 4xx answer fails at once, a 5xx answer or a connection error is retryable
  through the step's ``retry``.
* ``format``: ``csv``, ``json``, ``parquet`` or ``sqlite``; default from the suffix
  (``.csv``, ``.tsv``, ``.json``, ``.jsonl``, ``.parquet``, ``.sqlite``, ``.db``; ``.gz`` and other
  compression suffixes are looked through), then from a URL's ``Content-Type``.
* SQLite: ``table`` (a table or view) or ``query`` (with ``query_params`` for ``?``/``:name``
  placeholders), run on a read-only connection: a query cannot change the database.
"""

from __future__ import annotations

import io
import os
import re
import sqlite3
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from yaml2dag.format.durations import parse_duration
from yaml2dag.tools.base import ToolContext, ToolError, ToolResult
from yaml2dag.tools.data.formats import READ_OPTIONS, Format, check_options, require_parquet_engine, resolve_format
from yaml2dag.tools.data.frames import frame_result, rows_text, text_columns
from yaml2dag.format.schema import did_you_mean

#: Seconds a URL download may stall before it fails (``timeout`` overrides it).
DEFAULT_URL_TIMEOUT = 60.0
#: Largest download accepted from a URL, bytes.
MAX_DOWNLOAD_BYTES = 1 << 30

_ERRNO = re.compile(r"\[Errno -?\d+\] ([^'\")]+)")


def local_path(value: Any, what: str = "path") -> Path:
    """``value`` as an absolute path (``~`` expanded, relative to the working directory).

    Raises:
        ToolError: (not retryable) ``value`` is empty or not a string, or the file system refuses
            to look the path up ("cannot use the path /abs/path: File name too long").
    """
    if not isinstance(value, (str, os.PathLike)) or not str(value).strip():
        raise ToolError(f"`{what}` must be a file path, got {value!r}", retryable=False)
    path = Path(os.path.expanduser(str(value))).absolute()
    try:
        path.exists()  # a name too long or a folder that may not be searched: said here, not as a traceback
    except OSError as exc:
        raise ToolError(f"cannot use the path {path}: {exc.strerror or exc}", retryable=False) from None
    return path


def read(ctx: ToolContext, params: dict) -> ToolResult:
    """Read a table (see the module docstring).

    Args:
        ctx: the step's context (log, timeout, secrets for masking URLs).
        params: ``path`` or ``url``; ``format``, ``options``, ``table``/``query``/``query_params``
            (SQLite), ``headers``/``timeout`` (URL).

    Returns:
        ``output``: the DataFrame; fields ``rows`` (int) and ``columns`` (list of names);
        metadata ``rows``, ``columns`` (name → dtype), ``preview`` (markdown), ``source``, ``format``.

    Raises:
        ToolError: "file not found: /abs/path", an HTTP status or connection problem, a
            missing Parquet engine ("pip install pyarrow"), or the reader's own error, naming
            the file. Only network failures (connection, timeout, 5xx) are retryable.
    """
    has_path = params.get("path") not in (None, "")
    has_url = params.get("url") not in (None, "")
    if has_path == has_url:
        raise ToolError("set exactly one of `path` (a file) or `url` (http or https)", retryable=False)
    table, query = params.get("table"), params.get("query")
    if table is not None and query is not None:
        raise ToolError("set at most one of `table` or `query`", retryable=False)

    if has_url:
        url = str(params["url"])
        if not re.match(r"^https?://", url, re.I):
            raise ToolError(f"`url` must start with http:// or https://, got {ctx.mask(url)!r}", retryable=False)
        display = display_url(ctx, url)
        timeout = DEFAULT_URL_TIMEOUT
        if params.get("timeout") is not None:
            try:
                timeout = parse_duration(params["timeout"])
            except ValueError as exc:
                raise ToolError(f"`timeout`: {exc}", retryable=False) from None
        body, content_type = fetch(ctx, url, params.get("headers") or {}, timeout)
        fmt = resolve_format(params.get("format"), url, content_type)
        source: Any = None
    else:
        path = local_path(params["path"])
        display = str(path)
        if not path.exists():
            raise ToolError(f"file not found: {path}", retryable=False)
        if path.is_dir():
            raise ToolError(f"{path} is a folder, not a file", retryable=False)
        fmt = resolve_format(params.get("format"), str(path))
        body, source = None, str(path)

    options = check_options(params.get("options"), fmt.name, READ_OPTIONS)
    if fmt.name != "sqlite" and (table is not None or query is not None or params.get("query_params") is not None):
        raise ToolError(f"`table`, `query` and `query_params` apply to SQLite databases; {display} is read "
                        f"as {fmt.name} (set `format: sqlite` if it is a database)", retryable=False)

    if fmt.name == "sqlite":
        if table is None and query is None:
            raise ToolError(f"set `table` or `query` to read the SQLite database {display}", retryable=False)
        if body is not None:
            frame = _read_downloaded_sqlite(body, display, table, query, params.get("query_params"), options)
        else:
            frame = read_sqlite(Path(source), display, table, query, params.get("query_params"), options)
    else:
        frame = _read_file(fmt, source if body is None else io.BytesIO(body), display, options,
                           from_url=body is not None)
    frame = text_columns(frame)
    ctx.log.info(f"read {rows_text(len(frame))} × {len(frame.columns)} columns from {display} ({fmt.name})")
    return frame_result(frame, metadata={"source": display, "format": fmt.name})


def display_url(ctx: ToolContext, url: str) -> str:
    """``url`` as shown in messages and metadata: a password in it becomes ``***``, and so does
    every secret value."""
    parts = urlsplit(url)
    if parts.password:
        host = parts.netloc.rsplit("@", 1)[-1]
        url = urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
    return ctx.mask(url)


def fetch(ctx: ToolContext, url: str, headers: dict, timeout: float) -> tuple[bytes, str | None]:
    """GET ``url`` and return (body, Content-Type).

    Args:
        ctx: for the step's deadline and cancellation, and to mask secrets in messages.
        url: http(s) URL.
        headers: request headers (values turned into text).
        timeout: seconds the server may stay silent (connect, and between bytes).

    Raises:
        ToolError: "GET URL answered 404 Not Found" (retryable for 5xx, 408, 425, 429), a
            connection failure or a timeout (retryable), or a body over
            :data:`MAX_DOWNLOAD_BYTES` (not retryable).
    """
    # lazy: requests is heavy and optional here; kept off light paths
    import requests

    display = display_url(ctx, url)
    left = ctx.time_left()
    if left is not None:
        timeout = max(0.1, min(timeout, left))
    session = requests.Session()
    ctx.on_cancel(session.close)
    try:
        with session.get(url, headers={str(k): str(v) for k, v in headers.items()}, timeout=timeout,
                         stream=True) as resp:
            if resp.status_code >= 400:
                code = resp.status_code
                raise ToolError(f"GET {display} answered {code} {resp.reason or ''}".rstrip(),
                                {"status_code": code}, retryable=code >= 500 or code in (408, 425, 429))
            chunks: list[bytes] = []
            size = 0
            for chunk in resp.iter_content(chunk_size=1 << 16):
                size += len(chunk)
                if size > MAX_DOWNLOAD_BYTES:
                    raise ToolError(f"GET {display}: the body is larger than {MAX_DOWNLOAD_BYTES:,} bytes",
                                    retryable=False)
                if ctx.cancelled:
                    raise ToolError(f"GET {display} was stopped")
                chunks.append(chunk)
            return b"".join(chunks), resp.headers.get("Content-Type")
    except ToolError:
        raise
    except requests.exceptions.Timeout:
        raise ToolError(f"GET {display} timed out after {timeout:g}s") from None
    except requests.exceptions.ConnectionError as exc:
        match = _ERRNO.search(str(exc))
        reason = match.group(1).strip() if match else str(exc).splitlines()[0][:200]
        raise ToolError(f"cannot connect to {display}: {ctx.mask(reason)}") from None
    except requests.exceptions.RequestException as exc:
        raise ToolError(f"GET {display} failed: {ctx.mask(str(exc))[:300]}", retryable=False) from None
    finally:
        session.close()


def _reader_error(display: str, fmt: str, exc: Exception) -> ToolError:
    text = str(exc).strip()
    detail = text.splitlines()[0] if text else type(exc).__name__
    hint = ""
    if isinstance(exc, UnicodeDecodeError):
        hint = " (set `options.encoding`, e.g. latin-1)"
    elif fmt == "json" and "Trailing data" in text:
        hint = " (one record per line? set `options.lines: true`)"
    return ToolError(f"cannot read {display} as {fmt}: {type(exc).__name__}: {detail}{hint}", retryable=False)


def _read_file(fmt: Format, source: Any, display: str, options: dict, *, from_url: bool) -> Any:
    """CSV, JSON or Parquet from a path or a byte buffer."""
    # lazy: pandas is heavy and optional here; kept off light paths
    import pandas as pd

    kwargs = {**fmt.defaults, **options}
    if from_url and fmt.name in ("csv", "json"):
        kwargs.setdefault("compression", fmt.compression)
    try:
        if fmt.name == "csv":
            return pd.read_csv(source, **kwargs)
        if fmt.name == "json":
            return pd.read_json(source, **kwargs)
        require_parquet_engine("reading")
        if "usecols" in kwargs:
            kwargs["columns"] = kwargs.pop("usecols")
        return pd.read_parquet(source, **kwargs)
    except ToolError:
        raise
    except FileNotFoundError:
        raise ToolError(f"file not found: {display}", retryable=False) from None
    except PermissionError:
        raise ToolError(f"permission denied reading {display}", retryable=False) from None
    except Exception as exc:  # noqa: BLE001 - every reader error is reported with the file's name
        raise _reader_error(display, fmt.name, exc) from None


def read_sqlite(db: Path, display: str, table: str | None, query: str | None,
                query_params: Any, options: dict) -> Any:
    """Read a table/view or run a query on a read-only connection to the SQLite file ``db``.

    Args:
        db: the database file (must exist).
        display: how messages name it.
        table: a table or view name (quoted as an identifier), or None.
        query: an SQL query, or None; exactly one of ``table``/``query`` is set.
        query_params: values for ``?`` (a list) or ``:name`` (a mapping) placeholders.
        options: ``parse_dates``, ``dtype``, ``index_col``, ``nrows`` (rows kept, via ``LIMIT``).

    Raises:
        ToolError: (not retryable) not a database, unknown table (with "did you mean"), or the
            query's error (a write: "attempt to write a readonly database").
    """
    # lazy: pandas is heavy and optional here; kept off light paths
    import pandas as pd

    options = dict(options)
    nrows = options.pop("nrows", None)
    what = f"table `{table}`" if table is not None else "the query"
    try:
        conn = sqlite3.connect(db.absolute().as_uri() + "?mode=ro", uri=True, timeout=30)
    except sqlite3.Error as exc:
        raise ToolError(f"cannot open the SQLite database {display}: {exc}", retryable=False) from None
    try:
        if table is not None:
            names = [row[0] for row in conn.execute(
                "SELECT name FROM sqlite_master WHERE type IN ('table', 'view') ORDER BY name")]
            if table not in names:
                raise ToolError(f"table `{table}` not found in {display}{did_you_mean(table, names)} "
                                f"(tables: {', '.join(names) or 'none'})", retryable=False)
            sql = 'SELECT * FROM "' + table.replace('"', '""') + '"'
        else:
            sql = str(query).strip().rstrip(";").strip()
        if nrows is not None:
            sql = f"SELECT * FROM ({sql}) LIMIT {int(nrows)}"
        params = tuple(query_params) if isinstance(query_params, list) else query_params
        return pd.read_sql_query(sql, conn, params=params, **options)
    except ToolError:
        raise
    except Exception as exc:  # noqa: BLE001 - sqlite3 and pandas errors, reported with the file
        raise ToolError(f"cannot read {what} from the SQLite database {display}: {sqlite_error_text(exc)}",
                        retryable=False) from None
    finally:
        conn.close()


def sqlite_error_text(exc: Exception) -> str:
    """The reason of a sqlite3 or pandas SQL error, on one line.

    Args:
        exc: the error raised by ``sqlite3`` or by pandas' ``read_sql_query``/``to_sql``.

    Returns:
        Its first line without pandas' ``Execution failed on sql '...': `` prefix (whose SQL may
        span lines), e.g. ``no such column: nope``; the error's type name when it has no text.
    """
    text = re.sub(r"^Execution failed on sql '.*?': ", "", str(exc).strip(), flags=re.S)
    return text.splitlines()[0] if text else type(exc).__name__


def _read_downloaded_sqlite(body: bytes, display: str, table: str | None, query: str | None,
                            query_params: Any, options: dict) -> Any:
    handle, name = tempfile.mkstemp(prefix="yaml2dag-", suffix=".sqlite")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(body)
        return read_sqlite(Path(name), display, table, query, query_params, options)
    finally:
        try:
            os.unlink(name)
        except OSError:
            pass
