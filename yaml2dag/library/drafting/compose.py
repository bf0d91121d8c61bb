"""Reading a description, pass by pass, into a :class:`~yaml2dag.library.drafting.report.Draft`.

1. The text is normalised (spaces; full-width forms made ASCII, one character for one) and a
   request preamble is dropped ("I want to create a workflow that", 我想创建一个工作流).
2. **Schedules** are taken out wherever they are (:mod:`.schedules`, :mod:`.schedules_zh`).
3. The rest is split into **clauses** (:mod:`.clauses`); a clause that is understood only
   together with the one before it ("check cpu, memory, disk" + "and load against thresholds")
   is joined to it.
4. Each clause loses its leading fillers and its **modifiers** ("(production only)", "with
   rollback on failure", "optionally"), then its **condition** is read (:mod:`.conditions`); a
   clause that is only a condition ("if tests pass", "on failure") applies to the next one.
5. The action is matched against the **lexicon** (:mod:`.ops`, :mod:`.data`, :mod:`.alerts`),
   the condition is made one that can fire (:func:`.conditions.resolve`), and the steps are
   added (:class:`.builder.Builder`).

Every phrase gets a :class:`~yaml2dag.library.drafting.report.PhraseReport`; nothing is dropped silently.
"""

from __future__ import annotations

import re

from yaml2dag.library.drafting import conditions as conds
from yaml2dag.library.drafting.builder import Builder, Refusal
from yaml2dag.library.drafting.clauses import Clause, modifiers, split, strip_fillers, strip_preamble
from yaml2dag.library.drafting.report import DescribeError, Draft, PhraseReport
from yaml2dag.library.drafting.schedules import Schedule, find_english
from yaml2dag.library.drafting.schedules_zh import find_chinese
from yaml2dag.library.drafting.suggestions import closest
from yaml2dag.library.drafting.text import Masked, halfwidth, is_chinese
from yaml2dag.library.drafting.verbs import Condition, Context, Resolved, match, zh_form

_PRODUCTION = {"environment": {"type": "string", "default": "staging", "enum": ["staging", "production"],
                               "description": "Where to deploy; some steps run in production only"}}


def schedules_of(text: str) -> tuple[list[Schedule], list[PhraseReport], str]:
    """Every schedule phrase of ``text`` (masked), the reports of those that are incomplete, and
    the text without them."""
    found: list[Schedule] = []
    problems: list[PhraseReport] = []
    for _ in range(6):
        hit = None
        for finder in (find_english, find_chinese):
            try:
                schedule, rest, problem = finder(text)
            except ValueError as exc:
                problems.append(PhraseReport(text, "unknown", reason=f"schedule: {exc}",
                                             closest=closest(text, "zh" if is_chinese(text) else "en")))
                return found, problems, ""
            if schedule is not None or problem is not None:
                hit = (schedule, rest, problem)
                break
        if hit is None:
            break
        schedule, rest, problem = hit
        if problem:
            phrase = problem.split("'")[1] if problem.count("'") >= 2 else problem
            problems.append(PhraseReport(phrase, "unknown", reason=problem,
                                         closest=closest(phrase, "zh" if is_chinese(phrase) else "en"),
                                         language="zh" if is_chinese(phrase) else "en"))
        else:
            found.append(schedule)
        text = rest
    if any(not s.adjective for s in found):  # "a weekly report ... every monday at 9am": the explicit one
        found = [s for s in found if not s.adjective]
    return found, problems, text


def understands(clause: str, language: str) -> bool:
    """Whether ``clause`` alone has a condition and an action the grammar reads (steps before it
    are not looked at)."""
    masked = Masked.of(strip_fillers(clause, language))
    work, _mods = modifiers(masked.text)
    act, cond, bad = conds.split(zh_form(work) if language == "zh" else work, language)
    if bad:
        return False
    act = strip_fillers(act, language)
    if not act:
        return cond is not None
    return match(Masked(act, masked.values, masked.kinds), language) is not None


