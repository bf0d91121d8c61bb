"""A folder of workflow files as a Dagster Component (``dg`` projects; issue 14, part 1).

``yaml2dag.WorkflowsComponent`` is the ``dg`` face of :func:`yaml2dag.build_definitions`: a
``defs.yaml`` such as ::

    type: yaml2dag.WorkflowsComponent
    attributes:
      path: .          # the workflow files: this folder (relative paths start at the defs.yaml's folder)
      strict: false    # true: any invalid file fails the load (default: $YAML2DAG_STRICT)

builds exactly the jobs, schedules and sensors the module code location ``yaml2dag.definitions``
builds for that folder (same function, same stand-in jobs for files that do not validate).
The component's own declaration file (``defs.yaml``) is not a workflow and is skipped
(:func:`yaml2dag.format.loader.iter_workflow_files`).

Registration: the ``dagster_dg_cli.registry_modules`` entry point ``yaml2dag = "yaml2dag"``
(pyproject.toml) makes ``dg list components`` show ``yaml2dag.WorkflowsComponent``;
:class:`WorkflowsScaffolder` makes ``dg scaffold defs yaml2dag.WorkflowsComponent NAME`` write
a ``defs.yaml`` and an example workflow beside it. Components API: Dagster 1.13
(``dagster.Component``, ``dagster.Model``, ``dagster.Resolvable``, ``dagster.Scaffolder``;
https://docs.dagster.io/guides/build/components/creating-new-components).

This module imports Dagster; ``import yaml2dag`` does not import it (``yaml2dag.WorkflowsComponent``
loads lazily).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import dagster as dg
from yaml2dag.format.model import slugify
from yaml2dag.location import build_definitions

#: The settings a ``dg scaffold defs`` writes into ``defs.yaml`` (with comments).
DEFS_YAML = """\
type: {type_name}

attributes:
  # Folder of workflow files (.yaml, .yml, .json; searched recursively, names starting with
  # "." or "_" skipped). A relative path starts at this defs.yaml's folder.
  path: .
  # true: any invalid workflow file fails the whole load (for CI). false: an invalid file
  # becomes a stand-in job whose description lists its problems. Unset: $YAML2DAG_STRICT.
  # strict: false
"""

#: ``component.py`` of ``dg scaffold defs yaml2dag.WorkflowsComponent NAME --format python``.
COMPONENT_PY = """\
import dagster as dg

from yaml2dag import WorkflowsComponent


@dg.component_instance
def load(context: dg.ComponentLoadContext) -> WorkflowsComponent:
    # path: the workflow folder, relative to this file's folder; strict: None follows $YAML2DAG_STRICT
    return WorkflowsComponent(path=".", strict=None)
"""

#: The example workflow a ``dg scaffold defs`` writes beside ``defs.yaml``. ``{name}`` is the
#: scaffolded folder's name, so two scaffolded folders never share a job name.
EXAMPLE_WORKFLOW = """\
# An example workflow; see docs/reference/workflow-format.md of yaml2dag for every key.
# `dg launch --job {job_id}` runs it; `yaml2dag validate {file_name}` checks it like a linter.
name: "{workflow_name}"
description: "Greets someone and counts the letters of the greeting"
tags: [example]

parameters:
  who:
    type: string
    default: world
    description: "Whom to greet"

triggers:
  - type: manual
  - type: schedule            # a Dagster schedule, stopped until you turn it on
    cron: "0 9 * * 1-5"
    timezone: UTC
    enabled: false

steps:
  - id: greet
    tool: shell
    parameters:
      command: "echo Hello, {{{{ who }}}}"
  - id: measure
    tool: shell
    parameters:
      args: [python, -c, "import sys; print(len(sys.argv[1]))", "{{{{ greet.output }}}}"]

outputs:
  greeting: "{{{{ greet.output }}}}"
  letters: "{{{{ measure.output }}}}"
