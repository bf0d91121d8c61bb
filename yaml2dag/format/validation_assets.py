"""Checks of the data assets steps declare (issue 14, part 2; :mod:`yaml2dag.format.assets`).

The JSON Schema checks each key's syntax (``/``-separated segments of ``[A-Za-z0-9_]``, the
characters Dagster allows in an asset key segment) and that an asset has at most one of
``path`` and ``table``. Across the files of a folder (and within one file), two steps that write
the same asset key are reported as a warning on the later one: the code location declares one
asset spec per key, which then has two writers, and its Lineage shows only the first.

Nothing here imports Dagster.
"""

from __future__ import annotations

from yaml2dag.format.assets import iter_steps
from yaml2dag.format.errors import WARNING
from yaml2dag.format.validation_report import FileReport


def asset_writer_problems(reports: list[FileReport]) -> None:
    """Warn, in place, on each step that writes an asset key an earlier step (of this file or
    an earlier file of ``reports``) already writes."""
    writers: dict[str, tuple[str, str]] = {}  # key -> (file, step id)
    for report in reports:
        wf = report.workflow
        if wf is None:
            continue
        for step in iter_steps(wf.steps):
            for asset in step.assets:
                first = writers.get(asset.key)
                if first is None:
                    writers[asset.key] = (report.file, step.id)
                    continue
                where = "this file" if first[0] == report.file else first[0]
                report.problems.append(report.document.problem(
                    asset.doc_path + ("key",),
                    f"asset `{asset.key}` is also written by step `{first[1]}` of {where}; "
                    "each asset key should have one writer (give one of them another key)",
                    "duplicate", severity=WARNING))
