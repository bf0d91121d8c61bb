"""The validator: every problem in every workflow file, at once (spec §8, issue #2).

Checks, in the order a file goes through them:

1. YAML syntax (duplicate keys, unquoted ``{{ ... }}`` read as a mapping) — :mod:`.loader`;
2. the JSON Schema, unknown keys with "did you mean" — :mod:`.schema`;
3. ids: duplicates, clashes with parameter names or with the names yaml2dag generates;
4. parameters: defaults of the declared type and within ``enum``/``minimum``/``maximum``/
   ``pattern``, reserved names;
5. tools: unknown tools or actions, each step's ``parameters`` against its action's schema;
6. templates: syntax, unknown names (walking the Jinja AST), unknown result fields, ``| raw``
   (a warning), calls the sandbox refuses (``.to_csv('/path')``, ``.eval()``...), reads of
   steps that are not upstream;
7. dependencies: unknown ``depends_on`` targets and cycles — :mod:`.plan`;
8. triggers: cron expressions, IANA time zones, trigger parameters;
9. across a folder: duplicate workflow names (case-insensitive) and job ids, unknown
   sub-workflows and upstream workflows, and Dagster op/graph definition names two jobs would
   share (:mod:`.naming`; Dagster refuses such a code location).

Nothing here imports Dagster: validating is a pre-commit / CI check and must feel instant.
"""

from __future__ import annotations

import json
import keyword
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping, Sequence

from yaml2dag.format import cron
from yaml2dag.format.definitions_folder import library_root
from yaml2dag.format.durations import parse_duration
from yaml2dag.format.errors import ERROR, WARNING, ParameterError, Problem, TemplateError, sort_problems
from yaml2dag.format.limits import MAX_ATTEMPTS, MAX_STEPS, RULE as LIMIT_RULE, duration_problem, integer_problem, pattern_problem
from yaml2dag.format.loader import Document, DocPath, format_path, internal_problem, iter_workflow_files, load_file, load_text
from yaml2dag.format.model import (
    Branch,
    Entry,
    ParallelGroup,
    Step,
    StepBody,
    SubWorkflow,
    Switch,
    Workflow,
    build_workflow,
    iter_entries,
)
from yaml2dag.format.naming import CONDITION_SUFFIX, GENERATED_SUFFIXES, OUTPUTS_NODE, DefinitionName, definition_names
from yaml2dag.format.parameters import check_value
from yaml2dag.format.plan import TemplateField, build_plan, template_fields
from yaml2dag.format.schema import did_you_mean, errors_to_problems, fast_valid, structural_problems, validator_for
from yaml2dag.format.expressions import static_problems_of
from yaml2dag.format.expressions import (
    FAILURE_NAMES,
    JINJA_GLOBALS,
    LOOP_NAMES,
    TemplateLimitError,
    analyze,
    is_template,
    iter_strings,
    shell_source,
)
from yaml2dag.format.expressions import _source_for
from yaml2dag.format.toolspecs import COMMON_RESULT_FIELDS, PLANNED_TOOLS, ToolRegistrationError, get_tool, literal_credentials, tool_names

#: Names a parameter may not have: they are taken in templates (spec §5).
RESERVED_NAMES = frozenset(
    ("params", "steps", "env", "secrets", "run", "trigger", "item", "index", "failed_step", "error",
     "loop", "self", "true", "false", "none", "True", "False", "None", "and", "or", "not", "in",
     "is", "if", "else")
)
#: Names Dagster refuses for jobs, ops and inputs (``DISALLOWED_NAMES`` of Dagster's definition
#: utilities: its reserved words plus every Python keyword).
DAGSTER_RESERVED = frozenset(
    ("context", "conf", "config", "meta", "arg_dict", "dict", "input_arg_dict", "output_arg_dict",
     "int", "str", "float", "bool", "input", "output", "type") + tuple(keyword.kwlist)
)
#: Step result fields that always hold an integer / a number / a boolean (for rule ``shell``:
#: a step result in bash arithmetic must be one of the integer ones, or go through ``| int``).
_INTEGER_RESULT_FIELDS = frozenset(("exit_code", "status_code", "attempts", "count", "bytes", "source_bytes",
                                    "ahead", "behind", "index"))
_NUMBER_RESULT_FIELDS = frozenset(("duration", "elapsed", "cpu_percent", "memory_percent"))
_BOOLEAN_RESULT_FIELDS = frozenset(("succeeded", "healthy", "clean", "dry_run", "cloned"))


def _source_label(template: str) -> str:
    """The expression of a template that is one ``{{ ... }}``, else the template (for messages)."""
    inner = template.strip()
    if inner.startswith("{{") and inner.endswith("}}"):
        return inner[2:-2].strip()
    return template


#: Fields of ``run`` in templates.
RUN_FIELDS = ("id", "workflow", "job", "version", "started_at", "trigger")
# CONDITION_SUFFIX, GENERATED_SUFFIXES and OUTPUTS_NODE live in :mod:`.naming` (shared with the compiler).

#: Format features this release does not run yet: key → message. The model and schema carry
#: them; the validator reports them until the feature lands.
UNSUPPORTED: dict[str, str] = {}
#: Highest ``concurrency.limit`` the shipped dagster.yaml has a run-queue rule for.
MAX_CONCURRENCY_LIMIT = 20


@dataclass
class FileReport:
    """The result of validating one file.

    Attributes:
        file: the file as given.
        document: the parsed document (positions, content hash).
        workflow: the model, or None when the file is not a mapping.
        problems: every problem found, errors and warnings, in file order.
    """

    file: str
    document: Document
    workflow: Workflow | None
    problems: list[Problem] = field(default_factory=list)
    plan: Any = field(default=None, repr=False, compare=False)  # the yaml2dag.format.plan.Plan of its steps

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == ERROR]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == WARNING]

    @property
    def valid(self) -> bool:
        return not self.errors and self.workflow is not None


