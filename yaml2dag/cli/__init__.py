"""The ``yaml2dag`` command line (click + rich): a thin face over the library API.

Subcommands live in their own modules and are imported only when invoked, so ``validate``,
``list``, ``show`` and ``schema`` never import Dagster. Exit codes: 0 success, 1 invalid
workflow or failed run, 2 usage errors (and, for ``run``, invalid workflow or parameters:
nothing ran).
"""

from __future__ import annotations

import importlib

import click
import importlib.util
import sys
from yaml2dag.cli.output import asks_for_json, fail_as
from yaml2dag.runs.runner import instance_home
from yaml2dag.runs.storage import describe

#: command name → (module, attribute), imported on first use. A command whose module is not
#: part of this installation is simply not listed.
COMMANDS = {
    "validate": ("yaml2dag.cli.validate", "validate"),
    "schema": ("yaml2dag.cli.catalog", "schema"),
    "list": ("yaml2dag.cli.catalog", "list_"),
    "show": ("yaml2dag.cli.catalog", "show"),
    "run": ("yaml2dag.cli.run", "run"),
    "dev": ("yaml2dag.cli.dev", "dev"),
    "trigger": ("yaml2dag.cli.trigger", "trigger"),
    "templates": ("yaml2dag.cli.templates", "templates"),
    "create": ("yaml2dag.cli.library.creating", "create"),
    "edit": ("yaml2dag.cli.library.editing", "edit"),
    "delete": ("yaml2dag.cli.library.deleting", "delete"),
    "schedule": ("yaml2dag.cli.library.scheduling", "schedule"),
    "export": ("yaml2dag.cli.library.transfer", "export"),
    "import": ("yaml2dag.cli.library.transfer", "import_"),
    "versions": ("yaml2dag.cli.library.versioning", "versions"),
    "rollback": ("yaml2dag.cli.library.versioning", "rollback"),
    "diff": ("yaml2dag.cli.library.versioning", "diff"),
    "status": ("yaml2dag.cli.status", "status"),
    "history": ("yaml2dag.cli.observe", "history"),
    "events": ("yaml2dag.cli.observe", "events"),
    "logs": ("yaml2dag.cli.observe", "logs"),
    "audit": ("yaml2dag.cli.observe", "audit"),
    "stats": ("yaml2dag.cli.observe", "stats"),
    "retry": ("yaml2dag.cli.observe", "retry"),
    "cancel": ("yaml2dag.cli.observe", "cancel"),
    "annotate": ("yaml2dag.cli.annotate", "annotate"),
    "prune": ("yaml2dag.cli.prune", "prune"),
    "approve": ("yaml2dag.cli.approve", "approve"),
    "reject": ("yaml2dag.cli.approve", "reject"),
    "suggest": ("yaml2dag.cli.suggest", "suggest"),
    "optimize": ("yaml2dag.cli.optimize", "optimize"),
}

HELP = {
    "validate": "Check workflow files like a linter (every problem, with line numbers).",
    "schema": "Print the workflow JSON Schema (for editors).",
    "list": "List the workflows of the definitions folder.",
    "show": "Show one workflow: parameters, steps, triggers, outputs.",
    "run": "Run a workflow through the Dagster instance, with live progress.",
    "dev": "Start the Dagster UI and daemon on the definitions folder (hot reload).",
    "trigger": "Start a workflow on a running Dagster webserver (GraphQL).",
    "templates": "List the built-in workflow templates.",
    "create": "Create a workflow (interactively, from a template, a file or a description).",
    "edit": "Edit a workflow in $EDITOR; never saves an invalid file.",
    "delete": "Delete a workflow file.",
    "schedule": "Add or replace a workflow's schedule trigger.",
    "export": "Write a workflow as YAML or JSON.",
    "import": "Add a workflow file to the library (validated first).",
    "versions": "List the saved versions of a workflow.",
    "rollback": "Restore a saved version of a workflow.",
    "diff": "Show the differences between two versions of a workflow.",
    "status": "Show the status of a run (running, paused at an approval, completed...).",
    "history": "List the runs of a workflow (without NAME: of every workflow).",
    "events": "Show the event log of a run.",
    "logs": "Show the captured output of a run's steps.",
    "audit": "Export a complete audit record of a run (JSON, CSV or an HTML report).",
    "stats": "Success rates, durations and per-step failure and retry rates.",
    "retry": "Re-execute a run (from its failure or from a step).",
    "cancel": "Terminate a running or queued run.",
    "annotate": "Add a note (who said what, when) to a run's event log.",
    "prune": "Delete old finished runs (event logs, compute logs, outputs); export their audits first.",
    "approve": "Approve the approval gate a run is waiting at.",
    "reject": "Reject the approval gate a run is waiting at.",
    "suggest": "Suggest workflows from your shell history (and schedules from run history).",
    "optimize": "Advice from a workflow's runs: retries, parallel steps, timeouts, unused steps.",
}


def _available(name: str) -> bool:
    return importlib.util.find_spec(COMMANDS[name][0]) is not None


class LazyGroup(click.Group):
    """A click group that imports each subcommand's module only when it runs."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [name for name in COMMANDS if _available(name)]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        target = COMMANDS.get(name)
        if target is None or not _available(name):
            return None
        module = importlib.import_module(target[0])
        return getattr(module, target[1])

    def invoke(self, ctx: click.Context):
        """Run the subcommand; a damaged or unusable Dagster storage, wherever it is found, ends
        it with one line naming the file and what to do (exit 1; ``{"error": ...}`` under
        ``--format json``) instead of a database traceback (see :mod:`yaml2dag.runs.storage`)."""
        # the subcommand and its arguments (click 8.2+ keeps the first in _protected_args)
        protected = ctx._protected_args if hasattr(ctx, "_protected_args") else ctx.protected_args
        args = [*protected, *ctx.args]
        try:
            return super().invoke(ctx)
        except Exception as exc:
            message = _storage_message(exc, args)
            if message is None:
                raise

            command = self.get_command(ctx, args[0]) if args and args[0] in COMMANDS else None
            problems = [] if getattr(command, "problem_list", False) else None
            fail_as("json" if asks_for_json(args[1:]) else "text", message, 1, problems)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, HELP.get(name, "")) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


def _storage_message(exc: BaseException, args: list[str]) -> str | None:
    """The one-line message for a storage failure (:func:`yaml2dag.runs.storage.describe`), or None
    when ``exc`` is something else."""
    if "yaml2dag.runs.storage" not in sys.modules and not any(
            m.startswith(("sqlalchemy", "alembic", "sqlite3")) for m in sys.modules):
        return None  # nothing that could raise one was loaded

    try:
        return describe(exc, instance_home(), hints=args)
    except Exception:  # noqa: BLE001 - never hide the original error behind a diagnosis failure
        return None


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="yaml2dag", prog_name="yaml2dag")
def main() -> None:
    """yaml2dag: declarative YAML workflows compiled into Dagster jobs.

    Workflows live in the definitions folder ($YAML2DAG_DEFINITIONS, default ./definitions);
    runs live in the Dagster instance ($DAGSTER_HOME, default ./dagster_home).
    """


__all__ = ["main"]
