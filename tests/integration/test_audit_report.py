"""Issue 15, point 9: `yaml2dag audit RUN --format html` writes one self-contained HTML report,
checked in a real headless Chromium: the page renders, the timeline has one bar per step attempt
placed and sized by the attempt times of the run's event log, no request leaves the page, a
`<script>` printed by a step is shown as text, and a screenshot is saved.

One real run of a workflow with a retried step, a skipped step, an approval gate (approved with
`yaml2dag approve`), an annotation (`yaml2dag annotate`), a secret parameter and a step whose
output is HTML. Every command is a real `python -m yaml2dag` subprocess: the run, the approval
and the annotation from a working directory holding a relative ``definitions`` folder and
``dagster_home`` (no DAGSTER_HOME, no YAML2DAG_DEFINITIONS); the report from elsewhere with
both set explicitly."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from datetime import datetime

import pytest

from browser import chromium
from conftest import make_dagster_home, run_cli, write
from waiting import wait_until

pytestmark = pytest.mark.slow

TOKEN = "s3cr3t-token-value-4242"
INJECTED = "<script>window.__injected = 1</script><img src=\"http://127.0.0.1:9/x.png\">"
WORKFLOW = """
name: Report Flow
parameters:
  who: {type: string, default: world}
  db_password: {type: string, default: "hunter22-not-for-reports"}
  api_token: {type: secret}
steps:
  - id: fetch
    tool: shell
    parameters: {command: "sleep 1; echo fetched {{ who }}"}
  - id: flaky
    tool: shell
    retry: {max_attempts: 2, delay: 0.1}
    parameters: {command: "test -f MARKER || { touch MARKER; sleep 0.5; exit 3; }; sleep 2; echo recovered"}
  - id: never
    when: "{{ who == 'nobody' }}"
    tool: shell
    parameters: {command: "echo never"}
  - id: inject
    tool: shell
    parameters: {command: "echo 'INJECTED'"}
  - id: gate
    tool: approval
    parameters: {message: "ship <b>it</b>?", timeout: 600, poll_interval: 0.2}
  - id: use_token
    tool: shell
    parameters: {command: "echo token is {{ api_token }}"}
outputs:
  greeting: "{{ fetch.output }}"
  page: "{{ inject.output }}"