@dataclass
class ValidationReport:
    """The result of validating several files (``yaml2dag validate``)."""

    files: list[FileReport] = field(default_factory=list)

    @property
    def problems(self) -> list[Problem]:
        return sort_problems(p for f in self.files for p in f.problems)

    @property
    def valid(self) -> bool:
        return all(f.valid for f in self.files)

    def to_json(self) -> dict:
        """``{"valid", "workflows", "errors", "warnings"}`` as documented for ``--format json``."""
        workflows = []
        for f in self.files:
            wf = f.workflow
            workflows.append({
                "file": f.file,
                "name": wf.name if wf else None,
                "id": wf.id if wf else None,
                "valid": f.valid,
                "errors": len(f.errors),
                "warnings": len(f.warnings),
            })
        problems = self.problems
        return {
            "valid": self.valid,
            "workflows": workflows,
            "errors": [p.to_dict() for p in problems if p.severity == ERROR],
            "warnings": [p.to_dict() for p in problems if p.severity == WARNING],
        }


# --------------------------------------------------------------------------- one document


class _Checker:
    def __init__(self, doc: Document):
        self.doc = doc
        self.problems: list[Problem] = []
        self.workflow: Workflow | None = None
        self.refused: set[str] = set()  # paths of values the loader refused (yaml2dag.format.limits)

    def add(self, path: DocPath, message: str, rule: str, *, key: bool = False, warning: bool = False) -> None:
        if not key and self.refused and format_path(path) in self.refused:
            return  # the loader refused this value (None now) and said why: checks of the None would only add noise
        self.problems.append(self.doc.problem(path, message, rule, key=key, severity=WARNING if warning else ERROR))

    def run(self) -> FileReport:
        doc = self.doc
        self.problems += doc.problems
        if doc.data is None:
            return FileReport(doc.file, doc, None, self.problems)
        if isinstance(doc.data, dict):
            too_many = self.step_count_problem(doc.data)
            if too_many is not None:  # refused before the schema and the model see the steps
                return FileReport(doc.file, doc, None, self.problems + [too_many])
        # a value the loader refused (an integer outside 64 bits, NaN) is None now: the schema's
        # "got null" about it would only repeat the loader's problem
        refused = self.refused = {p.path for p in doc.problems if p.rule in (LIMIT_RULE, "number")}
        self.problems += [p for p in structural_problems(doc) if not (p.path in refused and p.message.endswith("got null"))]
        if not isinstance(doc.data, dict):
            return FileReport(doc.file, doc, None, self.problems)
        wf = build_workflow(doc.data, doc.file, doc.content_hash)
        self.workflow = wf
        self.check_limits(wf)
        self.check_parameters(wf)
        ids = self.check_ids(wf)
        self.check_steps(wf)
        self.check_templates(wf, ids)
        plan = build_plan(wf, doc)
        self.problems += plan.problems
        if wf.on_failure:
            self.problems += build_plan(wf, doc, entries=wf.on_failure).problems
        self.check_triggers(wf)
        self.check_unsupported(wf)
        return FileReport(doc.file, doc, wf, _dedupe(self.problems), plan=plan)

    # -- limits (yaml2dag.format.limits) the schema cannot express
    def step_count_problem(self, data: dict) -> Problem | None:
        """A ``limit`` problem when ``steps`` and ``on_failure`` hold more than
        :data:`~yaml2dag.format.limits.MAX_STEPS` entries, nested ones included (counted on the plain
        data, iteratively, before anything else looks at them)."""
        count = 0
        stack = [data.get("steps"), data.get("on_failure")]
        while stack:
            items = stack.pop()
            if not isinstance(items, list):
                continue
            for item in items:
                if not isinstance(item, dict):
                    continue
                count += 1
                stack += [item.get("parallel"), item.get("then"), item.get("else"), item.get("default")]
                cases = item.get("cases")
                if isinstance(cases, dict):
                    stack += list(cases.values())
        if count <= MAX_STEPS:
            return None
        return self.doc.problem(("steps",), f"the workflow has {count} steps; a workflow has at most {MAX_STEPS} "
                                "(split it into sub-workflows)", LIMIT_RULE, key="steps" in data)

    def check_limits(self, wf: Workflow) -> None:
        """Durations of at most 365 days, ``retry.max_attempts`` of at most
        :data:`~yaml2dag.format.limits.MAX_ATTEMPTS`, and integer fields written as whole floats
        (``priority: 1.0e+300``, which JSON Schema counts as integers) within 64 bits."""
        durations: list[tuple[DocPath, Any]] = []
        integers: list[tuple[DocPath, Any]] = []

        def collect(base: DocPath, data: Any) -> None:  # the keys of one step (or of `defaults`)
            if not isinstance(data, dict):
                return
            durations.append((base + ("timeout",), data.get("timeout")))
            integers.append((base + ("max_parallel",), data.get("max_parallel")))
            retry = data.get("retry")
            if isinstance(retry, dict):
                durations.extend((base + ("retry", k), retry.get(k)) for k in ("delay", "max_delay"))
                integers.append((base + ("retry", "max_attempts"), retry.get("max_attempts")))
            for body in ("fallback", "compensate"):
                if isinstance(data.get(body), dict):
                    durations.append((base + (body, "timeout"), data[body].get("timeout")))

        top = self.doc.data
        durations.append((("timeout",), top.get("timeout")))
        integers.append((("priority",), top.get("priority")))
        for key, sub in (("concurrency", "limit"), ("executor", "max_parallel")):
            if isinstance(top.get(key), dict):
                integers.append(((key, sub), top[key].get(sub)))
        collect(("defaults",), top.get("defaults"))
        for entry in list(iter_entries(wf.steps)) + list(iter_entries(wf.on_failure)):
            collect(entry.path, self._data(entry.path))
        integers += [(trig.path + ("interval",), trig.options.get("interval")) for trig in wf.triggers]
        for path, value in durations:
            if value is None or isinstance(value, bool):
                continue
            try:
                seconds = parse_duration(value)
            except ValueError as exc:
                if "too long" in str(exc):
                    self.add(path, str(exc), LIMIT_RULE)
                continue  # not a duration at all: the schema says so
            problem = duration_problem(seconds)
            if problem:
                self.add(path, f"{problem}, got {value!r}" if len(repr(value)) < 40 else problem, LIMIT_RULE)
        for path, value in integers:
            if isinstance(value, float) and value.is_integer():
                problem = integer_problem(int(value))
                if problem:
                    self.add(path, problem, LIMIT_RULE)
                    continue
                value = int(value)
            if path[-1] == "max_attempts" and isinstance(value, int) and not isinstance(value, bool) \
                    and value > MAX_ATTEMPTS:
                self.add(path, f"a step makes at most {MAX_ATTEMPTS} attempts, got {value}", LIMIT_RULE)

    # -- parameters
    def check_parameters(self, wf: Workflow) -> None:
        for param in wf.parameters:
            if param.name in RESERVED_NAMES:
                self.add(param.path, f"`{param.name}` is a reserved name in templates; rename the parameter",
                         "parameter", key=True)
            if param.is_secret and not param.required:
                self.add(param.path + ("default",), "a secret parameter cannot have a default: its value "
                         f"comes from the environment variable {param.env_var}", "parameter")
                continue
            if param.required:
                continue
            path = param.path + ("default",) if isinstance(self.doc.data["parameters"].get(param.name), dict) else param.path
            if is_template(param.default):
                self.add(path, "a parameter default cannot be a template", "parameter")
                continue
            if param.pattern is not None:
                bad_pattern = pattern_problem(param.pattern)
                if bad_pattern is not None:  # reported once, where the pattern is; never compiled or matched
                    self.add(param.path + ("pattern",), bad_pattern[1], bad_pattern[0])
                    param = replace(param, pattern=None)
            try:
                check_value(param, param.default)
            except ParameterError as exc:
                self.add(path, f"default {exc.detail}", "parameter")
            if param.enum is not None and param.type not in ("secret",):
                for i, option in enumerate(param.enum):
                    try:
                        check_value(
                            type(param)(param.name, param.type, items_type=param.items_type), option)
                    except ParameterError as exc:
                        self.add(param.path + ("enum", i), f"enum value {exc.detail}", "parameter")

    # -- ids
    def check_ids(self, wf: Workflow) -> dict[str, Entry]:
        if wf.id in DAGSTER_RESERVED:
            explicit = "id" in self.doc.data
            self.add(("id",) if explicit else ("name",),
                     f"the job id `{wf.id}` is reserved by Dagster; "
                     + ("choose another id" if explicit else "set an `id:` (the default id comes from the name)"), "id")
        seen: dict[str, Entry] = {}
        params = {p.name for p in wf.parameters}
        for entry in list(iter_entries(wf.steps)) + list(iter_entries(wf.on_failure)):
            eid = getattr(entry, "id", None)
            if not eid:
                continue
            if eid in seen:
                line = self.doc.position(seen[eid].path + ("id",))[0]
                self.add(entry.path + ("id",), f"duplicate id `{eid}` (first used on line {line})", "id")
                continue
            seen[eid] = entry
            if eid in params:
                self.add(entry.path + ("id",), f"step id `{eid}` is also a parameter name; rename one of them "
                         "(templates could not tell them apart)", "id")
            if eid in RESERVED_NAMES:
                self.add(entry.path + ("id",), f"`{eid}` is a reserved name in templates; choose another id", "id")
            elif eid in DAGSTER_RESERVED:
                self.add(entry.path + ("id",), f"`{eid}` is reserved by Dagster (a Python keyword or one of its "
                         "own names); choose another id", "id")
        for eid, entry in seen.items():
            for suffix, what in GENERATED_SUFFIXES.items():
                if eid.endswith(suffix) and eid[: -len(suffix)] in seen:
                    self.add(entry.path + ("id",), f"`{eid}` is the name yaml2dag gives to the {what} of step "
                             f"`{eid[: -len(suffix)]}`; choose another id", "id")
            if eid == OUTPUTS_NODE and wf.outputs:
                self.add(entry.path + ("id",), f"`{OUTPUTS_NODE}` is the name of the node that renders the "
                         "workflow outputs; choose another id", "id")
        return seen

    # -- steps and tools
    def check_steps(self, wf: Workflow) -> None:
        for entry in list(iter_entries(wf.steps)) + list(iter_entries(wf.on_failure)):
            if not isinstance(entry, Step):
                continue
            data = self._data(entry.path)
            if not entry.tool:
                if isinstance(data, dict) and "tool" not in data:
                    self.add(entry.path, "missing required key `tool`", "schema")
                elif isinstance(data, dict) and data.get("tool") == "":
                    self.add(entry.path + ("tool",), "`tool` is empty: name a tool"
                             + f" (tools: {', '.join(tool_names())})", "tool")
                continue
            self.check_tool(entry.tool, entry.action, entry.parameters, entry.path,
                            tool_from_defaults=isinstance(data, dict) and "tool" not in data)
            if entry.on_error == "fallback" and entry.fallback is None:
                self.add(entry.path + ("on_error",), "`on_error: fallback` needs a `fallback` step body", "error-handling")
            if entry.fallback is not None and entry.on_error != "fallback" and isinstance(data, dict) and "fallback" in data:
                self.add(entry.path + ("fallback",), f"`fallback` never runs with `on_error: {entry.on_error}`; "
                         "set `on_error: fallback`", "error-handling", warning=True)
            if entry.max_parallel is not None and entry.for_each is None:
                self.add(entry.path + ("max_parallel",), "`max_parallel` only applies with `for_each`",
                         "schema", warning=True)
            for body in (entry.fallback, entry.compensate):
                if body is not None and body.tool:
                    self.check_tool(body.tool, body.action, body.parameters, body.path)

    def _data(self, path: DocPath) -> Any:
        value: Any = self.doc.data
        for part in path:
            try:
                value = value[part]
            except (KeyError, IndexError, TypeError):
                return None
        return value

    def check_tool(self, name: str, action_name: str | None, params: Mapping[str, Any], path: DocPath,
                   tool_from_defaults: bool = False) -> None:
        tool_path = path + ("tool",) if not tool_from_defaults else ("defaults", "tool")
        if name in UNSUPPORTED_TOOLS():
            self.add(tool_path, UNSUPPORTED[name], "unsupported")
            return
        try:
            tool = get_tool(name)
        except ToolRegistrationError as exc:
            self.add(tool_path, str(exc), "tool")
            return
        if tool is None:
            if name in PLANNED_TOOLS:
                self.add(tool_path, f"the `{name}` tool is not supported yet", "unsupported")
            else:
                self.add(tool_path, f"unknown tool `{name}`" + did_you_mean(name, tool_names())
                         + f" (tools: {', '.join(tool_names())})", "tool")
            return
        action = tool.action(action_name)
        if action is None:
            self.add(path + ("action",), f"unknown action `{action_name}` of tool `{name}`"
                     + did_you_mean(action_name or "", tool.action_names)
                     + f" (actions: {', '.join(tool.action_names)})", "tool")
            return
        schema_json = _schema_json(action)
        if not fast_valid(schema_json, dict(params)):
            self.problems += errors_to_problems(
                self.doc, path + ("parameters",), validator_for(schema_json).iter_errors(dict(params)),
                rule="parameters", skip_instance=is_template)
        for sub, key in literal_credentials(action.parameters, params):  # tools mark them `x-credential`
            self.add(path + ("parameters",) + sub, f"`{key}` is written literally in the workflow file, "
                     "where anyone who can read the file sees it: use a template such as "
                     f"\"{{{{ secrets.{key.upper()} }}}}\" or \"{{{{ env.{key.upper()} }}}}\"", "credential", warning=True)
        for key in action.shell_parameters:  # spec §5: values enter shell commands as quoted words
            command = params.get(key)
            if isinstance(command, str) and is_template(command):
                try:
                    shell_source(command)
                except TemplateError as exc:
                    self.add(path + ("parameters", key), str(exc), "template")
                    continue
            if isinstance(command, str):
                self.check_shell_arithmetic(command, params, path + ("parameters",), key)

    def check_shell_arithmetic(self, command: str, params: Mapping[str, Any], path: DocPath, key: str) -> None:
        """Rule ``shell``: a value bash would evaluate as arithmetic (``$(( {{ n }} + 1 ))``,
        ``[[ {{ n }} -gt 5 ]]``, an array index...; :mod:`.shell_contexts`) must be an integer;
        report those whose source is text (a string parameter, ``env``, ``secrets``, a step's
        output...) or a boolean. Values whose type shows only at run time are checked then."""
        from jinja2 import nodes

        from yaml2dag.format.shell_contexts import ARITH, BOOLEAN, TEXT, expression_type
        from yaml2dag.format.expressions import parse_template, shell_analysis

        contexts, arith_names = shell_analysis(command)

        def report(where_path: DocPath, label: str, where: str, found: tuple[str, str], lineno: int) -> None:
            what = "renders true or false" if found[0] == BOOLEAN else "is text"
            line = f" (line {lineno})" if lineno > 1 or "\n" in command else ""
            self.add(where_path, f"`{{{{ {label} }}}}` is inserted where bash evaluates arithmetic ({where}), but "
                     f"{found[1] or 'its value'} {what}: bash would evaluate it as an expression, and an "
                     f"array index in it runs commands (`a[$(cmd)]`); use an `integer` parameter or make it a "
                     f"number with `{{{{ {label} | int }}}}`{line}", "shell")

        for label, context, lineno in contexts:
            if context.kind != ARITH:
                continue
            try:
                body = parse_template("{{ " + label + " }}").body[0]
            except Exception:  # noqa: BLE001 - reported by the template checks, or left to run time
                continue
            if not isinstance(body, nodes.Output) or len(body.nodes) != 1:
                continue
            found = expression_type(body.nodes[0], self._value_type)
            if found[0] in (TEXT, BOOLEAN):
                report(path + (key,), label, context.where, found, lineno)
        env = params.get("env")
        if isinstance(env, Mapping):
            for name, value in env.items():
                if name not in arith_names or not isinstance(value, str) or not is_template(value):
                    continue
                try:
                    tree = parse_template(value)
                except Exception:  # noqa: BLE001 - reported by the template checks
                    continue
                for output in tree.find_all(nodes.Output):
                    for node in output.nodes:
                        if isinstance(node, nodes.TemplateData):
                            continue
                        found = expression_type(node, self._value_type)
                        if found[0] in (TEXT, BOOLEAN):
                            report(path + ("env", name), _source_label(value),
                                   f"the variable `{name}`, which the command evaluates as arithmetic", found, 1)
                            break

    def _value_type(self, chain: tuple[str, ...]) -> tuple[str, str]:
        """``(type, source)`` of a template name for :func:`~yaml2dag.format.shell_contexts.expression_type`."""
        from yaml2dag.format.shell_contexts import BOOLEAN, INTEGER, NUMBER, TEXT, UNKNOWN

        wf = self.workflow
        params = {p.name: p for p in wf.parameters} if wf is not None else {}
        name, rest = chain[0], chain[1:]
        if name == "params" and rest:
            name, rest = rest[0], rest[1:]
            if name not in params:
                return UNKNOWN, ""
        if name in params and not rest:
            ptype = params[name].type
            kind = {"integer": INTEGER, "number": NUMBER, "boolean": BOOLEAN}.get(ptype, TEXT)
            return kind, f"the {ptype} parameter `{name}`"
        if name in ("env", "secrets", "trigger", "run"):
            return TEXT, f"`{'.'.join(chain)}`"
        if name in ("error", "failed_step"):
            return TEXT, f"`{name}`"
        if name == "index":
            return INTEGER, ""
        if name == "loop" and rest and rest[0] in ("index", "index0", "revindex", "revindex0", "length"):
            return INTEGER, ""
        steps = ({e.id for e in (*iter_entries(wf.steps), *iter_entries(wf.on_failure)) if getattr(e, "id", None)}
                 if wf is not None else set())
        if name == "steps" and rest:
            name, rest = rest[0], rest[1:]
        if name in steps:
            field = rest[0] if rest else "output"
            if field in _INTEGER_RESULT_FIELDS:
                return INTEGER, ""
            if field in _NUMBER_RESULT_FIELDS:
                return NUMBER, ""
            if field in _BOOLEAN_RESULT_FIELDS:
                return BOOLEAN, f"`{'.'.join(chain)}`"
            return TEXT, f"`{'.'.join(chain)}` (a step result whose type is not known before the run)"
        return UNKNOWN, ""

    # -- templates
    def check_templates(self, wf: Workflow, ids: dict[str, Entry]) -> None:
        params = {p.name: p for p in wf.parameters}
        main_steps = {e.id: e for e in iter_entries(wf.steps) if isinstance(e, (Step, SubWorkflow)) and e.id}
        failure_steps = {e.id: e for e in iter_entries(wf.on_failure) if isinstance(e, (Step, SubWorkflow)) and e.id}
        for entry in iter_entries(wf.steps):
            for tf in template_fields(entry):
                self.check_template(tf, params, {**main_steps, **failure_steps}, failure=False)
        for entry in iter_entries(wf.on_failure):
            for tf in template_fields(entry):
                self.check_template(tf, params, {**main_steps, **failure_steps}, failure=True)
        for name in wf.outputs:
            for sub, text in iter_strings(wf.outputs[name]):
                if is_template(text):
                    self.check_template(TemplateField(("outputs", name) + sub, text), params, main_steps,
                                        failure=False, outputs=True)
        if failure_steps:
            for entry in iter_entries(wf.steps):
                for tf in template_fields(entry):
                    try:
                        refs = analyze(tf.value, tf.bare).references
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
            analysis = analyze(tf.value, tf.bare)
        except TemplateError as exc:
            self.add(tf.path, str(exc), LIMIT_RULE if isinstance(exc, TemplateLimitError) else "template")
            return
        if analysis.uses_raw:
            self.add(tf.path, "`| raw` inserts text without quoting: make sure it cannot come from an "
                     "untrusted value", "raw", warning=True)
        for message in analysis.forbidden:  # spec §5: no file access or code from templates
            self.add(tf.path, message, "sandbox")
        for message in static_problems_of(_source_for(tf.value, tf.bare)):  # spec §5: template bounds, env reads
            self.add(tf.path, message, "sandbox")
        available = sorted(set(params) | set(steps) | {"params", "steps", "env", "secrets", "run", "trigger"})
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
                self.add(where, f"unknown name `{name}`" + did_you_mean(name, available), "reference")

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

    # -- triggers
    def check_triggers(self, wf: Workflow) -> None:
        params = {p.name: p for p in wf.parameters}
        names: dict[str, DocPath] = {}
        for trig in wf.triggers:
            if trig.name:
                if trig.name in names:
                    self.add(trig.path + ("name",), f"duplicate trigger name `{trig.name}`", "trigger")
                names[trig.name] = trig.path
            if trig.type == "schedule":
                expr = trig.options.get("cron")
                if isinstance(expr, str):
                    try:
                        cron.parse(expr)
                    except cron.CronError as exc:
                        self.add(trig.path + ("cron",), f"invalid cron expression {expr!r}: {exc}", "cron")
                tz = trig.options.get("timezone")
                if isinstance(tz, str):
                    problem = timezone_problem(tz)
                    if problem:
                        self.add(trig.path + ("timezone",), problem, "timezone")
            for pname, value in trig.parameters.items():
                ppath = trig.path + ("parameters", pname)
                if pname not in params:
                    self.add(ppath, f"unknown parameter `{pname}`" + did_you_mean(pname, params), "trigger", key=True)
                    continue
                if params[pname].is_secret:
                    self.add(ppath, f"`{pname}` is a secret: it comes from the environment, not from a trigger",
                             "trigger")
                    continue
                if any(is_template(text) for _, text in iter_strings(value)):
                    continue
                try:
                    check_value(params[pname], value)
                except ParameterError as exc:
                    self.add(ppath, exc.detail, "trigger")
        # two triggers that would get one Dagster schedule/sensor name (unnamed ones included)
        for problem in trigger_name_clashes(wf):
            self.problems.append(self.doc.problem(*problem))

    # -- run limits, failure handlers and features not supported yet
    def check_unsupported(self, wf: Workflow) -> None:
        for trig in wf.triggers:
            key = f"trigger:{trig.type}"
            if key in UNSUPPORTED:
                self.add(trig.path + ("type",), UNSUPPORTED[key], "unsupported")
        if wf.concurrency is not None:
            if wf.concurrency.limit > MAX_CONCURRENCY_LIMIT:
                self.add(("concurrency", "limit"), f"limits above {MAX_CONCURRENCY_LIMIT} are not supported: the "
                         "run-queue rules in dagster.yaml cover 1 to 20", "concurrency")
            if wf.concurrency.key:
                params = {p.name: p for p in wf.parameters if not p.is_secret}
                try:
                    refs = analyze(wf.concurrency.key).references
                except TemplateError as exc:
                    self.add(("concurrency", "key"), str(exc),
                             LIMIT_RULE if isinstance(exc, TemplateLimitError) else "template")
                    refs = ()
                for ref in refs:
                    name = ref.attr if ref.name == "params" else ref.name
                    if ref.name == "params" and ref.attr is None:
                        continue
                    if name not in params:
                        self.add(("concurrency", "key"), f"the concurrency key can only use parameters; `{name}` "
                                 "is not one" + did_you_mean(name or "", params), "reference")
        for entry in iter_entries(wf.on_failure):
            kind = None
            if isinstance(entry, SubWorkflow):
                kind = "sub-workflow steps"
            elif isinstance(entry, Step) and entry.for_each is not None:
                kind = "`for_each`"
            elif isinstance(entry, Step) and entry.tool == "approval":
                kind = "approval gates"
            if kind:
                self.add(entry.path, f"{kind} cannot run in `on_failure` (failure handlers run inline, one "
                         "after another)", "on_failure")


