"""Issue 15, point 5: ``yaml2dag prune --older-than D [--workflow NAME] [--status S] [--dry-run]
[--export FILE] [--now TIME]`` deletes old finished runs with their event logs, compute logs and
stored step outputs, after exporting their audit records when asked; a run that is not finished
(here: one paused at an approval gate) is never deleted, nor a run an unfinished re-execution
descends from.

Real `python -m yaml2dag` subprocesses from a working directory holding a relative ``definitions``
folder and ``dagster_home`` (no YAML2DAG_DEFINITIONS, no DAGSTER_HOME), and once with both set
explicitly. "Old" runs without waiting: ``--now`` moves the moment ages are measured from.

The two tests of the runs of Alpha, Beta and a paused Gated share one world (a module-scoped
fixture, built once): every read the dry-run test asserts on (dry runs, the refused export,
history, files) is made while the world is built, before any test deletes a run, so the tests
pass in any order.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import CLI_TIMEOUT, make_dagster_home, run_cli, write
from paused_runs import paused_run_id
from waiting import wait_until

pytestmark = pytest.mark.slow

DROP = ("DAGSTER_HOME", "YAML2DAG_DEFINITIONS")

ALPHA = """
name: Alpha
steps:
  - id: make
    tool: shell
    parameters: {command: "echo alpha-output; echo alpha-err >&2"}
  - id: use
    tool: shell
    parameters: {command: "echo got {{ make.output }}"}
"""

BETA = """
name: Beta
steps:
  - id: boom
    tool: shell
    parameters: {command: "echo about to fail; exit 3"}
"""

GATED = """
name: Gated
steps:
  - id: gate
    tool: approval
    parameters: {message: "go on?"}
  - id: after
    tool: shell
    parameters: {command: "echo after"}
