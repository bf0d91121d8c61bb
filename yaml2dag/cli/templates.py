"""``yaml2dag templates [NAME]``: the built-in workflow templates (issue #4), without Dagster.

Without a name it lists every template with its description, tags and parameters; with a
name (the template's name, job id or file stem, case-insensitive) it prints that template's
YAML, comments included, ready to read or to redirect into a file. ``--format json`` prints
the same as one JSON document. Copies are made by ``yaml2dag create NAME --from-template T``.
"""

from __future__ import annotations

from typing import Any

import click

from yaml2dag.cli.output import FORMAT_OPTION, console, fail, print_json
from rich.markup import escape
from rich.table import Table
from yaml2dag.cli.catalog import _parameter_json
from yaml2dag.cli.planview import parameter_rows
from yaml2dag.format.errors import WorkflowNotFoundError
from yaml2dag.library.workflow_templates import find_template, list_templates, template_text


def _template_json(info: Any) -> dict[str, Any]:
    return {
        "name": info.name,
        "id": info.workflow.id if info.workflow is not None else None,
        "file": info.file,
        "description": info.description,
        "tags": list(info.tags),
        "parameters": [_parameter_json(p) for p in info.parameters],
    }


@click.command()
@click.argument("name", required=False)
@FORMAT_OPTION
def templates(name: str | None, fmt: str) -> None:
    """List the built-in workflow templates, or print one template's YAML.

    NAME is a template's name ("Backup Files"), job id (backup_files) or file name. Make a
    copy in the definitions folder with
    `yaml2dag create "My Backup" --from-template "Backup Files" source=/data target=/backups`.
    """
    if name is not None:
        try:
            info = find_template(name)
        except WorkflowNotFoundError as exc:
            fail(str(exc))
        text = template_text(info.name)
        if fmt == "json":
            print_json({**_template_json(info), "yaml": text})
        else:
            click.echo(text, nl=not text.endswith("\n"))
        return

    found = list_templates()
    if fmt == "json":
        print_json({"templates": [_template_json(info) for info in found]})
        return

    out = console()
    if not found:
        out.print("no built-in templates are installed")
        return
    out.print(f"[bold]{len(found)} built-in workflow template(s)[/]")
    for info in found:
        out.print()
        out.print(f"[bold cyan]{escape(info.name)}[/]  [dim]{escape(info.file)}[/]")
        if info.description:
            out.print(f"  {escape(info.description)}")
        if info.tags:
            out.print(f"  [dim]tags: {escape(', '.join(info.tags))}[/]")
        if info.workflow is not None and info.parameters:
            table = Table(box=None, pad_edge=False, show_edge=False, padding=(0, 1))
            table.add_column("  Parameter", no_wrap=True)
            table.add_column("Type", no_wrap=True, style="dim")
            table.add_column("Default", overflow="fold", max_width=32)
            table.add_column("Description", overflow="fold", ratio=1)
            for row in parameter_rows(info.workflow):
                table.add_row("  " + escape(row[0]), *(escape(cell) for cell in row[1:]))
            out.print(table)
    out.print()
    out.print("Show a template's YAML: [bold]yaml2dag templates NAME[/]. Make a copy in the definitions "
              "folder: [bold]yaml2dag create NEW_NAME --from-template NAME \\[key=value ...][/]")
