"""Issue #5, the live deployment: `yaml2dag dev` (webserver + daemon + hot reload) on 127.0.0.1
with a temporary DAGSTER_HOME and definitions folder, driven over GraphQL, through
`yaml2dag trigger`, and in a real headless Chromium with Playwright (screenshots under the
test's tmp_path). The definitions folder holds the shipped examples (definitions/*) next to the
test's own workflows. The last tests stop a server with SIGTERM, and another one, started on an
empty DAGSTER_HOME, with SIGINT (Ctrl-C), and check that nothing is left.

The browser tests skip, printing why, when Chromium cannot start (Debian's `chromium` package
at /usr/bin/chromium; `.ci/run` installs it). Every wait is bounded; every process group the
server started is killed on teardown.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys

import pytest
import requests

from conftest import REPO, run_cli, write
from local_servers import Live, command_line, descendants, free_port, start_dev, stop_process_tree

from browser import chromium

pytestmark = pytest.mark.slow

#: Bound for a reload to show a change.
RELOAD_TIMEOUT = 90
#: Bound for a launched run to finish.
RUN_TIMEOUT = 180


GREETER = """
    name: Greeter
    description: Says hello and maybe goodbye
    parameters:
      who: {type: string, default: world}
      farewell: {type: boolean, default: false}
    concurrency: {limit: 3, key: "{{ who }}"}
    steps:
      - id: hello
        tool: shell
        parameters: {command: "echo hello {{ who }}"}
      - id: goodbye
        when: "{{ farewell }}"
        tool: shell
        parameters: {command: "echo bye {{ who }}"}
    outputs:
      greeting: "{{ hello.output }}"
"""

NIGHTLY = """
    name: Nightly Cleanup
    description: Removes temporary files every night
    triggers:
      - type: schedule
        cron: "0 3 * * *"
    steps:
      - id: clean
        tool: shell
        parameters: {command: "echo cleaned"}
"""


#: The example workflows shipped in definitions/ (job id → file): every one of them, each file
#: named after its job (tests/integration/test_examples_catalog.py checks that).
SHIPPED = {path.stem: f"definitions/{path.name}" for path in sorted((REPO / "definitions").glob("*.yaml"))}


def shipped_descriptions() -> dict[str, str]:
    import yaml

    return {job: yaml.safe_load((REPO / path).read_text())["description"] for job, path in SHIPPED.items()}


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    root = tmp_path_factory.mktemp("live")
    folder = root / "definitions"
    # what a fresh clone serves: every shipped example (with its python steps module), plus ours
    folder.mkdir()
    for shipped in (REPO / "definitions").iterdir():
        if shipped.is_file():
            shutil.copy(shipped, folder / shipped.name)
    write(folder, "greet.yaml", GREETER)
    write(folder, "nightly.yaml", NIGHTLY)
    with start_dev(root, folder, {"greeter", "nightly_cleanup", *SHIPPED}) as server:
        server.graphql("mutation { setNuxSeen }")  # no "join the community" dialog over the UI
        yield server


# --------------------------------------------------------------------------- browser


@pytest.fixture(scope="module")
def browser():
    """Headless Chromium for this module (:func:`browser.chromium`)."""
    yield from chromium()


@pytest.fixture
def page(browser, tmp_path):
    """A fresh page; its last state is saved as ``final.png`` in the test's tmp_path."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    context.set_default_timeout(30_000)
    pg = context.new_page()
    pg.screenshots = tmp_path / "screenshots"  # type: ignore[attr-defined]
    pg.screenshots.mkdir()
    try:
        yield pg
    finally:
        try:
            pg.screenshot(path=str(pg.screenshots / "final.png"), full_page=True)
        except Exception:  # noqa: BLE001 - a crashed page must not hide the test's own failure
            pass
        context.close()


def _open_jobs(page, live: Live) -> None:
    page.goto(live.url + "/jobs", wait_until="networkidle", timeout=60_000)
    page.locator('a[href="/locations/yaml2dag/jobs/greeter"]').wait_for()


def _tooltip_shows(page, job: str, text: str) -> bool:
    """Hover the info icon of ``job``'s row in the jobs list; True once a tooltip shows ``text``."""
    page.mouse.move(0, 0)
    page.locator(f'a[href="/locations/yaml2dag/jobs/{job}"] [aria-label="info"]').hover()
    page.locator('[role="tooltip"]').filter(has_text=text).first.wait_for()
    return True


