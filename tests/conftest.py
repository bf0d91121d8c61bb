"""Shared fixtures: real Dagster instances on temporary homes, real subprocesses.

Every wait is bounded (:func:`waiting.wait_until`, ``pytest-timeout`` on every test) and every
process group a test starts is killed on teardown.

Tiers, by folder (markers set here, never by hand): ``tests/unit`` (marker ``unit``) starts no
Dagster run, no server and no CLI subprocess, and is the quick check (``pytest tests/unit``);
``tests/integration`` (markers ``integration`` and ``slow``) holds the rest.

A test changes ``os.environ`` only through ``monkeypatch`` (undone after it): a change left
behind fails the test (:func:`_no_environment_leak`); a leaked ``DAGSTER_HOME`` once sent
another test's CLI calls to the wrong instance.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

#: pytester: tests/unit/test_suite_helpers.py runs this conftest's guards on small suites of its own.
pytest_plugins = ("pytester",)

REPO = Path(__file__).resolve().parents[1]

#: This process's environment before any test changed it (what the CLI fork server starts with).
START_ENV = dict(os.environ)

# pytest started in the background of a script (`cmd &`, as CI may do) finds SIGINT ignored, and
# Dagster's main-thread calls then set SIGTERM to "ignore" too (yaml2dag/runs/signals.py): every
# process a test starts afterwards (Dagster's compute-log `tail`, servers, workers) would ignore
# SIGTERM and hang its stop for 30 s. Interrupting pytest with SIGINT works as in a terminal.
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

#: Bound for one CLI subprocess (seconds). Generous: CI machines are slow, but never unbounded.
CLI_TIMEOUT = 180


#: The dagster.yaml of every test home: telemetry off, Dagster's default SQLite storage.
TEST_DAGSTER_YAML = "telemetry:\n  enabled: false\n"

#: The prepared home of this process (see :func:`_prepared_home`), built on first use.
_PREPARED: Path | None = None


def _prepared_home() -> Path:
    """A DAGSTER_HOME built once per test process: :data:`TEST_DAGSTER_YAML` plus its SQLite
    storage created and migrated by :func:`yaml2dag.runs.runner.prepare_storage` (and marked
    ready, so no process opening a copy takes the creation lock). Each xdist worker builds its
    own in a temporary folder removed when the process exits. Saves the ~1 s that creating and
    migrating the three databases costs every test that opens an instance."""
    global _PREPARED
    if _PREPARED is None:
        from yaml2dag.runs.runner import prepare_storage

        root = Path(tempfile.mkdtemp(prefix="yaml2dag-test-home-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)  # and pytest_unconfigure: xdist workers may skip atexit
        home = root / "dagster_home"
        home.mkdir()
        (home / "dagster.yaml").write_text(TEST_DAGSTER_YAML)
        prepare_storage(home)
        assert (home / "history" / "runs.db").is_file(), f"no storage was created in {home}"
        _PREPARED = home
    return _PREPARED


def pytest_sessionstart(session):
    """Compile ``yaml2dag/`` to bytecode once, in the controller, before any test starts a
    subprocess: the integration tier starts thousands of Python processes that import yaml2dag,
    and where ``PYTHONDONTWRITEBYTECODE`` is set (as on this project's CI machine) none of them
    writes the ``.pyc`` files, so each one compiled yaml2dag's modules from source again (about
    0.2 s of CPU per ``yaml2dag run``; ``/usr/bin/time`` with and without the files). Python still
    reads bytecode with that variable set, and checks each file against its source's size and
    modification time, so a module edited later is compiled afresh, never run stale."""
    if not hasattr(session.config, "workerinput"):
        import compileall

        compileall.compile_dir(str(REPO / "yaml2dag"), quiet=1)


def pytest_unconfigure(config):
    """Remove this process's prepared home (see :func:`_prepared_home`)."""
    if _PREPARED is not None:
        shutil.rmtree(_PREPARED.parent, ignore_errors=True)


