"""The run launcher of the shipped ``dagster.yaml``: Dagster's default one, plus run-worker health
for the runs that ``yaml2dag run`` and ``yaml2dag retry`` execute in their own process.

Dagster's run monitoring (the daemon's ``MONITORING`` loop, every
``run_monitoring.poll_interval_seconds``) asks the instance's run launcher whether the worker of
each STARTED run is healthy (``check_run_worker_health``) and marks the run failed when it is
not. :class:`dagster.DefaultRunLauncher` cannot answer, so Dagster never asks it.
:class:`WorkflowRunLauncher` answers for the runs a yaml2dag CLI process executes (run tags
``yaml2dag/cli_pid``, ``yaml2dag/cli_host``, ``yaml2dag/cli_started``): when that process is gone
it ends the run the way every ``yaml2dag`` command does (:func:`yaml2dag.compiler.run_health.reap_run`:
step processes killed, run marked failed with the reason, pool slots freed) and reports the
worker FAILED. Every other run is reported RUNNING, which leaves it exactly as Dagster's default
launcher would (its start, cancel and run-time limits are still checked). Launching and
terminating runs is the default launcher's.

Configure it in ``dagster.yaml``::

    run_launcher:
      module: yaml2dag.runs.run_launcher
      class: WorkflowRunLauncher
"""

from __future__ import annotations

from dagster import DagsterRun, DefaultRunLauncher

from yaml2dag.dagster_internals import CheckRunHealthResult, WorkerStatus
from yaml2dag.compiler.run_health import TAG_CLI_PID, process_state, reap_run


class WorkflowRunLauncher(DefaultRunLauncher):
    """Dagster's default run launcher, with worker health for runs executed by a yaml2dag process."""

    @property
    def supports_check_run_worker_health(self) -> bool:
        return True

    def check_run_worker_health(self, run: DagsterRun) -> CheckRunHealthResult:
        """The health of the process that executes ``run``.

        Args:
            run: a STARTED run (Dagster's run monitoring asks for those only).

        Returns:
            FAILED (with the reason) after ending a run whose yaml2dag process is gone; RUNNING
            for every other run (alive, on another machine, or not executed by yaml2dag's CLI).
        """
        if not run.tags.get(TAG_CLI_PID):
            return CheckRunHealthResult(WorkerStatus.RUNNING, "not executed by a yaml2dag process: not checked")
        record = self._instance.get_run_record_by_id(run.run_id)
        created = record.create_timestamp.timestamp() if record is not None and record.create_timestamp else None
        state, what = process_state(dict(run.tags), created)
        if state != "dead":
            return CheckRunHealthResult(WorkerStatus.RUNNING, f"{what}: {state}")
        ended = reap_run(self._instance, run.run_id, by="the Dagster daemon's run monitoring")
        reason = ended["reason"] if ended else f"the {what} is gone"
        return CheckRunHealthResult(WorkerStatus.FAILED, reason)
