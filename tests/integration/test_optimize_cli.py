"""Issue 12, §2: `yaml2dag optimize`, and the top-level `dag: true`, with real Dagster runs.

A project folder (relative `definitions`, its own DAGSTER_HOME, both set explicitly) holds a
workflow whose runs give every kind of advice: `fetch` fails on odd-numbered runs (a counter
file), `slow_a` and `slow_b` each sleep 2 s and only read `fetch` (independent of each other,
run one after another by list order), `hang` sleeps 12 s once (its second run), `cleanup` is
skipped in every run. The runs are real `yaml2dag run` subprocesses; `optimize` is the real
CLI (both forked from the CLI fork server, tests/cli_forkserver.py). The `dag: true` tests compare step start/end times from the event log (read in-process:
the log is what is checked, not a command).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from dagster import DagsterInstance

from cli_forkserver import run_cli
from conftest import make_dagster_home

pytestmark = pytest.mark.slow

RUNS = 6

NIGHTLY = """\
# Nightly build: this comment must survive `optimize --apply`
name: Nightly
parameters:
  do_cleanup: false
steps:
  # fetch is flaky: odd-numbered runs fail
  - id: fetch
    tool: shell
    parameters:
      command: "n=$(cat fetch.count 2>/dev/null || echo 0); n=$((n+1)); echo $n > fetch.count; test $((n % 2)) -eq 0"  # odd runs fail
  - id: slow_a
    tool: shell
    parameters:
      command: "echo {{ fetch.status }}; sleep 2"
  - id: slow_b  # the second slow step
    tool: shell
    parameters:
      command: "echo {{ fetch.status }}; sleep 2"
  - id: hang
    tool: shell
    parameters:
      command: "echo {{ slow_b.status }}; n=$(cat hang.count 2>/dev/null || echo 0); n=$((n+1)); echo $n > hang.count; if [ $n -eq 2 ]; then sleep 12; fi"
  - id: cleanup
    when: "{{ do_cleanup }}"
    tool: shell
    parameters:
      command: "echo cleaning"
  - id: report
    tool: shell
    parameters:
      command: "echo {{ slow_a.status }} {{ slow_b.status }}"