def make_dagster_home(path: Path, *, storage: bool = True) -> Path:
    """Make ``path`` (which must not exist) a DAGSTER_HOME whose dagster.yaml turns telemetry off;
    returns it.

    With ``storage`` (the default) it is a copy of the process's prepared home, its SQLite storage
    already created and migrated (:func:`_prepared_home`); without, only the dagster.yaml, for
    tests of how yaml2dag creates a new home's storage."""
    if storage:
        shutil.copytree(_prepared_home(), path)
    else:
        path.mkdir()
        (path / "dagster.yaml").write_text(TEST_DAGSTER_YAML)
    return path


@pytest.fixture
def dagster_home(tmp_path, monkeypatch) -> Path:
    """A DAGSTER_HOME with telemetry off and its storage ready (a copy of the prepared home),
    set in the environment for the test."""
    home = make_dagster_home(tmp_path / "dagster_home")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    return home


# --------------------------------------------------------------------------- tiers and guards

TESTS = Path(__file__).resolve().parent
#: Folder under tests/ -> the markers its tests get.
TIER_MARKERS = {"unit": ("unit",), "integration": ("integration", "slow")}


#: Fixture scopes whose value tests of one module share: such a module runs on one xdist worker.
_SHARED_SCOPES = frozenset({"module", "class", "package"})


def _shares_state(item) -> bool:
    """Whether ``item`` uses a fixture set up once for several tests (a server, a cluster, a
    prepared world): module, class or package scope. Session fixtures are per worker anyway."""
    info = getattr(item, "_fixtureinfo", None)
    if info is None:
        return False
    return any(fixturedef.scope in _SHARED_SCOPES
               for name in item.fixturenames for fixturedef in info.name2fixturedefs.get(name, ()))


def pytest_collection_modifyitems(config, items):
    """Mark every test by its folder: ``tests/unit`` -> ``unit``; ``tests/integration`` ->
    ``integration`` and ``slow``. A test file outside both folders is refused.

    For pytest-xdist (``--dist loadgroup``, see pyproject.toml): the integration tests of a module
    that share a module- or class-scoped fixture are one ``xdist_group`` (one worker sets the fixture up
    once; tests elsewhere are handed out one by one), and those groups, the longest work units,
    are scheduled first so that no worker starts one when the others are nearly done."""
    grouped: set[str] = set()
    for item in items:
        try:
            parts = Path(str(item.path)).resolve().relative_to(TESTS).parts
        except ValueError:
            continue  # not under tests/ (e.g. a doctest elsewhere)
        tier = parts[0]
        if tier not in TIER_MARKERS:
            raise pytest.UsageError(f"{item.nodeid}: test files live in tests/unit or tests/integration")
        for name in TIER_MARKERS[tier]:
            item.add_marker(name)
        if tier == "integration" and _shares_state(item):  # unit fixtures are cheap to set up twice
            group = "/".join(parts)
            item.add_marker(pytest.mark.xdist_group(name=group))
            grouped.add(group)
    if grouped:  # stable: modules stay contiguous and in order within each half
        def rank(item) -> int:
            marker = item.get_closest_marker("xdist_group")
            return 0 if marker is not None and marker.kwargs.get("name") in grouped else 1

        items.sort(key=rank)


def _environment() -> dict[str, str]:
    """``os.environ`` less pytest's own ``PYTEST_*`` variables (PYTEST_CURRENT_TEST changes by phase)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}


@pytest.fixture(autouse=True)
def _no_environment_leak(request):
    """Fail a test that leaves ``os.environ`` changed (set, changed or removed a variable without
    ``monkeypatch``, or a fixture of its own that does not restore it). Runs its check after
    every other fixture of the test is torn down, monkeypatch's undo included."""
    before = _environment()
    yield
    after = _environment()
    if after != before:
        changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
        # restore, so one leak does not fail every later test
        for name in changed:
            if name in before:
                os.environ[name] = before[name]
            else:
                del os.environ[name]
        pytest.fail(f"{request.node.nodeid} left os.environ changed: {', '.join(changed)}; "
                    "change the environment with monkeypatch.setenv/delenv only", pytrace=False)


