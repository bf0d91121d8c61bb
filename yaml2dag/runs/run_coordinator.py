"""The run coordinator of the shipped ``dagster_home/dagster.yaml``.

Dagster's :class:`dagster.QueuedRunCoordinator`, plus one thing: before a
run is queued, its concurrency tag (``yaml2dag/concurrency_<limit>``) is rendered from the run's
own run config. Runs launched from the Dagster UI launchpad or over GraphQL carry the job's tags,
whose ``concurrency.key`` was rendered with the parameter defaults; without this, a launch with
``environment: production`` would queue in the ``staging`` bucket (issue #3, "Locks and run
limits"). Everything else, including the run-queue limits under ``concurrency: runs:``, is
Dagster's own.

Configure it in ``dagster.yaml``::

    run_coordinator:
      module: yaml2dag.runs.run_coordinator
      class: WorkflowRunCoordinator
"""

from __future__ import annotations

from dagster import DagsterRun, QueuedRunCoordinator, SubmitRunContext

from yaml2dag.compiler.job import rendered_concurrency_tags


class WorkflowRunCoordinator(QueuedRunCoordinator):
    """A queued run coordinator that buckets each run by its own rendered concurrency key."""

    def submit_run(self, context: SubmitRunContext) -> DagsterRun:
        """Set the run's concurrency tag from its run config, then queue it as Dagster does.

        Args:
            context: Dagster's submission context (the run, already stored as NOT_STARTED).

        Returns:
            The queued run, as stored.
        """
        run = context.dagster_run
        try:
            tags = rendered_concurrency_tags(dict(run.tags), dict(run.run_config or {}))
        except Exception as exc:  # noqa: BLE001 - a run is never refused for its tag
            self._logger.warning(f"yaml2dag: could not render the concurrency key of run {run.run_id}: {exc}")
            tags = {}
        changed = {k: v for k, v in tags.items() if run.tags.get(k) != v}
        if changed:
            self._instance.add_run_tags(run.run_id, changed)
            run = self._instance.get_run_by_id(run.run_id) or run
            context = SubmitRunContext(run, context.workspace)
        return super().submit_run(context)
