"""Issue 10, points 4 and 6, through a real `yaml2dag run` (a subprocess, a temporary
DAGSTER_HOME, the definitions folder a user has).

Point 4: a value that bash would evaluate as arithmetic never runs a command: the validator
refuses text sources, and a value that turns out non-numeric at run time fails the step before
the shell starts. Point 6: templates are bounded: huge powers and repetitions are refused
before they allocate, a long render stops at the step's timeout, a `pathlib.Path` a step
returns cannot write a file, and `env` cannot be listed.

Peak memory is measured from a wrapper process (`ru_maxrss` of the `yaml2dag run` child) and
only used to assert that a refusal happened before the allocation, never as a time limit.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from conftest import REPO, make_dagster_home, run_cli, run_process, write

pytestmark = pytest.mark.slow

#: Peak memory a run may reach when the sandbox refuses a 2.5 GB string or a 47-million-digit
#: number before building it (a run of this workflow takes about 200-300 MB).
PEAK_RSS_BOUND_MB = 1024

_MEASURE = """
import json, resource, subprocess, sys
done = subprocess.run(sys.argv[1:], capture_output=True, text=True)
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"code": done.returncode, "stdout": done.stdout, "stderr": done.stderr, "peak_mb": peak_kb / 1024}))
"""


def run_measured(*args: str, env: dict, cwd: Path) -> dict:
    """`yaml2dag ARGS` in a wrapper that reports its exit code, output and peak RSS (MB)."""
    done = run_process([sys.executable, "-c", _MEASURE, sys.executable, "-m", "yaml2dag", *args], env=env, cwd=cwd)
    assert done.code == 0, done.stderr
    return json.loads(done.stdout)


@pytest.fixture
def user(tmp_path):
    """A user's working directory: a relative `definitions` folder, no YAML2DAG_* settings."""
    work = tmp_path / "work"
    (work / "definitions").mkdir(parents=True)
    home = make_dagster_home(tmp_path / "home")
    env = {"DAGSTER_HOME": str(home), "YAML2DAG_DEFINITIONS": ""}  # empty: the default, `definitions`
    return work, env


# --------------------------------------------------------------------------- point 4

ARITH = """
name: Arithmetic
parameters:
  n: {type: integer, default: 41}
  values: {type: array, default: ["41"]}
steps:
  - id: add
    tool: shell
    parameters:
      command: "echo $(( {{ n }} + 1 ))"
  - id: each
    for_each: "{{ values }}"
    on_error: continue
    tool: shell
    parameters:
      command: |
        echo $(( {{ item }} + 1 )) {{ item }}
        [[ {{ item }} -gt 5 ]] && echo big
        a=(x y); echo "${a[{{ item }}]}" ${s:{{ item }}}
  - id: env_value
    on_error: continue
    tool: shell
    parameters:
      command: "echo $(( N * 2 ))"
      env:
        N: "{{ values[-1] }}"
outputs:
  add: "{{ add.output }}"
  each: "{{ each.results | map(attribute='error') | list }}"
  each_out: "{{ each.output }}"
  env_value: "{{ env_value.error }}"
  env_out: "{{ env_value.output }}"
"""

PAYLOAD = "a[$(touch pwned)]"


def test_numbers_work_and_a_payload_fails_the_step_before_bash_runs(user):
    work, env = user
    write(work / "definitions", "arith.yaml", ARITH)
    ok = run_cli("run", "arithmetic", "--format", "json", env=env, cwd=work)
    assert ok.code == 0, ok.stderr
    data = json.loads(ok.stdout)
    assert data["outputs"]["add"] == "42"
    assert data["outputs"]["each_out"] == ["42 41\nbig"]
    assert data["outputs"]["env_out"] == "82"

    values = json.dumps(["41", "7", PAYLOAD])
    bad = run_cli("run", "arithmetic", f"values={values}", "--format", "json", env=env, cwd=work)
    assert bad.code == 0, bad.stderr  # the failing elements continue (on_error: continue)
    data = json.loads(bad.stdout)
    errors = data["outputs"]["each"]
    assert errors[0] is None and errors[1] is None
    assert "`{{ item }}` is inserted where bash evaluates arithmetic (`$(( ))`), so its value must be an " \
           "integer, got 'a[$(touch pwned)]'" in errors[2]
    assert "parameters.env.N: the command evaluates `N` as bash arithmetic" in data["outputs"]["env_value"]
    assert not (work / "pwned").exists()
    assert list(Path(work).glob("**/pwned")) == []


STRING_PARAM = """
name: Arithmetic Text
parameters:
  n: {type: string, default: "41"}
steps:
  - id: add
    tool: shell
    parameters:
      command: "echo $(( {{ n }} + 1 )); [[ {{ n }} -gt 5 ]] && let x={{ n }}"
"""


def test_the_validator_refuses_text_in_arithmetic_and_run_runs_nothing(user):
    work, env = user
    path = write(work / "definitions", "text.yaml", STRING_PARAM)
    checked = run_cli("validate", "--format", "json", env=env, cwd=work)
    assert checked.code == 1
    errors = json.loads(checked.stdout)["errors"]
    assert [(e["rule"], e["line"]) for e in errors] == [("shell", 8)] * 3
    for where in ("(`$(( ))`)", "(`[[ -gt ]]`)", "(`let`)"):
        assert any(where in e["message"] and "the string parameter `n`" in e["message"] for e in errors), where
    ran = run_cli("run", str(path.relative_to(work)), f"n={PAYLOAD}", env=env, cwd=work)
    assert ran.code == 2 and "[shell]" in ran.stderr
    assert not (work / "pwned").exists()


# --------------------------------------------------------------------------- point 6

