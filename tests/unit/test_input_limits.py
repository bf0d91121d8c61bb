"""Issue 10, point 2: no input crashes validation, and a crash never spreads.

Each input that used to make ``yaml2dag validate`` print a Python traceback (and, with the file
in the definitions folder, made ``list``, ``validate``, ``show`` and ``run`` of every other
workflow crash) now gives a problem with line, column and rule, exit 1 and valid JSON; the
limits of :mod:`yaml2dag.format.limits` hold at their boundaries; an exception that still escapes a
check is confined to its file (rule ``internal``); the numbers that compiled into crashing runs
are refused or handled consistently. The same inputs through the real ``yaml2dag`` CLI (from a
working folder with the defaults a user has) are tested in tests/integration/test_poison_file.py.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pytest

from conftest import run_process, write
from yaml2dag.format import limits
from yaml2dag.format.errors import ParameterError
from yaml2dag.format.model import Parameter
from yaml2dag.format.parameters import check_value, coerce, parse_assignments
from yaml2dag.format.validation import validate_paths, validate_text

LINE = re.compile(r"^(?P<file>[^:]+):(?P<line>\d+):(?P<column>\d+): (?P<warning>warning: )?"
                  r"(?:(?P<path>[^ ]+): )?(?P<message>.+) \[(?P<rule>[a-z-]+)\]$")

GOOD = """
name: Good Flow
steps:
  - id: hello
    tool: shell
    parameters: {command: "echo hello"}
"""

#: The inputs of issue 10 that crashed the validator: name -> (text, expected rule, line).
POISON = {
    "parentheses": ("""
name: Parentheses
steps:
  - id: a
    tool: shell
    when: "{{ %s }}"
    parameters: {command: "echo a"}
""" % ("(" * 90 + "true" + ")" * 90), "limit", 5),
    "timeout_zeros": ("""
name: Timeout Zeros
steps:
  - id: a
    tool: shell
    timeout: 1%s
    parameters: {command: "echo a"}
""" % ("0" * 400), "limit", 5),
    "integer_4301_digits": ("""
name: Long Integer
priority: %s
steps:
  - id: a
    tool: shell
    parameters: {command: "echo a"}
""" % ("7" * 4301), "limit", 2),
    "pattern_500_groups": ("""
name: Nested Pattern
parameters:
  x:
    type: string
    default: a
    pattern: "%s"
steps:
  - id: a
    tool: shell
    parameters: {command: "echo a"}
""" % ("(" * 500 + "a" + ")" * 500), "limit", 6),
    "default_500_lists": ("""
name: Deep Default
parameters:
  x:
    type: array
    default: %s
steps:
  - id: a
    tool: shell
    parameters: {command: "echo a"}
""" % ("[" * 500 + "]" * 500), "limit", 5),
    "recursive_alias": ("""
