"""Problems found in workflow files, and the exceptions that carry them.

A :class:`Problem` follows the shape of jsonschema's errors and actionlint's output: it knows
where it is (file, 1-based line and column, a path such as ``steps[2].retry.max_attempts``),
what went wrong, and which rule found it. Validation collects every problem instead of stopping
at the first one (spec §8, "Errors a user sees").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable

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
        rule: short name of the check that found it (``schema``, ``syntax``, ``template``,
            ``cycle``, ...), shown as ``[rule]`` like actionlint does.
        severity: ``"error"`` or ``"warning"``; warnings never make a file invalid.
    """

    file: str
    line: int
    column: int
    path: str
    message: str
    rule: str = "schema"
    severity: str = ERROR

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
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.path,
            "message": self.message,
            "rule": self.rule,
            "severity": self.severity,
        }


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