HELPERS = """
from pathlib import Path


def target(path):
    return Path(path)
"""

BOMBS = """
name: Template Bombs
timeout: 120
parameters:
  n: {type: integer, default: 100000000}
  reps: {type: integer, default: 2500000000}
  target: {type: string}
steps:
  - id: make_path
    tool: python
    parameters:
      callable: "helpers:target"
      args: ["{{ target }}"]
  - id: power
    on_error: continue
    timeout: 5
    tool: notify
    parameters: {message: "{{ (3 ** n) > 1 }}"}
  - id: repeat
    on_error: continue
    tool: notify
    parameters: {message: "{{ ('a' * reps) | length }}"}
  - id: write
    on_error: continue
    tool: notify
    parameters: {message: "{{ make_path.output.write_text('owned') }}"}
  - id: spin
    on_error: continue
    timeout: 2
    tool: notify
    parameters:
      message: "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}done"
  - id: fine
    tool: notify
    parameters: {message: "{{ 'ab' * 3 }} {{ 2 ** 10 }} {{ make_path.output }} {{ env.HOME is defined }}"}
outputs:
  power: "{{ power.error }}"
  repeat: "{{ repeat.error }}"
  write: "{{ write.error }}"
  spin: "{{ spin.error }}"
  fine: "{{ fine.output.message }}"
"""


def test_template_bombs_fail_their_steps_with_bounded_memory(user, tmp_path):
    work, env = user
    write(work / "definitions", "bombs.yaml", BOMBS)
    write(work / "definitions", "helpers.py", HELPERS)
    target = tmp_path / "owned.txt"
    result = run_measured("run", "template bombs", f"target={target}", "--format", "json", env=env, cwd=work)
    assert result["code"] == 0, result["stderr"]
    data = json.loads(result["stdout"])
    assert data["steps"]["power"] == data["steps"]["repeat"] == data["steps"]["write"] == "continued"
    assert data["steps"]["spin"] == "continued" and data["steps"]["fine"] == "succeeded"
    outputs = data["outputs"]
    assert "blocked by the template sandbox: `3 ** 100000000` would make about 47,712,125 digits" in outputs["power"]
    assert "blocked by the template sandbox: repeating a text 2,500,000,000 times" in outputs["repeat"]
    assert "`.write_text` of a PosixPath is not allowed in templates" in outputs["write"]
    assert "step timed out after 2s while rendering its parameters" in outputs["spin"]
    assert outputs["fine"] == f"ababab 1024 {target} true"
    assert not target.exists()
    assert result["peak_mb"] < PEAK_RSS_BOUND_MB, result["peak_mb"]


RUN_TIMEOUT = """
name: Render Past The Run Timeout
timeout: 3
steps:
  - id: spin
    tool: notify
    parameters:
      message: "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}done"
"""


RUN_TIMEOUT_WHEN = """
name: Render Past The Run Timeout
timeout: 3
steps:
  - id: spin
    when: "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}true"
    tool: notify
    parameters: {message: "never"}
outputs:
  late: "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}x"
"""


@pytest.mark.parametrize("text", [RUN_TIMEOUT, RUN_TIMEOUT_WHEN], ids=["parameters", "when"])
def test_a_render_without_a_step_timeout_stops_at_the_run_timeout(user, text):
    work, env = user
    write(work / "definitions", "run_timeout.yaml", text)
    done = run_cli("run", "render past the run timeout", "--format", "json", env=env, cwd=work)
    assert done.code == 1, done.stderr
    data = json.loads(done.stdout)
    assert data["status"] == "FAILURE" and data["steps"]["spin"] != "succeeded"
    status = run_cli("status", data["run_id"], env=env, cwd=work)
    assert "the run exceeded its timeout of 3s" in status.stdout, status.stdout


ENV_LIST = """
name: Env Listing
steps:
  - id: dump
    tool: notify
    parameters:
      message: "{{ env | list }} {{ env.items() }} {% for k in env %}{{ k }}{% endfor %} {{ env.HOME }}"
"""

STATIC_BOMBS = """
name: Static Bombs
steps:
  - id: dump
    tool: notify
    parameters:
      message: "{{ (3**(10**8)) > 1 }} {{ ('a'*2500000000)|length }} {{ range(10**9) | list }}"
"""


@pytest.mark.parametrize("text, found", [
    (ENV_LIST, ["`env` can only be read one variable at a time", "`env.items()`", "`env` can only be read"]),
    (STATIC_BOMBS, ["`3 ** 100000000` would make about 47,712,125 digits", "repeating a text 2,500,000,000 times",
                    "`range` would give 1,000,000,000 numbers"]),
])
def test_the_validator_reports_what_it_can_see(user, text, found):
    work, env = user
    path = write(work / "definitions", "static.yaml", text)
    checked = run_cli("validate", str(path.relative_to(work)), "--format", "json", env=env, cwd=work)
    assert checked.code == 1
    errors = json.loads(checked.stdout)["errors"]
    assert {e["rule"] for e in errors} == {"sandbox"}
    messages = [e["message"] for e in errors]
    for phrase in found:
        assert any(phrase in m for m in messages), (phrase, messages)
    ran = run_cli("run", str(path.relative_to(work)), env=env, cwd=work)
    assert ran.code == 2


def test_docs_state_the_bounds():
    for name in ("workflow_guide_en.md", "workflow_guide_zh.md"):
        text = (REPO / "docs" / "manual" / name).read_text()
        assert "10,000,000" in text and "4,300" in text and "100,000" in text, name
        assert "$(( ))" in text and "[[ A -eq B ]]" in text and "| int" in text and "env.get(" in text, name
