"""Headless Debian Chromium through Playwright, for the browser tests of the Dagster UI.

:func:`chromium` is the body of a module-scoped ``browser`` fixture: it yields a launched
Playwright ``Browser`` and closes it afterwards, or skips the test module saying why Chromium
cannot start (Playwright missing, ``/usr/bin/chromium`` missing: ``.ci/run`` installs both).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

#: Debian's Chromium (the ``chromium`` package that ``.ci/debian-packages`` installs).
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
#: Bound (ms) for Chromium to start.
LAUNCH_TIMEOUT_MS = 60_000


def chromium() -> Iterator:
    """Yield a headless Chromium ``Browser``; skip (saying why) if it cannot start."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as exc:
        pytest.skip(f"the playwright package is not installed: {exc}")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} not found: install Debian's chromium package (apt-get install -y chromium)")
    manager = sync_playwright().start()
    try:
        browser = manager.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, timeout=LAUNCH_TIMEOUT_MS)
    except Exception as exc:  # noqa: BLE001 - any launch problem is a reason to skip, printed
        manager.stop()
        pytest.skip(f"Chromium at {CHROMIUM} could not start: {str(exc).splitlines()[0]}")
    try:
        yield browser
    finally:
        browser.close()
        manager.stop()
