"""Who is acting: the user recorded on approval decisions, run tags and library versions.

Dagster-free, so that library writes (`schedule`, `create`, ...) can name the user without
importing Dagster.
"""

from __future__ import annotations

import getpass
import os


def default_user() -> str:
    """Who is acting, when ``--by`` is not given: ``$YAML2DAG_USER``, else the login name
    (``"unknown"`` when the system has no passwd entry for the process).

    Returns:
        The user name (str).
    """
    try:
        return os.environ.get("YAML2DAG_USER") or getpass.getuser()
    except Exception:  # noqa: BLE001 - getuser fails without a passwd entry
        return "unknown"
