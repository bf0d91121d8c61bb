"""The library commands (issue #6): ``create``, ``edit``, ``delete``, ``schedule``, ``export``,
``import``, ``versions``, ``rollback``, ``diff``.

The definitions folder is the source of truth. Every change goes through
:mod:`yaml2dag.library.versions` (validated first, never an invalid file; version bumped; previous file
kept under ``.versions/<job>/``) and every edit of an existing file through
:mod:`yaml2dag.library.roundtrip` (comments, key order and quoting kept). None of these commands
imports Dagster.

Questions (``create --interactive``, confirmations) are read line by line from stdin, so a
script can pipe the answers; with ``--format json`` the questions and previews go to stderr and
stdout carries exactly one JSON document. Exit codes: 0 done, 1 nothing saved (invalid
content, refused, declined), 2 usage errors (unknown workflow, bad option).
"""

from __future__ import annotations

import difflib
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Callable

import click

from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand, console, fail_as, print_json

YES_OPTION = click.option("--yes", "-y", "yes", is_flag=True, help="Do not ask for confirmation.")


class _Ended(Exception):
    """stdin ended while a question was waiting for an answer."""


# --------------------------------------------------------------------------- helpers


def _fail(fmt: str, message: str, code: int = 1, problems: list | None = None) -> None:
    """:func:`fail_as`; the JSON error always lists the problems (maybe none)."""
    fail_as(fmt, message, code, problems or [])


def _library(fmt: str):
    from yaml2dag.library.folder import Library

    library = Library()
    if not library.folder.is_dir():
        _fail(fmt, f"the definitions folder {library.folder} does not exist (set YAML2DAG_DEFINITIONS "
                   "or run from the project folder)", 2)
    return library


def _find(library, name: str, fmt: str):
    """The library workflow ``name`` (must be a file inside the folder)."""
    from yaml2dag.format.errors import WorkflowNotFoundError
    from yaml2dag.library.versions import LibraryWriteError, inside

    try:
        report = library.find(name)
    except WorkflowNotFoundError as exc:
        _fail(fmt, str(exc), 2)
    try:
        inside(library.folder, report.file)
    except LibraryWriteError:
        _fail(fmt, f"{report.file} is not in the definitions folder {library.folder}; "
                   "use `yaml2dag import` to add it first", 2)
    return report


def _job_of_report(report) -> str:
    from yaml2dag.format.model import slugify

    wf = report.workflow
    if wf is not None and wf.id:
        return wf.id
    return slugify(Path(report.file).stem)


def _out(fmt: str):
    """The console for people: stdout, or stderr when stdout carries JSON."""
    return console(stderr=fmt == "json")


def _esc(text: Any) -> str:
    from rich.markup import escape

    return escape("" if text is None else str(text))


def _read_line(out=None) -> str:
    """One answer from stdin; echoed to ``out`` when stdin is not a terminal (so a piped
    session reads like a typed one). Raises _Ended at end of input."""
    line = sys.stdin.readline()
    if line == "":
        raise _Ended()
    answer = line.rstrip("\r\n")
    if out is not None and not sys.stdin.isatty():
        out.print(answer, markup=False, highlight=False)
    return answer


def _confirm(out, question: str, default: bool) -> bool:
    """Ask a yes/no question on stdin; end of input answers ``no``."""
    hint = "[Y/n]" if default else "[y/N]"
    while True:
        out.print(f"{question} {hint} ", end="", markup=False)
        try:
            answer = _read_line(out).strip().lower()
        except _Ended:
            out.print("")
            return False
        if not answer:
            return default
        if answer in ("y", "yes"):
            return True
        if answer in ("n", "no"):
            return False
        out.print("please answer y or n", style="yellow")


def _show_yaml(out, text: str) -> None:
    from rich.syntax import Syntax

    if out.is_terminal and not os.environ.get("NO_COLOR"):
        out.print(Syntax(text, "yaml", background_color="default"))
    else:
        out.print(text, markup=False, highlight=False, end="" if text.endswith("\n") else "\n")


