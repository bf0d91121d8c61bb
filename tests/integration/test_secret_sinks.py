"""Issue 10 point 3: a secret is never stored or shown, in any form, whatever produced it.

An adversarial workflow sends a secret through every path that leaked before (results of
types other than str/list/dict/tuple — frozenset, bytes, a DataFrame, a numpy array, an object
that cannot be masked —, escaped forms in error messages and through ``tojson``, output written
straight to file descriptors 1 and 2 by ``os.system``, UTF-16 and base64 encodings, Python
logging, a ``for_each`` and a sub-workflow, a failing step and its ``on_failure`` handler), with
the threads executor and the multiprocess one, through the real CLI (``yaml2dag run``, text and
``--format json``, and ``yaml2dag retry --format json``) from a working directory with the
defaults a user has (relative ``definitions``, ``./dagster_home``, no YAML2DAG_* variable).
Then every file under the Dagster
home (SQLite databases, pickles, compute logs) and the output of ``events``, ``logs``,
``status`` and ``audit`` (text and JSON) are searched byte-wise for the secret in plain,
repr-escaped, JSON-escaped (once and twice), UTF-16 and base64 forms: 0 hits. Every command is a
real subprocess forked by :mod:`cli_forkserver` (an interpreter that has imported Dagster once),
its file descriptors 1 and 2 read whole.

A *control* value — an ordinary string parameter, not a secret — goes through exactly the same
paths, and the same search must find it in every kind of sink: that proves the search would
see the secret if it leaked. Both values are new random strings each time the test runs.
"""

from __future__ import annotations

import base64
import json
import os
import secrets as _random
import subprocess
from pathlib import Path

import pytest

from cli_forkserver import run_cli_env
from conftest import CLI_TIMEOUT, write

HELPERS = r'''
import base64
import os
import sys


def shout(control):
    """Writes to file descriptors 1 and 2 directly, as C code or a subprocess would."""
    os.environ["LEAK_CONTROL_VALUE"] = control
    for name in ("LEAK_TOKEN", "LEAK_CONTROL_VALUE"):
        os.system(f'printf "fd1:%s\\n" "${name}"')
        os.system(f'printf "fd2:%s\\n" "${name}" >&2')
        value = os.environ[name]
        os.write(1, b"u16:" + value.encode("utf-16-le") + b"\n")
        os.write(2, b"b64:" + base64.b64encode(("user:" + value).encode()) + b"\n")
        sys.stdout.buffer.write(value.encode("utf-16-be") + b"\n")
        print("printed", value)
    return "shouted"


def frozen(*values):
    return frozenset(values)


def as_bytes(*values):
    return "|".join(values).encode("utf-8")


def frame(*values):
    import pandas as pd

    data = {"col": list(values)}
    for i, value in enumerate(values):
        data[value] = [i] * len(values)
    return pd.DataFrame(data)


def array(*values):
    import numpy as np

    return np.array(values)


def raise_repr(*values):
    raise ValueError("bad values " + ", ".join(repr(v) for v in values))


def log_with_python_logging(*values):
    import logging

    import dagster

    dagster.get_dagster_logger().info("dagster logger: " + " ".join(values))
    logging.getLogger("user.code").warning("logging: " + " ".join(values))
    return len(values)


class Box:
    def __init__(self, value):
        self.value = value


def box(value):
    return Box(value)


def fail(*values):
    raise RuntimeError("it failed with " + " and ".join(values))
'''

CHILD = """
name: Leak Child
parameters:
  who: {type: string}
  ctrl: {type: string}
steps:
  - id: kid
    tool: python
    parameters: {callable: "leak_helpers:frozen", args: ["{{ who }}", "{{ ctrl }}"]}
  - id: kid_bytes
    tool: python
    parameters: {callable: "leak_helpers:as_bytes", args: ["{{ who }}", "{{ ctrl }}"]}
outputs:
  got: "{{ kid.output }}"
  raw: "{{ kid_bytes.output }}"
"""

