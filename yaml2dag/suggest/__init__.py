"""Workflows suggested from what people do by hand (issue 12, §1: ``yaml2dag suggest``).

:func:`suggest` reads shell history files (:mod:`.histories`), finds the command sequences
repeated at least ``min_count`` times in the last ``days`` days (:mod:`.sequences`), turns
what varies into parameters (:mod:`.generalize`) and credentials into secret parameters
(:mod:`.secrets`), maps commands to built-in tools (:mod:`.mapping`), builds and validates a
workflow for each (:mod:`.build`), marks those the library already covers (:mod:`.coverage`),
adds schedule suggestions from the run history (:mod:`.schedules`) and ranks everything by
the time it would save (:mod:`.report`).

Only the run-history part imports Dagster (inside its function).

Example::

    from yaml2dag.suggest import suggest

    report = suggest(["~/.zsh_history"], min_count=3, days=7)
    for item in report.suggestions:
        print(item.name, item.occurrences, item.commands)
"""

from __future__ import annotations

import datetime as _dt
import json
from pathlib import Path
from typing import Any, Callable, Sequence

from yaml2dag.format.errors import Yaml2DagError
from yaml2dag.format.model import slugify
from yaml2dag.suggest.build import build, display
from yaml2dag.suggest.coverage import covered_by, workflow_operations
from yaml2dag.suggest.histories import SourceReport, default_sources, read_history
from yaml2dag.suggest.report import Suggestion, SuggestionReport, iso, rank
from yaml2dag.suggest.sequences import in_window, mine, occurrence_units, sessions
from yaml2dag.runs.history.fast_path import has_run_storage
from yaml2dag.suggest.generalize import generalize
from yaml2dag.suggest.mapping import label
from yaml2dag.suggest.schedules import schedule_suggestions

DEFAULT_MIN_COUNT = 3
DEFAULT_DAYS = 7
#: Suggestions returned by default (``--limit``).
DEFAULT_LIMIT = 20


class HistoryError(Yaml2DagError):
    """A history file that cannot be read (missing, a folder, no permission)."""


def parse_now(text: str | None) -> _dt.datetime:
    """``--now``: an ISO-8601 date or date-time (without an offset: UTC); None → the current time.

    Raises:
        ValueError: not an ISO-8601 date or date-time.
    """
    if text is None or not str(text).strip():
        return _dt.datetime.now(_dt.timezone.utc)
    value = _dt.datetime.fromisoformat(str(text).strip().replace("Z", "+00:00"))
    return value if value.tzinfo is not None else value.replace(tzinfo=_dt.timezone.utc)


def _labels(commands: list) -> list[str]:
    out: list[str] = []
    for gen in commands:
        if gen.command.kind == "work" and label(gen) not in out:
            out.append(label(gen))
    return out or ["commands"]


def _name(labels: list[str], taken: set[str]) -> str:
    if len(labels) == 1:
        text = labels[0]
    elif len(labels) <= 3:
        text = ", ".join(labels[:-1]) + " and " + labels[-1]
    else:
        text = ", ".join(labels[:3]) + f" and {len(labels) - 3} more"
    text = text[:1].upper() + text[1:]
    candidate, n = text, 1
    while candidate.casefold() in taken or slugify(candidate) in taken:
        n += 1
        candidate = f"{text} ({n})"
    taken.update({candidate.casefold(), slugify(candidate)})
    return candidate


def _secret_parts(command: Any) -> list[tuple]:
    return [command.parts[w][p] for w, p in command.slots if command.parts[w][p][1] == "secret"]


def _library_index(library: Any) -> tuple[list[tuple[str, list]], set[str]]:
    """``[(name, operations)]`` of the library's workflows and the names and ids they take."""
    if library is None or not Path(library.folder).is_dir():
        return [], set()
    ops, taken = [], set()
    for report in library.reports():
        wf = report.workflow
        if wf is None:
            continue
        taken.update({(wf.name or "").casefold(), wf.id})
        ops.append((wf.name, workflow_operations(wf)))
    return ops, taken


