"""The places in a shell command where bash evaluates an inserted value (spec §5, "Shell safety").

The contexts (:data:`ARITH`, :data:`NAME`, :data:`SCALAR`; :mod:`yaml2dag.format.shell_contexts`
explains each, with its source in the bash manual), what a value must be there
(:func:`is_integer`, :func:`is_name`), the result types of the analysis (:class:`Context`,
:class:`ShellAnalysis`) and its limits (:data:`MAX_NESTING`, :data:`MAX_ANALYSED`).
"""


from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from typing import Sequence


#: The value is evaluated as an arithmetic expression: it must be an integer.
ARITH = "arith"
#: The value is used as a variable name: it must be one.
NAME = "name"
#: The value is a declaration's value that bash would evaluate as a list if it began with ``(``.
SCALAR = "scalar"

_STRENGTH = {None: 0, SCALAR: 1, NAME: 2, ARITH: 3}

#: The integers a value in an arithmetic context may be: optional sign, decimal digits, or a
#: ``0x`` hexadecimal constant (bash "Shell Arithmetic": constants), with blanks around.
_INTEGER = re.compile(r"[ \t\n]*[+-]?(?:0[xX][0-9A-Fa-f]+|[0-9]+)[ \t\n]*")
#: A bash variable name (bash "Definitions": name).
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_ASSIGNMENT = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(\[[^\]]*\])?(\+?=)")

#: ``[[ ]]`` operators whose operands bash evaluates as arithmetic expressions.
ARITH_TEST_OPERATORS = ("-eq", "-ne", "-lt", "-le", "-gt", "-ge")
_DECLARATIONS = ("declare", "typeset", "local", "export", "readonly")
_RESERVED_START = ("if", "then", "else", "elif", "do", "while", "until", "!", "time", "{", "}",
                   "fi", "done", "esac", "function", "coproc")
_READ_OPTIONS_WITH_VALUE = "dinNptu"  # read's options that take a value; `-a` takes a name
_METACHARS = " \t\n;&|()<>"


def is_integer(text: str) -> bool:
    """True when ``text`` is a bash integer constant (``42``, ``-7``, ``0x1F``, blanks around)."""
    return _INTEGER.fullmatch(text) is not None


def is_name(text: str) -> bool:
    """True when ``text`` is a bash variable name (``[A-Za-z_][A-Za-z0-9_]*``)."""
    return _NAME.fullmatch(text) is not None


@dataclass(frozen=True)
class Context:
    """Where one inserted value sits.

    Attributes:
        kind: None (an ordinary word), :data:`ARITH`, :data:`NAME` or :data:`SCALAR`.
        where: the construct, for messages (``"`$(( ))`"``, ``"an array index"``...); "" for None.
    """

    kind: str | None = None
    where: str = ""


@dataclass(frozen=True)
class ShellAnalysis:
    """What :func:`analyze_command` found.

    Attributes:
        contexts: one :class:`Context` per inserted value, in the order they appear.
        arith_names: shell variables the command evaluates as arithmetic (``n`` in
            ``$(( n + 1 ))``, ``[[ $n -gt 1 ]]``, ``${a[n]}``): an environment variable of that
            name reaches bash's arithmetic too.
    """

    contexts: tuple[Context, ...]
    arith_names: frozenset[str] = frozenset()


def placeholder_for(pieces: Sequence[str]) -> str:
    """A character that occurs in none of ``pieces`` (from Unicode's private use area)."""
    text = "".join(pieces)
    for code in range(0xE000, 0xF900):
        if chr(code) not in text:
            return chr(code)
    raise ValueError("no free placeholder character")  # pragma: no cover - 6,400 distinct characters


#: Nesting (``$(...)``, ``${...}``, ``$((...))``, subshells, backticks) the analysis follows.
MAX_NESTING = 64
#: Longest command analysed (characters): about a second of analysis on a slow machine. The
#: values of a longer command must all be integers (no shell script that long inserts text).
MAX_ANALYSED = 256 * 1024


class _TooDeep(Exception):
    pass


@dataclass
class _Word:
    start: int
    end: int
    raw: str
    values: list[int]  # positions of the inserted values that are part of the word's text

    @cached_property
    def literal(self) -> str | None:
        """The word without its quotes, if it is plain text (no expansion, no value)."""
        if any(c in self.raw for c in "$`\\") or self.values:
            return None
        return self.raw.replace("'", "").replace('"', "")
