"""Bounds on what a template may build, and what it may touch (spec §5; issue 10, point 6).

A template runs in Jinja2's sandbox, which keeps it away from Python internals but not from
doing a lot of work in one operation: ``{{ 3 ** (10 ** 8) }}`` is one multiplication loop in C
that no timeout can interrupt, ``{{ 'a' * 2500000000 }}`` allocates 2.5 GB at once. So every
operation that can make a value much larger than its operands is checked *before* it runs,
through the sandbox's operator interception (:attr:`INTERCEPTED_BINOPS`, ``call_binop`` in
Jinja's ``SandboxedEnvironment``) and wrappers of the methods and filters that grow text:

* a number may have at most :data:`MAX_INT_DIGITS` digits (``**``, ``*``);
* a text, list or mapping one operation builds — ``*`` (repetition), ``+``, ``~``, ``%`` and
  ``format`` (widths count), ``str`` methods (``center``, ``ljust``, ``rjust``, ``zfill``,
  ``expandtabs``, ``replace``, ``join``, ``translate``), the filters ``center``, ``indent``,
  ``wordwrap``, ``join``, ``replace``, ``format``, ``sum``, ``string``, ``pprint``, ``tojson``,
  and the conversion of a list or mapping to text — may hold at most :data:`MAX_TEXT`
  characters, counting nested values as they would print (``[x] * 1000`` of a long ``x`` counts
  its whole text, :func:`weight`);
* a template's output is at most :data:`MAX_TEXT` characters;
* ``range`` gives at most :data:`MAX_RANGE` numbers (Jinja's own sandbox limit), the filters
  ``batch`` and ``slice`` make at most that many groups; ``lipsum`` is not available.

Time is bounded separately: a step renders its parameters within its ``timeout``
(:func:`yaml2dag.compiler.runtime.within_step_time`).

:func:`static_problems` finds, without rendering, the operations whose operands are constants
and would break a bound (``{{ 'a' * 2500000000 }}``), and uses of ``env`` other than reading one
variable; the validator reports them (rule ``sandbox``).

The checks live in two modules (issue 11: one concept each): :mod:`yaml2dag.format.expression_runtime_bounds`
(run while a template renders) and :mod:`yaml2dag.format.expression_static_bounds` (found before any
run); this module keeps their public names, so ``from yaml2dag.format.expression_bounds import ...``
keeps working.
"""

from __future__ import annotations

from yaml2dag.format.expression_runtime_bounds import (  # noqa: F401
    BoundedCodeGenerator,
    INTERCEPTED_BINOPS,
    INTERCEPTED_UNOPS,
    MAX_INT_DIGITS,
    MAX_TEXT,
    TemplateBoundError,
    binop,
    check_binop,
    check_percent_format,
    check_str_call,
    check_str_format,
    check_weight,
    install,
    join_concat,
    join_output,
    unop,
    weight,
)
from yaml2dag.format.expression_static_bounds import ENV_READS, MAX_RANGE, static_problems

__all__ = ["ENV_READS", "INTERCEPTED_BINOPS", "INTERCEPTED_UNOPS", "MAX_INT_DIGITS", "MAX_RANGE", "MAX_TEXT",
           "BoundedCodeGenerator", "TemplateBoundError", "binop", "check_binop", "check_percent_format",
           "check_str_call", "check_str_format", "check_weight", "install", "join_concat", "join_output",
           "static_problems", "unop", "weight"]
