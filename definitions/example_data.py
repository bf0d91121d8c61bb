"""Python steps of the example workflows of this folder (called by the `python` tool).

Each example works on real input that ships or that it makes itself: the seattle-weather.csv
file shipped offline by the vega_datasets package (1,461 daily observations, 2012-2015), and
files it writes into a temporary folder (``$TMPDIR``, else /tmp) when no folder is given.
No function here imports Dagster or yaml2dag; each returns plain data (paths, numbers, lists
and mappings), which is what a step result should hold.
"""

from __future__ import annotations

import os
import sqlite3
import tempfile
import time
from pathlib import Path

import pandas as pd


def seattle_weather_csv(path: str = "") -> str:
    """The CSV file to read: ``path``, or the seattle-weather.csv shipped by vega_datasets.

    Args:
        path: a CSV file with the columns date, precipitation (mm), temp_max, temp_min (°C),
            wind (m/s) and weather; empty means the shipped one.

    Returns:
        The file's absolute path.

    Raises:
        FileNotFoundError: ``path`` does not exist.
    """
    if not path:
        from vega_datasets import local_data

        path = local_data.seattle_weather.filepath
    found = Path(path).expanduser()
    if not found.is_file():
        raise FileNotFoundError(f"no such CSV file: {path}")
    return str(found.resolve())


def quarterly_weather_files(folder: str = "") -> str:
    """A folder of CSV files to process: ``folder``, or a new temporary folder holding the
    Seattle observations split into one file per quarter (``seattle-2012-Q1.csv`` ...
    ``seattle-2015-Q4.csv``: 16 files of 90-92 rows each, with the header).

    Args:
        folder: an existing folder to use as it is; empty makes the sample folder
            (``yaml2dag-quarters-XXXXXXXX`` under $TMPDIR, kept after the run).

    Returns:
        The folder's absolute path.

    Raises:
        NotADirectoryError: ``folder`` is not an existing folder.
    """
    if folder:
        found = Path(folder).expanduser()
        if not found.is_dir():
            raise NotADirectoryError(f"no such folder: {folder}")
        return str(found.resolve())
    target = Path(tempfile.mkdtemp(prefix="yaml2dag-quarters-"))
    frame = pd.read_csv(seattle_weather_csv(), parse_dates=["date"])
    for (year, quarter), rows in frame.groupby([frame["date"].dt.year, frame["date"].dt.quarter]):
        rows.to_csv(target / f"seattle-{year}-Q{quarter}.csv", index=False, date_format="%Y-%m-%d")
    return str(target)


#: The sample log files of "Clean Up Old Logs": name → age in days.
SAMPLE_LOGS = {"app-01.log": 45, "app-02.log": 31, "app-03.log": 20, "app-04.log": 3, "app-05.log": 0,
               "worker-01.log": 60, "worker-02.log": 1}


def sample_log_folder(folder: str = "") -> str:
    """A folder of log files to clean: ``folder``, or a new temporary folder with the files of
    :data:`SAMPLE_LOGS`, each last modified that many days ago.

    Args:
        folder: an existing folder to use as it is; empty makes the sample folder
            (``yaml2dag-logs-XXXXXXXX`` under $TMPDIR).

    Returns:
        The folder's absolute path.

    Raises:
        NotADirectoryError: ``folder`` is not an existing folder.
    """
    if folder:
        found = Path(folder).expanduser()
        if not found.is_dir():
            raise NotADirectoryError(f"no such folder: {folder}")
        return str(found.resolve())
    target = Path(tempfile.mkdtemp(prefix="yaml2dag-logs-"))
    now = time.time()
    for name, days in SAMPLE_LOGS.items():
        path = target / name
        path.write_text(f"{name}: sample log line\n" * 100, encoding="utf-8")
        stamp = now - days * 86400
        os.utime(path, (stamp, stamp))
    return str(target)


def _registry(database: str) -> sqlite3.Connection:
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(database, timeout=30)
    connection.execute("CREATE TABLE IF NOT EXISTS teams (team TEXT PRIMARY KEY, owner TEXT NOT NULL, "
                       "workspace TEXT NOT NULL, created_at TEXT NOT NULL DEFAULT CURRENT_TIMESTAMP)")
    return connection


def register_team(database: str, team: str, owner: str, workspace: str) -> dict:
    """Add ``team`` to the team registry, a SQLite database (table ``teams``).

    Args:
        database: the SQLite file (created with its table when missing).
        team, owner, workspace: the row's values.

    Returns:
        ``{"team", "owner", "workspace", "teams"}``: the row and the number of registered teams.

    Raises:
        ValueError: the team is registered already.
    """
    with _registry(database) as connection:
        try:
            connection.execute("INSERT INTO teams (team, owner, workspace) VALUES (?, ?, ?)", (team, owner, workspace))
        except sqlite3.IntegrityError:
            raise ValueError(f"team {team!r} is registered already in {database}") from None
        count = connection.execute("SELECT COUNT(*) FROM teams").fetchone()[0]
    connection.close()
    return {"team": team, "owner": owner, "workspace": workspace, "teams": count}


def unregister_team(database: str, team: str) -> dict:
    """Remove ``team`` from the team registry (the compensation of :func:`register_team`).

    Returns:
        ``{"team", "removed"}``: removed is the number of rows deleted (0 or 1).
    """
    with _registry(database) as connection:
        removed = connection.execute("DELETE FROM teams WHERE team = ?", (team,)).rowcount
    connection.close()
    return {"team": team, "removed": removed}


def load_csv_into_sqlite(path: str, database: str, table: str = "readings") -> dict:
    """Append the rows of the CSV file ``path`` to ``table`` of the SQLite ``database``, each
    with the file's name in a ``source_file`` column; a file loaded before is replaced (its old
    rows are deleted first), so loading the same file twice does not duplicate it.

    Args:
        path: the CSV file (with a header line).
        database: the SQLite file (created when missing).
        table: the table (created from the first file's columns).

    Returns:
        ``{"file": name, "rows": rows loaded, "columns": [...]}``.

    Raises:
        ValueError: the file has no rows, or columns the table lacks.
    """
    frame = pd.read_csv(path)
    if frame.empty:
        raise ValueError(f"{path} has no rows")
    name = os.path.basename(path)
    frame.insert(0, "source_file", name)
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    connection = sqlite3.connect(database, timeout=30)
    try:
        with connection:
            exists = connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                                        (table,)).fetchone()
            if exists:
                known = [row[1] for row in connection.execute(f'PRAGMA table_info("{table}")')]
                extra = [c for c in frame.columns if c not in known]
                if extra:
                    raise ValueError(f"{name} has columns the table {table} lacks: {extra}")
                connection.execute(f'DELETE FROM "{table}" WHERE source_file = ?', (name,))
            frame.to_sql(table, connection, if_exists="append", index=False)
    finally:
        connection.close()
    return {"file": name, "rows": len(frame), "columns": [c for c in frame.columns if c != "source_file"]}
