"""The typed, immutable in-memory model of a workflow (spec §2–§7).

:func:`yaml2dag.format.model_builder.build_workflow` turns a parsed document into a
:class:`Workflow` (leniently: see there). Only a workflow without errors is ever compiled. The
values a model object holds are read-only too (:mod:`yaml2dag.format.frozen`).

Every model object keeps ``path``, its location in the document, so problems found later can
point at the right line.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping, Union

from yaml2dag.format.assets import AssetDecl
from yaml2dag.format.frozen import FrozenDict
from yaml2dag.format.semantics import retry_wait, retry_waits

DocPath = tuple

IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")

#: Parameter types (spec §3).
PARAMETER_TYPES = ("string", "integer", "number", "boolean", "array", "object", "secret")

#: ``on_error`` values after aliases are resolved (spec §4).
ON_ERROR = ("abort", "retry", "continue", "fallback")
#: Values of ``executor.type`` (spec §2); ``celery`` runs steps on Celery workers (:mod:`yaml2dag.compiler.celery`).
EXECUTOR_TYPES = ("threads", "in_process", "multiprocess", "celery")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


#: Marks a parameter without a default (a required parameter).
MISSING: Any = _Missing()


def slugify(name: str) -> str:
    """The default job id of a workflow name (spec §2, ``id``).

    Lowercase; each run of characters outside ``[a-z0-9]`` becomes ``_``; a leading digit gets
    a ``_`` prefix. ``"Git Sync and Test"`` → ``git_sync_and_test``.
    """
    slug = re.sub(r"[^a-z0-9]+", "_", name.lower())
    if not slug:
        return "_"
    if slug[0].isdigit():
        slug = "_" + slug
    return slug


def infer_type(value: Any) -> str:
    """Parameter type of a bare default value (spec §3)."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "string"


@dataclass(frozen=True)
class Parameter:
    """A typed input of a workflow (spec §3).

    Attributes:
        name: the parameter's name, usable in templates as ``name`` or ``params.name``.
        type: one of :data:`PARAMETER_TYPES`.
        default: the default value, or :data:`MISSING` for a required parameter.
        items_type: element type of an ``array``.
    """

    name: str
    type: str = "string"
    default: Any = MISSING
    description: str = ""
    enum: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    items_type: str | None = None
    path: DocPath = ()

    @property
    def required(self) -> bool:
        return self.default is MISSING

    @property
    def is_secret(self) -> bool:
        return self.type == "secret"

    @property
    def env_var(self) -> str:
        """Environment variable a ``secret`` parameter is read from: the name, upper-cased."""
        return self.name.upper()


@dataclass(frozen=True)
class RetryConfig:
    """Retry settings of a step (spec §4, ``retry``). Delays are in seconds.

    ``max_attempts`` counts the first try. The wait before retry number ``n`` (1-based) is
    ``delay`` (constant), ``delay * n`` (linear) or ``delay * 2**(n-1)`` (exponential), capped
    at ``max_delay``; with ``jitter`` a uniformly random time between 0 and that wait
    ("full jitter", as in AWS's architecture guidance and Dagster's ``Jitter.FULL``).
    """

    max_attempts: int = 3
    backoff: str = "constant"
    delay: float = 1.0
    max_delay: float = 300.0
    jitter: bool = False

    def delay_for(self, retry_number: int, rng: random.Random | None = None) -> float:
        """Seconds to wait before retry ``retry_number`` (1 = the first retry):
        :func:`yaml2dag.format.semantics.retry_wait`."""
        return retry_wait(self, retry_number, rng)

    def schedule(self) -> list[float]:
        """Waits before each retry, ignoring jitter: ``[1.0, 2.0, 4.0]`` for 4 exponential
        attempts (:func:`yaml2dag.format.semantics.retry_waits`)."""
        return retry_waits(self)


