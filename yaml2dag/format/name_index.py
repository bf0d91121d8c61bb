"""The name index of a definitions folder: which file a workflow name, job id or job name means,
read without validating the folder (issue 13, part 1).

A process that runs one workflow (a Dagster run worker, ``dagster job execute -m
yaml2dag.definitions -j JOB``, ``yaml2dag run NAME``) needs the job names of the whole folder
(Dagster lists them) but must validate and compile only its own workflow and the workflows that
one names (sub-workflows, upstream workflows of ``workflow`` triggers). :class:`NameIndex` reads
the top-level ``name`` and ``id`` of every file with a line scan (no YAML parse; a file the scan
cannot read with certainty is parsed by the loader instead), and:

* gives every file its job name (:meth:`NameIndex.keys`) by the rules of the code location
  (:mod:`yaml2dag.location`): a valid workflow's job is named after its job id; the
  stand-in job of an invalid file keeps its job id when no earlier file claims it, else takes
  its file name (``_2``, ``_3``... when taken);
* finds a workflow by name the way :meth:`yaml2dag.format.workflow_folder.WorkflowFolder.find` does
  (:meth:`NameIndex.find`) and a sub-workflow the way the validator does
  (:meth:`NameIndex.lookup`);
* validates one file with every check across files that concerns it (:meth:`NameIndex.report`):
  the folder checks of :func:`yaml2dag.format.validation.folder_problems` over the file and the
  workflows it names (transitively), plus duplicate names and job ids against every other file
  of the index.

Dagster keeps every op and graph definition name of a code location in one namespace; names are
``<job id>__<node>`` (:mod:`yaml2dag.format.naming`), so two jobs can only clash when one job id
starts with the other followed by ``_``. Files whose job ids are related that way (a rare case)
are validated when the job names are first asked for, with the folder's definition-name check
over them; every other file keeps the job id it declares.

The line scan of the headers is :mod:`yaml2dag.format.name_scan` (:class:`IndexEntry`,
:func:`read_entry`, still importable from here). Nothing here imports Dagster.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from typing import Iterable

from yaml2dag.format.errors import WorkflowNotFoundError, sort_problems
from yaml2dag.format.model import IDENTIFIER, SubWorkflow, iter_entries, slugify
from yaml2dag.format.naming import INVALID_NODE, op_name
from yaml2dag.format.validation import FileReport, definition_name_problems, folder_problems, validate_file
from yaml2dag.format.definitions_folder import DEFINITIONS_ENV, definitions_dir
from yaml2dag.format.errors import WorkflowInvalidError
from yaml2dag.format.loader import iter_workflow_files
from yaml2dag.format.name_scan import IndexEntry, read_entry
from yaml2dag.format.schema import did_you_mean

#: Environment variable naming a file to which every validation and compilation of a workflow in
#: this process appends one line (``validate FILE`` / ``compile JOB``); for tests and profiling.
TRACE_ENV = "YAML2DAG_TRACE_BUILDS"


def trace(line: str) -> None:
    """Append ``line`` to the file named by ``$YAML2DAG_TRACE_BUILDS`` (nothing when unset)."""
    target = os.environ.get(TRACE_ENV)
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()} {line}\n")


def _related(ids: Iterable[str]) -> set[str]:
    """The job ids that start with another job id followed by ``_``, and those other ids:
    the only ids whose Dagster definition names can clash (module docstring)."""
    known = set(ids)
    out: set[str] = set()
    for value in known:
        for i, ch in enumerate(value):
            if ch == "_" and i and value[:i] in known:
                out.add(value)
                out.add(value[:i])
    return out


class NameIndex:
    """The workflows of one definitions folder by name, job id and job name (module docstring).

    Args:
        folder: the definitions folder (default: :func:`yaml2dag.format.definitions_folder.definitions_dir`).
    """

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder) if folder is not None else definitions_dir()
        self.entries: list[IndexEntry] = [read_entry(p) for p in iter_workflow_files(self.folder)] \
            if self.folder.is_dir() else []
        self._order = {e.file: i for i, e in enumerate(self.entries)}
        self._by_resolved: dict[str, IndexEntry] | None = None
        self._raw: dict[str, FileReport] = {}
        self._reports: dict[str, FileReport] = {}
        self._keys: dict[str, str] | None = None
        self._by_key: dict[str, IndexEntry] = {}
        self._forced: dict[str, list] = {}
        self._related_ids: set[str] | None = None
        # the validator's lookup (yaml2dag.format.validation._lookup): one table, first file wins
        self._lookup: dict[str, IndexEntry] = {}
        for e in self.entries:
            if not e.mapping:
                continue
            for key in (e.name.casefold() if e.name else None, e.id, e.stem):
                if key and key not in self._lookup:
                    self._lookup[key] = e
        self._duplicates = self._duplicate_names()

    # ------------------------------------------------------------------ finding

    def lookup(self, ref: str) -> IndexEntry | None:
        """The file a sub-workflow step or ``workflow`` trigger naming ``ref`` means: a workflow
        name (ignoring case), a job id or a file name without extension, the first file of the
        folder that has it as any of them (the validator's rule)."""
        return self._lookup.get(ref.casefold()) or self._lookup.get(ref)

    def entry_of(self, path: str | Path) -> IndexEntry | None:
        """The entry of a file of the folder (any spelling of its path), or None."""
        if self._by_resolved is None:
            self._by_resolved = {str(e.path.resolve()): e for e in self.entries}
        return self._by_resolved.get(str(Path(path).resolve()))

    def find_entry(self, ref: str) -> IndexEntry:
        """The file ``ref`` names, by :meth:`yaml2dag.format.workflow_folder.WorkflowFolder.find`'s rules: a
        workflow name (ignoring case), then a job id, then a file name without extension.

        Raises:
            WorkflowNotFoundError: nothing matches; the message suggests the closest name.
        """
        if not self.folder.is_dir():
            raise WorkflowNotFoundError(
                f"no workflow {ref!r}: the definitions folder {self.folder} does not exist "
                f"(set {DEFINITIONS_ENV} or run from the project folder)")
        wanted = ref.casefold()
        for rule in (lambda e: e.name and e.name.casefold() == wanted, lambda e: e.id == ref,
                     lambda e: e.stem == ref):
            for e in self.entries:
                if e.mapping and rule(e):
                    return e
        for e in self.entries:  # a file that is no mapping still has a file name
            if e.stem == ref:
                return e
        names = [e.name for e in self.entries if e.name]
        hint = did_you_mean(ref, names)
        known = ", ".join(repr(n) for n in names) or "none"
        raise WorkflowNotFoundError(f"no workflow named {ref!r} in {self.folder}{hint} (workflows: {known})")

    def find(self, ref: str) -> FileReport:
        """The validated workflow ``ref`` names: a file path, or a name, job id or file name
        (:meth:`find_entry`). Only that file and the workflows it names are validated
        (:meth:`report`); a file outside the folder is validated alone, as
        :meth:`yaml2dag.format.workflow_folder.WorkflowFolder.find` does.

        Raises:
            WorkflowNotFoundError: nothing matches; the message suggests the closest name.
        """
        path = Path(ref)
        if path.suffix.lower() in (".yaml", ".yml", ".json") and path.is_file():
            entry = self.entry_of(path)
            if entry is None:
                trace(f"validate {path}")
                return validate_file(path)
            return self.report(entry)
        return self.report(self.find_entry(ref))

    # ------------------------------------------------------------------ validating

    def _validated(self, entry: IndexEntry) -> FileReport:
        """``validate_file`` of one entry, once per index (callers get copies to add to)."""
        report = self._raw.get(entry.file)
        if report is None:
            trace(f"validate {entry.file}")
            report = validate_file(entry.path)
            self._raw[entry.file] = report
        return replace(report, problems=list(report.problems))

    def folder_reports(self) -> list[FileReport]:
        """Every file of the index validated with the checks across the whole folder, as
        :meth:`yaml2dag.format.workflow_folder.WorkflowFolder.reports` gives them (strict mode
        checks these), sharing this index's per-file validations: a file is parsed and validated
        once per index, however many of :meth:`report` and this method ask for it."""
        reports = [self._validated(e) for e in self.entries]  # copies: the folder checks add to them
        folder_problems(reports)
        return reports

    def closure(self, entry: IndexEntry) -> list[IndexEntry]:
        """``entry`` and every file it names, transitively (sub-workflow steps, ``workflow``
        triggers), in folder order."""
        seen = {entry.file: entry}
        todo = [entry]
        while todo:
            current = todo.pop()
            wf = self._raw_workflow(current)
            if wf is None:
                continue
            refs = [e.workflow for e in list(iter_entries(wf.steps)) + list(iter_entries(wf.on_failure))
                    if isinstance(e, SubWorkflow) and e.workflow]
            refs += [str(t.options.get("workflow", "")) for t in wf.triggers if t.type == "workflow"]
            for ref in refs:
                found = self.lookup(ref) if ref else None
                if found is not None and found.file not in seen:
                    seen[found.file] = found
                    todo.append(found)
        return sorted(seen.values(), key=lambda e: self._order.get(e.file, -1))

    def validated_workflows(self) -> dict:
        """``file -> Workflow`` of the files this index has validated so far (files without a
        workflow left out)."""
        return {file: r.workflow for file, r in self._raw.items() if r.workflow is not None}

    def _raw_workflow(self, entry: IndexEntry):
        if entry.file not in self._raw:
            self._validated(entry)
        return self._raw[entry.file].workflow

    def report(self, entry: IndexEntry) -> FileReport:
        """One file validated with every check across files that concerns it (cached).

        The checks of :func:`yaml2dag.format.validation.folder_problems` run over the file and
        the workflows it names (:meth:`closure`); duplicate workflow names and job ids are
        checked against every file of the index; files whose job ids could clash in Dagster's
        definition names also get the folder's definition-name check (module docstring).
        Workflows named by the file are validated, never the rest of the folder.

        Returns:
            The :class:`~yaml2dag.format.validation.FileReport` (``file`` as the folder lists it).
        """
        cached = self._reports.get(entry.file)
        if cached is not None:
            return cached
        if entry.has_triggers:
            self._trigger_reports()
            return self._reports[entry.file]
        members = self.closure(entry)
        reports = [self._validated(e) for e in members]
        folder_problems(reports)
        report = next(r for r, e in zip(reports, members) if e.file == entry.file)
        self._finish(entry, report, {e.file for e in members})
        return report

    def _finish(self, entry: IndexEntry, report: FileReport, checked: set[str]) -> None:
        """Add the problems found against files outside ``checked`` and cache the report."""
        self._add_duplicates(entry, report, checked)
        if self._keys is not None or self._needs_group(entry):
            self.keys()
            report.problems += [p for p in self._forced.get(entry.file, []) if p not in report.problems]
        report.problems[:] = sort_problems(report.problems)
        self._reports[entry.file] = report

    def _trigger_reports(self) -> None:
        """The reports of every file with ``triggers``, checked together (trigger names are
        unique across the folder) with the workflows they name, once."""
        with_triggers = [e for e in self.entries if e.has_triggers]
        files: dict[str, IndexEntry] = {}
        for e in with_triggers:
            for member in self.closure(e):
                files[member.file] = member
        members = sorted(files.values(), key=lambda e: self._order.get(e.file, -1))
        reports = [self._validated(e) for e in members]
        folder_problems(reports)
        checked = set(files)
        for e, report in zip(members, reports):
            if e.has_triggers:
                self._finish(e, report, checked)

    def _duplicate_names(self) -> dict[str, list[tuple[str, IndexEntry]]]:
        """``file -> [(kind, earlier entry)]``: the validator's duplicate name and job id rule
        (:func:`yaml2dag.format.validation._name_problems`) over the whole index."""
        out: dict[str, list[tuple[str, IndexEntry]]] = {}
        by_name: dict[str, IndexEntry] = {}
        by_id: dict[str, IndexEntry] = {}
        for e in self.entries:
            if not e.mapping or not e.name:
                continue
            key = e.name.casefold()
            if key in by_name:
                out.setdefault(e.file, []).append(("name", by_name[key]))
            else:
                by_name[key] = e
            if e.id and e.id in by_id and by_id[e.id] is not by_name.get(key, e):
                out.setdefault(e.file, []).append(("id", by_id[e.id]))
            else:
                by_id.setdefault(e.id, e)
        return out

    def _add_duplicates(self, entry: IndexEntry, report: FileReport, checked: set[str]) -> None:
        """The duplicate problems of ``entry`` against files outside ``checked`` (those inside
        were compared by :func:`folder_problems`), worded as the validator words them."""
        wf = report.workflow
        doc = report.document
        if wf is None:
            return
        for kind, other in self._duplicates.get(entry.file, []):
            if other.file in checked:
                continue
            if kind == "name":
                report.problems.append(doc.problem(("name",), f"workflow name {wf.name!r} is also used by "
                                                   f"{other.file} (names are unique, ignoring case)", "duplicate"))
            else:
                where = ("id",) if isinstance(doc.data, dict) and "id" in doc.data else ("name",)
                report.problems.append(doc.problem(where, f"job id `{wf.id}` is also used by {other.file}; "
                                                   "set a distinct `id`", "duplicate"))

    # ------------------------------------------------------------------ job names

    def _needs_group(self, entry: IndexEntry) -> bool:
        if self._related_ids is None:
            self._related_ids = _related(e.id for e in self.entries if e.mapping and e.id and IDENTIFIER.match(e.id))
        return bool(entry.id) and entry.id in self._related_ids

    def keys(self) -> dict[str, str]:
        """``file -> job name`` for every file of the index, in folder order (see the module
        docstring for the rules). Files whose job ids are related (one is the other followed by
        ``_...``) are validated here; no other file is."""
        if self._keys is not None:
            return self._keys
        self._keys = {}
        candidates = [e for e in self.entries if e.mapping and e.id and IDENTIFIER.match(e.id)]
        related = _related(e.id for e in candidates)
        group = [e for e in candidates if e.id in related]
        group_valid = self._group_validity(group)
        claimed: dict[str, IndexEntry] = {}
        pending: list[IndexEntry] = []
        for e in self.entries:
            ok = e.mapping and e.id and IDENTIFIER.match(e.id) and e.id not in claimed
            if ok and e.file in group_valid and not group_valid[e.file]:
                ok = False
            if ok:
                claimed[e.id] = e
                self._keys[e.file] = e.id
            else:
                pending.append(e)
        taken = set(claimed)
        ids = {e.id for e in candidates}
        for e in pending:
            bases = [b for b in ((e.id if e.id and IDENTIFIER.match(e.id) else None), slugify(e.stem)) if b]
            name = next((b for b in bases if self._free(b, taken, ids, own=e.id)), None)
            if name is None:
                base, n = bases[-1], 2
                while not self._free(f"{base}_{n}", taken, ids, own=e.id):
                    n += 1
                name = f"{base}_{n}"
            taken.add(name)
            self._keys[e.file] = name
        self._keys = {e.file: self._keys[e.file] for e in self.entries}
        self._by_key = {key: e for e in self.entries for key in [self._keys[e.file]]}
        return self._keys

    @staticmethod
    def _free(name: str, taken: set[str], ids: set[str], own: str) -> bool:
        """Whether a stand-in job may take ``name``: no job takes it, and no job id is related
        to it (so neither the stand-in's graph nor its op ``<name>__invalid_workflow`` can meet
        another job's definition names)."""
        if name in taken or op_name(name, INVALID_NODE) in taken:
            return False
        for other in taken | (ids - {own}):
            if other == name or other.startswith(name + "_") or name.startswith(other + "_"):
                return False
        return True

    def _group_validity(self, group: list[IndexEntry]) -> dict[str, bool]:
        """``file -> valid`` for the files of related job ids, the folder's definition-name check
        included (its problems are kept for :meth:`report`)."""
        if not group:
            return {}
        files: dict[str, IndexEntry] = {}
        for e in group:
            for member in self.closure(e):
                files[member.file] = member
        ordered = sorted(files.values(), key=lambda e: self._order.get(e.file, -1))
        reports = []
        for e in ordered:
            report = self._validated(e)
            members = self.closure(e)
            if len(members) > 1:
                rs = [self._validated(m) for m in members]
                folder_problems(rs)
                report = next(r for r, m in zip(rs, members) if m.file == e.file)
            self._add_duplicates(e, report, {m.file for m in members})
            reports.append(report)
        before = [len(r.problems) for r in reports]
        definition_name_problems(reports)
        out = {}
        for e, report, size in zip(ordered, reports, before):
            self._forced[e.file] = report.problems[size:]
            out[e.file] = report.valid
        return {e.file: out[e.file] for e in group}

    def entry_for_key(self, key: str) -> IndexEntry | None:
        """The file whose job is named ``key``, or None."""
        self.keys()
        return self._by_key.get(key)

    # ------------------------------------------------------------------ sub-workflows

    def resolver(self):
        """``resolve(name) -> (Workflow, folder)`` for the compiler
        (:func:`yaml2dag.compiler.job.compile_workflow`): the sub-workflow ``name`` means, from
        :meth:`lookup`, validated by :meth:`report`.

        Raises (from the returned function):
            WorkflowInvalidError: no file has that name, or it does not validate.
        """
        def resolve(name: str):
            entry = self.lookup(name)
            if entry is None:
                raise WorkflowInvalidError(name, [])
            report = self.report(entry)
            if not report.valid or report.workflow is None:
                raise WorkflowInvalidError(report.file, report.errors)
            source = report.workflow.source.file
            return report.workflow, None if source in ("", "<string>") else str(Path(source).resolve().parent)

        return resolve


__all__ = ["IndexEntry", "NameIndex", "TRACE_ENV", "read_entry", "trace"]
