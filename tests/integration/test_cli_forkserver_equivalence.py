"""tests/cli_forkserver.py gives what a fresh ``python -m yaml2dag`` gives: the same exit code,
stdout and stderr for commands that succeed, fail with a usage error, fail on a run id no run
has, and run a workflow whose step prints its working directory and an environment variable of
the call; and a command that outlives its bound is killed with its process group."""

from __future__ import annotations

import json

import pytest

import cli_forkserver
from conftest import make_dagster_home, run_cli, write
from waiting import wait_until

pytestmark = pytest.mark.slow

SHOW = """
name: Show Place
steps:
  - id: where
    tool: shell
    parameters: {command: "pwd; echo mark=$FORKSERVER_MARK; echo oops >&2"}
outputs:
  where: "{{ where.output }}"
"""

SLOW = """
name: Slow Place
steps:
  - id: nap
    tool: python
    parameters: {callable: "time:sleep", args: [300]}
"""


@pytest.fixture
def place(tmp_path):
    folder = tmp_path / "definitions"
    write(folder, "show.yaml", SHOW)
    write(folder, "slow.yaml", SLOW)
    return tmp_path, folder


@pytest.mark.parametrize("args", [["--help"], ["bogus-command"], ["list", "--format", "json"],
                                  ["validate", "definitions/show.yaml"], ["status", "0badc0de-0000-4000-8000-000000000000"],
                                  ["status", "0badc0de-0000-4000-8000-000000000000", "--format", "json"]],
                         ids=lambda a: "-".join(a)[:30])
def test_a_forked_command_prints_what_a_fresh_one_prints(place, args):
    root, folder = place
    env = {"DAGSTER_HOME": str(make_dagster_home(root / "home")), "YAML2DAG_DEFINITIONS": str(folder)}
    fresh, forked = run_cli(*args, env=env, cwd=root, fresh=True), cli_forkserver.run_cli(*args, env=env, cwd=root)
    assert (forked.code, forked.stdout, forked.stderr) == (fresh.code, fresh.stdout, fresh.stderr)


def test_a_forked_run_has_the_working_directory_and_environment_of_its_call(place, tmp_path):
    root, folder = place
    home = make_dagster_home(tmp_path / "home")
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder), "FORKSERVER_MARK": "m-42"}
    ran = cli_forkserver.run_cli("run", "Show Place", "--format", "json", env=env, cwd=root)
    assert ran.code == 0, ran.stderr
    assert json.loads(ran.stdout)["outputs"]["where"] == f"{root}\nmark=m-42"
    assert cli_forkserver.run_cli("status", json.loads(ran.stdout)["run_id"], "--format", "json",
                                  env=env, cwd=root).code == 0


def test_a_forked_command_that_outlives_its_bound_is_killed_with_its_group(place, tmp_path):
    root, folder = place
    home = make_dagster_home(tmp_path / "home")
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": str(folder)}
    call = cli_forkserver.start_cli("run", "Slow Place", env=env, cwd=root)
    with pytest.raises(AssertionError, match="did not finish within 3s"):
        call.finish(timeout=3)
    assert call.code == -9 and call.poll() == -9  # killed, and reaped
    # SIGKILL was sent to the whole group: every member ends (and init reaps them) at once
    wait_until(lambda: not _group_members(call.pid), 30, 0.1, "the killed command's process group to end")


def _group_members(pgid: int) -> list[int]:
    import os

    import psutil

    members = []
    for proc in psutil.process_iter():
        try:
            if os.getpgid(proc.pid) == pgid:
                members.append(proc.pid)
        except ProcessLookupError:
            continue
    return members


def test_run_cli_forks_by_default_and_starts_a_fresh_interpreter_when_startup_variables_differ(place, tmp_path,
                                                                                              monkeypatch):
    """``conftest.run_cli`` forks from the server (it never calls ``run_process``) unless asked for
    a fresh interpreter or the call changes a variable read at interpreter start: a
    ``sitecustomize`` on the call's ``PYTHONPATH`` runs only in a fresh interpreter."""
    import conftest

    root, folder = place
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text("import sys\nprint('FRESH-INTERPRETER', file=sys.stderr)\n")
    env = {"YAML2DAG_DEFINITIONS": str(folder)}
    started = []
    real = conftest.run_process
    monkeypatch.setattr(conftest, "run_process", lambda argv, **kw: started.append(argv) or real(argv, **kw))

    forked = run_cli("list", env=env, cwd=root)
    assert forked.code == 0 and "Show Place" in forked.stdout and started == []
    with_path = run_cli("list", env={**env, "PYTHONPATH": str(site)}, cwd=root)
    assert with_path.code == 0 and "FRESH-INTERPRETER" in with_path.stderr and len(started) == 1
    asked = run_cli("list", env=env, cwd=root, fresh=True)
    assert asked.code == 0 and "Show Place" in asked.stdout and len(started) == 2
    # a locale variable is read at start too (a value the server did not start with)
    ctype = "C" if conftest.START_ENV.get("LC_CTYPE") == "C.UTF-8" else "C.UTF-8"
    run_cli("list", env={**env, "LC_CTYPE": ctype}, cwd=root)
    assert len(started) == 3