#: The steps of the adversarial workflow: (step id, its YAML after ``id``, also in the
#: multiprocess variant). ``$T`` stands for the secret, ``$C`` for the control value.
STEPS = [
    ("shout", 'tool: python\nparameters: {callable: "leak_helpers:shout", args: [$C]}', True),
    ("frozen", 'tool: python\nparameters: {callable: "leak_helpers:frozen", args: [$T, $C]}', True),
    ("raw", 'tool: python\nparameters: {callable: "leak_helpers:as_bytes", args: [$T, $C]}', False),
    # the callables of the reproduction, called directly
    ("builtin_frozenset", 'tool: python\nparameters: {callable: "builtins:frozenset", args: [[$T, $C]]}', False),
    ("builtin_bytes", 'tool: python\nparameters: {callable: "builtins:bytes", '
                      'args: ["{{ leak_token }}|{{ control }}", "utf-8"]}', False),
    ("pandas_frame", 'tool: python\nparameters: {callable: "pandas:DataFrame", kwargs: {data: {col: [$T, $C]}}}',
     False),
    ("frame", 'tool: python\nparameters: {callable: "leak_helpers:frame", args: [$T, $C]}', True),
    ("array", 'tool: python\nparameters: {callable: "leak_helpers:array", args: [$T, $C]}', False),
    ("as_json", 'tool: python\nparameters: {callable: "builtins:str", '
                'args: ["{{ leak_token | tojson }} {{ control | tojson }}"]}', False),
    ("quoted_error", 'tool: python\non_error: continue\n'
                     'parameters: {callable: "leak_helpers:raise_repr", args: [$T, $C]}', False),
    ("python_logging", 'tool: python\nparameters: {callable: "leak_helpers:log_with_python_logging", '
                       'args: [$T, $C]}', True),
    ("box_secret", 'tool: python\non_error: continue\nparameters: {callable: "leak_helpers:box", args: [$T]}',
     True),
    ("box_control", 'tool: python\nparameters: {callable: "leak_helpers:box", args: [$C]}', False),
    ("shell_json", 'tool: shell\non_error: continue\nparameters: {command: "echo {{ leak_token | tojson }} '
                   '{{ control | tojson }}; echo {{ leak_token }} {{ control }} >&2; exit 3"}', False),
    ("each", 'for_each: [$T, $C]\ntool: python\nparameters: {callable: "leak_helpers:frozen", '
             'args: ["{{ item }}"]}', True),
    ("sub", 'workflow: Leak Child\nparameters: {who: $T, ctrl: $C}', True),
    ("last", 'tool: python\nparameters: {callable: "leak_helpers:fail", args: [$T, $C]}', True),
]


def workflow(name: str, executor: str) -> str:
    """The adversarial workflow; the multiprocess variant keeps the steps whose paths differ in
    a step process (fewer steps: each one is a new Python process)."""
    lines = [f'name: "{name}"', "parameters:", "  leak_token: {type: secret}", "  control: {type: string}",
             f"executor: {{type: {executor}}}", "steps:"]
    kept = [(sid, body) for sid, body, in_processes in STEPS if executor != "multiprocess" or in_processes]
    for sid, body in kept:
        body = body.replace("$T", '"{{ leak_token }}"').replace("$C", '"{{ control }}"')
        lines.append(f"  - id: {sid}")
        lines += [f"    {line}" for line in body.split("\n")]
    lines += ["on_failure:", "  - id: report", "    tool: python",
              '    parameters: {callable: "leak_helpers:frozen", args: ["{{ error }}", "{{ leak_token }}", '
              '"{{ control }}"]}',
              "outputs:"]
    lines += [f'  {sid}: "{{{{ {sid}.output }}}}"' for sid, _body in kept if sid in ("frozen", "raw", "each", "sub")]
    return "\n".join(lines) + "\n"


