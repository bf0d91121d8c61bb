"""Failure handling inside the failed run: ``compensate`` (saga rollback) and ``on_failure``.

When a step fails for good (after its retries, with ``on_error: abort``), a Dagster failure
hook on every op of the job runs, once per run (when two steps of a multiprocess run fail at
the same moment, the first ``started`` event in the run's event log decides which process
handles the failure, see :func:`_claim`):

1. the ``compensate`` bodies of the steps that had succeeded, newest first, across the workflow
   and the sub-workflows it inlines; each sees its own step's result, ``failed_step`` and
   ``error``;
2. then the ``on_failure`` steps, in plan order (conditions, branches, retries and ``on_error``
   apply; they can read every step result, ``failed_step`` and ``error``): first those of the
   sub-workflow the failing step belongs to (``failed_step`` relative to it: ``apply``), then
   those of each workflow that includes it, up to the top-level workflow (``failed_step``:
   ``deploy.apply``).

The step results handlers read are rebuilt from the run's event log: the ``result`` metadata of
each step's ``STEP_OUTPUT`` (secrets already masked), or, for a result too large for metadata,
the object the IO manager stored (its ``HANDLED_OUTPUT`` path). So handling works in whichever
process the hook runs in (the run's own, or the failed step's subprocess with the multiprocess
executor), and in re-executions: results of steps the re-execution reused come from the event
logs of the runs it re-executes, and such a step is compensated unless the run that ran it
already compensated it.

A run stopped by its workflow ``timeout`` gets the same handling from its executor
(:func:`handle_stopped_run`): ``failed_step`` is the step that was running, ``error`` says that
the run exceeded its timeout.

The run still ends FAILURE. Because this happens in the run itself it also works under
``dagster job execute`` in CI, where no daemon runs. Each handler's result is an engine event
of the run (metadata ``yaml2dag/failure``), so it shows in the UI and in ``yaml2dag events``.
Steps still running in parallel when the failure happens are not compensated.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Iterable

import dagster as dg

from yaml2dag.format.model import Step, SubWorkflow, Workflow, iter_entries
from yaml2dag.format.plan import build_plan
from yaml2dag.format.secrets import mask
from yaml2dag.format.expressions import evaluate, render_value, truthy
from yaml2dag.compiler import runtime
from yaml2dag.compiler.config import RESOURCE_KEY
from yaml2dag.compiler.scope import CompiledWorkflow

MARKER = "yaml2dag/failure"

#: Suffixes of the helper ops of a step (condition, for_each fan-out/fan-in, sub-workflow
#: parameters); a failure in one of them is reported as a failure of the step.
HELPER_SUFFIXES = ("__when", "__items", "__results", "__parameters")

#: Deepest chain of re-executions whose event logs are read for reused results.
MAX_ANCESTORS = 50


def _has_handlers(workflow: Workflow) -> bool:
    if workflow.on_failure:
        return True
    return any(isinstance(e, Step) and e.compensate is not None for e in iter_entries(workflow.steps))


def needs_failure_handling(compiled: CompiledWorkflow | Workflow) -> bool:
    """True when the workflow, or a sub-workflow it inlines (at any depth), has ``on_failure``
    steps or a step with ``compensate``.

    Args:
        compiled: a compiled workflow (its sub-workflows are looked at too) or a bare workflow
            (only its own steps).
    """
    if isinstance(compiled, Workflow):
        return _has_handlers(compiled)
    return any(_has_handlers(node.workflow) for node in compiled.tree())


def failure_hook(cw: CompiledWorkflow) -> dg.HookDefinition:
    """The job's failure hook (see the module docstring)."""

    @dg.failure_hook(name=f"{cw.prefix}__failure_handling", required_resource_keys={RESOURCE_KEY})
    def _hook(context):
        handle_failure(context, cw)

    return _hook


