"""Validation of triggers (cron expressions, IANA time zones, trigger parameters, the Dagster
schedule/sensor names two triggers would share), run limits (``concurrency``) and what cannot run
in ``on_failure`` (spec §7).

A mixin of :class:`yaml2dag.format.validation_checker.DocumentChecker`; nothing here imports Dagster.
"""

from __future__ import annotations

from yaml2dag.format import cron
from yaml2dag.format.errors import ParameterError, TemplateError
from yaml2dag.format.expressions import TemplateLimitError, analyze, is_template, iter_strings
from yaml2dag.format.limits import RULE as LIMIT_RULE
from yaml2dag.format.loader import DocPath
from yaml2dag.format.model import Step, SubWorkflow, Workflow, iter_entries
from yaml2dag.format.parameters import check_value
from yaml2dag.format.schema import did_you_mean
from yaml2dag.format.validation_tools import UNSUPPORTED
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones
from yaml2dag.format.trigger_names import duplicate_names, trigger_names

#: Highest ``concurrency.limit`` the shipped dagster.yaml has a run-queue rule for.
MAX_CONCURRENCY_LIMIT = 20


class TriggerChecks:
    # -- triggers
    def check_triggers(self, wf: Workflow) -> None:
        params = {p.name: p for p in wf.parameters}
        names: dict[str, DocPath] = {}
        for trig in wf.triggers:
            if trig.name:
                if trig.name in names:
                    self.add(trig.path + ("name",), f"duplicate trigger name `{trig.name}`", "trigger")
                names[trig.name] = trig.path
            if trig.type == "schedule":
                expr = trig.options.get("cron")
                if isinstance(expr, str):
                    try:
                        cron.parse(expr)
                    except cron.CronError as exc:
                        self.add(trig.path + ("cron",), f"invalid cron expression {expr!r}: {exc}", "cron")
                tz = trig.options.get("timezone")
                if isinstance(tz, str):
                    problem = timezone_problem(tz)
                    if problem:
                        self.add(trig.path + ("timezone",), problem, "timezone")
            for pname, value in trig.parameters.items():
                ppath = trig.path + ("parameters", pname)
                if pname not in params:
                    self.add(ppath, f"unknown parameter `{pname}`" + did_you_mean(pname, params), "trigger", key=True)
                    continue
                if params[pname].is_secret:
                    self.add(ppath, f"`{pname}` is a secret: it comes from the environment, not from a trigger",
                             "trigger")
                    continue
                if any(is_template(text) for _, text in iter_strings(value)):
                    continue
                try:
                    check_value(params[pname], value)
                except ParameterError as exc:
                    self.add(ppath, exc.detail, "trigger")
        # two triggers that would get one Dagster schedule/sensor name (unnamed ones included)
        for problem in trigger_name_clashes(wf):
            self.problems.append(self.doc.problem(*problem))

    # -- run limits, failure handlers and features not supported yet
    def check_unsupported(self, wf: Workflow) -> None:
        for trig in wf.triggers:
            key = f"trigger:{trig.type}"
            if key in UNSUPPORTED:
                self.add(trig.path + ("type",), UNSUPPORTED[key], "unsupported")
        if wf.concurrency is not None:
            if wf.concurrency.limit > MAX_CONCURRENCY_LIMIT:
                self.add(("concurrency", "limit"), f"limits above {MAX_CONCURRENCY_LIMIT} are not supported: the "
                         "run-queue rules in dagster.yaml cover 1 to 20", "concurrency")
            if wf.concurrency.key:
                params = {p.name: p for p in wf.parameters if not p.is_secret}
                try:
                    refs = analyze(wf.concurrency.key).references
                except TemplateError as exc:
                    self.add(("concurrency", "key"), str(exc),
                             LIMIT_RULE if isinstance(exc, TemplateLimitError) else "template")
                    refs = ()
                for ref in refs:
                    name = ref.attr if ref.name == "params" else ref.name
                    if ref.name == "params" and ref.attr is None:
                        continue
                    if name not in params:
                        self.add(("concurrency", "key"), f"the concurrency key can only use parameters; `{name}` "
                                 "is not one" + did_you_mean(name or "", params), "reference")
        for entry in iter_entries(wf.on_failure):
            kind = None
            if isinstance(entry, SubWorkflow):
                kind = "sub-workflow steps"
            elif isinstance(entry, Step) and entry.for_each is not None:
                kind = "`for_each`"
            elif isinstance(entry, Step) and entry.tool == "approval":
                kind = "approval gates"
            if kind:
                self.add(entry.path, f"{kind} cannot run in `on_failure` (failure handlers run inline, one "
                         "after another)", "on_failure")
            elif getattr(entry, "confirm", False):
                self.add(entry.path + ("confirm",), "`confirm` cannot be used in `on_failure`: failure handlers "
                         "run inline, without asking; remove it", "on_failure")


_ZONES: frozenset | None = None


def timezone_problem(name: str) -> str | None:
    """None when ``name`` is an IANA time zone, else a message with a "did you mean"."""
    try:
        ZoneInfo(name)
        return None
    except (ZoneInfoNotFoundError, ValueError):
        pass
    global _ZONES
    if _ZONES is None:
        _ZONES = frozenset(available_timezones())
    return f"unknown time zone `{name}`" + did_you_mean(name, _ZONES) + " (use an IANA name such as Europe/Berlin)"


def trigger_name_clashes(wf: Workflow, upstream_job=None) -> list[tuple[DocPath, str, str]]:
    """``(path, message, rule)`` for each trigger of ``wf`` whose Dagster schedule/sensor name
    (:func:`yaml2dag.format.trigger_names.trigger_names`) an earlier trigger of ``wf`` already has,
    when at least one of the two has no ``name:`` (two equal ``name:`` values are reported as
    duplicate trigger names). Dagster needs unique names; yaml2dag never renames silently.

    Args:
        wf: the workflow.
        upstream_job: ``ref`` → upstream job id for ``workflow`` triggers (default: the
            reference in snake_case).
    """
    out = []
    for trig, name, earlier in duplicate_names(wf, trigger_names(wf, upstream_job)):
        if trig.name and earlier.name:
            continue
        number = wf.triggers.index(earlier) + 1
        out.append((trig.path, f"this {trig.type} trigger would get the Dagster name `{name}`, like trigger "
                    f"{number} of this workflow (schedule and sensor names are unique): add a `name:` to one "
                    "of them", "trigger"))
    return out
