"""The closest supported phrasing of a phrase that is not understood.

The candidates are the ``examples`` of every lexicon entry (:data:`yaml2dag.library.drafting.INTENTS`),
the condition and schedule examples below, in the phrase's language. The score is the mean of
the words (English: dictionary forms) or character pairs (Chinese) the two share (Jaccard) and
:class:`difflib.SequenceMatcher`'s ratio of the two texts; the best candidate wins.
"""

from __future__ import annotations

import difflib
import re

from yaml2dag.library.drafting.text import is_chinese, simplify

CONDITION_EXAMPLES = (
    "deploy if the tests pass", "notify the team if the tests fail", "on failure, email ops@example.com",
    "send me an email alert if disk usage is above 90%", "only when the disk is above 90%, email ops@example.com",
    "alert by webhook only when something is over", "如果测试通过就部署", "测试失败时在钉钉上通知我",
    "磁盘使用率超过90%时给我发邮件告警", "任何步骤失败时发邮件给 ops@example.com",
)
SCHEDULE_EXAMPLES = (
    "every weekday at 9am", "every day at 2am", "every monday at 8:30", "every 15 minutes", "every hour",
    "on the 1st of every month", "每天早上9点", "每个工作日上午9点", "每周一", "每小时", "每5分钟", "每月1号",
)
_STOP = frozenset("the a an and to of in on at for it its my our me us with by from then".split())


def _units(text: str) -> set[str]:
    if is_chinese(text):
        chars = re.sub(r"\s+", "", text)
        return {chars[i:i + 2] for i in range(len(chars) - 1)} or {chars}
    return {w for w in re.findall(r"[a-z0-9%]+", simplify(text)) if w not in _STOP}


def _score(phrase: str, candidate: str) -> float:
    a, b = _units(phrase), _units(candidate)
    overlap = len(a & b) / len(a | b) if a | b else 0.0
    ratio = difflib.SequenceMatcher(None, phrase.lower(), candidate.lower()).ratio()
    return (overlap + ratio) / 2


def candidates(language: str, *, conditions: bool = False) -> list[str]:
    """The supported phrasings in ``language`` (``en``/``zh``): conditions only, or everything."""
    # lazy: yaml2dag.library.drafting's __init__ imports this module, and is still running when it does
    from yaml2dag.library.drafting import INTENTS

    pool = list(CONDITION_EXAMPLES)
    if not conditions:
        pool += [e for intent in INTENTS for e in intent.examples] + list(SCHEDULE_EXAMPLES)
    return [c for c in dict.fromkeys(pool) if is_chinese(c) == (language == "zh")]


#: Below this score nothing is really alike: a phrase naming an action of its own is best
#: written as a command (``run `COMMAND` ``). With no word in common the score is half the
#: SequenceMatcher ratio, so it stays under 0.3 unless the two texts are 60 % alike letter by
#: letter (chosen on the phrases of tests/unit/test_drafting.py).
MIN_SCORE = 0.3


def closest(phrase: str, language: str, *, conditions: bool = False) -> str | None:
    """The supported phrasing most like ``phrase`` (None when there is none in its language)."""
    pool = candidates(language, conditions=conditions)
    if not pool:
        return None
    best = max(pool, key=lambda c: _score(phrase, c))
    if _score(phrase, best) < MIN_SCORE and not conditions:
        return "运行 `COMMAND`" if language == "zh" else "run `COMMAND`"
    return best
