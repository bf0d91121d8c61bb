"""The Dagster webserver's address: a setting (``YAML2DAG_URL``) read by ``yaml2dag trigger``, the
reloader of ``yaml2dag dev`` and the links to a run's page that approval gates send.

Dagster-free and import-light, so the tools (an approval gate's notifications) and the triggers
read the same setting.
"""

from __future__ import annotations

import os
from typing import Mapping

#: Where yaml2dag looks for the webserver when :data:`URL_ENV` is unset.
DEFAULT_URL = "http://127.0.0.1:3000"
#: Environment variable that overrides :data:`DEFAULT_URL` (``http://host:port``, with a path
#: prefix when the webserver has one: ``https://host/dagster``).
URL_ENV = "YAML2DAG_URL"


def webserver_url(environ: Mapping[str, str] | None = None) -> str:
    """The webserver's base URL: ``$YAML2DAG_URL`` (a bare ``host:port`` means http), else
    :data:`DEFAULT_URL`; without a trailing slash.

    Args:
        environ: the environment to read (default ``os.environ``).

    Returns:
        The URL (str), e.g. ``"http://127.0.0.1:3000"``.
    """
    text = ((os.environ if environ is None else environ).get(URL_ENV) or "").strip() or DEFAULT_URL
    text = text.rstrip("/")
    return text if "://" in text else "http://" + text


def run_page_url(run_id: str, environ: Mapping[str, str] | None = None) -> str:
    """The UI page of a run: ``<webserver_url()>/runs/<run_id>``."""
    return f"{webserver_url(environ)}/runs/{run_id}"


__all__ = ["DEFAULT_URL", "URL_ENV", "run_page_url", "webserver_url"]