@dataclass(frozen=True)
class StepBody:
    """What runs, without dependencies or error handling: ``fallback`` and ``compensate``."""

    tool: str
    action: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=FrozenDict)
    name: str = ""
    description: str = ""
    timeout: float | None = None
    path: DocPath = ()


@dataclass(frozen=True)
class Step:
    """One step: a tool action with its dependencies, condition and error handling (spec §4)."""

    id: str
    tool: str = ""
    action: str | None = None
    parameters: Mapping[str, Any] = field(default_factory=FrozenDict)
    name: str = ""
    description: str = ""
    depends_on: tuple[str, ...] | None = None
    when: Any = None
    on_error: str = "abort"
    retry: RetryConfig | None = None
    fallback: StepBody | None = None
    timeout: float | None = None
    for_each: Any = None
    max_parallel: int | None = None
    pool: str | None = None
    compensate: StepBody | None = None
    #: ``confirm: true``: ask before the step runs (supervised mode, :mod:`yaml2dag.format.run_modes`)
    confirm: bool = False
    path: DocPath = ()
    when_key: str = "when"
    depends_key: str = "depends_on"
    kind: str = "step"
    #: data assets the step writes and asset keys it reads (:mod:`yaml2dag.format.assets`)
    assets: tuple[AssetDecl, ...] = ()
    deps: tuple[str, ...] = ()

    @property
    def title(self) -> str:
        return self.name or self.id

    @property
    def max_attempts(self) -> int:
        return self.retry.max_attempts if self.retry else 1

    @property
    def final_on_error(self) -> str:
        """What happens once attempts are used up: ``abort``, ``continue`` or ``fallback``."""
        return "abort" if self.on_error in ("abort", "retry") else self.on_error


@dataclass(frozen=True)
class ParallelGroup:
    """``parallel:`` — members run at once after the previous entry."""

    entries: tuple["Entry", ...]
    id: str | None = None
    name: str = ""
    description: str = ""
    max_parallel: int | None = None
    depends_on: tuple[str, ...] | None = None
    path: DocPath = ()
    depends_key: str = "depends_on"
    kind: str = "parallel"


@dataclass(frozen=True)
class Branch:
    """``if``/``then``/``else`` — exactly one side runs, the other is skipped."""

    id: str
    condition: Any
    then: tuple["Entry", ...] = ()
    else_: tuple["Entry", ...] = ()
    name: str = ""
    description: str = ""
    depends_on: tuple[str, ...] | None = None
    path: DocPath = ()
    when_key: str = "if"
    depends_key: str = "depends_on"
    kind: str = "branch"

    @property
    def sides(self) -> tuple[tuple[str, tuple["Entry", ...], DocPath], ...]:
        return (("then", self.then, self.path + ("then",)), ("else", self.else_, self.path + ("else",)))


@dataclass(frozen=True)
class Switch:
    """``switch``/``cases``/``default`` — the matching case runs, the others are skipped."""

    id: str
    expression: Any
    cases: tuple[tuple[str, tuple["Entry", ...]], ...] = ()
    default: tuple["Entry", ...] | None = None
    name: str = ""
    description: str = ""
    depends_on: tuple[str, ...] | None = None
    path: DocPath = ()
    depends_key: str = "depends_on"
    kind: str = "switch"

    @property
    def sides(self) -> tuple[tuple[str, tuple["Entry", ...], DocPath], ...]:
        out = [(key, entries, self.path + ("cases", key)) for key, entries in self.cases]
        if self.default is not None:
            out.append(("default", self.default, self.path + ("default",)))
        return tuple(out)


@dataclass(frozen=True)
class SubWorkflow:
    """``workflow:`` — another workflow of the folder, inlined as a nested Dagster graph."""

    id: str
    workflow: str
    parameters: Mapping[str, Any] = field(default_factory=FrozenDict)
    name: str = ""
    description: str = ""
    depends_on: tuple[str, ...] | None = None
    when: Any = None
    #: ``confirm: true``: ask before the sub-workflow step runs (as :attr:`Step.confirm`)
    confirm: bool = False
    path: DocPath = ()
    when_key: str = "when"
    depends_key: str = "depends_on"
    kind: str = "workflow"

    @property
    def title(self) -> str:
        return self.name or self.id


