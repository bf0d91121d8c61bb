"""Issue 11: every problem carries a rule from the closed set, and its keyword, expected and actual
values and end column.

* Every rule the code can give is in :data:`yaml2dag.format.problem_rules.RULES`: the rules
  written in the source (collected from its syntax tree), and the rules of every problem that a
  corpus of bad files (``tests/data/bad_workflows``) and a sample of the validate fuzzer's inputs
  produce.
* Each file of the corpus gets the rules it was written for.
* A schema problem has its JSON Schema keyword, what was expected and what was found, and every
  located problem an end column on the right token; ``--format json`` prints the new fields.
"""

from __future__ import annotations

import ast
import json
import sys

import pytest
from click.testing import CliRunner

from conftest import REPO
from yaml2dag.format.errors import Problem
from yaml2dag.format.problem_rules import RULE_NAMES, RULES
from yaml2dag.format.validation import validate_paths, validate_text

sys.path.insert(0, str(REPO / "benchmarks"))
import fuzz_validate as fuzz  # noqa: E402

CORPUS = REPO / "tests" / "data" / "bad_workflows"

#: corpus file (or folder) -> the rules its problems must include
EXPECTED = {
    "syntax.yaml": {"syntax"},
    "limit.yaml": {"limit"},
    "number.yaml": {"number"},
    "schema.yaml": {"schema"},
    "id.yaml": {"id"},
    "parameter.yaml": {"parameter"},
    "parameters_tool.yaml": {"parameters", "credential"},
    "tool.yaml": {"tool"},
    "template.yaml": {"template", "sandbox", "shell", "raw"},
    "reference.yaml": {"reference", "dependency", "cycle", "error-handling"},
    "triggers.yaml": {"concurrency", "cron", "timezone", "trigger", "subworkflow", "on_failure"},
    "folder": {"duplicate", "subworkflow"},
}

#: Rules no file can produce on purpose: a bug in yaml2dag or a tool missing from the install.
UNREACHABLE = {"compile", "internal", "unsupported"}


def _rules_in_source() -> dict[str, set[str]]:
    """rule -> files, for every string literal the code passes as a problem's rule: the third
    argument of ``.problem()``/``.add()``/``._problem()``, the sixth of ``Problem()``, a ``rule=``
    keyword, a ``(path, message, rule)`` tuple, and constants named ``*RULE*``."""
    found: dict[str, set[str]] = {}

    def note(node: ast.AST, where: str) -> None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.setdefault(node.value, set()).add(where)
        elif isinstance(node, ast.IfExp):  # `LIMIT_RULE if ... else "template"`
            note(node.body, where)
            note(node.orelse, where)

    for path in sorted((REPO / "yaml2dag").rglob("*.py")):
        if path.name == "_compiled.py":  # generated schema validator: its `rule=` is a jsonschema keyword
            continue
        where = str(path.relative_to(REPO))
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call):
                name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
                if name in ("problem", "add", "_problem") and len(node.args) >= 3:
                    note(node.args[2], where)
                if name == "Problem" and len(node.args) >= 6:
                    note(node.args[5], where)
                for kw in node.keywords:
                    if kw.arg == "rule":
                        note(kw.value, where)
            elif isinstance(node, ast.Assign):
                if any(isinstance(t, ast.Name) and "RULE" in t.id and t.id not in ("RULES", "RULE_NAMES")
                       for t in node.targets):
                    note(node.value, where)
            elif isinstance(node, ast.Return) and isinstance(node.value, ast.Tuple) and len(node.value.elts) == 2:
                first = node.value.elts[0]  # `return "parameter", message` of a (rule, message) helper
                if isinstance(first, ast.Constant) and first.value in RULE_NAMES | {"parameter"}:
                    note(first, where)
            elif isinstance(node, ast.Tuple) and len(node.elts) == 3:  # (path, message, rule) of a clash
                last = node.elts[2]
                if isinstance(last, ast.Constant) and isinstance(last.value, str) and last.value.islower() \
                        and " " not in last.value and isinstance(node.elts[1], (ast.JoinedStr, ast.Constant)):
                    if isinstance(node.elts[1], ast.JoinedStr) or " " in str(node.elts[1].value):
                        note(last, where)
    return found


def _problems_of_corpus() -> dict[str, list[Problem]]:
    out = {}
    for name in EXPECTED:
        report = validate_paths([str(CORPUS / name)])
        out[name] = report.problems
    return out


@pytest.fixture(scope="module")
def corpus():
    return _problems_of_corpus()


def test_the_rules_are_a_documented_closed_set():
    assert RULE_NAMES == frozenset(RULES)
    assert len(RULES) >= 25
    for rule, text in RULES.items():
        assert rule == rule.strip().lower() and " " not in rule, rule
        assert text.endswith(".") and len(text) > 20, (rule, text)
    with pytest.raises(TypeError):
        RULES["new"] = "added at run time"  # read-only: the set is closed


def test_every_rule_written_in_the_code_is_in_the_closed_set():
    found = _rules_in_source()
    assert len(found) >= 20, sorted(found)  # the scan does find the rules (it is not looking elsewhere)
    assert {"syntax", "schema", "template", "cycle", "limit", "internal", "compile"} <= set(found)
    unknown = {rule: sorted(files) for rule, files in found.items() if rule not in RULE_NAMES}
    assert not unknown, f"rules used in the code but missing from problem_rules.RULES: {unknown}"


