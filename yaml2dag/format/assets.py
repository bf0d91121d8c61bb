"""Data assets a step declares (issue 14, part 2): ``assets`` and ``deps`` of a step.

A step's ``assets`` lists the data assets it writes, each a Dagster asset key with where it can
be found (``path``: a file; ``table``: ``sqlite:///FILE#TABLE``); its ``deps`` lists the asset
keys it reads (Dagster's ``deps`` of an asset spec). The code location declares one
:class:`dagster.AssetSpec` per key (:mod:`yaml2dag.compiler.assets`) and the step reports an
asset materialization of each when it succeeds.

Nothing here imports Dagster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

DocPath = tuple

#: An asset key as yaml2dag writes it: ``/``-separated segments of ``[A-Za-z0-9_]`` (Dagster's
#: rule for asset key segments, ``is_valid_asset_key_segment`` of Dagster's asset key module,
#: with ``/`` as Dagster's own string separator, ``AssetKey.from_user_string``).
ASSET_KEY = re.compile(r"^[A-Za-z0-9_]+(/[A-Za-z0-9_]+)*$")
#: ``sqlite:///FILE#TABLE``: an SQLAlchemy SQLite URL (three slashes, then the file path) and the
#: table name after ``#``.
SQLITE_TABLE = re.compile(r"^sqlite:///(?P<file>.+)#(?P<table>[A-Za-z_][A-Za-z0-9_]*)$")


@dataclass(frozen=True)
class AssetDecl:
    """One item of a step's ``assets``.

    Attributes:
        key: the asset key, ``/``-separated (``weather/seattle_report``).
        path: the file written (a template), or None.
        table: ``sqlite:///FILE#TABLE`` (a template), or None.
        description: shown on the asset's page.
        deps: asset keys this asset is made from, besides the step's ``deps``.
        doc_path: where the item is in the document.
    """

    key: str
    path: str | None = None
    table: str | None = None
    description: str = ""
    deps: tuple[str, ...] = ()
    doc_path: DocPath = ()

    @property
    def segments(self) -> list[str]:
        """The key's segments: ``["weather", "seattle_report"]``."""
        return self.key.split("/")


def valid_key(key: Any) -> bool:
    """Whether ``key`` is a string asset key (:data:`ASSET_KEY`)."""
    return isinstance(key, str) and bool(ASSET_KEY.match(key))


def _keys(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    return tuple(v for v in value if isinstance(v, str))


def build_assets(value: Any, path: DocPath) -> tuple[AssetDecl, ...]:
    """The ``assets`` of a step; items of the wrong shape are skipped (the schema reports them)."""
    if not isinstance(value, list):
        return ()
    out = []
    for i, item in enumerate(value):
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            continue
        out.append(AssetDecl(
            key=item["key"],
            path=item["path"] if isinstance(item.get("path"), str) else None,
            table=item["table"] if isinstance(item.get("table"), str) else None,
            description=item["description"] if isinstance(item.get("description"), str) else "",
            deps=_keys(item.get("deps")),
            doc_path=path + ("assets", i),
        ))
    return tuple(out)


def build_deps(value: Any) -> tuple[str, ...]:
    """The ``deps`` of a step (asset keys it reads)."""
    return _keys(value)


def iter_steps(entries: Iterable[Any]) -> Iterator[Any]:
    """Every step of ``entries`` (groups, branches and switches walked), in file order."""
    for entry in entries:
        kind = getattr(entry, "kind", "")
        if kind == "step":
            yield entry
        elif kind == "parallel":
            yield from iter_steps(entry.entries)
        elif kind in ("branch", "switch"):
            for _side, side_entries, _path in entry.sides:
                yield from iter_steps(side_entries)


def asset_lineage(workflow: Any, plan: Any = None) -> list[tuple[Any, AssetDecl, tuple[str, ...]]]:
    """The assets a workflow writes, each with its upstream asset keys.

    An asset written by step S is downstream of: its own ``deps``; the ``deps`` of S and of
    every step S waits for (``plan.ancestors``), and the assets those steps write. Without a
    plan only the asset's and its step's ``deps`` count.

    Returns:
        ``[(step, asset, upstream keys), ...]`` in file order; keys are unique, the asset's own
        key excluded.
    """
    steps = list(iter_steps(workflow.steps))
    by_id = {s.id: s for s in steps}
    out = []
    for step in steps:
        if not step.assets:
            continue
        before: list[Any] = []
        if plan is not None and step.id in plan.nodes:
            before = [by_id[n] for n in sorted(plan.ancestors(step.id)) if n in by_id]
        for asset in step.assets:
            keys: list[str] = list(asset.deps) + list(step.deps)
            for other in before:
                keys += list(other.deps) + [a.key for a in other.assets]
            unique = tuple(dict.fromkeys(k for k in keys if k != asset.key and valid_key(k)))
            out.append((step, asset, unique))
    return out