@pytest.fixture(autouse=True)
def _signal_handlers_restored():
    """Put SIGINT's and SIGTERM's handlers back after every test. Dagster's in-process execution
    on the main thread (``execute_job``, ``execute_in_process``) leaves SIGTERM set to SIGINT's
    handler, which is "ignore" when pytest was started in the background of a script (as CI may
    do): every process a later test starts would then ignore SIGTERM (see yaml2dag/runs/signals.py)."""
    saved = {number: signal.getsignal(number) for number in (signal.SIGINT, signal.SIGTERM)}
    yield
    for number, handler in saved.items():
        if handler is not None and signal.getsignal(number) is not handler:
            signal.signal(number, handler)


@pytest.fixture
def instance(dagster_home):
    """A real DagsterInstance on the temporary home."""
    from dagster import DagsterInstance

    inst = DagsterInstance.get()
    try:
        yield inst
    finally:
        inst.dispose()


@pytest.fixture
def definitions(tmp_path, monkeypatch) -> Path:
    """An empty definitions folder, set as YAML2DAG_DEFINITIONS."""
    folder = tmp_path / "definitions"
    folder.mkdir()
    monkeypatch.setenv("YAML2DAG_DEFINITIONS", str(folder))
    return folder


def write(folder: Path, name: str, text: str) -> Path:
    """Write dedented ``text`` to ``folder/name`` and return the path."""
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


@dataclass
class Ran:
    """A finished run: the CLI-level result plus the raw event log records."""

    result: Any
    records: list

    def events(self, event_type: str) -> list:
        return [r for r in self.records if r.dagster_event is not None and r.dagster_event.event_type_value == event_type]

    def step_keys(self, event_type: str) -> set[str]:
        return {r.dagster_event.step_key for r in self.events(event_type)}

    def messages(self, step_key: str | None = None) -> list[str]:
        return [r.user_message for r in self.records
                if r.dagster_event is None and (step_key is None or r.step_key == step_key)]

    def timestamps(self, step_key: str, event_type: str) -> list[float]:
        return [r.timestamp for r in self.events(event_type) if r.dagster_event.step_key == step_key]


@pytest.fixture
def run_yaml(instance, tmp_path):
    """Run workflow text through the real instance: ``run_yaml(text, params) -> Ran``."""
    from yaml2dag.runs.runner import run_workflow
    from yaml2dag.format.validation import validate_file

    counter = {"n": 0}

    def _run(text: str, params: dict | None = None, *, strings: bool = False, name: str | None = None) -> Ran:
        counter["n"] += 1
        path = write(tmp_path / "wf", name or f"workflow_{counter['n']}.yaml", text)
        report = validate_file(path)
        assert report.valid, "\n".join(p.format() for p in report.problems)
        result = run_workflow(report.validated(), params or {}, strings=strings, instance=instance)
        records = list(instance.all_logs(result.run_id))
        return Ran(result, records)

    return _run


def stored_outputs(instance, run_id: str) -> list[dict]:
    """The workflow outputs a run stored: one dict per STEP_OUTPUT event of its `workflow_outputs`
    step, read back from the instance's event log (normally exactly one)."""
    return [r.dagster_event.event_specific_data.metadata["outputs"].value
            for r in instance.all_logs(run_id)
            if r.dagster_event is not None and r.dagster_event.event_type_value == "STEP_OUTPUT"
            and r.dagster_event.step_key == "workflow_outputs"]


@dataclass
class Completed:
    code: int
    stdout: str
    stderr: str


#: Environment variables a Python interpreter reads while it starts (``PYTHON*``: its path, its
#: encodings, its hash seed ...; the locale's): a call whose environment differs from the fork
#: server's in one of them gets a fresh interpreter (:func:`run_cli`).
_STARTUP_PREFIXES = ("PYTHON", "LANG", "LC_")


