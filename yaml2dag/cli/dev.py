"""``yaml2dag dev``: the Dagster webserver and daemon on the definitions folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import click


@click.command()
@click.option("--port", "-p", default=3000, show_default=True, help="Port of the Dagster UI.")
@click.option("--host", default="127.0.0.1", show_default=True, help="Host the UI listens on.")
@click.option("--workspace", "-w", default="workspace.yaml", show_default=True, type=click.Path(),
              help="Dagster workspace file (loads yaml2dag.definitions).")
def dev(port: int, host: str, workspace: str) -> None:
    """Start `dagster dev` with DAGSTER_HOME=./dagster_home (unless set) and the workspace.

    Open http://HOST:PORT to see every workflow as a job. Stops cleanly on Ctrl-C / SIGTERM,
    taking its child processes with it.
    """
    env = dict(os.environ)
    home = Path(env.get("DAGSTER_HOME") or "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    env["DAGSTER_HOME"] = str(home)
    folder = Path(env.get("YAML2DAG_DEFINITIONS") or "definitions").resolve()
    env["YAML2DAG_DEFINITIONS"] = str(folder)
    args = [sys.executable, "-m", "dagster", "dev", "--port", str(port), "--host", host]
    if Path(workspace).is_file():
        args += ["-w", workspace]
    else:
        args += ["-m", "yaml2dag.definitions"]
    click.echo(f"yaml2dag dev: definitions {folder}, DAGSTER_HOME {home}, UI http://{host}:{port}", err=True)
    proc = subprocess.Popen(args, env=env, start_new_session=True)

    def stop(signum, _frame):
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    signal.signal(signal.SIGTERM, stop)
    try:
        code = proc.wait()
    except KeyboardInterrupt:
        stop(signal.SIGINT, None)
        try:
            code = proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            code = proc.wait()
    raise SystemExit(code if code >= 0 else 0)
