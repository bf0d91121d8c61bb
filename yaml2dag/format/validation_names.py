"""Names that must be unique across the files of a folder: workflow names and job ids, the
Dagster op/graph definition names of the jobs, and schedule/sensor names (issue #2, spec §7).

Nothing here imports Dagster.
"""

from __future__ import annotations

from yaml2dag.format.errors import Problem
from yaml2dag.format.naming import DefinitionName, definition_names
from yaml2dag.format.validation_lookup import _resolver
from yaml2dag.format.validation_report import FileReport
from yaml2dag.format.validation_triggers import trigger_name_clashes
from yaml2dag.format.trigger_names import trigger_names


def _name_problems(reports: list[FileReport]) -> None:
    """Duplicate workflow names (ignoring case) and job ids across files, in place."""
    by_name: dict[str, FileReport] = {}
    by_id: dict[str, FileReport] = {}
    for report in reports:
        wf = report.workflow
        if wf is None or not wf.name:
            continue
        key = wf.name.casefold()
        doc = report.document
        if key in by_name:
            other = by_name[key]
            report.problems.append(doc.problem(("name",), f"workflow name {wf.name!r} is also used by "
                                               f"{other.file} (names are unique, ignoring case)", "duplicate"))
        else:
            by_name[key] = report
        if wf.id and wf.id in by_id and by_id[wf.id] is not by_name.get(key, report):
            other = by_id[wf.id]
            where = ("id",) if isinstance(doc.data, dict) and "id" in doc.data else ("name",)
            report.problems.append(doc.problem(where, f"job id `{wf.id}` is also used by {other.file}; "
                                               "set a distinct `id`", "duplicate"))
        else:
            by_id.setdefault(wf.id, report)


def report_definition_names(report: FileReport, resolve=None) -> list[DefinitionName]:
    """The Dagster op/graph definition names the job of a valid report will have
    (:func:`yaml2dag.format.naming.definition_names`); ``resolve(report, name) -> FileReport | None``
    finds sub-workflows (default: none are followed)."""
    wf = report.workflow
    if wf is None or report.plan is None:
        return []
    doc = report.document
    root_path = ("id",) if isinstance(doc.data, dict) and "id" in doc.data else ("name",)

    def child(name: str):
        found = resolve(report, name) if resolve is not None else None
        if found is None or found.workflow is None or found.plan is None or found.errors:
            return None
        return found.workflow, found.plan

    return definition_names(wf, report.plan, child, root_path)


def definition_name_problems(reports: list[FileReport]) -> None:
    """Report Dagster definition names that two jobs would share, in place (issue #2).

    Dagster keeps the op and graph definitions of a code location in one namespace and refuses
    to load a location where two differ under one name ("Conflicting definitions found in
    repository"). Names are ``<job>__<step>`` (:mod:`.naming`), so job ``a`` with step ``b`` and
    a workflow with id ``a__b`` clash, and so do job ``a_`` step ``b`` and job ``a`` step ``_b``.
    Files are taken in order; the error goes on the later one (its line, naming the other file),
    and only files without other errors take part (an invalid file becomes a stand-in job).
    """
    resolve = _resolver(reports)
    owners: dict[str, tuple[FileReport, DefinitionName]] = {}
    for report in reports:
        if report.errors or report.workflow is None or report.plan is None:
            continue
        names = report_definition_names(report, resolve)
        own: dict[str, DefinitionName] = {}
        clashes: list[Problem] = []
        for dn in names:
            if dn.name in own:
                first = own[dn.name]
                line = report.document.position(first.path)[0]
                clashes.append(report.document.problem(
                    dn.path, f"the {dn.what} would be named `{dn.name}`, like the {first.what} (line {line}); "
                    "Dagster op and graph names must be unique: rename one of the steps", "duplicate"))
                continue
            own[dn.name] = dn
            if dn.name in owners:
                other, theirs = owners[dn.name]
                clashes.append(report.document.problem(
                    dn.path, f"the {dn.what} would be named `{dn.name}`, like the {theirs.what} in {other.file} "
                    f"(Dagster names ops `<job>__<step>`; op and graph names must be unique in a code location): "
                    "rename the step or set a distinct `id`", "duplicate"))
        if clashes:
            report.problems += clashes
            continue
        for name, dn in own.items():
            owners[name] = (report, dn)


def trigger_name_problems(reports: list[FileReport]) -> None:
    """Check schedule and sensor names across files, in place (spec §7, Dagster: every schedule
    and sensor name of a code location is unique). A name that an earlier valid file of the
    folder already uses, explicit ``name:`` or generated, is an error on the later file's
    trigger; generated names of ``workflow`` triggers use the upstream's job id."""
    resolve = _resolver(reports)
    owners: dict[str, FileReport] = {}
    for report in reports:
        wf = report.workflow
        if wf is None:
            continue

        def upstream_job(ref: str, report: FileReport = report) -> str | None:
            found = resolve(report, ref)
            return found.workflow.id if found is not None and found.workflow is not None else None

        doc = report.document
        for problem in trigger_name_clashes(wf, upstream_job):
            report.problems.append(doc.problem(*problem))
        own: set[str] = set()
        for trig, names in zip(wf.triggers, trigger_names(wf, upstream_job)):
            for name in names:
                other = owners.get(name)
                if other is not None and other is not report:
                    where = trig.path + ("name",) if trig.name else trig.path
                    what = f"trigger name `{name}`" if trig.name else f"this trigger's Dagster name `{name}`"
                    fix = "set another `name:`" if trig.name else "add a `name:`"
                    report.problems.append(doc.problem(where, f"{what} is also the name of a trigger of {other.file} "
                                                       "(schedule and sensor names are unique in the code "
                                                       f"location): {fix}", "trigger"))
                own.add(name)
        if report.valid:
            for name in own:
                owners.setdefault(name, report)
