"""Problems found in workflow files, and the exceptions that carry them.

A :class:`Problem` follows the shape of jsonschema's errors and actionlint's output: it knows
where it is (file, 1-based line and column, a path such as ``steps[2].retry.max_attempts``),
what went wrong, and which rule found it. Validation collects every problem instead of stopping
at the first one (spec §8, "Errors a user sees").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterable

from yaml2dag.format.problem_rules import RULE_NAMES, RULES  # noqa: F401 - the closed set of rules

ERROR = "error"
WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One problem in one workflow file.

    Args:
        file: path of the file as given by the user (``"<string>"`` for in-memory text).
        line: 1-based line number taken from the YAML node, 0 when unknown.
        column: 1-based column number, 0 when unknown.
        path: location inside the document, e.g. ``steps[2].retry.max_attempts``; ``""`` for
            the document itself.
        message: what is wrong and, where it helps, a hint ("did you mean `depends_on`?").
        rule: the check that found it, one of the closed set
            :data:`yaml2dag.format.problem_rules.RULES` (``schema``, ``syntax``, ``template``,
            ``cycle``, ...), shown as ``[rule]`` like actionlint does.
        severity: ``"error"`` or ``"warning"``; warnings never make a file invalid.
        keyword: for a problem found by the JSON Schema, the schema keyword that failed
            (``required``, ``type``, ``enum``, ``additionalProperties``, ``minimum``, ...; the
            names of JSON Schema 2020-12); ``""`` otherwise.
        expected: what the value should have been, where known: text such as ``"an integer"``,
            ``"at least 1"``, or the list of allowed values of an ``enum``; None when unknown.
        actual: the offending value where known: a string, number, boolean or null as found
            in the file (a string cut to :data:`MAX_SHOWN_VALUE` characters), or a description
            such as ``"a mapping"`` for a mapping or list; None when unknown.
        end_column: 1-based column just after the offending text on ``line`` (exclusive, as
            SARIF's ``endColumn``), 0 when unknown.
    """

    file: str
    line: int
    column: int
    path: str
    message: str
    rule: str = "schema"
    severity: str = ERROR
    keyword: str = field(default="", kw_only=True)
    expected: Any = field(default=None, kw_only=True)
    actual: Any = field(default=None, kw_only=True)
    end_column: int = field(default=0, kw_only=True)

    def __post_init__(self) -> None:
        # small, hashable and JSON-ready, whatever a check passed in
        for name in ("expected", "actual"):
            value = getattr(self, name)
            if value is not None:
                shown = shown_value(value)
                object.__setattr__(self, name, tuple(shown) if isinstance(shown, list) else shown)

    @property
    def is_error(self) -> bool:
        return self.severity == ERROR

    def format(self) -> str:
        """``FILE:LINE:COLUMN: PATH: MESSAGE [rule]`` (warnings say ``warning:`` first)."""
        where = f"{self.file}:{self.line}:{self.column}"
        level = "warning: " if self.severity == WARNING else ""
        path = f"{self.path}: " if self.path else ""
        return f"{where}: {level}{path}{self.message} [{self.rule}]"

    def to_dict(self) -> dict:
        """The problem as JSON values (``validate --format json``): the fields above, with
        ``expected`` and ``actual`` None when unknown and ``keyword`` ``""`` when not from the
        schema."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "end_column": self.end_column,
            "path": self.path,
            "message": self.message,
            "rule": self.rule,
            "severity": self.severity,
            "keyword": self.keyword,
            "expected": list(self.expected) if isinstance(self.expected, tuple) else self.expected,
            "actual": list(self.actual) if isinstance(self.actual, tuple) else self.actual,
        }


#: Longest string kept in :attr:`Problem.expected`/:attr:`Problem.actual` (longer ones are cut
#: and end with ``...``): a problem points at a value, it does not copy a large one.
MAX_SHOWN_VALUE = 200


def shown_value(value: Any) -> Any:
    """``value`` as a small JSON value for a problem: strings cut to :data:`MAX_SHOWN_VALUE`
    characters, numbers, booleans and null as they are, a list of scalars (an ``enum``'s allowed
    values) item by item; a mapping becomes ``"a mapping"``, a list of other values
    ``"a list"``, anything else its text."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, str):
        return value if len(value) <= MAX_SHOWN_VALUE else value[: MAX_SHOWN_VALUE - 3] + "..."
    if isinstance(value, (list, tuple)):
        if len(value) <= 50 and all(v is None or isinstance(v, (str, bool, int, float)) for v in value):
            return [shown_value(v) for v in value]
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return shown_value(str(value))


class Yaml2DagError(Exception):
    """Base class of every error yaml2dag raises on purpose."""


@dataclass
class WorkflowInvalidError(Yaml2DagError):
    """A workflow file did not validate.

    Attributes:
        file: the file.
        problems: every error found (warnings excluded), in file order.
    """

    file: str
    problems: list[Problem] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [p.format() for p in self.problems] or [f"{self.file}: invalid workflow"]
        return "\n".join(lines)


class WorkflowNotFoundError(Yaml2DagError):
    """No workflow in the definitions folder has the given name, job id or path."""


class ParameterError(Yaml2DagError):
    """A parameter value given for a run is missing, of the wrong type or out of range.

    The message always starts with the parameter's name: ``parameter `retries`: expected an
    integer, got 'many'``.
    """

    def __init__(self, name: str, message: str):
        self.name = name
        self.detail = message
        super().__init__(f"parameter `{name}`: {message}")


class TemplateError(Yaml2DagError):
    """A template failed to render at run time (an unknown attribute, a type error, ...)."""


def sort_problems(problems: Iterable[Problem]) -> list[Problem]:
    """Problems ordered by file, then position, then path: the order a reader expects."""
    return sorted(problems, key=lambda p: (p.file, p.line, p.column, p.path, p.message))
