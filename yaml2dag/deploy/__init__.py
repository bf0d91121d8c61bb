"""The Dagster instance configuration yaml2dag ships (``dagster.yaml``, package data).

It is the single source of truth for a yaml2dag deployment: SQLite storage in DAGSTER_HOME,
telemetry off, run monitoring (a workflow's ``timeout``; runs whose ``yaml2dag run`` process
died, through yaml2dag's run launcher, :mod:`yaml2dag.runs.run_launcher`), yaml2dag's queued run coordinator
with the tag concurrency limits that ``concurrency`` needs, and pools (a step's ``pool``). The
repository's ``dagster_home/dagster.yaml`` is an identical copy (a test keeps them identical).
``yaml2dag dev`` and ``yaml2dag run`` write it into a DAGSTER_HOME that has no ``dagster.yaml``
(:func:`ensure_dagster_yaml`), so those features are in force wherever DAGSTER_HOME points.

No Dagster import: ``list`` and ``validate`` may use this module.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The shipped configuration file.
DAGSTER_YAML = Path(__file__).with_name("dagster.yaml")


def dagster_yaml_text() -> str:
    """The text of the shipped ``dagster.yaml`` (UTF-8)."""
    return DAGSTER_YAML.read_text(encoding="utf-8")


def ensure_dagster_yaml(home: str | Path) -> bool:
    """Make ``home`` a DAGSTER_HOME with a configuration: create the folder if needed and, when
    it has no ``dagster.yaml``, write the shipped one.

    An existing ``dagster.yaml`` is never touched (a user's storage or limits win).

    Args:
        home: the DAGSTER_HOME folder.

    Returns:
        True when the file was written, False when one was already there.

    Raises:
        OSError: the folder or the file cannot be created.
    """
    folder = Path(home)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "dagster.yaml"
    if target.exists():
        return False
    # write then rename: a second process starting at the same moment never reads half a file
    scratch = folder / f".dagster.yaml.{os.getpid()}.tmp"
    scratch.write_text(dagster_yaml_text(), encoding="utf-8")
    scratch.replace(target)
    return True


__all__ = ["DAGSTER_YAML", "dagster_yaml_text", "ensure_dagster_yaml"]