name: Recursive Alias
steps: &s [ {id: a, tool: python, parameters: {args: [*s]}} ]
""", "limit", 2),
}


def _errors(text: str, name: str = "poison.yaml"):
    report = validate_text(text.lstrip("\n"), name)
    return report, [p for p in report.problems if p.severity == "error"]


@pytest.mark.parametrize("case", sorted(POISON))
def test_listed_input_gives_a_located_problem(case):
    text, rule, line = POISON[case]
    report, errors = _errors(text)
    assert not report.valid
    assert errors, report.problems
    assert all(p.line >= 1 and p.column >= 1 and p.rule for p in errors), errors
    assert "internal" not in {p.rule for p in errors}, errors
    assert any(p.rule == rule and p.line == line for p in errors), [p.format() for p in errors]


# --------------------------------------------------------------------------- the limits at their boundary


def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def _with_default(default: str) -> str:
    return f"name: D\nparameters:\n  x:\n    type: array\n    default: {default}\nsteps:\n  - id: a\n    tool: shell\n" \
           "    parameters: {command: echo}\n"


def test_nesting_depth_boundary():
    # parameters.x.default is at depth 3: n brackets put the innermost list at depth n + 2
    assert validate_text(_with_default(_nested(limits.MAX_DEPTH - 2))).valid
    report = validate_text(_with_default(_nested(limits.MAX_DEPTH - 1)))
    assert [p.rule for p in report.errors] == ["limit"], report.problems
    assert report.errors[0].line == 5


def test_documented_limits():
    # the user guide (section "Limits", en + zh) and docs/reliability.md state these numbers
    assert limits.MAX_FILE_BYTES == 16 * 1_048_576
    assert limits.MAX_STEPS == 100_000


def test_file_size_limit_refuses_before_parsing(tmp_path):
    path = tmp_path / "big.yaml"
    step = "  - id: s{i}\n    tool: shell\n    parameters: {{command: 'echo {i}'}}\n"
    count = limits.MAX_FILE_BYTES // len(step.format(i=0)) + 1
    path.write_text("name: Big\nsteps:\n" + "".join(step.format(i=i) for i in range(count)))
    assert path.stat().st_size > limits.MAX_FILE_BYTES
    report = validate_paths([str(path)]).files[0]
    assert report.document.data is None  # never parsed
    assert [(p.rule, p.line, p.column) for p in report.errors] == [("limit", 1, 1)]
    assert f"{path.stat().st_size:,} bytes" in report.errors[0].message
    assert validate_text(path.read_text()).errors[0].rule == "limit"  # text given directly, too


def test_step_count_boundary(monkeypatch):
    # the boundary logic at a smaller limit (validating 100,000 steps takes seconds); the limit is
    # read at each check, so tests may lower it
    monkeypatch.setattr(limits, "MAX_STEPS", 1000)

    def steps(n: int) -> str:
        return "name: S\nsteps:\n" + "".join(f"  - {{id: s{i}, tool: shell, parameters: {{command: x}}}}\n"
                                            for i in range(n))
    assert validate_text(steps(limits.MAX_STEPS)).valid
    report = validate_text(steps(limits.MAX_STEPS + 1))
    assert [(p.rule, p.line, p.path) for p in report.errors] == [("limit", 2, "steps")], report.problems
    nested = "name: S\nsteps:\n  - parallel:\n" + "".join(
        f"      - {{id: s{i}, tool: shell, parameters: {{command: x}}}}\n" for i in range(limits.MAX_STEPS))
    assert validate_text(nested).errors[0].rule == "limit"  # the group counts too


@pytest.mark.parametrize("text,ok", [
    (str(2**63 - 1), True), (str(-(2**63)), True), (str(2**63), False), (str(-(2**63) - 1), False),
    ("0x" + "f" * 16, False), ("0x7fffffffffffffff", True), ("1" + "0" * 400, False), ("9" * 5000, False),
])
def test_integer_range(text, ok):
    report = validate_text(f"name: I\npriority: {text}\nsteps:\n  - {{id: a, tool: shell, parameters: {{command: x}}}}\n")
    assert report.valid is ok, report.problems
    if not ok:
        assert [(p.rule, p.line, p.column) for p in report.errors] == [("limit", 2, 11)], report.problems


def _when(expr: str) -> str:
    return f"name: W\nsteps:\n  - id: a\n    tool: shell\n    when: \"{expr}\"\n    parameters: {{command: x}}\n"


@pytest.mark.parametrize("build", [
    lambda n: "(" * n + "true" + ")" * n,
    lambda n: " + ".join(["1"] * (n + 1)) + " > 0",
    lambda n: "not " * n + "false",
    lambda n: "[" * n + "1" + "]" * n,
    lambda n: "x" + ".a" * n,
])
def test_expression_depth_boundary(build):
    deep = limits.MAX_EXPRESSION_DEPTH
    inside = validate_text(_when(build(deep - 2)))
    assert "limit" not in {p.rule for p in inside.errors}, inside.problems
    over = validate_text(_when(build(deep * 4)))
    assert any(p.rule == "limit" and p.line == 5 for p in over.errors), over.problems
    assert "internal" not in {p.rule for p in over.problems}


def test_expression_thousands_deep_is_a_problem_not_a_crash():
    for expr in ("(" * 3000 + "x" + ")" * 3000, "not " * 5000 + "x", "- " * 5000 + "1", " + ".join(["1"] * 5000)):
        report = validate_text(_when(expr))
        assert [p.rule for p in report.errors] == ["limit"], report.problems


def test_block_nesting_is_limited():
    deep = "{% if x %}" * 40 + "y" + "{% endif %}" * 40
    report = validate_text("name: B\nparameters: {x: true}\nsteps:\n  - id: a\n    tool: shell\n"
                           f"    parameters: {{command: \"echo '{deep}'\"}}\n")
    assert "limit" in {p.rule for p in report.errors}, report.problems


@pytest.mark.parametrize("pattern,rule", [
    ("^[A-Za-z0-9._/-]*$", None),
    (r"^(\d{1,3}\.){3}\d{1,3}$", None),  # bounded in bounded
    ("(a+)+$", "limit"),
    (r"^(\w+\s?)*$", "limit"),
    ("(a{1,9})*", "limit"),
    ("(" * 21 + "a" + ")" * 21, "limit"),
    ("(" * 20 + "a" + ")" * 20, None),
    ("a" * 1001, "limit"),
    ("[", "parameter"),
])
def test_parameter_pattern_limits(pattern, rule):
    text = ("name: P\nparameters:\n  x:\n    type: string\n    default: a\n    pattern: " + json.dumps(pattern)
            + "\nsteps:\n  - {id: a, tool: shell, parameters: {command: x}}\n")
    report = validate_text(text)
    pattern_errors = [p for p in report.errors if p.path == "parameters.x.pattern"]
    if rule is None:
        assert not pattern_errors, report.problems
    else:
        assert [(p.rule, p.line) for p in pattern_errors] == [(rule, 6)], report.problems
        with pytest.raises(ParameterError, match="its pattern cannot be used|not a valid regex"):
            check_value(Parameter("x", "string", pattern=pattern), "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!")


def test_recursive_merge_key_is_a_problem():
    report = validate_text("name: M\nsteps: []\nlabels: &a {x: {<<: *a}}\n")
    assert [(p.rule, p.line) for p in report.errors] == [("limit", 3)], report.problems


def test_durations_and_attempts_are_bounded():
    def step(extra: str) -> str:
        return f"name: T\nsteps:\n  - id: a\n    tool: shell\n    {extra}\n    parameters: {{command: x}}\n"
    assert validate_text(step("timeout: 365d")).valid
    for extra in ("timeout: 366d", "timeout: 31622400", f'timeout: "{"9" * 400}s"', "timeout: 1.0e+300",
                  "retry: {max_attempts: 101}", "retry: {delay: 400d}"):
        report = validate_text(step(extra))
        assert [(p.rule, p.line) for p in report.errors] == [("limit", 5)], (extra, report.problems)
    assert validate_text(step("retry: {max_attempts: 100}")).valid


# --------------------------------------------------------------------------- numbers: refused or handled consistently


def _conc(limit: str) -> str:
    return f"name: C\nconcurrency: {{limit: {limit}}}\nsteps:\n  - {{id: a, tool: shell, parameters: {{command: x}}}}\n"


def test_float_concurrency_limit_handled_like_the_integer():
    assert validate_text(_conc("2")).workflow.concurrency.limit == 2
    two = validate_text(_conc("2.0"))
    assert two.valid and two.workflow.concurrency.limit == 2 and type(two.workflow.concurrency.limit) is int
    for limit in ("21", "21.0", "1.0e+308"):
        report = validate_text(_conc(limit))
        assert "concurrency" in {p.rule for p in report.errors}, (limit, report.problems)
        assert all(p.line == 2 for p in report.errors), report.problems


def test_whole_float_priority_outside_64_bits_is_refused():
    report = validate_text("name: P\npriority: 1.0e+300\nsteps:\n  - {id: a, tool: shell, parameters: {command: x}}\n")
    assert [(p.rule, p.line) for p in report.errors] == [("limit", 2)], report.problems


def test_integer_parameter_default_written_as_float():
    report = validate_text("name: F\nparameters:\n  n: {type: integer, default: 3.0}\n"
                           "steps:\n  - {id: a, tool: shell, parameters: {command: x}}\n")
    assert report.valid, report.problems
    default = report.workflow.parameter("n").default
    assert default == 3 and type(default) is int


@pytest.mark.parametrize("literal", [".nan", ".NaN", ".inf", "-.inf", "1.0e+999"])
@pytest.mark.parametrize("key", ["maximum", "minimum", "default"])
def test_nan_and_infinity_are_refused(literal, key):
    report = validate_text(f"name: N\nparameters:\n  x:\n    type: number\n    {key}: {literal}\n"
                           "    default: 1\nsteps:\n  - {id: a, tool: shell, parameters: {command: x}}\n"
                           if key != "default" else
                           f"name: N\nparameters:\n  x:\n    type: number\n    default: {literal}\n"
                           "steps:\n  - {id: a, tool: shell, parameters: {command: x}}\n")
    assert [(p.rule, p.line) for p in report.errors] == [("number", 5)], report.problems


def test_json_workflow_numbers_and_nesting(tmp_path):
    # a leading tab, which YAML does not allow: these are read by the JSON fallback of the loader
    steps = '[{"id": "a", "tool": "shell", "parameters": {"command": "x"}}]'
    (tmp_path / "nan.json").write_text('\t{"name": "J", "steps": %s, "priority": NaN}' % steps)
    (tmp_path / "inf.json").write_text('\t{"name": "J1", "steps": %s, "priority": -Infinity}' % steps)
    (tmp_path / "big.json").write_text('\t{"name": "J2", "steps": %s, "priority": %s}' % (steps, "9" * 5000))
    (tmp_path / "deep.json").write_text('{"name": "J3", "steps": %s, "labels": %s}' % (steps, "[" * 5000 + "]" * 5000))
    (tmp_path / "tab.json").write_text('\t{"name": "J4", "steps": %s, "labels": %s}' % (steps, "[" * 100 + "]" * 100))
    expected = {"nan.json": "number", "inf.json": "number", "big.json": "limit", "deep.json": "limit",
                "tab.json": "limit"}
    report = validate_paths([str(tmp_path)])
    for file in report.files:
        assert [p.rule for p in file.errors] == [expected[Path(file.file).name]], file.problems


def test_empty_tool_is_refused():
    report = validate_text('name: E\nsteps:\n  - {id: a, tool: "", parameters: {command: x}}\n')
    assert [(p.rule, p.path) for p in report.errors] == [("tool", "steps[0].tool")], report.problems


@pytest.mark.parametrize("raw", ["inf", "-inf", "nan", "1e400", "Infinity"])
def test_non_finite_number_parameter_values_are_refused(raw):
    param = Parameter("x", "number")
    with pytest.raises(ParameterError, match="parameter `x`"):
        check_value(param, coerce(param, raw))


def test_integer_parameter_values_are_64_bit():
    param = Parameter("n", "integer")
    assert check_value(param, 2**63 - 1) == 2**63 - 1
    with pytest.raises(ParameterError, match="64-bit"):
        check_value(param, 2**63)
    with pytest.raises(ParameterError, match="64-bit"):
        check_value(param, 1e300)


def test_same_parameter_twice_is_refused():
    with pytest.raises(ParameterError, match="`req`: given twice"):
        parse_assignments(["req=r", "req=s"])
    assert parse_assignments(["a=1", "b=x=y"]) == {"a": "1", "b": "x=y"}


# --------------------------------------------------------------------------- a crash stays in its file


def test_exception_in_a_check_is_confined_to_its_file(tmp_path, monkeypatch):
    from yaml2dag.format import validation

    write(tmp_path, "poison.yaml", "name: Poison Flow\nsteps:\n  - {id: a, tool: shell, parameters: {command: x}}\n")
    write(tmp_path, "good.yaml", GOOD)
    original = validation._Checker.check_steps

    def explode(self, wf):
        if wf.name == "Poison Flow":
            raise RecursionError("maximum recursion depth exceeded")
        return original(self, wf)

    monkeypatch.setattr(validation._Checker, "check_steps", explode)
    report = validate_paths([str(tmp_path)])
    by_name = {Path(f.file).name: f for f in report.files}
    assert by_name["good.yaml"].valid
    poison = by_name["poison.yaml"]
    assert [(p.rule, p.line, p.column) for p in poison.errors] == [("internal", 1, 1)]
    assert "poison.yaml" in poison.errors[0].file and "RecursionError" in poison.errors[0].message
    json.dumps(report.to_json())


def test_exception_in_a_folder_check_is_confined_to_its_file(tmp_path, monkeypatch):
    from yaml2dag.format import validation

    write(tmp_path, "poison.yaml", "name: Poison Flow\nsteps:\n  - {id: a, tool: shell, parameters: {command: x}}\n")
    write(tmp_path, "good.yaml", GOOD)
    write(tmp_path, "good2.yaml", GOOD.replace("Good Flow", "good flow"))  # a duplicate name, still found
    original = validation.trigger_name_problems

    def explode(reports):
        if any(r.workflow is not None and r.workflow.name == "Poison Flow" for r in reports):
            raise KeyError("boom")
        return original(reports)

    monkeypatch.setattr(validation, "trigger_name_problems", explode)
    report = validate_paths([str(tmp_path)])
    by_name = {Path(f.file).name: f for f in report.files}
    assert [p.rule for p in by_name["poison.yaml"].errors] == ["internal"]
    assert by_name["good.yaml"].valid
    assert [p.rule for p in by_name["good2.yaml"].errors] == ["duplicate"]


def test_validate_never_imports_dagster(tmp_path):
    write(tmp_path, "poison.yaml", POISON["parentheses"][0])
    code = ("import sys\nfrom yaml2dag.format.validation import validate_paths\n"
            f"r = validate_paths([{str(tmp_path)!r}])\n"
            "assert not r.valid\n"
            "print(sum(1 for m in sys.modules if m == 'dagster' or m.startswith('dagster.')))\n")
    done = run_process([sys.executable, "-c", code])
    assert done.code == 0, done
    assert done.stdout.strip() == "0"


def test_large_file_of_too_many_steps_refused_before_parsing(monkeypatch):
    # a file over PRESCAN_BYTES has its entries counted from the YAML events, stopping at MAX_STEPS + 1
    monkeypatch.setattr(limits, "PRESCAN_BYTES", 100)
    monkeypatch.setattr(limits, "MAX_STEPS", 50)
    text = "name: S\nsteps:\n" + "".join(f"  - {{id: s{i}, tool: shell, parameters: {{command: x}}}}\n" for i in range(51))
    report = validate_text(text)
    assert report.document.data is None  # never built
    assert [(p.rule, p.line, p.column, p.path) for p in report.errors] == [("limit", 2, 1, "steps")]
    assert "more than 50 steps" in report.errors[0].message
    assert validate_text(text.replace("  - {id: s50, tool: shell, parameters: {command: x}}\n", "")).valid


def test_step_prescan_counts_like_the_validator():
    # nested lists (parallel, then/else, cases, default) and on_failure count, as in step_count_problem
    from pathlib import Path

    from yaml2dag.format.validation_limits import LimitChecks

    root = Path(__file__).resolve().parents[2]
    files = sorted((root / "definitions").glob("*.yaml")) + sorted((root / "yaml2dag/library/workflow_templates").rglob("*.yaml"))
    checked = 0
    for file in files:
        text = file.read_text()
        report = validate_text(text)
        if report.document.data is None:
            continue
        counted = []
        fake = type("Fake", (LimitChecks,), {})()
        fake.doc = type("D", (), {"problem": lambda self, *a, **k: counted.append(a)})()
        limits_most = limits.MAX_STEPS
        try:
            limits.MAX_STEPS = 0
            fake.step_count_problem(report.document.data)
        finally:
            limits.MAX_STEPS = limits_most
        total = int(counted[0][1].split(" steps;")[0].split()[-1].replace(",", "")) if counted else 0
        if total:
            assert limits.too_many_steps(text, total - 1) is not None, file
            assert limits.too_many_steps(text, total) is None, file
            checked += 1
    assert checked >= 10
