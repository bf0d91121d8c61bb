"""The JSON retry of :func:`yaml2dag.format.loader.load_text`: a few valid JSON documents are not
valid YAML 1.1 (tabs in odd places), so a ``.json`` file YAML cannot read is read as JSON, with
the same limits (64-bit integers, finite numbers, :data:`~yaml2dag.format.limits.MAX_DEPTH`).
Positions are not known there: limit problems are at 1:1. Nothing here imports Dagster.
"""

from __future__ import annotations

import json
from typing import Any

from yaml2dag.format.document import Document
from yaml2dag.format.errors import Problem
from yaml2dag.format.limits import MAX_DEPTH, RULE as LIMIT_RULE, float_problem, integer_problem, integer_text_problem


class _JsonLimit(ValueError):
    def __init__(self, message: str, rule: str = LIMIT_RULE):
        super().__init__(message)
        self.message, self.rule = message, rule


def _json_int(text: str) -> int:
    problem = integer_text_problem(text)
    value = int(text) if problem is None else 0
    problem = problem or integer_problem(value)
    if problem:
        raise _JsonLimit(problem)
    return value


def _json_float(text: str) -> float:
    value = float(text)
    problem = float_problem(value)
    if problem:
        raise _JsonLimit(problem, "number")
    return value


def _json_constant(text: str) -> float:
    raise _JsonLimit(float_problem(float(text)) or text, "number")


def _json_depth_exceeds(value: Any, limit: int) -> bool:
    stack = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, (dict, list)):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


def _load_json_fallback(text: str, doc: Document, line: int, col: int) -> Document:
    """A few valid JSON documents are not valid YAML 1.1 (tabs in odd places); retry as JSON,
    with the limits of :func:`load_text` (positions are not known: problems are at 1:1)."""
    try:
        data = json.loads(text, parse_int=_json_int, parse_float=_json_float, parse_constant=_json_constant)
    except json.JSONDecodeError as exc:
        doc.problems.append(Problem(doc.file, exc.lineno, exc.colno, "", f"invalid JSON: {exc.msg}", "syntax",
                                    end_column=doc.end_column(exc.lineno, exc.colno)))
        return doc
    except _JsonLimit as exc:
        doc.problems.append(Problem(doc.file, 1, 1, "", exc.message, exc.rule))
        return doc
    except RecursionError:  # deeper than Python's recursion limit: far past MAX_DEPTH
        data = None
    if data is None and text.strip() != "null" or _json_depth_exceeds(data, MAX_DEPTH):
        doc.problems.append(Problem(doc.file, 1, 1, "", f"mappings and lists are nested more than {MAX_DEPTH} "
                                    f"levels deep; a workflow file nests at most {MAX_DEPTH}", LIMIT_RULE))
        return doc
    doc.data = data
    return doc
