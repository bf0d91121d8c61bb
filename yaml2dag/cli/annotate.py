"""``yaml2dag annotate RUN_ID TEXT``: record who said what about a run, and when (issue 15, point 4)."""

from __future__ import annotations

import click

from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand, console, fail_as, print_json
from yaml2dag.library.folder import Library
from yaml2dag.runs.history.annotations import annotate_run
from yaml2dag.runs.history.common import RunNotFoundError
from yaml2dag.runs.runner import get_instance


@click.command(cls=JsonErrorsCommand)
@click.argument("run_id")
@click.argument("text")
@click.option("--by", default=None, help="Who says it (default: $YAML2DAG_USER or the login name).")
@FORMAT_OPTION
def annotate(run_id: str, text: str, by: str | None, fmt: str) -> None:
    """Add an annotation (TEXT, who, when) to RUN_ID, running or finished.

    It is stored in the run's event log in the Dagster instance ($DAGSTER_HOME), so the Dagster
    UI shows it in the run's log, and `status`, `events` and `audit` show it; values of the
    secrets the run's workflow uses are masked. RUN_ID may be a unique prefix (at least 6
    characters). Exits 0 when recorded, 1 for an unknown run, 2 for an empty TEXT.
    """
    library = Library()
    try:
        note = annotate_run(get_instance(), run_id, text, by=by, library=library if library.folder.is_dir() else None)
    except RunNotFoundError as exc:
        fail_as(fmt, str(exc), 1)
    except ValueError as exc:
        fail_as(fmt, f"TEXT: {exc}", 2)
    if fmt == "json":
        print_json(note)
        return
    console().print(f"annotated run {note['run_id']} as {note['by']} at {note['at']}", markup=False)
