"""simple_analysis gives exactly what Jinja's analysis gives, or nothing (issue 13: validation time)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from yaml2dag.format.expressions import _source_for, analyze, is_template, iter_strings, static_problems_of
from yaml2dag.format.simple_templates import simple_analysis

ROOT = Path(__file__).resolve().parents[2]

TRICKY = [
    "{{ a }}", "{{a}}", "{{ a.b.c.d }}", "{{ steps.build.output }}", "{{ a | trim }}", "{{ a|trim|int }}",
    "{{ a | raw }}", "echo {{ a }} {{ b.output }}\n{{ c.exit_code }}", "x }} {{ a }} }}", "{{ a }}}",
    "{{{ a }}}", "{{ a.if }}", "{{ true }}", "{{ none }}", "{{ env.HOME }}", "{{ env }}", "{{- a }}",
    "{{ a -}}", "{{ a\n}}", "{{ a }}\r\n{{ b }}", "{{ a.1 }}", "{{ a['b'] }}", "{{ a() }}",
    "{{ a | default('x') }}", "{% if a %}{{ b }}{% endif %}", "{# c #}{{ a }}", "{{ a + 1 }}",
    "{{ a }} {{ b", "loud", "s1.succeeded", "s1.succeeded and x", "3", "not a", "a | not",
    "{{ loop.index }}", "{{ item.name }}", "{{ a.b }}{{ a.b }}", "{{ b }} {{ a }}",
    "{{ x" + ".a" * 40 + " }}", "{{ x" + " | trim" * 40 + " }}", "{{ a.b.c.d.e.f.g | h }}",
]


def _corpus() -> list[str]:
    texts = list(TRICKY)
    for folder in ("definitions", "yaml2dag/library/workflow_templates", "tests/data", "examples"):
        for file in sorted((ROOT / folder).rglob("*.yaml")):
            try:
                data = yaml.safe_load(file.read_text())
            except Exception:  # noqa: BLE001 - broken test data is fine: it has no templates to compare
                continue
            texts += [text for _path, text in iter_strings(data) if is_template(text) or len(text) < 80]
    return texts


def _jinja(value: str, bare: bool):
    try:
        return analyze(value, bare)
    except Exception as exc:  # noqa: BLE001 - compared by type
        return type(exc)


@pytest.mark.parametrize("bare", [False, True])
def test_simple_analysis_equals_jinja(bare):
    simple = 0
    for text in _corpus():
        found = simple_analysis(text, bare)
        if found is None:
            continue
        simple += 1
        assert found == _jinja(text, bare), text
        assert static_problems_of(_source_for(text, bare)) == (), text
    assert simple > 100  # the corpus exercises the fast path


@pytest.mark.parametrize("text", ["{{ env }}", "{{- a }}", "{{ a\n}}", "{% if a %}{{ b }}{% endif %}", "{{ a() }}",
                                  "{{ true }}", "{{ a }} {{ b", "{{ a }}\r\n{{ b }}", "{{{ a }}}",
                                  "x" + ".a" * 128])
def test_anything_else_goes_to_jinja(text):
    assert simple_analysis(text, bare=True) is None


def _shell_strings() -> list[str]:
    import ast

    texts = _corpus()
    for name in ("test_shell_arithmetic.py", "test_validator.py"):
        tree = ast.parse((ROOT / "tests" / "unit" / name).read_text())
        texts += [node.value for node in ast.walk(tree) if isinstance(node, ast.Constant) and isinstance(node.value, str)]
    return texts


def test_no_arithmetic_shortcut_agrees_with_the_bash_parser():
    from yaml2dag.format.expressions import shell_analysis
    from yaml2dag.format.shell_contexts import ARITH
    from yaml2dag.format.validation_tools import may_evaluate_arithmetic

    skipped = checked = 0
    for text in _shell_strings():
        try:
            contexts, arith_names = shell_analysis(text)
        except Exception:  # noqa: BLE001 - not a command template (a syntax error): the validator reports it
            continue
        checked += 1
        if not may_evaluate_arithmetic(text):
            skipped += 1
            assert not arith_names and all(c.kind != ARITH for _label, c, _line in contexts), text
    assert checked > 500 and skipped > 100
    assert may_evaluate_arithmetic("echo $(( {{ n }} + 1 ))") and may_evaluate_arithmetic("let x={{ n }}")
    assert may_evaluate_arithmetic("declare -i n; n={{ x }}") and may_evaluate_arithmetic("[[ {{ n }} -gt 2 ]]")
