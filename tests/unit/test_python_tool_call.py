"""The `python` tool's `call` called directly (the TOOL's `Action.run` with a ToolContext, no
Dagster run) on helper modules written next to a "workflow" in tmp_path: the errors a workflow
author can cause (a malformed `callable`, a missing module or attribute, an import that fails,
something not callable, wrong argument shapes or count, the function raising), each with its
message and retry decision, and the less-used options (dotted attributes, builtins without a
signature, what the function prints going to the log).
"""

from __future__ import annotations

import sys
import textwrap
import uuid

import pytest

from recording_log import RecordingLog
from yaml2dag.tools.base import ToolContext, ToolError
from yaml2dag.tools.python import TOOL


HELPERS = """
    VALUE = 42

    def add(a, b=1):
        print(f"adding {a} and {b}")
        print("token s3cr3t-token")
        return a + b

    def fails(reason):
        raise ValueError(reason)

    def refuses():
        from yaml2dag.tools.base import ToolError
        raise ToolError("not today", retryable=False)

    class Maths:
        @staticmethod
        def double(x):
            return 2 * x
"""


@pytest.fixture
def workflow_dir(tmp_path, request, monkeypatch):
    """A workflow folder with helper modules whose names are unique to this test."""
    stem = f"helpers_{uuid.uuid4().hex[:12]}"
    (tmp_path / f"{stem}.py").write_text(textwrap.dedent(HELPERS))
    (tmp_path / f"{stem}_broken.py").write_text("raise RuntimeError('config file missing')\n")
    for name in (stem, f"{stem}_broken"):
        monkeypatch.delitem(sys.modules, name, raising=False)  # removed again at teardown
    request.addfinalizer(lambda: [sys.modules.pop(n, None) for n in (stem, f"{stem}_broken")])
    return str(tmp_path), stem


def _run(params: dict, directory: str | None = None, log: RecordingLog | None = None, secrets=()):
    ctx = ToolContext("p", workflow_dir=directory, log=log or RecordingLog(), secrets=secrets)
    return TOOL.actions[0].run(ctx, params)


def _error(params: dict, directory: str | None = None) -> ToolError:
    with pytest.raises(ToolError) as info:
        _run(params, directory)
    return info.value


def test_a_helper_next_to_the_workflow_is_called_and_its_prints_are_logged(workflow_dir):
    directory, mod = workflow_dir
    log = RecordingLog()
    result = _run({"callable": f"{mod}:add", "args": [2], "kwargs": {"b": 5}}, directory, log, ["s3cr3t-token"])
    assert result.output == 7
    assert log.lines == [("info", "adding 2 and 5"), ("info", "token ***")]
    assert directory not in sys.path  # the workflow folder is on sys.path only while importing


def test_a_dotted_attribute_and_a_builtin_without_signature(workflow_dir):
    directory, mod = workflow_dir
    assert _run({"callable": f"{mod}:Maths.double", "args": [21]}, directory).output == 42
    assert _run({"callable": "builtins:dict", "kwargs": {"a": 1}}).output == {"a": 1}
    assert _run({"callable": "builtins:max", "args": [3, 9, 4]}).output == 9


@pytest.mark.parametrize("callable_, message", [
    ("no_colon", "callable 'no_colon' must look like `package.module:function`"),
    ("mod:", "callable 'mod:' must look like `package.module:function`"),
    ("no_such_module_xyz:f",
     "cannot import module 'no_such_module_xyz' for callable 'no_such_module_xyz:f': No module named 'no_such_module_xyz'"),
])
def test_a_callable_that_cannot_be_found_is_not_retried(callable_, message):
    error = _error({"callable": callable_})
    assert (error.message, error.retryable) == (message, False)


def test_missing_attribute_not_callable_and_failing_import_are_not_retried(workflow_dir):
    directory, mod = workflow_dir
    cases = {
        f"{mod}:Maths.triple": f"module '{mod}' has no attribute 'Maths.triple'",
        f"{mod}:VALUE": f"'{mod}:VALUE' is not callable",
        f"{mod}_broken:f": f"importing '{mod}_broken' failed: RuntimeError: config file missing",
    }
    for callable_, message in cases.items():
        error = _error({"callable": callable_}, directory)
        assert (error.message, error.retryable) == (message, False)


@pytest.mark.parametrize("params, message", [
    ({"args": "2"}, "`args` must render to a list, got str"),
    ({"kwargs": [1]}, "`kwargs` must render to a mapping, got list"),
    ({"args": [1, 2, 3]}, "cannot call {mod}:add: too many positional arguments"),
    ({"kwargs": {"c": 1}}, "cannot call {mod}:add: missing a required argument: 'a'"),
])
def test_arguments_that_do_not_fit_are_refused_before_the_call(workflow_dir, params, message):
    directory, mod = workflow_dir
    log = RecordingLog()
    with pytest.raises(ToolError) as info:
        _run({"callable": f"{mod}:add", **params}, directory, log)
    assert info.value.message == message.format(mod=mod)
    assert info.value.retryable is False
    assert log.lines == []  # the function never ran


def test_an_exception_of_the_function_fails_the_step_retryably_with_its_type(workflow_dir):
    directory, mod = workflow_dir
    error = _error({"callable": f"{mod}:fails", "args": ["quota exceeded"]}, directory)
    assert error.message == f"{mod}:fails raised ValueError: quota exceeded"
    assert error.retryable is True
    assert isinstance(error.__cause__, ValueError)


def test_a_tool_error_of_the_function_is_kept_as_it_is(workflow_dir):
    directory, mod = workflow_dir
    error = _error({"callable": f"{mod}:refuses"}, directory)
    assert (error.message, error.retryable) == ("not today", False)