"""


def cli(base: Path, *args: str, code: int | None = 0, env: dict | None = None):
    done = run_cli(*args, cwd=base, drop=DROP, env=env)
    if code is not None:
        assert done.code == code, f"{args}: exit {done.code}\n{done.stdout}\n{done.stderr}"
    return done


def cli_json(base: Path, *args: str, code: int | None = 0) -> dict:
    return json.loads(cli(base, *args, "--format", "json", code=code).stdout)


def ran(base: Path, name: str, code: int) -> str:
    done = cli(base, "run", name, "--format", "json", code=code)
    return json.loads(done.stdout)["run_id"]


def iso_now(shift_s: float = 0) -> str:
    # to the microsecond: cut to the second, a run that ended 0.7 s before this moment would seem
    # to end after it (seen in CI)
    return (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=shift_s)).isoformat(timespec="microseconds")


class Background:
    """A `yaml2dag` command in the background (its own process group), from ``base``."""

    def __init__(self, base: Path, *args: str):
        env = {k: v for k, v in os.environ.items() if k not in DROP}
        env["NO_COLOR"] = "1"
        self.proc = subprocess.Popen([sys.executable, "-m", "yaml2dag", *args], cwd=base, env=env,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     start_new_session=True)

    def finish(self) -> int:
        self.proc.communicate(timeout=CLI_TIMEOUT)
        return self.proc.returncode

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.communicate()


def paused_run(base: Path, proc: Background, exclude: set[str] = frozenset()) -> str:
    """The id of a run of Gated waiting at its gate (not one of ``exclude``), as `history` lists it.

    Waits in-process (:func:`paused_runs.paused_run_id`, cheap polls), then asks `history` once
    (bounded, in case the CLI sees it a moment later)."""
    paused_run_id(base / "dagster_home", proc.proc, exclude=exclude, timeout=120)

    def found():
        runs = cli_json(base, "history", "Gated")["runs"]
        return next((r["run_id"] for r in runs if r["status"] == "paused" and r["run_id"] not in exclude), None)

    return wait_until(found, 120, 0.5, "the Gated run to pause at its gate", process=proc.proc)


def run_files(home: Path, run_id: str) -> dict[str, bool]:
    """Whether each kind of file a run leaves exists."""
    storage = home / "storage" / run_id
    return {
        "event_log": (home / "history" / "runs" / f"{run_id}.db").is_file(),
        "compute_logs": any((storage / "compute_logs").glob("*.out")),
        "outputs": any(p.is_file() for p in storage.rglob("*") if "compute_logs" not in p.parts),
    }


def make_project(base: Path) -> tuple[Path, Path]:
    """``base`` with the three workflows in ``definitions`` and a ``dagster_home``."""
    for name, text in (("alpha.yaml", ALPHA), ("beta.yaml", BETA), ("gated.yaml", GATED)):
        write(base / "definitions", name, text)
    home = make_dagster_home(base / "dagster_home")
    return base, home


@pytest.fixture
def project(tmp_path):
    return make_project(tmp_path / "project")


class World:
    """Alpha run twice and Beta once (failed), ``between`` taken after the first two ended, and a
    run of Gated paused at its gate in the background (``gated``, ``gated_proc``)."""

    def __init__(self, base: Path, home: Path):
        self.base, self.home = base, home
        self.alpha1 = ran(base, "Alpha", 0)
        self.beta1 = ran(base, "Beta", 1)
        self.between = iso_now()  # alpha1 and beta1 ended before this moment; alpha2 is created after it
        self.alpha2 = ran(base, "Alpha", 0)


class DryRuns:
    """What the dry-run test asserts on, read while the world is built (before any deletion):
    the files of alpha1 and beta1 before and after, the dry runs' answers, ``history`` after the
    dry runs and after the refused export, whether the dry run wrote its export."""

    def __init__(self, world: World):
        base, home, future, between = world.base, world.home, world.future, world.between
        self.files_before = {world.alpha1: run_files(home, world.alpha1), world.beta1: run_files(home, world.beta1)}
        self.by_age = cli_json(base, "prune", "--older-than", "0s", "--now", between, "--dry-run")
        self.everything = cli_json(base, "prune", "--older-than", "1h", "--now", future, "--dry-run",
                                   "--export", "never.jsonl")
        self.export_written = (base / "never.jsonl").exists()
        self.text = cli(base, "prune", "--older-than", "1h", "--now", future, "--dry-run").stdout
        self.only_alpha = cli_json(base, "prune", "--older-than", "1h", "--now", future, "--dry-run",
                                   "--workflow", "Alpha")
        self.by_job_id = cli_json(base, "prune", "--older-than", "1h", "--now", future, "--dry-run",
                                  "--workflow", "beta")
        self.failed = {words: cli_json(base, "prune", "--older-than", "1h", "--now", future, "--dry-run", *words)
                       for words in (("--status", "failed"), ("--status", "failure,canceled"))}
        self.succeeded = cli_json(base, "prune", "--older-than", "1h", "--now", future, "--dry-run",
                                  "--status", "success", "--status", "canceled")
        self.history_after_dry_runs = {r["run_id"] for r in cli_json(base, "history", "--limit", "50")["runs"]}
        self.files_after_dry_runs = run_files(home, world.alpha1)
        self.failed_export = cli(base, "prune", "--older-than", "1h", "--now", future, "--export",
                                 "/proc/prune.jsonl", code=1)
        self.history_after_failed_export = {r["run_id"] for r in cli_json(base, "history", "--limit", "50")["runs"]}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The :class:`World`, built once for the module, with its :class:`DryRuns` (``dry``) read
    before any test deletes; the paused Gated run is killed at the end unless a test finished it."""
    made = World(*make_project(tmp_path_factory.mktemp("prune") / "project"))
    made.gated_proc = Background(made.base, "run", "Gated", "--format", "json")
    try:
        made.gated = paused_run(made.base, made.gated_proc)
        made.everyone = {made.alpha1, made.beta1, made.alpha2, made.gated}
        made.future = iso_now(3600)
        made.dry = DryRuns(made)
        yield made
    finally:
        made.gated_proc.kill()


