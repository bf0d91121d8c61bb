"""Validation of steps and their tools: unknown tools and actions, each step's ``parameters``
against its action's JSON Schema, literal credentials, shell command templates and values bash
would evaluate as arithmetic (rule ``shell``), error-handling keys (spec §4, §5).

A mixin of :class:`yaml2dag.format.validation_checker.DocumentChecker`; nothing here imports Dagster.
"""

from __future__ import annotations

import json
import re
from typing import Any, Mapping

from yaml2dag.format.errors import TemplateError
from yaml2dag.format.expressions import is_template, shell_source
from yaml2dag.format.loader import DocPath
from yaml2dag.format.model import Step, Workflow, iter_entries
from yaml2dag.format.schema import did_you_mean, errors_to_problems, fast_valid, validator_for
from yaml2dag.format.shell_context_kinds import MAX_ANALYSED
from yaml2dag.format.toolspecs import PLANNED_TOOLS, ToolRegistrationError, get_tool, literal_credentials, tool_names
from jinja2 import nodes
from yaml2dag.format.expressions import parse_template, shell_analysis
from yaml2dag.format.shell_contexts import ARITH, BOOLEAN, INTEGER, NUMBER, TEXT, UNKNOWN, expression_type

#: Format features this release does not run yet: key → message. The model and schema carry
#: them; the validator reports them until the feature lands.
UNSUPPORTED: dict[str, str] = {}

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


class ToolChecks:
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
            if isinstance(command, str) and is_template(command) and self._shell_source_may_fail(command):
                try:
                    shell_source(command)
                except TemplateError as exc:
                    self.add(path + ("parameters", key), str(exc), "template")
                    continue
            if isinstance(command, str):
                self.check_shell_arithmetic(command, params, path + ("parameters",), key)

    def _shell_source_may_fail(self, command: str) -> bool:
        """False only when :func:`~yaml2dag.format.expressions.shell_source` cannot raise on
        ``command``: it refuses a backslash right before ``{{`` and a value in a quoted
        here-document (both need their characters), and template syntax errors, which a template
        that :func:`~yaml2dag.format.simple_templates.simple_analysis` reads has none of."""
        if "\\" in command or "<<" in command:
            return True
        try:
            self.analyze(command)  # memoized: the template checks read it again
        except TemplateError:
            return True
        return (command, False) not in self.simple

    def check_shell_arithmetic(self, command: str, params: Mapping[str, Any], path: DocPath, key: str) -> None:
        """Rule ``shell``: a value bash would evaluate as arithmetic (``$(( {{ n }} + 1 ))``,
        ``[[ {{ n }} -gt 5 ]]``, an array index...; :mod:`.shell_contexts`) must be an integer;
        report those whose source is text (a string parameter, ``env``, ``secrets``, a step's
        output...) or a boolean. Values whose type shows only at run time are checked then."""
        if not may_evaluate_arithmetic(command):
            return  # no place bash evaluates arithmetic: nothing to report, and no bash parse to pay
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
        steps = self._entry_ids
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


#: Words that start a place where bash may evaluate arithmetic or names without brackets
#: (``let``, and values of variables declared ``-i``), see :mod:`yaml2dag.format.shell_contexts`.
_ARITHMETIC_WORDS = re.compile(r"\b(let|declare|typeset|local|readonly|export|integer)\b")


def may_evaluate_arithmetic(command: str) -> bool:
    """False only when bash cannot evaluate any part of ``command`` as arithmetic, so
    :func:`~yaml2dag.format.expressions.shell_analysis` would find no arithmetic context: every
    such place (:mod:`yaml2dag.format.shell_contexts`: ``$(( ))``, ``(( ))``, ``$[ ]``, ``[[ -eq ]]``,
    array indices, ``${v:off}``, ``let``, ``declare -i`` values) needs a ``(``, a ``[``, a ``${``
    or one of :data:`_ARITHMETIC_WORDS`, and its conservative cases (nesting past
    ``MAX_NESTING``, text past ``MAX_ANALYSED``) need brackets, backquotes or length. A fast
    check before the bash parser (issue 13: it was a third of the validation time of a large
    workflow); tests/unit/test_simple_templates.py compares it with the parser."""
    if len(command) > MAX_ANALYSED // 2 or any(mark in command for mark in ("(", "[", "${", "`")):
        return True
    return _ARITHMETIC_WORDS.search(command) is not None


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
