"""``yaml2dag trigger NAME [key=value ...] [--url URL]``: start a workflow on a running Dagster
webserver, over GraphQL.

The run is submitted with Dagster's GraphQL client, exactly like pressing "Launch run" in the
UI: the deployment's run queue, concurrency limits, daemon and workflow triggers all apply.
The equivalent call without yaml2dag (see docs/manual/triggers_en.md)::

    curl -s http://127.0.0.1:3000/graphql -H 'Content-Type: application/json' -d '{
      "query": "mutation($p: ExecutionParams!) { launchRun(executionParams: $p) { __typename
                ... on LaunchRunSuccess { run { runId } } ... on RunConfigValidationInvalid { errors { message } }
                ... on PythonError { message } } }",
      "variables": {"p": {"selector": {"repositoryLocationName": "yaml2dag",
                    "repositoryName": "__repository__", "jobName": "JOB"},
                    "runConfigData": {"PARAM": "VALUE"}}}}'
"""

from __future__ import annotations

import getpass
import os
import socket
from typing import Any

import click

from yaml2dag.cli.output import FORMAT_OPTION, fail_as, print_json
from yaml2dag.cli.run import _load_param_file
from yaml2dag.format.errors import ParameterError, WorkflowNotFoundError
from yaml2dag.format.parameters import coerce, parse_assignments, resolve
from yaml2dag.library.folder import Library


def _fail(fmt: str, message: str, code: int, problems: list | None = None) -> None:
    """:func:`fail_as`; the JSON error always lists the problems (maybe none)."""
    fail_as(fmt, message, code, problems or [])


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # noqa: BLE001 - no login name in some containers
        return "unknown"


def _local_report(name: str):
    """The workflow of the local definitions folder named ``name``, or None."""
    try:
        return Library().find(name)
    except WorkflowNotFoundError:
        return None


@click.command()
@click.argument("workflow")
@click.argument("assignments", nargs=-1)
@click.option("--url", default=None, metavar="URL",
              help="The Dagster webserver (default: $YAML2DAG_URL, else http://127.0.0.1:3000).")
@click.option("--location", default=None, help="Code location of the job, when several have it.")
@click.option("--param-file", "param_file", type=click.Path(exists=True, dir_okay=False),
              help="YAML or JSON mapping of parameter values (key=value arguments win).")
@FORMAT_OPTION
def trigger(workflow: str, assignments: tuple[str, ...], url: str | None, location: str | None,
            param_file: str | None, fmt: str) -> None:
    """Start WORKFLOW on a running Dagster webserver with parameters given as key=value.

    WORKFLOW is a workflow name, job id or file of the local definitions folder; then values
    are converted and checked like `yaml2dag run` does before anything is sent. A name that
    is not in the local folder is looked up on the server (job name, or workflow name), and
    values are converted to the types the server declares. Prints the run id and the run's
    page in the UI; does not wait for the run. Exits 0 when the run was submitted, 1 when the
    server refused it or cannot be reached, 2 for invalid parameters or usage.
    """
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.triggers.common import request_tags
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.triggers.remote import (DEFAULT_URL, URL_ENV, RemoteError, coerce_remote, config_types, find_job, launch,
                                   parse_url)

    try:
        endpoint = parse_url(url or os.environ.get(URL_ENV) or DEFAULT_URL)
    except RemoteError as exc:
        _fail(fmt, str(exc), 2)
    try:
        raw = parse_assignments(assignments)
        given_file: dict[str, Any] = {}
        if param_file:
            given_file = _load_param_file(param_file)
    except ParameterError as exc:
        _fail(fmt, str(exc), 2)
    except click.UsageError as exc:
        _fail(fmt, exc.message, 2)

    report = _local_report(workflow)
    info = {"type": "remote", "user": _user(), "host": socket.gethostname()}
    try:
        if report is not None:
            if not report.valid or report.workflow is None:
                _fail(fmt, f"{report.file} is not a valid workflow", 2, report.errors)
            wf = report.workflow
            known = {p.name: p for p in wf.parameters}
            given = dict(given_file)
            for key, text in raw.items():
                given[key] = coerce(known[key], text) if key in known and not known[key].is_secret else text
            values = resolve(wf, given)
            tags = request_tags(wf, info, values)
            job = find_job(endpoint, wf.id, location)
            title = wf.name
        else:
            job = find_job(endpoint, workflow, location)
            types = config_types(endpoint, job)
            values = dict(given_file)
            for key, text in raw.items():
                values[key] = coerce_remote(key, text, types.get(key))
            tags = request_tags(None, info, values)
            title = job.title
        run_id = launch(endpoint, job, values, tags)
    except ParameterError as exc:
        _fail(fmt, str(exc), 2)
    except RemoteError as exc:
        _fail(fmt, str(exc), 1)

    link = endpoint.run_url(run_id)
    if fmt == "json":
        print_json({"run_id": run_id, "url": link, "workflow": title, "job": job.name,
                    "location": job.location, "parameters": values})
        return
    click.echo(f"Started {title!r} (job {job.name}) on {endpoint.url}")
    click.echo(f"run id: {run_id}")
    click.echo(link)