def test_jobs_list_shows_the_workflows_with_their_descriptions(live, page):
    _open_jobs(page, live)
    names = page.locator('a[href^="/locations/yaml2dag/jobs/"]').all_inner_texts()
    assert {"greeter", "nightly_cleanup", *SHIPPED} <= {n.strip() for n in names}
    # the shipped examples, each with the description its file gives
    for job, description in shipped_descriptions().items():
        assert _tooltip_shows(page, job, description)
    assert _tooltip_shows(page, "greeter", "Says hello and maybe goodbye")
    assert _tooltip_shows(page, "nightly_cleanup", "Removes temporary files every night")
    page.screenshot(path=str(page.screenshots / "jobs.png"))
    # the job page shows the workflow name, description and version
    page.goto(live.url + "/locations/yaml2dag/jobs/greeter", wait_until="networkidle")
    page.get_by_text("Says hello and maybe goodbye").first.wait_for()
    assert page.get_by_text("version 1.0.0").count() >= 1


def test_hot_reload_adds_changes_breaks_and_removes_workflows(live, tmp_path):
    added = write(live.folder, "added.yaml", f"""
        name: Added Later
        description: Dropped in while the server runs
        triggers:
          - type: file
            path: "{tmp_path / 'inbox'}"
            interval: 60
            enabled: false
        steps:
          - id: a
            tool: shell
            parameters: {{command: "echo a"}}
    """)
    state = live.wait_for("the added workflow, with its sensor",
                          lambda: (s := live.location())["jobs"].get("added_later") and s)
    assert "Dropped in while the server runs" in state["jobs"]["added_later"]
    assert "added_later_file_sensor" in state["sensors"] and "nightly_cleanup_schedule" in state["schedules"]

    added.write_text(added.read_text().replace("Dropped in while the server runs", "Edited in place"))
    live.wait_for("the edited description", lambda: "Edited in place" in live.location()["jobs"].get("added_later", ""))

    write(live.folder, "broken.yaml", """
        name: Broken
        steps:
          - id: a
            tool: shel
    """)
    state = live.wait_for("the broken-workflow job", lambda: (s := live.location())["jobs"].get("broken") and s)
    assert state["jobs"]["broken"].startswith("INVALID WORKFLOW FILE")
    assert {"greeter", "nightly_cleanup", "added_later"} <= set(state["jobs"])  # the location is alive

    added.unlink()
    (live.folder / "broken.yaml").unlink()
    state = live.wait_for("both to disappear",
                          lambda: (s := live.location()) and not {"added_later", "broken"} & set(s["jobs"]) and s)
    assert "added_later_file_sensor" not in state["sensors"]
    assert "reloaded yaml2dag" in live.tail()


def test_a_yaml_file_dropped_into_the_folder_appears_in_the_ui(live, page):
    _open_jobs(page, live)
    assert page.locator('a[href="/locations/yaml2dag/jobs/dropped_workflow"]').count() == 0
    write(live.folder, "dropped.yaml", """
        name: Dropped Workflow
        description: Appeared without a restart
        steps:
          - id: a
            tool: shell
            parameters: {command: "echo dropped"}
    """)

    def shown():
        _open_jobs(page, live)
        return page.locator('a[href="/locations/yaml2dag/jobs/dropped_workflow"]').count() == 1

    live.wait_for("the dropped workflow in the jobs list", shown, poll=0.5)
    assert _tooltip_shows(page, "dropped_workflow", "Appeared without a restart")
    page.screenshot(path=str(page.screenshots / "after_reload.png"))


