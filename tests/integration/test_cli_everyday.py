"""Issue #10, point 7: everyday CLI defects that need no Dagster run.

* A parameter value too big to handle (`--param-file` with deeply nested JSON or YAML, a
  5,000-digit integer in a file or as `k=v`) is a usage error, exit 2, one clear line naming
  the file (with line and column) or the parameter: never a traceback. Checked for every
  command that takes parameter values (`run`, `run --dry-run`, `trigger`, `create
  --from-template`), and, as a property, at every depth and size around the limits, which are
  the same whether a value comes from a file or the command line (yaml2dag.format.limits: 64 levels,
  64-bit integers).
* Tables printed into a pipe (a CI log) keep every column and every character: rich assumed 80
  columns outside a terminal and cut the Tags, Schedules and Description columns. A terminal
  (a pseudo-terminal of 80 columns here) still gets a table that fits it.

Every command runs as a real `python -m yaml2dag` subprocess from a project folder with the
default relative `definitions` (no YAML2DAG_DEFINITIONS, no COLUMNS).
"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from conftest import CLI_TIMEOUT, make_dagster_home, run_process, write

pytestmark = pytest.mark.slow

LONG_DESCRIPTION = ("Copies the nightly exports of every regional warehouse into the archive bucket, "
                    "checks their checksums and tells the data team which ones were late")
TAGS = ["warehouse", "exports", "archive", "nightly", "data-team"]

PARAMS = f"""
name: Param Flow
description: "{LONG_DESCRIPTION}"
tags: {json.dumps(TAGS)}
triggers:
  - {{type: schedule, cron: "30 6 * * 1-5", timezone: Europe/Berlin}}
  - {{type: schedule, cron: "0 22 * * *", timezone: America/Los_Angeles}}
parameters:
  count: {{type: integer, default: 1, description: "{LONG_DESCRIPTION}"}}
  ratio: {{type: number, default: 1.5}}
  options: {{type: object, default: {{}}}}
  items: {{type: array, default: []}}
steps:
  - id: hello
    tool: shell
    parameters: {{command: "echo {{{{ count }}}}"}}
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    monkeypatch.delenv("YAML2DAG_DEFINITIONS", raising=False)
    monkeypatch.delenv("COLUMNS", raising=False)
    root = tmp_path / "project"
    write(root / "definitions", "params.yaml", PARAMS)
    write(root / "definitions", "other.yaml", """
        name: Other Flow With A Considerably Longer Name For Its Archive Folder
        version: "1.0.0"
        steps:
          - {id: a, tool: shell, parameters: {command: "echo a"}}
    """)
    home = make_dagster_home(tmp_path / "dagster_home")
    env = {"DAGSTER_HOME": str(home), "NO_COLOR": "1", "YAML2DAG_USER": "tester"}
    return root, env


def _cli(project, *args: str):
    root, env = project
    return run_process([sys.executable, "-m", "yaml2dag", *args], env=env, cwd=root, timeout=CLI_TIMEOUT)


# --------------------------------------------------------------------------- parameter values too big

DIGITS = "1" * 5000


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


#: name → (file name, file text) of parameter files a user might hand over
FILES = {
    "json_nested_100000": ("params.json", '{"options": {"k": ' + _nested(100_000) + "}}"),
    "json_nested_900": ("params.json", '{"options": {"k": ' + _nested(900) + "}}"),
    "json_nested_150": ("params.json", '{"items": ' + _nested(150) + "}"),
    "yaml_nested_flow_3000": ("params.yaml", "items: " + _nested(3000) + "\n"),
    "yaml_nested_block_300": ("params.yaml", "items:\n" + "".join("  " * i + "- \n" for i in range(300))),
    "json_5000_digits": ("params.json", '{"count": ' + DIGITS + "}"),
    "yaml_5000_digits": ("params.yaml", "count: " + DIGITS + "\n"),
    "yaml_5000_digits_in_a_list": ("params.yaml", "items: [1, 2, " + DIGITS + "]\n"),
}