def test_dry_runs_and_filters_select_by_age_workflow_and_status_and_delete_nothing(world):
    base, dry = world.base, world.dry
    alpha1, beta1, alpha2, gated, everyone = world.alpha1, world.beta1, world.alpha2, world.gated, world.everyone
    assert dry.files_before[alpha1] == {"event_log": True, "compute_logs": True, "outputs": True}
    # a failed step stores no output
    assert dry.files_before[beta1]["event_log"] and dry.files_before[beta1]["compute_logs"]

    # --- dry runs: what would go, and nothing goes
    by_age = dry.by_age
    assert by_age["dry_run"] is True and by_age["deleted"] == 0 and by_age["export"] is None
    assert {r["run_id"] for r in by_age["runs"]} == {alpha1, beta1}
    assert by_age["counts"] == [{"workflow": "Alpha", "status": "completed", "runs": 1},
                                {"workflow": "Beta", "status": "failed", "runs": 1}]
    assert by_age["total"] == 2 and by_age["kept"] == []

    everything = dry.everything
    assert {r["run_id"] for r in everything["runs"]} == {alpha1, beta1, alpha2}
    assert [(k["run_id"], k["reason"]) for k in everything["kept"]] == \
        [(gated, "not finished: paused at an approval gate")]
    assert not dry.export_written  # a dry run writes no export either
    assert not (base / "never.jsonl").exists()
    text = dry.text
    assert "dry run: 3 run(s)" in text and "nothing was deleted" in text, text
    assert alpha1 in text and beta1 in text and alpha2 in text, text
    assert f"{gated} Gated: not finished: paused at an approval gate" in text, text

    only_alpha = dry.only_alpha
    assert {r["run_id"] for r in only_alpha["runs"]} == {alpha1, alpha2} and only_alpha["kept"] == []
    assert {r["run_id"] for r in dry.by_job_id["runs"]} == {beta1}  # the job id names the workflow too
    for words, failed in dry.failed.items():
        assert {r["run_id"] for r in failed["runs"]} == {beta1}, words
    assert {r["run_id"] for r in dry.succeeded["runs"]} == {alpha1, alpha2}
    assert dry.history_after_dry_runs == everyone  # nothing went
    assert dry.files_after_dry_runs == {"event_log": True, "compute_logs": True, "outputs": True}

    # --- an export that cannot be written (exit 1, checked by `cli`): nothing is deleted
    assert "cannot write the export /proc/prune.jsonl" in dry.failed_export.stderr
    assert "nothing was deleted" in dry.failed_export.stderr
    assert dry.history_after_failed_export == everyone


def test_prune_exports_first_then_deletes_runs_and_files_and_never_a_paused_run(world):
    base, home, future, between = world.base, world.home, world.future, world.between
    alpha1, beta1, alpha2, gated, everyone = world.alpha1, world.beta1, world.alpha2, world.gated, world.everyone
    gated_proc = world.gated_proc
    assert run_files(home, alpha1) == {"event_log": True, "compute_logs": True, "outputs": True}
    assert run_files(home, alpha2)["outputs"] and run_files(home, beta1)["compute_logs"]

    # --- the runs of Alpha older than the moment between: export, then delete
    done = cli_json(base, "prune", "--older-than", "0s", "--now", between, "--workflow", "Alpha",
                    "--export", "alpha.jsonl")
    assert (done["deleted"], done["total"]) == (1, 1) and done["freed_bytes"] > 0
    assert done["export"] == {"file": "alpha.jsonl", "format": "jsonl", "records": 1}
    records = [json.loads(line) for line in (base / "alpha.jsonl").read_text().splitlines()]
    # the audit was written from the run's event log, which no longer exists: it came first
    assert [(r["run_id"], r["workflow"], r["status"]) for r in records] == [(alpha1, "Alpha", "completed")]
    assert records[0]["event_count"] > 0
    assert [s["step"] for s in records[0]["steps"]] == ["make", "use"]
    assert records[0]["steps"][0]["attempts"][0]["outcome"] == "succeeded"
    assert run_files(home, alpha1) == {"event_log": False, "compute_logs": False, "outputs": False}
    assert not (home / "storage" / alpha1).exists()
    assert cli(base, "status", alpha1, code=1).code == 1
    assert {r["run_id"] for r in cli_json(base, "history", "--limit", "50")["runs"]} == everyone - {alpha1}
    assert cli_json(base, "stats", "Alpha", "--since", "all")["workflows"][0]["runs"] == 1
    assert run_files(home, alpha2)["outputs"]  # newer than the cutoff: kept

    # --- everything old, with explicit settings: the paused run stays
    explicit = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": "definitions"}
    done = json.loads(cli(base, "prune", "--older-than", "1h", "--now", future, "--export", "rest.jsonl",
                          "--format", "json", env=explicit).stdout)
    assert {r["run_id"] for r in done["runs"]} == {beta1, alpha2} and done["deleted"] == 2
    assert done["counts"] == [{"workflow": "Alpha", "status": "completed", "runs": 1},
                              {"workflow": "Beta", "status": "failed", "runs": 1}]
    assert [(k["run_id"], k["status"]) for k in done["kept"]] == [(gated, "paused")]
    exported = {json.loads(line)["run_id"] for line in (base / "rest.jsonl").read_text().splitlines()}
    assert exported == {beta1, alpha2}
    for run_id in (beta1, alpha2):
        assert run_files(home, run_id) == {"event_log": False, "compute_logs": False, "outputs": False}
    assert [r["run_id"] for r in cli_json(base, "history", "--limit", "50")["runs"]] == [gated]
    assert cli_json(base, "status", gated)["status"] == "paused"
    assert run_files(home, gated)["event_log"]

    # --- once decided and finished, it can go too
    assert cli(base, "approve", gated, "--by", "boss").code == 0
    assert gated_proc.finish() == 0
    future = iso_now(3600)  # it ended after the moment the last `future` was taken
    text = cli(base, "prune", "--older-than", "1h", "--now", future).stdout
    assert "deleted 1 run(s)" in text and "kept" not in text, text
    assert [line.split() for line in text.splitlines()[-2:]] == [["Gated", "completed", "1"], ["total", "1"]], text
    assert cli_json(base, "history", "--limit", "50")["runs"] == []
    assert not run_files(home, gated)["event_log"] and not (home / "storage" / gated).exists()
    stats = cli_json(base, "stats", "--since", "all")["workflows"]
    assert all(w["runs"] == 0 for w in stats), stats


