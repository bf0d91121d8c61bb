"""The Jinja2 sandbox every template renders in (spec §5).

:class:`_Environment` is an :class:`jinja2.sandbox.ImmutableSandboxedEnvironment` that also
checks attribute reads and calls against :mod:`yaml2dag.format.expression_data` and bounds every
operation that grows a value (:mod:`yaml2dag.format.expression_bounds`). :data:`ENV` is the one
shared environment; :data:`NAMESPACES`, :data:`LOOP_NAMES`, :data:`FAILURE_NAMES` and
:data:`JINJA_GLOBALS` are the names a template may use.
"""


from __future__ import annotations

import types
from collections.abc import Mapping
from typing import Any, Callable, Iterable

from jinja2 import StrictUndefined, Undefined
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from yaml2dag.format import expression_bounds as template_bounds
from yaml2dag.format.expression_data import (
    DATA_ATTRIBUTES,
    NameReader,
    _MAPPING_READS,
    _check_data_call,
    _jinja_object,
    _kind,
    _not_data,
    _plain_base,
    _refusal,
    is_data_value,
    is_readable,
)
from yaml2dag.format.expression_filters import _fromjson, _quote, _raw, _to_text, _tojson
from yaml2dag.format.expression_shell_words import _shell_word


class _Environment(ImmutableSandboxedEnvironment):
    """Sandboxed environment where ``a.b`` on a mapping prefers the key ``b``, values are read as
    data only and every operation is bounded (spec §5).

    * Jinja's default tries the attribute first, so ``result.items`` would return the dict
      method ``items`` instead of a tool field named ``items``.
    * Only :func:`is_readable` values expose attributes, items and methods (an allow-list: a
      ``pathlib.Path`` a step returned cannot ``write_text``); data values (pandas/numpy objects)
      only :data:`DATA_ATTRIBUTES`; ``env`` only reads (:class:`NameReader`). Only Jinja's own
      globals, macros and the methods of readable values can be called.
    * ``**``, ``*``, ``+``, ``%``, ``~``, ``format``, the growing ``str`` methods and filters, and
      the output are bounded by :mod:`.template_bounds` (Jinja's ``intercepted_binops`` and
      ``call_binop``).
    """

    intercepted_binops = template_bounds.INTERCEPTED_BINOPS
    intercepted_unops = template_bounds.INTERCEPTED_UNOPS
    code_generator_class = template_bounds.BoundedCodeGenerator
    join_concat = staticmethod(template_bounds.join_concat)

    def concat(self, parts: Iterable[str]) -> str:  # Jinja's Environment.concat: the output
        return template_bounds.join_output(parts)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        template_bounds.check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call_unop(self, context: Any, operator: str, arg: Any) -> Any:
        return super().call_unop(context, operator, arg)  # nothing to bound (see INTERCEPTED_UNOPS)

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, (Mapping, NameReader)):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
        if not is_readable(obj):
            return self.unsafe_undefined(obj, attribute)
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if not is_readable(obj):
            return self.undefined(_not_data(obj, f"`[{argument!r}]`"), name=str(argument), obj=obj,
                                  exc=SecurityError)
        return super().getitem(obj, argument)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        if not super().is_safe_attribute(obj, attr, value):
            return False
        if is_data_value(obj):
            if attr in DATA_ATTRIBUTES:
                return True
            # a column read as an attribute (``frame.temp_max``, ``frame.groupby("year").temp_max``)
            frame = getattr(obj, "obj", None) if type(obj).__name__ == "DataFrameGroupBy" else obj
            if type(frame).__name__ != "DataFrame" or callable(value):
                return False
            try:
                return attr in frame.columns
            except TypeError:
                return False
        base = _plain_base(obj)
        if base is not None:  # the type's own attributes, and a named tuple's fields
            return hasattr(base, attr) or (isinstance(obj, tuple) and attr in getattr(type(obj), "_fields", ()))
        if isinstance(obj, NameReader):
            return attr == "get"
        if isinstance(obj, Mapping):
            return attr in _MAPPING_READS
        return _jinja_object(obj)

    def unsafe_undefined(self, obj: Any, attribute: str) -> Undefined:
        if is_data_value(obj):
            return self.undefined(_refusal(obj, attribute), name=attribute, obj=obj, exc=SecurityError)
        if not is_readable(obj):
            return self.undefined(_not_data(obj, f"`.{attribute}`"), name=attribute, obj=obj, exc=SecurityError)
        return super().unsafe_undefined(obj, attribute)

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """Jinja's sandboxed ``str.format``/``format_map``, refused past the size bound."""
        wrapper = super().wrap_str_format(value)
        if wrapper is None:
            return None
        text, is_map = value.__self__, value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            if is_map:
                mapping = args[0] if args and isinstance(args[0], Mapping) else {}
                template_bounds.check_str_format(text, (), dict(mapping))
            else:
                template_bounds.check_str_format(text, args, kwargs)
            return wrapper(*args, **kwargs)

        checked.yaml2dag_template_safe = True  # type: ignore[attr-defined]
        return checked

    def call(self, context: Any, obj: Any, /, *args: Any, **kwargs: Any) -> Any:  # noqa: D401
        """Call ``obj`` from sandboxed code: data-value methods pass :func:`_check_data_call`,
        methods of other readable values are allowed (growing text methods are bounded), and
        otherwise only Jinja's globals, macros and objects; a function or object a step returned
        is refused."""
        owner = getattr(obj, "__self__", None)
        if is_data_value(owner):
            _check_data_call(owner, getattr(obj, "__name__", "?"), args, kwargs)
        elif is_data_value(obj):
            raise SecurityError(f"{_kind(obj)} cannot be called in a template")
        elif owner is not None and isinstance(obj, (types.MethodType, types.BuiltinMethodType)) \
                and not isinstance(owner, (types.ModuleType, type)):
            if not is_readable(owner):
                raise SecurityError(_not_data(owner, f"`.{getattr(obj, '__name__', '?')}()`"))
            if isinstance(owner, (str, bytes)):
                args = template_bounds.check_str_call(owner, getattr(obj, "__name__", ""), args, kwargs)
        elif not self._may_call(obj):
            raise SecurityError(f"calling {_kind(obj)} is not allowed in templates: parameters and step "
                                "results are data, not functions (spec §5)")
        return super().call(context, obj, *args, **kwargs)

    def _may_call(self, obj: Any) -> bool:
        if any(obj is value for value in self.globals.values()):
            return True
        if getattr(obj, "yaml2dag_template_safe", False):
            return True
        module = getattr(obj, "__module__", None) if isinstance(obj, (type, types.FunctionType)) else type(obj).__module__
        return bool(module) and (module == "jinja2" or module.startswith("jinja2."))


def _make_env(finalize=None) -> _Environment:
    env = _Environment(undefined=StrictUndefined, autoescape=False, finalize=finalize,
                       keep_trailing_newline=True)
    env.filters["raw"] = _raw
    env.filters["fromjson"] = _fromjson
    env.filters["tojson"] = _tojson
    env.filters["_shell_word"] = _shell_word
    env.filters["quote"] = _quote
    template_bounds.install(env)  # bounds the filters that grow text, drops `lipsum`
    return env


ENV = _make_env(finalize=_to_text)

#: Names that every template may use besides parameters and step ids (spec §5).
NAMESPACES = ("params", "steps", "env", "secrets", "run", "trigger")
#: Names that only exist in some places.
LOOP_NAMES = ("item", "index")
FAILURE_NAMES = ("failed_step", "error")
#: Jinja's own globals and constants.
JINJA_GLOBALS = tuple(ENV.globals) + ("true", "false", "none", "True", "False", "None", "loop")