def _report(context: Any, message: str, values: dict[str, Any]) -> None:
    from dagster._core.events import EngineEventData

    from yaml2dag.runs.approvals import _text
    from yaml2dag.format.masking import masker_of, registered

    # written straight to the event log (no log manager): masked here, by what is written
    masker = masker_of(registered(context.run_id))
    run = context.instance.get_run_by_id(context.run_id)
    context.instance.report_engine_event(
        masker.text(message), run,
        EngineEventData(metadata={k: _text(masker.value(v)) for k, v in values.items()}),
        step_key=context.step_key or None,
    )


def _marker_events(instance: Any, run_id: str) -> Iterable[dict[str, Any]]:
    from dagster._core.events import DagsterEventType

    for record in instance.all_logs(run_id, of_type=DagsterEventType.ENGINE_EVENT):
        meta = getattr(record.dagster_event.engine_event_data, "metadata", None) or {}
        if MARKER in meta:
            yield {k: getattr(v, "value", v) for k, v in meta.items()}


def _already_handled(context: Any) -> bool:
    return any(True for _ in _marker_events(context.instance, context.run_id))


def _claim(context: Any, message: str, values: dict[str, Any]) -> bool:
    """Report that failure handling starts, and say whether this process is the one to do it.

    Two steps of a multiprocess run can fail at the same moment, each in its own process, and
    both hooks may pass :func:`_already_handled` before either reports. So each reports its
    ``started`` event with a token of its own, then reads the run's event log back: the first
    ``started`` event in storage order wins (the event log assigns increasing storage ids and
    each process reads after its own write, so exactly one process sees its own token first).
    """
    token = uuid.uuid4().hex
    _report(context, message, {MARKER: "started", **values, "claim": token})
    first = next((v for v in _marker_events(context.instance, context.run_id) if v.get(MARKER) == "started"), None)
    return first is not None and first.get("claim") == token


def _error_of(context: Any) -> str:
    exc = context.op_exception
    if exc is None:
        return "the step failed"
    description = getattr(exc, "description", None)
    if description:
        return str(description)
    return runtime.error_message(exc)


def step_id_of(node: str) -> str:
    """The step a graph node belongs to: ``deploy__when`` → ``deploy``, ``each[2]`` → ``each``."""
    node = node.split("[")[0]
    for suffix in HELPER_SUFFIXES:
        if node.endswith(suffix) and len(node) > len(suffix):
            return node[: -len(suffix)]
    return node


# --------------------------------------------------------------------------- stored results


@dataclass
class StoredResult:
    """A step result read back from a run's event log.

    Attributes:
        key: the Dagster step key it was stored under.
        path: sub-workflow step ids from the top-level workflow down to the step's workflow.
        step_id: the step's id in that workflow.
        result: the step result dict (secrets masked).
        run_id: the run that produced it (a parent run, for a step a re-execution reused).
    """

    key: str
    path: tuple[str, ...]
    step_id: str
    result: dict
    run_id: str


def _load_pickle(path: str | None) -> Any:
    if not path:
        return None
    import pickle

    try:
        with open(path, "rb") as handle:
            return pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return None


def _decode(key: str, output: str, meta: dict[str, Any], stored_path: str | None,
            run_id: str) -> StoredResult | None:
    if "[" in key:  # one element of a for_each step: the step's result is its `__results`
        return None
    parts = key.split(".")
    node, path = parts[-1], tuple(parts[:-1])
    if output == "skipped" and node.endswith("__when"):
        reason = str(meta.get("reason") or "")
        return StoredResult(key, path, node[: -len("__when")], runtime.skipped_result(reason), run_id)
    if output != "result":
        return None
    value = meta.get("result")
    if node == "workflow_outputs":
        if not path:
            return None
        if not isinstance(value, dict):
            outputs = meta.get("outputs")
            value = runtime.result(outputs) if isinstance(outputs, dict) else _load_pickle(stored_path)
        path, step_id = path[:-1], path[-1]
    elif node.endswith("__results"):
        step_id = node[: -len("__results")]
    elif any(node.endswith(s) for s in HELPER_SUFFIXES):
        return None
    else:
        step_id = node
    if not isinstance(value, dict):
        value = _load_pickle(stored_path)
    if not isinstance(value, dict):
        return None
    return StoredResult(key, path, step_id, dict(value), run_id)