def _value(prefix: str) -> str:
    """A new marker per test run, with the characters that get escaped (a quote, a backslash)."""
    return f'{prefix}{_random.token_hex(6)}"q\\z'


def forms(value: str) -> dict[str, bytes]:
    """The forms the search looks for (see the module docstring)."""
    out = {
        "plain": value.encode(),
        "repr": repr(value)[1:-1].encode(),
        "json": json.dumps(value)[1:-1].encode(),
        "json twice": json.dumps(json.dumps(value)[1:-1])[1:-1].encode(),
        "utf-16-le": value.encode("utf-16-le"),
        "utf-16-be": value.encode("utf-16-be"),
    }
    data = value.encode()
    for shift in range(3):  # base64 at each byte alignment: the characters of the value alone
        encoded = base64.b64encode(b"\0" * shift + data).decode()
        out[f"base64+{shift}"] = encoded[(shift * 8 + 5) // 6:(len(data) + shift) * 8 // 6].encode()
    return out


def hits(blob: bytes, value: str) -> list[str]:
    return [name for name, form in forms(value).items() if form in blob]


def _env(home_env: dict[str, str]) -> dict[str, str]:
    """The environment of a user: no YAML2DAG_* variable and no DAGSTER_HOME (the defaults:
    ./definitions and ./dagster_home), plus ``home_env``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("YAML2DAG_") and k != "DAGSTER_HOME"}
    env["NO_COLOR"] = "1"
    env.update(home_env)
    return env


def cli(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """``yaml2dag ARGS`` as a real subprocess in its own process group, killed if it outlives
    CLI_TIMEOUT; output as bytes (the search is byte-wise). Forked from :mod:`cli_forkserver`'s
    interpreter that has imported Dagster already (what importing printed is in the output too)."""
    return run_cli_env(args, env, cwd, CLI_TIMEOUT)


@pytest.fixture
def project(tmp_path):
    """A working directory with ``definitions/`` holding the adversarial workflows."""
    folder = tmp_path / "definitions"
    folder.mkdir()
    (folder / "leak_helpers.py").write_text(HELPERS)
    write(folder, "leak_child.yaml", CHILD)
    (folder / "leak_threads.yaml").write_text(workflow("Leak Threads", "threads"))
    (folder / "leak_processes.yaml").write_text(workflow("Leak Processes", "multiprocess"))
    return tmp_path


def test_forms_of_the_search_are_those_of_the_masker():
    """The search looks for what the masker masks (and base64 parts are the stable ones)."""
    from yaml2dag.format.masking import byte_forms

    value = _value("Form")
    masked = {form for form, _repl in byte_forms(value)}
    assert set(forms(value).values()) <= masked
    for shift in range(3):
        inside = base64.b64encode(b"ab"[:shift] + value.encode() + b"tail")
        assert forms(value)[f"base64+{shift}"] in inside


def test_no_secret_in_any_form_anywhere_a_run_writes(project):
    secret, control = _value("Sk"), _value("Ct")
    assert not set(forms(secret).values()) & set(forms(control).values())
    env = _env({"LEAK_TOKEN": secret})
    assignment = f"control={control}"
    shown: dict[str, bytes] = {}

    # --- the runs: text and JSON output, threads and processes
    text = cli(project, env, "run", "Leak Threads", assignment)
    shown["run (text)"] = text.stdout + text.stderr
    assert text.returncode == 1, shown["run (text)"].decode(errors="replace")
    runs = {}
    for name in ("Leak Threads", "Leak Processes"):
        js = cli(project, env, "run", name, assignment, "--format", "json")
        shown[f"run {name} (json)"] = js.stdout + js.stderr
        # stdout is exactly one JSON document; what the steps wrote to fd 1 went to stderr
        document = js.stdout.decode()
        data = json.loads(document)
        decoded, end = json.JSONDecoder().raw_decode(document.strip())
        assert end == len(document.strip()) and decoded == data
        assert b"fd1:***" in js.stderr
        if name == "Leak Threads":  # (the multiprocess executor's step processes get no terminal stderr)
            assert b"fd2:***" in js.stderr
        assert f"fd1:{control}".encode() in js.stderr
        assert data["status"] == "FAILURE" and data["steps"]["last"] == "failed", data
        # an object that cannot be masked is refused (the step fails under its on_error) ...
        assert data["steps"]["box_secret"] == "continued"
        assert data["steps"].get("box_control", "succeeded") == "succeeded"
        # ... results of the other types are masked as the same kind of data
        for step in ("frozen", "raw", "frame", "array", "as_json", "each", "sub", "python_logging",
                     "builtin_frozenset", "builtin_bytes", "pandas_frame"):
            assert data["steps"].get(step, "succeeded") == "succeeded", (step, data["steps"])
        runs[name] = data["run_id"]
    home = project / "dagster_home"
    assert home.is_dir()
    # a retry executes the steps in the CLI's process too: one JSON document on stdout as well
    retry = cli(project, env, "retry", runs["Leak Threads"], "--all", "--format", "json")
    shown["retry (json)"] = retry.stdout + retry.stderr
    assert json.loads(retry.stdout.decode())["parent_run_id"] == runs["Leak Threads"], shown["retry (json)"]
    assert b"fd1:***" in retry.stderr and f"fd1:{control}".encode() in retry.stderr

    # --- every read-only view of every run, text and JSON
    for run_id in runs.values():
        for command in ("events", "logs", "status", "audit"):
            for fmt in ("text", "json"):
                out = cli(project, env, command, run_id, "--format", fmt)
                assert out.returncode == 0, (command, fmt, out.stderr)
                shown[f"{command} {run_id} ({fmt})"] = out.stdout + out.stderr
        out = cli(project, env, "logs", run_id, "--compute")
        shown[f"logs --compute {run_id}"] = out.stdout + out.stderr

    # --- the secret: in no form, in no file of the Dagster home, in no output
    leaks = []
    kinds: dict[str, list[Path]] = {"database": [], "pickle": [], "compute log": []}
    for path in home.rglob("*"):
        if not path.is_file():
            continue
        blob = path.read_bytes()
        found = hits(blob, secret)
        if found:
            leaks.append(f"{path.relative_to(home)}: {found}")
        if path.suffix == ".db":
            kinds["database"].append(path)
        elif "compute_logs" in path.parts:
            kinds["compute log"].append(path)
        elif (home / "storage") in path.parents and not path.name.endswith(".complete"):
            kinds["pickle"].append(path)  # step outputs pickled by the IO manager
    for where, blob in shown.items():
        found = hits(blob, secret)
        if found:
            leaks.append(f"{where}: {found}")
    assert not leaks, "the secret leaked:\n" + "\n".join(leaks)
    assert all(kinds.values()), kinds

    # --- the control value took the same paths: the same search finds it in each kind of sink
    def found_in(paths: list[Path]) -> set[str]:
        names: set[str] = set()
        for path in paths:
            names.update(hits(path.read_bytes(), control))
        return names

    # the event log is JSON text: the value in it is escaped once, or twice in metadata texts
    # that hold JSON themselves (run config and the step outputs)
    assert {"json", "json twice"} <= found_in(kinds["database"])
    assert {"plain"} <= found_in(kinds["pickle"])  # frozenset, bytes, DataFrame, the box object
    assert {"plain", "utf-16-le"} <= found_in(kinds["compute log"])  # os.system, os.write
    assert any(name.startswith("base64") for name in found_in(kinds["compute log"]))
    assert "repr" in hits(b"".join(shown.values()), control)  # the quoted error message
    for where, blob in shown.items():
        if where.startswith(("events", "audit", "run")):
            assert hits(blob, control), f"the control value is not in {where}"
