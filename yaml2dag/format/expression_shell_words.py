"""Each ``{{ ... }}`` of a shell command as one quoted shell word (spec §5, "Shell safety").

While a shell command renders, every inserted value goes into an environment variable
(:data:`SHELL_VAR_PREFIX` and a number) and the command reads it as ``\"${YAML2DAG_V1}\"``; where
bash would still evaluate the value (arithmetic, a variable name; :mod:`yaml2dag.format.shell_contexts`)
the value must be an integer or a name, else rendering fails (:func:`_check_shell_context`).
The result is a :class:`ShellCommand`: the text plus the variables.
"""


from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from jinja2 import pass_context

from yaml2dag.format.errors import TemplateError
from yaml2dag.format.expression_filters import Raw, _to_text
from yaml2dag.format.shell_contexts import ARITH, NAME, SCALAR, is_integer, is_name


#: Environment variables that carry the values of a shell command: YAML2DAG_V1, YAML2DAG_V2...
SHELL_VAR_PREFIX = "YAML2DAG_V"
_SHELL_VARS = "__yaml2dag_shell_vars__"


class ShellCommand(str):
    """A rendered shell command; ``env`` holds the values its ``${YAML2DAG_Vn}`` refer to.

    The values never appear in the command text: the shell expands them from the environment
    without parsing them, so no value can inject a command, whatever the quoting around it
    (plain words, ``"..."``, ``'...'``, ``$'...'``, comments, here-documents).
    """

    env: dict[str, str]

    def __new__(cls, text: str, env: Mapping[str, str] | None = None) -> "ShellCommand":
        obj = super().__new__(cls, text)
        obj.env = dict(env or {})
        return obj


@pass_context
def _shell_word(context: Any, value: Any, state: str, kind: str | None = None, where: str = "",
                label: str = "") -> str:
    """A reference to ``value`` as one shell word, given the quote state around it.

    ``kind`` is where bash uses the word (:mod:`yaml2dag.format.shell_contexts`): in arithmetic
    (``$(( ))``, ``[[ -gt ]]``, an array index...) the value must be an integer, as a variable
    name a name, as a declared array's value it must not start with ``(``; otherwise bash would
    evaluate it. ``where`` names the construct and ``label`` the template expression, for the
    message.

    Raises:
        TemplateError: the value contains NUL, or does not fit ``kind``.
    """
    if isinstance(value, Raw):
        return str(value)
    text = _to_text(value)
    if "\0" in text:
        raise TemplateError("a value inserted in a shell command cannot contain a NUL character")
    if kind is not None:
        if isinstance(value, float) and value.is_integer() and abs(value) < 2**63:
            text = str(int(value))  # a `number` parameter given 41 arrives as 41.0; bash needs 41
        _check_shell_context(value, text, kind, where, label)
    values = context.get(_SHELL_VARS)
    if values is None:  # rendered outside render_string(shell=True): fall back to quoting
        return shlex.quote(text)
    name = f"{SHELL_VAR_PREFIX}{len(values) + 1}"
    values[name] = text
    ref = "${" + name + "}"
    if state in ('"', "#", "<<"):
        return ref  # inside double quotes, a comment or a here-document body: no quotes needed
    if state == "'":
        return f"'\"{ref}\"'"  # close the single quotes, expand in double quotes, reopen
    if state == "$'":
        return f"'\"{ref}\"$'"
    return f'"{ref}"'


def _shown(value: Any, text: str) -> str:
    if isinstance(value, bool):
        return f"the boolean {text}"
    if len(text) <= 40 and text.isprintable():
        return repr(text)
    return f"a text of {len(text)} characters"


def _check_shell_context(value: Any, text: str, kind: str, where: str, label: str) -> None:
    """Refuse a value bash would evaluate where it is inserted (see :func:`_shell_word`)."""
    shown = f"`{{{{ {label} }}}}`" if label else "a value"
    if kind == ARITH and (isinstance(value, bool) or not is_integer(text)):
        raise TemplateError(
            f"{shown} is inserted where bash evaluates arithmetic ({where}), so its value must be an "
            f"integer, got {_shown(value, text)}: bash would evaluate any other text as an expression, "
            "and an array index in it runs commands (`a[$(cmd)]`); make it a number first"
            + (f" (`{{{{ {label} | int }}}}`)" if label else ""))
    if kind == NAME and not is_name(text):
        raise TemplateError(
            f"{shown} is inserted where bash expects a variable name ({where}), so its value must be a "
            f"name (letters, digits and `_`), got {_shown(value, text)}: bash would evaluate an array "
            "index in any other text (`a[$(cmd)]`)")
    if kind == SCALAR and text.lstrip().startswith("("):
        raise TemplateError(
            f"{shown} is inserted as {where}, where bash would run a value starting with `(` as a list "
            f"assignment and expand it again, got {_shown(value, text)}")
