"""A folder of workflow files as a Dagster code location (issue #2, part 6; spec §8).

:func:`build_definitions` validates every file of the folder and compiles each valid one into a
job, with its schedules and sensors (:mod:`yaml2dag.triggers`). A file that fails validation
never takes the others down: it appears as a job named after it whose description holds the
errors and whose only op fails with them.
``YAML2DAG_STRICT=1`` (or ``strict=True``) makes any invalid file fail the whole load instead,
for CI.
"""

from __future__ import annotations

import os
from pathlib import Path

import dagster as dg

from .errors import Problem, WorkflowInvalidError
from .library import Library
from .model import IDENTIFIER, Workflow, slugify

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
        name=f"{name}__invalid_workflow",
        ins={},
        outs={},
        compute_fn=compute,
        description="Fails with the validation errors of the workflow file.",
    )
    graph = dg.GraphDefinition(
        name=name,
        node_defs=[op],
        dependencies={dg.NodeInvocation(op.name, alias="invalid_workflow"): {}},
    )
    description = f"INVALID WORKFLOW FILE {file} ({len(problems)} problem(s)):\n\n" + text
    return graph.to_job(
        name=name,
        description=description,
        tags={TAG_INVALID: "true", "yaml2dag/file": file},
        executor_def=dg.in_process_executor,
    )


def _broken_name(report, taken: set[str]) -> str:
    wf = report.workflow
    candidates = []
    if wf is not None and wf.id and IDENTIFIER.match(wf.id):
        candidates.append(wf.id)
    candidates.append(slugify(Path(report.file).stem))
    for base in candidates:
        if base not in taken:
            return base
    base = candidates[-1]
    n = 2
    while f"{base}_{n}" in taken:
        n += 1
    return f"{base}_{n}"


def build_definitions(path: str | Path | None = None, *, strict: bool | None = None) -> dg.Definitions:
    """Every workflow of a folder as Dagster definitions: jobs, schedules and sensors.

    Args:
        path: the definitions folder (default: ``$YAML2DAG_DEFINITIONS`` or ``./definitions``).
        strict: fail on any invalid file (default: ``$YAML2DAG_STRICT == "1"``).

    Returns:
        A :class:`dagster.Definitions` with one job per file, one schedule per ``schedule``
        trigger and the sensors of ``file`` and ``workflow`` triggers (:mod:`yaml2dag.triggers`).

    Raises:
        WorkflowInvalidError: in strict mode, when a file does not validate (all problems of
            all files are in the message).
    """
    from .compiler.job import compile_workflow, folder_resolver

    library = Library(path)
    if strict is None:
        strict = os.environ.get(STRICT_ENV, "") not in ("", "0", "false", "no")
    reports = library.reports()
    invalid = [r for r in reports if not r.valid]
    if strict and invalid:
        problems = [p for r in invalid for p in r.errors]
        raise WorkflowInvalidError(", ".join(r.file for r in invalid), problems)
    jobs: list[dg.JobDefinition] = []
    compiled: list[tuple[Workflow, dg.JobDefinition]] = []
    entries: list[tuple[Workflow | None, str, str]] = []  # (workflow, job name, file) per file
    taken = {r.workflow.id for r in reports if r.valid and r.workflow is not None}
    for report in reports:
        if report.valid and report.workflow is not None:
            try:
                job = compile_workflow(report.workflow, resolver=folder_resolver(None, library))
                jobs.append(job)
                compiled.append((report.workflow, job))
                entries.append((report.workflow, job.name, report.file))
                continue
            except Exception as exc:  # noqa: BLE001 - one file never takes the others down
                if strict:
                    raise
                problem = Problem(report.file, 0, 0, "", f"could not compile: {type(exc).__name__}: {exc}", "compile")
                taken.discard(report.workflow.id)
                name = _broken_name(report, taken)
                taken.add(name)
                jobs.append(broken_job(name, report.file, [problem]))
                entries.append((report.workflow, name, report.file))
                continue
        name = _broken_name(report, taken)
        taken.add(name)
        jobs.append(broken_job(name, report.file, report.errors))
        entries.append((report.workflow, name, report.file))
    schedules, sensors = _triggers(compiled, entries, jobs, strict)
    return dg.Definitions(jobs=jobs, schedules=schedules, sensors=sensors)


def _triggers(compiled: list[tuple[Workflow, dg.JobDefinition]], entries: list[tuple[Workflow | None, str, str]],
              jobs: list[dg.JobDefinition], strict: bool) -> tuple[list, list]:
    """Schedules and sensors of the compiled workflows (:func:`yaml2dag.triggers.build_triggers`).

    A workflow whose triggers cannot be built (validation normally prevents it) has its job
    replaced, in place in ``jobs``, by the broken-workflow job carrying the error.
    """
    from .triggers import build_triggers

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
