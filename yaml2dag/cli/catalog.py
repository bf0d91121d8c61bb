"""``yaml2dag schema``, ``list`` and ``show``: reading the library without importing Dagster."""

from __future__ import annotations

import datetime as _dt
from types import SimpleNamespace
from typing import Any

import click

from yaml2dag.cli.reference import render
from yaml2dag.cli.output import FORMAT_OPTION, JsonErrorsCommand, console, fail, fail_as, print_json, print_table
from zoneinfo import ZoneInfo
from rich.markup import escape
from rich.table import Table
from yaml2dag.cli.planview import parameter_rows, plan_json, print_plan
from yaml2dag.format import cron
from yaml2dag.format.errors import WorkflowNotFoundError
from yaml2dag.format.plan import build_plan
from yaml2dag.format.schema import schema_text
from yaml2dag.format.trigger_names import trigger_names
from yaml2dag.library.folder import Library
from yaml2dag.library.workflow_templates import list_templates
from yaml2dag.runs.history.fast_path import has_run_storage, last_runs_sqlite
from yaml2dag.runs.history.queries import last_runs
from yaml2dag.runs.runner import get_instance, instance_home
from yaml2dag.runs.storage import describe


@click.command()
@click.option("--markdown", is_flag=True,
              help="Print the generated tables of the format reference instead (docs/reference/"
                   "workflow-format.md): every schema object, tool action and command, between markers.")
@click.option("--lang", type=click.Choice(["en", "zh"]), default="en", show_default=True,
              help="With --markdown: the language of the table headers.")
def schema(markdown: bool, lang: str) -> None:
    """Print the workflow JSON Schema.

    Point editors at it with a first line such as
    `# yaml-language-server: $schema=./workflow.schema.json`.
    """
    if markdown:
        click.echo(render(lang), nl=False)
        return

    click.echo(schema_text(), nl=False)


def _schedule_info(workflow) -> list[dict[str, Any]]:
    """Each schedule trigger of ``workflow`` as JSON: its Dagster ``name``
    (:mod:`yaml2dag.format.trigger_names`), ``cron``, ``timezone``, ``enabled``, ``description`` (in
    words) and ``next_run`` (ISO 8601 in its zone; None when the cron is invalid)."""
    out = []
    now = _dt.datetime.now(_dt.timezone.utc)
    for trig, names in zip(workflow.triggers, trigger_names(workflow)):
        if trig.type != "schedule":
            continue
        expr = trig.options.get("cron", "")
        tz_name = trig.options.get("timezone") or "UTC"
        item = {"name": names[0], "cron": expr, "timezone": tz_name, "enabled": trig.enabled}
        try:
            tz = ZoneInfo(tz_name)
            item["description"] = cron.describe(expr, tz_name)
            nxt = cron.next_times(expr, now.astimezone(tz), 1)
            item["next_run"] = nxt[0].isoformat() if nxt else None
        except Exception:  # noqa: BLE001 - invalid files are shown, not crashed on
            item["description"] = expr
            item["next_run"] = None
        out.append(item)
    return out


def _schedule_line(item: dict[str, Any], now: _dt.datetime) -> str:
    """One schedule for people: ``At 06:30, Monday through Friday (Europe/Berlin), next in 3h``;
    a disabled one ends with ``(disabled)`` instead of a next run."""
    if not item.get("enabled", True):
        return f"{item['description']} (disabled)"
    if item.get("next_run"):
        return f"{item['description']}, next {_ago(item['next_run'], now)}"
    return item["description"]


def _summary(report) -> dict[str, Any]:
    wf = report.workflow
    step_count = sum(1 for _ in wf.iter_steps(include_on_failure=False)) if wf else 0
    return {
        "name": wf.name if wf else None,
        "id": wf.id if wf else None,
        "file": report.file,
        "version": wf.version if wf else None,
        "description": wf.description if wf else "",
        "author": wf.author if wf else "",
        "tags": list(wf.tags) if wf else [],
        "steps": step_count,
        "valid": report.valid,
        "errors": len(report.errors),
        "schedules": _schedule_info(wf) if wf else [],
    }


def _ago(iso: str | None, now: _dt.datetime) -> str:
    """``2h ago`` / ``in 3d`` for an ISO time, relative to ``now``."""
    if not iso:
        return "-"
    try:
        moment = _dt.datetime.fromisoformat(iso)
    except ValueError:
        return iso
    seconds = (moment - now).total_seconds()
    span = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if span >= size:
            text = f"{int(span // size)}{unit}"
            break
    else:
        text = f"{int(span)}s"
    return f"in {text}" if seconds > 0 else f"{text} ago"


