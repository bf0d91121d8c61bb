"""Issue 11: ``yaml2dag validate --format sarif`` writes SARIF 2.1.0 for GitHub code scanning.

The log is checked against the official SARIF 2.1.0 JSON Schema (OASIS, errata 01; vendored in
``tests/data/sarif-schema-2.1.0.json``, provenance in ``tests/data/README.md``) with jsonschema,
and for what GitHub code scanning needs to show a problem inline: one run, the rules of the closed
set in ``tool.driver.rules``, each result's rule, level, message and a physical location with a
relative artifact URI and a region with start line, start column and end column.
"""

from __future__ import annotations

import json
import re
import shutil

import jsonschema
import pytest
from click.testing import CliRunner

from conftest import REPO
from yaml2dag.format.errors import Problem
from yaml2dag.format.problem_rules import RULES
from yaml2dag.format.sarif import SRCROOT, sarif_log
from yaml2dag.format.validation import validate_paths

SCHEMA = json.loads((REPO / "tests" / "data" / "sarif-schema-2.1.0.json").read_text(encoding="utf-8"))
CORPUS = REPO / "tests" / "data" / "bad_workflows"


def check_schema(log: dict) -> None:
    jsonschema.Draft4Validator.check_schema(SCHEMA)
    errors = sorted(jsonschema.Draft4Validator(SCHEMA).iter_errors(log), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors[:10])


@pytest.fixture
def corpus_copy(tmp_path, monkeypatch):
    """The bad corpus under a repository-like folder, validated from its root."""
    root = tmp_path / "repo"
    shutil.copytree(CORPUS, root / "workflows")
    monkeypatch.chdir(root)
    return root


def test_the_vendored_schema_is_the_official_one():
    assert SCHEMA["id"].startswith("https://docs.oasis-open.org/sarif/sarif/v2.1.0/")
    assert SCHEMA["properties"]["version"]["enum"] == ["2.1.0"]
    assert {"result", "region", "physicalLocation", "reportingDescriptor"} <= set(SCHEMA["definitions"])
    log = sarif_log([Problem("wf.yaml", 2, 3, "", "m", "schema", end_column=5)])
    check_schema(log)
    region = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["region"]
    region["startLine"] = 0  # SARIF lines start at 1: the schema check catches a wrong log
    with pytest.raises(AssertionError, match="startLine"):
        check_schema(log)


def test_a_log_of_the_bad_corpus_is_valid_sarif_with_one_result_per_problem(corpus_copy):
    report = validate_paths(["workflows"])
    problems = report.problems
    assert len(problems) > 30
    log = sarif_log(problems)
    check_schema(log)
    assert log["version"] == "2.1.0" and len(log["runs"]) == 1
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "yaml2dag"
    assert [r["id"] for r in rules] == list(RULES)
    assert all(r["shortDescription"]["text"] == RULES[r["id"]] for r in rules)
    assert run["originalUriBaseIds"][SRCROOT]["uri"] == corpus_copy.as_uri() + "/"
    results = run["results"]
    assert len(results) == len(problems)
    for problem, result in zip(problems, results):
        assert result["ruleId"] == problem.rule and rules[result["ruleIndex"]]["id"] == problem.rule
        assert result["level"] == problem.severity
        assert result["message"]["text"].endswith(problem.message)
        (location,) = result["locations"]
        artifact = location["physicalLocation"]["artifactLocation"]
        assert artifact == {"uri": problem.file, "uriBaseId": SRCROOT}  # relative, `/`-separated
        assert not artifact["uri"].startswith(("/", "file:"))
        region = location["physicalLocation"]["region"]
        assert region["startLine"] == problem.line and region["startColumn"] == problem.column
        assert region["endColumn"] > region["startColumn"]
        if problem.end_column:
            assert region["endColumn"] == problem.end_column
    levels = {r["level"] for r in results}
    assert levels == {"error", "warning"}  # the corpus has `credential` and `raw` warnings