def _startup_differs(env: dict | None, drop: tuple[str, ...]) -> bool:
    """Whether the child's environment (``os.environ`` less ``drop``, updated with ``env``) differs
    from this process's at start in a variable the interpreter reads while it starts."""
    child = {name: value for name, value in os.environ.items() if name not in drop}
    child.update(env or {})
    names = {name for name in (*child, *START_ENV) if name.startswith(_STARTUP_PREFIXES)}
    return any(child.get(name) != START_ENV.get(name) for name in names)


def run_cli(*args: str, env: dict | None = None, cwd: Path | str | None = None,
            input: str | None = None, timeout: float = CLI_TIMEOUT, drop: tuple[str, ...] = (),
            fresh: bool = False) -> Completed:
    """Run ``python -m yaml2dag ARGS`` as a real subprocess (its own process group, bounded by
    ``timeout`` seconds); see :func:`run_process` for ``env`` and ``drop``.

    The subprocess is forked from ``tests/cli_forkserver.py``'s server, an interpreter that has
    imported Dagster once (about a second of CPU saved per call; the same exit code, stdout and
    stderr as a fresh interpreter: ``test_cli_forkserver_equivalence.py``), unless ``fresh`` is
    set or the call's environment differs from the server's in a variable read at interpreter
    start (``PYTHONPATH``, ``LANG`` ...): then it is a fresh ``python -m yaml2dag``."""
    if not fresh and not _startup_differs(env, drop):
        from cli_forkserver import run_cli as forked  # cli_forkserver imports this module

        return forked(*args, env=env, cwd=cwd, input=input, timeout=timeout, drop=drop)
    return run_process([sys.executable, "-m", "yaml2dag", *args], env=env, cwd=cwd, input=input, timeout=timeout,
                       drop=drop)


#: The CLI run in-process by ``python -c``; its last line on stderr is
#: ``EXIT <exit code> DAGSTER <number of dagster modules loaded>``.
_COUNT_DAGSTER = """
import sys
from yaml2dag.cli import main
try:
    main.main(args=sys.argv[1:], prog_name="yaml2dag", standalone_mode=False)
except SystemExit as exc:
    code = exc.code
else:
    code = 0
loaded = sorted(m for m in sys.modules if m == "dagster" or m.startswith("dagster."))
print("EXIT", code, "DAGSTER", len(loaded), file=sys.stderr)
"""


def run_cli_counting_dagster(*args: str, env: dict | None = None, timeout: float = CLI_TIMEOUT) -> Completed:
    """Run the CLI with ``args`` in a fresh interpreter (cwd: the repository) that ends by printing
    ``EXIT <exit code> DAGSTER <number of dagster modules loaded>`` on stderr."""
    return run_process([sys.executable, "-c", _COUNT_DAGSTER, *args], env=env, cwd=REPO, timeout=timeout)


def run_process(argv: list[str], *, env: dict | None = None, cwd: Path | str | None = None,
                input: str | None = None, timeout: float = CLI_TIMEOUT, drop: tuple[str, ...] = ()) -> Completed:
    """Run a command, killing its whole process group if it outlives ``timeout`` (seconds).

    Its environment is this process's ``os.environ`` less the variables named in ``drop`` (so a
    test never edits ``os.environ`` to hide one from a child), updated with ``env`` (which may set
    a dropped variable again, to its own value)."""
    full_env = {name: value for name, value in os.environ.items() if name not in drop}
    full_env.update(env or {})
    full_env.setdefault("NO_COLOR", "1")
    proc = subprocess.Popen(argv, cwd=cwd, env=full_env, stdin=subprocess.PIPE if input is not None else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(input=input, timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(f"{argv} did not finish within {timeout}s\nstdout:\n{out}\nstderr:\n{err}")
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    return Completed(proc.returncode, out, err)
