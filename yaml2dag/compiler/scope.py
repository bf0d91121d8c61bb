"""What the ops of one compiled workflow share: parameters, template scope, secrets, run info.

A :class:`CompiledWorkflow` exists per workflow *per place it is compiled*: the top-level
workflow of a job reads its parameters from the ``yaml2dag`` resource (run config), while a
workflow inlined as a sub-workflow reads them from its graph input ``workflow_parameters``.
"""

from __future__ import annotations

import datetime as _dt
import json
from typing import Any, Callable, Mapping

from yaml2dag.format.model import Workflow
from yaml2dag.format.naming import op_name
from yaml2dag.format.run_trigger import trigger_kind
from yaml2dag.format.tags import (  # noqa: F401 - re-exported for older importers
    TAG_FOR_EACH, TAG_HASH, TAG_MAX_ATTEMPTS, TAG_PARALLEL_GROUP, TAG_STEP_KIND, TAG_TRIGGER, TAG_TRIGGER_INFO,
    TAG_VERSION, TAG_WORKFLOW,
)
from yaml2dag.format.secrets import SECRETS, SecretNotSetError, SecretStore, mask, seal, unseal
from yaml2dag.tools.base import ToolContext, ToolLog
from yaml2dag.compiler import runtime
from yaml2dag.compiler.approval_gate import InstanceApprovals
from yaml2dag.compiler.config import RESOURCE_KEY
from yaml2dag.compiler.run_health import ProcessRecorder
import dagster as dg

#: Input through which the ops of a sub-workflow receive its parameter values.
PARAMS_INPUT = "workflow_parameters"


class DagsterToolLog(ToolLog):
    """A :class:`ToolLog` that writes to the Dagster event log of the step."""

    def __init__(self, log: Any):
        self._log = log

    def info(self, message: str) -> None:
        self._log.info(message)

    def warning(self, message: str) -> None:
        self._log.warning(message)

    def error(self, message: str) -> None:
        self._log.error(message)

    def debug(self, message: str) -> None:
        self._log.debug(message)


def _run_of(context: Any) -> Any:
    """The ``DagsterRun`` an op or hook context belongs to (``None`` if storage has none)."""
    run = getattr(context, "run", None)
    if run is None:
        run = context.instance.get_run_by_id(context.run_id)
    return run


def run_tags(context: Any) -> Mapping[str, str]:
    """Tags of the run an op or hook context belongs to."""
    run = _run_of(context)
    return run.tags if run is not None else {}


def _trigger_of_context(context: Any) -> str:
    run = _run_of(context)
    if run is None:
        return trigger_kind({})
    return trigger_kind(run.tags, getattr(run, "remote_job_origin", None) is not None)


def _started_at(context: Any) -> str:
    record = context.instance.get_run_record_by_id(context.run_id)
    stamp = record.start_time if record is not None and record.start_time else None
    moment = _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc) if stamp else _dt.datetime.now(_dt.timezone.utc)
    return moment.isoformat()