def _results_of_run(instance: Any, run_id: str, keys: set[str] | None) -> list[StoredResult]:
    """Step results a run stored, in completion order (only ``keys``, when given)."""
    from dagster._core.events import DagsterEventType

    outputs: list[tuple[str, str, dict]] = []
    paths: dict[tuple[str, str], str] = {}
    for record in instance.all_logs(run_id, of_type={DagsterEventType.STEP_OUTPUT,
                                                     DagsterEventType.HANDLED_OUTPUT}):
        event = record.dagster_event
        key = event.step_key or ""
        if keys is not None and key not in keys:
            continue
        data = event.event_specific_data
        meta = {k: getattr(v, "value", v) for k, v in (getattr(data, "metadata", None) or {}).items()}
        if event.event_type_value == "STEP_OUTPUT":
            outputs.append((key, data.step_output_handle.output_name, meta))
        else:
            if "path" in meta:
                paths[(key, data.output_name)] = str(meta["path"])
    found = []
    for key, output, meta in outputs:
        item = _decode(key, output, meta, paths.get((key, output)), run_id)
        if item is not None:
            found.append(item)
    return found


def stored_results(instance: Any, run: Any) -> list[StoredResult]:
    """The step results a failure handler of ``run`` can read, oldest first.

    Results the run stored, and, for a re-execution, those of the steps it reused (did not
    plan to execute) from the runs it re-executes (``parent_run_id``, up to
    :data:`MAX_ANCESTORS` deep).
    """
    chain = []
    seen: set[str] = set()
    current = run
    while current is not None and current.run_id not in seen and len(chain) < MAX_ANCESTORS:
        chain.append(current)
        seen.add(current.run_id)
        current = instance.get_run_by_id(current.parent_run_id) if current.parent_run_id else None
    per_run: list[list[StoredResult]] = []
    covered: set[str] = set()  # step keys a newer run of the chain stored
    planned_all = False
    for member in chain:
        if planned_all:
            break
        items = [r for r in _results_of_run(instance, member.run_id, None) if r.key not in covered]
        per_run.append(items)
        covered |= {r.key for r in items}
        if member.step_keys_to_execute is None:
            planned_all = True  # this run executed every step: older runs add nothing
        else:
            covered |= set(member.step_keys_to_execute)
    out: list[StoredResult] = []
    for items in reversed(per_run):
        out.extend(items)
    return out


def _compensated_keys(instance: Any, run_id: str) -> set[str]:
    return {str(v.get("step_key") or v.get("step")) for v in _marker_events(instance, run_id)
            if v.get(MARKER) == "compensate" and v.get("status") == runtime.SUCCEEDED}


