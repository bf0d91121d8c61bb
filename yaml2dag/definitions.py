"""The yaml2dag code location: ``defs`` holds every workflow of the definitions folder.

Load it with ``dagster dev -w workspace.yaml``, ``dagster job execute -m yaml2dag.definitions
-j JOB`` or ``dagster definitions validate -m yaml2dag.definitions``. The folder is
``$YAML2DAG_DEFINITIONS`` (default ``./definitions``); ``YAML2DAG_STRICT=1`` fails the load on
any invalid file. See :func:`yaml2dag.build_definitions` to embed yaml2dag in your own code
location.
"""

from yaml2dag.location import build_definitions

defs = build_definitions()