"""
#: The step ids that run (``never`` is skipped).
RAN = ("fetch", "flaky", "inject", "gate", "use_token")
ATTEMPT_EVENTS = "STEP_START,STEP_RESTARTED,STEP_UP_FOR_RETRY,STEP_SUCCESS,STEP_FAILURE"
DROP = ("DAGSTER_HOME", "YAML2DAG_DEFINITIONS")
#: Bound (s) for the run to reach its gate, and to end after the approval (slow shared machine).
WAIT = 300


def _cli(world, *args: str, code: int = 0):
    done = run_cli(*args, cwd=world["base"], drop=DROP, env=world["env"])
    assert done.code == code, done.stdout + done.stderr
    return done


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """The run (retried, skipped, gated, annotated), made once through the CLI."""
    base = tmp_path_factory.mktemp("audit_report")
    write(base / "definitions", "report.yaml",
          WORKFLOW.replace("MARKER", str(base / "flaky.marker")).replace("INJECTED", INJECTED.replace('"', '\\"')))
    home = make_dagster_home(base / "dagster_home")
    world = {"base": base, "home": home, "env": {"API_TOKEN": TOKEN, "YAML2DAG_USER": "auditor"}}
    env = {k: v for k, v in os.environ.items() if k not in DROP} | world["env"] | {"NO_COLOR": "1"}
    with open(base / "run.out", "w") as out, open(base / "run.err", "w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "yaml2dag", "run", "Report Flow", "who=you", "--format", "json"],
                                cwd=base, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        def paused_run():
            runs = json.loads(_cli(world, "history", "Report Flow", "--format", "json").stdout)["runs"]
            return runs[0]["run_id"] if runs and runs[0]["status"] == "paused" else None

        run_id = wait_until(paused_run, WAIT, 0.5, "the run to wait at its approval gate", process=proc,
                            details=lambda: (base / "run.out").read_text() + (base / "run.err").read_text())
        _cli(world, "annotate", run_id, "db restarted <b>by hand</b>", "--by", "ops")
        _cli(world, "approve", run_id, "--by", "boss", "-m", "looks <i>good</i>")
        wait_until(lambda: proc.poll() is not None, WAIT, 0.3, "the run to end after its approval")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    assert proc.returncode == 0, (base / "run.out").read_text() + (base / "run.err").read_text()
    assert json.loads((base / "run.out").read_text())["status"] == "SUCCESS"
    world["run_id"] = run_id
    return world


def _explicit(world, *args: str, cwd, code: int = 0):
    """The CLI from a directory without definitions, with both settings given explicitly."""
    done = run_cli(*args, cwd=cwd, drop=DROP, env=world["env"] | {"DAGSTER_HOME": str(world["home"]),
                                                                    "YAML2DAG_DEFINITIONS": str(world["base"] / "definitions")})
    assert done.code == code, done.stdout + done.stderr
    return done


def _attempts_from_the_event_log(world) -> list[dict]:
    """Each attempt of each step, from `yaml2dag events`: step, attempt, start, end (epoch s)."""
    events = json.loads(_cli(world, "events", world["run_id"], "--type", ATTEMPT_EVENTS, "--format", "json").stdout)["events"]
    out: list[dict] = []
    for event in events:
        if event["step_key"] not in RAN:
            continue
        at = datetime.fromisoformat(event["timestamp"]).timestamp()
        if event["type"] in ("STEP_START", "STEP_RESTARTED"):
            number = 1 + sum(1 for a in out if a["step"] == event["step_key"])
            out.append({"step": event["step_key"], "attempt": number, "start": at, "end": None})
        else:
            attempt = next(a for a in reversed(out) if a["step"] == event["step_key"])
            attempt["end"] = at
    assert all(a["end"] for a in out), out
    return out


@pytest.fixture(scope="module")
def report(world, tmp_path_factory):
    """The HTML report written by the CLI with -o, and the text of the same command on stdout."""
    where = tmp_path_factory.mktemp("elsewhere")
    target = where / "report.html"
    done = _explicit(world, "audit", world["run_id"][:8], "--format", "html", "-o", str(target), cwd=where)
    assert f"wrote the audit of run {world['run_id']} to {target}" in done.stderr
    stdout = _explicit(world, "audit", world["run_id"], "--format", "html", cwd=where).stdout
    return {"path": target, "html": target.read_text(encoding="utf-8"), "stdout": stdout, "where": where}


def test_the_file_is_one_self_contained_page_without_secrets(world, report):
    html = report["html"]
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    assert report["stdout"].startswith("<!DOCTYPE html>") and world["run_id"] in report["stdout"]
    assert "<script" not in html and "<link" not in html and ' src="' not in html and "&lt;script&gt;" in html
    assert TOKEN not in html and "hunter22-not-for-reports" not in html
    assert "token is ***" in html
    # the file exists now: not overwritten without --force
    again = _explicit(world, "audit", world["run_id"], "--format", "html", "-o", str(report["path"]), cwd=report["where"],
                      code=2)
    assert "--force" in again.stderr


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for this module (:func:`browser.chromium`)."""
    yield from chromium()