class CompiledWorkflow:
    """One workflow as compiled into (part of) a job.

    Args:
        workflow: the workflow.
        workflow_dir: its folder (python callables may be imported from it).
        prefix: prefix of op definition names (unique in the code location).
        params_input: parameters come from the ``workflow_parameters`` input (sub-workflows).
        resolver: finds another workflow of the folder by name: ``resolver(name) ->
            (Workflow, workflow_dir)`` (sub-workflows).
        parent: the workflow this one is inlined into.
        node_path: step ids from the job's root graph down to this workflow's graph.
        supervised: the job of a supervised run: every step asks before it runs
            (:mod:`yaml2dag.format.run_modes`); inherited from ``parent``.
    """

    def __init__(self, workflow: Workflow, workflow_dir: str | None, *, prefix: str | None = None,
                 params_input: bool = False,
                 resolver: Callable[[str], tuple[Workflow, str | None]] | None = None,
                 parent: "CompiledWorkflow | None" = None, node_path: tuple[str, ...] = (),
                 supervised: bool = False):
        self.workflow = workflow
        self.workflow_dir = workflow_dir
        self.prefix = prefix or workflow.id
        self.params_input = params_input
        self.resolver = resolver
        self.parent = parent
        self.root: CompiledWorkflow = parent.root if parent is not None else self
        self.node_path = node_path
        self.supervised = parent.supervised if parent is not None else supervised
        self.secrets = SecretStore(workflow)
        #: the workflows inlined by this one's sub-workflow steps, by step id (set by the graph
        #: builder)
        self.children: dict[str, CompiledWorkflow] = {}

    def tree(self):
        """This workflow and every workflow inlined below it, depth first."""
        yield self
        for child in self.children.values():
            yield from child.tree()

    def at(self, path: tuple[str, ...]) -> "CompiledWorkflow | None":
        """The workflow inlined at ``path`` (sub-workflow step ids from here), or None."""
        node: CompiledWorkflow | None = self
        for part in path:
            node = node.children.get(part) if node is not None else None
        return node

    # -- names
    def op_name(self, node: str) -> str:
        """The op definition name of ``node`` (:func:`yaml2dag.format.naming.op_name`)."""
        return op_name(self.prefix, node)

    def step_key(self, node: str) -> str:
        """The Dagster step key of a node of this workflow's graph."""
        return ".".join(self.node_path + (node,))

    # -- values
    def params(self, context: Any, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The parameter values of this workflow in an op: run config at the top level, the
        ``workflow_parameters`` input (sealed, see :meth:`seal`) inside a sub-workflow.

        Raises:
            dagster.Failure: a sealed secret's environment variable is not set here.
        """
        if self.params_input:
            return self.unseal(dict(inputs[PARAMS_INPUT]))
        return dict(context.resources.yaml2dag["parameters"])

    def _chain(self):
        node: CompiledWorkflow | None = self
        while node is not None:
            yield node
            node = node.parent

    def secret_values(self) -> tuple[str, ...]:
        """Values of the secrets of this workflow and of the workflows it is inlined in
        (longest first, for masking)."""
        values: set[str] = set()
        for node in self._chain():
            values |= set(node.secrets.values())
        return tuple(sorted(values, key=len, reverse=True))

    def seal(self, value: Any) -> Any:
        """``value`` with the secrets of this workflow (and its parents) replaced by references to
        their environment variables, for values Dagster stores between steps (spec §3: a secret
        never reaches run storage); :meth:`unseal` reads them back in the step that uses them."""
        variables: dict[str, str] = {}
        for node in self._chain():
            for secret, var in node.secrets.by_value().items():
                variables.setdefault(secret, var)
        return seal(value, variables)

    def unseal(self, value: Any) -> Any:
        """The reverse of :meth:`seal`, reading the environment of this process.

        Raises:
            dagster.Failure: a sealed secret's environment variable is not set here.
        """
        try:
            return unseal(value)
        except SecretNotSetError as exc:
            raise dg.Failure(description=str(exc), allow_retries=False) from None

    def run_info(self, context: Any) -> Mapping[str, Any]:
        """``run.*`` for templates; ``started_at`` is looked up only when used."""
        root = self.root.workflow
        values = {
            "id": context.run_id,
            "workflow": root.name,
            "job": root.id,
            "version": root.version,
            "trigger": _trigger_of_context(context),
        }
        return runtime.LazyMapping(values, {"started_at": lambda: _started_at(context)})

    def trigger_info(self, context: Any) -> Mapping[str, Any]:
        raw = run_tags(context).get(TAG_TRIGGER_INFO)
        if not raw:
            return {}
        try:
            value = json.loads(raw)
        except ValueError:
            return {}
        return value if isinstance(value, dict) else {}

    def scope(self, context: Any, params: Mapping[str, Any], results: Mapping[str, Any],
              extra: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The template scope of an op (spec §5)."""
        values = dict(params)
        values.update(self.secrets.parameter_values())
        scope = runtime.build_scope(values, results, self.run_info(context),
                                    trigger=self.trigger_info(context), secrets=SECRETS, extra=extra)
        return scope

    def tool_context(self, context: Any, step_id: str, timeout: float | None,
                     secret_values: tuple[str, ...], step_key: str | None = None) -> ToolContext:
        key = step_key or context.get_step_execution_context().step.key
        resources: dict[str, Any] = {"approvals": InstanceApprovals(context.instance, context.run_id, key, secret_values)}
        run = _run_of(context)
        if run is not None:  # process groups the step starts are recorded (killed if the run's process dies)
            resources["processes"] = ProcessRecorder(context.instance, run, key)
        return ToolContext(
            step_id, run_id=context.run_id, workflow=self.workflow.name, workflow_dir=self.workflow_dir,
            log=DagsterToolLog(context.log), timeout=timeout, secrets=secret_values, resources=resources,
        )

    def mask(self, value: Any, secret_values: tuple[str, ...]) -> Any:
        return mask(value, secret_values)


__all__ = ["CompiledWorkflow", "DagsterToolLog", "PARAMS_INPUT", "RESOURCE_KEY", "trigger_kind"]
