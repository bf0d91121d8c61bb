"""What every trigger shares: readable unique names, parameters rendered with ``trigger.*``,
and the tags of the runs it requests (spec §7).

A trigger's ``parameters`` may be templates over ``trigger.*`` (what started the run: the file,
the upstream run, the scheduled time), ``params``/the parameter names (the workflow's defaults)
and ``env``. They are rendered when the trigger fires, then checked and completed with the
defaults exactly as ``yaml2dag run`` checks command-line values
(:func:`yaml2dag.format.parameters.resolve`). The requested run carries:

* ``yaml2dag/trigger``: what ``run.trigger`` says in templates — ``schedule``, ``sensor`` (file
  and workflow triggers) or ``manual`` (``yaml2dag trigger``, like a launch from the UI);
* ``yaml2dag/trigger_info``: ``trigger.*`` as a JSON object, read back by the run's steps; its
  ``type`` says exactly which trigger fired (``schedule``, ``file``, ``workflow``, ``remote``);
* the workflow's concurrency tag rendered with the run's parameter values, so Dagster's run
  queue applies ``concurrency.limit`` per rendered key.
"""

from __future__ import annotations

import json
import re
from typing import Any, Iterable, Mapping

from yaml2dag.compiler.job import concurrency_tag, render_concurrency_key
from yaml2dag.compiler.scope import TAG_TRIGGER, TAG_TRIGGER_INFO
from yaml2dag.format.errors import ParameterError, TemplateError, Yaml2DagError
from yaml2dag.format.model import Trigger, Workflow
import dagster as dg
from yaml2dag.compiler.runtime import EnvMapping
from yaml2dag.format.expressions import render_value
from yaml2dag.format.parameters import resolve
from yaml2dag.format.trigger_names import trigger_names

#: Largest ``yaml2dag/trigger_info`` tag value (characters). Bigger upstream ``outputs`` are
#: left out of the tag (they were still in scope for the trigger's ``parameters``).
MAX_TRIGGER_INFO = 65_536

_NAME_CHARS = re.compile(r"[^A-Za-z0-9_]")
#: ``trigger.type`` → ``run.trigger`` (the vocabulary of :func:`yaml2dag.compiler.scope.trigger_kind`).
RUN_TRIGGER = {"schedule": "schedule", "file": "sensor", "workflow": "sensor", "remote": "manual"}


class TriggerParameterError(Yaml2DagError):
    """A trigger's ``parameters`` could not be rendered or are not valid for the workflow.

    The message names the workflow, the trigger and the parameter.
    """


class NameRegistry:
    """Hands out schedule and sensor names that are unique in one code location.

    The names themselves come from :func:`yaml2dag.format.trigger_names.trigger_names`. Dagster
    requires unique names across all schedules and sensors of a repository, and validation
    refuses a folder where two triggers would share one (:mod:`yaml2dag.format.validation`), so on a
    validated folder every name is claimed as it is. The registry is the last line of defence
    for definitions built without that check: a taken name becomes ``<job>_<name>``, then
    ``<job>_<name>_2``..., the first claimant keeping the plain name.
    """

    def __init__(self, taken: Iterable[str] = ()):
        self.taken: set[str] = set(taken)

    def claim(self, name: str, job: str) -> str:
        """Reserve ``name`` (or the first free variant of it) and return it.

        Args:
            name: the preferred name (characters other than ``[A-Za-z0-9_]`` become ``_``).
            job: the workflow's job id, used as a prefix when ``name`` is taken.
        """
        base = _NAME_CHARS.sub("_", name) or "trigger"
        candidates = [base] if base.startswith(job) else [base, f"{job}_{base}"]
        for candidate in candidates:
            if candidate not in self.taken:
                self.taken.add(candidate)
                return candidate
        n = 2
        while f"{candidates[-1]}_{n}" in self.taken:
            n += 1
        final = f"{candidates[-1]}_{n}"
        self.taken.add(final)
        return final


