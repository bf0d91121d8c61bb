"""The `shell` tool's `execute` called directly (the TOOL's `Action.run` with a ToolContext, no
Dagster run; the command is the tool's own subprocess): the errors a workflow author can cause
(missing working directory, program not found or not executable, non-zero exit, the step's own
`timeout`, a stopped run, an arithmetic `env` value) with their messages, exit codes and retry
decision, and the less-used options (`args`, `env` with booleans and numbers, `input`,
`check: false`, `shell`, the cap on logged lines).
"""

from __future__ import annotations

import shutil
import sys

import pytest

from recording_log import RecordingLog
from yaml2dag.tools import shell as shell_module
from yaml2dag.tools.base import StepTimeoutError, ToolContext, ToolError
from yaml2dag.tools.shell import TOOL


def _run(params: dict, ctx: ToolContext | None = None):
    return TOOL.actions[0].run(ctx or ToolContext("s", log=RecordingLog()), params)


def _error(params: dict, ctx: ToolContext | None = None) -> ToolError:
    with pytest.raises(ToolError) as info:
        _run(params, ctx)
    return info.value


def test_args_run_without_a_shell_with_env_values_as_text_and_input_on_stdin(tmp_path):
    code = "import os, sys; print(os.environ['FLAG'], os.environ['N'], os.environ['NAME']); print(sys.stdin.read().upper())"
    result = _run({"args": [sys.executable, "-c", code], "env": {"FLAG": True, "N": 3, "NAME": "a b"},
                   "input": "piped text", "cwd": str(tmp_path)})
    assert result.output == "true 3 a b\nPIPED TEXT"
    assert result.fields["exit_code"] == 0 and result.fields["stderr"] == ""


def test_stdout_and_stderr_lines_go_to_the_log_with_secrets_masked():
    log = RecordingLog()
    ctx = ToolContext("s", log=log, secrets=["hunter22"])
    result = _run({"command": "echo out hunter22; echo err >&2"}, ctx)
    assert sorted(log.lines) == [("info", "[stderr] err"), ("info", "out ***")]
    assert result.output == "out ***" and result.fields["stderr"] == "err\n"


def test_a_missing_working_directory_is_not_retried(tmp_path):
    error = _error({"command": "true", "cwd": str(tmp_path / "nope")})
    assert error.message == f"working directory {str(tmp_path / 'nope')!r} does not exist"
    assert error.retryable is False


def test_a_missing_program_exits_127_and_a_non_executable_one_126(tmp_path):
    error = _error({"args": [str(tmp_path / "no-such-program"), "x"]})
    assert error.message == f"program not found: {str(tmp_path / 'no-such-program')!r}"
    assert (error.fields["exit_code"], error.retryable) == (127, False)
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    error = _error({"args": [str(script)]})
    assert error.message == f"program is not executable: {str(script)!r}"
    assert (error.fields["exit_code"], error.retryable) == (126, False)


def test_a_non_zero_exit_names_the_last_error_line_and_is_retryable():
    error = _error({"command": "echo working; echo 'first problem' >&2; echo 'disk full' >&2; exit 3"})
    assert error.message == "command exited with code 3: disk full"
    assert error.retryable is True
    assert error.fields["exit_code"] == 3 and error.fields["stdout"] == "working\n"
    silent = _error({"command": "exit 4"})
    assert silent.message == "command exited with code 4"


def test_check_false_keeps_the_exit_code_as_a_result():
    result = _run({"command": "echo partial; exit 2", "check": False})
    assert result.output == "partial" and result.fields["exit_code"] == 2


@pytest.mark.skipif(shutil.which("sh") is None, reason="no sh")
def test_the_shell_parameter_chooses_the_shell():
    result = _run({"command": "echo $0", "shell": shutil.which("sh")})
    assert result.output == shutil.which("sh")


def test_the_own_timeout_kills_the_command_and_names_the_limit():
    with pytest.raises(StepTimeoutError) as info:
        _run({"command": "echo started; sleep 30", "timeout": "0.3s"}, ToolContext("s", timeout=60, log=RecordingLog()))
    assert info.value.message == "command timed out after 0.3s and was killed (its whole process group)"
    assert info.value.fields["stdout"] == "started\n"
    assert info.value.fields["exit_code"] != 0


def test_the_step_timeout_wins_when_it_is_shorter():
    with pytest.raises(StepTimeoutError) as info:
        _run({"command": "sleep 30", "timeout": "10m"}, ToolContext("s", timeout=0.3, log=RecordingLog()))
    assert info.value.message == "command timed out after 0.3s and was killed (its whole process group)"


def test_a_stopped_run_stops_the_command_and_says_why():
    ctx = ToolContext("s", log=RecordingLog())
    ctx.cancel("the run was terminated from the UI")
    error = _error({"command": "sleep 30"}, ctx)
    assert error.message == "command was stopped: the run was terminated from the UI"


def test_an_env_value_the_command_evaluates_as_arithmetic_must_be_an_integer():
    error = _error({"command": "echo $(( N + 1 ))", "env": {"N": "a[$(touch MARK)]"}})
    assert error.message.startswith("parameters.env.N: the command evaluates `N` as bash arithmetic")
    assert error.retryable is False
    assert _run({"command": "echo $(( N + 1 ))", "env": {"N": 41}}).output == "42"


def test_logged_lines_are_capped_but_the_result_keeps_them_all(monkeypatch):
    monkeypatch.setattr(shell_module, "MAX_LOGGED_LINES", 3)
    log = RecordingLog()
    result = _run({"command": "for i in 1 2 3 4 5; do echo line$i; done"}, ToolContext("s", log=log))
    assert result.output.splitlines() == [f"line{i}" for i in range(1, 6)]
    assert log.lines == [("info", "line1"), ("info", "line2"), ("info", "line3"),
                         ("info", "[stdout] more than 3 lines: the rest is kept in the step result only")]
