"""Drafting a workflow from a sentence, in English or Chinese, without a language model.

``yaml2dag create NAME --describe "..."`` (and the schedule question of the interactive builder)
use this package; ``yaml2dag.library.describe`` keeps the optional model path (``YAML2DAG_LLM_URL``).

>>> d = draft("Deploy", "I want to create a workflow that pulls latest code, runs tests, and deploys if tests pass")
>>> [(s["id"], s["tool"]) for s in d.data["steps"]]
[('pull', 'git'), ('tests', 'shell'), ('deploy', 'shell')]
>>> d.data["steps"][2]["when"]
'{{ tests.succeeded }}'

Modules, by concept (the supported phrases are listed in each module's docstring and in
docs/manual/library_en.md / library_zh.md, "Describing a workflow"):

* :mod:`.text` - languages, masked literals, English verb forms, Chinese numerals;
* :mod:`.schedules` / :mod:`.schedules_zh` - time phrases → cron;
* :mod:`.clauses` - splitting into clauses, preambles, fillers, modifiers;
* :mod:`.verbs` - the lexicon's shape and matching; :mod:`.ops`, :mod:`.data`, :mod:`.alerts` -
  its entries (operations, tables, messages);
* :mod:`.checks` - system checks and their thresholds; :mod:`.conditions` - conditions that
  can fire;
* :mod:`.builder` - assembling the workflow mapping;
* :mod:`.report` - per-phrase reports and :class:`Draft`; :mod:`.suggestions` - the closest
  supported phrasing of what is not understood;
* :mod:`.compose` - :func:`draft`, the passes in order.

Nothing here imports Dagster: drafting sits at the format level.
"""

from __future__ import annotations

from yaml2dag.library.drafting import alerts, checks, data, ops
from yaml2dag.library.drafting.verbs import Intent

#: Every lexicon entry, in matching order (the first whose pattern matches a clause wins).
INTENTS: list[Intent] = [
    *[i for i in ops.INTENTS if i.name != "http"],
    *checks.INTENTS,
    *data.INTENTS,
    *[i for i in ops.INTENTS if i.name == "http"],
    *alerts.INTENTS,
]

from yaml2dag.library.drafting.compose import draft, parse_schedule  # noqa: E402 - the composer reads INTENTS
from yaml2dag.library.drafting.report import DescribeError, Draft, PhraseReport  # noqa: E402

__all__ = ["draft", "parse_schedule", "Draft", "PhraseReport", "DescribeError", "INTENTS"]
