"""``yaml2dag export`` and ``yaml2dag import``: a workflow out of, and into, the library."""

from __future__ import annotations

from pathlib import Path

import click

from yaml2dag.cli.library.common import _commit, _fail, _library, _out, _report_change
from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand
from yaml2dag.format.errors import WorkflowNotFoundError
from yaml2dag.format.validation import validate_text
from yaml2dag.library.folder import Library
from yaml2dag.library.roundtrip import RoundTripDocument, is_json_path, to_json, to_yaml
from yaml2dag.library.versions.checks import version_of
from yaml2dag.library.versions.numbering import is_newer, next_version
from yaml2dag.library.versions.store import archived
from yaml2dag.library.versions.writes import LibraryWriteError, check_writable_target


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@click.option("--file", "file", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="YAML (the file as it is, comments included) or JSON (the data).")
@click.option("--force", is_flag=True, help="Overwrite --file if it exists.")
def export(name: str, file: str | None, fmt: str, force: bool) -> None:
    """Write workflow NAME as YAML or JSON (to stdout, or --file). With --format json, errors
    are a JSON document too ({"error": ...})."""
    errors_as = "json" if fmt == "json" else "text"
    try:
        report = Library().find(name)
    except WorkflowNotFoundError as exc:
        _fail(errors_as, str(exc), 2)
    doc = report.document
    if doc.data is None:
        _fail(errors_as, f"{report.file} does not parse; nothing to export", 1, report.errors)
    if fmt == "json":
        text = to_json(doc.data)
    else:
        text = to_yaml(doc.data) if is_json_path(report.file) else doc.text
    if file:
        try:
            check_writable_target(file, force)
        except LibraryWriteError as exc:
            _fail(errors_as, str(exc), 2)
        Path(file).write_text(text, encoding="utf-8")
        click.echo(f"wrote {report.workflow.name if report.workflow else report.file} to {file}", err=True)
    else:
        click.echo(text, nl=False)


@click.command("import", cls=JsonErrorsCommand)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", "new_name", default=None, help="Import under this workflow name (the job id follows it).")
@click.option("--force", is_flag=True, help="Replace the library workflow of the same name or job id.")
@FORMAT_OPTION
def import_(file: str, new_name: str | None, force: bool, fmt: str) -> None:
    """Add the workflow FILE (YAML or JSON; JSON is converted to YAML) to the definitions
    folder as <job id>.yaml. It is validated first, with the folder. An existing workflow of
    the same name or job id is only replaced with --force (its file is kept as a version)."""
    library = _library(fmt)
    out = _out(fmt)
    try:
        doc = RoundTripDocument.from_file(file)
    except (ValueError, UnicodeDecodeError) as exc:
        _fail(fmt, f"{file}: {exc}", 1)
    if new_name:
        doc.set_top("name", new_name)
        doc.remove_top("id")
    text = to_yaml(doc.data) if is_json_path(file) else doc.dump()
    alone = validate_text(text, file)
    if not alone.valid:
        _fail(fmt, f"{file} is not a valid workflow; nothing was imported", 1, alone.errors)
    wf = alone.workflow
    existing = None
    for other in library.reports():
        owf = other.workflow
        if owf is not None and (owf.name.casefold() == wf.name.casefold() or owf.id == wf.id):
            existing = other
            break
    if existing is not None:
        if not force:
            _fail(fmt, f"the library already has {existing.workflow.name!r} ({existing.file}); use --force to replace "
                       "it, or --name NEW to import a copy", 1)
        target = Path(existing.file)
        current = version_of(target.read_text(encoding="utf-8"))
        known = [v.version.split("+")[0] for v in archived(library.folder, existing.workflow.id)]
        wanted = version_of(text)
        if wanted != current and (wanted in known or is_newer(wanted, current) is False):
            bumped = next_version(current, known)
            out.print(f"note: the imported version {wanted} is not newer than {current}; saving it as {bumped}",
                      style="yellow", markup=False)
            doc2 = RoundTripDocument(text)
            doc2.set_top("version", bumped)
            text = doc2.dump()
        change = _commit(fmt, library, target, text, "import")
    else:
        target = library.folder / f"{wf.id}.yaml"
        change = _commit(fmt, library, target, text, "import", create=True, bump=False)
    _report_change(fmt, change, out if fmt == "text" else None)