#: command line prefixes that take parameter values (`trigger` fails before reaching the URL)
COMMANDS = {
    "run": ("run", "Param Flow"),
    "dry_run": ("run", "Param Flow", "--dry-run"),
    "trigger": ("trigger", "Param Flow", "--url", "http://127.0.0.1:9"),
    "trigger_remote": ("trigger", "no_such_local_job", "--url", "http://127.0.0.1:9"),
}


def _assert_usage_error(done, *mentions: str) -> None:
    assert done.code == 2, f"exit {done.code}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr and "Traceback" not in done.stdout, done.stderr[-3000:]
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr[-3000:]
    assert len(lines[0]) < 1000, "the value must not be echoed whole"
    for text in mentions:
        assert text in lines[0], lines[0]


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize("case", FILES)
def test_a_parameter_file_too_deep_or_too_long_is_a_usage_error(project, command, case):
    root, _env = project
    name, text = FILES[case]
    (root / name).write_text(text)
    done = _cli(project, *COMMANDS[command], "--param-file", name)
    if "digits" in case:
        _assert_usage_error(done, f"{name}:1:", "5000 digits")
    else:  # where it goes too deep (the loader's limit, or YAML's own for flow collections)
        _assert_usage_error(done, f"{name}:")


@pytest.mark.parametrize("command", ["run", "dry_run", "trigger"])
@pytest.mark.parametrize("assignment, mentions", [
    (f"count={DIGITS}", ("parameter `count`", "5000 digits")),
    (f"ratio={DIGITS}", ("parameter `ratio`", "5000 digits")),
    (f"items=[1, {DIGITS}]", ("parameter `items`", "5000 digits")),
    (f"items={_nested(5000)}", ("parameter `items`", "nested more than")),
    (f"items={_nested(200)}", ("parameter `items`", "nested more than")),
    ('options={"a": ' + _nested(200) + "}", ("parameter `options`", "nested more than")),
])
def test_a_key_value_too_deep_or_too_long_is_a_usage_error(project, command, assignment, mentions):
    done = _cli(project, *COMMANDS[command], assignment)
    _assert_usage_error(done, *mentions)


def test_json_errors_stay_one_document(project):
    root, _env = project
    (root / "deep.json").write_text(FILES["json_nested_100000"][1])
    done = _cli(project, "run", "Param Flow", "--param-file", "deep.json", "--format", "json")
    assert done.code == 2 and "Traceback" not in done.stderr
    data = json.loads(done.stdout)
    assert data["error"].startswith("deep.json:1:") and data["errors"] == []


def test_template_defaults_too_long_are_usage_errors(project):
    done = _cli(project, "create", "Big Backup", "--from-template", "Backup Files", f"keep_last={DIGITS}", "-y")
    _assert_usage_error(done, "parameter `keep_last`", "5000 digits")
    assert not (project[0] / "definitions" / "big_backup.yaml").exists()


