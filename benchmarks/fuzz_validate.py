"""Fuzzing the validator (and the compiler) with seeded mutations of every shipped workflow.

Issue 10, point 2: no input crashes validation, and everything ``validate`` accepts compiles.
The corpus is built from every workflow file shipped in ``definitions/``, ``examples/`` and
``yaml2dag/library/workflow_templates/`` by seeded mutations:

* ``bytes``    byte flips, inserts, deletions and duplicated chunks (invalid UTF-8 included);
* ``delete``   a key deleted somewhere in the document;
* ``rename``   a key renamed (a typo, another key of the format, an odd name);
* ``swap``     a value replaced by one of another type (null, numbers, NaN, huge numbers,
               templates, lists, mappings, empty strings...);
* ``nesting``  deep nesting: lists or mappings hundreds of levels deep, deeply nested
               template expressions, regex patterns of hundreds of nested groups, nested
               parallel groups;
* ``number``   huge numbers: integers of 20 to 10,000 digits (decimal, hex, negative), floats
               that overflow, durations of hundreds of digits;
* ``alias``    YAML anchors and aliases: recursive aliases, "billion laughs", merge keys;
* ``size``     many steps (up to 5,000), long strings, many parameters;
* ``mixed``    two to four of the structural mutations at once.

Each input is validated by a worker process (:func:`check_input`) under a watchdog: an input
that takes more than ``--timeout`` seconds (default 10) is a *hang* and its worker is killed and
replaced; a worker whose resident memory passes ``--memory-limit`` MB (default 1024) is killed
too (a *memory* failure). A *crash* is an exception escaping the validator, an ``internal``
problem (the validator's last-resort guard: a bug, even though the user sees a clean message),
a problem without line, column or rule, or a report that ``--format json`` could not print.

With ``--compile`` every input the validator accepts must also compile to a Dagster job
(``compile_workflow``) whose run config Dagster accepts (``validate_run_config``), whose run can
be created in an ephemeral instance (``create_run_for_job``: execution plan and snapshots; no
step runs) and whose plan ``yaml2dag show`` can print: the property "everything validate accepts
compiles". Required parameters get a value of their type.

Usage::

    python benchmarks/fuzz_validate.py --count 10000 --seed 1
    python benchmarks/fuzz_validate.py --count 3000 --seed 2 --compile
    python benchmarks/fuzz_validate.py --count 50 --save-failures /tmp/fuzz-failures

Prints one line per failure (on stderr, with progress every 500 inputs) and a summary on stdout
(as JSON with ``--json``); exits 1 when any input crashed, hung or went over the memory limit.
The test suite runs a bounded sample in-process (tests/integration/test_input_limits_fuzz.py).
Results: docs/reliability.md.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

REPO = Path(__file__).resolve().parents[1]
SEED_DIRS = ("definitions", "examples", "yaml2dag/workflow_templates")
SUFFIXES = (".yaml", ".yml", ".json")

MUTATIONS = ("bytes", "delete", "rename", "swap", "nesting", "number", "alias", "size", "mixed")


@dataclass
class Case:
    """One fuzz input: the file's bytes, its name and how it was made."""

    index: int
    seed_file: str
    mutation: str
    data: bytes
    suffix: str = ".yaml"

    @property
    def name(self) -> str:
        return f"fuzz_{self.index:05d}{self.suffix}"


@dataclass
class Outcome:
    """What checking one input found. ``kind``: ``rejected`` (validation errors, fine),
    ``accepted`` (valid), ``compiled`` (valid and compiled), ``crash``, ``hang``, ``memory``."""

    kind: str
    detail: str = ""
    seconds: float = 0.0
    max_rss_mb: float = 0.0
    rules: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- the corpus


def seed_files(repo: Path = REPO) -> list[tuple[str, str]]:
    """(relative path, text) of every shipped workflow file, sorted."""
    out = []
    for folder in SEED_DIRS:
        root = repo / folder
        if not root.is_dir():
            continue
        for path in sorted(root.rglob("*")):
            if path.suffix.lower() in SUFFIXES and path.is_file() and "/." not in str(path):
                out.append((str(path.relative_to(repo)), path.read_text(encoding="utf-8")))
    return out


