"""Limits on what one workflow file may hold, checked before the work they protect (issue 10).

A workflow file is input from people and tools alike; each limit below keeps a bad or hostile
file from crashing the validator (Python's recursion limit, its 4,300-digit limit on integer
conversion, float overflow), hanging it (quadratic or exponential work) or exhausting memory,
and so from taking the other workflows of the folder down with it. A file over a limit gets a
problem with rule ``limit`` at the offending node (line, column, path), like any other problem.
Each number is far above what a real workflow needs: the largest shipped workflow is 8 KB with
10 steps, nests 9 levels deep and has no template nested more than 5 levels.

The user guide lists the limits with their reasons (docs/manual/workflow_guide_en.md, "Limits").
Nothing here imports Dagster or Jinja (PyYAML's event parser counts steps before parsing).
"""

from __future__ import annotations

import math
import re
import warnings
from functools import lru_cache

import yaml

#: Largest workflow file, in bytes (16 MiB). Checked on the file's size before it is read or
#: parsed: loading and checking cost grows with the size, and a 48 MB file of 738,000 steps
#: used to take more than 4 GB and never finish. 16 MiB holds the 50,000-step workflow of
#: benchmarks/validate_scale.py (6.4 MB) with room to spare; a file just under it is parsed in
#: full before the step count refuses it (docs/reliability.md gives the time and memory).
MAX_FILE_BYTES = 16 * 1_048_576

#: Most entries (steps, parallel groups, branches, switches, sub-workflow steps; ``on_failure``
#: included) in one workflow. Each becomes at least one Dagster op; Dagster's UI and its run
#: storage (one row per event) grow with it. Validation is near-linear in steps and references
#: (issue 13: 10,000 steps in under 2 s, docs/benchmarks.md), so the bound is what a machine
#: can compile and run, not what the validator can check.
MAX_STEPS = 100_000

#: Deepest nesting of mappings and lists in a file (the document itself is level 0). Python
#: builds, checks and copies nested values recursively, and its default recursion limit (1,000
#: frames, several per level) is shared with Dagster's own frames at run time.
MAX_DEPTH = 64

#: Integers are 64-bit: from -2**63 to 2**63 - 1 (at most 19 digits). Python refuses to convert
#: integers of more than 4,300 digits to text (``sys.get_int_max_str_digits``), floats overflow
#: past about 1.8e308, and no count, priority or limit of a workflow needs more.
MIN_INTEGER = -(2**63)
MAX_INTEGER = 2**63 - 1
#: Digits (after ``0x``/``0o``/``0b`` and signs, underscores ignored) above which an integer is
#: refused without being converted at all; 64 binary digits is the longest 64-bit literal.
MAX_INTEGER_DIGITS = 64

#: Deepest nesting in one template: brackets, ``{% %}`` blocks, and operators and attributes
#: chained one inside the other (``a + b + c`` is two levels, ``x.a.b`` three). Jinja parses
#: and compiles templates recursively (about 14 Python frames per bracket); 90 nested
#: parentheses crashed the validator.
MAX_EXPRESSION_DEPTH = 32

#: Longest ``pattern`` of a parameter, in characters.
MAX_PATTERN_LENGTH = 1000
#: Deepest nesting of groups in a ``pattern``: Python's ``re`` parses groups recursively.
MAX_PATTERN_DEPTH = 20

#: Longest duration (``timeout``, retry ``delay`` and ``max_delay``): 365 days, in seconds.
#: Python's timers refuse waits past ``threading.TIMEOUT_MAX`` and floats overflow; a year is
#: far longer than any step or run should wait.
MAX_DURATION_SECONDS = 365 * 86400

#: Most attempts of one step (``retry.max_attempts``, the first try included). Every attempt is
#: a Dagster retry recorded in the event log, and ``yaml2dag show`` lists the wait before each.
MAX_ATTEMPTS = 100

#: Rule name of the problems these limits produce.
RULE = "limit"


def integer_problem(value: int) -> str | None:
    """A message when ``value`` is outside the 64-bit range, else None."""
    if MIN_INTEGER <= value <= MAX_INTEGER:
        return None
    return f"{_show_int(value)} is out of range: integers are 64-bit, from {MIN_INTEGER} to {MAX_INTEGER}"


def integer_text_problem(text: str) -> str | None:
    """A message when an integer literal (YAML or JSON text) has more digits than any 64-bit
    integer (:data:`MAX_INTEGER_DIGITS`), checked before the text is converted; else None."""
    digits = sum(1 for ch in text if ch.isalnum()) - (2 if text.lstrip("+-")[:2].lower() in ("0x", "0o", "0b") else 0)
    if digits <= MAX_INTEGER_DIGITS:
        return None
    return (f"the integer {_clip(text)} ({digits} digits) is out of range: integers are 64-bit, from "
            f"{MIN_INTEGER} to {MAX_INTEGER}")