def _report_change(fmt: str, change, out=None, message: str | None = None) -> None:
    if fmt == "json":
        print_json(change.to_json())
        return
    out = out or console()
    if message:
        out.print(message)
    elif not change.changed:
        out.print(f"no changes: {_esc(change.file)} is already version {_esc(change.version)}")
    else:
        what = {"create": "created", "import": "imported", "edit": "saved", "schedule": "saved",
                "rollback": "restored", "delete": "deleted"}.get(change.action, change.action)
        version = f" version {_esc(change.version)}" if change.version else ""
        before = f" (was {_esc(change.previous_version)})" if change.previous_version and change.version else ""
        revision = f" as revision #{change.revision}" if change.revision and change.action != "create" else ""
        out.print(f"[green]✓[/] {what} {_esc(change.workflow or change.job)}{version}{before}{revision}: "
                  f"{_esc(change.file)}")
        if change.archived:
            out.print(f"  previous file kept as {_esc(change.archived)}", style="dim", markup=False)
    for warning in change.warnings:
        out.print(warning, style="yellow", markup=False)


def _commit(fmt: str, library, path, text: str, action: str, *, create: bool = False, bump: bool = True):
    from yaml2dag.library.versions import LibraryWriteError, commit_change

    try:
        return commit_change(library.folder, path, text, action=action, create=create, bump=bump)
    except LibraryWriteError as exc:
        _fail(fmt, str(exc), 1, exc.problems)


# --------------------------------------------------------------------------- create


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
        raise click.UsageError(f"too many invalid answers to {label!r}")


def _parameter_line(line: str) -> tuple[str, dict]:
    """``name[:type][=default]`` → (name, declaration). Raises ValueError."""
    import re

    import yaml

    from yaml2dag.format.model import PARAMETER_TYPES, build_parameter
    from yaml2dag.format.parameters import check_value, coerce

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
    from yaml2dag.format.errors import ParameterError

    try:
        value = check_value(param, coerce(param, raw) if ptype != "string" else raw)
    except ParameterError as exc:
        raise ValueError(str(exc)) from None
    decl["type"] = ptype
    decl["default"] = value
    return name, decl


def _value(text: str) -> Any:
    """A parameter value typed at a prompt: YAML scalars and lists; templates stay strings."""
    import yaml

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
    import re

    from yaml2dag.format import cron
    from yaml2dag.library.roundtrip import to_yaml
    from yaml2dag.tools.registry import get_tool, tool_names
    from yaml2dag.format.validation import timezone_problem

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
            from yaml2dag.format.schema import did_you_mean

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
            from yaml2dag.library.describe import DescribeError, parse_schedule

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
    from yaml2dag.library.describe import DescribeError, draft_from_description

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


def _template_values(assignments: tuple[str, ...]) -> dict[str, str]:
    from yaml2dag.format.parameters import parse_assignments

    return parse_assignments(assignments)


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@click.argument("assignments", nargs=-1)
@click.option("--interactive", "-i", is_flag=True, help="Answer questions on stdin (the default on a terminal); "
              "with --describe: asked to rephrase each phrase that was not understood.")
