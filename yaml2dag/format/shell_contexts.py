"""Where bash would evaluate a value inserted in a shell command (spec §5, "Shell safety").

Every ``{{ ... }}`` of a ``shell`` command reaches bash as one quoted word: the value sits in an
environment variable and the command says ``"${YAML2DAG_V1}"`` (:mod:`yaml2dag.format.expressions`). That
stops word splitting, globbing and command substitution, but not bash's *arithmetic
evaluation*: where bash evaluates a word as an arithmetic expression, it evaluates the expanded
text, quotes or not, and an array index in that text is expanded again — so the value
``a[$(id > pwned)]`` in ``echo $(( "${YAML2DAG_V1}" + 1 ))`` runs ``id``. Words bash takes as a
*variable name* have the same hole (``printf -v NAME``, ``read NAME``, ``[[ -v NAME ]]``: the name
``a[$(id)]`` has an index), and a declaration's value that starts with ``(`` is a compound
assignment bash expands again (``declare -a v="(...)"``).

:func:`analyze_command` finds, for each inserted value of a command, whether it sits in one of
these places. The places, from the bash manual (5.2: "Shell Arithmetic", "Arrays", "Shell
Parameter Expansion", "Bash Conditional Expressions", "Bash Builtin Commands"), each checked
against a real bash run (``tests/unit/test_shell_arithmetic.py``):

* :data:`ARITH` — the value must be an integer (:func:`is_integer`): ``$(( ))``, ``(( ))``,
  ``$[ ]``, ``for (( ; ; ))``, the arguments of ``let``, both operands of ``[[ A -eq B ]]``
  (``-ne -lt -le -gt -ge``), an array index (``${a[i]}``, ``${#a[i]}``, ``a[i]=``,
  ``a=([i]=v)``, the index in a ``declare``/``read``/``printf -v``/``unset``/``[[ -v ]]`` name;
  not for an array declared ``-A``, whose keys are text, except in ``unset``), a substring offset
  and length (``${v:off:len}``, ``${a[@]:off:len}``), a value assigned to a variable declared
  ``-i`` (``declare -i n``, ``local -i``, ``typeset -i``, ``-ai``...) by ``n=``, ``n+=``,
  ``declare n=``, ``a=(...)``, and a value assigned to a shell variable that the same command
  evaluates as arithmetic (``n={{ x }}; echo $(( n + 1 ))``, ``for n in {{ x }}; do (( n ))``).
* :data:`NAME` — the value must be a variable name (letters, digits, ``_``): the name given to
  ``printf -v``, ``read``, ``unset``, ``wait -p``, ``[[ -v ]]``, ``test -v``/``[ -v ]``, the name part
  of a ``declare``/``typeset``/``local``/``export``/``readonly`` argument, the target of a name
  reference (``declare -n r={{ x }}``, or ``r={{ x }}`` for such an ``r``) and a value assigned to a
  variable that the command expands indirectly (``${!v}``).
* :data:`SCALAR` — the value must not start with ``(``: a value in a ``declare -a``/``-A``
  argument (``declare -a v={{ x }}``), which bash would run as a compound assignment.

Not covered, because the command itself asks bash to run text as code: ``eval``, ``trap``,
``source``, ``bash -c``, ``${v@P}``; and values that reach arithmetic through a command's output
(``$(( $(echo {{ x }}) ))``) or another program. Use ``| int`` to make a value a number first.

The analysis is a small bash parser over the command's literal text, with every inserted value
replaced by a placeholder character; it never fails: text it cannot parse is read as far as it
goes, and an unterminated arithmetic region runs to the end (so its values are checked). In a
command nested more than :data:`MAX_NESTING` levels deep or longer than :data:`MAX_ANALYSED`
characters, every value is taken to be in arithmetic (it must be an integer).

The analysis is split by concept (issue 11): :mod:`yaml2dag.format.shell_context_kinds` (the
contexts, the result types, the limits), :mod:`yaml2dag.format.shell_parser` (the parser and
:func:`analyze_command`), :mod:`yaml2dag.format.shell_word_reader` (words, quoting, redirections),
:mod:`yaml2dag.format.shell_expansion_reader` (arithmetic, parameter expansions, assignments) and
:mod:`yaml2dag.format.expression_types` (the static type of a Jinja expression, for the
validator); this module keeps their public names.
"""

from __future__ import annotations

from yaml2dag.format.expression_types import BOOLEAN, INTEGER, NUMBER, TEXT, UNKNOWN, expression_type  # noqa: F401
from yaml2dag.format.shell_context_kinds import (  # noqa: F401
    ARITH,
    ARITH_TEST_OPERATORS,
    Context,
    MAX_ANALYSED,
    MAX_NESTING,
    NAME,
    SCALAR,
    ShellAnalysis,
    is_integer,
    is_name,
    placeholder_for,
)
from yaml2dag.format.shell_parser import analyze_command

__all__ = ["ARITH", "ARITH_TEST_OPERATORS", "Context", "NAME", "SCALAR", "ShellAnalysis", "analyze_command",
           "expression_type", "is_integer", "is_name", "placeholder_for"]
