"""``yaml2dag dev``: the Dagster webserver and daemon on the definitions folder, with hot reload.

It runs ``dagster dev`` (webserver + daemon + one shared code server) in its own process
group, with ``DAGSTER_HOME`` (default ``./dagster_home``; one without a ``dagster.yaml`` gets the
shipped configuration, :mod:`yaml2dag.deploy`) and ``YAML2DAG_DEFINITIONS`` (default
``./definitions``) made absolute, and watches the definitions folder: adding, changing or
removing a workflow file reloads the code location (:mod:`yaml2dag.library.reloader`). Ctrl-C or
SIGTERM stops everything: every process of the group gets SIGTERM, then SIGKILL if still alive
after :data:`STOP_TIMEOUT` seconds (:func:`stop_group`).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from yaml2dag.deploy import ensure_dagster_yaml
from yaml2dag.runs.runner import prepare_storage

#: Seconds ``dagster dev`` and its children get to stop after SIGTERM before SIGKILL.
STOP_TIMEOUT = 30.0

WORKSPACE_TEMPLATE = """# written by yaml2dag dev: the yaml2dag code location
load_from:
  - python_module:
      module_name: yaml2dag.definitions
      location_name: {location}
      working_directory: {cwd}
"""


class _Stop(Exception):
    """SIGTERM received."""


def group_members(pgid: int) -> list:
    """The running processes of process group ``pgid`` (``psutil.Process`` objects)."""
    # lazy: psutil is heavy and optional here; kept off light paths
    import psutil

    members = []
    for process in psutil.process_iter():
        try:
            if os.getpgid(process.pid) == pgid:
                members.append(process)
        except OSError:
            continue
    return members


def stop_group(proc: subprocess.Popen, timeout: float = STOP_TIMEOUT) -> int:
    """Stop a child started with ``start_new_session=True`` and everything in its group.

    The group's members are listed first, then each gets SIGTERM (``dagster dev`` and its
    services shut down in order on it); whatever still runs ``timeout`` seconds later gets
    SIGKILL. Signals go through psutil, which never signals a pid reused by another process.
    Returns the leader's exit code.
    """
    # lazy: psutil is heavy and optional here; kept off light paths
    import psutil

    members = group_members(proc.pid)
    for member in members:
        try:
            member.send_signal(signal.SIGTERM)
        except psutil.NoSuchProcess:
            pass
    deadline = time.monotonic() + timeout
    try:
        proc.wait(timeout=max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        pass
    _gone, alive = psutil.wait_procs(members, timeout=max(0.1, deadline - time.monotonic()))
    for member in alive:
        try:
            member.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=10)
    try:
        return proc.wait(timeout=10)
    except subprocess.TimeoutExpired:  # pragma: no cover - SIGKILL cannot be ignored
        return -9


@click.command()
@click.option("--port", "-p", default=3000, show_default=True, help="Port of the Dagster UI.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Host the UI listens on.")
@click.option("--workspace", "-w", default="workspace.yaml", show_default=True, type=click.Path(),
              help="Dagster workspace file (loads yaml2dag.definitions); without one, yaml2dag writes its own.")
@click.option("--reload/--no-reload", "hot_reload", default=True, show_default=True,
              help="Reload the code location when a workflow file is added, changed or removed.")
@click.option("--debounce", default=1.0, show_default=True, type=float,
              help="Seconds of quiet in the definitions folder before a reload.")
def dev(port: int, host: str, workspace: str, hot_reload: bool, debounce: float) -> None:
    """Start the Dagster UI and daemon with DAGSTER_HOME=./dagster_home (unless set).

    Open http://HOST:PORT to see every workflow as a job, with its schedules and sensors.
    Dropping, editing or deleting a workflow file in the definitions folder reloads the code
    location within a few seconds (an invalid file shows up as a broken-workflow job). Stops
    cleanly on Ctrl-C / SIGTERM, taking its child processes with it.
    """
    env = dict(os.environ)
    home = Path(env.get("DAGSTER_HOME") or "dagster_home").resolve()
    if ensure_dagster_yaml(home):
        click.echo(f"yaml2dag dev: wrote the shipped dagster.yaml into {home}", err=True)
    env["DAGSTER_HOME"] = str(home)
    # the webserver, daemon and code server open the instance at once: a new home's storage is
    # created first, under yaml2dag's lock (they would race to create it)

    prepare_storage(home)
    folder = Path(env.get("YAML2DAG_DEFINITIONS") or "definitions").resolve()
    folder.mkdir(parents=True, exist_ok=True)
    env["YAML2DAG_DEFINITIONS"] = str(folder)
    args = [sys.executable, "-m", "dagster", "dev", "--port", str(port), "--host", host]
    scratch = None
    if Path(workspace).is_file():
        args += ["-w", workspace]
    else:
        # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
        from yaml2dag.triggers.remote import LOCATION_NAME

        scratch = tempfile.TemporaryDirectory(prefix="yaml2dag-dev-")
        generated = Path(scratch.name) / "workspace.yaml"
        generated.write_text(WORKSPACE_TEMPLATE.format(location=LOCATION_NAME, cwd=json.dumps(str(Path.cwd()))))
        args += ["-w", str(generated)]
    url = f"http://{'127.0.0.1' if host in ('0.0.0.0', '::', '') else host}:{port}"
    click.echo(f"yaml2dag dev: definitions {folder}, DAGSTER_HOME {home}, UI {url}", err=True)

    def on_term(_signum, _frame):
        raise _Stop()

    previous = signal.signal(signal.SIGTERM, on_term)
    # Ctrl-C must reach us even when started from a shell that ignores SIGINT in background
    # jobs; children inherit an ignored SIGINT, and `dagster dev` maps SIGTERM to SIGINT's handler.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    proc = subprocess.Popen(args, env=env, start_new_session=True)
    reloader = None
    code = 0
    try:
        if hot_reload:
            # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
            from yaml2dag.library.reloader import DefinitionsReloader
            # lazy: keeps Dagster out of `validate`/`list`/`show`/`schema`
            from yaml2dag.triggers.remote import parse_url

            reloader = DefinitionsReloader(folder, parse_url(url), debounce=debounce,
                                           log=lambda text: click.echo(f"yaml2dag dev: {text}", err=True))
            reloader.start()
            click.echo(f"yaml2dag dev: watching {folder} for workflow changes", err=True)
        code = proc.wait()
    except (KeyboardInterrupt, _Stop):
        click.echo("yaml2dag dev: stopping", err=True)
        code = 0
    finally:
        # a second Ctrl-C or SIGTERM must not cut the (bounded) cleanup short
        previous_int = signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        if reloader is not None:
            reloader.stop()
        stop_group(proc)  # also when dagster dev exited by itself: its children go too
        if scratch is not None:
            scratch.cleanup()
        signal.signal(signal.SIGTERM, previous)
        signal.signal(signal.SIGINT, previous_int)
    raise SystemExit(code if code >= 0 else 0)
