"""The line after ``yaml2dag run`` that points to ``yaml2dag optimize`` (issue 12 §2).

Its own module so that ``run`` does not import the ``optimize`` command and the library editing
it brings (about 0.19 s of imports on every run, ``python -X importtime``); it needs only the
library folder, the advice count and the instance.
"""

from __future__ import annotations

import shlex

from rich.markup import escape

from yaml2dag.library.folder import Library
from yaml2dag.library.versions.writes import LibraryWriteError, inside
from yaml2dag.optimize import pending_advice
from yaml2dag.runs.runner import get_instance


def hint_pending_advice(out, file_report) -> None:
    """After ``yaml2dag run``: one line pointing to ``yaml2dag optimize NAME`` when the last
    :data:`~yaml2dag.optimize.PENDING_RUNS` runs of the workflow give advice (nothing otherwise,
    and nothing for a workflow outside the definitions folder, such as a built-in template)."""
    wf = file_report.workflow
    library = Library()
    try:
        inside(library.folder, file_report.file)
    except LibraryWriteError:
        return  # `optimize` works on the library's workflows
    try:
        count = pending_advice(file_report, get_instance())
    except Exception as exc:  # noqa: BLE001 - a hint must never turn a finished run into a traceback
        out.print(f"(advice from the last runs not checked: {exc})", style="dim", markup=False)
        return
    if count:
        out.print(f"[yellow]→[/] {count} piece(s) of advice from the last runs: "
                  f"yaml2dag optimize {escape(shlex.quote(wf.name))}", highlight=False)
