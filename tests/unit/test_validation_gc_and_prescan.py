"""The two shortcuts that keep validating a large file near 1 s per 10,000 steps stay sound:
the collector pause restores the collector's state, and the character bound that lets the step
prescan be skipped is never below the number of mappings YAML builds."""

from __future__ import annotations

import gc
import random
import threading
from pathlib import Path

import yaml

from yaml2dag.format import limits
from yaml2dag.format.gc_pause import gc_paused
from yaml2dag.format.validation import validate_text

ROOT = Path(__file__).resolve().parents[2]


def _mappings(text: str) -> int:
    return sum(isinstance(e, yaml.MappingStartEvent) for e in yaml.parse(text, Loader=yaml.SafeLoader))


def _corpus() -> list[str]:
    files = sorted((ROOT / "definitions").glob("*.yaml")) + sorted((ROOT / "yaml2dag/library/workflow_templates").rglob("*.yaml"))
    texts = [f.read_text() for f in files]
    texts += [
        "steps: [a: 1, b: 2, {c: 3}, {}, ? d]\n",           # single-pair mappings in a flow sequence, an empty one, an explicit key
        "steps:\n- ? a\n- ? b\n  : c\n- {}\n",              # explicit keys without a value indicator
        "a: &x {b: 1}\nsteps: [*x, *x, *x]\n",              # aliases build no mapping of their own
        "steps:\n  - !!map {}\n  - !!map\n    k: v\n",       # tagged mappings
    ]
    return texts


def test_mapping_bound_is_never_below_the_mappings_yaml_builds():
    rng = random.Random(7)
    checked = 0
    for text in _corpus():
        variants = [text]
        for _ in range(20):  # seeded mutations: drop, duplicate or swap characters
            chars = list(text)
            for _ in range(rng.randint(1, 5)):
                i = rng.randrange(len(chars))
                op = rng.choice(("drop", "dup", "swap"))
                if op == "drop":
                    del chars[i]
                elif op == "dup":
                    chars.insert(i, chars[i])
                elif i + 1 < len(chars):
                    chars[i], chars[i + 1] = chars[i + 1], chars[i]
            variants.append("".join(chars))
        for variant in variants:
            try:
                count = _mappings(variant)
            except yaml.YAMLError:
                continue
            assert limits._mapping_bound(variant) >= count, variant
            checked += 1
    assert checked > 100


def test_prescan_skipped_below_the_bound_and_still_refuses_above(monkeypatch):
    text = "name: S\nsteps:\n" + "".join(f"  - {{id: s{i}, tool: shell, parameters: {{command: x}}}}\n" for i in range(51))
    bound = limits._mapping_bound(text)
    calls = []
    real_parse = yaml.parse
    monkeypatch.setattr(yaml, "parse", lambda *a, **k: calls.append(1) or real_parse(*a, **k))
    assert limits.too_many_steps(text, bound) is None and calls == []  # decided by the character count alone
    assert limits.too_many_steps(text, 50) == (2, 1) and calls == [1]  # 51 entries: read and refused


def test_gc_pause_restores_the_collector_and_nests():
    assert gc.isenabled()
    with gc_paused():
        assert not gc.isenabled()
        with gc_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()
    gc.disable()
    try:
        with gc_paused():
            pass
        assert not gc.isenabled()  # a collector the application disabled stays disabled
    finally:
        gc.enable()


def test_gc_pause_restores_after_an_exception_and_across_threads():
    try:
        with gc_paused():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()
    inside = threading.Event()
    release = threading.Event()

    def other():
        with gc_paused():
            inside.set()
            assert release.wait(30)

    thread = threading.Thread(target=other)
    thread.start()
    assert inside.wait(30)
    with gc_paused():
        pass
    assert not gc.isenabled()  # the other thread's pause is still open
    release.set()
    thread.join(30)
    assert not thread.is_alive()
    assert gc.isenabled()


def test_validation_leaves_the_collector_enabled_even_on_bad_input():
    assert not validate_text("steps: [\n").valid
    assert validate_text("name: x\nsteps:\n  - id: a\n    tool: shell\n    parameters: {command: echo}\n").valid
    assert gc.isenabled()
