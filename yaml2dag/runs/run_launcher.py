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
launcher would (its start, cancel and run-time limits are still checked).

Terminating (the UI's "Terminate" button, GraphQL ``terminateRun``, ``dagster run terminate``):
Dagster's default launcher sends the request to the code server that launched the run, so for a
run executed by a ``yaml2dag run`` process it can only log "Unable to get grpc client" and leave
the run going. :meth:`WorkflowRunLauncher.terminate` sends that process SIGINT instead, as
``yaml2dag cancel`` does (the run is marked CANCELING; yaml2dag's executor stops the steps in
flight, a shell step's whole process group included, and the run ends CANCELED); a run whose
process is gone is marked CANCELED at once (:func:`reap_run`). Runs launched by the webserver or
the daemon, and runs of a yaml2dag process on another machine, are terminated as by Dagster.
Launching runs is the default launcher's.

Configure it in ``dagster.yaml``::

    run_launcher:
      module: yaml2dag.runs.run_launcher
      class: WorkflowRunLauncher
"""

from __future__ import annotations

import os
import signal

from dagster import DagsterRun, DefaultRunLauncher

from yaml2dag.dagster_internals import CheckRunHealthResult, WorkerStatus
from yaml2dag.compiler.run_health import TAG_CLI_PID, process_state, reap_run

#: Who ended a run terminated through the launcher, as reap_run records it.
TERMINATED_BY = "a terminate request (Dagster UI, GraphQL or `dagster run terminate`)"


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

    def terminate(self, run_id: str) -> bool:
        """Terminate ``run_id``: for a run executed by a live ``yaml2dag`` process on this host,
        mark it CANCELING and send that process SIGINT; for one whose process is gone, mark it
        CANCELED; any other run as Dagster's default launcher does.

        Returns:
            True when the termination was requested (the run ends CANCELED shortly), False when
            there is no such unfinished run or Dagster's default launcher could not reach it.
        """
        run = self._instance.get_run_by_id(run_id) if self.has_instance else None
        if run is None or run.is_finished or not run.tags.get(TAG_CLI_PID):
            return super().terminate(run_id)
        record = self._instance.get_run_record_by_id(run_id)
        created = record.create_timestamp.timestamp() if record is not None and record.create_timestamp else None
        state, what = process_state(dict(run.tags), created)
        if state == "unknown":  # another machine or container: nothing here can signal it
            return super().terminate(run_id)
        if run.status.value != "CANCELING":
            self._instance.report_run_canceling(run, message=f"Terminating: {what} is sent SIGINT by {TERMINATED_BY}")
        if state == "alive":
            try:
                os.kill(int(run.tags[TAG_CLI_PID]), signal.SIGINT)
                return True
            except ProcessLookupError:  # it ended between the check and the signal
                pass
        reap_run(self._instance, run_id, by=TERMINATED_BY)
        return True
