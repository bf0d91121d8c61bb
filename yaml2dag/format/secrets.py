"""Secrets: ``type: secret`` parameters and ``secrets.<NAME>`` (spec §3 and §5).

A secret is read from the environment of the process that runs the step, when the step runs —
never from run config, tags or the workflow file. Its value must never be written anywhere:
every log line, tool output, step result, error message, metadata entry and workflow output
passes through :func:`mask` first, which replaces each secret value with ``***``.

Values shorter than :data:`MIN_MASKED_LENGTH` characters are not masked (masking ``"a"`` would
garble every text); such values should not be used as secrets. Which forms of a secret are
masked (plain, JSON- and repr-escaped, URL, base64, UTF-16...) and how results of other types
are handled is described in :mod:`yaml2dag.format.masking`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Any, Iterator

from jinja2 import StrictUndefined

from yaml2dag.format.errors import Yaml2DagError
from yaml2dag.format.masking import MASK, MIN_MASKED_LENGTH, masker_of
from yaml2dag.format.model import Workflow
from yaml2dag.format.expressions import analyze, is_template, iter_strings
from yaml2dag.format.model import iter_entries
from yaml2dag.format.plan import template_fields

__all__ = ["MASK", "MIN_MASKED_LENGTH", "SECRETS", "SecretNotSetError", "SecretStore", "mask", "seal", "unseal"]


def mask(value: Any, secrets: tuple[str, ...] | list[str]) -> Any:
    """``value`` with every form of every secret (plain, JSON- and repr-escaped, URL, base64...:
    :func:`yaml2dag.format.masking.text_forms`) replaced by ``***``.

    Strings, bytes, lists, tuples, sets, mappings (keys included), pandas and numpy data are
    walked and come back as the same kind of value (:meth:`yaml2dag.format.masking.Masker.value`);
    other objects are returned unchanged (:meth:`~yaml2dag.format.masking.Masker.find` tells whether
    one still holds a secret)."""
    if not secrets:
        return value
    return masker_of(secrets).value(value)


#: A sealed secret inside a stored string: the name of its environment variable between these
#: markers (never the value); :func:`unseal` puts the value back when a step runs.
SEAL_OPEN = "\x00yaml2dag-secret:"
SEAL_CLOSE = "\x00"
_SEALED = re.compile(re.escape(SEAL_OPEN) + r"([^\x00]*)" + re.escape(SEAL_CLOSE))


class SecretNotSetError(Yaml2DagError):
    """A sealed value names a secret whose environment variable is not set where the step runs."""


def seal(value: Any, variables: Mapping[str, str]) -> Any:
    """``value`` with each secret value replaced by a reference to its environment variable.

    Used for values that Dagster stores between steps (the parameters a sub-workflow step passes,
    the elements of a ``for_each`` list): its IO manager pickles them into run storage, so they
    must hold the variable's *name*, not the secret (issue #3, "Secrets"). :func:`unseal` reverses
    it in the step that reads the value.

    Args:
        value: strings, lists, tuples and dicts (recursively; keys included); other objects are
            returned unchanged.
        variables: secret value -> name of the environment variable it was read from.

    Returns:
        The sealed copy (the same object when nothing matched).
    """
    if not variables:
        return value
    if isinstance(value, str):
        for secret in sorted(variables, key=len, reverse=True):
            if secret and secret in value:
                value = value.replace(secret, f"{SEAL_OPEN}{variables[secret]}{SEAL_CLOSE}")
        return value
    if isinstance(value, Mapping):
        return {seal(k, variables): seal(v, variables) for k, v in value.items()}
    if isinstance(value, list):
        return [seal(v, variables) for v in value]
    if isinstance(value, tuple):
        return tuple(seal(v, variables) for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(seal(v, variables) for v in value)
    return value


def unseal(value: Any) -> Any:
    """``value`` with every sealed secret (see :func:`seal`) read back from the environment.

    Raises:
        SecretNotSetError: a sealed variable is not set in this process's environment.
    """
    if isinstance(value, str):
        if SEAL_OPEN not in value:
            return value

        def _value(match: re.Match) -> str:
            name = match.group(1)
            found = os.environ.get(name)
            if found is None:
                raise SecretNotSetError(f"secret `{name}` is not set: set the environment variable {name} "
                                        "where the run executes")
            return found

        return _SEALED.sub(_value, value)
    if isinstance(value, Mapping):
        return {unseal(k): unseal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [unseal(v) for v in value]
    if isinstance(value, tuple):
        return tuple(unseal(v) for v in value)
    if isinstance(value, (set, frozenset)):
        return type(value)(unseal(v) for v in value)
    return value


def _missing(name: str, variable: str) -> StrictUndefined:
    return StrictUndefined(hint=f"secret `{name}` is not set: set the environment variable {variable} "
                                f"where the run executes")


class SecretsMapping(Mapping):
    """``secrets.NAME`` in templates: the environment variable NAME, read on access."""

    def __getitem__(self, key: str) -> Any:
        value = os.environ.get(key)
        if value is None:
            return _missing(key, key)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(())

    def __len__(self) -> int:
        return 0


def referenced_secret_names(workflow: Workflow) -> set[str]:
    """Names used as ``secrets.NAME`` anywhere in the workflow's templates."""
    names: set[str] = set()
    texts: list[tuple[str, bool]] = []
    for entries in (workflow.steps, workflow.on_failure):
        for entry in iter_entries(entries):
            texts += [(tf.value, tf.bare) for tf in template_fields(entry)]
    for value in workflow.outputs.values():
        texts += [(text, False) for _p, text in iter_strings(value) if is_template(text)]
    for trig in workflow.triggers:
        texts += [(text, False) for _p, text in iter_strings(dict(trig.parameters)) if is_template(text)]
    for text, bare in texts:
        try:
            refs = analyze(text, bare).references
        except Exception:  # noqa: BLE001 - invalid templates are the validator's business
            continue
        names.update(r.attr for r in refs if r.name == "secrets" and r.attr)
    return names


class SecretStore:
    """The secrets a workflow uses, and their current values.

    Args:
        workflow: the workflow (its ``secret`` parameters and ``secrets.NAME`` references).
    """

    def __init__(self, workflow: Workflow):
        self.parameters = {p.name: p.env_var for p in workflow.parameters if p.is_secret}
        self.variables = tuple(sorted(set(self.parameters.values()) | referenced_secret_names(workflow)))

    def values(self) -> tuple[str, ...]:
        """Current values of every secret the workflow uses (longest first, for masking)."""
        found = {os.environ.get(var) for var in self.variables}
        return tuple(sorted((v for v in found if v and len(v) >= MIN_MASKED_LENGTH), key=len, reverse=True))

    def by_value(self) -> dict[str, str]:
        """Current secret value -> its environment variable, for :func:`seal` (values shorter
        than :data:`MIN_MASKED_LENGTH` are left out, as in :meth:`values`)."""
        out: dict[str, str] = {}
        for var in self.variables:
            value = os.environ.get(var)
            if value and len(value) >= MIN_MASKED_LENGTH:
                out.setdefault(value, var)
        return out

    def parameter_values(self) -> dict[str, Any]:
        """Values of the ``secret`` parameters for templates (an error value when unset)."""
        out: dict[str, Any] = {}
        for name, var in self.parameters.items():
            value = os.environ.get(var)
            out[name] = value if value is not None else _missing(name, var)
        return out

    def missing(self) -> list[tuple[str, str]]:
        """(parameter, environment variable) of each secret parameter that is not set."""
        return [(name, var) for name, var in self.parameters.items() if os.environ.get(var) is None]


SECRETS = SecretsMapping()
