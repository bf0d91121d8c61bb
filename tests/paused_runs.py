"""Wait, in-process and cheaply, for a run on a Dagster home to pause at an approval gate.

A test that starts a run in the background (`yaml2dag run`, `yaml2dag retry`, `dagster job
execute`) and needs it paused at its gate polls the home's instance here, every 0.2 s, with the
status yaml2dag's own `status` and `history` commands compute
(:func:`yaml2dag.runs.history.status.run_status`), instead of starting a CLI subprocess (about
1.5 s of CPU, most of it importing Dagster) for every poll. The test then asks the CLI once,
as before, for what it asserts on.
"""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Iterable

from dagster import DagsterInstance

from waiting import wait_until
from yaml2dag.runs.history.common import RunNotFoundError
from yaml2dag.runs.history.status import run_status


def paused_run_id(home: Path | str, process: subprocess.Popen, *, exclude: Iterable[str] = (),
                  timeout: float = 150) -> str:
    """The id of a run on ``home`` (newest first) that is paused at an approval gate, not one of
    ``exclude``; waits up to ``timeout`` seconds, failing at once if ``process`` (the one
    starting the run) exits first."""
    skip = set(exclude)

    def found(inst: DagsterInstance) -> str | None:
        for run in inst.get_runs(limit=50):
            if run.run_id in skip or run.status.value != "STARTED":  # paused: started, a gate waiting
                continue
            try:
                info = run_status(inst, run.run_id)
            except RunNotFoundError:  # noqa: PERF203 - deleted meanwhile
                continue
            if info["status"] == "paused":
                return run.run_id
        return None

    with DagsterInstance.from_config(str(home)) as inst:
        return wait_until(lambda: found(inst), timeout, 0.2, "a run to pause at its approval gate",
                          process=process)