def test_a_result_carries_the_keyword_expected_and_actual_values(corpus_copy):
    log = sarif_log(validate_paths(["workflows/schema.yaml"]).problems)
    check_schema(log)
    enum = next(r for r in log["runs"][0]["results"] if r["properties"].get("path") == "steps[0].on_error")
    assert enum["properties"]["keyword"] == "enum"
    assert enum["properties"]["actual"] == "stop"
    assert "abort" in enum["properties"]["expected"]
    assert enum["message"]["text"].startswith("steps[0].on_error: ")


def test_positions_that_are_unknown_or_outside_the_folder_still_make_valid_sarif(tmp_path):
    inside = tmp_path / "base"
    inside.mkdir()
    problems = [
        Problem(str(tmp_path / "elsewhere" / "a b.yaml"), 0, 0, "", "cannot read file", "syntax"),
        Problem(str(inside / "sub" / "wf ü.yaml"), 3, 5, "steps", "m", "compile", end_column=9),
        Problem("<string>", 2, 1, "", "m", "not-a-rule"),
    ]
    log = sarif_log(problems, base=inside, version="9.9")
    check_schema(log)
    first, second, third = log["runs"][0]["results"]
    outside = first["locations"][0]["physicalLocation"]
    assert outside["artifactLocation"] == {"uri": (tmp_path / "elsewhere" / "a b.yaml").as_uri()}
    assert outside["region"] == {"startLine": 1, "startColumn": 1, "endColumn": 2}
    located = second["locations"][0]["physicalLocation"]
    assert located["artifactLocation"] == {"uri": "sub/wf%20%C3%BC.yaml", "uriBaseId": SRCROOT}
    assert located["region"] == {"startLine": 3, "startColumn": 5, "endColumn": 9}
    assert "ruleIndex" not in third and third["ruleId"] == "not-a-rule"
    assert log["runs"][0]["tool"]["driver"]["version"] == "9.9"


def test_validate_format_sarif_prints_the_log_and_exits_1_on_errors(corpus_copy):
    from yaml2dag.cli import main

    result = CliRunner().invoke(main, ["validate", "--format", "sarif", "workflows/schema.yaml"])
    assert result.exit_code == 1, result.output
    log = json.loads(result.output)
    check_schema(log)
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in log["runs"][0]["results"]}
    assert uris == {"workflows/schema.yaml"}
    (corpus_copy / "ok.yaml").write_text("name: ok\nsteps:\n  - id: a\n    tool: shell\n"
                                         "    parameters: {command: echo 1}\n")
    clean = CliRunner().invoke(main, ["validate", "--format", "sarif", "ok.yaml"])
    assert clean.exit_code == 0, clean.output
    log = json.loads(clean.output)
    check_schema(log)
    assert log["runs"][0]["results"] == [] and len(log["runs"][0]["tool"]["driver"]["rules"]) == len(RULES)


def test_the_fuzz_sample_makes_valid_sarif(tmp_path, monkeypatch):
    """Mutated workflows (the validate fuzzer's seeded sample) give odd positions and values:
    the log of all their problems is still valid SARIF, every region inside its line."""
    import sys

    sys.path.insert(0, str(REPO / "benchmarks"))
    import fuzz_validate as fuzz

    monkeypatch.chdir(tmp_path)
    seeds = fuzz.seed_files(REPO)
    problems, texts = [], {}
    for i in range(40):
        case = fuzz.make_case(i, seeds, 20261207)
        (tmp_path / case.name).write_bytes(case.data)
        texts[case.name] = re.split("\r\n|[\r\n\x85\u2028\u2029]", case.data.decode("utf-8", errors="replace"))
        problems += validate_paths([case.name]).problems
    assert len(problems) > 40
    log = sarif_log(problems)
    check_schema(log)
    for problem, result in zip(problems, log["runs"][0]["results"]):
        region = result["locations"][0]["physicalLocation"]["region"]
        lines = texts[problem.file]
        if problem.end_column and problem.line <= len(lines):
            assert region["endColumn"] <= len(lines[problem.line - 1]) + 1, (problem, lines[problem.line - 1][:200])