def test_launchpad_run_with_a_changed_parameter_shows_the_skipped_step_and_the_outputs(live, page):
    page.goto(live.url + "/locations/yaml2dag/jobs/greeter/playground", wait_until="networkidle", timeout=60_000)
    editor = page.locator(".CodeMirror")
    editor.wait_for()
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.press("Delete")
    page.keyboard.type("who: playwright\nfarewell: false\n")
    assert page.evaluate("document.querySelector('.CodeMirror').CodeMirror.getValue()").split() == [
        "who:", "playwright", "farewell:", "false"]
    page.get_by_text("No errors").wait_for()
    page.screenshot(path=str(page.screenshots / "launchpad.png"))
    page.get_by_role("button", name="Launch Run").click()
    page.wait_for_url(re.compile(r".*/runs/[0-9a-f-]{36}"), timeout=60_000)
    run_id = re.search(r"/runs/([0-9a-f-]{36})", page.url).group(1)
    live.wait_for("the launched run to finish", lambda: live.run_status(run_id) in ("SUCCESS", "FAILURE", "CANCELED"),
                  timeout=RUN_TIMEOUT, poll=2.0)
    assert live.run_status(run_id) == "SUCCESS", live.tail()
    # the run coordinator of the shipped dagster.yaml bucketed it by its own `who`, not the default
    assert _tags(live, run_id)["yaml2dag/concurrency_3"] == "greeter:playwright"

    page.reload(wait_until="networkidle")
    page.get_by_text("Success", exact=True).first.wait_for()
    # the step list (flat view): `goodbye` skipped (grey), the others succeeded (green)
    page.locator('[aria-label="gantt_flat"]').first.click()
    boxes = page.locator(".chart-element.box")
    boxes.filter(has_text=re.compile(r"^goodbye$")).wait_for()
    styles = dict(boxes.evaluate_all("els => els.map(e => [e.innerText.trim(), e.getAttribute('style')])"))
    assert "accent-gray" in styles["goodbye"], styles
    assert "accent-green" in styles["hello"] and "accent-green" in styles["workflow_outputs"], styles
    # the event log: the skip and the workflow outputs (metadata of the workflow_outputs step)
    log_filter = page.get_by_placeholder("Filter…")
    if log_filter.count() == 0:
        log_filter = page.get_by_placeholder("Filter...")
    log_filter.fill("goodbye")
    page.get_by_text('Skipped execution of step "goodbye".').wait_for()
    assert page.get_by_text("STEP_SKIPPED", exact=True).count() >= 1
    log_filter.fill('Yielded output "outputs"')  # the STEP_OUTPUT of workflow_outputs
    page.get_by_text("outputs.greeting").wait_for()
    assert page.get_by_text("hello playwright", exact=True).count() >= 1
    page.screenshot(path=str(page.screenshots / "run.png"), full_page=True)


def _tags(live, run_id: str) -> dict[str, str]:
    query = "query($id: ID!) { runOrError(runId: $id) { ... on Run { tags { key value } } } }"
    return {t["key"]: t["value"] for t in live.graphql(query, {"id": run_id})["runOrError"]["tags"]}


def test_yaml2dag_trigger_submits_runs_over_graphql(live, tmp_path):
    env = {"DAGSTER_HOME": str(live.home), "YAML2DAG_DEFINITIONS": str(live.folder)}
    started = run_cli("trigger", "Greeter", "who=remote", "--url", live.url, "--format", "json", env=env, cwd=live.root)
    assert started.code == 0, started.stderr
    data = json.loads(started.stdout)
    assert data["job"] == "greeter" and data["location"] == "yaml2dag"
    assert data["parameters"] == {"who": "remote", "farewell": False}
    assert data["url"] == f"{live.url}/runs/{data['run_id']}"

    # without the workflow file: found on the server by workflow name, values typed by its config
    elsewhere = {"DAGSTER_HOME": str(live.home), "YAML2DAG_DEFINITIONS": str(tmp_path / "none")}
    text = run_cli("trigger", "greeter", "who=server", "farewell=yes", "--url", live.url, env=elsewhere, cwd=tmp_path)
    assert text.code == 0, text.stderr
    assert text.stdout.startswith("Started 'Greeter' (job greeter)")
    second = re.search(r"run id: ([0-9a-f-]{36})", text.stdout).group(1)
    assert f"{live.url}/runs/{second}" in text.stdout

    for run_id in (data["run_id"], second):
        live.wait_for(f"run {run_id}", lambda r=run_id: live.run_status(r) in ("SUCCESS", "FAILURE"),
                      timeout=RUN_TIMEOUT, poll=2.0)
        assert live.run_status(run_id) == "SUCCESS", live.tail()
    status = run_cli("status", second, "--format", "json", env=env, cwd=live.root)
    assert status.code == 0, status.stderr
    assert json.loads(status.stdout)["step_statuses"] == {"hello": "succeeded", "goodbye": "succeeded"}
    query = "query($id: ID!) { runOrError(runId: $id) { ... on Run { tags { key value } runConfigYaml } } }"
    tags = live.graphql(query, {"id": second})["runOrError"]
    assert {"key": "yaml2dag/trigger", "value": "manual"} in tags["tags"]
    info = json.loads(next(t["value"] for t in tags["tags"] if t["key"] == "yaml2dag/trigger_info"))
    assert info["type"] == "remote" and info["host"] == socket.gethostname()
    assert "farewell: true" in tags["runConfigYaml"]
    assert _tags(live, second)["yaml2dag/concurrency_3"] == "greeter:server"
    assert _tags(live, data["run_id"])["yaml2dag/concurrency_3"] == "greeter:remote"

    unknown = run_cli("trigger", "No Such Flow", "--url", live.url, env=elsewhere, cwd=tmp_path)
    assert unknown.code == 1 and "no job 'No Such Flow'" in unknown.stderr and "greeter" in unknown.stderr
    bad = run_cli("trigger", "Greeter", "farewell=perhaps", "--url", live.url, env=env, cwd=live.root)
    assert bad.code == 2 and "farewell" in bad.stderr
    down = run_cli("trigger", "Greeter", "--url", f"http://127.0.0.1:{free_port()}", env=env, cwd=live.root)
    assert down.code == 1 and "cannot reach the Dagster webserver" in down.stderr