def float_problem(value: float) -> str | None:
    """A message for NaN and infinities, which no workflow value may be, else None: run
    config travels as JSON, which has neither, and NaN makes every comparison false (so a
    ``maximum: .nan`` would turn the bound off)."""
    if math.isfinite(value):
        return None
    shown = ".nan" if value != value else (".inf" if value > 0 else "-.inf")
    return f"`{shown}` is not a finite number: workflow values are finite numbers (JSON has no NaN or infinity)"


def _clip(text: str) -> str:
    return text if len(text) <= 24 else f"{text[:12]}…{text[-4:]}"


def _show_int(value: int) -> str:
    if abs(value) < 10**24:
        return str(value)
    bits = value.bit_length()
    return f"the integer of about {int(bits * 0.30103) + 1} digits"


def duration_problem(seconds: float) -> str | None:
    """A message when a duration is longer than :data:`MAX_DURATION_SECONDS`, else None."""
    if seconds <= MAX_DURATION_SECONDS:
        return None
    return f"a duration is at most 365 days ({MAX_DURATION_SECONDS} seconds)"


# --------------------------------------------------------------------------- regex patterns

try:  # Python 3.11+
    from re import _parser as _sre_parse  # type: ignore[attr-defined]
    from re import _constants as _sre_constants  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as _sre_constants  # type: ignore[no-redef]
    import sre_parse as _sre_parse  # type: ignore[no-redef]

_REPEATS = tuple(getattr(_sre_constants, name) for name in ("MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT")
                 if hasattr(_sre_constants, name))


def _group_depth(pattern: str) -> int:
    """Deepest nesting of ``(`` groups, outside character classes and escapes (lexical)."""
    depth = deepest = 0
    i, n = 0, len(pattern)
    in_class = False
    while i < n:
        ch = pattern[i]
        if ch == "\\":
            i += 2
            continue
        if in_class:
            if ch == "]":
                in_class = False
        elif ch == "[":
            in_class = True
            if pattern[i + 1:i + 2] == "^":
                i += 1
            if pattern[i + 1:i + 2] == "]":
                i += 1
        elif ch == "(":
            depth += 1
            deepest = max(deepest, depth)
        elif ch == ")":
            depth = max(0, depth - 1)
        i += 1
    return deepest


def _nested_repeat(items, inside: str | None) -> bool:
    """True when a repetition holds another one and at least one of the two is unbounded
    (``*``, ``+``, ``{n,}``): ``(a+)+``, ``(a{1,9})*``, ``(a+){3}``. Bounded in bounded, such as
    ``(\\d{1,3}\\.){3}``, is fine. ``inside``: None, ``"bounded"`` or ``"unbounded"``."""
    for op, av in items:
        if op in _REPEATS:
            _low, high, sub = av
            if high is _sre_constants.MAXREPEAT or high > 1:
                unbounded = high is _sre_constants.MAXREPEAT
                if inside is not None and (unbounded or inside == "unbounded"):
                    return True
                if _nested_repeat(sub, "unbounded" if unbounded or inside == "unbounded" else "bounded"):
                    return True
            elif _nested_repeat(sub, inside):
                return True
        elif op is _sre_constants.SUBPATTERN:
            if _nested_repeat(av[-1], inside):
                return True
        elif op is _sre_constants.BRANCH:
            if any(_nested_repeat(branch, inside) for branch in av[1]):
                return True
        elif op in (_sre_constants.ASSERT, _sre_constants.ASSERT_NOT):
            if _nested_repeat(av[1], inside):
                return True
        elif hasattr(_sre_constants, "ATOMIC_GROUP") and op is _sre_constants.ATOMIC_GROUP:
            if _nested_repeat(av, inside):
                return True
        elif op is _sre_constants.GROUPREF_EXISTS:
            if _nested_repeat(av[1], inside) or (av[2] is not None and _nested_repeat(av[2], inside)):
                return True
    return False


@lru_cache(maxsize=1024)
def pattern_problem(pattern: str) -> tuple[str, str] | None:
    """``(rule, message)`` when a parameter ``pattern`` cannot be used safely, else None.

    Checked before the pattern is compiled or matched:

    * at most :data:`MAX_PATTERN_LENGTH` characters and :data:`MAX_PATTERN_DEPTH` nested groups
      (rule ``limit``);
    * a valid Python regular expression (rule ``parameter``);
    * no repetition inside a repetition when either is unbounded, such as ``(a+)+`` or
      ``(\\w+\\s?)*`` (rule ``limit``): Python's backtracking matcher can take exponential
      time on such a pattern (ReDoS), which would hang validation and every run that checks a
      value. This is the "star height" rule of the ``safe-regex`` linter, relaxed for bounded
      repetitions (``(\\d{1,3}\\.){3}`` is fine); rewrite the pattern without the nesting, e.g.
      ``(a+)+`` as ``a+``.
    """
    if len(pattern) > MAX_PATTERN_LENGTH:
        return RULE, f"the pattern is {len(pattern)} characters long; a pattern has at most {MAX_PATTERN_LENGTH}"
    if _group_depth(pattern) > MAX_PATTERN_DEPTH:
        return RULE, f"the pattern nests groups more than {MAX_PATTERN_DEPTH} deep"
    try:
        with warnings.catch_warnings():  # e.g. "Possible nested set": the pattern is still valid
            warnings.simplefilter("ignore")
            parsed = _sre_parse.parse(pattern)
            re.compile(pattern)
    except re.error as exc:
        return "parameter", f"the pattern {_clip(pattern)!r} is not a valid regex: {exc}"
    except (RecursionError, OverflowError, ValueError) as exc:  # pragma: no cover - bounded above
        return RULE, f"the pattern is too complex ({type(exc).__name__})"
    if _nested_repeat(list(parsed), None):
        return RULE, ("the pattern repeats a part that itself repeats (such as `(a+)+`), which can take "
                      "exponential time to match; rewrite it without the nested repetition")
    return None