class _RunState:
    """Results and parameters of each workflow level of a failed run, for its handlers."""

    def __init__(self, context: Any, cw: CompiledWorkflow, stored: list[StoredResult]):
        self.context = context
        self.cw = cw
        self.stored = stored
        self._results: dict[tuple[str, ...], dict[str, Any]] = {}
        for item in stored:
            self._results.setdefault(item.path, {})[item.step_id] = item.result
        self._params: dict[tuple[str, ...], dict] = {(): dict(context.resources.yaml2dag["parameters"])}

    def results(self, path: tuple[str, ...]) -> dict[str, Any]:
        return dict(self._results.get(path, {}))

    def params(self, path: tuple[str, ...]) -> dict:
        """Parameters of the workflow at ``path``: a sub-workflow's are rendered again from the
        including step's ``parameters`` (secrets read from the environment, never stored)."""
        if path in self._params:
            return self._params[path]
        from yaml2dag.format.parameters import resolve

        parent_path = path[:-1]
        parent = self.cw.at(parent_path)
        child = self.cw.at(path)
        values: dict = {}
        if parent is not None and child is not None:
            entry = next((e for e in iter_entries(parent.workflow.steps)
                          if isinstance(e, SubWorkflow) and e.id == path[-1]), None)
            if entry is not None:
                try:
                    scope = parent.scope(self.context, self.params(parent_path), self.results(parent_path))
                    values = resolve(child.workflow, render_value(dict(entry.parameters), scope))
                except Exception as exc:  # noqa: BLE001 - handlers still run, without them
                    self.context.log.warning(f"parameters of sub-workflow `{'.'.join(path)}` could not be "
                                             f"rendered for failure handling: "
                                             f"{mask(runtime.error_message(exc), _all_secrets(self.cw))}")
        self._params[path] = values
        return values

    def compensations(self, run_id: str) -> list[tuple[StoredResult, CompiledWorkflow, Step]]:
        """Succeeded steps with ``compensate``, oldest first (reused ones not compensated yet)."""
        done: dict[str, set[str]] = {}
        out = []
        for item in self.stored:
            owner = self.cw.at(item.path)
            if owner is None or item.result.get("status") != runtime.SUCCEEDED:
                continue
            step = next((e for e in iter_entries(owner.workflow.steps)
                         if isinstance(e, Step) and e.id == item.step_id), None)
            if step is None or step.compensate is None:
                continue
            if item.run_id != run_id:
                if item.run_id not in done:
                    done[item.run_id] = _compensated_keys(self.context.instance, item.run_id)
                if item.key in done[item.run_id]:
                    continue
            out.append((item, owner, step))
        return out


def _all_secrets(cw: CompiledWorkflow) -> tuple[str, ...]:
    values: set[str] = set()
    for node in cw.tree():
        values |= set(node.secret_values())
    return tuple(sorted(values, key=len, reverse=True))


# --------------------------------------------------------------------------- handling


def handle_failure(context: Any, cw: CompiledWorkflow, *, failed_key: str | None = None,
                   error: str | None = None) -> None:
    """Run compensations and ``on_failure`` steps once for the failed run (see module doc).

    Args:
        context: a Dagster hook context, or anything with the same ``run_id``, ``instance``,
            ``step_key``, ``op_exception``, ``log`` and ``resources.yaml2dag`` (see
            :func:`handle_stopped_run`).
        cw: the top-level compiled workflow of the job.
        failed_key: the step key that failed (default: ``context.step_key``).
        error: the error message (default: from ``context.op_exception``).
    """
    run_id = context.run_id
    if not runtime.claim_failure_handling(run_id):
        return
    if _already_handled(context):
        return
    secrets = _all_secrets(cw)
    failed_key = (failed_key if failed_key is not None else context.step_key) or ""
    parts = [p for p in failed_key.split("[")[0].split(".") if p]
    if parts:
        parts[-1] = step_id_of(parts[-1])
    failed_step = ".".join(parts)
    error = mask(error if error is not None else _error_of(context), secrets)
    run = context.instance.get_run_by_id(run_id)
    state = _RunState(context, cw, stored_results(context.instance, run))
    compensations = state.compensations(run_id)
    # on_failure levels: the workflow the failing step belongs to first, then those including it
    levels = []
    for depth in range(max(len(parts) - 1, 0), -1, -1):
        level = cw.at(tuple(parts[:depth]))
        if level is not None and level.workflow.on_failure:
            levels.append((tuple(parts[:depth]), level))
    n_steps = sum(1 for _p, level in levels for e in iter_entries(level.workflow.on_failure) if isinstance(e, Step))
    if not _claim(context, f"run failed at `{failed_step}`: {error}; running {len(compensations)} compensation(s) "
                  f"and {n_steps} on_failure step(s)", {"failed_step": failed_step, "error": error}):
        return

    def extra_for(path: tuple[str, ...]) -> dict[str, Any]:
        inside = tuple(parts[:len(path)]) == path and len(parts) > len(path)
        return {"failed_step": ".".join(parts[len(path):]) if inside else failed_step, "error": error}

    for item, owner, step in reversed(compensations):
        scope = owner.scope(context, state.params(item.path), {**state.results(item.path), item.step_id: item.result},
                            extra_for(item.path))
        _run_handler(context, owner, "compensate", item.step_id, step.compensate, scope, secrets, item.key,
                     label=".".join(item.path + (item.step_id,)))
    for path, level in levels:
        _run_on_failure(context, level, state.params(path), state.results(path), extra_for(path), secrets,
                        prefix="".join(p + "." for p in path))
    _report(context, "failure handling finished", {MARKER: "finished", "failed_step": failed_step})


