"""Wait, in-process and cheaply, for a run on a Dagster home to pause at an approval gate, or for
its status to reach a state.

A test that starts a run in the background (`yaml2dag run`, `yaml2dag retry`, `dagster job
execute`) and needs it paused at its gate, or a step of it in some state, polls the home's
instance here, every 0.2 s, with the status yaml2dag's own `status` and `history` commands
compute (:func:`yaml2dag.runs.history.status.run_status`), instead of starting a CLI subprocess
(about 1.5 s of CPU, most of it importing Dagster; a forked one still costs a few tenths) for
every poll. The test then asks the CLI once, as before, for what it asserts on.

The process that starts the run may be a :class:`subprocess.Popen` or a call started through
the CLI fork server (:class:`cli_forkserver.Call`): either way the wait fails at once when it
exits first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Iterable

from dagster import DagsterInstance

from waiting import wait_until
from yaml2dag.runs.history.common import RunNotFoundError
from yaml2dag.runs.history.status import run_status
from yaml2dag.runs.runner import prepare_storage


def paused_run_id(home: Path | str, process: Any, *, exclude: Iterable[str] = (),
                  timeout: float = 150) -> str:
    """The id of a run on ``home`` (newest first) that is paused at an approval gate, not one of
    ``exclude``; waits up to ``timeout`` seconds, failing at once if ``process`` (the one
    starting the run: a Popen or a fork server call) exits first."""
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

    # the background process may be creating a new home's storage right now: wait for it under
    # yaml2dag's lock (opening the instance alongside would race the creation, issue 10 point 8)
    prepare_storage(home)
    with DagsterInstance.from_config(str(home)) as inst:
        return wait_until(lambda: found(inst), timeout, 0.2, "a run to pause at its approval gate",
                          process=process)


def run_status_when(home: Path | str, run_id: str, check: Callable[[dict], Any], what: str, *,
                    process: Any = None, timeout: float = 120) -> dict:
    """The status of run ``run_id`` on ``home`` (the dict `yaml2dag status --format json` prints:
    :func:`run_status`) once ``check(status)`` is true; polled every 0.2 s for up to ``timeout``
    seconds, failing at once if ``process`` (a Popen or a fork server call) exits first."""
    last: list = [None]

    def found(inst: DagsterInstance) -> dict | None:
        last[0] = run_status(inst, run_id)
        return last[0] if check(last[0]) else None

    prepare_storage(home)
    with DagsterInstance.from_config(str(home)) as inst:
        return wait_until(lambda: found(inst), timeout, 0.2, what, process=process,
                          details=lambda: f"last status: {last[0]}")