def test_limits_hold_at_every_depth_and_size(project, monkeypatch):
    """Property: around and far beyond the limits, a value is either accepted (exit 0) or
    refused as a usage error (exit 2) — accepted exactly up to MAX_VALUE_DEPTH levels and within
    64 bits, from a YAML file, a JSON file and the command line alike; never anything else.
    In-process (click's runner) to try many sizes."""
    from click.testing import CliRunner

    from yaml2dag.cli import main
    from yaml2dag.format.limits import MAX_INTEGER, MIN_INTEGER
    from yaml2dag.format.parameters import MAX_VALUE_DEPTH

    root, env = project
    monkeypatch.chdir(root)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    runner = CliRunner()

    def outcome(*args: str) -> int:
        result = runner.invoke(main, ["run", "Param Flow", "--dry-run", *args])
        if result.exception is not None and not isinstance(result.exception, SystemExit):
            raise AssertionError(f"{args[0][:40]}: {result.exception!r}") from result.exception
        return result.exit_code

    limit = MAX_VALUE_DEPTH
    for depth in (1, 2, limit // 2, limit - 1, limit, limit + 1, limit + 2, 2 * limit, 400, 600, 990, 1000,
                  1500, 20_000):
        expected = 0 if depth <= limit else 2
        (root / "p.json").write_text('{"items": ' + _nested(depth) + "}")
        assert outcome("--param-file", "p.json") == expected, ("json file", depth)
        (root / "p.yaml").write_text("items: " + _nested(depth) + "\n")
        assert outcome("--param-file", "p.yaml") == expected, ("yaml file", depth)
        assert outcome(f"items={_nested(depth)}") == expected, ("k=v", depth)
        if depth == 1:
            continue
        # containers holding a scalar: the scalar is one level more
        mappings = '{"k": ' * (depth - 1) + "1" + "}" * (depth - 1)
        (root / "o.json").write_text('{"options": ' + mappings + "}")
        assert outcome("--param-file", "o.json") == expected, ("json file, mappings", depth)
        assert outcome(f"options={mappings}") == expected, ("k=v mappings", depth)
        with_scalar = "[" * (depth - 1) + "1" + "]" * (depth - 1)
        (root / "s.yaml").write_text(f"items: {with_scalar}\n")
        assert outcome("--param-file", "s.yaml") == expected, ("yaml file, scalar inside", depth)
        assert outcome(f"items={with_scalar}") == expected, ("k=v, scalar inside", depth)
    numbers = [str(n) for n in (0, 1, MAX_INTEGER, MAX_INTEGER + 1, MIN_INTEGER, MIN_INTEGER - 1, 10**19)]
    numbers += ["1" + "0" * zeros for zeros in (63, 64, 4299, 4300, 100_000)] + ["-1" + "0" * 4300]
    for text in numbers:
        expected = 0 if MIN_INTEGER <= int(text[:30]) <= MAX_INTEGER and len(text) < 30 else 2
        assert outcome(f"count={text}") == expected, ("k=v", len(text))
        assert outcome(f"ratio={text}") == expected, ("k=v number", len(text))
        (root / "p.yaml").write_text(f"count: {text}\n")
        assert outcome("--param-file", "p.yaml") == expected, ("yaml file", len(text))
        (root / "p.json").write_text(f'{{"items": [{text}]}}')
        assert outcome("--param-file", "p.json") == expected, ("json list", len(text))
        assert outcome(f"items=[{text}]") == expected, ("k=v list", len(text))


# --------------------------------------------------------------------------- tables outside a terminal


def _rows(stdout: str) -> list[str]:
    return stdout.splitlines()


def test_list_into_a_pipe_prints_every_column_whole(project):
    done = _cli(project, "list")
    assert done.code == 0, done.stderr
    lines = _rows(done.stdout)
    assert lines[0].split() == ["Name", "Job", "Steps", "Tags", "Schedules", "Description"]
    row = next(line for line in lines if line.startswith("Param Flow"))
    # one line for the row: tags, the first schedule and the description whole
    assert ", ".join(TAGS) in row and LONG_DESCRIPTION in row, done.stdout
    assert "At 06:30, Monday through Friday (Europe/Berlin), next " in row
    second = lines[lines.index(row) + 1]
    assert "At 22:00 (America/Los_Angeles), next " in second  # one line a schedule, as on a terminal
    assert max(len(line) for line in lines) > 200