def join_pieces(pieces: list[Clause]) -> list[Clause]:
    """Clauses from the pieces of :func:`yaml2dag.library.drafting.clauses.split`: a piece that is not
    understood by itself is joined to the piece before it (after a comma or "and": "memory" in
    "check cpu, memory"; "and load against thresholds"), else to the piece after it ("通过邮件"
    + "webhook 或日志发送摘要"), when together they are understood. A piece that is not
    understood either way stays on its own, so it is reported on its own."""
    out: list[Clause] = []
    i = 0
    while i < len(pieces):
        piece = pieces[i]
        i += 1
        trailing = out and piece.joinable and _trailing_condition(piece, last=i == len(pieces))
        if understands(piece.text, piece.language) and not trailing:
            out.append(piece)
            continue
        if out and piece.joinable:
            joined = _joined(out[-1], piece)
            if understands(joined.text, joined.language):
                out[-1] = joined
                continue
        if i < len(pieces) and pieces[i].joinable:
            joined = _joined(piece, pieces[i])
            if understands(joined.text, joined.language):
                out.append(joined)
                i += 1
                continue
        out.append(piece)
    return out


def _trailing_condition(piece: Clause, last: bool) -> bool:
    """A condition that belongs to the clause before it: "..., but only if the tests pass",
    "..., 前提是测试通过", or a condition with nothing after it."""
    masked = Masked.of(strip_fillers(piece.text, piece.language))
    work = modifiers(masked.text)[0]
    act, cond, _bad = conds.split(zh_form(work) if piece.language == "zh" else work, piece.language)
    if cond is None or strip_fillers(act, piece.language):
        return False
    return last or bool(re.match(r"(?i)\s*but\b|\s*(?:但|前提是|条件是)", piece.text))


def _joined(first: Clause, second: Clause) -> Clause:
    text = first.text + second.sep + second.text
    return Clause(text, "zh" if is_chinese(text) else "en", sep=first.sep, joinable=first.joinable)


class _Composer:
    def __init__(self, name: str, description: str, half: str):
        self.text, self.half = description, half
        self.builder = Builder(name, description)
        self.reports: list[PhraseReport] = []
        self.pending: Condition | None = None
        self.last_whens: list[str] = []

    def as_written(self, phrase: str) -> str:
        """``phrase`` (read from the normalised text) as the description wrote it (full-width
        punctuation and all)."""
        i = self.half.find(phrase)
        return self.text[i:i + len(phrase)] if i >= 0 else phrase

    def report(self, clause: Clause, status: str, **kwargs) -> None:
        self.reports.append(PhraseReport(self.as_written(clause.text), status, language=clause.language, **kwargs))

    def unknown(self, clause: Clause, reason: str | None = None, *, conditions: bool = False) -> None:
        self.report(clause, "unknown", reason=reason, closest=closest(clause.text, clause.language, conditions=conditions))

    def clause(self, clause: Clause) -> None:
        language = clause.language
        clause = Clause(strip_fillers(clause.text, language) or clause.text, language, sep=clause.sep)
        masked = Masked.of(clause.text)
        work, mods = modifiers(masked.text)
        act, cond, bad = conds.split(zh_form(work) if language == "zh" else work, language)
        if bad:
            return self.unknown(clause, f"the condition {masked.restore(bad)!r} is not understood", conditions=True)
        act = strip_fillers(act, language)
        if not act:
            if cond is None:
                return self.unknown(clause)
            self.pending = cond
            became = ("the next step runs when the workflow fails" if cond.kind == "failure"
                      else "a condition for the next step")
            return self.report(clause, "understood", became=became)
        found = match(Masked(act, masked.values, masked.kinds), language)
        if found is None:
            return self.unknown(clause)
        intent, hit = found
        pending, self.pending = self.pending, None
        ctx = Context(self.builder, masked, language, clause.text, mods)
        try:
            resolved = Resolved()
            for one in (pending, cond):
                part = conds.resolve(one, ctx, self.last_whens)
                resolved.whens += part.whens
                resolved.failure = resolved.failure or part.failure
                resolved.continue_on += part.continue_on
                resolved.topic = part.topic or resolved.topic
                resolved.notes += part.notes
                resolved.added += part.added
            if mods.production_only:
                for pname, decl in _PRODUCTION.items():
                    self.builder.declare(pname, decl)
                resolved.whens.append("environment == 'production'")
            ctx.resolved = resolved
            specs = intent.build(hit, ctx)
        except Refusal as exc:
            return self.report(clause, "refused", reason=exc.reason, closest=exc.closest)
        sids = list(resolved.added)
        shown = self.as_written(clause.text)
        for spec in specs:
            name = shown if len(specs) == 1 else f"{shown} ({spec.label})"
            sid = self.builder.add(shown, spec, resolved.whens, failure=resolved.failure, name=name)
            sids.append(sid)
            for target in resolved.continue_on:
                self.builder.needs_continue(target, sid)
            if mods.rollback:
                rollback = match(Masked("roll back", [], []), "en")
                assert rollback is not None
                for extra in rollback[0].build(rollback[1], ctx):
                    extra.whens.append(f"failed_step == '{sid}'")
                    extra.failure = True
                    sids.append(self.builder.add(f"roll back {sid} on failure", extra, name=f"Roll back {sid}"))
        self.builder.notes.extend(resolved.notes)
        if resolved.whens:
            self.last_whens = list(resolved.whens)
        note = "; ".join(n for n in [*resolved.notes, *(s.note for s in specs)] if n) or None
        became = "; ".join(self.builder.became(s) for s in sids) or f"nothing new: {ctx.note}"
        self.report(clause, "understood", became=became, note=note)