def _last_runs(rows: list[dict[str, Any]]) -> str | None:
    """Add ``last_run`` to each row from the Dagster instance, when it holds runs.

    The default SQLite run storage is read directly (no Dagster import); Dagster is imported
    only for another configured storage, so ``list`` stays fast. Returns an error message when the instance cannot be read.
    """
    for info in rows:
        info["last_run"] = None
    if not has_run_storage():
        return None
    try:
        jobs = [info["id"] for info in rows if info["id"]]
        found = last_runs_sqlite(instance_home(), jobs)
        if found is None:
            found = last_runs(get_instance(), jobs)
    except Exception as exc:  # noqa: BLE001 - list must work even when the instance does not
        # a damaged storage file: one line naming it (yaml2dag.runs.storage), not the database's text
        return f"cannot read runs from the Dagster instance: {describe(exc, instance_home()) or exc}"
    for info in rows:
        run = found.get(info["id"])
        if run is not None:
            info["last_run"] = {k: run.get(k) for k in ("run_id", "status", "canceling", "trigger", "version",
                                                        "created_at", "started_at", "ended_at", "duration_s")}
    return None


def _matches(info: dict[str, Any], wanted_tags: set[str], search: str | None) -> bool:
    """Whether a row passes ``--tags`` (all of them) and ``--search`` (a substring)."""
    if wanted_tags and not wanted_tags <= {t.casefold() for t in info["tags"]}:
        return False
    if search:
        hay = " ".join(str(info[k] or "") for k in ("name", "id", "description", "author", "file"))
        hay += " " + " ".join(info["tags"])
        if search.casefold() not in hay.casefold():
            return False
    return True


def _template_rows(rows: list[dict[str, Any]], wanted_tags: set[str], search: str | None) -> list[dict[str, Any]]:
    """The built-in templates as ``list`` rows (``"template": true``), those a library workflow
    shadows (same name or job id: ``run NAME`` runs the library's) left out."""
    names = {str(r["name"]).casefold() for r in rows if r["name"]} | {r["id"] for r in rows if r["id"]}
    out = []
    for info in list_templates():
        wf = info.workflow
        if wf is None or wf.name.casefold() in names or wf.id in names:
            continue
        report = SimpleNamespace(workflow=wf, file=info.file, valid=True, errors=())
        row = {**_summary(report), "template": True, "next_run": None}
        if _matches(row, wanted_tags, search):
            out.append(row)
    return out


@click.command("list", cls=JsonErrorsCommand)
@click.option("--tags", "tags", multiple=True, help="Only workflows with this tag (repeatable; comma lists allowed).")
@click.option("--search", "search", default=None, help="Only workflows whose name, id, description or tags contain this text.")
@click.option("--no-runs", is_flag=True, help="Do not read the last runs from the Dagster instance.")
@click.option("--templates", "with_templates", is_flag=True,
              help="Also list the built-in workflow templates (`yaml2dag run NAME` runs one when the "
                   "library has no workflow of that name).")
@FORMAT_OPTION
def list_(tags: tuple[str, ...], search: str | None, no_runs: bool, with_templates: bool, fmt: str) -> None:
    """List the workflows of the definitions folder, with their last run and next scheduled run.

    With --templates, the built-in templates follow in a section of their own (JSON: rows with
    "template": true; library rows have "template": false)."""
    library = Library()
    if not library.folder.is_dir() and not with_templates:
        fail_as(fmt, f"the definitions folder {library.folder} does not exist (set YAML2DAG_DEFINITIONS)", 2)
    wanted_tags = {t.strip().casefold() for item in tags for t in item.split(",") if t.strip()}
    rows = []
    for report in library.reports() if library.folder.is_dir() else []:
        info = _summary(report)
        if not _matches(info, wanted_tags, search):
            continue
        upcoming = [s["next_run"] for s in info["schedules"] if s.get("next_run") and s.get("enabled", True)]
        info["next_run"] = min(upcoming, key=lambda t: _dt.datetime.fromisoformat(t)) if upcoming else None
        info["template"] = False
        rows.append(info)
    templates = _template_rows(rows, wanted_tags, search) if with_templates else []
    runs_error = None
    if no_runs:
        for info in rows + templates:
            info["last_run"] = None
    else:
        runs_error = _last_runs(rows + templates)
    if fmt == "json":
        data: dict[str, Any] = {"definitions": str(library.folder), "workflows": rows + templates}
        if runs_error:
            data["runs_error"] = runs_error
        print_json(data)
        return
    out = console()
    if runs_error:
        click.echo(f"warning: {runs_error}", err=True)
    if not rows:
        out.print("no workflows match" if (tags or search) else f"no workflows in {library.folder}", markup=False)
    now = _dt.datetime.now(_dt.timezone.utc)
    show_runs = any(info["last_run"] for info in rows + templates)
    if rows:
        _print_rows(out, rows, show_runs, now)
    if templates:
        out.print()
        out.print(f"[bold]Built-in templates[/] [dim]({len(templates)}; `yaml2dag run NAME` runs one as it is, "
                  "`yaml2dag templates NAME` shows it)[/]")
        _print_rows(out, templates, show_runs, now)


