"""`.ci/services` (called by `.ci/run`): starts RabbitMQ and PostgreSQL when they do not answer,
with this machine kind's commands, and leaves running ones alone. Run with stub
`rabbitmq-server` and `pg_ctlcluster` commands that record what they are asked, against ports
where nothing listens (or a listener of the test's own); nothing is started for real.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

from conftest import REPO

SCRIPT = REPO / ".ci" / "services"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _run(tmp_path: Path, rabbit_port: int, pg_port: int, with_tools: bool = True):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    for tool in ("bash", "seq", "sleep", "ls", "head"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    if with_tools:
        for name in ("rabbitmq-server", "pg_ctlcluster"):
            stub = bin_dir / name
            stub.write_text(f'#!/bin/sh\necho "{name} $*" >> {calls}\n')
            stub.chmod(0o755)
    env = {"PATH": str(bin_dir), "CI_RABBITMQ_PORT": str(rabbit_port), "CI_POSTGRES_PORT": str(pg_port),
           "CI_SERVICE_WAIT_TRIES": "1"}
    done = subprocess.run([shutil.which("bash"), str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
    return done, calls.read_text().splitlines() if calls.exists() else []


def test_services_that_do_not_answer_are_started_with_the_documented_commands(tmp_path):
    done, calls = _run(tmp_path, _free_port(), _free_port())
    assert done.returncode == 0, done.stderr
    assert calls[0] == "rabbitmq-server -detached"
    if Path("/etc/postgresql").is_dir():
        version = sorted(os.listdir("/etc/postgresql"))[0]
        assert calls[1] == f"pg_ctlcluster --skip-systemctl-redirect {version} main start"
    assert "ci: starting RabbitMQ: rabbitmq-server -detached" in done.stderr
    # the stubs start nothing: the script says so and still does not fail the build
    assert "ci: RabbitMQ still does not answer" in done.stderr


def test_answering_services_are_left_alone(tmp_path):
    with socket.socket() as a, socket.socket() as b:
        for sock in (a, b):
            sock.bind(("127.0.0.1", 0))
            sock.listen(4)
        done, calls = _run(tmp_path, a.getsockname()[1], b.getsockname()[1])
    assert done.returncode == 0 and calls == [] and done.stderr == "", done.stderr


def test_missing_servers_are_named_and_do_not_fail_the_build(tmp_path):
    done, calls = _run(tmp_path, _free_port(), _free_port(), with_tools=False)
    assert done.returncode == 0 and calls == []
    assert "RabbitMQ is not installed" in done.stderr


def test_ci_run_starts_the_services_before_the_test_command():
    text = (REPO / ".ci" / "run").read_text()
    assert text.index("bash .ci/services") < text.index("python -m pytest -q")
