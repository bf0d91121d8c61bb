"""The ``shell`` tool: run a command, stream its output into the event log (spec §6).

* ``command`` is a string run by ``bash -c`` (``sh -c`` where bash is missing, or the
  ``shell`` parameter); every template value in it is one shell word (spec §5): the value is
  passed in an environment variable (``"${YAML2DAG_V1}"`` in the command text), so the shell
  never parses it.
* ``args`` is a list run directly, without a shell.
* stdout and stderr lines go to the Dagster event log as they arrive (secrets masked).
* The command runs in its own process group; on timeout or run termination the whole group is
  sent SIGTERM, then SIGKILL after a grace period, so no grandchild survives.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import threading
from typing import Any

from yaml2dag.format.durations import parse_duration
from yaml2dag.tools.base import Action, StepTimeoutError, Tool, ToolContext, ToolError, ToolResult
from yaml2dag.format.shell_contexts import analyze_command, is_integer

#: Seconds between SIGTERM and SIGKILL when a command is stopped.
KILL_GRACE_SECONDS = 3.0
#: Lines per stream copied into the event log; the rest stays in the step result.
MAX_LOGGED_LINES = 2000
#: Bytes of stdout/stderr kept in the step result per stream.
MAX_CAPTURED_BYTES = 16 * 1024 * 1024

_DURATION = {
    "anyOf": [{"type": "number", "minimum": 0}, {"type": "string"}],
    "x-expected": "a duration such as 30, \"30s\" or \"10m\"",
}

PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "command": {"type": "string", "description": "Command line run by the shell."},
        "args": {"type": "array", "items": {"type": ["string", "number", "boolean"]}, "minItems": 1,
                 "description": "Program and arguments, run without a shell."},
        "cwd": {"type": "string", "description": "Working directory."},
        "env": {"type": "object", "additionalProperties": {"type": ["string", "number", "boolean"]},
                "description": "Extra environment variables."},
        "input": {"type": "string", "description": "Text written to the command's stdin."},
        "check": {"type": "boolean", "description": "Fail the step on a non-zero exit code (default true)."},
        "timeout": dict(_DURATION, description="Kill the command after this long."),
        "shell": {"type": "string", "description": "Shell for `command` (default: bash, else sh)."},
    },
    "oneOf": [{"required": ["command"]}, {"required": ["args"]}],
    "x-expected": "exactly one of `command` (a string) or `args` (a list)",
}


def _default_shell() -> str:
    return shutil.which("bash") or "/bin/sh"


def _stop_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, then SIGKILL it if it is still alive after the grace."""
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    for sig, wait in ((signal.SIGTERM, KILL_GRACE_SECONDS), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(timeout=wait)
            # the leader is gone; make sure no member of the group survives
            try:
                os.killpg(pgid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            return
        except subprocess.TimeoutExpired:
            continue


def execute(ctx: ToolContext, params: dict) -> ToolResult:
    """Run the command; see the module docstring."""
    if "command" in params:
        shell = params.get("shell") or _default_shell()
        argv = [shell, "-c", str(params["command"])]
    else:
        argv = [str(a) for a in params["args"]]
    env = None
    values = getattr(params.get("command"), "env", None)  # a rendered ShellCommand's values
    _check_arithmetic_env(params)
    if params.get("env") or values:
        env = dict(os.environ)
        env.update(values or {})
        for key, value in (params.get("env") or {}).items():
            env[str(key)] = value if isinstance(value, str) else str(value).lower() if isinstance(value, bool) else str(value)
    timeout = ctx.time_left()
    limit = ctx.timeout  # what the user configured, for the message
    if params.get("timeout") is not None:
        own = parse_duration(params["timeout"])
        if timeout is None or own < timeout:
            timeout, limit = own, own
    cwd = params.get("cwd") or None
    if cwd and not os.path.isdir(cwd):
        raise ToolError(f"working directory {cwd!r} does not exist", retryable=False)
    try:
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE if params.get("input") is not None else subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise ToolError(f"program not found: {argv[0]!r}", {"exit_code": 127}, retryable=False) from None
    except PermissionError:
        raise ToolError(f"program is not executable: {argv[0]!r}", {"exit_code": 126}, retryable=False) from None

    ctx.started_process(proc.pid)  # killed with its group if the run's process dies
    stopped = threading.Event()

    def stop() -> None:
        stopped.set()
        _stop_group(proc)

    ctx.on_cancel(stop)
    captured: dict[str, list[str]] = {"stdout": [], "stderr": []}
    readers = [
        threading.Thread(target=_pump, args=(proc.stdout, "stdout", captured["stdout"], ctx), daemon=True),
        threading.Thread(target=_pump, args=(proc.stderr, "stderr", captured["stderr"], ctx), daemon=True),
    ]
    for reader in readers:
        reader.start()
    if params.get("input") is not None:
        try:
            proc.stdin.write(str(params["input"]).encode())
            proc.stdin.close()
        except BrokenPipeError:
            pass
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        stop()
    except BaseException:
        # interrupted (Dagster's termination raises into the step): the command runs in its own
        # session, so stop its process group before the interruption goes on
        stop()
        raise
    for reader in readers:
        reader.join(timeout=10)
    stdout = ctx.mask("".join(captured["stdout"]))
    stderr = ctx.mask("".join(captured["stderr"]))
    fields = {"stdout": stdout, "stderr": stderr, "exit_code": proc.returncode}
    if timed_out:
        raise StepTimeoutError(
            f"command timed out after {limit:g}s and was killed (its whole process group)", fields
        )
    if stopped.is_set():
        raise ToolError(f"command was stopped: {ctx.cancel_reason or 'the run was terminated'}", fields)
    if proc.returncode != 0 and params.get("check", True):
        last = _last_line(stderr) or _last_line(stdout)
        detail = f": {last}" if last else ""
        raise ToolError(f"command exited with code {proc.returncode}{detail}", fields)
    return ToolResult(output=stdout.strip(), fields=fields)


def _check_arithmetic_env(params: dict) -> None:
    """Refuse an ``env`` value the command would evaluate as bash arithmetic unless it is an
    integer: ``env: {N: "{{ n }}"}`` with ``echo $(( N + 1 ))`` would run the command substitution
    in an array index of ``N`` (``a[$(cmd)]``), as a value written in the command would (spec §5).

    Raises:
        ToolError: (not retryable) naming the variable.
    """
    if not params.get("env") or not isinstance(params.get("command"), str):
        return
    names = analyze_command([str(params["command"])]).arith_names
    for key, value in params["env"].items():
        if key in names and (isinstance(value, bool) or not is_integer(str(value))):
            raise ToolError(f"parameters.env.{key}: the command evaluates `{key}` as bash arithmetic, so its "
                            "value must be an integer: bash would evaluate any other text as an expression, "
                            "and an array index in it runs commands (`a[$(cmd)]`); make it a number first "
                            "(`| int`)", retryable=False)


def _pump(stream: Any, name: str, sink: list[str], ctx: ToolContext) -> None:
    logged = 0
    size = 0
    for raw in iter(stream.readline, b""):
        line = raw.decode("utf-8", errors="replace")
        if size < MAX_CAPTURED_BYTES:
            sink.append(line)
            size += len(raw)
        if logged < MAX_LOGGED_LINES:
            text = line.rstrip("\n")
            ctx.log.info(text if name == "stdout" else f"[stderr] {text}")
            logged += 1
            if logged == MAX_LOGGED_LINES:
                ctx.log.info(f"[{name}] more than {MAX_LOGGED_LINES} lines: the rest is kept in the step result only")
    stream.close()


def _last_line(text: str) -> str:
    for line in reversed(text.strip().splitlines()):
        if line.strip():
            return line.strip()[:300]
    return ""


TOOL = Tool(
    name="shell",
    description="Run a shell command or a program.",
    actions=(
        Action(
            name="execute",
            description="Run `command` with the shell, or `args` without one.",
            parameters=PARAMETERS,
            run=execute,
            result_fields=("stdout", "stderr", "exit_code"),
            shell_parameters=("command",),
            output="stdout, stripped",
            handles_timeout=True,
        ),
    ),
)
