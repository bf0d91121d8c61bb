"""``yaml2dag validate [PATH ...]``: the linter (spec §8)."""

from __future__ import annotations

import click

from yaml2dag.cli.output import console, print_json
from yaml2dag.format.sarif import sarif_log
from yaml2dag.format.validation import validate_paths
from yaml2dag.library.folder import definitions_dir


@click.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, dir_okay=True, file_okay=True))
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "sarif"]), default="text", show_default=True,
    help="Output for people (text), scripts (json) or GitHub code scanning (sarif: SARIF 2.1.0).",
)
def validate(paths: tuple[str, ...], fmt: str) -> None:
    """Check workflow files and folders (default: the definitions folder).

    Prints every problem as FILE:LINE:COLUMN: PATH: MESSAGE [rule]. Exits 0 when every file
    is valid, 1 when any is invalid, 2 on usage errors. --format sarif prints a SARIF 2.1.0 log
    whose file URIs are relative to the current directory (run it from the repository root).
    """
    if not paths:
        folder = definitions_dir()
        if not folder.is_dir():
            raise click.UsageError(f"no paths given and the definitions folder {folder} does not exist")
        paths = (str(folder),)
    report = validate_paths(list(paths))
    if fmt == "json":
        print_json(report.to_json())
        raise SystemExit(0 if report.valid else 1)
    if fmt == "sarif":
        print_json(sarif_log(report.problems))
        raise SystemExit(0 if report.valid else 1)
    out = console()
    for problem in report.problems:
        style = "yellow" if problem.severity == "warning" else "red"
        out.print(problem.format(), style=style, markup=False)
    files = len(report.files)
    invalid = sum(1 for f in report.files if not f.valid)
    errors = sum(len(f.errors) for f in report.files)
    warnings = sum(len(f.warnings) for f in report.files)
    if files == 0:
        out.print("no workflow files found", style="yellow")
    elif report.valid:
        extra = f", {warnings} warning(s)" if warnings else ""
        out.print(f"✓ {files} workflow file(s) valid{extra}", style="green")
    else:
        out.print(f"✗ {invalid} of {files} workflow file(s) invalid: {errors} error(s), {warnings} warning(s)",
                  style="red")
    raise SystemExit(0 if report.valid else 1)