def _print_rows(out: Any, rows: list[dict[str, Any]], show_runs: bool, now: _dt.datetime) -> None:
    """One table of ``list`` rows."""
    headers = ["Name", "Job", "Steps"] + ["Last run"] * show_runs + ["Tags", "Schedules", "Description"]
    styles = {"completed": "green", "failed": "red", "canceled": "yellow", "running": "cyan", "paused": "magenta"}
    table = []
    for info in rows:
        name = info["name"] or info["file"]
        cells: list[Any] = [name if info["valid"] else (f"✗ {name} ({info['errors']} error(s))", "red"),
                            (info["id"] or "-", "cyan"), str(info["steps"])]
        if show_runs:
            run = info["last_run"]
            if run is None:
                cells.append("-")
            else:
                when = _ago(run["started_at"] or run["created_at"], now)
                cells.append((f"{run['status']} {when}", styles.get(run["status"])))
        # one line per schedule, each with its own next run (or "(disabled)")
        schedule = "\n".join(_schedule_line(s, now) for s in info["schedules"]) or "-"
        cells += [", ".join(info["tags"]) or "-", schedule, info["description"] or ""]
        table.append(cells)
    # names and job ids are never cut; tags are cut, schedules and descriptions wrap onto more
    # lines; on a narrow terminal the description (shown by `show`) is left out
    last = len(headers) - 1
    print_table(out, headers, table, shrink=(last - 2, last - 1, last), right=(2,), wrap=(last - 1, last),
                optional=(last,))


def _parameter_json(param) -> dict[str, Any]:
    """A parameter declaration as JSON: native default (None when required) and constraints."""
    item: dict[str, Any] = {"name": param.name, "type": param.type, "required": param.required,
                            "default": None if param.required else param.default,
                            "description": param.description}
    for key in ("enum", "minimum", "maximum", "pattern", "items_type"):
        value = getattr(param, key)
        if value is not None:
            item[key] = list(value) if key == "enum" else value
    if param.is_secret:
        item["env"] = param.env_var
    return item


@click.command()
@click.argument("name")
@FORMAT_OPTION
def show(name: str, fmt: str) -> None:
    """Show one workflow (by name, job id or file): parameters, steps, triggers, outputs."""
    library = Library()
    try:
        report = library.find(name)
    except WorkflowNotFoundError as exc:
        fail(str(exc))
    wf = report.workflow

    def upstream_job(ref: str) -> str | None:
        """The job id of the workflow a ``workflow`` trigger names (None when unknown)."""
        try:
            found = library.find(ref).workflow
        except WorkflowNotFoundError:
            return None
        return found.id if found is not None else None

    if fmt == "json":
        data = _summary(report)
        if wf is not None:
            data["parameters"] = [_parameter_json(p) for p in wf.parameters]
            data["plan"] = plan_json(wf, build_plan(wf))

            # dagster_names: the Dagster schedule/sensor name(s) of each trigger ([] for manual)
            data["triggers"] = [{"type": t.type, **dict(t.options), "parameters": dict(t.parameters),
                                 "dagster_names": names}
                                for t, names in zip(wf.triggers, trigger_names(wf, upstream_job))]
        data["problems"] = [p.to_dict() for p in report.problems]
        print_json(data)
        raise SystemExit(0 if report.valid else 1)
    out = console()
    if wf is None:
        for problem in report.problems:
            out.print(problem.format(), style="red", markup=False)
        raise SystemExit(1)

    out.print(f"[bold]{escape(wf.name)}[/]  [dim]{escape(report.file)}[/]")
    if wf.description:
        out.print(wf.description, markup=False)
    meta = [f"job {wf.id}", f"version {wf.version}"]
    if wf.author:
        meta.append(f"author {wf.author}")
    if wf.tags:
        meta.append("tags " + ", ".join(wf.tags))
    out.print(" · ".join(meta), style="dim", markup=False)
    if wf.parameters:
        table = Table(title="Parameters", box=None, title_justify="left", pad_edge=False)
        for col in ("Name", "Type", "Default", "Description"):
            table.add_column(col, overflow="fold")
        for row in parameter_rows(wf):
            table.add_row(*(escape(cell) for cell in row))
        out.print(table)
    out.print("[bold]Triggers[/]")

    schedules = iter(_schedule_info(wf))
    for trig, names in zip(wf.triggers, trigger_names(wf, upstream_job)):
        # each trigger with its Dagster schedule/sensor name(s), as in the UI
        line = f"  {trig.type}" + (f" {', '.join(names)}" if names else "")
        if trig.type == "schedule":
            info = next(schedules)
            line += f": {info['description']}"
            if not trig.enabled:
                line += " (disabled)"
            elif info.get("next_run"):
                line += f", next {info['next_run']}"
        elif trig.type == "file":
            line += f": {trig.options.get('path')} {trig.options.get('pattern', '*')}"
        elif trig.type == "workflow":
            line += f": after {trig.options.get('workflow')!r} ({trig.options.get('status', 'success')})"
        if trig.type != "manual" and not trig.enabled and trig.type != "schedule":
            line += " (disabled)"
        out.print(line, markup=False)
    out.print("[bold]Plan[/]")
    print_plan(out, wf, build_plan(wf))
    for problem in report.problems:
        out.print(problem.format(), style="red" if problem.severity == "error" else "yellow", markup=False)
    raise SystemExit(0 if report.valid else 1)
