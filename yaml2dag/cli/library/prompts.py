"""The dialogue of ``create --interactive`` (name, parameters, steps, failure handling, schedule)
and the rephrasing of the phrases ``create --describe`` did not understand.
"""

from __future__ import annotations

from typing import Any, Callable

import click

from yaml2dag.cli.library.common import _Ended, _read_line
import re
import yaml
from yaml2dag.format import cron
from yaml2dag.format.errors import ParameterError
from yaml2dag.format.model import PARAMETER_TYPES
from yaml2dag.format.model_builder import build_parameter
from yaml2dag.format.parameters import check_value, coerce
from yaml2dag.format.schema import did_you_mean
from yaml2dag.format.validation import timezone_problem
from yaml2dag.library.describe import DescribeError, draft_from_description, parse_schedule
from yaml2dag.library.roundtrip import to_yaml
from yaml2dag.tools.registry import get_tool, tool_names


class _Prompter:
    """Questions on ``out``, answers from stdin (one line each)."""

    def __init__(self, out):
        self.out = out

    def ask(self, label: str, default: str | None = None, check: Callable[[str], Any] | None = None,
            required: bool = False) -> Any:
        """Ask until ``check(answer)`` does not raise ValueError; returns its result (or the
        answer). An empty answer gives ``default`` ('' when None)."""
        for _ in range(20):
            suffix = f" [{default}]" if default not in (None, "") else ""
            self.out.print(f"{label}{suffix}: ", end="", markup=False)
            answer = _read_line(self.out).strip()
            if not answer:
                answer = default or ""
            if required and not answer:
                self.out.print("  an answer is required", style="yellow")
                continue
            if check is None:
                return answer
            try:
                return check(answer)
            except ValueError as exc:
                self.out.print(f"  {exc}", style="yellow", markup=False)
        raise click.UsageError(f"too many invalid answers to {label.strip()!r}")


def _parameter_line(line: str) -> tuple[str, dict]:
    """``name[:type][=default]`` → (name, declaration). Raises ValueError."""
    match = re.fullmatch(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?::\s*([a-z]+))?\s*(?:=(.*))?", line)
    if not match:
        raise ValueError("write it as name[:type][=default], e.g. branch:string=main or retries=3")
    name, ptype, raw = match.group(1), match.group(2), match.group(3)
    if ptype is not None and ptype not in PARAMETER_TYPES:
        raise ValueError(f"unknown type {ptype!r}; types: {', '.join(PARAMETER_TYPES)}")
    decl: dict[str, Any] = {}
    if raw is None:
        decl["type"] = ptype or "string"
        return name, decl
    raw = raw.strip()
    if ptype == "secret":
        raise ValueError("a secret has no default: it is read from the environment")
    if ptype is None:
        try:
            value = yaml.safe_load(raw) if raw else ""
        except yaml.YAMLError:
            value = raw
        if isinstance(value, dict) or value is None:
            value = raw
        decl["type"] = "string" if isinstance(value, str) else build_parameter(name, value, ()).type
        decl["default"] = value
        return name, decl
    param = build_parameter(name, {"type": ptype}, ())

    try:
        value = check_value(param, coerce(param, raw) if ptype != "string" else raw)
    except ParameterError as exc:
        raise ValueError(str(exc)) from None
    decl["type"] = ptype
    decl["default"] = value
    return name, decl


def _value(text: str) -> Any:
    """A parameter value typed at a prompt: YAML scalars and lists; templates stay strings."""
    if text.startswith("{{") or not text:
        return text
    try:
        value = yaml.safe_load(text)
    except yaml.YAMLError:
        return text
    return value if isinstance(value, (int, float, bool, list)) else text


