"""Templates and expressions: Jinja2 in a sandbox (spec §5).

* Templates render in :class:`jinja2.sandbox.ImmutableSandboxedEnvironment`: no access to Python
  internals, no mutation of values, no imports, no file or network access.
* Data values (pandas and numpy objects: a ``data`` step's DataFrame, a column, an array, a
  timestamp) expose only an allow-list of read-only attributes and methods
  (:data:`DATA_ATTRIBUTES`) plus a DataFrame's column names, because their public methods can
  otherwise write files (``to_csv('/path')``, ``to_pickle``, ``to_sql``) or run code (``eval``,
  ``query``, ``apply``, ``pipe``). Calling one of them is refused with a function as an argument,
  with ``inplace=``, and for the text writers (:data:`TEXT_WRITERS`: ``to_csv``, ``to_json``,
  ``to_markdown``, ``to_string``, ``to_html``) with a path or buffer: they may only return text.
  :func:`analyze` reports calls of the writer and code-running methods it can see
  (:data:`FORBIDDEN_METHODS`) so the validator flags them before a run.
* A value that is exactly one ``{{ ... }}`` keeps its native type; a value mixing text and
  templates renders to a string in which ``null`` is empty, booleans are ``true``/``false`` and
  lists and maps are JSON.
* ``when``, ``if``, ``switch`` and ``for_each`` also accept a bare expression without braces.
* In a shell command, every ``{{ ... }}`` is inserted as one quoted shell word, whatever quotes
  surround it in the command; ``| raw`` opts out (spec §5, "Shell safety").

Reference extraction walks the Jinja AST (:func:`references`) so the validator can check every
name a template uses without rendering it.

The engine is split by concept (issue 11): :mod:`.expression_filters` (values as text),
:mod:`.expression_data` (what a template may read), :mod:`.expression_sandbox` (the Jinja
environment), :mod:`.expression_shell_words` and :mod:`.expression_shell_scan` (shell commands),
:mod:`.expression_analysis` (reading a template without rendering it) and this module (rendering);
every public name stays importable from here.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any, Iterable

from jinja2 import Undefined
from jinja2.exceptions import SecurityError
from jinja2.exceptions import TemplateError as JinjaTemplateError
from jinja2.exceptions import TemplateSyntaxError

from yaml2dag.format.errors import TemplateError
from yaml2dag.format.expression_analysis import (  # noqa: F401 - the engine's names, importable from here
    Analysis,
    Reference,
    TemplateLimitError,
    _source_for,
    analyze,
    is_template,
    iter_strings,
    parse_template,
    static_problems_of,
    whole_expression,
)
from yaml2dag.format.expression_data import (  # noqa: F401 - the engine's names, importable from here
    DATA_ATTRIBUTES,
    DATA_PACKAGES,
    FORBIDDEN_METHODS,
    NameReader,
    PLAIN_TYPES,
    TEXT_WRITERS,
    is_data_value,
    is_readable,
)
from yaml2dag.format.expression_filters import (  # noqa: F401 - the engine's names, importable from here
    Raw,
)
from yaml2dag.format.expression_sandbox import (  # noqa: F401 - the engine's names, importable from here
    ENV,
    FAILURE_NAMES,
    JINJA_GLOBALS,
    LOOP_NAMES,
    NAMESPACES,
)
from yaml2dag.format.expression_shell_scan import (  # noqa: F401 - the engine's names, importable from here
    shell_analysis,
    shell_source,
)
from yaml2dag.format.expression_shell_words import (  # noqa: F401 - the engine's names, importable from here
    SHELL_VAR_PREFIX,
    ShellCommand,
    _SHELL_VARS,
)


# --------------------------------------------------------------------------- rendering


@lru_cache(maxsize=4096)
def _compiled_expression(expr: str):
    try:
        return ENV.compile_expression(expr, undefined_to_none=False)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message}") from None


@lru_cache(maxsize=4096)
def _compiled_template(source: str):
    try:
        return ENV.from_string(source)
    except TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error: {exc.message} (line {exc.lineno})") from None


@lru_cache(maxsize=1024)
def _compiled_shell_template(source: str):
    return _compiled_template(shell_source(source))


def render_string(value: str, scope: Mapping[str, Any], *, shell: bool = False) -> Any:
    """Render one string: native value for a whole ``{{ expr }}``, else text.

    Args:
        value: the template text.
        scope: the names in scope (spec §5).
        shell: quote every expression as one shell word (for shell command strings).

    Raises:
        TemplateError: syntax error, unknown name or attribute, or a sandbox violation.
    """
    if not is_template(value):
        return value
    try:
        if not shell:
            expr = whole_expression(value)
            if expr is not None:
                return _defined(_compiled_expression(expr)(**scope))
            return _compiled_template(value).render(scope)
        values: dict[str, str] = {}
        text = _compiled_shell_template(value).render({**scope, _SHELL_VARS: values})
        return ShellCommand(text, values)
    except TemplateError:
        raise
    except JinjaTemplateError as exc:
        raise TemplateError(_explain(exc)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, RecursionError) as exc:
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None


def evaluate(value: Any, scope: Mapping[str, Any]) -> Any:
    """Evaluate a condition-like value: a bare expression, a template or a constant."""
    if not isinstance(value, str):
        return value
    if is_template(value):
        return render_string(value, scope)
    try:
        return _defined(_compiled_expression(value)(**scope))
    except TemplateError:
        raise
    except JinjaTemplateError as exc:
        raise TemplateError(_explain(exc)) from None
    except (TypeError, ValueError, ArithmeticError, LookupError, RecursionError) as exc:
        raise TemplateError(f"{type(exc).__name__}: {exc}") from None


def _defined(value: Any) -> Any:
    if isinstance(value, Undefined):
        str(value)  # StrictUndefined raises UndefinedError with Jinja's message
    if isinstance(value, NameReader):
        str(value)  # `{{ env }}`: the namespace itself cannot be handed out (it raises SecurityError)
    return value


_FALSE_STRINGS = {"", "false", "0", "no", "off", "none", "null"}


def truthy(value: Any) -> bool:
    """Truth of a rendered condition; the strings false/0/no/off/none/null/"" are false."""
    if isinstance(value, str):
        return value.strip().lower() not in _FALSE_STRINGS
    return bool(value)


def render_value(value: Any, scope: Mapping[str, Any], *, shell_keys: Iterable[str] = ()) -> Any:
    """Render every string inside ``value`` (dicts and lists recursively).

    ``shell_keys`` names top-level keys of a mapping whose string values are shell commands.
    """
    shell_keys = frozenset(shell_keys)
    if isinstance(value, Mapping):
        return {
            k: (render_string(v, scope, shell=True) if k in shell_keys and isinstance(v, str)
                else render_value(v, scope))
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [render_value(v, scope) for v in value]
    if isinstance(value, str):
        return render_string(value, scope)
    return value


def _explain(exc: Exception) -> str:
    message = getattr(exc, "message", None) or str(exc)
    if "is undefined" in message or "has no attribute" in message:
        return f"undefined value: {message}"
    if isinstance(exc, SecurityError) or "unsafe" in message or "access to attribute" in message:
        return f"blocked by the template sandbox: {message}"
    return message