_KEYS = ("name", "id", "version", "description", "author", "tags", "labels", "parameters", "defaults",
         "steps", "outputs", "on_failure", "timeout", "concurrency", "priority", "executor", "triggers",
         "tool", "action", "depends_on", "needs", "when", "if", "then", "else", "switch", "cases",
         "default", "parallel", "workflow", "on_error", "retry", "fallback", "for_each", "max_parallel",
         "pool", "compensate", "type", "enum", "minimum", "maximum", "pattern", "items", "limit", "key",
         "cron", "timezone", "path", "interval", "status", "enabled", "max_attempts", "backoff", "delay",
         "max_delay", "jitter", "command", "cwd", "env", "args", "script", "url", "method")

_ODD_KEYS = ("", "0", "a b", "__x__", "キー", "x" * 300, "null", "true", "<<", "-", "{{ x }}", "steps2")


def _huge_digits(rng: random.Random) -> str:
    length = rng.choice((19, 20, 21, 40, 300, 309, 400, 1000, 4300, 4301, 5000, 10000))
    text = rng.choice("123456789") + "".join(rng.choice("0123456789") for _ in range(length - 1))
    form = rng.random()
    if form < 0.15:
        return "-" + text
    if form < 0.3:
        return "0x" + "f" * length
    if form < 0.35:
        return "0o" + "7" * length
    if form < 0.4:
        return "0b" + "1" * length
    if form < 0.45:
        return ":".join(["59"] * max(2, length // 3))  # YAML 1.1 sexagesimal integer
    if form < 0.55:
        return text + ".5"
    if form < 0.65:
        return "1e" + str(rng.choice((308, 309, 400, 99999)))
    if form < 0.7:
        return '"' + text + rng.choice(("s", "ms", "m", "h", "d", "")) + '"'  # a duration string
    return text


def _deep_flow(rng: random.Random) -> str:
    depth = rng.choice((10, 40, 63, 64, 65, 70, 100, 500, 999, 1001, 3000))
    kind = rng.random()
    if kind < 0.4:
        return "[" * depth + "]" * depth
    if kind < 0.7:
        return "{a: " * depth + "1" + "}" * depth
    return "[{a: " * (depth // 2) + "1" + "}]" * (depth // 2)


def _deep_template(rng: random.Random) -> str:
    depth = rng.choice((5, 20, 31, 32, 33, 60, 90, 200, 300, 1000, 3000))
    kind = rng.randrange(9)
    if kind == 0:
        expr = "(" * depth + "true" + ")" * depth
    elif kind == 1:
        expr = " + ".join(["1"] * depth)
    elif kind == 2:
        expr = "not " * depth + "x"
    elif kind == 3:
        expr = "x" + ".a" * depth
    elif kind == 4:
        expr = "[" * depth + "]" * depth
    elif kind == 5:
        expr = "- " * depth + "1"
    elif kind == 6:
        return '"' + "{% if x %}" * depth + "y" + "{% endif %}" * depth + '"'
    elif kind == 7:
        expr = "x" + " | lower" * depth
    else:
        expr = "{'a': " * depth + "1" + "}" * depth
    if rng.random() < 0.5:
        return '"' + expr + '"'  # a bare condition (`when:`)
    return '"{{ ' + expr + ' }}"'


def _deep_pattern(rng: random.Random) -> str:
    depth = rng.choice((5, 19, 20, 21, 50, 100, 500, 2000))
    kind = rng.randrange(6)
    if kind == 0:
        body = "(" * depth + "a" + ")" * depth
    elif kind == 1:
        body = "(a+)+$"
    elif kind == 2:
        body = "^(a|a)*$"
    elif kind == 3:
        body = "a" * (depth * 10)
    elif kind == 4:
        body = "[" * depth
    else:
        body = "(?:" * depth + "b" + ")" * depth
    return json.dumps(body)


def _special_value(rng: random.Random) -> tuple[Any, str | None]:
    """A (placeholder value, raw YAML text to put in its place or None)."""
    kind = rng.randrange(26)
    simple = [None, True, False, 0, -1, 1, 3.0, 1.5, -0.0, 1e308, -1e308, "", " ", "x", "{{ x }}", "{{",
              "{% if %}", "$(id)", "0", "2020-01-01", "1:30:00", [], {}, [1, "a", None], {"a": {"b": []}}]
    if kind < len(simple):
        return simple[kind], None
    raw = rng.choice((".nan", ".inf", "-.inf", "!!binary aGVsbG8=", "!!python/name:os.system", "~", "null",
                      "'{{ steps }}'", '"{{ env | list }}"', "!!float 1e999", "!!int '1'", "0x10", "1_000",
                      "[*]", "&a x", "? [a]\n: b", "|-\n  x"))
    return "", raw


class _Doc:
    """A parsed seed with placeholders for raw YAML snippets, dumped back to text."""

    def __init__(self, text: str):
        import yaml

        self.data = yaml.safe_load(text)
        self.raw: dict[str, str] = {}

    def placeholder(self, raw: str) -> str:
        token = f"FUZZ_PLACEHOLDER_{len(self.raw)}_X"
        self.raw[token] = raw
        return token

    def value(self, value: Any, raw: str | None) -> Any:
        return self.placeholder(raw) if raw is not None else value

    def containers(self) -> list[tuple[Any, Any]]:
        """(container, key or index) of every value in the document."""
        out: list[tuple[Any, Any]] = []
        stack = [self.data]
        while stack:
            node = stack.pop()
            if isinstance(node, dict):
                for key in list(node):
                    out.append((node, key))
                    stack.append(node[key])
            elif isinstance(node, list):
                for i in range(len(node)):
                    out.append((node, i))
                    stack.append(node[i])
        return out

    def mappings(self) -> list[dict]:
        return [c[k] for c, k in self.containers() if isinstance(c[k], dict) and c[k]] + (
            [self.data] if isinstance(self.data, dict) and self.data else [])

    def dump(self, as_json: bool = False) -> str:
        import yaml

        if as_json:
            text = json.dumps(self.data, indent=1, ensure_ascii=False, allow_nan=True)
        else:
            text = yaml.safe_dump(self.data, sort_keys=False, allow_unicode=True, width=10_000)
        for token, raw in self.raw.items():
            if "\n" in raw:  # block forms: keep them on their own lines, indented under the key
                raw = raw.replace("\n", "\n" + " " * 40)
            text = text.replace(f"'{token}'", raw).replace(f'"{token}"', raw).replace(token, raw)
        return text


def _mutate_structure(rng: random.Random, doc: _Doc, kind: str) -> None:
    spots = doc.containers()
    if kind == "delete":
        maps = doc.mappings()
        if maps:
            target = rng.choice(maps)
            del target[rng.choice(list(target))]
    elif kind == "rename":
        maps = doc.mappings()
        if maps:
            target = rng.choice(maps)
            old = rng.choice(list(target))
            r = rng.random()
            if r < 0.4 and isinstance(old, str) and len(old) > 1:
                i = rng.randrange(len(old))
                new = old[:i] + old[i + 1:] if rng.random() < 0.5 else old[:i] + rng.choice("abcxyz_") + old[i:]
            elif r < 0.8:
                new = rng.choice(_KEYS)
            else:
                new = rng.choice(_ODD_KEYS)
            target[new] = target.pop(old)
    elif kind == "swap":
        if spots:
            container, key = rng.choice(spots)
            container[key] = doc.value(*_special_value(rng))
    elif kind == "nesting":
        if spots:
            container, key = rng.choice(spots)
            r = rng.random()
            if r < 0.35:
                container[key] = doc.placeholder(_deep_flow(rng))
            elif r < 0.7:
                container[key] = doc.placeholder(_deep_template(rng))
            elif r < 0.85:
                container[key] = doc.placeholder(_deep_pattern(rng))
            else:
                depth = rng.choice((5, 20, 40, 100))
                inner: Any = {"id": "deep", "tool": "shell", "parameters": {"command": "echo deep"}}
                for _ in range(depth):
                    inner = {"parallel": [inner]}
                container[key] = [inner] if rng.random() < 0.5 else inner
        # the places where these inputs matter most
        if isinstance(doc.data, dict) and rng.random() < 0.5:
            steps = doc.data.get("steps")
            if isinstance(steps, list) and steps and isinstance(steps[0], dict):
                field_name = rng.choice(("when", "timeout", "for_each", "parameters"))
                steps[0][field_name] = doc.placeholder(_deep_template(rng) if field_name != "parameters"
                                                       else "{args: " + _deep_flow(rng) + "}")
            params = doc.data.get("parameters")
            if isinstance(params, dict) and params:
                name = rng.choice(list(params))
                params[name] = {"type": "string", "default": "a", "pattern": doc.placeholder(_deep_pattern(rng))} \
                    if rng.random() < 0.5 else {"type": "array", "default": doc.placeholder(_deep_flow(rng))}
    elif kind == "number":
        if isinstance(doc.data, dict) and rng.random() < 0.6:
            where = rng.choice(("timeout", "priority", "concurrency", "step_timeout", "retry", "param", "interval"))
            big = doc.placeholder(_huge_digits(rng))
            steps = doc.data.get("steps") if isinstance(doc.data.get("steps"), list) else []
            step = steps[0] if steps and isinstance(steps[0], dict) else {}
            if where == "timeout":
                doc.data["timeout"] = big
            elif where == "priority":
                doc.data["priority"] = big
            elif where == "concurrency":
                doc.data["concurrency"] = {"limit": big}
            elif where == "step_timeout":
                step["timeout"] = big
            elif where == "retry":
                step["retry"] = {rng.choice(("max_attempts", "delay", "max_delay")): big}
            elif where == "param":
                params = doc.data.setdefault("parameters", {}) if isinstance(doc.data.get("parameters", {}), dict) else {}
                params["n"] = {"type": rng.choice(("integer", "number")),
                               rng.choice(("default", "minimum", "maximum")): big}
            else:
                doc.data["triggers"] = [{"type": "file", "path": "/tmp", "interval": big}]
        elif spots:
            container, key = rng.choice(spots)
            container[key] = doc.placeholder(_huge_digits(rng))
    elif kind == "alias":
        if spots and isinstance(doc.data, dict):
            r = rng.random()
            if r < 0.3:
                container, key = rng.choice(spots)
                container[key] = doc.placeholder("&anc [{id: a, tool: python, parameters: {args: [*anc]}}]")
            elif r < 0.5:
                lol = "{" + ", ".join(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 9) + "]" for i in range(1, 10)) + "}"
                doc.data["labels"] = doc.placeholder("{l0: &l0 [lol, lol, lol], x: " + lol + "}")
            elif r < 0.7:
                steps = doc.data.get("steps")
                doc.data["steps"] = doc.placeholder("&s [{id: a, tool: python, parameters: {args: [*s]}}]") \
                    if rng.random() < 0.5 or not isinstance(steps, list) else steps
                if isinstance(steps, list) and steps:
                    doc.data["on_failure"] = doc.placeholder("[{<<: {id: m, tool: shell}, parameters: {command: x}}]")
            else:
                container, key = rng.choice(spots)
                container[key] = doc.placeholder("&x " + rng.choice(("[1, 2]", "{a: 1}", "hello")))
                other, okey = rng.choice(spots)
                if other is not container or okey != key:
                    other[okey] = doc.placeholder("*x")
    elif kind == "size":
        if isinstance(doc.data, dict):
            r = rng.random()
            if r < 0.5:
                count = rng.choice((100, 500, 1000, 1001, 2000, 5000))
                doc.data["steps"] = [{"id": f"s{i}", "tool": "shell", "parameters": {"command": f"echo {i}"}}
                                     for i in range(count)]
            elif r < 0.75:
                if spots:
                    container, key = rng.choice(spots)
                    container[key] = "x" * rng.choice((10_000, 200_000))
            else:
                doc.data["parameters"] = {f"p{i}": i for i in range(rng.choice((50, 500, 3000)))}


def make_case(index: int, seeds: list[tuple[str, str]], seed: int) -> Case:
    """The ``index``-th input of the corpus for ``seed`` (deterministic)."""
    rng = random.Random(seed * 1_000_003 + index)
    seed_file, text = seeds[index % len(seeds)]
    mutation = MUTATIONS[(index // len(seeds)) % len(MUTATIONS)]
    if mutation == "bytes":
        data = bytearray(text.encode("utf-8"))
        for _ in range(rng.randint(1, 8)):
            if not data:
                break
            pos = rng.randrange(len(data))
            op = rng.randrange(5)
            if op == 0:
                data[pos] ^= 1 << rng.randrange(8)
            elif op == 1:
                data[pos] = rng.randrange(256)
            elif op == 2:
                data.insert(pos, ord(rng.choice("{}[]:-&*!|>'\"\n\t #%,?@`\\")))
            elif op == 3:
                del data[pos:pos + rng.randint(1, 20)]
            else:
                end = min(len(data), pos + rng.randint(1, 200))
                data[pos:pos] = data[pos:end]
        return Case(index, seed_file, mutation, bytes(data))
    doc = _Doc(text)
    kinds = [mutation] if mutation != "mixed" else [rng.choice(MUTATIONS[1:-1]) for _ in range(rng.randint(2, 4))]
    for kind in kinds:
        _mutate_structure(rng, doc, kind)
    as_json = rng.random() < 0.1 and mutation not in ("alias",)
    text = doc.dump(as_json=as_json)
    return Case(index, seed_file, mutation, text.encode("utf-8"), ".json" if as_json else ".yaml")


# --------------------------------------------------------------------------- checking one input


def check_input(case: Case, folder: Path, compile_check: bool = False) -> Outcome:
    """Validate one input in this process; with ``compile_check``, compile what validates.

    Returns an :class:`Outcome` (never raises: an exception is a ``crash`` outcome)."""
    start = time.perf_counter()
    path = folder / case.name
    try:
        path.write_bytes(case.data)
        outcome = _check(path, folder, compile_check)
    except BaseException as exc:  # noqa: BLE001 - anything escaping is what we look for
        if isinstance(exc, KeyboardInterrupt):
            raise
        outcome = Outcome("crash", f"{type(exc).__name__}: {exc}"[:500] + "\n" + traceback.format_exc()[-3000:])
    finally:
        try:
            path.unlink()
        except OSError:
            pass
    outcome.seconds = time.perf_counter() - start
    return outcome


def _check(path: Path, folder: Path, compile_check: bool) -> Outcome:
    from yaml2dag.format.validation import validate_paths

    report = validate_paths([str(path)])
    problems = report.problems
    text = json.dumps(report.to_json())  # what `validate --format json` prints
    json.loads(text)
    for p in problems:
        p.format()
        if p.rule == "internal":
            return Outcome("crash", f"internal problem: {p.format()}"[:3000], rules=[p.rule])
        if not isinstance(p.line, int) or not isinstance(p.column, int) or not p.rule:
            return Outcome("crash", f"problem without a position or rule: {p!r}"[:3000])
        if p.severity == "error" and (p.line < 1 or p.column < 1):
            return Outcome("crash", f"error without a line and column: {p.format()}"[:3000])
    rules = sorted({p.rule for p in problems if p.severity == "error"})
    if not report.valid:
        return Outcome("rejected", rules=rules)
    if not compile_check:
        return Outcome("accepted")
    return _compile(report.files[0], folder)


_INSTANCE = None


def _compile(file_report, folder: Path) -> Outcome:
    """Compile an accepted workflow, check its run config and create its run (no step runs)."""
    global _INSTANCE
    import dagster as dg

    from yaml2dag.cli.planview import plan_json
    from yaml2dag.compiler.job import compile_workflow, concurrency_tag, folder_resolver, render_concurrency_key
    from yaml2dag.format.errors import ParameterError
    from yaml2dag.format.parameters import resolve

    wf = file_report.workflow
    job = compile_workflow(file_report.validated(), resolver=folder_resolver(str(folder)))
    given = {p.name: sample_value(p) for p in wf.parameters if p.required and not p.is_secret}
    try:
        values = resolve(wf, given)
    except ParameterError:  # no value of ours passes a required parameter's checks (e.g. a huge minimum)
        given = {}
        values = resolve(wf, given, allow_missing=True)
        if any(p.required and not p.is_secret for p in wf.parameters):
            return Outcome("compiled", "a required parameter could not be given a value: run config not checked")
    result = dg.validate_run_config(job, values)
    if result is None:
        return Outcome("crash", "validate_run_config returned nothing")
    plan_json(wf, file_report.plan, values)
    tags = dict(job.run_tags)
    conc = concurrency_tag(wf, render_concurrency_key(wf, values))
    if conc is not None:
        tags[conc[0]] = conc[1]
    if _INSTANCE is None:
        _INSTANCE = dg.DagsterInstance.ephemeral()
    _INSTANCE.create_run_for_job(job_def=job, run_config=values, tags=tags)
    return Outcome("compiled")


def sample_value(param) -> Any:
    """A value of a required parameter's type that passes its checks where that is easy."""
    if param.enum:
        return param.enum[0]
    if param.type == "integer":
        low = param.minimum if param.minimum is not None else 0
        return int(math.ceil(low))
    if param.type == "number":
        return float(param.minimum) if param.minimum is not None else 0.0
    if param.type == "boolean":
        return False
    if param.type == "array":
        return []
    if param.type == "object":
        return {}
    return "a" if param.pattern is None else _pattern_sample(param.pattern)


def _pattern_sample(pattern: str) -> str:
    import re

    for candidate in ("a", "", "main", "0", "a.b", "x-1"):
        try:
            if re.search(pattern, candidate):
                return candidate
        except re.error:
            break
    return "a"


# --------------------------------------------------------------------------- workers


def _worker(conn, folder: str, compile_check: bool) -> None:
    import resource

    sys.setrecursionlimit(1000)  # the default: what the CLI and Dagster run with
    work = Path(folder)
    while True:
        case = conn.recv()
        if case is None:
            return
        outcome = check_input(case, work, compile_check)
        outcome.max_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        conn.send(outcome)


class _Pool:
    """One worker process at a time per slot, replaced when it hangs, dies or grows too big."""

    def __init__(self, folder: Path, compile_check: bool, timeout: float, memory_mb: float):
        import multiprocessing

        self.ctx = multiprocessing.get_context("fork")
        self.folder = folder
        self.compile_check = compile_check
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.proc = None
        self.conn = None

    def _start(self) -> None:
        parent, child = self.ctx.Pipe()
        self.proc = self.ctx.Process(target=_worker, args=(child, str(self.folder), self.compile_check), daemon=True)
        self.proc.start()
        child.close()
        self.conn = parent

    def _kill(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.join(5)
            self.proc = None
            self.conn = None

    def run(self, case: Case) -> Outcome:
        import psutil

        if self.proc is None or not self.proc.is_alive():
            self._start()
        start = time.perf_counter()
        self.conn.send(case)
        peak = 0.0
        watched = psutil.Process(self.proc.pid)
        while True:
            if self.conn.poll(0.05):
                try:
                    outcome = self.conn.recv()
                except EOFError:
                    self._kill()
                    return Outcome("crash", "the worker process died", time.perf_counter() - start, peak)
                outcome.max_rss_mb = max(outcome.max_rss_mb, peak)
                return outcome
            took = time.perf_counter() - start
            try:
                peak = max(peak, watched.memory_info().rss / 2**20)
            except psutil.Error:
                pass
            if not self.proc.is_alive():
                self._kill()
                return Outcome("crash", f"the worker process died (exit code {self.proc and self.proc.exitcode})",
                               took, peak)
            if peak > self.memory_mb:
                self._kill()
                return Outcome("memory", f"resident memory passed {self.memory_mb:.0f} MB", took, peak)
            if took > self.timeout:
                self._kill()
                return Outcome("hang", f"still running after {self.timeout:.0f} s", took, peak)

    def close(self) -> None:
        if self.proc is not None and self.proc.is_alive():
            try:
                self.conn.send(None)
                self.proc.join(5)
            except (OSError, BrokenPipeError):
                pass
        self._kill()


# --------------------------------------------------------------------------- driver


@dataclass
class Summary:
    inputs: int = 0
    kinds: dict = field(default_factory=dict)
    by_mutation: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)
    peak_rss_mb: float = 0.0
    slowest_s: float = 0.0
    seconds: float = 0.0

    def add(self, case: Case, outcome: Outcome) -> None:
        self.inputs += 1
        self.kinds[outcome.kind] = self.kinds.get(outcome.kind, 0) + 1
        per = self.by_mutation.setdefault(case.mutation, {})
        per[outcome.kind] = per.get(outcome.kind, 0) + 1
        self.peak_rss_mb = max(self.peak_rss_mb, outcome.max_rss_mb)
        self.slowest_s = max(self.slowest_s, outcome.seconds)
        if outcome.kind in ("crash", "hang", "memory"):
            self.failures.append((case, outcome))

    @property
    def crashes(self) -> int:
        return self.kinds.get("crash", 0)

    @property
    def hangs(self) -> int:
        return self.kinds.get("hang", 0)

    @property
    def memory(self) -> int:
        return self.kinds.get("memory", 0)

    def to_json(self) -> dict:
        return {
            "inputs": self.inputs, "outcomes": self.kinds, "by_mutation": self.by_mutation,
            "crashes": self.crashes, "hangs": self.hangs, "over_memory": self.memory,
            "peak_rss_mb": round(self.peak_rss_mb, 1), "slowest_input_s": round(self.slowest_s, 2),
            "seconds": round(self.seconds, 1),
        }


def run_cases(cases: list[Case], check: Callable[[Case], Outcome], on_failure=None, progress: int = 0) -> Summary:
    """Check every case; ``progress``: print a line to stderr every that many inputs."""
    summary = Summary()
    start = time.perf_counter()
    for case in cases:
        outcome = check(case)
        summary.add(case, outcome)
        if outcome.kind in ("crash", "hang", "memory") and on_failure is not None:
            on_failure(case, outcome)
        if progress and summary.inputs % progress == 0:
            print(f"... {summary.inputs} inputs, {time.perf_counter() - start:.0f} s: "
                  + ", ".join(f"{k} {v}" for k, v in sorted(summary.kinds.items())), file=sys.stderr, flush=True)
    summary.seconds = time.perf_counter() - start
    return summary


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000, help="number of inputs (default 10000)")
    parser.add_argument("--seed", type=int, default=1, help="corpus seed (default 1)")
    parser.add_argument("--start", type=int, default=0, help="index of the first input (default 0)")
    parser.add_argument("--compile", action="store_true",
                        help="also compile every accepted input and check its run config")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds before an input is a hang")
    parser.add_argument("--memory-limit", type=float, default=1024.0, help="MB of resident memory per worker")
    parser.add_argument("--save-failures", metavar="DIR", help="write each failing input to DIR")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    args = parser.parse_args(argv)

    seeds = seed_files()
    if not seeds:
        print("no shipped workflow files found", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="y2d-fuzz-"))
    os.environ.setdefault("DAGSTER_HOME", str(work))
    (work / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    folder = work / "definitions"
    folder.mkdir()
    save = Path(args.save_failures) if args.save_failures else None
    if save is not None:
        save.mkdir(parents=True, exist_ok=True)

    def on_failure(case: Case, outcome: Outcome) -> None:
        first = outcome.detail.strip().splitlines()[0] if outcome.detail.strip() else ""
        print(f"{outcome.kind.upper()} #{case.index} {case.mutation} of {case.seed_file}: {first[:300]}",
              file=sys.stderr, flush=True)
        if save is not None:
            (save / case.name).write_bytes(case.data)
            (save / (case.name + ".txt")).write_text(outcome.detail)

    pool = _Pool(folder, args.compile, args.timeout, args.memory_limit)
    try:
        cases = (make_case(i, seeds, args.seed) for i in range(args.start, args.start + args.count))
        summary = run_cases(cases, pool.run, on_failure, progress=500)  # type: ignore[arg-type]
    finally:
        pool.close()
        import shutil

        shutil.rmtree(work, ignore_errors=True)
    data = summary.to_json()
    data.update({"seed": args.seed, "seed_files": len(seeds), "compile": args.compile,
                 "timeout_s": args.timeout, "memory_limit_mb": args.memory_limit})
    if args.json:
        print(json.dumps(data, indent=2))
    else:
        print(f"inputs {summary.inputs} from {len(seeds)} shipped workflows (seed {args.seed}), "
              f"{summary.seconds:.0f} s")
        print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(summary.kinds.items())))
        print(f"crashes {summary.crashes}, hangs over {args.timeout:g} s {summary.hangs}, "
              f"over {args.memory_limit:g} MB {summary.memory}; peak worker memory {summary.peak_rss_mb:.0f} MB, "
              f"slowest input {summary.slowest_s:.2f} s")
    return 1 if summary.crashes or summary.hangs or summary.memory else 0


if __name__ == "__main__":
    sys.exit(main())