def test_show_templates_and_versions_into_a_pipe_keep_whole_cells(project):
    show = _cli(project, "show", "Param Flow")
    assert show.code == 0, show.stderr
    row = next(line for line in _rows(show.stdout) if line.startswith("count"))
    assert LONG_DESCRIPTION in row, show.stdout
    templates = _cli(project, "templates")
    assert templates.code == 0, templates.stderr
    from yaml2dag.library.workflow_templates import list_templates

    longest = max((p.description for info in list_templates() for p in info.parameters), key=len)
    assert len(longest) > 60 and any(longest in line for line in _rows(templates.stdout)), templates.stdout
    other = "Other Flow With A Considerably Longer Name For Its Archive Folder"
    job = "other_flow_with_a_considerably_longer_name_for_its_archive_folder"
    for cron in ("@daily", "@hourly"):
        assert _cli(project, "schedule", other, cron).code == 0
    versions = _cli(project, "versions", other)
    assert versions.code == 0, versions.stderr
    archived = [line for line in _rows(versions.stdout) if line.startswith("1.0.0 ")]
    assert len(archived) == 1, versions.stdout
    assert archived[0].rstrip().endswith(os.path.join(".versions", job, "1.0.0.yaml")), versions.stdout


def _on_a_terminal(project, columns: int, *args: str) -> str:
    """Run the CLI with stdout on a pseudo-terminal of ``columns`` columns; its output."""
    root, env = project
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    full = {**os.environ, **env, "TERM": "xterm"}
    proc = subprocess.Popen([sys.executable, "-m", "yaml2dag", *args], cwd=root, env=full, stdin=subprocess.DEVNULL,
                            stdout=slave, stderr=subprocess.PIPE, start_new_session=True)
    os.close(slave)
    chunks = []
    deadline = time.monotonic() + CLI_TIMEOUT
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.5)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # the child closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif proc.poll() is not None:
                break
        proc.wait(timeout=max(deadline - time.monotonic(), 1))
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.close(master)
    assert proc.returncode == 0, proc.stderr.read()
    return b"".join(chunks).decode("utf-8", "replace").replace("\r\n", "\n")


def test_on_an_80_column_terminal_the_table_still_fits(project):
    (project[0] / "definitions" / "other.yaml").unlink()  # names and job ids are never cut
    text = re.sub(r"\x1b\[[0-9;]*m", "", _on_a_terminal(project, 80, "list"))
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0].split()[:3] == ["Name", "Job", "Steps"], text
    assert all(len(line) <= 80 for line in lines), text
    assert LONG_DESCRIPTION not in text  # the description is left out there: `show` has it


# --------------------------------------------------------------------------- step states in progress


def test_step_states_of_a_run_in_progress_cover_sub_workflows_and_gates():
    """`status` reads every step's state from one place (StepTracker.step_statuses): while the
    run is in progress a started step is `running` (a sub-workflow step too, once one of its
    steps started), a gate waiting for a decision `waiting`; ended steps keep their end state;
    once the run is over nothing is `running` or `waiting`."""
    from yaml2dag.runs.tracking import ENDED, LIVE_STATUSES, STEP_STATUSES, CatalogEntry, StepTracker

    keys = ["build", "sub", "sub.pull", "sub.test", "gate", "after"]
    tracker = StepTracker({k: CatalogEntry(k, k, "workflow" if k == "sub" else "step") for k in keys})
    tracker.started.update({"build": 1.0, "sub.pull": 2.0, "gate": 3.0})
    tracker.running.update({"sub.pull", "gate"})
    tracker.statuses["build"] = "succeeded"
    tracker.waiting["gate"] = "go?"
    live = tracker.step_statuses(live=True)
    assert live == {"build": "succeeded", "sub": "running", "sub.pull": "running", "sub.test": "not_run",
                    "gate": "waiting", "after": "not_run"}
    final = tracker.step_statuses()
    assert final == {**{k: "not_run" for k in keys}, "build": "succeeded"}
    assert set(live.values()) <= set(STEP_STATUSES) | set(LIVE_STATUSES) and set(final.values()) <= set(STEP_STATUSES)
    assert all(live[k] == final[k] for k in keys if final[k] in ENDED)