def params_from_run_config(workflow: Workflow, run_config: Any) -> dict:
    """The parameter values of a run, from its run config (the parameters at the top level),
    defaults filled in as the job's config mapping does."""
    from yaml2dag.format.errors import ParameterError
    from yaml2dag.format.parameters import resolve

    names = {p.name for p in workflow.parameters if not p.is_secret}
    given = {k: v for k, v in dict(run_config or {}).items() if k in names}
    try:
        return resolve(workflow, given)
    except ParameterError:
        return given


class _StoppedRunContext:
    """What :func:`handle_failure` uses of a hook context, for a run its executor stopped."""

    def __init__(self, instance: Any, run: Any, log: Any, step_key: str, params: dict):
        self.instance = instance
        self.run = run
        self.run_id = run.run_id
        self.log = log
        self.step_key = step_key
        self.op_exception = None
        self.resources = SimpleNamespace(**{RESOURCE_KEY: {"parameters": params}})


def handle_stopped_run(plan_context: Any, cw: CompiledWorkflow | None, failed_key: str | None,
                       error: str) -> None:
    """Failure handling for a run its executor stopped (the workflow ``timeout``).

    Args:
        plan_context: the executor's Dagster plan context (``instance``, ``dagster_run``, ``log``).
        cw: the job's top-level compiled workflow; None when it has no handlers (nothing to do).
        failed_key: the step key that was running when the run was stopped, if any.
        error: why the run was stopped.

    Handler failures are logged, never raised: the run ends FAILURE either way.
    """
    if cw is None or not needs_failure_handling(cw):
        return
    run = plan_context.dagster_run
    context = _StoppedRunContext(plan_context.instance, run, plan_context.log, failed_key or "",
                                 params_from_run_config(cw.workflow, run.run_config))
    try:
        handle_failure(context, cw, failed_key=failed_key or "", error=error)
    except Exception as exc:  # noqa: BLE001 - the run is failing anyway; say why handling broke
        plan_context.log.error(f"failure handling stopped: {mask(runtime.error_message(exc), _all_secrets(cw))}")


