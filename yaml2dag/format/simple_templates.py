"""The analysis of the simplest templates without Jinja's parser (issue 13: validation time).

Most templates of real workflows only insert values: ``echo {{ build.output | trim }} > {{ target }}``.
Parsing each with Jinja (:func:`yaml2dag.format.expressions.analyze`, then again for
:func:`~yaml2dag.format.expressions.static_problems_of`) is most of the validator's time on a
large workflow. :func:`simple_analysis` recognises templates whose every ``{{ ... }}`` is a dotted
name with optional argument-free filters, on one line, and gives exactly the
:class:`~yaml2dag.format.expressions.Analysis` that :func:`~yaml2dag.format.expressions.analyze`
gives (a unit test compares the two on every template of the shipped workflows and the test
data); anything else (``{% %}``, ``{# #}``, calls, operators, literals, subscripts, keywords,
whitespace control, ``env``, several lines inside ``{{ }}``, more than :data:`_MOST_LINKS` names
and filters) returns None and goes to Jinja.

Such a template has no constant operation and no use of ``env``, so the static bounds
(:func:`~yaml2dag.format.expressions.static_problems_of`) find nothing in it, and no call the
sandbox refuses; nor can it nest or hold an integer literal past the template limits.

Nothing here imports Dagster or Jinja.
"""

from __future__ import annotations

import re

from yaml2dag.format.expressions import Analysis, Reference

_NAME = r"[A-Za-z_][A-Za-z0-9_]*"
#: One ``{{ ... }}``: a dotted name, then filters without arguments, spaces and tabs around.
_EXPRESSION = re.compile(rf"[ \t]*(?P<chain>{_NAME}(?:\.{_NAME})*)(?P<filters>(?:[ \t]*\|[ \t]*{_NAME})*)[ \t]*")
#: Most names and filters in one simple ``{{ ... }}``: each is one level of Jinja's tree, which
#: :func:`~yaml2dag.format.expressions.parse_template` bounds (``MAX_EXPRESSION_DEPTH``, 32); real
#: templates use four or five.
_MOST_LINKS = 8
_VARIABLE = re.compile(r"\{\{(.*?)\}\}", re.S)
#: Names Jinja reads as constants, operators or keywords rather than as variables, and ``env``,
#: whose uses the static bounds check.
_NOT_VARIABLES = frozenset((
    "true", "false", "none", "True", "False", "None", "and", "or", "not", "in", "is", "if", "else",
    "elif", "endif", "for", "endfor", "recursive", "env", "block", "extends", "import", "include",
    "from", "with", "without", "context", "ignore", "missing", "set", "macro", "call", "filter",
    "raw", "endraw",
))


def simple_analysis(value: str, bare: bool = False) -> Analysis | None:
    """The :class:`~yaml2dag.format.expressions.Analysis` of a simple template (see the module
    docstring), or None when the template needs Jinja's parser.

    Args:
        value: the template text (or a bare expression, with ``bare``).
        bare: conditions and ``for_each`` take an expression without braces.
    """
    source = "{{ " + value + " }}" if bare and "{{" not in value and "{%" not in value else value
    if "{%" in source or "{#" in source or "\r" in source:
        return None
    refs: list[Reference] = []
    uses_raw = False
    end = 0
    for match in _VARIABLE.finditer(source):
        if "{{" in source[end:match.start()]:  # pragma: no cover - the pattern finds the first `{{`
            return None
        end = match.end()
        inner = match.group(1)
        found = _EXPRESSION.fullmatch(inner)
        if found is None:
            return None
        parts = found.group("chain").split(".")
        if parts[0] in _NOT_VARIABLES:
            return None
        filters = [f.strip() for f in found.group("filters").split("|")[1:]]
        if len(parts) + len(filters) > _MOST_LINKS:  # deep trees are parse_template's to refuse
            return None
        uses_raw = uses_raw or "raw" in filters
        lineno = source.count("\n", 0, match.start()) + 1
        refs.append(Reference(parts[0], parts[1] if len(parts) > 1 else None,
                              parts[2] if len(parts) > 2 else None, lineno))
    if "{{" in source[end:]:
        return None
    refs.sort(key=lambda r: (r.lineno, r.name, r.attr or "", r.attr2 or ""))
    return Analysis(tuple(refs), uses_raw, ())