def test_dev_stops_cleanly_on_sigterm_taking_its_children_along(live):
    import psutil

    children = descendants(live.proc.pid)
    names = " ".join(command_line(c) or "" for c in children)
    assert "dagster_webserver" in names and "dagster._daemon" in names and "code-server" in names
    live.proc.send_signal(signal.SIGTERM)
    assert live.proc.wait(timeout=60) == 0
    _, alive = psutil.wait_procs(children, timeout=15)
    assert alive == [], [command_line(p) for p in alive]
    with pytest.raises(requests.ConnectionError):
        requests.get(live.url + "/server_info", timeout=5)
    assert "yaml2dag dev: stopping" in live.tail()


def test_dev_on_an_empty_home_writes_the_shipped_config_and_stops_on_ctrl_c(tmp_path):
    """Ctrl-C: the terminal sends SIGINT to the foreground process group, which is `yaml2dag dev`
    alone (its services run in a session of their own); all of them must go. The home did not
    exist: `yaml2dag dev` writes the shipped dagster.yaml there."""
    import psutil

    from yaml2dag.deploy import dagster_yaml_text

    home, folder = tmp_path / "fresh_home", tmp_path / "definitions"
    write(folder, "greet.yaml", GREETER)
    port = free_port()
    log = tmp_path / "dev.log"
    env = dict(os.environ, DAGSTER_HOME=str(home), YAML2DAG_DEFINITIONS=str(folder), NO_COLOR="1")
    with open(log, "w") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "yaml2dag", "dev", "--port", str(port), "--no-reload"],
                                cwd=tmp_path, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    server = Live(f"http://127.0.0.1:{port}", tmp_path, home, folder, proc, log)
    try:
        config = home / "dagster.yaml"
        server.wait_for("the dagster.yaml", lambda: config.is_file() and config.read_text() == dagster_yaml_text(),
                        timeout=60)
        server.wait_for("the code location", lambda: "greeter" in server.location()["jobs"], timeout=180, poll=0.5)

        def services():
            found = descendants(proc.pid)
            names = " ".join(command_line(c) or "" for c in found)
            ready = "dagster_webserver" in names and "dagster._daemon" in names and "code-server" in names
            return found if ready else None

        children = server.wait_for("the webserver, daemon and code server processes", services, timeout=60)
        os.killpg(proc.pid, signal.SIGINT)
        assert proc.wait(timeout=60) == 0, server.tail()
        _, alive = psutil.wait_procs(children, timeout=15)
        assert alive == [], [command_line(p) for p in alive]
        with pytest.raises(requests.ConnectionError):
            requests.get(server.url + "/server_info", timeout=5)
        assert "yaml2dag dev: stopping" in server.tail()
        assert f"wrote the shipped dagster.yaml into {home}" in server.tail()
    finally:
        stop_process_tree(proc)