def draft(name: str, description: str) -> Draft:
    """Draft a workflow from a description, without a model.

    Args:
        name: the workflow name.
        description: the sentence, English or Chinese ("pull latest code, run tests, and deploy
            if tests pass, every weekday at 9am"; "每天早上9点拉取最新代码，运行测试，如果测试通过就部署").

    Returns:
        The :class:`Draft`: ``data`` (the workflow mapping), ``phrases`` (one report per phrase),
        ``unknown`` (what was left out, with reasons), ``notes``.

    Raises:
        DescribeError: no step was understood (the message lists what was not).
    """
    text = " ".join(description.split()).rstrip(".。 ")
    half = halfwidth(text)
    composer = _Composer(name, text, half)
    masked = Masked.of(strip_preamble(half))
    schedules, problems, rest = schedules_of(masked.text)
    for schedule in schedules:
        language = "zh" if is_chinese(schedule.phrase) else "en"
        phrase = composer.as_written(masked.restore(schedule.phrase))
        composer.reports.append(PhraseReport(phrase, "understood", language=language, note=schedule.note,
                                             became=f"schedule `{schedule.cron}`"
                                             + (f" ({schedule.timezone})" if schedule.timezone else "")))
    for problem in problems:
        problem.phrase = composer.as_written(masked.restore(problem.phrase))
    composer.reports.extend(problems)
    for clause in join_pieces(split(masked.restore(rest))):
        composer.clause(clause)
    if composer.pending is not None:
        composer.reports.append(PhraseReport(composer.pending.text, "unknown",
                                             reason="a condition at the end has no step to apply to"
                                             if composer.pending.kind != "failure" else
                                             "\"on failure\" at the end has no step to run"))
    builder = composer.builder
    if not builder.steps:
        unknown = [r.unknown_text() for r in composer.reports if r.status != "understood"]
        raise DescribeError("no step understood in the description"
                            + (f"; not understood: {'; '.join(unknown)}" if unknown else "")
                            + " (see `yaml2dag create --help` and docs/manual/library_en.md for the phrases)")
    return Draft.from_reports(name, builder.finish(schedules), composer.reports, builder.notes)


def parse_schedule(text: str) -> tuple[str, str | None]:
    """The cron expression (and time zone) of a schedule phrase such as "every weekday at 9am"
    or "每天早上9点".

    Raises:
        DescribeError: the phrase is not understood, or is incomplete (a part of the day
            without a time).
    """
    masked = Masked.of(halfwidth(" ".join(text.split())))
    try:
        for finder in (find_english, find_chinese):
            found, rest, problem = finder(masked.text)
            if problem:
                raise DescribeError(problem)
            if found is not None:
                break
    except ValueError as exc:
        raise DescribeError(f"{text!r}: {exc}") from None
    if found is None or rest.strip(" ,"):
        raise DescribeError(f"not a schedule phrase: {text!r}")
    return found.cron, found.timezone
