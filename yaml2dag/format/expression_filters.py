"""How template values turn into text, and the filters that convert them (spec §5).

A value mixing text and templates renders ``null`` as empty, booleans as ``true``/``false`` and
lists and mappings as JSON (:func:`_to_text`); :class:`Raw` marks a value that opted out of shell
quoting with ``| raw``; ``fromjson``, ``tojson`` and ``quote`` are the filters yaml2dag adds to
Jinja's.
"""


from __future__ import annotations

import json
import shlex
from typing import Any

from yaml2dag.format import expression_bounds as template_bounds


class Raw(str):
    """A string that the shell renderer inserts unquoted (the ``raw`` filter's result)."""


def _to_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (list, tuple, dict, set, frozenset)):
        template_bounds.check_weight(value, "printing this value")
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def _raw(value: Any) -> Raw:
    return Raw(_to_text(value))


def _fromjson(value: Any) -> Any:
    return json.loads(value)


def _tojson(value: Any, indent: int | None = None) -> str:
    return json.dumps(value, default=str, ensure_ascii=False, indent=indent)


def _quote(value: Any) -> str:
    """``quote`` filter: the value as one shell word (for commands passed to another shell)."""
    return shlex.quote(_to_text(value))
