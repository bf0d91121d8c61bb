"""A folder of workflow files as a Dagster code location (issue #2, part 6; spec §8).

:func:`build_definitions` validates every file of the folder and compiles each valid one into a
job, with its schedules. A file that fails validation never takes the others down: it appears
as a job named after it whose description holds the errors and whose only op fails with them.
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


def schedules_for(workflow: Workflow, job: dg.JobDefinition) -> list[dg.ScheduleDefinition]:
    """One :class:`dagster.ScheduleDefinition` per schedule trigger (spec §7).

    Names: the trigger's ``name``, else ``<job>_schedule`` (``<job>_schedule_<n>`` from the
    second schedule on, in file order).
    """
    from .cron import normalize

    out = []
    schedules = workflow.schedules
    for i, trig in enumerate(schedules, start=1):
        name = trig.name or (f"{workflow.id}_schedule" if i == 1 else f"{workflow.id}_schedule_{i}")
        out.append(dg.ScheduleDefinition(
            name=name,
            job=job,
            cron_schedule=normalize(trig.options["cron"]),
            execution_timezone=trig.options.get("timezone") or "UTC",
            run_config=dict(trig.parameters),
            tags={"yaml2dag/trigger": "schedule"},
            default_status=(dg.DefaultScheduleStatus.RUNNING if trig.enabled
                            else dg.DefaultScheduleStatus.STOPPED),
            description=trig.description or f"{workflow.name}: {trig.options['cron']}",
        ))
    return out


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
    """Every workflow of a folder as Dagster definitions (jobs and schedules).

    Args:
        path: the definitions folder (default: ``$YAML2DAG_DEFINITIONS`` or ``./definitions``).
        strict: fail on any invalid file (default: ``$YAML2DAG_STRICT == "1"``).

    Returns:
        A :class:`dagster.Definitions` with one job per file.

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
    schedules: list[dg.ScheduleDefinition] = []
    taken = {r.workflow.id for r in reports if r.valid and r.workflow is not None}
    for report in reports:
        if report.valid and report.workflow is not None:
            try:
                job = compile_workflow(report.workflow, resolver=folder_resolver(None, library))
                jobs.append(job)
                schedules += schedules_for(report.workflow, job)
                continue
            except Exception as exc:  # noqa: BLE001 - one file never takes the others down
                if strict:
                    raise
                problem = Problem(report.file, 0, 0, "", f"could not compile: {type(exc).__name__}: {exc}", "compile")
                taken.discard(report.workflow.id)
                name = _broken_name(report, taken)
                taken.add(name)
                jobs.append(broken_job(name, report.file, [problem]))
                continue
        name = _broken_name(report, taken)
        taken.add(name)
        jobs.append(broken_job(name, report.file, report.errors))
    return dg.Definitions(jobs=jobs, schedules=schedules)