def test_every_rule_of_the_bad_corpus_is_in_the_set_and_each_file_gets_its_rules(corpus):
    seen: set[str] = set()
    for name, problems in corpus.items():
        rules = {p.rule for p in problems}
        assert EXPECTED[name] <= rules, (name, sorted(rules), [p.format() for p in problems])
        assert rules <= RULE_NAMES, (name, sorted(rules - RULE_NAMES))
        seen |= rules
    assert seen | UNREACHABLE == set(RULE_NAMES), sorted(set(RULE_NAMES) - seen - UNREACHABLE)


def test_every_rule_the_fuzz_sample_produces_is_in_the_set():
    seeds = fuzz.seed_files(REPO)
    assert len(seeds) >= 9
    rules: set[str] = set()
    for name, text in seeds:
        rules |= {p.rule for p in validate_text(text, name).problems}
    for i in range(60):  # one round of every mutation and more (the fuzz test runs 400 more)
        case = fuzz.make_case(i, seeds, 20261207)
        text = case.data.decode("utf-8", errors="replace")
        rules |= {p.rule for p in validate_text(text, case.name).problems}
    assert len(rules) >= 5, sorted(rules)  # the mutations do break files in several ways
    assert rules <= RULE_NAMES, sorted(rules - RULE_NAMES)


def test_a_schema_problem_has_its_keyword_expected_and_actual_values(corpus):
    by_path = {p.path: p for p in corpus["schema.yaml"]}
    unknown = by_path["steps[0].dependson"]
    assert (unknown.keyword, unknown.actual) == ("additionalProperties", "dependson")
    assert "depends_on" in unknown.expected
    enum = by_path["steps[0].on_error"]
    assert (enum.keyword, enum.actual) == ("enum", "stop")
    assert enum.expected == ("abort", "retry", "continue", "log_and_continue", "fallback")
    minimum = by_path["steps[0].retry.max_attempts"]
    assert (minimum.keyword, minimum.expected, minimum.actual) == ("minimum", "at least 1", 0)
    typed = next(p for p in corpus["parameters_tool.yaml"] if p.path == "steps[0].parameters.command")
    assert (typed.rule, typed.keyword, typed.expected, typed.actual) == ("parameters", "type", "a string", 1)
    other = next(p for p in corpus["reference.yaml"] if p.rule == "cycle")
    assert (other.keyword, other.expected, other.actual) == ("", None, None)  # not from the schema


@pytest.mark.parametrize("text, path, token", [
    ("name: x\nsteps:\n  - id: a\n    tool: shel\n", "steps[0].tool", "shel"),
    ("name: x\nsteps:\n  - id: a\n    tool: shell\n    retry: {max_attempts: 0, jitter: true}\n",
     "steps[0].retry.max_attempts", "0"),
    ("name: x\nsteps:\n  - id: a\n    tool: shell\n    on_error: 'stop it'  # no\n", "steps[0].on_error", "'stop it'"),
    ("name: x\nsteps:\n  - id: a\n    tool: shell\n    dependson: [b]\n", "steps[0].dependson", "dependson"),
    ("name: x\nsteps:\n  - id: a\n    tool: shell\n    depends_on: [a, zz]\n", "steps[0].depends_on[1]", "zz"),
    ("name: x\nsteps:\n  - id: a\n    tool: shell\n    tool: shell\n", "steps[0].tool", "tool"),
])
def test_the_end_column_is_just_after_the_offending_token(text, path, token):
    problem = next(p for p in validate_text(text, "wf.yaml").problems if p.path == path)
    line = text.splitlines()[problem.line - 1]
    assert line[problem.column - 1:problem.end_column - 1] == token, (problem, line)


def test_json_output_has_the_new_fields(tmp_path, monkeypatch):
    from yaml2dag.cli import main

    monkeypatch.chdir(CORPUS)
    result = CliRunner().invoke(main, ["validate", "--format", "json", "schema.yaml"])
    assert result.exit_code == 1, result.output
    errors = json.loads(result.output)["errors"]
    assert errors and all({"keyword", "expected", "actual", "end_column", "rule"} <= set(e) for e in errors)
    enum = next(e for e in errors if e["path"] == "steps[0].on_error")
    assert enum["keyword"] == "enum" and enum["actual"] == "stop" and "abort" in enum["expected"]
    assert enum["end_column"] == enum["column"] + len("stop")


def test_shown_values_are_small_and_hashable():
    long = Problem("f", 1, 1, "", "m", "schema", expected=["a", "b"], actual="x" * 1000)
    assert long.expected == ("a", "b") and hash(long)
    assert len(long.actual) == 200 and long.actual.endswith("...")
    assert Problem("f", 1, 1, "", "m", actual={"k": [1]}).actual == "a mapping"
    assert Problem("f", 1, 1, "", "m", actual=float("nan")).to_dict()["actual"] == "nan"  # JSON has no NaN


def test_number_and_integer_limit_problems_carry_the_text_found(corpus):
    (too_big,) = [p for p in corpus["limit.yaml"] if p.path == "steps[0].timeout"]
    assert (too_big.rule, too_big.expected, too_big.actual) == ("limit", "a 64-bit integer", "99999999999999999999")
    (nan,) = [p for p in corpus["number.yaml"] if p.path == "parameters.ratio.maximum"]
    assert (nan.rule, nan.expected, nan.actual) == ("number", "a finite number", ".nan")
    assert nan.end_column == nan.column + len(".nan")
