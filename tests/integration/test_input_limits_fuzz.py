"""Issue 10, point 2: a bounded sample of ``benchmarks/fuzz_validate.py`` in the suite.

* No input of a fixed-seed sample of the fuzz corpus (seeded mutations of every shipped
  workflow) crashes the validator: no exception escapes, no ``internal`` problem, every error
  has a line, a column and a rule, and the JSON report serialises.
* Everything ``validate`` accepts compiles: each accepted input of a sample compiles to a Dagster
  job whose run config Dagster accepts and whose run can be created (execution plan and
  snapshots, on an ephemeral instance: no step runs), and whose plan ``show`` can print.
* The inputs that used to validate and then crash ``run`` with a Dagster traceback compile now,
  or are refused by the validator.

The whole corpus (10,000 inputs, each in a worker under a 10 s watchdog and a 1 GB memory
bound) is run by the script itself; its numbers are in docs/reliability.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "benchmarks"))
import fuzz_validate as fuzz  # noqa: E402

SEED = 20261207


@pytest.fixture(scope="module")
def seeds():
    found = fuzz.seed_files(REPO)
    assert len(found) >= 9, found  # definitions/ and the workflow templates, at least
    return found


def _sample(seeds, count: int, start: int = 0) -> list:
    return [fuzz.make_case(i, seeds, SEED) for i in range(start, start + count)]


def test_corpus_covers_every_mutation_and_seed(seeds):
    cases = _sample(seeds, len(seeds) * len(fuzz.MUTATIONS))
    assert {c.mutation for c in cases} == set(fuzz.MUTATIONS)
    assert {c.seed_file for c in cases} == {name for name, _ in seeds}
    assert len({c.data for c in cases}) > len(cases) * 0.9  # mutations differ
    again = _sample(seeds, 20)
    assert [c.data for c in again] == [c.data for c in cases[:20]]  # seeded: reproducible


def test_fuzz_sample_never_crashes_the_validator(seeds, tmp_path):
    summary = fuzz.run_cases(_sample(seeds, 400), lambda case: fuzz.check_input(case, tmp_path))
    failures = [f"#{case.index} {case.mutation} of {case.seed_file}: {outcome.detail[:2000]}"
                for case, outcome in summary.failures]
    assert not failures, "\n\n".join(failures)
    assert summary.inputs == 400
    assert summary.kinds.get("rejected", 0) > 100 and summary.kinds.get("accepted", 0) > 20, summary.kinds


@pytest.fixture
def fuzz_home(tmp_path, monkeypatch):
    home = tmp_path / "home"
    home.mkdir()
    (home / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    folder = tmp_path / "definitions"
    folder.mkdir()
    return folder


def test_everything_validate_accepts_compiles(seeds, fuzz_home):
    summary = fuzz.run_cases(_sample(seeds, 160, start=400),
                             lambda case: fuzz.check_input(case, fuzz_home, compile_check=True))
    failures = [f"#{case.index} {case.mutation} of {case.seed_file}: {outcome.detail[:3000]}"
                for case, outcome in summary.failures]
    assert not failures, "\n\n".join(failures)
    assert summary.kinds.get("compiled", 0) >= 20, summary.kinds


#: Inputs that validated and then crashed ``run`` with a Dagster traceback (issue 10): each must
#: now either be refused by the validator or compile and pass Dagster's run config check.
ONCE_CRASHED_RUN = {
    "empty_tool": ('name: E\nsteps:\n  - {id: a, tool: "", parameters: {command: x}}\n', "refused"),
    "integer_default_float": ("name: F\nparameters:\n  n: {type: integer, default: 3.0}\n"
                              "steps:\n  - {id: a, tool: shell, parameters: {command: 'echo {{ n }}'}}\n", "compiled"),
    "hex_priority": ("name: H\npriority: 0x%s\nsteps:\n  - {id: a, tool: shell, parameters: {command: x}}\n" % ("f" * 3700),
                     "refused"),
    "float_concurrency_limit": ("name: C\nconcurrency: {limit: 1.0e+308}\n"
                                "steps:\n  - {id: a, tool: shell, parameters: {command: x}}\n", "refused"),
    "whole_float_limit": ("name: C2\nconcurrency: {limit: 2.0}\nexecutor: {max_parallel: 4.0}\n"
                          "steps:\n  - {id: a, tool: shell, retry: {max_attempts: 3.0}, parameters: {command: x}}\n",
                          "compiled"),
    "nan_maximum": ("name: N\nparameters:\n  x: {type: number, default: 1, maximum: .nan}\n"
                    "steps:\n  - {id: a, tool: shell, parameters: {command: x}}\n", "refused"),
    "whole_float_integer_bounds": ("name: B\nparameters:\n  n: {type: integer, default: 2.0, minimum: 1.0, maximum: 5.0}\n"
                                   "steps:\n  - {id: a, tool: shell, parameters: {command: x}}\n", "compiled"),
    "deepest_accepted": ("name: D\nparameters:\n  x: {type: array, default: %s}\n"
                         "steps:\n  - id: a\n    tool: shell\n    when: \"{{ %s }}\"\n    parameters: {command: x}\n"
                         % ("[" * 60 + "]" * 60, "(" * 30 + "x != []" + ")" * 30), "compiled"),
    "null_in_array_default": ("name: A\nparameters:\n  xs: [1, a, null]\n"  # found by the fuzzer (--compile)
                              "steps:\n  - {id: a, tool: shell, parameters: {command: 'echo {{ xs }}'}}\n", "compiled"),
    "longest_accepted_duration": ("name: L\ntimeout: 365d\nsteps:\n  - {id: a, tool: shell, timeout: 31536000, "
                                  "retry: {max_attempts: 100, delay: 365d}, parameters: {command: x}}\n", "compiled"),
}


@pytest.mark.parametrize("name", sorted(ONCE_CRASHED_RUN))
def test_inputs_that_crashed_run_are_refused_or_compile(name, fuzz_home):
    text, expected = ONCE_CRASHED_RUN[name]
    case = fuzz.Case(0, "test", name, text.encode())
    outcome = fuzz.check_input(case, fuzz_home, compile_check=True)
    assert outcome.kind == {"refused": "rejected", "compiled": "compiled"}[expected], (outcome.kind, outcome.detail)


def test_integer_default_written_as_float_is_an_int_in_run_config(fuzz_home):
    import dagster as dg

    from yaml2dag.compiler.job import compile_workflow
    from yaml2dag.format.validation import validate_text

    report = validate_text(ONCE_CRASHED_RUN["integer_default_float"][0])
    job = compile_workflow(report.validated())
    result = dg.validate_run_config(job, {})
    assert result["resources"]["yaml2dag"]["config"]["parameters"] == {"n": 3}
    assert type(result["resources"]["yaml2dag"]["config"]["parameters"]["n"]) is int


def test_failure_outcomes_are_reported(tmp_path):
    """The harness itself: a crash is seen as one (so 0 crashes means something)."""
    case = fuzz.Case(0, "test", "bytes", b"name: X\nsteps: []\n")
    original = fuzz._check

    def broken(path: Path, folder: Path, compile_check: bool):
        raise RecursionError("maximum recursion depth exceeded")

    fuzz._check = broken
    try:
        outcome = fuzz.check_input(case, tmp_path)
    finally:
        fuzz._check = original
    assert outcome.kind == "crash" and "RecursionError" in outcome.detail
