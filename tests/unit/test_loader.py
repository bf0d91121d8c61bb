"""The loader: safe YAML/JSON with positions, duplicate keys, unquoted templates, odd input."""

from __future__ import annotations

import hashlib
import time

import pytest

from yaml2dag.format.loader import MAX_ALIAS_VALUES, format_path, iter_workflow_files, load_file, load_text

from conftest import write


def test_values_are_plain_python_values():
    doc = load_text("a: 1\nb: [x, 2.5, true, null]\nc: {d: e}\n")
    assert doc.ok and doc.problems == []
    assert doc.data == {"a": 1, "b": ["x", 2.5, True, None], "c": {"d": "e"}}


def test_dates_stay_strings():
    doc = load_text("day: 2024-01-02\nwhen: 2024-01-02T10:00:00Z\n")
    assert doc.data == {"day": "2024-01-02", "when": "2024-01-02T10:00:00Z"}


def test_positions_of_values_and_keys_are_one_based():
    doc = load_text('top:\n  inner:\n    - x: 1\n      y: "{{ z }}"\n')
    assert doc.position(("top", "inner", 0, "y")) == (4, 10)
    assert doc.position(("top", "inner", 0, "y"), key=True) == (4, 7)
    assert doc.position(("top", "inner")) == (3, 5)
    assert doc.position(("top", "inner"), key=True) == (2, 3)
    assert doc.position(("top", "inner", 0)) == (3, 7)


def test_position_falls_back_to_the_nearest_ancestor():
    doc = load_text("top:\n  inner: {a: 1}\n")
    assert doc.position(("top", "inner", "missing", 3)) == (2, 10)
    assert doc.position(("nothing",)) == (1, 1)


def test_problem_is_located_by_path():
    doc = load_text("steps:\n  - id: a\n    retry: {max_attempts: 0}\n", "f.yaml")
    problem = doc.problem(("steps", 0, "retry", "max_attempts"), "too small", "schema")
    assert (problem.file, problem.line, problem.column, problem.path) == ("f.yaml", 3, 27, "steps[0].retry.max_attempts")


@pytest.mark.parametrize("path, text", [
    ((), ""),
    (("steps",), "steps"),
    (("steps", 2, "retry", "max_attempts"), "steps[2].retry.max_attempts"),
    (("cases", "a b", 0), "cases.a b[0]"),
])
def test_format_path(path, text):
    assert format_path(path) == text


def test_duplicate_keys_are_reported_every_time_and_the_first_value_kept():
    doc = load_text("a:\n  b: 1\n  b: 2\n  b: 3\n")
    assert doc.data == {"a": {"b": 1}}
    assert [(p.line, p.column, p.path, p.rule) for p in doc.problems] == [
        (3, 3, "a.b", "syntax"), (4, 3, "a.b", "syntax")]
    assert all(p.message == "duplicate key `b` (first defined on line 2)" for p in doc.problems)
    assert not doc.ok


def test_duplicate_key_in_a_flow_mapping():
    doc = load_text("a: {x: 1, x: 2}\n")
    (problem,) = doc.problems
    assert (problem.line, problem.column, problem.path) == (1, 11, "a.x")


@pytest.mark.parametrize("text, line, col, path", [
    ("a: {{ x }}\n", 1, 4, "a"),
    ("a: [{{ x }}]\n", 1, 5, "a[0]"),
    ("a:\n  b: {{ steps.build.output }}\n", 2, 6, "a.b"),
])
def test_unquoted_template_is_kept_as_text_with_a_quote_it_hint(text, line, col, path):
    doc = load_text(text)
    (problem,) = doc.problems
    assert (problem.line, problem.column, problem.path, problem.rule) == (line, col, path, "syntax")
    assert "quote it" in problem.message
    # the value is the template text, so later checks still see it
    value = doc.data["a"] if path == "a" else doc.data["a"][0] if path == "a[0]" else doc.data["a"]["b"]
    assert value.startswith("{{") and value.endswith("}}")


def test_quoted_template_and_a_real_nested_flow_mapping_are_fine():
    doc = load_text('a: "{{ x }}"\nb: {c: {d: 1}, e: 2}\n')
    assert doc.problems == []
    assert doc.data == {"a": "{{ x }}", "b": {"c": {"d": 1}, "e": 2}}


def test_unquoted_template_followed_by_text_is_a_syntax_error():
    doc = load_text("a: {{ x }} tail\n")
    (problem,) = doc.problems
    assert problem.rule == "syntax" and problem.line == 1
    assert doc.data is None


@pytest.mark.parametrize("text", ["", "# only a comment\n", "\n\n"])
def test_empty_files(text):
    doc = load_text(text, "empty.yaml")
    (problem,) = doc.problems
    assert (problem.line, problem.column, problem.message) == (1, 1, "the file is empty")
    assert doc.data is None and not doc.ok


