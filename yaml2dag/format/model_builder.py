"""Building the workflow model from a parsed document (spec §2–§7).

:func:`build_workflow` turns a parsed document into a :class:`~yaml2dag.format.model.Workflow`.
It is lenient on purpose: values of the wrong shape are replaced by defaults so that the
validator can still run its semantic checks (cycles, references) and report every problem at
once; the structural problems themselves are reported by :mod:`yaml2dag.format.schema`. Only a
workflow without errors is ever compiled. Values from the file are frozen
(:func:`yaml2dag.format.frozen.freeze`): the model is immutable all the way down.

Nothing here imports Dagster.
"""

from __future__ import annotations

from typing import Any, Mapping

from yaml2dag.format.assets import build_assets, build_deps
from yaml2dag.format.durations import parse_duration
from yaml2dag.format.frozen import FrozenDict, freeze
from yaml2dag.format.model import (
    EXECUTOR_TYPES,
    MISSING,
    ON_ERROR,
    PARAMETER_TYPES,
    Branch,
    Concurrency,
    DocPath,
    Entry,
    ExecutorConfig,
    ParallelGroup,
    Parameter,
    RetryConfig,
    Source,
    Step,
    StepBody,
    SubWorkflow,
    Switch,
    Trigger,
    Workflow,
    infer_type,
    slugify,
)