@click.option("--from-template", "template", default=None, help="Copy a built-in template; key=value set its defaults.")
@click.option("--from-file", "from_file", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Copy a workflow file (YAML or JSON) under the new name.")
@click.option("--describe", "description", default=None,
              help="Draft the workflow from a sentence, e.g. \"pull latest code, run tests, and deploy if tests pass, "
                   "every weekday at 9am\".")
@click.option("--no-llm", is_flag=True, help="With --describe: use the phrase grammar even when YAML2DAG_LLM_URL is set.")
@click.option("--file", "file_name", default=None, help="File name in the definitions folder (default: <job id>.yaml).")
@YES_OPTION
@FORMAT_OPTION
def create(name: str, assignments: tuple[str, ...], interactive: bool, template: str | None, from_file: str | None,
           description: str | None, no_llm: bool, file_name: str | None, yes: bool, fmt: str) -> None:
    """Create workflow NAME in the definitions folder: interactively, from a template, from a
    file or from a description. The result is validated (with the folder: its name and job id
    must be new) before it is saved; an existing file is never overwritten."""
    from yaml2dag.format.errors import ParameterError, WorkflowNotFoundError
    from yaml2dag.format.model import slugify
    from yaml2dag.library.roundtrip import RoundTripDocument, is_json_path, to_yaml

    # with --describe, --interactive (or a terminal) means: ask about the phrases not understood
    ask_rephrasing = description is not None and (interactive or sys.stdin.isatty()) and not yes
    modes = [m for m, on in (("interactive", interactive and description is None), ("template", template),
                             ("file", from_file), ("describe", description is not None)) if on]
    if len(modes) > 1:
        _fail(fmt, "choose one of --interactive, --from-template, --from-file and --describe", 2)
    if not modes:
        if sys.stdin.isatty():
            modes = ["interactive"]
        else:
            _fail(fmt, "say how to create it: --interactive, --from-template T, --from-file F or --describe \"...\"", 2)
    mode = modes[0]
    if assignments and mode != "template":
        _fail(fmt, f"unexpected arguments {' '.join(assignments)} (key=value pairs go with --from-template)", 2)
    if file_name and Path(file_name).suffix.lower() not in (".yaml", ".yml"):
        _fail(fmt, f"--file {file_name}: workflow files end in .yaml or .yml", 2)
    library = _library(fmt)
    out = _out(fmt)
    # refuse before any question is asked (or any model called) when NAME's file is taken
    early = library.folder / (file_name or f"{slugify(name)}.yaml")
    if early.exists():
        _fail(fmt, f"{early} already exists; refusing to overwrite it (use `yaml2dag edit` or `import --force`)", 1)
    review = mode in ("interactive", "describe")
    draft = None
    try:
        if mode == "interactive":
            def check_name(answer: str) -> str:
                """A name whose file or workflow name is taken is asked again."""
                slug = slugify(answer)
                taken = library.folder / (file_name or f"{slug}.yaml")
                if taken.exists():
                    raise ValueError(f"{taken} already exists; choose another name")
                for other in library.reports():
                    owf = other.workflow
                    if owf is not None and (owf.name.casefold() == answer.casefold() or owf.id == slug):
                        raise ValueError(f"the library already has {owf.name!r} ({other.file}); choose another name")
                return answer

            text = _interactive(name, _Prompter(out), check_name)
        elif mode == "template":
            from yaml2dag.library.workflow_templates import instantiate

            text = instantiate(template, name, _template_values(assignments))
        elif mode == "file":
            doc = RoundTripDocument.from_file(from_file)
            doc.set_top("name", name)
            doc.remove_top("id")
            text = to_yaml(doc.data) if is_json_path(from_file) else doc.dump()
        else:
            from yaml2dag.library.describe import DescribeError, draft_from_description, draft_with_llm

            try:
                if os.environ.get("YAML2DAG_LLM_URL") and not no_llm:
                    out.print(f"asking the model at {os.environ['YAML2DAG_LLM_URL']}…", style="dim", markup=False)
                    draft = draft_with_llm(name, description)
                else:
                    for _attempt in range(5):
                        try:
                            draft = draft_from_description(name, description)
                            break
                        except DescribeError as exc:  # nothing understood: ask for the whole sentence again
                            if not ask_rephrasing:
                                raise
                            out.print(f"? {exc}", style="yellow", markup=False)
                            description = _Prompter(out).ask("  say it another way (empty: give up)").strip()
                            if not description:
                                raise
                    else:
                        raise DescribeError("nothing understood after 5 tries; nothing was saved")
                    if ask_rephrasing and draft.problems:
                        draft = _ask_rephrasing(name, description, draft, _Prompter(out))
            except DescribeError as exc:
                _fail(fmt, str(exc), 1)
            text = draft.yaml_text()
    except _Ended:
        out.print("")
        _fail(fmt, "the input ended before the questions did; nothing was saved", 1)
    except (WorkflowNotFoundError, ParameterError, ValueError) as exc:
        _fail(fmt, str(exc), 2)
    from yaml2dag.format.loader import load_text

    def refuse(message: str, code: int = 1, problems: list | None = None) -> None:
        """Fail; the JSON error of a description also says what was understood and what was not."""
        if fmt == "json" and draft is not None:
            print_json({"error": message, "errors": [p.to_dict() for p in problems or []], "draft": draft.to_json()})
            raise SystemExit(code)
        _fail(fmt, message, code, problems)

    data = load_text(text).data
    data = data if isinstance(data, dict) else {}
    # the file follows the final name (the one typed at the prompt, which defaults to NAME)
    final_name = data.get("name") if isinstance(data.get("name"), str) and data.get("name") else name
    job = data["id"] if isinstance(data.get("id"), str) and data["id"] else slugify(final_name)
    target = library.folder / (file_name or f"{job}.yaml")
    if target.exists():
        refuse(f"{target} already exists; refusing to overwrite it (use `yaml2dag edit` or `import --force`)")
    from yaml2dag.library.versions import check_text

    report = check_text(library.folder, text, target)
    if review or not report.valid:
        out.print(f"[bold]{_esc(target)}[/]")
        _show_yaml(out, text)
    if draft is not None:
        for phrase, became in draft.understood:
            out.print(f"  [green]✓[/] {_esc(phrase)} → {_esc(became)}")
        for note in draft.notes:
            out.print(f"  [dim]note: {_esc(note)}[/]")
        for problem in draft.problems if draft.phrases else ():
            what = "refused, left out" if problem.status == "refused" else "not understood, left out"
            out.print(f"  [yellow]? {what}:[/] {_esc(problem.unknown_text())}"
                      + (f" [dim](closest supported phrasing: {_esc(problem.closest)})[/]" if problem.closest else ""))
        for phrase in draft.unknown if not draft.phrases else ():
            out.print(f"  [yellow]? not understood, left out:[/] {_esc(phrase)}")
    if not report.valid:
        refuse("the workflow is not valid; nothing was saved", 1, report.errors)
    for warning in report.warnings:
        out.print(warning.format(), style="yellow", markup=False)
    if draft is not None and draft.unknown and yes:
        refuse(f"{len(draft.unknown)} phrase(s) were not understood: {'; '.join(draft.unknown)}. Rephrase them, "
               "or run without --yes to review and save the rest")
    if review and not yes:
        default = not (draft is not None and draft.unknown)
        question = f"Save to {target}?"
        if draft is not None and draft.unknown:
            question = f"{len(draft.unknown)} phrase(s) were left out. Save the rest to {target}?"
        if not _confirm(out, question, default):
            refuse("not saved")
    from yaml2dag.library.versions import LibraryWriteError, commit_change

    try:
        change = commit_change(library.folder, target, text, action="create", create=True, bump=False)
    except LibraryWriteError as exc:
        refuse(str(exc), 1, exc.problems)
    if fmt == "json" and draft is not None:
        print_json({**change.to_json(), "draft": draft.to_json()})
        return
    _report_change(fmt, change, out if fmt == "text" else None)


# --------------------------------------------------------------------------- edit

_EDIT_MARK = "#! yaml2dag edit: "


def _strip_marks(text: str) -> str:
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith(_EDIT_MARK):
        lines.pop(0)
    return "".join(lines)


def _editor_command(editor: str | None) -> list[str]:
    command = editor or os.environ.get("VISUAL") or os.environ.get("EDITOR") or "vi"
    return shlex.split(command)


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@click.option("--editor", default=None, help="Editor command (default: $VISUAL, $EDITOR, vi).")
@FORMAT_OPTION
def edit(name: str, editor: str | None, fmt: str) -> None:
    """Edit workflow NAME in your editor. On save the file is validated; on errors the editor
    opens again with the errors listed at the top; an invalid file is never saved. Saving
    bumps the version (unless you set a new one) and keeps the previous file."""
    from yaml2dag.library.versions import LibraryWriteError, check_text, commit_change

    library = _library(fmt)
    report = _find(library, name, fmt)
    path = Path(report.file)
    original = path.read_text(encoding="utf-8")
    out = _out(fmt)
    workdir = Path(tempfile.mkdtemp(prefix="yaml2dag-edit-"))
    scratch = workdir / path.name
    scratch.write_text(original, encoding="utf-8")
    last_bad: str | None = None
    try:
        while True:
            try:
                code = subprocess.call([*_editor_command(editor), str(scratch)])
            except OSError as exc:
                _fail(fmt, f"cannot start the editor: {exc}", 2)
            if code != 0:
                _fail(fmt, f"the editor exited with code {code}; nothing was saved", 1)
            text = _strip_marks(scratch.read_text(encoding="utf-8"))
            if not text.strip():
                _fail(fmt, "the file is empty; nothing was saved", 1)
            if text == original:
                if fmt == "json":
                    print_json({"action": "edit", "file": str(path), "changed": False})
                else:
                    out.print("no changes")
                return
            if text == last_bad:
                _fail(fmt, "the file still has the errors above and was not changed; nothing was saved", 1)
            problems: list = []
            message = None
            check = check_text(library.folder, text, path)
            if check.valid:
                try:
                    change = commit_change(library.folder, path, text, action="edit")
                    _report_change(fmt, change, out if fmt == "text" else None)
                    return
                except LibraryWriteError as exc:
                    message, problems = str(exc), exc.problems
            else:
                message, problems = "the file has errors; nothing was saved", check.errors
            out.print(f"[red]error[/]: {_esc(message)}")
            for problem in problems:
                out.print(problem.format(), style="red", markup=False)
            last_bad = text
            if sys.stdin.isatty() and not _confirm(out, "Open the editor again to fix them?", True):
                _fail(fmt, "nothing was saved", 1)
            header = [f"{_EDIT_MARK}fix these and save; save an empty file to give up (these lines are removed)\n"]
            header += [f"{_EDIT_MARK}{p.format()}\n" for p in problems] or [f"{_EDIT_MARK}{message}\n"]
            scratch.write_text("".join(header) + text, encoding="utf-8")
    finally:
        for leftover in workdir.iterdir():
            leftover.unlink()
        workdir.rmdir()


# --------------------------------------------------------------------------- delete


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@YES_OPTION
@FORMAT_OPTION
def delete(name: str, yes: bool, fmt: str) -> None:
    """Delete workflow NAME from the definitions folder (asks first; --yes for scripts). The
    file is kept under .versions/<job>/ so `yaml2dag import` can bring it back."""
    from yaml2dag.library.versions import LibraryWriteError, delete_workflow

    library = _library(fmt)
    report = _find(library, name, fmt)
    out = _out(fmt)
    wf = report.workflow
    users = []
    for other in library.reports():
        if other is report or other.workflow is None:
            continue
        refs = {getattr(e, "workflow", None) for e in other.workflow.iter_steps()}
        refs |= {t.options.get("workflow") for t in other.workflow.triggers if t.type == "workflow"}
        if wf is not None and ({wf.name, wf.id} & {r for r in refs if r}):
            users.append(other.workflow.name)
    if users:
        out.print(f"[yellow]warning[/]: used by {_esc(', '.join(users))} (as a sub-workflow or upstream workflow)")
    label = f"{wf.name if wf else report.file} ({report.file})"
    if not yes and not _confirm(out, f"Delete {label}?", False):
        _fail(fmt, "not deleted", 1)
    try:
        change = delete_workflow(library.folder, report.file, _job_of_report(report))
    except LibraryWriteError as exc:
        _fail(fmt, str(exc), 1)
    change.workflow = wf.name if wf else None
    _report_change(fmt, change, out if fmt == "text" else None)


# --------------------------------------------------------------------------- schedule


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@click.argument("cron_expression", metavar="CRON", required=False)
@click.option("--timezone", "timezone", default=None, help="IANA time zone, e.g. Europe/Berlin (default: keep, else UTC).")
@click.option("--index", type=click.IntRange(min=1), default=None,
              help="Which schedule trigger to replace or remove when the workflow has several (1-based).")
@click.option("--remove", is_flag=True, help="Remove the schedule trigger(s) instead.")
@FORMAT_OPTION
def schedule(name: str, cron_expression: str | None, timezone: str | None, index: int | None, remove: bool,
             fmt: str) -> None:
    """Add or replace the schedule trigger of workflow NAME. CRON is a 5-field cron expression,
    a shorthand (@daily) or a phrase such as "every weekday at 9am". The file keeps its
    comments and key order; the version is bumped and the previous file kept."""
    from yaml2dag.format import cron
    from yaml2dag.library.roundtrip import RoundTripDocument, is_json_path
    from yaml2dag.format.validation import timezone_problem

    if remove == bool(cron_expression):
        _fail(fmt, "give a CRON expression, or --remove", 2)
    library = _library(fmt)
    report = _find(library, name, fmt)
    path = Path(report.file)
    if cron_expression:
        try:
            cron.parse(cron_expression)
        except cron.CronError as exc:
            from yaml2dag.library.describe import DescribeError, parse_schedule

            try:
                cron_expression, phrase_tz = parse_schedule(cron_expression)
            except DescribeError:
                _fail(fmt, f"{cron_expression!r} is not a cron expression ({exc}) nor a schedule phrase "
                           "such as \"every weekday at 9am\"", 2)
            timezone = timezone or phrase_tz
    if timezone:
        problem = timezone_problem(timezone)
        if problem:
            _fail(fmt, f"--timezone: {problem}", 2)
    try:
        doc = RoundTripDocument(path.read_text(encoding="utf-8"), is_json_path(path))
        if remove:
            if doc.remove_schedule(index) == 0:
                _fail(fmt, f"{report.file} has no schedule trigger", 1)
            how = "removed"
        else:
            how = doc.set_schedule(cron_expression, timezone, index)
    except ValueError as exc:
        _fail(fmt, str(exc), 2)
    change = _commit(fmt, library, path, doc.dump(), "schedule")
    if fmt == "json":
        data = change.to_json()
        data.update({"schedule": how, "cron": cron_expression, "timezone": timezone})
        print_json(data)
        return
    out = console()
    _report_change(fmt, change, out)
    if not cron_expression:
        out.print("  schedule removed", markup=False)
        return
    from yaml2dag.format.validation import validate_file

    saved = validate_file(path).workflow
    for trigger in saved.schedules if saved is not None else ():
        expr, tz = trigger.options.get("cron", ""), trigger.options.get("timezone") or "UTC"
        mark = f"{how}: " if expr == cron_expression else ""
        out.print(f"  schedule {mark}{cron.describe(expr, tz)}", markup=False)


# --------------------------------------------------------------------------- export / import


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@click.option("--file", "file", type=click.Path(dir_okay=False), default=None, help="Write to this file instead of stdout.")
@click.option("--format", "fmt", type=click.Choice(["yaml", "json"]), default="yaml", show_default=True,
              help="YAML (the file as it is, comments included) or JSON (the data).")
@click.option("--force", is_flag=True, help="Overwrite --file if it exists.")
def export(name: str, file: str | None, fmt: str, force: bool) -> None:
    """Write workflow NAME as YAML or JSON (to stdout, or --file). With --format json, errors
    are a JSON document too ({"error": ...})."""
    from yaml2dag.format.errors import WorkflowNotFoundError
    from yaml2dag.library.folder import Library
    from yaml2dag.library.roundtrip import is_json_path, to_json, to_yaml
    from yaml2dag.library.versions import LibraryWriteError, check_writable_target

    errors_as = "json" if fmt == "json" else "text"
    try:
        report = Library().find(name)
    except WorkflowNotFoundError as exc:
        _fail(errors_as, str(exc), 2)
    doc = report.document
    if doc.data is None:
        _fail(errors_as, f"{report.file} does not parse; nothing to export", 1, report.errors)
    if fmt == "json":
        text = to_json(doc.data)
    else:
        text = to_yaml(doc.data) if is_json_path(report.file) else doc.text
    if file:
        try:
            check_writable_target(file, force)
        except LibraryWriteError as exc:
            _fail(errors_as, str(exc), 2)
        Path(file).write_text(text, encoding="utf-8")
        click.echo(f"wrote {report.workflow.name if report.workflow else report.file} to {file}", err=True)
    else:
        click.echo(text, nl=False)


@click.command("import", cls=JsonErrorsCommand)
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", "new_name", default=None, help="Import under this workflow name (the job id follows it).")
@click.option("--force", is_flag=True, help="Replace the library workflow of the same name or job id.")
@FORMAT_OPTION
def import_(file: str, new_name: str | None, force: bool, fmt: str) -> None:
    """Add the workflow FILE (YAML or JSON; JSON is converted to YAML) to the definitions
    folder as <job id>.yaml. It is validated first, with the folder. An existing workflow of
    the same name or job id is only replaced with --force (its file is kept as a version)."""
    from yaml2dag.library.roundtrip import RoundTripDocument, is_json_path, to_yaml
    from yaml2dag.format.validation import validate_text
    from yaml2dag.library.versions import archived, is_newer, next_version, version_of

    library = _library(fmt)
    out = _out(fmt)
    try:
        doc = RoundTripDocument.from_file(file)
    except (ValueError, UnicodeDecodeError) as exc:
        _fail(fmt, f"{file}: {exc}", 1)
    if new_name:
        doc.set_top("name", new_name)
        doc.remove_top("id")
    text = to_yaml(doc.data) if is_json_path(file) else doc.dump()
    alone = validate_text(text, file)
    if not alone.valid:
        _fail(fmt, f"{file} is not a valid workflow; nothing was imported", 1, alone.errors)
    wf = alone.workflow
    existing = None
    for other in library.reports():
        owf = other.workflow
        if owf is not None and (owf.name.casefold() == wf.name.casefold() or owf.id == wf.id):
            existing = other
            break
    if existing is not None:
        if not force:
            _fail(fmt, f"the library already has {existing.workflow.name!r} ({existing.file}); use --force to replace "
                       "it, or --name NEW to import a copy", 1)
        target = Path(existing.file)
        current = version_of(target.read_text(encoding="utf-8"))
        known = [v.version.split("+")[0] for v in archived(library.folder, existing.workflow.id)]
        wanted = version_of(text)
        if wanted != current and (wanted in known or is_newer(wanted, current) is False):
            bumped = next_version(current, known)
            out.print(f"note: the imported version {wanted} is not newer than {current}; saving it as {bumped}",
                      style="yellow", markup=False)
            doc2 = RoundTripDocument(text)
            doc2.set_top("version", bumped)
            text = doc2.dump()
        change = _commit(fmt, library, target, text, "import")
    else:
        target = library.folder / f"{wf.id}.yaml"
        change = _commit(fmt, library, target, text, "import", create=True, bump=False)
    _report_change(fmt, change, out if fmt == "text" else None)


# --------------------------------------------------------------------------- versions


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@FORMAT_OPTION
def versions(name: str, fmt: str) -> None:
    """List the versions of workflow NAME: the saved ones (.versions/<job>/) and the current
    file, with the change log (who changed what, when)."""
    from yaml2dag.library.versions import history, read_log

    library = _library(fmt)
    report = _find(library, name, fmt)
    job = _job_of_report(report)
    items = history(library.folder, report.file, job)
    log = read_log(library.folder, job)
    current = next((v for v in items if v.current), None)
    revision = log[-1]["seq"] if log else None
    if fmt == "json":
        print_json({"workflow": report.workflow.name if report.workflow else None, "job": job, "file": report.file,
                    "revision": revision,
                    "current": {"version": current.version, "revision": revision, "hash": current.content_hash,
                                "rollback": current.rollback} if current is not None else None,
                    "versions": [v.to_json() for v in items], "log": log})
        return
    from rich.table import Table

    out = console()
    if current is not None:
        line = f"[bold]{_esc(report.workflow.name if report.workflow else job)}[/]: current version {_esc(current.version)}"
        if revision is not None:
            line += f", revision #{revision}"
        if current.rollback:
            line += (f" — [bold]rolled back[/] to saved version {_esc(current.rollback.get('restored'))} "
                     f"(replacing {_esc(current.rollback.get('previous') or '-')})")
        out.print(line)
    table = Table(box=None, pad_edge=False, show_edge=False)
    for col in ("Version", "Revisions", "Saved (UTC)", "Hash", "File"):
        table.add_column(col, overflow="fold", no_wrap=col != "File")
    for item in items:
        mark = " [bold](current)[/]" if item.current else " (= current)" if item.same_as_current else ""
        try:
            shown = str(Path(item.file).resolve().relative_to(library.folder.resolve()))
        except ValueError:
            shown = item.file
        revs = ", ".join(f"#{n}" for n in item.revisions[-3:]) or "-"
        if item.current and item.rollback:
            revs += " (rollback)"
        table.add_row(_esc(item.version) + mark, revs, item.saved_at.replace("T", " ")[:16],
                      item.content_hash[:12], _esc(shown))
    out.print(table)
    if log:
        out.print("[bold]Changes[/]")
        for entry in log[-20:]:
            what = entry.get("action")
            detail = f"{entry.get('previous') or '-'} → {entry.get('version') or '-'}"
            if entry.get("restored"):
                detail += f" (restored saved version {entry['restored']})"
            out.print(f"  #{entry.get('seq')}  {entry.get('at', '')[:19].replace('T', ' ')}  {what:<9} {detail}  "
                      f"by {entry.get('by')}", markup=False, style="bold" if what == "rollback" else None)


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@click.argument("version")
@FORMAT_OPTION
def rollback(name: str, version: str, fmt: str) -> None:
    """Restore saved VERSION of workflow NAME, byte for byte (its `version` field is VERSION
    again). The rollback is a new revision in the change log; the file it replaces is kept as a
    version, so a rollback can itself be rolled back, and the next change bumps above every
    saved version."""
    from yaml2dag.library.versions import LibraryWriteError, rollback as do_rollback

    library = _library(fmt)
    report = _find(library, name, fmt)
    try:
        change = do_rollback(library.folder, report.file, _job_of_report(report), version)
    except LibraryWriteError as exc:
        _fail(fmt, str(exc), 1, exc.problems)
    _report_change(fmt, change)


@click.command(cls=JsonErrorsCommand)
@click.argument("name")
@click.argument("v1")
@click.argument("v2", required=False, default="current")
@click.option("--context", "-U", "context", type=click.IntRange(min=0), default=3, show_default=True,
              help="Lines of context.")
@FORMAT_OPTION
def diff(name: str, v1: str, v2: str, context: int, fmt: str) -> None:
    """Show a unified diff between versions V1 and V2 (default: the current file) of workflow
    NAME. `current` names the file in the definitions folder."""
    from yaml2dag.library.versions import LibraryWriteError, text_of, version_of

    library = _library(fmt)
    report = _find(library, name, fmt)
    job = _job_of_report(report)
    texts = []
    labels = []
    for version in (v1, v2):
        try:
            if version == "current":
                text = Path(report.file).read_text(encoding="utf-8")
                labels.append(f"{job}@{version_of(text)} (current)")
            else:
                text = text_of(library.folder, report.file, job, version)
                labels.append(f"{job}@{version}")
        except LibraryWriteError as exc:
            _fail(fmt, str(exc), 2)
        texts.append(text)
    lines = list(difflib.unified_diff(texts[0].splitlines(keepends=True), texts[1].splitlines(keepends=True),
                                      fromfile=labels[0], tofile=labels[1], n=context))
    text = "".join(line if line.endswith("\n") else line + "\n" for line in lines)
    if fmt == "json":
        print_json({"workflow": report.workflow.name if report.workflow else None, "job": job, "from": v1, "to": v2,
                    "changed": bool(lines), "diff": text})
        return
    if not lines:
        console().print(f"{labels[0]} and {labels[1]} are identical", markup=False)
        return
    out = console()
    for line in text.splitlines():
        style = "bold" if line.startswith(("+++", "---")) else "green" if line.startswith("+") else \
            "red" if line.startswith("-") else "cyan" if line.startswith("@@") else None
        out.print(line, style=style, markup=False, highlight=False)