def _interactive(name: str, prompt: _Prompter, check_name: Callable[[str], str] | None = None) -> str:
    """The dialogue of ``create --interactive``; returns the workflow as YAML text.

    Args:
        name: the default workflow name (the command line's NAME).
        prompt: where questions go and answers come from.
        check_name: checks the typed name (raises ValueError to ask again), e.g. that no
            workflow has it yet.
    """
    out = prompt.out
    data: dict[str, Any] = {}
    data["name"] = prompt.ask("Workflow name", name, check=check_name, required=True)
    data["version"] = "1.0.0"
    description = prompt.ask("Description")
    if description:
        data["description"] = description
    tags = prompt.ask("Tags (comma-separated)")
    if tags:
        data["tags"] = [t.strip() for t in tags.split(",") if t.strip()]
    out.print("Parameters: one per line as name[:type][=default] (types: string, integer, number, boolean, "
              "array, object, secret); an empty line ends.", markup=False)
    params: dict[str, dict] = {}
    while True:
        item = prompt.ask("  parameter", check=lambda a: _parameter_line(a) if a else None)
        if item is None:
            break
        params[item[0]] = item[1]
    if params:
        data["parameters"] = params
    known_tools = tool_names()
    steps: list[dict] = []
    ids: set[str] = set()

    def check_id(answer: str) -> str:
        if not answer:
            if not steps:
                raise ValueError("a workflow needs at least one step")
            return ""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", answer):
            raise ValueError("ids are lowercase letters, digits and _ (not starting with a digit)")
        if answer in ids or answer in params:
            raise ValueError(f"`{answer}` is already a step or parameter")
        return answer

    def check_tool(answer: str) -> str:
        if get_tool(answer) is None:
            raise ValueError(f"unknown tool {answer!r}{did_you_mean(answer, known_tools)} (tools: {', '.join(known_tools)})")
        return answer

    out.print("Steps run in the order given; an empty id ends.", markup=False)
    while True:
        sid = prompt.ask(f"Step {len(steps) + 1} id", check=check_id)
        if not sid:
            break
        ids.add(sid)
        step: dict[str, Any] = {"id": sid}
        title = prompt.ask("  name", "")
        if title:
            step["name"] = title
        tool_name = prompt.ask("  tool", "shell", check=check_tool)
        tool = get_tool(tool_name)
        step["tool"] = tool_name
        if len(tool.actions) > 1:
            def check_action(answer: str, tool=tool) -> str:
                if tool.action(answer) is None:
                    raise ValueError(f"{tool.name} actions: {', '.join(tool.action_names)}")
                return answer

            action_name = prompt.ask("  action", tool.actions[0].name, check=check_action)
            step["action"] = action_name
        action = tool.action(step.get("action"))
        parameters: dict[str, Any] = {}
        if tool_name == "shell":
            parameters["command"] = prompt.ask("  command", required=True)
        else:
            for pname in action.parameters.get("required", []) or []:
                parameters[pname] = _value(prompt.ask(f"  {pname}", required=True))
            out.print("  more parameters as key=value; an empty line ends.", markup=False)
            props = list((action.parameters.get("properties") or {}).keys())

            def check_kv(answer: str, props=props) -> tuple[str, Any] | None:
                if not answer:
                    return None
                key, sep, raw = answer.partition("=")
                key = key.strip()
                if not sep or not key:
                    raise ValueError("write key=value")
                if props and key not in props:
                    raise ValueError(f"{tool_name}.{action.name} parameters: {', '.join(props)}")
                return key, _value(raw.strip())

            while True:
                kv = prompt.ask("  parameter", check=check_kv)
                if kv is None:
                    break
                parameters[kv[0]] = kv[1]
        step["parameters"] = parameters

        def check_on_error(answer: str) -> str:
            if answer not in ("abort", "continue", "retry", "fallback"):
                raise ValueError("one of abort, continue, retry, fallback")
            return answer

        on_error = prompt.ask("  on error: abort, continue, retry or fallback", "abort", check=check_on_error)
        if on_error == "retry":
            def check_attempts(answer: str) -> int:
                if not answer.isdigit() or int(answer) < 2:
                    raise ValueError("a whole number of at least 2 (the first try counts)")
                return int(answer)

            attempts = prompt.ask("  max attempts", "3", check=check_attempts)
            step["retry"] = {"max_attempts": attempts, "backoff": "exponential", "delay": 2}
        elif on_error == "continue":
            step["on_error"] = "continue"
        elif on_error == "fallback":
            step["on_error"] = "fallback"
            step["fallback"] = {"tool": "shell",
                                "parameters": {"command": prompt.ask("  fallback command (shell)", required=True)}}
        steps.append(step)
    data["steps"] = steps
    message = prompt.ask("On failure, log this message (empty for none)")
    if message:
        data["on_failure"] = [{"id": "report_failure", "tool": "notify", "action": "log",
                               "parameters": {"message": message, "level": "error"}}]

    def check_schedule(answer: str) -> tuple[str, str | None] | None:
        if not answer:
            return None
        try:
            cron.parse(answer)
            return answer, None
        except cron.CronError as exc:
            try:
                return parse_schedule(answer)
            except DescribeError:
                raise ValueError(f"not a cron expression ({exc}) nor a phrase like \"every weekday at 9am\"") from None

    schedule = prompt.ask("Schedule: cron, or a phrase like \"every weekday at 9am\" (empty for none)", check=check_schedule)
    if schedule is not None:
        def check_tz(answer: str) -> str:
            problem = timezone_problem(answer)
            if problem:
                raise ValueError(problem)
            return answer

        tz = prompt.ask("Time zone", schedule[1] or "UTC", check=check_tz)
        trigger = {"type": "schedule", "cron": schedule[0]}
        if tz and tz != "UTC":
            trigger["timezone"] = tz
        keys = list(data)
        ordered = {k: data[k] for k in keys if k != "steps" and k != "on_failure"}
        ordered["triggers"] = [{"type": "manual"}, trigger]
        ordered["steps"] = data["steps"]
        if "on_failure" in data:
            ordered["on_failure"] = data["on_failure"]
        data = ordered
    return to_yaml(data)


def _ask_rephrasing(name: str, description: str, draft, prompt: _Prompter):
    """Ask, phrase by phrase, how to say what the grammar did not understand (or refused);
    the answer replaces the phrase in the description, which is drafted again. An empty answer
    (or the end of input) leaves the phrase out. Returns the last draft."""
    description = " ".join(description.split())  # the phrases are quoted from it with single spaces
    left_out: set[str] = set()
    for _ in range(10):
        asked = [r for r in draft.problems if r.phrase not in left_out]
        if not asked:
            break
        changed = False
        for report in asked:
            why = f" ({report.reason})" if report.reason else ""
            label = "refused" if report.status == "refused" else "not understood"
            prompt.out.print(f"? {label}{why}: {report.phrase}", style="yellow", markup=False)
            if report.closest:
                prompt.out.print(f"  closest supported phrasing: {report.closest}", markup=False)
            try:
                answer = prompt.ask("  say it another way (empty: leave it out)").strip()
            except _Ended:
                return draft
            if answer and report.phrase in description:
                description = description.replace(report.phrase, answer, 1)
                changed = True
            else:
                left_out.add(report.phrase)
        if not changed:
            break
        try:
            draft = draft_from_description(name, description)
        except DescribeError as exc:
            prompt.out.print(f"  {exc}", style="yellow", markup=False)
            break
    return draft
