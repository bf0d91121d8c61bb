"""The yaml2dag code location: ``defs`` holds every workflow of the definitions folder.

Load it with ``dagster dev -w workspace.yaml``, ``dagster job execute -m yaml2dag.definitions
-j JOB`` or ``dagster definitions validate -m yaml2dag.definitions``. The folder is
``$YAML2DAG_DEFINITIONS`` (default ``./definitions``); ``YAML2DAG_STRICT=1`` fails the load on
any invalid file.

``defs`` is a :class:`dagster.RepositoryDefinition` whose jobs are built when Dagster first asks
for them by name (:func:`yaml2dag.location.build_repository`): the code server lists
and builds every job, while a run worker (or ``dagster job execute -j JOB``) validates and
compiles only the workflow it runs and the workflows that one names. See
:func:`yaml2dag.build_definitions` to embed yaml2dag in your own code location.
"""

from yaml2dag.location import build_repository

defs = build_repository()