def own_names(workflow: Workflow, kind: str) -> list[tuple[Trigger, str]]:
    """``(trigger, Dagster name)`` of each ``kind`` trigger (``schedule`` or ``file``) of
    ``workflow``, in file order (:func:`yaml2dag.format.trigger_names.trigger_names`)."""
    return [(trig, names[0]) for trig, names in zip(workflow.triggers, trigger_names(workflow))
            if trig.type == kind]


def parameter_defaults(workflow: Workflow) -> dict[str, Any]:
    """The workflow's non-secret parameter defaults (required ones without a default are absent)."""
    return resolve(workflow, {}, allow_missing=True)


def render_parameters(workflow: Workflow, trigger: Trigger, info: Mapping[str, Any]) -> dict[str, Any]:
    """The full parameter values of a run requested by ``trigger``.

    Args:
        workflow: the validated workflow.
        trigger: one of its triggers.
        info: the ``trigger.*`` values of this firing (JSON-compatible).

    Returns:
        Every non-secret parameter's value: the trigger's ``parameters`` rendered with
        ``trigger``, ``params`` (and each default by name) and ``env`` in scope, checked
        against the declarations, defaults filled in. This is the run's run config.

    Raises:
        TriggerParameterError: a template failed, or a value is invalid / a required value is
            missing (the message says which parameter and why).
    """
    defaults = parameter_defaults(workflow)
    scope: dict[str, Any] = dict(defaults)
    scope["params"] = defaults
    scope["env"] = EnvMapping()
    scope["trigger"] = dict(info)
    given: dict[str, Any] = {}
    label = f"{workflow.name!r}, trigger {trigger.name or trigger.type}"
    for name, value in trigger.parameters.items():
        try:
            given[name] = render_value(value, scope)
        except TemplateError as exc:
            raise TriggerParameterError(f"{label}: parameter `{name}`: {exc}") from None
    try:
        return resolve(workflow, given)
    except ParameterError as exc:
        raise TriggerParameterError(f"{label}: {exc}") from None


def trigger_info_tag(info: Mapping[str, Any]) -> str:
    """``info`` as the JSON value of the ``yaml2dag/trigger_info`` tag (at most
    :data:`MAX_TRIGGER_INFO` characters: oversized ``outputs`` are replaced by
    ``"outputs_truncated": true``)."""
    text = json.dumps(dict(info), ensure_ascii=False, default=str, sort_keys=True)
    if len(text) > MAX_TRIGGER_INFO and "outputs" in info:
        slim = {k: v for k, v in info.items() if k != "outputs"}
        slim["outputs_truncated"] = True
        text = json.dumps(slim, ensure_ascii=False, default=str, sort_keys=True)
    return text


def request_tags(workflow: Workflow | None, info: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, str]:
    """Run tags of a run a trigger requests.

    Args:
        workflow: the workflow (None when only the job's name is known: no concurrency tag).
        info: ``trigger.*`` of this firing; its ``type`` (``schedule``, ``file``, ``workflow``,
            ``remote``) gives ``run.trigger`` through :data:`RUN_TRIGGER`.
        values: the run's parameter values (for the concurrency key).

    Returns:
        ``yaml2dag/trigger``, ``yaml2dag/trigger_info`` and, for a workflow with
        ``concurrency``, its ``yaml2dag/concurrency_<limit>`` tag with the key rendered from
        ``values`` (overriding the job's default-rendered tag).
    """
    tags = {TAG_TRIGGER: RUN_TRIGGER.get(str(info.get("type")), "sensor"), TAG_TRIGGER_INFO: trigger_info_tag(info)}
    if workflow is None:
        return tags
    conc = concurrency_tag(workflow, render_concurrency_key(workflow, dict(values)))
    if conc is not None:
        tags[conc[0]] = conc[1]
    return tags


def run_request(workflow: Workflow, trigger: Trigger, info: Mapping[str, Any], *, run_key: str | None = None):
    """A :class:`dagster.RunRequest` for one firing of ``trigger`` (``info``: its ``trigger.*``).

    Raises:
        TriggerParameterError: see :func:`render_parameters`.
    """
    values = render_parameters(workflow, trigger, info)
    return dg.RunRequest(run_key=run_key, run_config=values, tags=request_tags(workflow, info, values))
