"""Validation of the limits of :mod:`yaml2dag.format.limits` that the schema cannot express:
the number of steps, durations, attempts and integers written as whole floats (issue 10).

A mixin of :class:`yaml2dag.format.validation_checker.DocumentChecker`; nothing here imports Dagster.
"""

from __future__ import annotations

from typing import Any

from yaml2dag.format.durations import parse_duration
from yaml2dag.format.errors import Problem
from yaml2dag.format import limits
from yaml2dag.format.limits import MAX_ATTEMPTS, RULE as LIMIT_RULE, duration_problem, integer_problem
from yaml2dag.format.loader import DocPath
from yaml2dag.format.model import Workflow, iter_entries


class LimitChecks:
    # -- limits (yaml2dag.format.limits) the schema cannot express
    def step_count_problem(self, data: dict) -> Problem | None:
        """A ``limit`` problem when ``steps`` and ``on_failure`` hold more than
        :data:`~yaml2dag.format.limits.MAX_STEPS` entries, nested ones included (counted on the plain
        data, iteratively, before anything else looks at them)."""
        count = 0
        stack = [data.get("steps"), data.get("on_failure")]
        while stack:
            items = stack.pop()
            if not isinstance(items, list):
                continue
            for item in items:
                if not isinstance(item, dict):
                    continue
                count += 1
                stack += [item.get("parallel"), item.get("then"), item.get("else"), item.get("default")]
                cases = item.get("cases")
                if isinstance(cases, dict):
                    stack += list(cases.values())
        most = limits.MAX_STEPS  # read here, so a test can lower it
        if count <= most:
            return None
        return self.doc.problem(("steps",), f"the workflow has {count:,} steps; a workflow has at most {most:,} "
                                "(split it into sub-workflows)", LIMIT_RULE, key="steps" in data)

    def check_limits(self, wf: Workflow) -> None:
        """Durations of at most 365 days, ``retry.max_attempts`` of at most
        :data:`~yaml2dag.format.limits.MAX_ATTEMPTS`, and integer fields written as whole floats
        (``priority: 1.0e+300``, which JSON Schema counts as integers) within 64 bits."""
        durations: list[tuple[DocPath, Any]] = []
        integers: list[tuple[DocPath, Any]] = []

        def collect(base: DocPath, data: Any) -> None:  # the keys of one step (or of `defaults`)
            if not isinstance(data, dict):
                return
            durations.append((base + ("timeout",), data.get("timeout")))
            integers.append((base + ("max_parallel",), data.get("max_parallel")))
            retry = data.get("retry")
            if isinstance(retry, dict):
                durations.extend((base + ("retry", k), retry.get(k)) for k in ("delay", "max_delay"))
                integers.append((base + ("retry", "max_attempts"), retry.get("max_attempts")))
            for body in ("fallback", "compensate"):
                if isinstance(data.get(body), dict):
                    durations.append((base + (body, "timeout"), data[body].get("timeout")))

        top = self.doc.data
        durations.append((("timeout",), top.get("timeout")))
        integers.append((("priority",), top.get("priority")))
        for key, sub in (("concurrency", "limit"), ("executor", "max_parallel")):
            if isinstance(top.get(key), dict):
                integers.append(((key, sub), top[key].get(sub)))
        collect(("defaults",), top.get("defaults"))
        for entry in list(iter_entries(wf.steps)) + list(iter_entries(wf.on_failure)):
            collect(entry.path, self._data(entry.path))
        integers += [(trig.path + ("interval",), trig.options.get("interval")) for trig in wf.triggers]
        for path, value in durations:
            if value is None or isinstance(value, bool):
                continue
            try:
                seconds = parse_duration(value)
            except ValueError as exc:
                if "too long" in str(exc):
                    self.add(path, str(exc), LIMIT_RULE)
                continue  # not a duration at all: the schema says so
            problem = duration_problem(seconds)
            if problem:
                self.add(path, f"{problem}, got {value!r}" if len(repr(value)) < 40 else problem, LIMIT_RULE)
        for path, value in integers:
            if isinstance(value, float) and value.is_integer():
                problem = integer_problem(int(value))
                if problem:
                    self.add(path, problem, LIMIT_RULE)
                    continue
                value = int(value)
            if path[-1] == "max_attempts" and isinstance(value, int) and not isinstance(value, bool) \
                    and value > MAX_ATTEMPTS:
                self.add(path, f"a step makes at most {MAX_ATTEMPTS} attempts, got {value}", LIMIT_RULE)