# --------------------------------------------------------------------------- step count, before parsing

#: Files larger than this (bytes) have their steps counted from the YAML event stream before they
#: are parsed into values: a file just under :data:`MAX_FILE_BYTES` made of tiny steps took 31 s of
#: CPU and 1.9 GB to parse in full before the step count refused it; the count stops at
#: ``MAX_STEPS + 1`` entries, in about a second and 50 MB. Smaller files are parsed at once (the
#: count would only add to their time).
PRESCAN_BYTES = 1_048_576

#: Keys of an entry whose value is a list of entries, and the one whose value maps case names to such lists.
_ENTRY_LISTS = ("parallel", "then", "else", "default")


def _mapping_bound(text: str) -> int:
    """An upper bound on the number of mappings in the YAML ``text``: every mapping has a key,
    written with a ``:`` value indicator or a ``?`` explicit-key indicator, or is an empty flow
    mapping ``{}`` (aliases build no mapping of their own and the count below ignores them). So a
    text with fewer of these three characters than ``most`` cannot hold more than ``most`` entries,
    and the event stream need not be read: a count of three characters (C speed, about 1 ms per
    MiB) instead of about 0.15 s per MiB. Characters inside scalars (URLs, times) only raise the
    bound, which keeps the test sound."""
    return text.count(":") + text.count("?") + text.count("{")


def too_many_steps(text: str, most: int | None = None) -> tuple[int, int] | None:
    """``(line, column)`` of the top-level ``steps`` (or ``on_failure``) key when the entries of
    ``text`` (counted as :func:`yaml2dag.format.validation_limits.LimitChecks.step_count_problem`
    does: steps, groups, branches, switches, their nested lists, ``on_failure`` included) are more
    than ``most`` (default :data:`MAX_STEPS`), else None.

    Reads libyaml's event stream (no values are built) and stops at entry ``most + 1``. Aliases
    count nothing here, so the count is a lower bound and the refusal sound; a syntax error ends
    the count (the parser then reports it).
    """
    most = MAX_STEPS if most is None else most
    if _mapping_bound(text) <= most:
        return None
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    # frames: [kind ("map"/"seq"), role, expect_key, key, key_mark, child_is_key]
    stack: list[list] = []
    count = 0
    where: tuple[int, int] | None = None
    try:
        for event in yaml.parse(text, Loader=loader):
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                parent = stack[-1] if stack else None
                role, is_key, mark = "other", False, None
                if parent is not None and parent[0] == "map":
                    is_key = parent[2]
                    if not is_key:
                        key = parent[3]
                        if parent[1] == "top" and key in ("steps", "on_failure"):
                            role, mark = ("list" if isinstance(event, yaml.SequenceStartEvent) else "other"), parent[4]
                        elif parent[1] == "entry" and key in _ENTRY_LISTS and isinstance(event, yaml.SequenceStartEvent):
                            role = "list"
                        elif parent[1] == "entry" and key == "cases" and isinstance(event, yaml.MappingStartEvent):
                            role = "cases"
                        elif parent[1] == "cases" and isinstance(event, yaml.SequenceStartEvent):
                            role = "list"
                elif parent is not None and parent[1] == "list" and isinstance(event, yaml.MappingStartEvent):
                    role = "entry"
                    count += 1
                    if count > most:
                        return where
                elif parent is None and isinstance(event, yaml.MappingStartEvent):
                    role = "top"
                if role == "list" and mark is not None:
                    where = mark
                kind = "map" if isinstance(event, yaml.MappingStartEvent) else "seq"
                stack.append([kind, role, True, None, None, is_key])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                frame = stack.pop()
                if stack and stack[-1][0] == "map":
                    parent = stack[-1]
                    if frame[5]:  # a mapping or list used as a key: its value comes next
                        parent[2], parent[3] = False, None
                    else:
                        parent[2] = True
            elif isinstance(event, (yaml.ScalarEvent, yaml.AliasEvent)) and stack and stack[-1][0] == "map":
                parent = stack[-1]
                if parent[2]:
                    parent[2] = False
                    parent[3] = event.value if isinstance(event, yaml.ScalarEvent) else None
                    parent[4] = (event.start_mark.line + 1, event.start_mark.column + 1)
                else:
                    parent[2] = True
            elif isinstance(event, yaml.DocumentEndEvent):
                break  # one document: the loader refuses a second one
    except yaml.YAMLError:
        return None
    return None
