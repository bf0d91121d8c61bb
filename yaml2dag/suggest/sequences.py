"""Sessions and repeated command sequences (issue 12, §1).

* **Window**: entries with a timestamp count when ``now - days <= t <= now``; a file without
  any timestamp is used whole (the window cannot apply to it; the source report says so).
* **Sessions**: the entries of one file in time order; a gap of more than
  :data:`SESSION_GAP_S` (30 minutes, the issue's rule) ends a session. Each entry becomes its
  simple commands (``a && b`` gives ``a`` then ``b``); noise (``ls``, ``clear``, ``git status``,
  editors...) and typos are left out, and a command repeated immediately (``make; make``) counts
  once.
* **Mining**: every run of 1 to :data:`MAX_LENGTH` consecutive commands of a session is counted
  by its shape (:attr:`~.commands.Command.key`), level by level: a run of length *n* is only
  counted where its first *n-1* commands were frequent, so the work is proportional to the
  frequent runs' occurrences (near-linear in the history's size). Occurrences of one sequence
  never overlap.
* **Longest wins**: frequent sequences are taken longest first (then most frequent); each
  command execution belongs to at most one suggestion, so a sub-sequence is suggested on its
  own only when it also occurs at least ``min_count`` times outside the longer one.

A typo is a program that does not resolve (not on ``PATH``, not a shell builtin, not an alias
defined in the history) and is one edit (insertion, deletion, substitution or transposition)
away from a program that resolves or is used more often (``gti`` → ``git``, ``pyhton`` →
``python``); a two-letter name only when it is a resolving one swapped (``sl`` → ``ls``), since
short names are usually aliases (``gs``, ``gp``).

Nothing here imports Dagster.
"""

from __future__ import annotations

import re
import shutil
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Callable, Iterable, NamedTuple

from yaml2dag.suggest.commands import Command, read_line
from yaml2dag.suggest.histories import AFTER_NOW, BEFORE_WINDOW, HistoryEntry, SourceReport

#: Seconds of inactivity that end a session (issue 12: "a gap of more than 30 minutes").
SESSION_GAP_S = 30 * 60
#: Longest command sequence mined (bounds the work per position).
MAX_LENGTH = 8

#: Shell builtins and keywords (bash, zsh, fish): they always resolve.
BUILTINS = frozenset("""
    . : [ alias autoload bg bind bindkey break builtin caller cd command compgen complete continue declare dirs
    disown echo enable eval exec exit export false fc fg getopts hash help history jobs kill let local logout
    mapfile popd printf pushd pwd read readarray readonly return set setopt shift shopt source suspend test
    times trap true type typeset ulimit umask unalias unset unsetopt wait whence where which zmodload abbr
    funced funcsave functions string math contains status r noglob nocorrect time nohup sudo doas
""".split())


class Unit(NamedTuple):
    """One simple command in a session.

    Attributes:
        command: the command read (:class:`~.commands.Command`).
        op: the operator that joined it to the previous command of the same entry (``&&``,
            ``;``) or None when it starts an entry.
        entry: the history entry it comes from.
    """

    command: Command
    op: str | None
    entry: HistoryEntry


@dataclass
class Pattern:
    """A command sequence repeated often enough.

    Attributes:
        keys: the shapes of its commands.
        occurrences: ``(session, start)`` of each occurrence (not overlapping), in time order.
    """

    keys: tuple[str, ...]
    occurrences: list[tuple[int, int]]

    @property
    def length(self) -> int:
        return len(self.keys)


def in_window(entries: list[HistoryEntry], report: SourceReport, start: float | None,
              end: float | None) -> list[HistoryEntry]:
    """The entries inside ``[start, end]`` (Unix seconds); the others are counted as skipped in
    ``report``. A file without timestamps is kept whole and ``report.note`` says so."""
    if not report.timestamps:
        if entries:
            report.note = "no timestamps in this file: the time window does not apply; every command was used"
        report.used = sum(e.lines for e in entries)
        return list(entries)
    kept = []
    for entry in entries:
        if start is not None and entry.timestamp < start:
            report.skip(BEFORE_WINDOW, entry.lines)
        elif end is not None and entry.timestamp > end:
            report.skip(AFTER_NOW, entry.lines)
        else:
            kept.append(entry)
    report.used = sum(e.lines for e in kept)
    return kept