def test_the_report_renders_in_chromium_with_bars_sized_by_the_event_log(world, report, browser, tmp_path):
    attempts = _attempts_from_the_event_log(world)
    assert [(a["step"], a["attempt"]) for a in attempts] == [("fetch", 1), ("flaky", 1), ("flaky", 2), ("inject", 1),
                                                             ("gate", 1), ("use_token", 1)]
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        page = context.new_page()
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        url = report["path"].as_uri()
        page.goto(url)
        page.wait_for_load_state("load")
        shot = tmp_path / "audit_report.png"
        page.screenshot(path=str(shot), full_page=True)
        print(f"screenshot of the HTML audit report: {shot}")
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

        # it rendered: the summary, the status, the run id
        assert page.title().startswith("Report Flow")
        assert page.locator("#status").inner_text() == "completed"
        assert page.locator("#run-id").inner_text() == world["run_id"]
        summary = page.locator("#summary").inner_text()
        assert "auditor" in summary and "cli" in summary and "db_password" in summary and "***" in summary

        # one bar per attempt, in order, each placed and sized by the event log's times
        bars = page.evaluate("""() => [...document.querySelectorAll('.bar')].map(b => {
            const r = b.getBoundingClientRect(), t = b.parentElement.getBoundingClientRect();
            return {step: b.dataset.step, attempt: Number(b.dataset.attempt), outcome: b.dataset.outcome,
                    duration: Number(b.dataset.durationS), left: r.left - t.left, width: r.width, track: t.width};
        })""")
        assert [(b["step"], b["attempt"]) for b in bars] == [(a["step"], a["attempt"]) for a in attempts]
        durations = [a["end"] - a["start"] for a in attempts]
        for bar, duration in zip(bars, durations):
            assert bar["duration"] == pytest.approx(duration, abs=0.002), bar
        longest = max(range(len(bars)), key=lambda i: durations[i])
        assert bars[longest]["step"] == "gate" and bars[longest]["width"] > bars[longest]["track"] * 0.3, bars
        scale = bars[longest]["width"] / durations[longest]           # px per second on this page
        first = attempts[0]["start"]
        for bar, attempt, duration in zip(bars, attempts, durations):
            assert bar["width"] == pytest.approx(duration * scale, abs=max(1.0, 0.02 * duration * scale)), (bar, duration)
            assert bar["left"] - bars[0]["left"] == pytest.approx((attempt["start"] - first) * scale, abs=1.5), (bar, attempt)
        # the retried attempt is its own bar, before the successful one
        flaky = [b for b in bars if b["step"] == "flaky"]
        assert [b["outcome"] for b in flaky] == ["retry", "succeeded"]
        assert flaky[0]["left"] + flaky[0]["width"] <= flaky[1]["left"] + 0.5
        # the skipped step has its row, without a bar
        never = page.locator('.grow[data-step="never"]')
        assert never.get_attribute("data-status") == "skipped"
        assert never.locator(".bar").count() == 0 and "skipped: its condition is false" in never.inner_text()

        # the step's `<script>` is text: nothing ran, nothing was requested, nothing was inserted
        assert page.evaluate("() => window.__injected") is None
        assert page.locator("script").count() == 0 and page.locator("img").count() == 0
        assert INJECTED in page.locator('#steps tr[data-step="inject"] td.output pre').first.inner_text()
        assert INJECTED in page.locator("#outputs").inner_text()
        assert requests == [url], requests

        # gate decisions and annotations
        approvals = page.locator("#approvals").inner_text()
        assert "ship <b>it</b>?" in approvals and "boss" in approvals and "looks <i>good</i>" in approvals
        assert "approved by boss" in approvals
        assert page.locator('.grow[data-step="gate"] .mark').count() == 1
        annotations = page.locator("#annotations").inner_text()
        assert "db restarted <b>by hand</b>" in annotations and "ops" in annotations
        assert page.locator("#timeline .note-mark").count() == 1
        assert "db_password" in page.locator("#masked").inner_text()
    finally:
        context.close()


def test_file_needs_a_record_format(world, tmp_path):
    done = _explicit(world, "audit", world["run_id"], "-o", str(tmp_path / "x.html"), cwd=tmp_path, code=2)
    assert "--file needs --format json, csv or html" in done.stderr
    assert not (tmp_path / "x.html").exists()
