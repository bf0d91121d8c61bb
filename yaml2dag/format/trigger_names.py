"""The Dagster names of a workflow's schedules and sensors (spec §7), without importing Dagster.

Dagster keeps a schedule's or sensor's on/off state and its tick history under its name, so a
name must not change when an unrelated trigger is added, removed or moved. The rules:

* a trigger with ``name:`` is that name (a ``workflow`` trigger with ``status: any`` gives two
  sensors, ``<name>_success`` and ``<name>_failure``);
* the only unnamed ``schedule`` of a workflow is ``<job>_schedule``; when a workflow has several
  unnamed schedules, each is named from its own cron expression (shorthands expanded):
  ``<job>_schedule_<cron slug>``, the slug writing ``*`` as ``x`` and every other run of
  characters outside ``[a-z0-9]`` as ``_`` (``30 6 * * 1-5`` → ``30_6_x_x_1_5``). Unnamed
  schedules with the same cron in different time zones also get the zone
  (``..._europe_berlin``);
* the only unnamed ``file`` trigger is ``<job>_file_sensor``; several unnamed ones are
  ``<job>_file_sensor_<slug of path and pattern>`` (``/data/inbox`` ``*.csv`` →
  ``data_inbox_x_csv``);
* an unnamed ``workflow`` trigger is ``<job>_on_<upstream job>_<success|failure>``.

``<job>`` is the workflow's job id. Two triggers of one workflow that would get the same name,
and a name another workflow of the folder already uses, are validation errors
(:func:`duplicate_names`, used by :mod:`yaml2dag.format.validation`): Dagster requires unique schedule
and sensor names in a code location, and yaml2dag never renames silently.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Callable, Sequence

from yaml2dag.format.model import Trigger, Workflow, slugify
from yaml2dag.format.cron import CronError, normalize

#: Name suffix of unnamed triggers, by type.
SUFFIX = {"schedule": "schedule", "file": "file_sensor"}
#: ``status`` → the run statuses a workflow trigger reacts to (one sensor each).
WORKFLOW_STATUSES = {"success": ("success",), "failure": ("failure",), "any": ("success", "failure")}

_NOT_ALNUM = re.compile(r"[^a-z0-9]+")


def slug(text: str) -> str:
    """``text`` as a name part: lowercase, ``*`` → ``x``, each run of other characters outside
    ``[a-z0-9]`` → ``_``, no ``_`` at either end (``"*/15 9-17 * * MON"`` → ``x_15_9_17_x_x_mon``)."""
    return _NOT_ALNUM.sub("_", text.lower().replace("*", "x")).strip("_") or "x"


def _cron_slug(trigger: Trigger) -> str:
    expression = str(trigger.options.get("cron") or "")
    try:
        expression = normalize(expression)
    except CronError:
        pass  # validation reports it; the name only has to be deterministic
    return slug(expression)


def _content_slug(trigger: Trigger) -> str:
    if trigger.type == "schedule":
        return _cron_slug(trigger)
    path = str(trigger.options.get("path") or "")
    pattern = trigger.options.get("pattern")
    return slug(f"{path} {pattern}" if pattern else path)


def trigger_names(workflow: Workflow, upstream_job: Callable[[str], str | None] | None = None) -> list[list[str]]:
    """The Dagster schedule/sensor names of each trigger of ``workflow``, by the rules above.

    Args:
        workflow: the workflow (valid or not: names are computed from what the triggers say).
        upstream_job: ``ref`` → the job name of the workflow a ``workflow`` trigger names (None
            when unknown); default, and when it returns None: ``ref`` in snake_case.

    Returns:
        One list per trigger, aligned with ``workflow.triggers``: ``[]`` for ``manual``, one
        name for a schedule or file trigger, one per status for a workflow trigger. Names may
        repeat when the workflow gives two triggers the same name (see :func:`duplicate_names`).
    """
    job = workflow.id or slugify(workflow.name or "workflow")
    unnamed: dict[str, list[Trigger]] = {}
    for trig in workflow.triggers:
        if not trig.name and trig.type in SUFFIX:
            unnamed.setdefault(trig.type, []).append(trig)
    generated: dict[int, str] = {}
    for kind, group in unnamed.items():
        base = f"{job}_{SUFFIX[kind]}"
        if len(group) == 1:
            generated[id(group[0])] = base
            continue
        content = {id(t): _content_slug(t) for t in group}
        counts = Counter(content.values())
        for trig in group:
            part = content[id(trig)]
            if kind == "schedule" and counts[part] > 1:
                part += "_" + slug(str(trig.options.get("timezone") or "UTC"))
            generated[id(trig)] = f"{base}_{part}"
    out: list[list[str]] = []
    for trig in workflow.triggers:
        if trig.type in SUFFIX:
            out.append([trig.name or generated[id(trig)]])
        elif trig.type == "workflow":
            statuses = WORKFLOW_STATUSES.get(str(trig.options.get("status") or "success"), ("success",))
            if trig.name:
                out.append([trig.name] if len(statuses) == 1 else [f"{trig.name}_{word}" for word in statuses])
            else:
                ref = str(trig.options.get("workflow") or "")
                upstream = (upstream_job(ref) if upstream_job else None) or slugify(ref)
                out.append([f"{job}_on_{upstream}_{word}" for word in statuses])
        else:
            out.append([])
    return out


def duplicate_names(workflow: Workflow, names: Sequence[Sequence[str]]) -> list[tuple[Trigger, str, Trigger]]:
    """Triggers of ``workflow`` whose Dagster name an earlier trigger of it already has.

    Args:
        workflow: the workflow.
        names: :func:`trigger_names` of it.

    Returns:
        ``(trigger, name, earlier trigger)`` for each clash, in file order (a clash of two
        explicit ``name:`` values included).
    """
    seen: dict[str, Trigger] = {}
    clashes = []
    for trig, own in zip(workflow.triggers, names):
        for name in own:
            if name in seen and seen[name] is not trig:
                clashes.append((trig, name, seen[name]))
            else:
                seen.setdefault(name, trig)
    return clashes


__all__ = ["SUFFIX", "WORKFLOW_STATUSES", "duplicate_names", "slug", "trigger_names"]
