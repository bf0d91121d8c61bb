"""`.ci/debian-packages` (called by `.ci/run`): installs the Debian packages of the email and
browser tests as root, through sudo when that works without a password, and otherwise says
so. Run with stub `id`, `dpkg`, `sudo` and `apt-get` commands that record what they are asked;
nothing is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

SCRIPT = REPO / ".ci" / "debian-packages"


def _stub(folder: Path, name: str, body: str) -> None:
    path = folder / name
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)


def _run(tmp_path: Path, *, uid: int, sudo: str | None) -> tuple[subprocess.CompletedProcess, list[str]]:
    """The script with a PATH of stubs plus the few real tools it needs (``sudo``: None = no
    sudo at all, ``"ok"`` = passwordless sudo, ``"password"`` = sudo that would prompt)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    calls = tmp_path / "calls.txt"
    for tool in ("env", "timeout", "sh", "bash", "true"):
        os.symlink(shutil.which(tool), bin_dir / tool)
    _stub(bin_dir, "id", f'echo {uid}')
    _stub(bin_dir, "dpkg", "exit 1")  # nothing installed
    _stub(bin_dir, "apt-get", f'echo "apt-get $*" >> {calls}')
    if sudo == "ok":
        _stub(bin_dir, "sudo", f'echo "sudo $*" >> {calls}; [ "$1" = -n ] && shift; exec "$@"')
    elif sudo == "password":
        _stub(bin_dir, "sudo", f'echo "sudo $*" >> {calls}; echo "sudo: a password is required" >&2; exit 1')
    done = subprocess.run([shutil.which("bash"), str(SCRIPT)], env={"PATH": str(bin_dir)}, capture_output=True,
                          text=True, timeout=60)
    return done, calls.read_text().splitlines() if calls.exists() else []


def test_as_root_apt_get_installs_the_missing_packages(tmp_path):
    done, calls = _run(tmp_path, uid=0, sudo=None)
    assert done.returncode == 0, done.stderr
    assert calls == ["apt-get update -q",
                     "apt-get install -y -q --no-install-recommends dovecot-imapd dovecot-lmtpd chromium"]


def test_not_root_uses_passwordless_sudo(tmp_path):
    done, calls = _run(tmp_path, uid=1000, sudo="ok")
    assert done.returncode == 0, done.stderr
    assert calls == ["sudo -n true",
                     "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get update -q",
                     "apt-get update -q",
                     "sudo -n env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "
                     "dovecot-imapd dovecot-lmtpd chromium",
                     "apt-get install -y -q --no-install-recommends dovecot-imapd dovecot-lmtpd chromium"]


@pytest.mark.parametrize("sudo", [None, "password"])
def test_not_root_without_usable_sudo_warns_and_installs_nothing(tmp_path, sudo):
    done, calls = _run(tmp_path, uid=1000, sudo=sudo)
    assert done.returncode == 0
    assert not any(call.startswith("apt-get") for call in calls)
    assert "ci: warning: not root, and sudo is missing or asks for a password" in done.stderr
    assert "dovecot-imapd dovecot-lmtpd chromium" in done.stderr


def test_ci_run_calls_it_before_the_test_command():
    text = (REPO / ".ci" / "run").read_text()
    assert text.index("bash .ci/debian-packages") < text.index("python -m pytest -q")
