"""Validation problems as SARIF 2.1.0, for GitHub code scanning (``yaml2dag validate --format sarif``).

SARIF (Static Analysis Results Interchange Format, OASIS standard 2.1.0:
https://docs.oasis-open.org/sarif/sarif/v2.1.0/sarif-v2.1.0.html) is what GitHub code scanning
reads (``github/codeql-action/upload-sarif``) to show a linter's problems inline on a pull
request. :func:`sarif_log` writes one run:

* ``tool.driver``: name ``yaml2dag``, its version, and one reporting descriptor per rule of the
  closed set :data:`yaml2dag.format.problem_rules.RULES` (id, ``shortDescription``), always all of
  them and in that order, so a result's ``ruleIndex`` is stable;
* one result per problem: ``ruleId``/``ruleIndex``, ``level`` (``error`` or ``warning``), the
  message (``PATH: MESSAGE`` as ``validate`` prints it), and one physical location: the file as a
  URI relative to the base folder (``uriBaseId`` ``%SRCROOT%``; absolute ``file://`` URI for a
  file outside it) and a region with ``startLine``, ``startColumn`` and ``endColumn`` (1-based
  columns counted in characters, ``columnKind`` ``unicodeCodePoints``). A problem whose position
  is unknown (line 0) points at line 1, column 1. The problem's ``path``, ``keyword``,
  ``expected`` and ``actual`` go in the result's property bag.

No Dagster import: ``validate`` never loads Dagster.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable
from urllib.parse import quote

from yaml2dag import __version__
from yaml2dag.format.errors import WARNING, Problem
from yaml2dag.format.problem_rules import RULES

#: The JSON Schema of SARIF 2.1.0 (OASIS, errata 01), named in the log's ``$schema``.
SARIF_SCHEMA_URI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
SARIF_VERSION = "2.1.0"
#: Base of the relative artifact URIs (the folder the paths are relative to; by convention the
#: root of the checked-out repository in CI).
SRCROOT = "%SRCROOT%"


def _uri(file: str, base: Path) -> tuple[str, bool]:
    """``(uri, relative)`` of ``file``: relative to ``base`` with ``/`` separators and
    percent-encoded (RFC 3986), or an absolute ``file://`` URI when it is outside ``base``."""
    path = Path(file)
    absolute = path if path.is_absolute() else (Path.cwd() / path)
    absolute = Path(os.path.normpath(absolute))
    try:
        relative = absolute.relative_to(Path(os.path.normpath(base.absolute())))
    except ValueError:
        return absolute.as_uri(), False
    return quote(relative.as_posix(), safe="/"), True


def _region(problem: Problem) -> dict[str, int]:
    line = problem.line if problem.line > 0 else 1
    column = problem.column if problem.line > 0 and problem.column > 0 else 1
    end = problem.end_column if problem.line > 0 and problem.end_column > column else column + 1
    return {"startLine": line, "startColumn": column, "endColumn": end}


def _properties(problem: Problem) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if problem.path:
        out["path"] = problem.path
    if problem.keyword:
        out["keyword"] = problem.keyword
    for name in ("expected", "actual"):
        value = getattr(problem, name)
        if value is not None:
            out[name] = list(value) if isinstance(value, tuple) else value
    return out


def _result(problem: Problem, index: dict[str, int], base: Path) -> dict[str, Any]:
    uri, relative = _uri(problem.file, base)
    location: dict[str, Any] = {"uri": uri}
    if relative:
        location["uriBaseId"] = SRCROOT
    text = f"{problem.path}: {problem.message}" if problem.path else problem.message
    result: dict[str, Any] = {
        "ruleId": problem.rule,
        "level": "warning" if problem.severity == WARNING else "error",
        "message": {"text": text},
        "locations": [{"physicalLocation": {"artifactLocation": location, "region": _region(problem)}}],
    }
    if problem.rule in index:
        result["ruleIndex"] = index[problem.rule]
    properties = _properties(problem)
    if properties:
        result["properties"] = properties
    return result


def rule_descriptors() -> list[dict[str, Any]]:
    """One SARIF ``reportingDescriptor`` per rule of :data:`~yaml2dag.format.problem_rules.RULES`,
    in its order."""
    return [{"id": rule, "name": rule, "shortDescription": {"text": text},
             "defaultConfiguration": {"level": "error"}}
            for rule, text in RULES.items()]


def sarif_log(problems: Iterable[Problem], *, base: str | Path | None = None, version: str = "") -> dict[str, Any]:
    """A SARIF 2.1.0 log (a JSON-ready dict) of ``problems``, one run of the ``yaml2dag`` tool.

    Args:
        problems: the problems to report (``ValidationReport.problems``); the order is kept.
        base: the folder artifact URIs are relative to (``%SRCROOT%``); default the current
            directory, which in CI is the repository's root.
        version: the tool's version (default ``yaml2dag.__version__``).

    Returns:
        ``{"$schema", "version": "2.1.0", "runs": [run]}``, valid against the SARIF 2.1.0 schema
        (``tests/unit/test_sarif.py``). A problem with a rule outside the closed set still gets
        a result (``ruleId`` without ``ruleIndex``); the suite keeps that from happening.
    """
    version = version or __version__
    root = Path(base) if base is not None else Path.cwd()
    root_uri = Path(os.path.normpath(root.absolute())).as_uri()
    descriptors = rule_descriptors()
    index = {d["id"]: i for i, d in enumerate(descriptors)}
    run = {
        "tool": {"driver": {"name": "yaml2dag", "version": version, "rules": descriptors}},
        "originalUriBaseIds": {SRCROOT: {"uri": root_uri if root_uri.endswith("/") else root_uri + "/"}},
        "columnKind": "unicodeCodePoints",
        "results": [_result(p, index, root) for p in problems],
    }
    return {"$schema": SARIF_SCHEMA_URI, "version": SARIF_VERSION, "runs": [run]}


__all__ = ["SARIF_SCHEMA_URI", "SARIF_VERSION", "SRCROOT", "rule_descriptors", "sarif_log"]
