"""Validation of parameters (defaults, types, ``enum``, ``pattern``, reserved names) and of ids
(duplicates, clashes with parameters, with Dagster's reserved names and with the names yaml2dag
generates) (spec §3, §4).

A mixin of :class:`yaml2dag.format.validation_checker.DocumentChecker`; nothing here imports Dagster.
"""

from __future__ import annotations

import keyword
from dataclasses import replace

from yaml2dag.format.errors import ParameterError
from yaml2dag.format.expressions import is_template
from yaml2dag.format.limits import pattern_problem
from yaml2dag.format.model import Entry, Workflow, iter_entries
from yaml2dag.format.naming import GENERATED_SUFFIXES, OUTPUTS_NODE
from yaml2dag.format.parameters import check_value

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


class IdChecks:
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