_CACHE: dict[str, tuple] = {}
_CACHE_SIZE = 200_000


def read_commands(text: str) -> tuple:
    """:func:`~.commands.read_line`, cached by text (histories repeat their lines a lot)."""
    found = _CACHE.get(text)
    if found is None:
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        found = _CACHE[text] = tuple(read_line(text))
    return found


def _one_edit(a: str, b: str) -> bool:
    """True when ``a`` and ``b`` differ by one insertion, deletion, substitution or
    transposition of adjacent characters."""
    if a == b or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        diff = [i for i in range(len(a)) if a[i] != b[i]]
        if len(diff) == 1:
            return True
        return len(diff) == 2 and diff[1] == diff[0] + 1 and a[diff[0]] == b[diff[1]] and a[diff[1]] == b[diff[0]]
    if len(a) > len(b):
        a, b = b, a
    i = 0
    while i < len(a) and a[i] == b[i]:
        i += 1
    return a[i:] == b[i + 1:]


_ALIAS = re.compile(r"^\s*alias\s+(?:-g\s+)?([A-Za-z0-9_.-]+)=")


def typo_programs(programs: Counter, aliases: Iterable[str] = (),
                  resolves: Callable[[str], bool] | None = None) -> set[str]:
    """The programs of ``programs`` (name → uses) that are typos (see the module docstring)."""
    resolves = resolves or (lambda name: shutil.which(name) is not None)
    known = set(BUILTINS) | set(aliases)
    unresolved = []
    good: set[str] = set()
    for name in programs:
        if name in known or "/" in name or not re.fullmatch(r"[A-Za-z0-9_.+-]+", name):
            good.add(name)
        elif resolves(name):
            good.add(name)
        else:
            unresolved.append(name)
    typos = set()
    candidates = good | set(unresolved)
    for name in unresolved:
        for other in candidates:
            if len(other) < 2 or not (other in good or programs[other] > programs[name]):
                continue
            if len(name) < 3:
                # two letters: only swapped ones (`sl`, `dc`); others are likely aliases (`gs`, `gp`)
                if len(name) == 2 and name[::-1] == other and (other in good):
                    typos.add(name)
                    break
                continue
            if _one_edit(name, other):
                typos.add(name)
                break
    return typos


def sessions(entries: list[HistoryEntry], resolves: Callable[[str], bool] | None = None) -> list[list[Unit]]:
    """The sessions of ``entries`` (any number of files), each a list of :class:`Unit`, noise
    and typos left out, immediate repeats merged. Files never share a session."""
    by_source: dict[int, list[HistoryEntry]] = defaultdict(list)
    for entry in entries:
        by_source[entry.source].append(entry)
    programs: Counter = Counter()
    aliases: set[str] = set()
    for entry in entries:
        match = _ALIAS.match(entry.command)
        if match:
            aliases.add(match.group(1))
        for cmd, _ in read_commands(entry.command):
            if cmd.program:
                programs[cmd.base if "/" not in cmd.program else cmd.program] += 1
    typos = typo_programs(programs, aliases, resolves)
    # per command line: its commands, each with whether it stays in the stream
    prepared: dict[str, list[tuple[Command, str | None, bool]]] = {}
    for entry in entries:
        if entry.command not in prepared:
            prepared[entry.command] = [
                (cmd, op, not (cmd.kind == "noise" or (cmd.program and cmd.base in typos and "/" not in cmd.program)))
                for cmd, op in read_commands(entry.command)]
    out: list[list[Unit]] = []
    for source in sorted(by_source):
        items = sorted(by_source[source], key=lambda e: (e.timestamp or 0.0, e.first_line))
        current: list[Unit] = []
        last_time: float | None = None
        previous = None  # the text of the command typed just before (noise included)
        for entry in items:
            if entry.timestamp is not None and last_time is not None and entry.timestamp - last_time > SESSION_GAP_S:
                if current:
                    out.append(current)
                current, previous = [], None
            last_time = entry.timestamp if entry.timestamp is not None else last_time
            for cmd, op, keep in prepared[entry.command]:
                repeated = op is None and cmd.text == previous
                previous = cmd.text
                if keep and not repeated:  # noise and typos out; a retry right away counts once
                    current.append(Unit(cmd, op, entry))
        if current:
            out.append(current)
    return out


