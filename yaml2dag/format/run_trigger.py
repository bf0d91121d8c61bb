"""What started a run, read from its tags: one vocabulary for ``run.trigger`` in templates and
the trigger column of ``history``/``list``.

Dagster-free on purpose: ``yaml2dag list`` reads the last run of each workflow straight from the
SQLite run storage and must not import Dagster (importing it takes about a second); the compiler
(:mod:`yaml2dag.compiler.scope`) re-exports these names.
"""

from __future__ import annotations

from typing import Mapping

from yaml2dag.format.tags import TAG_TRIGGER  # the run tag that says what started a run



def trigger_kind(tags: Mapping[str, str], from_webserver: bool = False) -> str:
    """What started a run (``run.trigger`` in templates, the trigger column of ``history``).

    Args:
        tags: the run's tags. An explicit ``yaml2dag/trigger`` tag wins (``cli`` from
            ``yaml2dag run``/``retry``, ``manual`` from ``yaml2dag trigger``, ``schedule``/
            ``sensor`` from yaml2dag's triggers); then Dagster's own ``dagster/schedule_name``,
            ``dagster/sensor_name`` and ``dagster/backfill`` tags.
        from_webserver: the run has a remote job origin (launched through the Dagster webserver).

    Returns:
        ``cli``, ``schedule``, ``sensor``, ``backfill``, ``ui`` (launched from the Dagster UI)
        or ``manual`` (anything else, e.g. ``dagster job execute``).
    """
    if tags.get(TAG_TRIGGER):
        return tags[TAG_TRIGGER]
    if "dagster/schedule_name" in tags:
        return "schedule"
    if "dagster/sensor_name" in tags:
        return "sensor"
    if "dagster/backfill" in tags:
        return "backfill"
    return "ui" if from_webserver else "manual"


__all__ = ["TAG_TRIGGER", "trigger_kind"]