"""


class WorkflowsScaffolder(dg.Scaffolder):
    """``dg scaffold defs yaml2dag.WorkflowsComponent NAME``: writes ``defs.yaml`` (YAML format)
    or ``component.py`` (``--format python``) and an example workflow ``hello.yaml`` beside it.

    The example's name is ``"Hello from NAME"`` (job id ``hello_from_<name>``), so each
    scaffolded folder gets its own job name (Dagster refuses two jobs of one name in a code
    location).
    """

    def scaffold(self, request: dg.ScaffoldRequest) -> None:
        """Write the files into ``request.target_path`` (created by ``dg`` before the call).

        Args:
            request: ``dg``'s request: ``type_name`` (``yaml2dag.WorkflowsComponent``),
                ``target_path`` (the new defs folder), ``scaffold_format`` (``yaml`` or
                ``python``), ``append`` (add a document to an existing ``defs.yaml``).
        """
        target = Path(request.target_path)
        if request.append:
            dg.scaffold_component(request, {"path": "."})
        elif request.scaffold_format == "python":
            target.mkdir(parents=True, exist_ok=True)
            (target / "component.py").write_text(COMPONENT_PY, encoding="utf-8")
        else:
            target.mkdir(parents=True, exist_ok=True)
            (target / "defs.yaml").write_text(DEFS_YAML.format(type_name=request.type_name), encoding="utf-8")
        folder = target if target.is_dir() else target.parent
        workflow_name = f"Hello from {folder.name}"
        example = folder / "hello.yaml"
        if not example.exists():
            example.write_text(EXAMPLE_WORKFLOW.format(workflow_name=workflow_name, job_id=slugify(workflow_name),
                                                       file_name=example.name), encoding="utf-8")


@dg.scaffold_with(WorkflowsScaffolder)
class WorkflowsComponent(dg.Component, dg.Model, dg.Resolvable):
    """A folder of yaml2dag workflow files: one Dagster job per workflow, with its schedules
    and sensors.

    Builds what the module code location ``yaml2dag.definitions`` builds
    (:func:`yaml2dag.build_definitions`): a file that does not validate becomes a stand-in job
    whose description lists its problems (``FILE:LINE:COL: PATH: MESSAGE [rule]``) and whose
    only op fails with them, unless ``strict`` is on.
    """

    path: Annotated[str, dg.Resolver.default(
        description="Folder of workflow files (.yaml, .yml, .json; recursive). A relative path "
                    "starts at the folder of this component's defs.yaml. Default: that folder.",
        examples=[".", "../../../workflows"],
    )] = "."
    strict: Annotated[Optional[bool], dg.Resolver.default(
        description="true: any invalid workflow file fails the load, naming FILE:LINE:COL of "
                    "each problem (for CI). false: invalid files become stand-in jobs. "
                    "Default: the YAML2DAG_STRICT environment variable (1 = strict).",
        examples=[True, False],
    )] = None

    @classmethod
    def get_spec(cls) -> dg.ComponentTypeSpec:
        return dg.ComponentTypeSpec(
            description="yaml2dag workflow files as Dagster jobs, schedules and sensors",
            tags=["yaml2dag", "workflows"],
            produces=["job", "schedule", "sensor"],
        )

    def folder(self, context: dg.ComponentLoadContext) -> Path:
        """The workflow folder: ``path``, relative to the component's folder (the folder of its
        ``defs.yaml`` or ``component.py``) unless absolute; ``~`` expanded."""
        path = Path(self.path).expanduser()
        if path.is_absolute():
            return path
        return self._base(context) / path

    @staticmethod
    def _base(context: dg.ComponentLoadContext) -> Path:
        """The component's folder: ``context.path`` is the folder for a ``defs.yaml`` component
        and the ``component.py`` file itself for a Python one."""
        here = Path(context.path)
        return here.parent if here.is_file() else here

    def build_defs(self, context: dg.ComponentLoadContext) -> dg.Definitions:
        """The jobs, schedules and sensors of the folder's workflows.

        Returns:
            :func:`yaml2dag.build_definitions` of :meth:`folder`.

        Raises:
            FileNotFoundError: the folder does not exist (a typo in ``path`` would otherwise
                load nothing, silently).
            yaml2dag.WorkflowInvalidError: in strict mode, a file does not validate; the
                message lists every problem as ``FILE:LINE:COL: PATH: MESSAGE [rule]``.
        """
        folder = self.folder(context)
        if not folder.is_dir():
            raise FileNotFoundError(
                f"yaml2dag.WorkflowsComponent: the workflow folder {folder} does not exist "
                f"(attribute `path: {self.path}`, relative to {self._base(context)})")
        return build_definitions(folder, strict=self.strict)


__all__ = ["WorkflowsComponent", "WorkflowsScaffolder"]