Entry = Union[Step, ParallelGroup, Branch, Switch, SubWorkflow]


@dataclass(frozen=True)
class Trigger:
    """When runs start (spec §7). ``options`` holds the type's own keys (cron, path, ...)."""

    type: str
    name: str | None = None
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=FrozenDict)
    enabled: bool = True
    options: Mapping[str, Any] = field(default_factory=FrozenDict)
    path: DocPath = ()


@dataclass(frozen=True)
class Concurrency:
    """At most ``limit`` runs of the workflow at once per rendered ``key``."""

    limit: int
    key: str | None = None


@dataclass(frozen=True)
class ExecutorConfig:
    """How steps of one run execute: ``threads`` (default), ``in_process``, ``multiprocess`` or
    ``celery``. ``explicit`` is True when the file sets ``executor.type``; otherwise the
    folder-wide default applies (``YAML2DAG_EXECUTOR``, see :mod:`yaml2dag.format.executors`)."""

    type: str = "threads"
    max_parallel: int | None = None
    explicit: bool = False


@dataclass(frozen=True)
class Source:
    """Where a workflow came from."""

    file: str = "<string>"
    content_hash: str = ""


@dataclass(frozen=True)
class Workflow:
    """One workflow file, as the compiler consumes it."""

    name: str
    id: str
    steps: tuple[Entry, ...]
    version: str = "1.0.0"
    description: str = ""
    author: str = ""
    tags: tuple[str, ...] = ()
    labels: Mapping[str, str] = field(default_factory=FrozenDict)
    parameters: tuple[Parameter, ...] = ()
    triggers: tuple[Trigger, ...] = (Trigger("manual"),)
    defaults: Mapping[str, Any] = field(default_factory=FrozenDict)
    outputs: Mapping[str, Any] = field(default_factory=FrozenDict)
    on_failure: tuple[Entry, ...] = ()
    timeout: float | None = None
    concurrency: Concurrency | None = None
    priority: int | None = None
    executor: ExecutorConfig = ExecutorConfig()
    #: ``dag: true``: steps wait only for the steps they read and their ``depends_on``, not
    #: for list order (see :mod:`yaml2dag.format.plan`).
    dag: bool = False
    source: Source = Source()

    def parameter(self, name: str) -> Parameter | None:
        for param in self.parameters:
            if param.name == name:
                return param
        return None

    def iter_steps(self, include_on_failure: bool = True) -> Iterator[Step | SubWorkflow]:
        """Every step and sub-workflow step, depth first in file order."""
        yield from iter_entries_steps(self.steps)
        if include_on_failure:
            yield from iter_entries_steps(self.on_failure)

    def step(self, step_id: str) -> Step | SubWorkflow | None:
        for step in self.iter_steps():
            if step.id == step_id:
                return step
        return None

    @property
    def schedules(self) -> tuple[Trigger, ...]:
        return tuple(t for t in self.triggers if t.type == "schedule")


def iter_entries(entries: tuple[Entry, ...]) -> Iterator[Entry]:
    """Every entry, nested ones included, depth first in file order."""
    for entry in entries:
        yield entry
        if isinstance(entry, ParallelGroup):
            yield from iter_entries(entry.entries)
        elif isinstance(entry, (Branch, Switch)):
            for _key, side, _path in entry.sides:
                yield from iter_entries(side)


def iter_entries_steps(entries: tuple[Entry, ...]) -> Iterator[Step | SubWorkflow]:
    for entry in iter_entries(entries):
        if isinstance(entry, (Step, SubWorkflow)):
            yield entry
