"""A folder of workflow files as a Dagster code location (issue #2, part 6; spec §8; issue 13).

:func:`build_repository` is the code location of ``yaml2dag.definitions``: a
:class:`dagster.RepositoryDefinition` whose jobs are built lazily, by name (Dagster's
``@repository`` returning ``{"jobs": {name: callable}}``, "intended to allow definitions to be
created lazily when accessed by name"). The job names come from the folder's name index
(:class:`yaml2dag.format.name_index.NameIndex`: names and ids read without validating), so the code
server still lists every job, schedule and sensor, while a process that runs one job (a run
worker, ``dagster job execute -j JOB``) validates and compiles only that workflow and the
workflows it names. :func:`build_definitions` builds the same jobs eagerly, as a
:class:`dagster.Definitions` (for ``dg`` components and embedding).

Each workflow becomes a job with its schedules and sensors (:mod:`yaml2dag.triggers`). A file
that fails validation never takes the others down: it appears as a job named after it whose
description holds the errors and whose only op fails with them. The same happens to a file
whose job would reuse an op or graph definition name of an earlier file's job
(:mod:`yaml2dag.format.naming`), which Dagster would refuse for the whole location.
``YAML2DAG_STRICT=1`` (or ``strict=True``) makes any invalid file fail the whole load instead,
for CI (the whole folder is then validated at load).
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from yaml2dag.compiler import job as _job
from yaml2dag.compiler.assets import asset_specs, lazy_repository
from yaml2dag.format.errors import Problem, WorkflowInvalidError
from yaml2dag.format.gc_pause import gc_paused
from yaml2dag.format.model import Workflow
from yaml2dag.format.name_index import IndexEntry, NameIndex, trace
from yaml2dag.format.naming import INVALID_NODE, op_name
from yaml2dag.format.tags import TAG_FILE, TAG_INVALID
from yaml2dag.triggers import build_triggers

STRICT_ENV = "YAML2DAG_STRICT"


def broken_job(name: str, file: str, problems: list[Problem]) -> dg.JobDefinition:
    """The stand-in job of a file that does not validate.

    Its description lists the problems; its only op (``invalid_workflow``) fails with them.
    """
    lines = [p.format() for p in problems] or [f"{file}: invalid workflow"]
    text = "\n".join(lines)

    def compute(context, inputs):
        raise dg.Failure(
            description=f"{file} is not a valid workflow; fix it and reload:\n{text}",
            allow_retries=False,
        )

    op = dg.OpDefinition(
        name=op_name(name, INVALID_NODE),
        ins={},
        outs={},
        compute_fn=compute,
        description="Fails with the validation errors of the workflow file.",
    )
    graph = dg.GraphDefinition(
        name=name,
        node_defs=[op],
        dependencies={dg.NodeInvocation(op.name, alias=INVALID_NODE): {}},
    )
    description = f"INVALID WORKFLOW FILE {file} ({len(problems)} problem(s)):\n\n" + text
    return graph.to_job(
        name=name,
        description=description,
        tags={TAG_INVALID: "true", TAG_FILE: file},
        executor_def=dg.in_process_executor,
    )


def node_def_names(job: dg.JobDefinition) -> list[str]:
    """The op and graph definition names of a job (its root graph included): the names Dagster
    requires to be unique in a code location."""
    return [job.graph.name] + [d.name for d in job.all_node_defs if d.name != job.graph.name]


def _strict_from(strict: bool | None) -> bool:
    if strict is None:
        return os.environ.get(STRICT_ENV, "") not in ("", "0", "false", "no")
    return strict


class _Placeholders(dict):
    """Job name -> an empty job of that name, made on first use: what schedules and sensors
    target while the real jobs are built lazily (Dagster resolves a schedule's or sensor's job by
    name in the repository, ``repository_def.get_job(job_name)``)."""

    def __init__(self, names: set[str]):
        super().__init__()
        self.names = names

    def __contains__(self, name: object) -> bool:
        return name in self.names

    def __missing__(self, name: str) -> dg.JobDefinition:
        if name not in self.names:
            raise KeyError(name)
        job = dg.GraphDefinition(name=name, node_defs=[]).to_job(name=name)
        self[name] = job
        return job


class FolderLocation:
    """The jobs, schedules and sensors of one definitions folder, each job built on demand.

    Construction reads the name index (:class:`~yaml2dag.format.name_index.NameIndex`) and builds
    the schedules and sensors, which validates only the files that have ``triggers`` (and the
    workflows they name). :meth:`job` validates and compiles one workflow (and its
    sub-workflows) when first asked for.

    Args:
        path: the definitions folder (default: ``$YAML2DAG_DEFINITIONS`` or ``./definitions``).
        strict: fail on any invalid file (default: ``$YAML2DAG_STRICT == "1"``); the whole folder
            is validated at construction then.

    Raises:
        WorkflowInvalidError: in strict mode, when a file does not validate (all problems of
            all files are in the message).
    """

    def __init__(self, path: str | Path | None = None, *, strict: bool | None = None):
        self.strict = _strict_from(strict)
        self.index = NameIndex(path)
        if self.strict:
            reports = self.index.folder_reports()  # each file validated once: the jobs reuse these validations
            invalid = [r for r in reports if not r.valid]
            if invalid:
                problems = [p for r in invalid for p in r.errors]
                raise WorkflowInvalidError(", ".join(r.file for r in invalid), problems)
        self.keys = self.index.keys()  # file -> job name
        self.names = list(self.keys.values())
        self._built: dict[str, dg.JobDefinition] = {}
        self._owners: dict[str, str] = {}  # op/graph definition name -> job name, jobs built so far
        self._trigger_errors: dict[str, Exception] = {}
        self.schedules: list[dg.ScheduleDefinition] = []
        self.sensors: list[dg.SensorDefinition] = []

    # ------------------------------------------------------------------ jobs

    def job(self, name: str) -> dg.JobDefinition:
        """The job called ``name`` (built once): the workflow compiled, or the stand-in job
        (:func:`broken_job`) of a file that does not validate or compile, whose definition
        names are taken by an earlier job built in this process, or whose triggers could not be
        built.

        Raises:
            KeyError: no file of the folder has a job of that name.
            WorkflowInvalidError: in strict mode, the workflow does not compile or its names clash.
        """
        built = self._built.get(name)
        if built is not None:
            return built
        entry = self.index.entry_for_key(name)
        if entry is None:
            raise KeyError(name)
        with gc_paused():  # building a job allocates many long-lived objects (benchmarks/definitions_load.py)
            job = self._build(name, entry)
        self._built[name] = job
        return job

    def _build(self, name: str, entry: IndexEntry) -> dg.JobDefinition:
        report = self.index.report(entry)
        if name in self._trigger_errors:
            exc = self._trigger_errors[name]
            return broken_job(name, report.file, [Problem(report.file, 0, 0, "triggers",
                                                          f"could not build the triggers: {type(exc).__name__}: {exc}",
                                                          "trigger")])
        if not (report.valid and report.workflow is not None):
            if self.strict:
                raise WorkflowInvalidError(report.file, report.errors)
            return self._stand_in(name, report.file, report.errors)
        try:
            trace(f"compile {name}")
            job = _job.compile_workflow(report.validated(), resolver=self.index.resolver())
            names = node_def_names(job)
        except Exception as exc:  # noqa: BLE001 - one file never takes the others down
            if self.strict:
                raise
            return self._stand_in(name, report.file, [Problem(
                report.file, 1, 1, "", f"could not compile: {type(exc).__name__}: {exc}", "compile")])
        if job.name != name:  # the index read another id than the loader: never expected
            return self._stand_in(name, report.file, [Problem(
                report.file, 1, 1, "id", f"the job id `{job.name}` differs from the job name `{name}` the folder "
                "index gave this file; please report this file", "internal")])
        taken = [n for n in names if self._owners.get(n, name) != name]
        if taken:
            first = taken[0]
            problem = Problem(report.file, 0, 0, "", f"the Dagster definition name `{first}` is already used by job "
                              f"`{self._owners[first]}`; op and graph names must be unique in a code location "
                              "(rename the step or set a distinct `id`)", "duplicate")
            if self.strict:
                raise WorkflowInvalidError(report.file, [problem])
            return self._stand_in(name, report.file, [problem])
        for n in names:
            self._owners[n] = name
        return job

    def _stand_in(self, name: str, file: str, problems: list[Problem]) -> dg.JobDefinition:
        job = broken_job(name, file, problems)
        for n in node_def_names(job):
            self._owners.setdefault(n, name)
        return job

    # ------------------------------------------------------------------ triggers

    def build_triggers(self, jobs: dict[str, dg.JobDefinition] | None = None) -> None:
        """Build :attr:`schedules` and :attr:`sensors` of the files that have ``triggers``
        (:func:`yaml2dag.triggers.build_triggers`), targeting ``jobs`` by name (default:
        placeholders of the lazily built jobs). A workflow whose triggers cannot be built gets
        its stand-in job instead (validation normally prevents it)."""
        compiled: list[tuple[Workflow, dg.JobDefinition]] = []
        targets = jobs if jobs is not None else _Placeholders(set(self.names))
        for entry in self.index.entries:
            if not entry.has_triggers:
                continue
            report = self.index.report(entry)
            if report.valid and report.workflow is not None:
                compiled.append((report.workflow, targets[self.keys[entry.file]]))
        if not compiled:
            return
        known = self.index.validated_workflows()
        entries = [(known.get(e.file), self.keys[e.file], e.file) for e in self.index.entries]

        def on_error(workflow: Workflow, exc: Exception) -> None:
            if self.strict:
                raise exc
            self._trigger_errors[workflow.id] = exc

        self.schedules, self.sensors = build_triggers(compiled, entries, targets, on_error=on_error)

    # ------------------------------------------------------------------ assets

    def asset_specs(self) -> list[dg.AssetSpec]:
        """The asset specs of the data assets the folder's steps declare
        (:func:`yaml2dag.compiler.assets.asset_specs`). Only files whose text mentions
        ``assets`` or ``deps`` are validated for it; invalid files declare none."""
        pairs = []
        for entry in self.index.entries:
            try:
                text = entry.path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            if "assets" not in text and "deps" not in text:
                continue
            report = self.index.report(entry)
            if report.valid and report.workflow is not None:
                pairs.append((report.workflow, report.plan))
        return asset_specs(pairs)


def build_repository(path: str | Path | None = None, *, strict: bool | None = None) -> dg.RepositoryDefinition:
    """Every workflow of a folder as a Dagster code location whose jobs are built lazily.

    A :class:`dagster.RepositoryDefinition` (``@repository`` returning a dict of job name ->
    callable): Dagster builds a job when it is first asked for by name, so a run worker or
    ``dagster job execute -j JOB`` compiles one workflow; the code server, listing every job,
    builds them all. Job names come from the name index (:mod:`yaml2dag.format.name_index`).

    Args:
        path: the definitions folder (default: ``$YAML2DAG_DEFINITIONS`` or ``./definitions``).
        strict: fail on any invalid file (default: ``$YAML2DAG_STRICT == "1"``).

    Returns:
        The repository, named ``__repository__`` like the one :class:`dagster.Definitions` makes:
        one job per file (stand-in jobs for files that do not validate or compile, see
        :func:`build_definitions`), one schedule per ``schedule`` trigger and the sensors of
        ``file`` and ``workflow`` triggers.

    Raises:
        WorkflowInvalidError: in strict mode, when a file does not validate.
    """
    location = FolderLocation(path, strict=strict)
    location.build_triggers()

    def loader(name: str):
        def load_job() -> dg.JobDefinition:
            return location.job(name)

        return load_job

    data = {
        "jobs": {name: loader(name) for name in location.names},
        "schedules": {s.name: s for s in location.schedules},
        "sensors": {s.name: s for s in location.sensors},
    }
    specs = location.asset_specs()
    if specs:  # the data assets of steps (``assets``): a repository that also holds asset definitions
        return lazy_repository("__repository__", f"yaml2dag workflows of {location.index.folder}",
                               data["jobs"], data["schedules"], data["sensors"], specs)

    @dg.repository(name="__repository__", description=f"yaml2dag workflows of {location.index.folder}")
    def __repository__():
        return data

    return __repository__


def build_definitions(path: str | Path | None = None, *, strict: bool | None = None) -> dg.Definitions:
    """Every workflow of a folder as Dagster definitions: jobs, schedules and sensors, built now.

    The same jobs as :func:`build_repository` (same names, same stand-in jobs), all compiled.
    Python's cyclic garbage collector is paused while each job is compiled: building Dagster
    definitions allocates hundreds of thousands of long-lived objects, and the collector's
    repeated scans of them took 15-20% of the load of 500 workflows
    (``benchmarks/definitions_load.py``, docs/benchmarks.md).

    Args:
        path: the definitions folder (default: ``$YAML2DAG_DEFINITIONS`` or ``./definitions``).
        strict: fail on any invalid file (default: ``$YAML2DAG_STRICT == "1"``).

    Returns:
        A :class:`dagster.Definitions` with one job per file, one schedule per ``schedule``
        trigger and the sensors of ``file`` and ``workflow`` triggers (:mod:`yaml2dag.triggers`).
        Files that do not validate, do not compile, or whose op/graph definition names are
        already taken by an earlier file's job (Dagster refuses a code location where two
        definitions share a name) become stand-in jobs (:func:`broken_job`) whose names are
        free, so the location always loads.

    Raises:
        WorkflowInvalidError: in strict mode, when a file does not validate (all problems of
            all files are in the message).
    """
    location = FolderLocation(path, strict=strict)
    jobs = {name: location.job(name) for name in location.names}
    location.build_triggers(jobs)
    for name in location._trigger_errors:
        location._built.pop(name, None)
        jobs[name] = location.job(name)
    return dg.Definitions(jobs=list(jobs.values()), schedules=location.schedules, sensors=location.sensors,
                          assets=location.asset_specs())
