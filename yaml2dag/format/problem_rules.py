"""The closed set of rules a :class:`~yaml2dag.format.errors.Problem` names (spec §8).

Every problem says which check found it, as ``[rule]`` at the end of its line (like actionlint),
as ``rule`` in ``validate --format json`` and as ``ruleId`` in ``validate --format sarif``. The
rules are this fixed set, :data:`RULES`, so a CI filter or a GitHub code scanning rule can rely on
them; a check that needs a new rule adds it here with its description (the format reference's
table of rules is generated from this mapping, and ``tests/unit/test_problem_rules.py`` fails on
any rule used in the code that is missing here).
"""

from __future__ import annotations

from types import MappingProxyType

#: rule → what it checks (one sentence; shown in the format reference and as the SARIF rule's
#: ``shortDescription``). In the order a file is checked: loading, schema, model, folder, compile.
RULES = MappingProxyType({
    "syntax": "The file is readable UTF-8 YAML or JSON: no syntax error, duplicate key, YAML tag or unquoted "
              "`{{ ... }}` that YAML reads as a mapping.",
    "limit": "An input limit: file size, nesting depth, aliases, step count, size of integers and durations, "
             "length and nesting of a parameter `pattern`, template nesting.",
    "number": "Numbers are finite: `.nan`, `.inf` and floats that overflow to them are refused.",
    "schema": "The workflow's JSON Schema: known keys, required keys, value types, enumerations, minimums.",
    "id": "Step, group and job ids: unique, valid, not reserved by Dagster or by templates.",
    "parameter": "Parameter declarations: defaults match their type, enum and bounds; valid `pattern`; "
                 "secrets have no default.",
    "parameters": "Tool parameters match the action's parameter schema.",
    "tool": "The tool and action exist, and the step names one.",
    "unsupported": "A tool or feature that this version of yaml2dag does not run.",
    "credential": "A literal credential in a tool parameter; read it from `secrets` or `env`.",
    "template": "Templates parse and use only names in scope (parameters, steps, env, secrets, run, "
                "trigger, loop and failure names).",
    "sandbox": "Template operations the sandbox would refuse: bounds on what an operation may build, "
               "`env` read one variable at a time, data-value writers.",
    "shell": "A value inserted where bash evaluates arithmetic or a variable name must be an integer or a name.",
    "raw": "`| raw` inserts a value into a shell command unquoted.",
    "reference": "A template reads a step that exists and has run before it (not itself, not a later or "
                 "failure-only step).",
    "dependency": "`depends_on`/`needs` name existing steps or groups, not the step itself.",
    "cycle": "Dependencies form no cycle.",
    "error-handling": "`on_error`, `retry` and `fallback` fit together.",
    "on_failure": "What `on_failure` steps may contain and read.",
    "concurrency": "`concurrency.limit` within what the run queue supports.",
    "cron": "Schedule triggers have a valid cron expression (5 fields, or @hourly, @daily, @weekly, @monthly, @yearly).",
    "timezone": "Schedule triggers name a valid IANA time zone.",
    "trigger": "Trigger names, parameters and workflow references are valid and unique.",
    "duplicate": "Workflow names, job ids and Dagster definition names are unique in the definitions folder.",
    "subworkflow": "A sub-workflow exists in the folder, is not recursive, and gets the parameters it declares.",
    "compile": "The code location could not compile a workflow that validated (a bug: please report it).",
    "internal": "yaml2dag failed while checking the file (a bug: please report it with the file).",
})

#: The rule names, for membership tests.
RULE_NAMES = frozenset(RULES)

def rule_description(rule: str) -> str:
    """The description of ``rule``; raises KeyError for a rule outside :data:`RULES`."""
    return RULES[rule]


__all__ = ["RULES", "RULE_NAMES", "rule_description"]
