"""Triggers (spec §7): when runs start without someone pressing a button.

* :mod:`.schedules` — ``schedule`` triggers as Dagster schedules;
* :mod:`.files` — ``file`` triggers as sensors with a cursor, one run per new or changed file;
* :mod:`.workflows` — ``workflow`` triggers as sensors on the upstream job's finished runs (chains);
* :mod:`.common` — names, parameters rendered with ``trigger.*``, run tags.

``manual`` triggers need nothing: every job can be launched from the UI, ``yaml2dag run``,
``yaml2dag trigger`` (GraphQL) and ``dagster job execute``. All of it runs under the Dagster
daemon (``yaml2dag dev`` starts one).
"""

from __future__ import annotations

from typing import Iterable

import dagster as dg

from yaml2dag.format.model import Workflow
from yaml2dag.triggers.common import NameRegistry, TriggerParameterError
from yaml2dag.triggers.files import file_sensors_for
from yaml2dag.triggers.schedules import schedules_for
from yaml2dag.triggers.workflows import UnknownUpstreamError, upstream_lookup, workflow_sensors_for


def build_triggers(compiled: Iterable[tuple[Workflow, dg.JobDefinition]],
                   entries: list[tuple[Workflow | None, str, str]],
                   jobs: dict[str, dg.JobDefinition],
                   names: NameRegistry | None = None,
                   on_error=None) -> tuple[list[dg.ScheduleDefinition], list[dg.SensorDefinition]]:
    """The schedules and sensors of a folder's workflows.

    Args:
        compiled: ``(workflow, job)`` of every workflow that compiled.
        entries: ``(workflow or None, job name, file)`` of every file, invalid ones included
            (what ``workflow`` triggers may name).
        jobs: every job of the code location, by name.
        names: registry of the names already used (default: empty).
        on_error: ``on_error(workflow, exc)`` when a workflow's triggers cannot be built; the
            default re-raises. The other workflows' triggers are still built.

    Returns:
        ``(schedules, sensors)`` in folder order.
    """
    names = names if names is not None else NameRegistry()
    find = upstream_lookup(entries)
    schedules: list[dg.ScheduleDefinition] = []
    sensors: list[dg.SensorDefinition] = []
    for workflow, job in compiled:
        try:
            own_schedules = schedules_for(workflow, job, names)
            own_sensors = file_sensors_for(workflow, job, names)
            own_sensors += workflow_sensors_for(workflow, job, find, jobs, names)
        except Exception as exc:  # noqa: BLE001 - one workflow's triggers never take the others down
            if on_error is None:
                raise
            on_error(workflow, exc)
            continue
        schedules += own_schedules
        sensors += own_sensors
    return schedules, sensors


__all__ = ["NameRegistry", "TriggerParameterError", "UnknownUpstreamError", "build_triggers",
           "file_sensors_for", "schedules_for", "upstream_lookup", "workflow_sensors_for"]
