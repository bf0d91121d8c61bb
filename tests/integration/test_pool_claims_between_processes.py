"""A pool of 1 holds between processes on SQLite storage (yaml2dag.compiler.pool_claims).

Dagster's SQLite event log storage has no row locks: processes that claim a fresh pool at the same
moment could each create a slot and each be assigned one (seen in CI as two `dagster job execute`
runs both inside a pool of 1; reproduced here with Dagster's own ``InstanceConcurrencyContext``
in 2 of 7 rounds of 5 processes). Several real processes, released together round after round
on a new pool each time, claim through :class:`PoolClaims`: exactly one may hold the pool.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import dagster as dg

from tests.waiting import wait_until
from yaml2dag.compiler.pool_claims import LOCK_FILE, claims_lock

PROCESSES = 4
ROUNDS = 8

CLAIMER = r"""
import sys, time, uuid
from pathlib import Path
import dagster as dg
from yaml2dag.compiler.pool_claims import PoolClaims

home, me, rounds = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])

def wait_for(path):
    deadline = time.monotonic() + 120
    while not path.exists():
        if time.monotonic() > deadline:
            sys.exit(f"{me}: no {path.name}")
        time.sleep(0.001)

with dg.DagsterInstance.from_config(str(home)) as instance:
    run = dg.DagsterRun(job_name="pool_race", run_id=str(uuid.uuid4()))
    with PoolClaims(instance, run) as claims:
        (home / f"ready-{me}").touch()
        for r in range(rounds):
            wait_for(home / f"go-{r}")
            got = claims.claim(f"pool_{r}", f"step_{r}")
            (home / f"claim-{r}-{me}").write_text("1" if got else "0")
            wait_for(home / f"release-{r}")
            claims.free_step(f"step_{r}")
"""


def test_a_pool_of_one_admits_one_of_several_processes_claiming_at_once(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shutil.copy(Path(__file__).parents[2] / "yaml2dag" / "deploy" / "dagster.yaml", home)  # pools of 1
    with dg.DagsterInstance.from_config(str(home)) as instance:
        lock = claims_lock(instance)
        assert lock is not None and Path(lock.lock_file) == home / LOCK_FILE
        instance.event_log_storage.get_concurrency_keys()  # create the storage before the race
    script = tmp_path / "claimer.py"
    script.write_text(CLAIMER)
    procs = [subprocess.Popen([sys.executable, str(script), str(home), str(k), str(ROUNDS)],
                              cwd=Path(__file__).parents[2], start_new_session=True)
             for k in range(PROCESSES)]
    try:
        def alive():
            for p in procs:
                assert p.poll() is None or p.returncode == 0, f"a claimer exited with {p.returncode}"
            return True

        wait_until(lambda: alive() and all((home / f"ready-{k}").exists() for k in range(PROCESSES)),
                   timeout=180, what="every claimer to open the instance")
        holders = []
        for r in range(ROUNDS):
            (home / f"go-{r}").touch()
            answers = [home / f"claim-{r}-{k}" for k in range(PROCESSES)]
            wait_until(lambda: alive() and all(a.exists() and a.read_text() for a in answers),
                       timeout=120, what=f"round {r}: every claimer to answer")
            holders.append(sum(int(a.read_text()) for a in answers))
            (home / f"release-{r}").touch()
        assert holders == [1] * ROUNDS, f"processes holding a pool of 1, per round: {holders}"
        for p in procs:
            assert p.wait(timeout=120) == 0
        with dg.DagsterInstance.from_config(str(home)) as instance:
            for r in range(ROUNDS):
                info = instance.event_log_storage.get_concurrency_info(f"pool_{r}")
                assert (info.slot_count, info.claimed_slots) == (1, []), (r, info)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=30)