def test_two_documents_in_one_file():
    doc = load_text("a: 1\n---\nb: 2\n")
    (problem,) = doc.problems
    assert problem.line == 2 and "single document" in problem.message


@pytest.mark.parametrize("text, tag", [
    ('a: !!python/object/apply:os.system ["echo hi"]\n', "!!python/object/apply:os.system"),
    ("a: !!python/object:os.Foo {x: 1}\n", "!!python/object:os.Foo"),
    ("a: !custom [1]\n", "!custom"),
    ("a: !!set {x, y}\n", "!!set"),
    ("a: !!binary aGVsbG8=\n", "!!binary"),
])
def test_tags_that_do_not_make_plain_values_are_rejected(text, tag):
    doc = load_text(text)
    (problem,) = doc.problems
    assert (problem.line, problem.column, problem.path, problem.rule) == (1, 4, "a", "syntax")
    assert f"`{tag}` is not allowed" in problem.message
    assert not doc.ok


def test_python_scalar_tags_are_never_constructed():
    doc = load_text("a: !!python/name:os.system\n")
    (problem,) = doc.problems
    assert problem.rule == "syntax" and "constructor" in problem.message
    assert doc.data is None


def test_standard_tags_and_merge_keys_are_fine():
    doc = load_text("s: !!str 5\nf: !!float 1\nbase: &b {x: 1}\nderived:\n  <<: *b\n  y: 2\n")
    assert doc.problems == []
    assert doc.data == {"s": "5", "f": 1.0, "base": {"x": 1}, "derived": {"x": 1, "y": 2}}


def test_billion_laughs_is_rejected_quickly():
    levels = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefgh", "bcdefghi"):
        levels.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    started = time.monotonic()
    doc = load_text("\n".join(levels) + "\n")
    assert time.monotonic() - started < 10
    (problem,) = doc.problems
    assert problem.rule == "syntax"
    assert f"aliases expand to more than {MAX_ALIAS_VALUES} values" in problem.message
    assert doc.data is None


def test_a_key_that_is_a_list():
    doc = load_text("? [a, b]\n: 1\n")
    (problem,) = doc.problems
    assert (problem.line, problem.column, problem.rule) == (1, 3, "syntax")
    assert "a mapping key must be a plain value" in problem.message


def test_tab_indentation_gets_a_hint():
    doc = load_text("a: b\n\tc: d\n")
    (problem,) = doc.problems
    assert (problem.line, problem.column) == (2, 1)
    assert "YAML is indented with spaces only" in problem.message


def test_json_files_load_with_positions():
    doc = load_text('{"name": "x",\n "steps": [{"id": "a"}]}', "w.json")
    assert doc.problems == []
    assert doc.data == {"name": "x", "steps": [{"id": "a"}]}
    assert doc.position(("steps", 0, "id")) == (2, 19)


def test_json_with_tabs_falls_back_to_the_json_parser():
    doc = load_text('{"name":\t"x",\n\t"steps": []}', "w.json")
    assert doc.problems == [] and doc.data == {"name": "x", "steps": []}


def test_invalid_json_reports_the_json_position():
    doc = load_text('{"name":\t"x",, }', "w.json")
    (problem,) = doc.problems
    assert (problem.line, problem.column) == (1, 14)
    assert problem.message.startswith("invalid JSON:")


def test_load_file_hashes_the_bytes_and_strips_a_bom(tmp_path):
    raw = "\ufeffname: x\n".encode()
    path = tmp_path / "w.yaml"
    path.write_bytes(raw)
    doc = load_file(path)
    assert doc.data == {"name": "x"}
    assert doc.content_hash == hashlib.sha256(raw).hexdigest()
    assert doc.file == str(path)
    assert load_file(path, display="shown.yaml").file == "shown.yaml"


def test_load_file_non_utf8_and_missing(tmp_path):
    path = tmp_path / "latin1.yaml"
    path.write_bytes("name: caf\xe9\n".encode("latin-1"))
    (problem,) = load_file(path).problems
    assert "not UTF-8" in problem.message and problem.rule == "syntax"
    (missing,) = load_file(tmp_path / "nope.yaml").problems
    assert "cannot read file" in missing.message


def test_iter_workflow_files_sorted_recursive_skipping_hidden(tmp_path):
    for name in ("b.yaml", "a/c.yml", "a/d.json", "A.YAML", ".git/x.yaml", "_lib/y.yaml", "a/_z.yaml",
                 "a/.hidden.yaml", "readme.md"):
        write(tmp_path, name, "x: 1\n")
    found = [p.relative_to(tmp_path).as_posix() for p in iter_workflow_files(tmp_path)]
    assert found == ["A.YAML", "a/c.yml", "a/d.json", "b.yaml"]
    single = tmp_path / "b.yaml"
    assert list(iter_workflow_files(single)) == [single]
    assert list(iter_workflow_files(tmp_path / "missing")) == []
