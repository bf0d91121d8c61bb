"""The Celery app of yaml2dag's workers: the target of ``-A`` in

    dagster-celery worker start -A yaml2dag.compiler.celery_app [-q QUEUE] [-y celery.yaml]

It registers the task that executes one step of a run (:func:`yaml2dag.compiler.celery.
execute_step_task`). Broker, backend and queue: as for the runs that send the steps
(:func:`yaml2dag.compiler.celery.celery_settings`: ``$YAML2DAG_CELERY_BROKER``,
``$YAML2DAG_CELERY_QUEUE``, ``$DAGSTER_HOME/celery.yaml``...), then the file given with ``-y``
(``dagster-celery`` writes it into the module ``dagster_celery_config``), then ``-q``. Without
``-q`` the worker consumes the settings' queue (default ``yaml2dag``).

Each task runs in a process of the worker's (default, prefork) pool; the step's secrets are read
from the worker's environment, like every other environment variable a step reads.
"""

from __future__ import annotations

from yaml2dag.compiler.celery_settings import TASK_NAME, celery_settings, make_app
from yaml2dag.compiler.celery_worker import execute_step_task
from importlib.util import find_spec


def _worker_app():
    # lazy: celery is heavy and optional here; kept off light paths
    from celery.utils.collections import force_mapping

    app = make_app(celery_settings(), worker=True)
    # keep sys.stdout/sys.stderr on file descriptors 1 and 2 (Celery would put a logging proxy
    # without a descriptor there): Dagster's compute log capture redirects the descriptors, so
    # what a step prints, and what its subprocesses write, lands in the run's compute logs
    app.conf.worker_redirect_stdouts = False
    if find_spec("dagster_celery_config") is not None:  # written by `dagster-celery worker start -y`
        app.conf.update(force_mapping(app.loader._smart_import("dagster_celery_config")))  # noqa: SLF001
    return app


app = _worker_app()


@app.task(bind=True, name=TASK_NAME)
def execute_step(self, execute_step_args_packed: dict, executable_dict: dict, options: dict | None = None) -> dict:
    """Execute one step of a run on this worker (see :func:`execute_step_task`)."""
    return execute_step_task(self.request, execute_step_args_packed, executable_dict, options)


__all__ = ["app", "execute_step"]