def suggest(histories: Sequence[str | Path] | None = None, *, min_count: int = DEFAULT_MIN_COUNT,
            days: float = DEFAULT_DAYS, now: _dt.datetime | None = None, library: Any = None,
            runs: bool | None = False, instance: Any = None, tz: str | None = None,
            resolves: Callable[[str], bool] | None = None, limit: int | None = DEFAULT_LIMIT) -> SuggestionReport:
    """Suggest workflows from shell history (and schedules from run history).

    Args:
        histories: history files (format detected); None: the user's own
            (:func:`~.histories.default_sources`).
        min_count: the fewest occurrences in the window (issue 12: 3).
        days: the window's length in days before ``now`` (issue 12: 7).
        now: the end of the window (default: the current time; a naive time is UTC).
        library: a :class:`yaml2dag.library.folder.Library` for ``covered_by``, unique names and the
            run history's workflows (None: no library).
        runs: also read the Dagster run history for schedule suggestions: True, False, or None
            for "when the instance has run storage" (:func:`yaml2dag.runs.history.has_run_storage`).
        instance: the ``DagsterInstance`` for the run history (default: the configured one).
        tz: IANA time zone of schedule suggestions (default: the machine's).
        resolves: ``program → bool``, whether a program name resolves (for typo detection;
            default: found on ``PATH``).
        limit: the most suggestions returned, the best ranked (0 or None: all). Sequences are
            ranked by their estimated saving (occurrences × steps) before their workflows are
            built, so a year of history mined at once stays fast; ``report.more`` counts the rest.

    Returns:
        The :class:`~.report.SuggestionReport`.

    Raises:
        HistoryError: a history file cannot be read.
        ValueError: ``min_count`` below 1 or ``days`` not positive.
    """
    if min_count < 1:
        raise ValueError(f"min_count must be at least 1, not {min_count}")
    if days <= 0:
        raise ValueError(f"days must be positive, not {days}")
    end_dt = now or _dt.datetime.now(_dt.timezone.utc)
    if end_dt.tzinfo is None:
        end_dt = end_dt.replace(tzinfo=_dt.timezone.utc)  # as --now reads a time without an offset
    end = end_dt.timestamp()
    start = end - days * 86400
    paths = list(histories) if histories is not None else default_sources()
    entries = []
    reports: list[SourceReport] = []
    for index, path in enumerate(paths):
        try:
            got, report = read_history(Path(path).expanduser(), index)
        except OSError as exc:
            raise HistoryError(f"cannot read the history file {path}: {exc.strerror or exc}") from None
        entries += in_window(got, report, start, end)
        reports.append(report)
    found = sessions(entries, resolves)
    # every credential typed in the window: a suggestion that would show one anywhere (the same
    # value typed elsewhere as a plain argument) is withheld, whatever made it appear
    typed_secrets = {part[0] for session in found for unit in session for part in _secret_parts(unit.command)
                     if len(part[0]) >= 4}
    library_ops, taken = _library_index(library)
    suggestions: list[Suggestion] = []
    dropped = 0

    patterns = mine(found, min_count)

    def saving(pattern) -> tuple:
        session, start = pattern.occurrences[-1]
        work = sum(1 for u in found[session][start:start + pattern.length] if u.command.kind == "work")
        return (-len(pattern.occurrences) * work, -len(pattern.occurrences), pattern.occurrences[0])

    patterns.sort(key=saving)
    more = 0
    for pattern in patterns:
        if limit and len(suggestions) >= limit:
            more += 1
            continue
        occurrences = occurrence_units(found, pattern)
        commands, params = generalize(occurrences)
        stamps = [u.entry.timestamp for occ in occurrences for u in occ if u.entry.timestamp is not None]
        first, last = (min(stamps), max(stamps)) if stamps else (None, None)
        name = _name(_labels(commands), taken)
        seen = f" between {iso(first)} and {iso(last)}" if stamps else ""
        description = f"Seen {len(occurrences)} times in your shell history{seen}."
        header = f"Suggested by `yaml2dag suggest`: seen {len(occurrences)} times in your shell history{seen}."
        built, _problems = build(name, description, header, commands, params)
        if built is None:
            dropped += 1
            continue
        item = Suggestion(
            name=name, commands=[display(gen, set(built.parameters)) for gen in commands], occurrences=len(occurrences),
            first_seen=iso(first), last_seen=iso(last),
            parameters={n: p.to_json() for n, p in built.parameters.items()},
            covered_by=covered_by(workflow_operations(built.report.workflow), library_ops),
            workflow=built.text, steps=built.steps)
        shown = json.dumps(item.to_json(), ensure_ascii=False)
        if any(secret in shown for secret in typed_secrets):
            dropped += 1
            continue
        suggestions.append(item)
    sources = [r.to_json() for r in reports]
    if runs is None:
        runs = instance is not None or has_run_storage()
    if runs:
        scheduled, source = schedule_suggestions(start=start, end=end, min_count=min_count, library=library,
                                                 instance=instance, tz=tz)
        suggestions += scheduled
        sources.append(source)
    ranked = rank(suggestions)
    if limit and len(ranked) > limit:
        more += len(ranked) - limit
        ranked = ranked[:limit]
    return SuggestionReport(ranked, sources, iso(start), iso(end), dropped, more)


__all__ = ["DEFAULT_DAYS", "DEFAULT_LIMIT", "DEFAULT_MIN_COUNT", "HistoryError", "Suggestion", "SuggestionReport", "parse_now",
           "suggest"]