"""

RUN_ID = re.compile(r"· run ([0-9a-f-]{36})")


def cli(project: Path, home: Path, *args: str):
    """``yaml2dag ARGS`` from ``project``, a real subprocess forked from the CLI fork server."""
    return run_cli(*args, cwd=project, env={"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": "definitions"})


@pytest.fixture(scope="module")
def nightly(tmp_path_factory):
    """(project, home, run ids oldest first, stdout of the last run) after :data:`RUNS` runs."""
    root = tmp_path_factory.mktemp("optimize")
    project = root / "project"
    (project / "definitions").mkdir(parents=True)
    (project / "definitions" / "nightly.yaml").write_text(NIGHTLY)
    home = make_dagster_home(root / "dagster_home")
    run_ids, last = [], ""
    for number in range(1, RUNS + 1):
        ran = cli(project, home, "run", "Nightly")
        assert ran.code == (1 if number % 2 else 0), ran.stdout + ran.stderr
        run_ids.append(RUN_ID.search(ran.stdout).group(1))
        last = ran.stdout
    return project, home, run_ids, last


def _advice(data: dict, kind: str) -> list[dict]:
    return [a for a in data["advice"] if a["kind"] == kind]


def test_json_advice_of_every_kind_with_its_evidence(nightly):
    project, home, run_ids, _ = nightly
    done = cli(project, home, "optimize", "Nightly", "--format", "json")
    assert done.code == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(data) == {"workflow", "runs_analyzed", "advice"}
    assert data["workflow"] == "Nightly" and data["runs_analyzed"] == RUNS
    for item in data["advice"]:
        assert set(item) == {"kind", "steps", "evidence", "saving_s", "change"}
        assert isinstance(yaml.safe_load(item["change"]), (list, type(None)))
    assert sorted(a["kind"] for a in data["advice"]) == ["parallel", "retry", "timeout", "unused"]

    retry, = _advice(data, "retry")
    assert retry["steps"] == ["fetch"] and retry["saving_s"] is None
    ev = retry["evidence"]
    assert (ev["runs"], ev["failures"], ev["failure_rate"]) == (RUNS, RUNS // 2, 0.5)
    assert ev["failed_runs"] == run_ids[0::2]
    assert ev["recovered_runs"] == run_ids[1::2]
    assert ev["median_duration_s"] > 0 and ev["p95_duration_s"] >= ev["median_duration_s"]
    change = yaml.safe_load(retry["change"])[0]
    assert change["id"] == "fetch" and 2 <= change["retry"]["max_attempts"] <= 5
    assert change["retry"]["backoff"] == "exponential"

    parallel, = _advice(data, "parallel")
    assert parallel["steps"] == ["slow_a", "slow_b"]
    ev = parallel["evidence"]
    assert ev["runs"] == ev["sequential_runs"] == RUNS // 2 and ev["run_ids"] == run_ids[1::2]
    for step in ("slow_a", "slow_b"):
        assert ev["steps"][step]["median_duration_s"] >= 2
        assert ev["steps"][step]["p95_duration_s"] >= ev["steps"][step]["median_duration_s"]
    # the critical-path difference is the shorter of the two medians
    shorter = min(ev["steps"][s]["median_duration_s"] for s in ("slow_a", "slow_b"))
    assert parallel["saving_s"] == pytest.approx(shorter, abs=0.01)
    assert parallel["saving_s"] == pytest.approx(ev["critical_path_s"] - ev["critical_path_after_s"], abs=0.01)
    group = yaml.safe_load(parallel["change"])[0]["parallel"]
    assert [m["id"] for m in group] == ["slow_a", "slow_b"]

    timeout, = _advice(data, "timeout")
    assert timeout["steps"] == ["hang"]
    ev = timeout["evidence"]
    assert ev["runs"] == RUNS // 2 and ev["slowest_run"] == run_ids[3] and ev["slowest_duration_s"] >= 12
    assert ev["median_duration_s"] < 5
    limit = yaml.safe_load(timeout["change"])[0]["timeout"]
    assert limit == f"{ev['proposed_timeout_s']}s" and ev["proposed_timeout_s"] < ev["slowest_duration_s"]
    assert timeout["saving_s"] == pytest.approx(ev["slowest_duration_s"] - ev["proposed_timeout_s"], abs=0.01)

    unused, = _advice(data, "unused")
    assert unused["steps"] == ["cleanup"] and unused["evidence"]["skipped_runs"] == run_ids[1::2]


def test_runs_option_bounds_the_runs_read(nightly):
    project, home, run_ids, _ = nightly
    done = cli(project, home, "optimize", "Nightly", "--runs", "2", "--format", "json")
    assert done.code == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["runs_analyzed"] == 2
    retry, = _advice(data, "retry")
    assert retry["evidence"]["failed_runs"] == [run_ids[-2]]


def test_text_output_names_the_evidence(nightly):
    project, home, run_ids, _ = nightly
    done = cli(project, home, "optimize", "Nightly")
    assert done.code == 0, done.stderr
    assert f"Nightly: {RUNS} finished run(s) analysed" in done.stdout
    assert "1. retry fetch" in done.stdout and "failed in 3/6 runs (50%)" in done.stdout
    assert run_ids[0][:8] in done.stdout
    assert re.search(r"2\. parallel slow_a, slow_b · saves ~2\.\d+s per run", done.stdout), done.stdout
    assert re.search(r"3\. timeout hang · would have cut the slowest run by ~\d", done.stdout), done.stdout
    assert "yaml2dag optimize Nightly --apply" in done.stdout


def test_run_points_to_optimize_as_its_last_line(nightly):
    _, _, _, last = nightly
    assert last.rstrip().splitlines()[-1] == "→ 4 piece(s) of advice from the last runs: yaml2dag optimize Nightly"


def test_dry_run_shows_the_diff_and_writes_nothing(nightly):
    project, home, _, _ = nightly
    before = sorted(p.relative_to(project) for p in (project / "definitions").rglob("*"))
    done = cli(project, home, "optimize", "Nightly", "--dry-run")
    assert done.code == 0, done.stderr
    assert "--- definitions/nightly.yaml (current)" in done.stdout
    assert "+  - parallel:" in done.stdout and "+    retry:" in done.stdout
    assert "the result is valid" in done.stdout
    assert (project / "definitions" / "nightly.yaml").read_text() == NIGHTLY
    assert sorted(p.relative_to(project) for p in (project / "definitions").rglob("*")) == before


def test_apply_one_kind_then_all_saves_valid_new_versions_keeping_comments(nightly, tmp_path):
    project, home, _, _ = nightly
    wf = project / "definitions" / "nightly.yaml"
    refused = cli(project, home, "optimize", "Nightly", "--apply", "unused")
    assert refused.code == 2 and "'unused' is not one of" in refused.stderr, refused.stderr
    done = cli(project, home, "optimize", "Nightly", "--apply", "retry")
    assert done.code == 0, done.stdout + done.stderr
    assert "applied: retry on fetch" in done.stdout
    assert "✓ saved Nightly version 1.0.1 (was 1.0.0) as revision #1: definitions/nightly.yaml" in done.stdout
    text = wf.read_text()
    data = yaml.safe_load(text)
    assert data["version"] == "1.0.1" and "retry" in data["steps"][0]
    assert not any("parallel" in s for s in data["steps"])
    assert (project / "definitions" / ".versions" / "nightly" / "1.0.0.yaml").read_text() == NIGHTLY

    done = cli(project, home, "optimize", "Nightly", "--apply", "--format", "json")
    assert done.code == 0, done.stdout + done.stderr
    result = json.loads(done.stdout)
    assert result["saved"]["version"] == "1.0.2" and result["applied"] == [
        "parallel group slow_a, slow_b", "timeout on hang"]
    text = wf.read_text()
    data = yaml.safe_load(text)
    group = data["steps"][1]["parallel"]
    assert [s["id"] for s in group] == ["slow_a", "slow_b"]
    assert data["steps"][0]["retry"]["backoff"] == "exponential"
    proposed, = [a["evidence"]["proposed_timeout_s"] for a in result["advice"] if a["kind"] == "timeout"]
    assert data["steps"][2]["timeout"] == f"{proposed}s" and data["steps"][3]["id"] == "cleanup"  # unused: left to you
    for comment in ("# Nightly build: this comment must survive", "# fetch is flaky: odd-numbered runs fail",
                    "# odd runs fail", "# the second slow step"):
        assert comment in text, text
    checked = cli(project, home, "validate", "definitions/nightly.yaml")
    assert checked.code == 0, checked.stdout + checked.stderr
    # the parallel group is real: the dry-run plan starts slow_a and slow_b together
    plan = cli(project, home, "run", "Nightly", "--dry-run", "--format", "json")
    assert plan.code == 0, plan.stderr
    steps = {s["id"]: s for s in json.loads(plan.stdout)["steps"]}
    assert steps["slow_a"]["after"] == steps["slow_b"]["after"] == ["fetch"]
    assert steps["fetch"]["max_attempts"] >= 2 and steps["hang"]["timeout_s"] == proposed


# --------------------------------------------------------------------------- dag: true

TWO_SLEEPS = """\
name: {name}
{dag}steps:
  - id: first
    tool: shell
    parameters: {{command: "sleep 2"}}
  - id: second
    tool: shell
    parameters: {{command: "sleep 2"}}
  - id: after
    tool: shell
    parameters: {{command: "echo {{{{ first.status }}}} {{{{ second.status }}}}"}}