def _non_overlapping(starts: list[tuple[int, int]], length: int) -> list[tuple[int, int]]:
    if length == 1:
        return starts
    kept: list[tuple[int, int]] = []
    last_session, last_end = -1, -1
    for session, start in starts:
        if session == last_session and start < last_end:
            continue
        kept.append((session, start))
        last_session, last_end = session, start + length
    return kept


def _acceptable(keys: tuple[str, ...], sample: list[Unit]) -> bool:
    """A sequence worth suggesting: not ending with a context command, and doing some work
    beyond :data:`~.commands.TRIVIAL_ALONE` commands (``echo``, ``cat``, ``sleep``...)."""
    commands = [u.command for u in sample]
    if commands[-1].kind == "context":
        return False
    return any(c.kind == "work" and not c.trivial_alone for c in commands)


def mine(sessions_: list[list[Unit]], min_count: int, max_length: int = MAX_LENGTH) -> list[Pattern]:
    """The repeated sequences of ``sessions_``, longest first, each command execution in at most
    one of them (see the module docstring).

    Args:
        sessions_: from :func:`sessions`.
        min_count: the fewest occurrences of a sequence worth a suggestion (issue: 3).
        max_length: the longest sequence considered.

    Returns:
        The :class:`Pattern` s, longest first, then most frequent.
    """
    ids: dict[str, int] = {}
    streams = [[ids.setdefault(u.command.key, len(ids)) for u in session] for session in sessions_]
    keys_of = {v: k for k, v in ids.items()}
    level: dict[tuple[int, ...], list[tuple[int, int]]] = defaultdict(list)
    for s, stream in enumerate(streams):
        for i, key in enumerate(stream):
            level[(key,)].append((s, i))
    frequent_unit = {gram[0] for gram, starts in level.items() if len(starts) >= min_count}
    level = {gram: starts for gram, starts in level.items() if len(starts) >= min_count}
    candidates: list[tuple[tuple[int, ...], list[tuple[int, int]]]] = []
    n = 1
    while level:
        for gram, starts in level.items():
            occurrences = _non_overlapping(starts, n)
            if len(occurrences) >= min_count:
                candidates.append((gram, occurrences))
        if n >= max_length:
            break
        grown: dict[tuple[int, ...], list[tuple[int, int]]] = defaultdict(list)
        for gram, starts in level.items():
            for s, i in starts:
                stream = streams[s]
                if i + n < len(stream) and stream[i + n] in frequent_unit:
                    grown[gram + (stream[i + n],)].append((s, i))
        n += 1
        level = {gram: starts for gram, starts in grown.items() if len(starts) >= min_count}
    candidates.sort(key=lambda c: (-len(c[0]), -len(c[1]), c[1][0]))
    claimed = [bytearray(len(stream)) for stream in streams]  # 1: this command belongs to a pattern
    patterns: list[Pattern] = []
    for gram, occurrences in candidates:
        length = len(gram)
        free = [(s, i) for s, i in occurrences if not any(claimed[s][i:i + length])]
        if len(free) < min_count:
            continue
        sample = sessions_[free[-1][0]][free[-1][1]:free[-1][1] + length]
        if not _acceptable(gram, sample):
            continue
        mark = b"\x01" * length
        for s, i in free:
            claimed[s][i:i + length] = mark
        patterns.append(Pattern(tuple(keys_of[k] for k in gram), free))
    return patterns


def occurrence_units(sessions_: list[list[Unit]], pattern: Pattern) -> list[list[Unit]]:
    """The units of each occurrence of ``pattern`` (aligned with its ``occurrences``)."""
    return [sessions_[s][i:i + pattern.length] for s, i in pattern.occurrences]


__all__ = ["MAX_LENGTH", "Pattern", "SESSION_GAP_S", "Unit", "in_window", "mine", "occurrence_units",
           "read_commands", "sessions", "typo_programs"]
