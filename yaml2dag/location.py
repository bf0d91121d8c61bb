"""A folder of workflow files as a Dagster code location (issue #2, part 6; spec §8).

:func:`build_definitions` validates every file of the folder and compiles each valid one into a
job, with its schedules and sensors (:mod:`yaml2dag.triggers`). A file that fails validation
never takes the others down: it appears as a job named after it whose description holds the
errors and whose only op fails with them. The same happens to a file whose job would reuse an
op or graph definition name of an earlier file's job (:mod:`yaml2dag.format.naming`), which Dagster
would refuse for the whole location.
``YAML2DAG_STRICT=1`` (or ``strict=True``) makes any invalid file fail the whole load instead,
for CI.
"""

from __future__ import annotations

import gc
import os
from pathlib import Path

import dagster as dg

from yaml2dag.compiler.assets import asset_specs
from yaml2dag.compiler.job import compile_workflow, folder_resolver
from yaml2dag.format.errors import Problem, WorkflowInvalidError
from yaml2dag.library.folder import Library
from yaml2dag.format.model import IDENTIFIER, Workflow, slugify
from yaml2dag.format.naming import INVALID_NODE, op_name
from yaml2dag.triggers import build_triggers

STRICT_ENV = "YAML2DAG_STRICT"
TAG_INVALID = "yaml2dag/invalid"


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
        tags={TAG_INVALID: "true", "yaml2dag/file": file},
        executor_def=dg.in_process_executor,
    )


def _broken_name(report, taken: set[str]) -> str:
    """A job name for the stand-in job of ``report`` whose graph and op names are free."""
    wf = report.workflow
    candidates = []
    if wf is not None and wf.id and IDENTIFIER.match(wf.id):
        candidates.append(wf.id)
    candidates.append(slugify(Path(report.file).stem))

    def free(name: str) -> bool:
        return name not in taken and op_name(name, INVALID_NODE) not in taken

    for base in candidates:
        if free(base):
            return base
    base = candidates[-1]
    n = 2
    while not free(f"{base}_{n}"):
        n += 1
    return f"{base}_{n}"


def node_def_names(job: dg.JobDefinition) -> list[str]:
    """The op and graph definition names of a job (its root graph included): the names Dagster
    requires to be unique in a code location."""
    return [job.graph.name] + [d.name for d in job.all_node_defs if d.name != job.graph.name]


def build_definitions(path: str | Path | None = None, *, strict: bool | None = None) -> dg.Definitions:
    """Every workflow of a folder as Dagster definitions: jobs, schedules and sensors.

    Python's cyclic garbage collector is paused while the folder is compiled (and restored
    after): building Dagster definitions allocates hundreds of thousands of long-lived objects,
    and the collector's repeated scans of them took 15-20% of the load of 500 workflows
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
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _build_definitions(path, strict)
    finally:
        if collecting:
            gc.enable()


def _build_definitions(path: str | Path | None, strict: bool | None) -> dg.Definitions:
    library = Library(path)
    if strict is None:
        strict = os.environ.get(STRICT_ENV, "") not in ("", "0", "false", "no")
    reports = library.reports()
    invalid = [r for r in reports if not r.valid]
    if strict and invalid:
        problems = [p for r in invalid for p in r.errors]
        raise WorkflowInvalidError(", ".join(r.file for r in invalid), problems)
    # valid files first, in file order: their node names are claimed before any stand-in is named
    slots: list[tuple[dg.JobDefinition, tuple[Workflow | None, str, str]] | None] = [None] * len(reports)
    compiled: list[tuple[Workflow, dg.JobDefinition]] = []
    owners: dict[str, str] = {}  # op/graph definition name -> job name
    broken: list[tuple[int, list[Problem]]] = []
    for i, report in enumerate(reports):
        if not (report.valid and report.workflow is not None):
            broken.append((i, report.errors))
            continue
        try:
            job = compile_workflow(report.validated(), resolver=folder_resolver(None, library))
            names = node_def_names(job)
        except Exception as exc:  # noqa: BLE001 - one file never takes the others down
            if strict:
                raise
            broken.append((i, [Problem(report.file, 1, 1, "", f"could not compile: {type(exc).__name__}: {exc}",
                                       "compile")]))
            continue
        taken = [n for n in names if n in owners]
        if taken:
            first = taken[0]
            problem = Problem(report.file, 0, 0, "", f"the Dagster definition name `{first}` is already used by job "
                              f"`{owners[first]}`; op and graph names must be unique in a code location (rename "
                              "the step or set a distinct `id`)", "duplicate")
            if strict:
                raise WorkflowInvalidError(report.file, [problem])
            broken.append((i, [problem]))
            continue
        for n in names:
            owners[n] = job.name
        compiled.append((report.workflow, job))
        slots[i] = (job, (report.workflow, job.name, report.file))
    taken_names = set(owners) | {wf.id for wf, _job in compiled}
    for i, problems in broken:
        report = reports[i]
        name = _broken_name(report, taken_names)
        taken_names |= {name, op_name(name, INVALID_NODE)}
        slots[i] = (broken_job(name, report.file, problems), (report.workflow, name, report.file))
    jobs = [slot[0] for slot in slots if slot is not None]
    entries = [slot[1] for slot in slots if slot is not None]
    schedules, sensors = _triggers(compiled, entries, jobs, strict)
    # the data assets the steps declare (``assets``, ``deps``): asset specs, grouped by workflow
    specs = asset_specs([(r.workflow, r.plan) for r in reports if r.valid and r.workflow is not None])
    return dg.Definitions(jobs=jobs, schedules=schedules, sensors=sensors, assets=specs)


def _triggers(compiled: list[tuple[Workflow, dg.JobDefinition]], entries: list[tuple[Workflow | None, str, str]],
              jobs: list[dg.JobDefinition], strict: bool) -> tuple[list, list]:
    """Schedules and sensors of the compiled workflows (:func:`yaml2dag.triggers.build_triggers`).

    A workflow whose triggers cannot be built (validation normally prevents it) has its job
    replaced, in place in ``jobs``, by the broken-workflow job carrying the error.
    """
    by_name = {job.name: job for job in jobs}
    failed: dict[str, Exception] = {}

    def on_error(workflow: Workflow, exc: Exception) -> None:
        if strict:
            raise exc
        failed[workflow.id] = exc

    schedules, sensors = build_triggers(compiled, entries, by_name, on_error=on_error)
    for i, job in enumerate(jobs):
        if job.name in failed:
            workflow = next(wf for wf, j in compiled if j is job)
            exc = failed[job.name]
            problem = Problem(workflow.source.file, 0, 0, "triggers",
                              f"could not build the triggers: {type(exc).__name__}: {exc}", "trigger")
            jobs[i] = broken_job(job.name, workflow.source.file, [problem])
    return schedules, sensors
