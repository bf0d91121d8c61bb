"""Workflow assembly for the drafting grammar: step ids, parameters, conditions, the result.

A phrase that is understood becomes one or more :class:`StepSpec` (what a lexicon entry
builds); :class:`Builder` gives each an id, declares the workflow parameters it needs, writes
its ``when`` from the conditions (bare expressions, joined with ``and``), and finally returns
the workflow mapping (:meth:`Builder.finish`) in the key order of the format's own example
(spec §1): name, version, description, parameters, triggers, steps, on_failure.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from yaml2dag.library.drafting.report import PhraseReport
from yaml2dag.library.drafting.text import simplify


class Refusal(Exception):
    """A phrase that is understood but cannot make a step that runs: the reason says why
    (e.g. an alert whose condition can never be true)."""

    def __init__(self, reason: str, closest: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.closest = closest


@dataclass
class StepSpec:
    """A step a lexicon entry builds.

    Attributes:
        kind: the base of the step id (``tests``, ``deploy``, ``check_system``...).
        tool, action: what runs (action None: the tool's default).
        parameters: the step's tool parameters.
        declares: workflow parameters it needs (name → declaration); a name that is already
            declared keeps its first declaration.
        aliases: names a later condition may call it by ("tests", "测试"...).
        uses_repo: a shell step that runs inside ``{{ repo_dir }}`` when the workflow has one.
        produces: what its output is, for later phrases that use "the result": ``frame`` (a
            DataFrame), ``text``, ``check`` (system.check), ``messages``, ``commits`` or None.
        whens: bare condition expressions of its own (joined with ``and`` to the phrase's).
        extra: other step keys (``for_each``, ``retry``, ``timeout``, ``on_error``...).
        failure: the step goes to ``on_failure`` (a rollback, a failure alert).
        never_fails: the tool cannot fail in a way a condition could test (``notify.log``, a wait).
        name: the display name (default: the phrase).
        note: a remark for the phrase report.
    """

    kind: str
    tool: str
    action: str | None = None
    parameters: dict = field(default_factory=dict)
    declares: dict = field(default_factory=dict)
    aliases: tuple[str, ...] = ()
    uses_repo: bool = False
    produces: str | None = None
    whens: list[str] = field(default_factory=list)
    extra: dict = field(default_factory=dict)
    failure: bool = False
    never_fails: bool = False
    name: str | None = None
    note: str | None = None

    @property
    def label(self) -> str:
        return self.tool + (f".{self.action}" if self.action else "")


def template(expr: str) -> str:
    """A bare expression as a whole-value template: ``tests.succeeded`` → ``{{ tests.succeeded }}``."""
    return "{{ " + expr + " }}"


def join_conditions(exprs: list[str]) -> str | None:
    """Bare expressions joined with ``and`` (each with ``or`` in parentheses), as a template."""
    parts = []
    for expr in exprs:
        if expr and expr not in parts:
            parts.append(expr)
    if not parts:
        return None
    return template(" and ".join(f"({p})" if " or " in p and len(parts) > 1 else p for p in parts))


_PRONOUNS = ("it", "that", "this", "they", "those", "previous step", "the previous step", "last step",
             "它", "其", "这", "这一步", "上一步", "前一步")


class Builder:
    """Collects the steps of a draft; see the module docstring."""

    def __init__(self, name: str, description: str):
        self.name = name
        self.description = description
        self.steps: list[dict] = []
        self.on_failure: list[dict] = []
        self.parameters: dict[str, dict] = {}
        self.aliases: dict[str, str] = {}
        self.specs: dict[str, StepSpec] = {}
        self.reports: list[PhraseReport] = []
        self.notes: list[str] = []
        self.compared: set[str] = set()  # threshold parameters a condition compares with
        self._ids: set[str] = set()

    # ------------------------------------------------------------------ parameters and ids

    def declare(self, name: str, decl: dict) -> str:
        """Declare workflow parameter ``name`` (the first declaration wins); returns ``name``."""
        if name not in self.parameters:
            self.parameters[name] = copy.deepcopy(decl)
        return name

    def fresh_parameter(self, name: str, decl: dict) -> str:
        """Declare a parameter under ``name``, or ``name_2``... when ``name`` is taken with
        another default; returns the name used."""
        candidate, n = name, 1
        while candidate in self.parameters and self.parameters[candidate] != decl:
            n += 1
            candidate = f"{name}_{n}"
        return self.declare(candidate, decl)

    def new_id(self, kind: str, taken: set[str] | None = None) -> str:
        """A step id for ``kind`` not used by a step (or ``taken``) nor a parameter."""
        taken = self._ids if taken is None else taken
        base = re.sub(r"[^a-z0-9_]", "_", kind.lower()) or "step"
        if base[0].isdigit():
            base = "_" + base
        sid, n = base, 1
        while sid in taken or sid in self.parameters:
            n += 1
            sid = f"{base}_{n}"
        return sid

    def next_ids(self, kinds: list[str]) -> list[str]:
        """The ids steps of these kinds would get if they were added now, in this order."""
        taken = set(self._ids)
        out = []
        for kind in kinds:
            sid = self.new_id(kind, taken)
            taken.add(sid)
            out.append(sid)
        return out

    # ------------------------------------------------------------------ looking back

    def last(self, *produces: str, failure: bool = False) -> dict | None:
        """The latest step (of ``steps``, or also ``on_failure`` with ``failure``) whose spec
        produces one of ``produces`` (any step when none is given)."""
        pool = self.steps + (self.on_failure if failure else [])
        for step in reversed(pool):
            spec = self.specs.get(step["id"])
            if not produces or (spec is not None and spec.produces in produces):
                return step
        return None

    def subject(self, text: str, *, failure: bool = False) -> str | None:
        """The id of the step a condition talks about ("tests", "the build", "it", "测试"), or None."""
        raw = re.sub(r"^(?:the|all|all\s+the|our|my|its)\s+", "", text.strip().lower()).strip()
        if raw in _PRONOUNS or raw == "":
            step = self.last(failure=failure)
            return step["id"] if step else None
        pool = {s["id"] for s in self.steps + (self.on_failure if failure else [])}
        for candidate in (raw, simplify(raw), re.sub(r"s$", "", raw), raw + "s"):
            sid = self.aliases.get(candidate)
            if sid in pool:
                return sid
        for step in reversed(self.steps):
            if step["id"] == raw.replace(" ", "_"):
                return step["id"]
        return None

    def step(self, sid: str) -> dict:
        return next(s for s in self.steps + self.on_failure if s["id"] == sid)

    # ------------------------------------------------------------------ adding

    def add(self, phrase: str, spec: StepSpec, whens: list[str] | None = None, *, failure: bool = False,
            name: str | None = None) -> str:
        """Add ``spec`` as a step (to ``on_failure`` with ``failure`` or ``spec.failure``);
        returns its id."""
        sid = self.new_id(spec.kind)
        self._ids.add(sid)
        title = name or spec.name or phrase
        step: dict[str, Any] = {"id": sid, "name": title[:1].upper() + title[1:]}
        for key in ("for_each", "max_parallel"):
            if key in spec.extra:
                step[key] = spec.extra[key]
        when = join_conditions([*(whens or []), *spec.whens])
        if when:
            step["when"] = when
        step["tool"] = spec.tool
        if spec.action:
            step["action"] = spec.action
        step["parameters"] = copy.deepcopy(spec.parameters)
        for key, value in spec.extra.items():
            if key not in step:
                step[key] = copy.deepcopy(value)
        for pname, decl in spec.declares.items():
            self.declare(pname, decl)
        (self.on_failure if failure or spec.failure else self.steps).append(step)
        self.specs[sid] = spec
        for alias in (*spec.aliases, spec.kind):
            self.aliases[alias.lower()] = sid
        self.aliases.setdefault(sid, sid)
        return sid

    def needs_continue(self, sid: str, reader: str) -> None:
        """Give step ``sid`` ``on_error: continue`` so that its failure reaches ``reader``'s
        condition instead of stopping the run (spec §4, error handling)."""
        step = self.step(sid)
        if step.get("on_error") not in ("continue", "fallback"):
            step["on_error"] = "continue"
            self.notes.append(f"`{sid}` gets `on_error: continue` so that a failure reaches the condition of "
                              f"`{reader}` instead of stopping the run")

    def became(self, sid: str) -> str:
        """What a phrase became, for the report: "step `tests` (shell) when {{ ... }}"."""
        step = self.step(sid)
        where = "on_failure step" if step in self.on_failure else "step"
        tool = step["tool"] + (f".{step['action']}" if step.get("action") else "")
        extra = f" when {step['when']}" if "when" in step else ""
        return f"{where} `{sid}` ({tool}){extra}"

    # ------------------------------------------------------------------ the result

    def finish(self, schedules: list) -> dict:
        """The workflow mapping (see the module docstring)."""
        if "repo_dir" in self.parameters:
            for step in self.steps + self.on_failure:
                spec = self.specs.get(step["id"])
                if spec is not None and spec.uses_repo and step["tool"] == "shell":
                    step["parameters"].setdefault("cwd", "{{ repo_dir }}")
        data: dict[str, Any] = {"name": self.name, "version": "1.0.0", "description": self.description}
        if self.parameters:
            data["parameters"] = self.parameters
        if schedules:
            triggers: list[dict] = [{"type": "manual"}]
            for sched in schedules:
                item: dict[str, Any] = {"type": "schedule", "cron": sched.cron}
                if sched.timezone:
                    item["timezone"] = sched.timezone
                triggers.append(item)
            data["triggers"] = triggers
        data["steps"] = self.steps
        if self.on_failure:
            data["on_failure"] = self.on_failure
        return data