_SCHEMA_JSON: dict[int, tuple[Any, str]] = {}


def _schema_json(action: Any) -> str:
    """Canonical JSON of an action's parameter schema (cached per action)."""
    cached = _SCHEMA_JSON.get(id(action))
    if cached is None or cached[0] is not action:
        cached = (action, json.dumps(action.parameters, sort_keys=True))
        _SCHEMA_JSON[id(action)] = cached
    return cached[1]


def UNSUPPORTED_TOOLS() -> set[str]:  # noqa: N802 - reads like a constant at call sites
    return {name for name in UNSUPPORTED if name in PLANNED_TOOLS}


FOR_EACH_RESULT_FIELDS = ("results", "count")


_ZONES: frozenset | None = None


def timezone_problem(name: str) -> str | None:
    """None when ``name`` is an IANA time zone, else a message with a "did you mean"."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
        return None
    except (ZoneInfoNotFoundError, ValueError):
        pass
    global _ZONES
    if _ZONES is None:
        from zoneinfo import available_timezones

        _ZONES = frozenset(available_timezones())
    return f"unknown time zone `{name}`" + did_you_mean(name, _ZONES) + " (use an IANA name such as Europe/Berlin)"


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen = set()
    out = []
    for p in sort_problems(problems):
        key = (p.line, p.column, p.path, p.message)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def check_document(doc: Document) -> FileReport:
    """Validate one parsed document (without folder-level checks).

    Never raises: an exception escaping a check is a bug, and becomes one problem with rule
    ``internal`` naming the file, so the file counts as invalid (a stand-in job in the code
    location) and the other files of a folder are still validated, listed and run.
    """
    try:
        return _Checker(doc).run()
    except Exception as exc:  # noqa: BLE001 - one file never takes the others down
        return FileReport(doc.file, doc, None, _dedupe(list(doc.problems) + [internal_problem(doc.file, exc)]))


def validate_text(text: str, file: str = "<string>") -> FileReport:
    """Validate workflow text. Never raises for bad input."""
    return check_document(load_text(text, file))


def validate_file(path: str | Path, display: str | None = None) -> FileReport:
    """Validate one file (without folder-level checks). Never raises for bad input."""
    try:
        doc = load_file(path, display)
    except Exception as exc:  # noqa: BLE001 - as in check_document
        name = display if display is not None else str(path)
        doc = Document(file=name, text="")
        doc.problems.append(internal_problem(name, exc, "reading this file"))
    return check_document(doc)


# --------------------------------------------------------------------------- folders


def expand_paths(paths: Sequence[str | Path]) -> list[tuple[Path, str]]:
    """Files named by ``paths`` (folders expanded recursively), with their display names."""
    out: list[tuple[Path, str]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for file in iter_workflow_files(path):
                out.append((file, str(file)))
        else:
            out.append((path, str(raw)))
    return out


def validate_paths(paths: Sequence[str | Path]) -> ValidationReport:
    """Validate files and folders together, including checks across files.

    Returns:
        A :class:`ValidationReport`; a missing path is reported as a problem of that path.
    """
    reports = [validate_file(path, display) for path, display in expand_paths(paths)]
    folder_problems(reports)
    return ValidationReport(reports)


def folder_problems(reports: list[FileReport]) -> None:
    """Add cross-file problems (duplicate names and job ids, sub-workflows) to the reports,
    in place. Never raises: see :func:`_isolated`."""
    for check in (_name_problems, subworkflow_problems, workflow_trigger_problems, definition_name_problems,
                  trigger_name_problems):
        _isolated(check, reports)
    for report in reports:
        report.problems[:] = _dedupe(report.problems)


def _isolated(check, reports: list[FileReport]) -> None:
    """Run the cross-file ``check`` over ``reports``; when it raises (a bug some file
    triggers), find the file(s) it raises on when checked alone, give each one ``internal``
    problem (so it is invalid: a stand-in job in the code location) and run the check again
    over the others, so one file never takes the others down."""
    sizes = [len(r.problems) for r in reports]
    try:
        check(reports)
        return
    except Exception:  # noqa: BLE001 - located below
        pass
    for report, size in zip(reports, sizes):
        del report.problems[size:]
    culprits: list[FileReport] = []
    for report, size in zip(reports, sizes):
        try:
            check([report])
        except Exception as exc:  # noqa: BLE001
            culprits.append(report)
            del report.problems[size:]
            report.problems.append(internal_problem(report.file, exc,
                                                    "checking this file against the other files of its folder"))
            continue
        del report.problems[size:]
    rest = [r for r in reports if not any(r is c for c in culprits)]
    if len(rest) < len(reports):
        _isolated(check, rest)
    else:  # raises only with several files together: no file is to blame, so none is made invalid
        for report in rest:
            problem = internal_problem(report.file, RuntimeError(check.__name__),
                                       "checking the files of this folder against each other")
            report.problems.append(replace(problem, severity=WARNING))


def _name_problems(reports: list[FileReport]) -> None:
    """Duplicate workflow names (ignoring case) and job ids across files, in place."""
    by_name: dict[str, FileReport] = {}
    by_id: dict[str, FileReport] = {}
    for report in reports:
        wf = report.workflow
        if wf is None or not wf.name:
            continue
        key = wf.name.casefold()
        doc = report.document
        if key in by_name:
            other = by_name[key]
            report.problems.append(doc.problem(("name",), f"workflow name {wf.name!r} is also used by "
                                               f"{other.file} (names are unique, ignoring case)", "duplicate"))
        else:
            by_name[key] = report
        if wf.id and wf.id in by_id and by_id[wf.id] is not by_name.get(key, report):
            other = by_id[wf.id]
            where = ("id",) if isinstance(doc.data, dict) and "id" in doc.data else ("name",)
            report.problems.append(doc.problem(where, f"job id `{wf.id}` is also used by {other.file}; "
                                               "set a distinct `id`", "duplicate"))
        else:
            by_id.setdefault(wf.id, report)


def report_definition_names(report: FileReport, resolve=None) -> list[DefinitionName]:
    """The Dagster op/graph definition names the job of a valid report will have
    (:func:`yaml2dag.format.naming.definition_names`); ``resolve(report, name) -> FileReport | None``
    finds sub-workflows (default: none are followed)."""
    wf = report.workflow
    if wf is None or report.plan is None:
        return []
    doc = report.document
    root_path = ("id",) if isinstance(doc.data, dict) and "id" in doc.data else ("name",)

    def child(name: str):
        found = resolve(report, name) if resolve is not None else None
        if found is None or found.workflow is None or found.plan is None or found.errors:
            return None
        return found.workflow, found.plan

    return definition_names(wf, report.plan, child, root_path)


def definition_name_problems(reports: list[FileReport]) -> None:
    """Report Dagster definition names that two jobs would share, in place (issue #2).

    Dagster keeps the op and graph definitions of a code location in one namespace and refuses
    to load a location where two differ under one name ("Conflicting definitions found in
    repository"). Names are ``<job>__<step>`` (:mod:`.naming`), so job ``a`` with step ``b`` and
    a workflow with id ``a__b`` clash, and so do job ``a_`` step ``b`` and job ``a`` step ``_b``.
    Files are taken in order; the error goes on the later one (its line, naming the other file),
    and only files without other errors take part (an invalid file becomes a stand-in job).
    """
    resolve = _resolver(reports)
    owners: dict[str, tuple[FileReport, DefinitionName]] = {}
    for report in reports:
        if report.errors or report.workflow is None or report.plan is None:
            continue
        names = report_definition_names(report, resolve)
        own: dict[str, DefinitionName] = {}
        clashes: list[Problem] = []
        for dn in names:
            if dn.name in own:
                first = own[dn.name]
                line = report.document.position(first.path)[0]
                clashes.append(report.document.problem(
                    dn.path, f"the {dn.what} would be named `{dn.name}`, like the {first.what} (line {line}); "
                    "Dagster op and graph names must be unique: rename one of the steps", "duplicate"))
                continue
            own[dn.name] = dn
            if dn.name in owners:
                other, theirs = owners[dn.name]
                clashes.append(report.document.problem(
                    dn.path, f"the {dn.what} would be named `{dn.name}`, like the {theirs.what} in {other.file} "
                    f"(Dagster names ops `<job>__<step>`; op and graph names must be unique in a code location): "
                    "rename the step or set a distinct `id`", "duplicate"))
        if clashes:
            report.problems += clashes
            continue
        for name, dn in own.items():
            owners[name] = (report, dn)


def _lookup(reports: list[FileReport]):
    """name (case-insensitive), job id or file stem → report."""
    index: dict[str, FileReport] = {}
    for report in reports:
        wf = report.workflow
        if wf is None:
            continue
        for key in (wf.name.casefold() if wf.name else None, wf.id, Path(report.file).stem):
            if key and key not in index:
                index[key] = report
    return lambda name: index.get(name.casefold()) or index.get(name)


def _resolver(reports: list[FileReport]):
    """``resolve(report, name) -> FileReport | None``: a workflow named from ``report`` (a
    sub-workflow step or a ``workflow`` trigger), looked up among ``reports`` first, then among
    the other files of the definitions folder holding ``report`` (validated once, on demand)."""
    find = _lookup(reports)
    extra: dict[str, list[FileReport]] = {}

    def resolve(report: FileReport, name: str) -> FileReport | None:
        found = find(name)
        if found is not None:
            return found
        root = str(library_root(Path(report.file).parent))
        if root not in extra:
            known = {str(Path(r.file).resolve()) for r in reports}
            extra[root] = [validate_file(p) for p in iter_workflow_files(root) if str(p.resolve()) not in known]
        return _lookup(extra[root])(name)

    resolve.extra = extra  # the other files read so far, by folder (for did-you-mean lists)
    return resolve


def subworkflow_problems(reports: list[FileReport]) -> None:
    """Check sub-workflow steps across files: unknown names, recursive inclusion, and the
    parameters passed against the child's declarations (issue #3, feature 2)."""
    resolve = _resolver(reports)
    for report in reports:
        wf = report.workflow
        if wf is None:
            continue
        doc = report.document
        for entry in iter_entries(wf.steps):
            if not isinstance(entry, SubWorkflow) or not entry.workflow:
                continue
            child = resolve(report, entry.workflow)
            if child is None or child.workflow is None:
                report.problems.append(doc.problem(entry.path + ("workflow",), f"unknown workflow {entry.workflow!r}: "
                                                   "no workflow of the definitions folder has that name, job id or file name",
                                                   "subworkflow"))
                continue
            if child is report:
                report.problems.append(doc.problem(entry.path + ("workflow",), "a workflow cannot include itself",
                                                   "subworkflow"))
                continue
            cycle = _inclusion_cycle(child, report, resolve)
            if cycle:
                report.problems.append(doc.problem(entry.path + ("workflow",), "recursive sub-workflows: "
                                                   + " → ".join([wf.name] + cycle), "subworkflow"))
                continue
            _check_child_parameters(report, entry, child.workflow)


def workflow_trigger_problems(reports: list[FileReport]) -> None:
    """Check ``workflow`` triggers across files (spec §7), in place: the upstream workflow must
    be a workflow of the definitions folder (name ignoring case, job id or file name, as for
    sub-workflows) and not the workflow itself; triggers that start each other in a loop
    (A → B → A) are a warning. Problems point at the trigger's ``workflow`` key."""
    resolve = _resolver(reports)

    def upstreams(report: FileReport) -> list[tuple[Any, FileReport | None]]:
        wf = report.workflow
        if wf is None:
            return []
        return [(trig, resolve(report, str(trig.options["workflow"])))
                for trig in wf.triggers
                if trig.type == "workflow" and isinstance(trig.options.get("workflow"), str)]

    def loop_from(start: FileReport, target: FileReport, seen: set[int]) -> list[str] | None:
        # a path of workflow triggers from `target`'s upstream `start` back to `target`
        if id(start) in seen or start.workflow is None:
            return None
        seen.add(id(start))
        for _trig, upstream in upstreams(start):
            if upstream is None:
                continue
            if upstream is target:
                return [start.workflow.name]
            deeper = loop_from(upstream, target, seen)
            if deeper:
                return [start.workflow.name] + deeper
        return None

    for report in reports:
        wf = report.workflow
        if wf is None:
            continue
        doc = report.document
        for trig, upstream in upstreams(report):
            ref = str(trig.options["workflow"])
            path = trig.path + ("workflow",)
            if upstream is None or upstream.workflow is None:
                names = sorted({r.workflow.name for r in reports + [x for v in resolve.extra.values() for x in v]
                                if r.workflow is not None and r.workflow.name})
                report.problems.append(doc.problem(path, f"unknown workflow {ref!r}: no workflow of the definitions "
                                                   "folder has that name, job id or file name"
                                                   + did_you_mean(ref, names), "trigger"))
                continue
            if upstream is report:
                report.problems.append(doc.problem(path, "a workflow cannot trigger itself: every run would start "
                                                   "another one", "trigger"))
                continue
            loop = loop_from(upstream, report, set())
            if loop:
                # the trigger says "after <upstream>": the loop reads in run order
                chain = " → ".join(list(reversed(loop)) + [wf.name, loop[-1]])
                report.problems.append(doc.problem(path, f"workflow triggers form a loop ({chain}): these runs "
                                                   "would start each other again and again", "trigger",
                                                   severity=WARNING))


def trigger_name_clashes(wf: Workflow, upstream_job=None) -> list[tuple[DocPath, str, str]]:
    """``(path, message, rule)`` for each trigger of ``wf`` whose Dagster schedule/sensor name
    (:func:`yaml2dag.format.trigger_names.trigger_names`) an earlier trigger of ``wf`` already has,
    when at least one of the two has no ``name:`` (two equal ``name:`` values are reported as
    duplicate trigger names). Dagster needs unique names; yaml2dag never renames silently.

    Args:
        wf: the workflow.
        upstream_job: ``ref`` → upstream job id for ``workflow`` triggers (default: the
            reference in snake_case).
    """
    from yaml2dag.format.trigger_names import duplicate_names, trigger_names

    out = []
    for trig, name, earlier in duplicate_names(wf, trigger_names(wf, upstream_job)):
        if trig.name and earlier.name:
            continue
        number = wf.triggers.index(earlier) + 1
        out.append((trig.path, f"this {trig.type} trigger would get the Dagster name `{name}`, like trigger "
                    f"{number} of this workflow (schedule and sensor names are unique): add a `name:` to one "
                    "of them", "trigger"))
    return out


def trigger_name_problems(reports: list[FileReport]) -> None:
    """Check schedule and sensor names across files, in place (spec §7, Dagster: every schedule
    and sensor name of a code location is unique). A name that an earlier valid file of the
    folder already uses, explicit ``name:`` or generated, is an error on the later file's
    trigger; generated names of ``workflow`` triggers use the upstream's job id."""
    from yaml2dag.format.trigger_names import trigger_names

    resolve = _resolver(reports)
    owners: dict[str, FileReport] = {}
    for report in reports:
        wf = report.workflow
        if wf is None:
            continue

        def upstream_job(ref: str, report: FileReport = report) -> str | None:
            found = resolve(report, ref)
            return found.workflow.id if found is not None and found.workflow is not None else None

        doc = report.document
        for problem in trigger_name_clashes(wf, upstream_job):
            report.problems.append(doc.problem(*problem))
        own: set[str] = set()
        for trig, names in zip(wf.triggers, trigger_names(wf, upstream_job)):
            for name in names:
                other = owners.get(name)
                if other is not None and other is not report:
                    where = trig.path + ("name",) if trig.name else trig.path
                    what = f"trigger name `{name}`" if trig.name else f"this trigger's Dagster name `{name}`"
                    fix = "set another `name:`" if trig.name else "add a `name:`"
                    report.problems.append(doc.problem(where, f"{what} is also the name of a trigger of {other.file} "
                                                       "(schedule and sensor names are unique in the code "
                                                       f"location): {fix}", "trigger"))
                own.add(name)
        if report.valid:
            for name in own:
                owners.setdefault(name, report)


def _inclusion_cycle(start: FileReport, target: FileReport, resolve, seen=None) -> list[str] | None:
    seen = seen or set()
    if id(start) in seen or start.workflow is None:
        return None
    seen.add(id(start))
    for entry in iter_entries(start.workflow.steps):
        if isinstance(entry, SubWorkflow) and entry.workflow:
            child = resolve(start, entry.workflow)
            if child is None:
                continue
            if child is target:
                return [start.workflow.name, target.workflow.name]
            deeper = _inclusion_cycle(child, target, resolve, seen)
            if deeper:
                return [start.workflow.name] + deeper
    return None


def _check_child_parameters(report: FileReport, entry: SubWorkflow, child: Workflow) -> None:
    doc = report.document
    declared = {p.name: p for p in child.parameters}
    for name, value in entry.parameters.items():
        path = entry.path + ("parameters", name)
        param = declared.get(name)
        if param is None:
            report.problems.append(doc.problem(path, f"{child.name!r} has no parameter `{name}`"
                                               + did_you_mean(name, declared), "subworkflow", key=True))
            continue
        if param.is_secret:
            report.problems.append(doc.problem(path, f"`{name}` is a secret of {child.name!r}: it is read from the "
                                               f"environment variable {param.env_var}, not passed", "subworkflow"))
            continue
        if any(is_template(text) for _p, text in iter_strings(value)):
            continue
        try:
            check_value(param, value)
        except ParameterError as exc:
            report.problems.append(doc.problem(path, exc.detail, "subworkflow"))
    for name, param in declared.items():
        if param.required and not param.is_secret and name not in entry.parameters:
            report.problems.append(doc.problem(entry.path, f"{child.name!r} requires the parameter `{name}` "
                                               f"({param.type})", "subworkflow"))
