"""The lexicon's shape: :class:`Intent` (a phrase pattern in English and Chinese and the steps
it builds), :class:`Context` (what a builder may look at), and :func:`match`.

English patterns are matched (``re.fullmatch``, case-insensitive) against the clause as
:func:`yaml2dag.library.drafting.text.simplify` leaves it: lowercased, verbs in their dictionary form
("runs tests" → "run test"), without determiners ("the", "a", "our"...), literals masked as
``⟦N⟧``. Chinese patterns are matched against the clause with full-width forms made ASCII,
spaces removed around CJK characters, and 一下/一次/的 fillers kept (patterns allow them).

The entries themselves live in :mod:`.ops` (code, tests, deploys, backups, system checks, HTTP,
approvals, git reports, mail and model summaries), :mod:`.data` (tables) and :mod:`.alerts`
(log, e-mail, webhook and chat messages); :data:`INTENTS` lists them in matching order.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from yaml2dag.library.drafting.builder import Builder, StepSpec
from yaml2dag.library.drafting.clauses import Modifiers
from yaml2dag.library.drafting.text import MASK, Masked, lemma, simplify

#: A literal placeholder in a pattern (a URL, a path, a quoted string, an e-mail address).
LIT = MASK


@dataclass
class Condition:
    """A condition read from a clause (see :mod:`.conditions`).

    ``kind``: ``outcome`` (``subject`` passed or failed), ``failure`` (the workflow failed:
    ``on_failure``), ``metric`` (``metric`` ``op`` ``value``), ``any_over`` (a system check
    found something over its threshold), ``rows`` (``passed``: rows exist / none),
    ``otherwise`` (the opposite of the previous condition), ``done`` (no condition: "when
    done").
    """

    kind: str
    text: str = ""
    subject: str = ""
    passed: bool = True
    metric: str | None = None
    op: str = ">"
    value: float | None = None


@dataclass
class Resolved:
    """A condition applied to the draft: ``whens`` (bare expressions), ``failure`` (goes to
    ``on_failure``), the steps whose failure must reach it (``continue_on``), and what an alert
    should say about it (``topic``: a template such as ``{{ tests.error }}``)."""

    whens: list[str] = field(default_factory=list)
    failure: bool = False
    continue_on: list[str] = field(default_factory=list)
    topic: str | None = None
    notes: list[str] = field(default_factory=list)
    added: list[str] = field(default_factory=list)


@dataclass
class Context:
    """What a builder sees: the draft so far, the clause's literals, modifiers and condition."""

    builder: Builder
    masked: Masked
    language: str
    phrase: str
    modifiers: Modifiers = field(default_factory=Modifiers)
    resolved: Resolved = field(default_factory=Resolved)
    note: str | None = None  # what a builder that adds no step says instead

    def lit(self, value: str | None) -> str | None:
        """The literal behind a placeholder (quotes removed); other text as it is."""
        return self.masked.value(value) if value else None

    def declare(self, name: str, decl: dict) -> str:
        return self.builder.declare(name, decl)

    def fresh(self, name: str, decl: dict) -> str:
        return self.builder.fresh_parameter(name, decl)

    def last(self, *produces: str) -> dict | None:
        return self.builder.last(*produces, failure=self.resolved.failure)


@dataclass
class Intent:
    """A phrase of the grammar.

    Attributes:
        name: what it is ("tests", "download"...), also used in reports and suggestions.
        en: English regex (see the module docstring), or None.
        zh: Chinese regex, or None.
        build: ``(match, context) -> [StepSpec]``; may raise
            :class:`yaml2dag.library.drafting.builder.Refusal`.
        examples: supported phrasings, shown as the closest phrasing of a phrase not understood.
        accept: ``(match, masked) -> bool``, a further check of the match (e.g. that a literal
            is a URL), or None.
        form: ``simple`` (English: lemmatized, lowercased) or ``light`` (English: the case and
            word forms as written, only the first word in its dictionary form, for entries that
            keep names such as columns and commands).
    """

    name: str
    en: str | None
    zh: str | None
    build: Callable[[re.Match, Context], list[StepSpec]]
    examples: tuple[str, ...] = ()
    accept: Callable[[re.Match, Masked], bool] | None = None
    form: str = "simple"


def zh_form(text: str) -> str:
    """A Chinese clause as the patterns see it: spaces only between ASCII words."""
    text = re.sub(r"\s+", " ", text.strip())
    text = re.sub(r"\s*([^\x00-\x7f⟦⟧])\s*", r"\1", text)
    return re.sub(r"(?:一次|一下|一遍)(?!性)", "", text) or text


def light_form(text: str) -> str:
    """An English clause with its case and word forms kept: single spaces, no determiners, the
    first word in its dictionary form ("Computes average Price" → "compute average Price")."""
    text = re.sub(r"(?i)\b(?:the|a|an|our|my|your|its|their|some)\s+", "", " ".join(text.split()) + " ").strip()
    first, _, rest = text.partition(" ")
    return (lemma(first) + (" " + rest if rest else "")).strip()


def forms(masked: Masked, language: str) -> dict[str, str]:
    """The forms of a clause the patterns are matched against (``simple``, ``light``)."""
    if language == "zh":
        return {"simple": zh_form(masked.text), "light": zh_form(masked.text)}
    return {"simple": simplify(masked.text), "light": light_form(masked.text)}


def match(masked: Masked, language: str, intents: list[Intent] | None = None) -> tuple[Intent, re.Match] | None:
    """The first intent whose pattern matches the whole (masked) clause, or None."""
    if intents is None:
        from yaml2dag.library.drafting import INTENTS as intents  # noqa: N811 - the registry, assembled in __init__
    texts = forms(masked, language)
    for intent in intents:
        regex = intent.zh if language == "zh" else intent.en
        if regex is None:
            continue
        found = re.fullmatch(regex, texts[intent.form], flags=re.IGNORECASE)
        if found and (intent.accept is None or intent.accept(found, masked)):
            return intent, found
    return None


def kind_is(*kinds: str, groups: tuple[str, ...] = ()) -> Callable[[re.Match, Masked], bool]:
    """An ``accept`` check: every literal in ``groups`` (all groups when empty) is of one of ``kinds``."""
    def accept(found: re.Match, masked: Masked) -> bool:
        for name, value in found.groupdict().items():
            if value and (not groups or name in groups) and re.fullmatch(LIT, value.strip()):
                if masked.kind(value) not in kinds:
                    return False
        return True
    return accept


# --------------------------------------------------------------------------- shared helpers


def shell(kind: str, command: str, aliases: tuple[str, ...] = (), **extra: Any) -> StepSpec:
    """A shell step running ``command``."""
    return StepSpec(kind, "shell", None, {"command": command}, aliases=aliases, **extra)


def command_parameter(kind: str, name: str, default: str | None, description: str,
                      aliases: tuple[str, ...] = (), **extra: Any) -> StepSpec:
    """A shell step running the command line held by parameter ``name`` (through ``sh -c``, so the
    parameter is a whole command line; a parameter inserted into ``command`` would be one word)."""
    decl: dict[str, Any] = {"type": "string"}
    if default is not None:
        decl["default"] = default
    decl["description"] = description
    return StepSpec(kind, "shell", None, {"args": ["sh", "-c", "{{ " + name + " }}"]}, {name: decl},
                    aliases=aliases, **extra)


def url_parameter(ctx: Context, name: str, url: str | None, description: str) -> str:
    """A URL parameter (default ``url`` when the sentence gave one; else required); returns the
    template that reads it."""
    decl: dict[str, Any] = {"type": "string"}
    if url:
        decl["default"] = url
    decl["description"] = description
    return "{{ " + ctx.fresh(name, decl) + " }}"


def previous_output(ctx: Context, *produces: str) -> str | None:
    """``{{ step.output }}`` of the latest step producing one of ``produces`` (any step when none)."""
    step = ctx.last(*produces)
    return "{{ " + step["id"] + ".output }}" if step else None
