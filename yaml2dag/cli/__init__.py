"""The ``yaml2dag`` command line (click + rich): a thin face over the library API.

Subcommands live in their own modules and are imported only when invoked, so ``validate``,
``list``, ``show`` and ``schema`` never import Dagster. Exit codes: 0 success, 1 invalid
workflow or failed run, 2 usage errors (and, for ``run``, invalid workflow or parameters:
nothing ran).
"""

from __future__ import annotations

import importlib

import click

#: command name → (module, attribute), imported on first use.
COMMANDS = {
    "validate": ("yaml2dag.cli.validate", "validate"),
    "schema": ("yaml2dag.cli.catalog", "schema"),
    "list": ("yaml2dag.cli.catalog", "list_"),
    "show": ("yaml2dag.cli.catalog", "show"),
    "run": ("yaml2dag.cli.run", "run"),
    "dev": ("yaml2dag.cli.dev", "dev"),
    "status": ("yaml2dag.cli.status", "status"),
    "approve": ("yaml2dag.cli.approve", "approve"),
    "reject": ("yaml2dag.cli.approve", "reject"),
}

HELP = {
    "validate": "Check workflow files like a linter (every problem, with line numbers).",
    "schema": "Print the workflow JSON Schema (for editors).",
    "list": "List the workflows of the definitions folder.",
    "show": "Show one workflow: parameters, steps, triggers, outputs.",
    "run": "Run a workflow through the Dagster instance, with live progress.",
    "dev": "Start the Dagster UI and daemon on the definitions folder.",
    "status": "Show the status of a run (running, paused at an approval, completed...).",
    "approve": "Approve the approval gate a run is waiting at.",
    "reject": "Reject the approval gate a run is waiting at.",
}


class LazyGroup(click.Group):
    """A click group that imports each subcommand's module only when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None:
            return None
        module = importlib.import_module(target[0])
        return getattr(module, target[1])

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, HELP.get(name, "")) for name in COMMANDS]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="yaml2dag", prog_name="yaml2dag")
def main() -> None:
    """yaml2dag: declarative YAML workflows compiled into Dagster jobs.

    Workflows live in the definitions folder ($YAML2DAG_DEFINITIONS, default ./definitions);
    runs live in the Dagster instance ($DAGSTER_HOME, default ./dagster_home).
    """


__all__ = ["main"]
