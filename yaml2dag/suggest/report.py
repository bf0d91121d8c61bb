"""What ``yaml2dag suggest`` returns: suggestions, ranked, and where they came from (issue 12).

The JSON document (``--format json``) is exactly::

    {"suggestions": [{"name", "commands", "occurrences", "first_seen", "last_seen",
                      "parameters": {NAME: {"type", "default", "values"}}, "covered_by", "workflow"}],
     "sources": [...], "window": {"from", "to"}}

A suggestion from the run history (a workflow started by hand at about the same time of day)
has the same keys: its ``commands`` list is empty (nothing was typed in a shell), ``name`` is the
existing workflow's name, ``parameters`` the values its runs used, and ``workflow`` the
existing file with the proposed ``schedule`` trigger added. That empty ``commands`` list is how
a program tells the two kinds apart; :attr:`Suggestion.kind` says it in Python.

Nothing here imports Dagster.
"""

from __future__ import annotations

import datetime as _dt
from dataclasses import dataclass, field


def iso(stamp: float | None) -> str | None:
    """Unix seconds → ISO-8601 UTC (seconds), or None."""
    if stamp is None:
        return None
    return _dt.datetime.fromtimestamp(stamp, _dt.timezone.utc).isoformat(timespec="seconds")


@dataclass
class Suggestion:
    """One proposed workflow (or schedule).

    Attributes:
        name: the proposed workflow's name (for a schedule: the existing workflow's).
        commands: the command sequence, parameters shown as ``{{ name }}`` (empty for a schedule).
        occurrences: how many times it was seen in the window.
        first_seen, last_seen: ISO-8601 UTC times of the first and last occurrence (None without
            timestamps).
        parameters: name → ``{"type", "default", "values"}`` (a secret: no default, no values).
        covered_by: the library workflow that already does this, or None.
        workflow: the proposed workflow's YAML text (valid).
        steps: its number of steps (for the ranking).
        kind: ``sequence`` (from shell history) or ``schedule`` (from run history).
        cron, timezone: for a schedule, the proposed trigger.
        file: for a schedule, the existing workflow file it changes.
        evidence: for a schedule, the ids of the runs it is based on.
    """

    name: str
    commands: list[str]
    occurrences: int
    first_seen: str | None
    last_seen: str | None
    parameters: dict[str, dict]
    covered_by: str | None
    workflow: str
    steps: int = 1
    kind: str = "sequence"
    cron: str | None = None
    timezone: str | None = None
    file: str | None = None
    evidence: list[str] = field(default_factory=list)

    @property
    def saving(self) -> int:
        """Estimated time saved, the ranking key: occurrences × steps (issue 12)."""
        return self.occurrences * self.steps

    def to_json(self) -> dict:
        return {"name": self.name, "commands": list(self.commands), "occurrences": self.occurrences,
                "first_seen": self.first_seen, "last_seen": self.last_seen,
                "parameters": {k: dict(v) for k, v in self.parameters.items()}, "covered_by": self.covered_by,
                "workflow": self.workflow}


def rank(suggestions: list[Suggestion]) -> list[Suggestion]:
    """Most time saved first; suggestions a library workflow already covers last."""
    return sorted(suggestions, key=lambda s: (s.covered_by is not None, -s.saving, -s.occurrences, s.name.lower()))


@dataclass
class SuggestionReport:
    """The result of :func:`yaml2dag.suggest.suggest`.

    Attributes:
        suggestions: ranked (:func:`rank`).
        sources: one dict per source read (history files, the run storage): ``path``,
            ``format``, ``timestamps``, ``lines``, ``entries``, ``used``, ``skipped``
            (reason → count), ``note``.
        window_from, window_to: the time window (ISO-8601 UTC).
        dropped: sequences found but not suggested: their workflow did not validate, or it would
            show a credential typed elsewhere in the window as a plain value (expected: 0).
        more: suggestions left out by the ``limit``.
    """

    suggestions: list[Suggestion]
    sources: list[dict]
    window_from: str
    window_to: str
    dropped: int = 0
    more: int = 0

    def to_json(self) -> dict:
        return {"suggestions": [s.to_json() for s in self.suggestions], "sources": list(self.sources),
                "window": {"from": self.window_from, "to": self.window_to}}

    def find(self, ref: str) -> Suggestion | None:
        """Suggestion ``ref``: its 1-based number in the list, or its name (ignoring case)."""
        text = str(ref).strip()
        if text.isdigit():
            index = int(text)
            return self.suggestions[index - 1] if 1 <= index <= len(self.suggestions) else None
        for item in self.suggestions:
            if item.name.casefold() == text.casefold():
                return item
        return None


__all__ = ["Suggestion", "SuggestionReport", "iso", "rank"]
