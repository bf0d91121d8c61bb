"""``yaml2dag approve`` / ``yaml2dag reject``: decide an approval gate of a running run."""

from __future__ import annotations

import click

from yaml2dag.cli.output import FORMAT_OPTION, console, fail_as, print_json
from yaml2dag.runs.history.common import RunNotFoundError, find_run
from yaml2dag.runs.runner import get_instance


def _decide(decision: str, run_id: str, step: str | None, by: str | None, comment: str | None, fmt: str) -> None:
    # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
    from yaml2dag.runs.approvals import ApprovalError, record_decision

    instance = get_instance()
    try:
        # the run id or a unique prefix of it: resolved as `status`, `events`, `retry`... resolve it
        run_id = find_run(instance, run_id).run_id
        gate = record_decision(instance, run_id, decision, step=step, by=by, comment=comment)
    except (ApprovalError, RunNotFoundError) as exc:
        fail_as(fmt, str(exc), 1)
    if fmt == "json":
        print_json({"run_id": run_id, "decision": decision, "gate": gate.to_json()})
        return
    last = gate.decisions[-1]
    verb = "approved" if decision == "approve" else "rejected"
    need = f" ({len(gate.approved_by)}/{gate.required} approvals)" if decision == "approve" else ""
    console().print(f"{verb} gate `{gate.step_key}` of run {run_id} as {last['by']}{need}", markup=False)


_OPTIONS = [
    click.argument("run_id"),
    click.option("--step", default=None, help="The gate's step id (needed when several gates wait)."),
    click.option("--by", default=None, help="Who decides (default: $YAML2DAG_USER or the login name)."),
    click.option("--comment", "-m", default=None, help="A comment stored with the decision."),
    FORMAT_OPTION,
]


def _with_options(fn):
    for option in reversed(_OPTIONS):
        fn = option(fn)
    return fn


@click.command()
@_with_options
def approve(run_id: str, step: str | None, by: str | None, comment: str | None, fmt: str) -> None:
    """Approve the approval gate a run is waiting at.

    RUN_ID may be a unique prefix (at least 6 characters), as for `status`. The decision is
    recorded in the run's event log in the Dagster instance ($DAGSTER_HOME); point DAGSTER_HOME
    at the same (shared) instance to approve from another machine.
    """
    _decide("approve", run_id, step, by, comment, fmt)


@click.command()
@_with_options
def reject(run_id: str, step: str | None, by: str | None, comment: str | None, fmt: str) -> None:
    """Reject the approval gate a run is waiting at (the gate's step fails). RUN_ID may be a
    unique prefix (at least 6 characters), as for `status`."""
    _decide("reject", run_id, step, by, comment, fmt)
