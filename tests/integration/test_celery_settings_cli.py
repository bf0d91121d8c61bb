"""Issue 13, section 4, through the real CLI and without a broker: a wrong folder-wide default
executor (``YAML2DAG_EXECUTOR``) stops ``yaml2dag run`` with one line before anything is stored,
and ``--dry-run`` shows the default. The in-process checks: tests/unit/test_celery_settings.py.
"""

from __future__ import annotations

import json

from conftest import run_cli, write

BASE = "name: Exec\nsteps:\n  - {id: s, tool: shell, parameters: {command: 'true'}}\n"


def test_a_wrong_default_stops_yaml2dag_run_before_anything_is_stored(tmp_path):
    home = tmp_path / "home"
    write(tmp_path / "definitions", "wf.yaml", BASE)
    done = run_cli("run", "Exec", cwd=tmp_path, env={"YAML2DAG_EXECUTOR": "celry", "DAGSTER_HOME": str(home)})
    assert done.code == 2, done.stdout + done.stderr
    assert "YAML2DAG_EXECUTOR: expected one of threads, in_process, multiprocess, celery, got 'celry'" in done.stderr
    assert "Traceback" not in done.stderr
    assert not list(home.rglob("*.db")) or not (home / "history").exists()
    dry = run_cli("run", "Exec", "--dry-run", "--format", "json", cwd=tmp_path,
                  env={"YAML2DAG_EXECUTOR": "celery", "DAGSTER_HOME": str(home)})
    assert dry.code == 0 and json.loads(dry.stdout)["executor"]["type"] == "celery", dry.stderr