"""


def _spans(home: Path, run_id: str) -> dict[str, tuple[float, float]]:
    """Step key → (STEP_START, STEP_SUCCESS) timestamps, read from the run's event log."""
    out: dict[str, dict[str, float]] = {}
    with DagsterInstance.from_config(str(home)) as instance:
        for rec in instance.all_logs(run_id):
            event = rec.dagster_event
            if event is not None and event.event_type_value in ("STEP_START", "STEP_SUCCESS"):
                out.setdefault(event.step_key, {})[event.event_type_value] = rec.timestamp
    return {k: (v["STEP_START"], v["STEP_SUCCESS"]) for k, v in out.items()}


@pytest.mark.parametrize("dag", [True, False])
def test_dag_true_starts_independent_steps_together(tmp_path, dag):
    project = tmp_path / "project"
    (project / "definitions").mkdir(parents=True)
    name = "Sleeps Dag" if dag else "Sleeps List"
    (project / "definitions" / "sleeps.yaml").write_text(TWO_SLEEPS.format(name=name, dag="dag: true\n" if dag else ""))
    home = make_dagster_home(tmp_path / "dagster_home")
    ran = cli(project, home, "run", name)
    assert ran.code == 0, ran.stdout + ran.stderr
    spans = _spans(home, RUN_ID.search(ran.stdout).group(1))
    (a_start, a_end), (b_start, b_end) = spans["first"], spans["second"]
    overlap = min(a_end, b_end) - max(a_start, b_start)
    if dag:
        assert overlap > 1.0, spans  # both sleeping at the same time
    else:
        assert b_start >= a_end, spans  # list order: second waits for first
    # `after` reads both: it waits for both either way
    assert spans["after"][0] >= max(a_end, b_end)
    plan = cli(project, home, "run", name, "--dry-run")
    assert ("2. second\n       shell · starts first" in plan.stdout) is dag, plan.stdout


def test_an_output_no_consumer_reads_is_unused(tmp_path):
    project = tmp_path / "project"
    (project / "definitions").mkdir(parents=True)
    (project / "definitions" / "build.yaml").write_text(
        'name: Build\noutputs: {head: "{{ a.output }}", log: "{{ a.output }}"}\n'
        'steps:\n  - {id: a, tool: shell, parameters: {command: "echo built"}}\n')
    (project / "definitions" / "release.yaml").write_text(
        'name: Release\nsteps:\n  - {id: build, workflow: "Build"}\n'
        '  - {id: tag, tool: shell, parameters: {command: "echo {{ build.output.head }}"}}\n')
    home = make_dagster_home(tmp_path / "dagster_home")
    done = cli(project, home, "optimize", "Build", "--format", "json")
    assert done.code == 0, done.stdout + done.stderr
    data = json.loads(done.stdout)
    assert data["runs_analyzed"] == 0
    unused, = data["advice"]
    assert unused["kind"] == "unused" and unused["steps"] == [] and unused["saving_s"] is None
    assert unused["evidence"]["output"] == "log" and unused["evidence"]["consumers"] == ["Release (step build)"]
    assert unused["change"].startswith("# output `log` is not read")
    text = cli(project, home, "optimize", "Build")
    assert "1. unused output log" in text.stdout, text.stdout
