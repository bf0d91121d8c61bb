"""Validation of templates: syntax, unknown names (walking the Jinja AST), unknown result fields,
``| raw`` (a warning), calls the sandbox refuses, and reads of ``on_failure`` steps from the main
steps (spec §5). Reads of steps that run later are the plan's (:mod:`yaml2dag.format.plan`).

A mixin of :class:`yaml2dag.format.validation_checker.DocumentChecker`; nothing here imports Dagster.
"""

from __future__ import annotations

from typing import Any, Mapping

from yaml2dag.format.errors import TemplateError
from yaml2dag.format.expressions import FAILURE_NAMES, JINJA_GLOBALS, LOOP_NAMES, TemplateLimitError, _source_for, is_template, iter_strings, static_problems_of
from yaml2dag.format.limits import RULE as LIMIT_RULE
from yaml2dag.format.loader import DocPath
from yaml2dag.format.model import Entry, Step, SubWorkflow, Workflow, iter_entries
from yaml2dag.format.plan import TemplateField, template_fields
from yaml2dag.format.schema import did_you_mean
from yaml2dag.format.toolspecs import COMMON_RESULT_FIELDS, ToolRegistrationError, get_tool

#: Fields of ``run`` in templates.
RUN_FIELDS = ("id", "workflow", "job", "version", "started_at", "trigger")
# CONDITION_SUFFIX, GENERATED_SUFFIXES and OUTPUTS_NODE live in :mod:`.naming` (shared with the compiler).

FOR_EACH_RESULT_FIELDS = ("results", "count")


class TemplateChecks:
    # -- templates
    def check_templates(self, wf: Workflow, ids: dict[str, Entry]) -> None:
        params = {p.name: p for p in wf.parameters}
        main_steps = {e.id: e for e in iter_entries(wf.steps) if isinstance(e, (Step, SubWorkflow)) and e.id}
        failure_steps = {e.id: e for e in iter_entries(wf.on_failure) if isinstance(e, (Step, SubWorkflow)) and e.id}
        every_step = {**main_steps, **failure_steps}  # built once: per template it was O(steps²) (issue 13)
        for entry in iter_entries(wf.steps):
            for tf in template_fields(entry):
                self.check_template(tf, params, every_step, failure=False)
        for entry in iter_entries(wf.on_failure):
            for tf in template_fields(entry):
                self.check_template(tf, params, every_step, failure=True)
        for name in wf.outputs:
            for sub, text in iter_strings(wf.outputs[name]):
                if is_template(text):
                    self.check_template(TemplateField(("outputs", name) + sub, text), params, main_steps,
                                        failure=False, outputs=True)
        if failure_steps:
            for entry in iter_entries(wf.steps):
                for tf in template_fields(entry):
                    try:
                        refs = self.analyze(tf.value, tf.bare).references
                    except TemplateError:
                        continue
                    for ref in refs:
                        target = ref.attr if ref.name == "steps" else ref.name
                        if target in failure_steps and target not in main_steps:
                            self.add(tf.path, f"`{target}` is an `on_failure` step; only `on_failure` steps "
                                     "can read it", "reference")

    def check_template(self, tf: TemplateField, params: Mapping[str, Any], steps: Mapping[str, Entry],
                       *, failure: bool, outputs: bool = False) -> None:
        try:
            analysis = self.analyze(tf.value, tf.bare)
        except TemplateError as exc:
            self.add(tf.path, str(exc), LIMIT_RULE if isinstance(exc, TemplateLimitError) else "template")
            return
        if analysis.uses_raw:
            self.add(tf.path, "`| raw` inserts text without quoting: make sure it cannot come from an "
                     "untrusted value", "raw", warning=True)
        for message in analysis.forbidden:  # spec §5: no file access or code from templates
            self.add(tf.path, message, "sandbox")
        if (tf.value, tf.bare) not in self.simple:  # a simple template has no constant operation nor env use
            for message in static_problems_of(_source_for(tf.value, tf.bare)):  # spec §5: template bounds, env reads
                self.add(tf.path, message, "sandbox")

        def available() -> list[str]:  # only for a "did you mean": sorting every name per template is O(steps²)
            return sorted(set(params) | set(steps) | {"params", "steps", "env", "secrets", "run", "trigger"})
        for ref in analysis.references:
            name = ref.name
            where = self._template_path(tf)
            if name in params:
                continue
            if name in steps:
                self._check_field(where, steps[name], ref.attr, name)
            elif name == "params":
                if ref.attr is not None and ref.attr not in params:
                    self.add(where, f"unknown parameter `{ref.attr}`" + did_you_mean(ref.attr, params), "reference")
            elif name == "steps":
                if ref.attr is not None:
                    if ref.attr not in steps:
                        self.add(where, f"unknown step `{ref.attr}`" + did_you_mean(ref.attr, steps), "reference")
                    else:
                        self._check_field(where, steps[ref.attr], ref.attr2, ref.attr)
            elif name in ("env", "secrets", "trigger"):
                continue
            elif name == "run":
                if ref.attr is not None and ref.attr not in RUN_FIELDS:
                    self.add(where, f"`run` has no field `{ref.attr}`" + did_you_mean(ref.attr, RUN_FIELDS)
                             + f" (fields: {', '.join(RUN_FIELDS)})", "reference")
            elif name in LOOP_NAMES:
                if tf.scope != "loop":
                    self.add(where, f"`{name}` is only defined in the parameters of a step with `for_each`",
                             "reference")
            elif name in FAILURE_NAMES:
                if tf.scope not in ("failure", "compensate") and not failure:
                    self.add(where, f"`{name}` is only defined in `fallback`, `compensate` and `on_failure` steps",
                             "reference")
            elif name in JINJA_GLOBALS:
                continue
            else:
                self.add(where, f"unknown name `{name}`" + did_you_mean(name, available()), "reference")

    def _template_path(self, tf: TemplateField) -> DocPath:
        return tf.path

    def _check_field(self, path: DocPath, entry: Entry, attr: str | None, step_id: str) -> None:
        if attr is None:
            return
        fields = set(COMMON_RESULT_FIELDS)
        if isinstance(entry, Step) and entry.for_each is not None:
            fields |= set(FOR_EACH_RESULT_FIELDS)
        if isinstance(entry, Step):
            try:
                tool = get_tool(entry.tool) if entry.tool else None
            except ToolRegistrationError:
                return
            if tool is None:
                return
            action = tool.action(entry.action)
            if action is None:
                return
            fields |= set(action.result_fields)
        if attr not in fields:
            self.add(path, f"step `{step_id}` has no result field `{attr}`" + did_you_mean(attr, fields)
                     + f" (fields: {', '.join(sorted(fields))})", "reference")
