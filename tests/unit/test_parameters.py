"""Parameter values: command-line conversion, checks against declarations, resolution."""

from __future__ import annotations

import pytest

from yaml2dag.format.errors import ParameterError
from yaml2dag.format.model import Parameter
from yaml2dag.format.model_builder import build_workflow
from yaml2dag.format.parameters import check_value, coerce, parse_assignments, resolve


@pytest.mark.parametrize("ptype, raw, expected", [
    ("integer", "5", 5),
    ("integer", " -5 ", -5),
    ("number", "2.5", 2.5),
    ("number", "3", 3),
    ("number", "1e3", 1000.0),
    ("boolean", "true", True),
    ("boolean", "TRUE", True),
    ("boolean", "yes", True),
    ("boolean", "on", True),
    ("boolean", "1", True),
    ("boolean", "no", False),
    ("boolean", "Off", False),
    ("boolean", "0", False),
    ("array", '["a", 1]', ["a", 1]),
    ("object", '{"k": [1]}', {"k": [1]}),
    ("string", " keeps spaces ", " keeps spaces "),
    ("string", "x; touch pwned", "x; touch pwned"),
])
def test_coerce_converts_command_line_text(ptype, raw, expected):
    value = coerce(Parameter("p", ptype), raw)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("ptype, raw, example", [
    ("integer", "5.0", "p=5"),
    ("integer", "many", "p=5"),
    ("number", "fast", "p=2.5"),
    ("boolean", "maybe", "p=true"),
    ("array", "a,b", "p='[\"a\", \"b\"]'"),
    ("array", "{}", "p='[\"a\", \"b\"]'"),
    ("object", "[1]", "p='{\"key\": \"value\"}'"),
])
def test_coerce_errors_name_the_parameter_and_show_an_example(ptype, raw, example):
    with pytest.raises(ParameterError) as err:
        coerce(Parameter("p", ptype), raw)
    assert err.value.name == "p"
    assert str(err.value).startswith("parameter `p`: expected ")
    assert f"(e.g. {example})" in str(err.value)
    assert repr(raw) in str(err.value)


@pytest.mark.parametrize("param, value, message", [
    (Parameter("n", "integer"), True, "expected an integer, got true"),
    (Parameter("n", "integer"), 3.5, "expected an integer, got 3.5"),
    (Parameter("n", "integer"), "3", "expected an integer, got '3'"),
    (Parameter("x", "number"), False, "expected a number, got false"),
    (Parameter("x", "number"), float("nan"), "expected a number, got NaN"),
    (Parameter("s", "string"), 5, "expected a string, got 5"),
    (Parameter("b", "boolean"), "true", "expected true or false, got 'true'"),
    (Parameter("a", "array"), "x", "expected a list, got 'x'"),
    (Parameter("o", "object"), [1], "expected a mapping, got [1]"),
    (Parameter("e", "string", enum=("a", "b")), "c", "'c' is not one of \"a\", \"b\""),
    (Parameter("n", "integer", minimum=0), -1, "-1 is less than the minimum 0"),
    (Parameter("x", "number", maximum=1.5), 2, "2 is greater than the maximum 1.5"),
    (Parameter("s", "string", pattern="^[a-z]+$"), "Main", "'Main' does not match the pattern '^[a-z]+$'"),
    (Parameter("s", "string", pattern="["), "x", "its pattern '[' is not a valid regex"),
    (Parameter("a", "array", items_type="integer"), [1, "2"], "element 1 must be an integer, got '2'"),
])
def test_check_value_rejects_with_a_message_naming_the_parameter(param, value, message):
    with pytest.raises(ParameterError) as err:
        check_value(param, value)
    assert err.value.name == param.name
    assert str(err.value).startswith(f"parameter `{param.name}`: ")
    assert message in err.value.detail


@pytest.mark.parametrize("param, value, expected", [
    (Parameter("n", "integer"), 3.0, 3),
    (Parameter("x", "number"), 3, 3),
    (Parameter("n", "integer", minimum=0, maximum=3), 3, 3),
    (Parameter("s", "string", pattern="^[a-z]+"), "abc-1", "abc-1"),  # search, anchored by the pattern
    (Parameter("e", "integer", enum=(1, 2)), 2, 2),
    (Parameter("a", "array", items_type="string"), ["a"], ["a"]),
    (Parameter("x", "number", maximum=10), 10.0, 10.0),
])
def test_check_value_accepts(param, value, expected):
    result = check_value(param, value)
    assert result == expected and type(result) is type(expected)


WORKFLOW = build_workflow({
    "name": "W",
    "parameters": {
        "n": {"type": "integer", "default": 3, "minimum": 1},
        "req": {"type": "string"},
        "token": {"type": "secret"},
        "flag": False,
        "tags": {"type": "array", "items": {"type": "string"}, "default": []},
    },
    "steps": [],
})


def test_resolve_fills_defaults_and_leaves_out_secrets():
    assert resolve(WORKFLOW, {"req": "x"}) == {"n": 3, "req": "x", "flag": False, "tags": []}


def test_resolve_converts_strings_when_asked():
    values = resolve(WORKFLOW, {"req": "x", "n": "7", "flag": "yes", "tags": '["a"]'}, strings=True)
    assert values == {"n": 7, "req": "x", "flag": True, "tags": ["a"]}


def test_resolve_checks_given_values():
    with pytest.raises(ParameterError, match="parameter `n`: expected an integer, got '7'"):
        resolve(WORKFLOW, {"req": "x", "n": "7"})
    with pytest.raises(ParameterError, match="parameter `n`: 0 is less than the minimum 1"):
        resolve(WORKFLOW, {"req": "x", "n": 0})


def test_resolve_required_unknown_and_secret():
    with pytest.raises(ParameterError) as err:
        resolve(WORKFLOW, {})
    assert str(err.value) == "parameter `req`: is required (a string) and has no default"
    assert resolve(WORKFLOW, {}, allow_missing=True) == {"n": 3, "flag": False, "tags": []}
    with pytest.raises(ParameterError) as err:
        resolve(WORKFLOW, {"req": "x", "nn": 1})
    assert "not a parameter of 'W'" in str(err.value) and "did you mean `n`?" in str(err.value)
    with pytest.raises(ParameterError) as err:
        resolve(WORKFLOW, {"req": "x", "token": "s3cret"})
    assert "set the environment variable TOKEN" in str(err.value)


def test_parse_assignments():
    assert parse_assignments(["a=1", "b=x=y", "c=", " d =v"]) == {"a": "1", "b": "x=y", "c": "", "d": "v"}
    for bad in ("novalue", "=v"):
        with pytest.raises(ParameterError, match="expected key=value"):
            parse_assignments([bad])