def _run_handler(context: Any, cw: CompiledWorkflow, kind: str, step_id: str, body: Any, scope: dict,
                 secrets: tuple[str, ...], step_key: str, attempts: int = 1, retry: Any = None,
                 label: str | None = None) -> dict:
    """Run one compensation or on_failure step body; record its result as an engine event."""
    from yaml2dag.compiler.ops import run_body

    watch = runtime.Stopwatch()
    error = None
    output = None
    fields: dict = {}
    attempt = 0
    for attempt in range(1, attempts + 1):
        try:
            tool_result = run_body(cw, context, body, scope, step_id, secrets, step_key or "failure_handling")
            output, fields, error = tool_result.output, tool_result.fields, None
            break
        except Exception as exc:  # noqa: BLE001 - a handler failure is recorded, not raised
            error = cw.mask(runtime.error_message(exc), secrets)
            if attempt < attempts and retry is not None:
                time.sleep(retry.delay_for(attempt))
    status = runtime.SUCCEEDED if error is None else runtime.FAILED
    res = cw.mask(runtime.result(output, status=status, error=error, duration=watch.elapsed,
                                 attempts=attempt, fields=fields), secrets)
    label = label or step_id
    verdict = "succeeded" if error is None else f"failed: {error}"
    message = f"{kind} `{label}` {verdict}"
    if error is None and output not in (None, ""):
        message += f": {runtime.preview(res['output'], 300)}"
    _report(context, message, {MARKER: kind, "step": label, "step_key": step_key, "status": status,
                               "error": error or "",
                               "output": runtime.preview(res["output"], 2000) if res["output"] is not None else ""})
    return res


def _run_on_failure(context: Any, cw: CompiledWorkflow, params: dict, results: dict, extra: dict,
                    secrets: tuple[str, ...], prefix: str = "") -> None:
    workflow = cw.workflow
    plan = build_plan(workflow, entries=workflow.on_failure,
                      step_ids={s.id for s in workflow.iter_steps()})
    decisions: dict[str, Any] = {}
    ended: dict[str, dict] = {}
    blocked: set[str] = set()
    for node_id in plan.order:
        node = plan.nodes[node_id]
        label = prefix + node_id
        if any(a in blocked for a in node.upstream()):
            blocked.add(node_id)
            context.log.warning(f"on_failure `{label}` not run: a step it waits for failed")
            continue
        reason = None
        if node.context is not None and decisions.get(node.context[0]) != node.context[1]:
            reason = f"`{node.context[0]}` did not take `{node.context[1]}`"
        scope_results = {**results, **ended}
        if reason is None:
            for r in node.reads:
                if r not in node.state_reads and scope_results.get(r, {}).get("status") == runtime.SKIPPED:
                    reason = f"it reads `{r}`, which was skipped"
        scope = cw.scope(context, params, scope_results, extra)
        if node.is_decision:
            from yaml2dag.compiler.ops import _case_text

            entry = node.entry
            if reason is not None:
                decisions[node_id] = None
                continue
            if node.kind == "branch":
                decisions[node_id] = "then" if truthy(evaluate(entry.condition, scope)) else "else"
            else:
                text = _case_text(evaluate(entry.expression, scope))
                keys = [k for k, _ in entry.cases]
                decisions[node_id] = text if text in keys else ("default" if entry.default is not None else None)
            continue
        step: Step = node.entry  # type: ignore[assignment]
        if reason is None and step.when is not None and step.when is not True:
            if not truthy(evaluate(step.when, scope)):
                reason = f"its condition is false: {step.when}"
        if reason is not None:
            ended[node_id] = runtime.skipped_result(reason)
            context.log.info(f"on_failure `{label}` skipped: {reason}")
            _report(context, f"on_failure `{label}` skipped: {reason}",
                    {MARKER: "on_failure", "step": label, "status": "skipped", "error": "", "output": ""})
            continue
        from yaml2dag.format.model import StepBody

        body = StepBody(tool=step.tool, action=step.action, parameters=step.parameters, name=step.name,
                        timeout=step.timeout, path=step.path)
        res = _run_handler(context, cw, "on_failure", node_id, body, scope, secrets, context.step_key,
                           attempts=step.max_attempts, retry=step.retry, label=label)
        if res["status"] != runtime.SUCCEEDED:
            if step.final_on_error == "fallback" and step.fallback is not None:
                fb_scope = dict(scope)
                fb_scope.update(error=res["error"], failed_step=node_id)
                res = _run_handler(context, cw, "fallback", node_id, step.fallback, fb_scope, secrets,
                                   context.step_key, label=label)
            elif step.final_on_error != "continue":
                blocked.add(node_id)
        ended[node_id] = res
