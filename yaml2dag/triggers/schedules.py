"""``schedule`` triggers as Dagster :class:`~dagster.ScheduleDefinition`\\ s (spec §7).

* cron: 5 fields or a shorthand (``@daily``...), expanded by :func:`yaml2dag.format.cron.normalize`
  so Dagster and ``yaml2dag list``/``show`` read the same expression;
* ``timezone``: the IANA zone the cron is read in (``execution_timezone``), default UTC;
* ``enabled`` (default true): the schedule's default status — RUNNING as soon as the daemon
  sees it, or STOPPED until someone turns it on in the UI (a status set in the UI wins);
* ``parameters``: rendered at each tick with ``trigger.*`` = ``type`` (``"schedule"``),
  ``schedule`` (the schedule's name), ``scheduled_time`` (ISO 8601, in the schedule's zone),
  ``cron`` and ``timezone``; then checked like ``yaml2dag run`` values.

Names: the trigger's ``name``; else ``<job>_schedule`` for a workflow's only unnamed schedule,
and ``<job>_schedule_<cron slug>`` for each of several (:mod:`yaml2dag.format.trigger_names`), so
adding, removing or moving another schedule never renames one.
"""

from __future__ import annotations

from typing import Any

import dagster as dg

from yaml2dag.format.model import Trigger, Workflow
from yaml2dag.format.tags import META_CRON, META_WORKFLOW
from yaml2dag.triggers.common import NameRegistry, own_names, run_request
from yaml2dag.format.cron import normalize

KIND = "schedule"
DEFAULT_TIMEZONE = "UTC"


def schedule_info(name: str, trigger: Trigger, scheduled_time: Any) -> dict[str, Any]:
    """``trigger.*`` of one schedule tick.

    Args:
        name: the schedule's Dagster name.
        trigger: the schedule trigger.
        scheduled_time: the tick's scheduled time (aware datetime) or None (manual evaluation).
    """
    return {
        "type": KIND,
        "schedule": name,
        "scheduled_time": scheduled_time.isoformat() if scheduled_time is not None else None,
        "cron": trigger.options.get("cron"),
        "timezone": trigger.options.get("timezone") or DEFAULT_TIMEZONE,
    }


def schedule_definition(workflow: Workflow, trigger: Trigger, job: dg.JobDefinition,
                        name: str) -> dg.ScheduleDefinition:
    """The :class:`dagster.ScheduleDefinition` of one ``schedule`` trigger.

    Args:
        workflow: the validated workflow.
        trigger: its schedule trigger (``options["cron"]`` set).
        job: the workflow's job.
        name: the schedule name (unique in the code location).

    Raises:
        yaml2dag.format.cron.CronError: the cron expression is invalid (validation reports it first).
    """
    expression = trigger.options["cron"]

    def execution_fn(context: dg.ScheduleEvaluationContext):
        info = schedule_info(name, trigger, context.scheduled_execution_time)
        # a parameter that does not render or check raises: the tick fails with the message
        return run_request(workflow, trigger, info)

    return dg.ScheduleDefinition(
        name=name,
        job=job,
        cron_schedule=normalize(expression),
        execution_timezone=trigger.options.get("timezone") or DEFAULT_TIMEZONE,
        execution_fn=execution_fn,
        default_status=(dg.DefaultScheduleStatus.RUNNING if trigger.enabled
                        else dg.DefaultScheduleStatus.STOPPED),
        description=trigger.description or f"{workflow.name}: {expression}",
        metadata={META_WORKFLOW: workflow.name, META_CRON: expression},
    )


def schedules_for(workflow: Workflow, job: dg.JobDefinition,
                  names: NameRegistry | None = None) -> list[dg.ScheduleDefinition]:
    """One :class:`dagster.ScheduleDefinition` per schedule trigger of ``workflow`` (spec §7).

    Args:
        workflow: the validated workflow.
        job: its compiled job.
        names: the code location's name registry (a fresh one by default).

    Returns:
        The schedules, in file order.
    """
    names = names if names is not None else NameRegistry()
    out = []
    for trigger, preferred in own_names(workflow, KIND):
        name = names.claim(preferred, workflow.id)
        out.append(schedule_definition(workflow, trigger, job, name))
    return out
