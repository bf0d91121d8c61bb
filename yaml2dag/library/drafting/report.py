"""What a draft says about each phrase: :class:`PhraseReport`, and the :class:`Draft` itself.

Every phrase of a description ends in exactly one report, with a status:

* ``understood`` - it became a schedule, a step, or a condition (``became`` says which);
* ``unknown`` - no phrase of the grammar matches; ``closest`` is the supported phrasing that
  looks most like it (:mod:`.suggestions`);
* ``refused`` - it is understood, but the step it asks for could never run (an alert whose
  condition can never be true, a condition on a step that does not come before it); ``reason``
  says why.

Nothing is dropped silently: a phrase that is not ``understood`` is left out of the workflow and
listed in :attr:`Draft.unknown` (the phrase, and the reason in parentheses when there is one).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from yaml2dag.format.errors import Yaml2DagError
from yaml2dag.library.roundtrip import to_yaml


class DescribeError(Yaml2DagError):
    """A description that gives no workflow (no step understood), a schedule phrase that is
    not one, or a model that never produced a valid draft."""


@dataclass
class PhraseReport:
    """One phrase of a description and what became of it (see the module docstring).

    Attributes:
        phrase: the words, as written in the description.
        status: ``understood``, ``unknown`` or ``refused``.
        became: what it became ("step `tests` (shell)", "schedule `0 9 * * *`"), when understood.
        reason: why it was refused or is incomplete, or None.
        closest: the closest supported phrasing, for phrases not understood, or None.
        note: a remark on an understood phrase (e.g. "no time given: at midnight"), or None.
        language: ``en`` or ``zh`` (the lexicon it was read with).
    """

    phrase: str
    status: str
    became: str | None = None
    reason: str | None = None
    closest: str | None = None
    note: str | None = None
    language: str = "en"

    def to_json(self) -> dict:
        return {"phrase": self.phrase, "status": self.status, "became": self.became, "reason": self.reason,
                "closest": self.closest, "note": self.note, "language": self.language}

    def unknown_text(self) -> str:
        """The phrase as listed in :attr:`Draft.unknown`: with the reason in parentheses."""
        return f"{self.phrase} ({self.reason})" if self.reason else self.phrase


@dataclass
class Draft:
    """A workflow drafted from a description.

    Attributes:
        name: the workflow name.
        data: the workflow as a plain mapping (key order as written).
        understood: (phrase, what it became) for every phrase used.
        unknown: phrases that were not understood or were refused (left out of the draft),
            each with the reason in parentheses when there is one.
        notes: remarks for the reviewer (e.g. "tests gets on_error: continue because ...").
        source: ``grammar`` or ``llm``.
        text: the YAML text, when the model wrote it (else built from ``data``).
        phrases: one :class:`PhraseReport` per phrase, in the order of the description.
    """

    name: str
    data: dict
    understood: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: str = "grammar"
    text: str | None = None
    phrases: list[PhraseReport] = field(default_factory=list)

    @classmethod
    def from_reports(cls, name: str, data: dict, reports: list[PhraseReport], notes: list[str]) -> "Draft":
        understood = [(r.phrase, r.became or "") for r in reports if r.status == "understood"]
        unknown = [r.unknown_text() for r in reports if r.status != "understood"]
        return cls(name, data, understood, unknown, list(notes), phrases=list(reports))

    @property
    def problems(self) -> list[PhraseReport]:
        """The reports of phrases that were not understood or were refused."""
        return [r for r in self.phrases if r.status != "understood"]

    def yaml_text(self) -> str:
        """The draft as YAML, with a header comment naming its source."""
        if self.text is not None:
            return self.text

        return to_yaml(self.data, header=f"Drafted by `yaml2dag create --describe` from:\n"
                                         f"  {self.data.get('description', '')}")

    def to_json(self) -> dict:
        return {"name": self.name, "source": self.source, "workflow": self.data,
                "understood": [{"phrase": p, "became": b} for p, b in self.understood],
                "unknown": self.unknown, "notes": self.notes, "yaml": self.yaml_text(),
                "phrases": [r.to_json() for r in self.phrases]}
