"""Read-only mappings and lists for the workflow model (issue 11: immutable all the way down).

The model's dataclasses are frozen, but the values they hold — step ``parameters``, trigger
``options``, ``defaults``, ``outputs``, ``labels``, a ``for_each`` list — are plain data from the
file. :func:`freeze` copies such a value into :class:`FrozenDict` and :class:`FrozenList`, which
refuse every change with ``TypeError``. They stay a ``dict`` and a ``list`` (``isinstance`` holds),
so JSON Schema validation, ``json.dumps``, YAML dumping, Jinja and Dagster's config read them as
before; ``dict(value)``/``list(value)``, :func:`copy.copy` and :func:`copy.deepcopy` give plain,
changeable copies, and pickling (Dagster's run workers) gives the frozen value back.

Nothing here imports Dagster.
"""

from __future__ import annotations

import copy
from typing import Any, NoReturn

import yaml
from yaml.representer import SafeRepresenter


def _refuse(self: Any, *args: Any, **kwargs: Any) -> NoReturn:
    raise TypeError(f"a workflow model value is read-only ({type(self).__name__}); "
                    "change a copy: dict(value) or list(value)")


class FrozenDict(dict):
    """A ``dict`` that refuses changes (see the module docstring)."""

    __slots__ = ()
    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self):
        return (FrozenDict, (dict(self),))

    def __copy__(self) -> dict:
        return dict(self)

    def __deepcopy__(self, memo: dict) -> dict:
        return {copy.deepcopy(k, memo): copy.deepcopy(v, memo) for k, v in self.items()}


class FrozenList(list):
    """A ``list`` that refuses changes (see the module docstring)."""

    __slots__ = ()
    __setitem__ = __delitem__ = __iadd__ = __imul__ = _refuse
    append = extend = insert = remove = pop = clear = sort = reverse = _refuse

    def __reduce__(self):
        return (FrozenList, (list(self),))

    def __copy__(self) -> list:
        return list(self)

    def __deepcopy__(self, memo: dict) -> list:
        return [copy.deepcopy(v, memo) for v in self]


def freeze(value: Any) -> Any:
    """``value`` with every mapping and list inside it, at any depth, read-only (other values,
    already immutable scalars, are kept). A frozen value is returned as it is."""
    if isinstance(value, (FrozenDict, FrozenList)):
        return value
    if isinstance(value, dict):
        return FrozenDict({k: freeze(v) for k, v in value.items()})
    if isinstance(value, list):
        return FrozenList(freeze(v) for v in value)
    return value


#: PyYAML picks representers by exact type: dump frozen values as the mappings and lists they are.
for _dumper in (yaml.SafeDumper, yaml.Dumper, getattr(yaml, "CSafeDumper", yaml.SafeDumper), getattr(yaml, "CDumper", yaml.Dumper)):
    _dumper.add_representer(FrozenDict, SafeRepresenter.represent_dict)
    _dumper.add_representer(FrozenList, SafeRepresenter.represent_list)
