"""Data assets of steps in Dagster (issue 14, part 2): asset specs and materializations.

A step's ``assets`` (:mod:`yaml2dag.format.assets`) become:

* :func:`asset_specs`: one :class:`dagster.AssetSpec` per asset key of a folder, grouped by
  workflow (``group_name`` = the job id), with ``deps`` on its upstream asset keys
  (:func:`yaml2dag.format.assets.asset_lineage`) and ``kinds`` from the file type. The code
  location declares them, so Dagster's Catalog lists them and its Lineage draws the edges.
  Keys that are only read (``deps``) and written by no step get a spec too (Dagster needs every
  upstream key in the asset graph to draw it).
* :func:`materializations`: when the step succeeds, one :class:`dagster.AssetMaterialization`
  per asset, with metadata read from what was written: ``path``, ``size (bytes)``, and for
  tables (CSV, Parquet, JSON lines, SQLite) ``rows``, ``columns`` and a markdown ``preview`` of
  the first :data:`PREVIEW_ROWS` rows; for a markdown or text file, a preview of its first
  lines; always ``workflow`` and ``step``. Reads are bounded: rows are counted only for files up
  to :data:`MAX_COUNT_BYTES` (Parquet and SQLite keep the count in their own metadata), the
  preview reads at most :data:`PREVIEW_ROWS` rows.

The op yields the materializations before its ``result`` output (Dagster's public way for an op
to report an asset that is not one of its outputs: "AssetMaterialization ... yielded from an op",
recorded in the run's event log and shown on the asset's page).
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import dagster as dg

from yaml2dag.dagster_internals import CachingRepositoryData
from yaml2dag.format.assets import SQLITE_TABLE, AssetDecl, asset_lineage, valid_key
from yaml2dag.format.expressions import render_value
from yaml2dag.format.model import Step, Workflow

#: Rows in the markdown preview of a table.
PREVIEW_ROWS = 5
#: Lines in the preview of a markdown or text file.
PREVIEW_LINES = 40
#: Rows of CSV and JSON-lines files are counted only up to this size (bytes): a bounded read.
MAX_COUNT_BYTES = 256 * 1024 * 1024

_KINDS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".json": "json", ".jsonl": "json",
          ".ndjson": "json", ".md": "markdown", ".sqlite": "sqlite", ".db": "sqlite", ".sqlite3": "sqlite",
          ".tar": "file", ".gz": "file", ".zip": "file", ".txt": "file", ".xlsx": "excel"}
_TEXT = (".md", ".markdown", ".txt")


def _kinds(asset: AssetDecl) -> set[str]:
    if asset.table:
        return {"sqlite"}
    if asset.path:
        kind = _KINDS.get(Path(asset.path.split("}}")[-1]).suffix.lower())
        return {kind} if kind else set()
    return set()


def asset_specs(workflows: Iterable[tuple[Workflow, Any]]) -> list[dg.AssetSpec]:
    """The asset specs of ``workflows`` (``(workflow, plan or None)`` pairs).

    Returns:
        One spec per asset key (the first writer wins; validation warns on others), then one per
        key that steps only read; keys that are not valid asset keys are left out.
    """
    specs: dict[str, dg.AssetSpec] = {}
    read: dict[str, list[str]] = {}
    for workflow, plan in workflows:
        for step, asset, upstream in asset_lineage(workflow, plan):
            if not valid_key(asset.key) or asset.key in specs:
                continue
            where = asset.table or asset.path or "the path its step's tool reports"
            description = asset.description or f"Written by step `{step.id}` of the workflow {workflow.name!r}."
            specs[asset.key] = dg.AssetSpec(
                key=dg.AssetKey(asset.segments),
                deps=[dg.AssetKey(k.split("/")) for k in upstream],
                description=description,
                group_name=workflow.id,
                kinds=_kinds(asset),
                metadata={"workflow": workflow.name, "step": step.id, "location": where},
            )
            for key in upstream:
                read.setdefault(key, []).append(workflow.name)
    for key, names in read.items():
        if key not in specs:
            specs[key] = dg.AssetSpec(
                key=dg.AssetKey(key.split("/")),
                description=f"Read by {', '.join(sorted(set(names)))}; written by no step of this code location.")
    return list(specs.values())


# ------------------------------------------------------------------------------- materializations


def _render(template: str, scope: Mapping[str, Any]) -> str:
    value = render_value({"v": template}, scope)["v"]
    return str(value)


def locations(step: Step, scope: Mapping[str, Any], written: tuple[str, ...]) -> list[tuple[AssetDecl, str | None]]:
    """Where each asset of ``step`` is: its ``path`` or ``table`` rendered with ``scope`` (which
    holds the step's own result under its id), or the one path the tool wrote when the step
    declares one asset without either; None when unknown.

    Raises:
        TemplateError: a ``path`` or ``table`` template failed.
    """
    out: list[tuple[AssetDecl, str | None]] = []
    bare = [a for a in step.assets if not a.path and not a.table]
    for asset in step.assets:
        if asset.table:
            out.append((asset, _render(asset.table, scope)))
        elif asset.path:
            out.append((asset, _render(asset.path, scope)))
        elif len(bare) == 1 and len(written) == 1:
            out.append((asset, written[0]))
        else:
            out.append((asset, None))
    return out


def _frame_metadata(frame: Any, rows: int | None) -> dict[str, Any]:
    from yaml2dag.tools.data.frames import markdown_table  # pandas: only for tabular assets

    meta: dict[str, Any] = {}
    if rows is not None:
        meta["rows"] = dg.MetadataValue.int(rows)
    meta["columns"] = dg.MetadataValue.int(len(frame.columns))
    meta["column names"] = dg.MetadataValue.text(", ".join(str(c) for c in frame.columns))
    meta["preview"] = dg.MetadataValue.md(markdown_table(frame.head(PREVIEW_ROWS), note=False))
    return meta


def _count_lines(path: str, header: bool) -> int:
    count = 0
    last = b"\n"
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    if last != b"\n":
        count += 1
    return max(count - (1 if header else 0), 0)


def file_metadata(path: str) -> dict[str, Any]:
    """Metadata of a written file: ``path``, ``size (bytes)``; ``rows``, ``columns``, ``column
    names`` and ``preview`` of CSV/Parquet/JSON-lines files (bounded reads, see the module);
    ``preview`` of a markdown or text file's first :data:`PREVIEW_LINES` lines.

    Raises:
        OSError: the file cannot be read.
    """
    import pandas as pd  # heavy: only when a step declares a tabular asset

    size = os.path.getsize(path)
    meta: dict[str, Any] = {"path": dg.MetadataValue.path(path), "size (bytes)": dg.MetadataValue.int(size)}
    suffix = Path(path).suffix.lower()
    if os.path.isdir(path):
        return meta
    if suffix == ".csv":
        frame = pd.read_csv(path, nrows=PREVIEW_ROWS)
        rows = _count_lines(path, header=True) if size <= MAX_COUNT_BYTES else None
        meta.update(_frame_metadata(frame, rows))
    elif suffix in (".jsonl", ".ndjson"):
        frame = pd.read_json(path, lines=True, nrows=PREVIEW_ROWS)
        rows = _count_lines(path, header=False) if size <= MAX_COUNT_BYTES else None
        meta.update(_frame_metadata(frame, rows))
    elif suffix in (".parquet", ".pq"):
        import pyarrow.parquet as pq  # the Parquet engine pandas uses

        parquet = pq.ParquetFile(path)
        batch = next(parquet.iter_batches(batch_size=PREVIEW_ROWS), None)
        frame = batch.to_pandas() if batch is not None else parquet.schema_arrow.empty_table().to_pandas()
        meta.update(_frame_metadata(frame, parquet.metadata.num_rows))
    elif suffix in _TEXT:
        with open(path, encoding="utf-8", errors="replace") as fh:
            lines = [line for _, line in zip(range(PREVIEW_LINES), fh)]
        meta["preview"] = dg.MetadataValue.md("".join(lines))
    return meta


def table_metadata(location: str) -> dict[str, Any]:
    """Metadata of a SQLite table ``sqlite:///FILE#TABLE``: ``path`` (the database file),
    ``table``, ``size (bytes)`` (of the database file), ``rows`` (``SELECT COUNT(*)``),
    ``columns`` and a ``preview`` (``LIMIT`` :data:`PREVIEW_ROWS`).

    Raises:
        ValueError: ``location`` is not ``sqlite:///FILE#TABLE``.
        OSError, sqlite3.Error: the database or table cannot be read.
    """
    import pandas as pd  # heavy: only when a step declares a table

    match = SQLITE_TABLE.match(location)
    if match is None:
        raise ValueError(f"{location!r} is not sqlite:///FILE#TABLE")
    file, table = match["file"], match["table"]
    if not os.path.isfile(file):
        raise FileNotFoundError(file)
    uri = Path(os.path.abspath(file)).as_uri() + "?mode=ro"
    with sqlite3.connect(uri, uri=True) as conn:
        rows = conn.execute(f'SELECT COUNT(*) FROM "{table}"').fetchone()[0]
        frame = pd.read_sql_query(f'SELECT * FROM "{table}" LIMIT {PREVIEW_ROWS}', conn)
    meta: dict[str, Any] = {"path": dg.MetadataValue.path(os.path.abspath(file)), "table": table,
                            "size (bytes)": dg.MetadataValue.int(os.path.getsize(file))}
    meta.update(_frame_metadata(frame, int(rows)))
    return meta


def _masked(value: Any, mask: Callable[[str], str]) -> Any:
    if isinstance(value, str):
        return mask(value)
    if isinstance(value, dg.MetadataValue) and isinstance(getattr(value, "value", None), str):
        text = mask(value.value)
        if isinstance(value, dg.MarkdownMetadataValue):
            return dg.MetadataValue.md(text)
        if isinstance(value, dg.PathMetadataValue):
            return dg.MetadataValue.path(text)
        return dg.MetadataValue.text(text)
    return value


def materializations(context: Any, workflow: Workflow, step: Step, scope: Mapping[str, Any],
                     result: Mapping[str, Any], written: tuple[str, ...],
                     mask: Callable[[str], str] = lambda text: text) -> list[dg.AssetMaterialization]:
    """The materializations a succeeded step reports: one per asset of ``step``.

    Args:
        context: the op's context (warnings go to its log).
        workflow: the step's workflow (``workflow`` metadata).
        step: the step.
        scope: the template scope the step ran with.
        result: the step's result (added to the scope under the step id for ``path``/``table``).
        written: the paths the tool reported as written (:attr:`yaml2dag.tools.base.ToolResult.written`).
        mask: hides the workflow's secrets in a text (previews are read from the written data).

    Returns:
        The materializations; metadata that cannot be read is left out with a warning in the
        run's log (the materialization is still reported).
    """
    if not step.assets:
        return []
    full = dict(scope)
    full[step.id] = result
    try:
        found = locations(step, full, written)
    except Exception as exc:  # noqa: BLE001 - a bad template never fails a succeeded step
        context.log.warning(f"step `{step.id}`: could not render the location of its assets: {exc}")
        found = [(a, None) for a in step.assets]
    out = []
    for asset, where in found:
        meta: dict[str, Any] = {"workflow": workflow.name, "step": step.id}
        if where:
            try:
                if where.startswith("sqlite:///"):
                    meta.update(table_metadata(where))
                else:
                    meta.update(file_metadata(os.path.abspath(where)))
            except Exception as exc:  # noqa: BLE001 - metadata is best effort
                meta["location"] = where
                context.log.warning(f"asset `{asset.key}` of step `{step.id}`: could not read {where}: "
                                    f"{type(exc).__name__}: {exc}")
        else:
            context.log.warning(f"asset `{asset.key}` of step `{step.id}`: no `path` or `table`, and the tool "
                                f"reported {len(written)} written path(s); set `path` to get its metadata")
        out.append(dg.AssetMaterialization(asset_key=dg.AssetKey(asset.segments), description=asset.description or None,
                                           metadata={k: _masked(v, mask) for k, v in meta.items()}))
    return out


def lazy_repository(name: str, description: str, jobs: Mapping[str, Callable[[], dg.JobDefinition]],
                    schedules: Mapping[str, dg.ScheduleDefinition], sensors: Mapping[str, dg.SensorDefinition],
                    specs: list[dg.AssetSpec]) -> dg.RepositoryDefinition:
    """A repository whose jobs are built on first use (``jobs``: name -> callable) and which
    declares the asset ``specs`` (external assets: materialized by the steps' ops, never by
    Dagster itself).

    The specs are resolved into asset definitions by ``dagster.Definitions(assets=specs)``
    (public), whose repository data also holds Dagster's implicit asset job; the jobs, schedules
    and sensors are added beside them (:data:`yaml2dag.dagster_internals.CachingRepositoryData`).
    """
    assets = dg.Definitions(assets=specs).get_repository_def()
    all_jobs: dict[str, Any] = dict(jobs)
    for job_name in assets.job_names:
        all_jobs.setdefault(job_name, (lambda n: lambda: assets.get_job(n))(job_name))
    data = CachingRepositoryData(
        jobs=all_jobs, schedules=dict(schedules), sensors=dict(sensors), source_assets_by_key={},
        assets_defs_by_key=dict(assets.assets_defs_by_key), asset_checks_defs_by_key={},
        top_level_resources={}, utilized_env_vars={}, unresolved_partitioned_asset_schedules={},
        component_tree=None)
    return dg.RepositoryDefinition(name, repository_data=data, description=description)


__all__ = ["lazy_repository", "MAX_COUNT_BYTES", "PREVIEW_LINES", "PREVIEW_ROWS", "asset_specs", "file_metadata", "locations",
           "materializations", "table_metadata"]
