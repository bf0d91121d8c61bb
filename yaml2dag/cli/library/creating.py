"""``yaml2dag create``: a new workflow, interactively, from a template, a file or a description."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from yaml2dag.cli.library.common import (
    YES_OPTION,
    _Ended,
    _confirm,
    _esc,
    _fail,
    _library,
    _out,
    _report_change,
    _show_yaml,
)
from yaml2dag.cli.library.prompts import _Prompter, _ask_rephrasing, _interactive
from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand, print_json
from yaml2dag.format.errors import ParameterError, WorkflowNotFoundError
from yaml2dag.format.loader import load_text
from yaml2dag.format.model import slugify
from yaml2dag.format.parameters import parse_assignments
from yaml2dag.library.describe import DescribeError, draft_from_description, draft_with_llm
from yaml2dag.library.roundtrip import RoundTripDocument, is_json_path, to_yaml
from yaml2dag.library.versions.changes import commit_change
from yaml2dag.library.versions.checks import check_text
from yaml2dag.library.versions.writes import LibraryWriteError
from yaml2dag.library.workflow_templates import instantiate


def _template_values(assignments: tuple[str, ...]) -> dict[str, str]:
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
            text = instantiate(template, name, _template_values(assignments))
        elif mode == "file":
            doc = RoundTripDocument.from_file(from_file)
            doc.set_top("name", name)
            doc.remove_top("id")
            text = to_yaml(doc.data) if is_json_path(from_file) else doc.dump()
        else:
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

    try:
        change = commit_change(library.folder, target, text, action="create", create=True, bump=False)
    except LibraryWriteError as exc:
        refuse(str(exc), 1, exc.problems)
    if fmt == "json" and draft is not None:
        print_json({**change.to_json(), "draft": draft.to_json()})
        return
    _report_change(fmt, change, out if fmt == "text" else None)