def test_a_run_an_unfinished_reexecution_descends_from_is_kept(project):
    base, home = project
    first_proc = Background(base, "run", "Gated", "--format", "json")
    retry_proc = None
    try:
        first = paused_run(base, first_proc)
        assert cli(base, "approve", first, "--by", "boss").code == 0
        assert first_proc.finish() == 0
        retry_proc = Background(base, "retry", first, "--all", "--format", "json")
        child = paused_run(base, retry_proc, exclude={first})
        future = iso_now(3600)
        done = cli_json(base, "prune", "--older-than", "1h", "--now", future)
        assert done["runs"] == [] and done["deleted"] == 0
        assert sorted((k["run_id"], k["reason"]) for k in done["kept"]) == sorted([
            (first, f"an unfinished re-execution ({child}) reuses its step outputs"),
            (child, "not finished: paused at an approval gate")])
        assert run_files(home, first)["event_log"]
        assert cli(base, "approve", child, "--by", "boss").code == 0
        assert retry_proc.finish() == 0
        done = cli_json(base, "prune", "--older-than", "1h", "--now", iso_now(3600))
        assert {r["run_id"] for r in done["runs"]} == {first, child} and done["deleted"] == 2
    finally:
        first_proc.kill()
        if retry_proc is not None:
            retry_proc.kill()


@pytest.mark.parametrize("args, message", [
    (("--older-than", "90"), "--older-than: '90' has no unit; expected a duration with a unit"),
    (("--older-than", "soon"), "--older-than: 'soon' is not a duration; expected a duration with a unit"),
    (("--older-than", "1000000d"), "--older-than: '1000000d' is longer than 1,000 years"),
    (("--older-than", "90d", "--status", "running"), "--status: 'running' is not the status of a finished run"),
    (("--older-than", "90d", "--now", "yesterday"), "--now: 'yesterday' is not an ISO-8601 time"),
    (("--older-than", "90d", "--export", "nowhere/x.jsonl"), "--export: the folder nowhere does not exist"),
    ((), "Missing option '--older-than'"),
])
def test_bad_arguments_are_one_line_naming_the_option(tmp_path, args, message):
    base = tmp_path  # refused before any instance is opened
    done = cli(base, "prune", *args, code=2)
    assert message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    if args:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: --"), done.stderr
        data = cli_json(base, "prune", *args, code=2)
        assert data["error"].startswith(message.split(":")[0] + ":"), data