def _str(value: Any, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _int(value: Any, default: int | None = None) -> int | None:
    """An integer field: ints, and whole floats (``2.0``) as the ints they equal, since JSON
    Schema counts them as integers and the schema accepted them (the validator refuses whole
    floats outside 64 bits, such as ``1.0e+308``, with rule ``limit``)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value if isinstance(value, int) and not isinstance(value, bool) else default


def _duration(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError:
        return None


def _ids(value: Any) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return (value,)
    if isinstance(value, list):
        return tuple(v for v in value if isinstance(v, str))
    return None


def build_retry(data: Any) -> RetryConfig | None:
    if not isinstance(data, dict):
        return None
    backoff = data.get("backoff", "constant")
    return RetryConfig(
        max_attempts=max(1, _int(data.get("max_attempts"), 3) or 1),
        backoff=backoff if backoff in ("constant", "linear", "exponential") else "constant",
        delay=_duration(data.get("delay", 1)) or 0.0,
        max_delay=_duration(data.get("max_delay", 300)) or 300.0,
        jitter=bool(data.get("jitter", False)),
    )


def build_body(data: Any, path: DocPath) -> StepBody | None:
    if not isinstance(data, dict):
        return None
    params = data.get("parameters")
    return StepBody(
        tool=_str(data.get("tool")),
        action=data.get("action") if isinstance(data.get("action"), str) else None,
        parameters=freeze(params) if isinstance(params, dict) else FrozenDict(),
        name=_str(data.get("name")),
        description=_str(data.get("description")),
        timeout=_duration(data.get("timeout")),
        path=path,
    )


def entry_kind(data: Mapping[str, Any]) -> str:
    """Which kind of entry a step-list item is: step, parallel, branch, switch or workflow."""
    if "parallel" in data:
        return "parallel"
    if "switch" in data:
        return "switch"
    if "then" in data or "else" in data:
        return "branch"
    if "workflow" in data:
        return "workflow"
    return "step"


def _condition(data: Mapping[str, Any]) -> Any:
    if "when" in data:
        return data["when"]
    return data.get("if")


def _when_key(data: Mapping[str, Any], default: str = "when") -> str:
    return "when" if "when" in data else "if" if "if" in data else default


def _depends_key(data: Mapping[str, Any]) -> str:
    return "needs" if "needs" in data and "depends_on" not in data else "depends_on"


def _build_step(data: dict, path: DocPath, defaults: Mapping[str, Any]) -> Step:
    merged = dict(defaults)
    merged.update(data)
    on_error = merged.get("on_error")
    if on_error == "log_and_continue":
        on_error = "continue"
    retry = build_retry(merged.get("retry"))
    if on_error is None:
        # a `fallback` or `retry` block with on_error unset implies that strategy (spec §4)
        on_error = "fallback" if isinstance(merged.get("fallback"), dict) else "retry" if retry else "abort"
    if on_error not in ON_ERROR:
        on_error = "abort"
    if on_error == "retry" and retry is None:
        retry = RetryConfig()
    params = merged.get("parameters")
    return Step(
        id=_str(data.get("id")),
        tool=_str(merged.get("tool")),
        action=merged.get("action") if isinstance(merged.get("action"), str) else None,
        parameters=freeze(params) if isinstance(params, dict) else FrozenDict(),
        name=_str(data.get("name")),
        description=_str(data.get("description")),
        depends_on=_ids(data.get("depends_on", data.get("needs"))),
        when=freeze(_condition(data)),
        on_error=on_error,
        retry=retry,
        fallback=build_body(merged.get("fallback"), path + (("fallback",) if "fallback" in data else ())),
        timeout=_duration(merged.get("timeout")),
        for_each=freeze(data.get("for_each")),
        max_parallel=_int(data.get("max_parallel")),
        pool=merged.get("pool") if isinstance(merged.get("pool"), str) else None,
        compensate=build_body(data.get("compensate"), path + ("compensate",)),
        confirm=data.get("confirm") is True,
        path=path,
        when_key=_when_key(data),
        depends_key=_depends_key(data),
        assets=build_assets(data.get("assets"), path),
        deps=build_deps(data.get("deps")),
    )


def build_entries(items: Any, path: DocPath, defaults: Mapping[str, Any]) -> tuple[Entry, ...]:
    """Build the entries of a step list; non-mapping items are skipped (the schema reports them)."""
    if not isinstance(items, list):
        return ()
    out: list[Entry] = []
    for i, data in enumerate(items):
        if not isinstance(data, dict):
            continue
        out.append(build_entry(data, path + (i,), defaults))
    return tuple(out)


def build_entry(data: dict, path: DocPath, defaults: Mapping[str, Any]) -> Entry:
    kind = entry_kind(data)
    common = dict(
        name=_str(data.get("name")),
        description=_str(data.get("description")),
        depends_on=_ids(data.get("depends_on", data.get("needs"))),
        path=path,
        depends_key=_depends_key(data),
    )
    if kind == "parallel":
        return ParallelGroup(
            entries=build_entries(data.get("parallel"), path + ("parallel",), defaults),
            id=data.get("id") if isinstance(data.get("id"), str) else None,
            max_parallel=_int(data.get("max_parallel")),
            **common,
        )
    if kind == "branch":
        return Branch(
            id=_str(data.get("id")),
            condition=freeze(_condition(data)),
            then=build_entries(data.get("then"), path + ("then",), defaults),
            else_=build_entries(data.get("else"), path + ("else",), defaults),
            when_key=_when_key(data, "if"),
            **common,
        )
    if kind == "switch":
        cases_data = data.get("cases") if isinstance(data.get("cases"), dict) else {}
        cases = tuple(
            (str(key), build_entries(items, path + ("cases", key), defaults))
            for key, items in cases_data.items()
        )
        return Switch(
            id=_str(data.get("id")),
            expression=freeze(data.get("switch")),
            cases=cases,
            default=build_entries(data.get("default"), path + ("default",), defaults)
            if "default" in data else None,
            **common,
        )
    if kind == "workflow":
        params = data.get("parameters")
        return SubWorkflow(
            id=_str(data.get("id")),
            workflow=_str(data.get("workflow")),
            parameters=freeze(params) if isinstance(params, dict) else FrozenDict(),
            when=freeze(_condition(data)),
            when_key=_when_key(data),
            confirm=data.get("confirm") is True,
            **common,
        )
    return _build_step(data, path, defaults)


def build_parameter(name: str, data: Any, path: DocPath) -> Parameter:
    if not isinstance(data, dict):
        return Parameter(name=name, type=infer_type(data), default=data, path=path)
    default = data.get("default", MISSING)
    ptype = data.get("type")
    if ptype not in PARAMETER_TYPES:
        ptype = infer_type(default) if default is not MISSING else "string"
    if ptype == "integer" and isinstance(default, float) and default.is_integer():
        default = int(default)  # `default: 3.0`: the value check_value accepts, and Dagster's Int needs
    items = data.get("items") if isinstance(data.get("items"), dict) else {}
    enum = data.get("enum")
    num = lambda v: v if isinstance(v, (int, float)) and not isinstance(v, bool) else None  # noqa: E731
    return Parameter(
        name=name,
        type=ptype,
        default=default,
        description=_str(data.get("description")),
        enum=tuple(enum) if isinstance(enum, list) else None,
        minimum=num(data.get("minimum")),
        maximum=num(data.get("maximum")),
        pattern=data.get("pattern") if isinstance(data.get("pattern"), str) else None,
        items_type=items.get("type") if items.get("type") in PARAMETER_TYPES else None,
        path=path,
    )


_TRIGGER_COMMON = ("type", "name", "description", "parameters", "enabled")


def build_trigger(data: Any, path: DocPath) -> Trigger | None:
    if not isinstance(data, dict) or not isinstance(data.get("type"), str):
        return None
    params = data.get("parameters")
    return Trigger(
        type=data["type"],
        name=data.get("name") if isinstance(data.get("name"), str) else None,
        description=_str(data.get("description")),
        parameters=freeze(params) if isinstance(params, dict) else FrozenDict(),
        enabled=bool(data.get("enabled", True)),
        options=freeze({k: v for k, v in data.items() if k not in _TRIGGER_COMMON}),
        path=path,
    )


def build_workflow(data: Any, file: str = "<string>", content_hash: str = "") -> Workflow:
    """Build the model from a parsed document (see the module docstring on leniency).

    Args:
        data: the document's plain value (normally a mapping).
        file: the file name, kept in :attr:`Workflow.source`.
        content_hash: SHA-256 of the file's bytes.

    Returns:
        The :class:`Workflow`; a non-mapping document gives an empty, nameless workflow.
    """
    if not isinstance(data, dict):
        data = {}
    name = _str(data.get("name"))
    wid = data.get("id") if isinstance(data.get("id"), str) else slugify(name) if name else ""
    defaults = data.get("defaults") if isinstance(data.get("defaults"), dict) else {}
    params_data = data.get("parameters") if isinstance(data.get("parameters"), dict) else {}
    parameters = tuple(
        build_parameter(str(pname), pdata, ("parameters", pname)) for pname, pdata in params_data.items()
    )
    triggers_data = data.get("triggers")
    if isinstance(triggers_data, list):
        triggers = tuple(
            t for i, item in enumerate(triggers_data) if (t := build_trigger(item, ("triggers", i)))
        )
    else:
        triggers = (Trigger("manual"),)
    conc = data.get("concurrency")
    concurrency = None
    if isinstance(conc, dict) and _int(conc.get("limit")):
        concurrency = Concurrency(limit=_int(conc.get("limit")), key=_str(conc.get("key")) or None)
    executor_data = data.get("executor") if isinstance(data.get("executor"), dict) else {}
    explicit = executor_data.get("type") in EXECUTOR_TYPES
    executor = ExecutorConfig(
        type=executor_data["type"] if explicit else "threads",
        max_parallel=_int(executor_data.get("max_parallel")),
        explicit=explicit,
    )
    outputs = data.get("outputs") if isinstance(data.get("outputs"), dict) else {}
    labels = data.get("labels") if isinstance(data.get("labels"), dict) else {}
    tags = data.get("tags") if isinstance(data.get("tags"), list) else []
    return Workflow(
        name=name,
        id=wid,
        steps=build_entries(data.get("steps"), ("steps",), defaults),
        version=_str(data.get("version"), "1.0.0") or "1.0.0",
        description=_str(data.get("description")),
        author=_str(data.get("author")),
        tags=tuple(t for t in tags if isinstance(t, str)),
        labels=FrozenDict({str(k): v for k, v in labels.items() if isinstance(v, str)}),
        parameters=parameters,
        triggers=triggers,
        defaults=freeze(defaults),
        outputs=freeze(outputs),
        on_failure=build_entries(data.get("on_failure"), ("on_failure",), defaults),
        timeout=_duration(data.get("timeout")),
        concurrency=concurrency,
        priority=_int(data.get("priority")),
        executor=executor,
        dag=data.get("dag") is True,
        source=Source(file=file, content_hash=content_hash),
    )
