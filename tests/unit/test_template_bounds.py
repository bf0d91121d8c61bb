"""Issue 10 point 6: templates are bounded in size and time, read step results as data only,
and read `env` one variable at a time (the sandbox, without Dagster)."""

from __future__ import annotations

import datetime
import os
import random
import resource
import threading
import time
from collections import namedtuple
from pathlib import Path

import pytest

from yaml2dag.compiler.runtime import EnvMapping, within_step_time
from yaml2dag.format.errors import TemplateError
from yaml2dag.format.expression_bounds import MAX_INT_DIGITS, MAX_RANGE, MAX_TEXT, weight
from yaml2dag.format.expressions import static_problems_of
from yaml2dag.format.expressions import ENV, evaluate, render_string
from yaml2dag.tools.base import StepTimeoutError, ToolContext, ToolError
from yaml2dag.format.validation import validate_text

#: Growth of this process's peak RSS allowed while every attack below is refused: far below
#: what any of them would take if it ran (2.5 GB and up).
RSS_GROWTH_BOUND_MB = 300


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


#: (template, what the refusal says); the scope has n = 10**8, big = 2_500_000_000, w = 10**9.
ATTACKS = [
    ("{{ (3 ** n) > 1 }}", "would make about 47,712,125 digits"),
    ("{{ 3 ** (10 ** 8) }}", "digits"),
    ("{{ (2 ** 20000) * (2 ** 20000) }}", "digits"),
    ("{{ ('a' * big) | length }}", "repeating a text 2,500,000,000 times"),
    ("{{ (big * 'a') | length }}", "repeating a text"),
    ("{{ ([1] * big) | length }}", "repeating a list"),
    ("{{ [['a' * 10000] * 1000] * 1000 }}", "repeating a list 1,000 times"),
    ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}x", "`~`"),
    ("{% set ns = namespace(s='ab') %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}x", "`+`"),
    ("{% set ns = namespace(s=['ab']) %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}{% endfor %}x", "`+`"),
    ("{{ '%0*d' % (w, 1) }}", "formatting with `%`"),
    ("{{ '%0999999999d' % 1 }}", "formatting with `%`"),
    ("{{ '%0999999999d' | format(1) }}", "formatting with `%`"),
    ("{{ '{:>999999999}'.format(1) }}", "`format`"),
    ("{{ '{:>{}}'.format(1, w) }}", "`format`"),
    ("{{ '{x:>999999999}'.format_map({'x': 1}) }}", "`format`"),
    ("{{ 'a'.center(w) }}", "`.center()`"),
    ("{{ 'a'.ljust(w) }}", "`.ljust()`"),
    ("{{ 'a'.rjust(w) }}", "`.rjust()`"),
    ("{{ 'a'.zfill(w) }}", "`.zfill()`"),
    ("{{ ('\t' * 1000).expandtabs(w) }}", "`.expandtabs()`"),
    ("{{ ('a' * 100000).replace('', 'x' * 1000) }}", "`.replace()`"),
    ("{{ ('x' * 1000).join(['a' * 1000] * 9000) }}", "`.join()`"),
    ("{{ ('a' * 1000).translate({97: 'x' * 100000}) }}", "`.translate()`"),
    ("{{ 'a' | center(w) }}", "`center`"),
    ("{{ ('a\n' * 10000) | indent(10000) }}", "`indent`"),
    ("{{ 'a' | indent('x' * 1000000) | length }}{{ ('a\n' * 100) | indent('x' * 1000000) }}", "`indent`"),
    ("{{ ('a' * 1000000) | wordwrap(1, true, 'x' * 100) }}", "`wordwrap`"),
    ("{{ (['a' * 1000000] * 9) | join('x' * 1000000) }}", "`join`"),
    ("{{ (['a' * 1000] * 1000) | join('x' * 100000) }}", "`join`"),
    ("{{ ('a' * 100000) | replace('', 'x' * 1000) }}", "`replace`"),
    ("{{ [1] | batch(w, 0) | list }}", "`batch`"),
    ("{{ [1] | slice(w) | list }}", "`slice`"),
    ("{{ [['a' * 10000] * 1000] * 1000 | string }}", "repeating a list"),
    ("{% set a = ['a' * 10000] * 100 %}{% set b = [a, a, a, a, a, a, a, a, a, a, a] %}{{ b | tojson }}",
     "printing this value"),
    ("{% set a = ['a' * 10000] * 100 %}{% set b = [a, a, a, a, a, a, a, a, a, a, a] %}{{ b }}", "printing this value"),
    ("{% set a = ['a' * 10000] * 100 %}{% set b = [a, a, a, a, a, a, a, a, a, a, a] %}{{ b | pprint }}",
     "printing this value"),
    ("{% set a = ['a' * 10000] * 100 %}{% set b = [a, a, a, a, a, a, a, a, a, a, a] %}{{ b | string }}",
     "printing this value"),
    ("{% set a = ['a' * 10000] * 100 %}{% set b = [a, a, a, a, a, a, a, a, a, a, a] %}{{ 'x' ~ b }}", "`~`"),
    ("{% set a = 'a' * 5000000 %}{% for i in range(3) %}{{ a }}{% endfor %}", "the rendered text"),
    ("{% macro m() %}{% for i in range(100) %}{{ 'a' * 1000000 }}{% endfor %}{% endmacro %}{{ m() | length }}",
     "the rendered text"),
    ("{{ range(10 ** 9) | list }}", "MAX_RANGE"),
    ("{{ lipsum(w) }}", "'lipsum' is undefined"),
]

SCOPE = {"n": 10 ** 8, "big": 2_500_000_000, "w": 10 ** 9}


@pytest.mark.parametrize("template, phrase", ATTACKS, ids=[a[0][:50] for a in ATTACKS])
def test_each_attack_is_refused_before_it_allocates(template, phrase):
    before = _peak_mb()
    with pytest.raises(TemplateError) as caught:
        render_string(template, SCOPE)
    assert phrase in str(caught.value)
    assert _peak_mb() - before < RSS_GROWTH_BOUND_MB


@pytest.mark.parametrize("template, expected", [
    ("{{ 2 ** 10 }}", 1024),
    ("{{ 10 ** 4299 > 1 }}", True),
    ("{{ (-2) ** 3 }}", -8),
    ("{{ 2 ** -1 }}", 0.5),
    ("{{ 1 ** (10 ** 100) }}", 1),
    ("{{ 'ab' * 3 }}", "ababab"),
    ("{{ [1, 2] * 2 }}", [1, 2, 1, 2]),
    ("{{ ('a' * 1000000) | length }}", 1000000),
    ("{{ 'a' ~ 1 ~ [1] }}", "a1[1]"),
    ("{{ [1] + [2] }}", [1, 2]),
    ("{{ '%05.1f|%s' % (3.14159, 'x') }}", "003.1|x"),
    ("{{ '%s-%s' | format(1, 2) }}", "1-2"),
    ("{{ '{:>5}'.format('a') }}", "    a"),
    ("{{ 'a'.center(5, '*') }}", "**a**"),
    ("{{ 'x\ny' | indent(2, true) }}", "  x\n  y"),
    ("{{ 'a b c' | wordwrap(1) }}", "a\nb\nc"),
    ("{{ [1, 2, 3] | join('-') }}", "1-2-3"),
    ("{{ [1, 2, 3, 4] | batch(3, 0) | list }}", [[1, 2, 3], [4, 0, 0]]),
    ("{{ [[1], [2]] | sum(start=[]) }}", [1, 2]),
    ("{{ [1, 2] | sum }}", 3),
    ("{{ range(100000) | length }}", MAX_RANGE),
    ("{{ -n }}", -(10 ** 8)),
    ("{{ 'a,b'.split(',') | join('+') }}", "a+b"),
])
def test_ordinary_operations_still_work(template, expected):
    assert render_string(template, SCOPE) == expected


def test_the_bounds_are_the_documented_numbers():
    assert MAX_INT_DIGITS == 4300 and MAX_TEXT == 10_000_000 and MAX_RANGE == 100_000
    assert "lipsum" not in ENV.globals
    assert weight(["ab"] * 3) == 2 + 3 + 6
    shared = ["x" * 1000] * 1000
    assert weight([shared] * 1000, limit=MAX_TEXT) > MAX_TEXT  # counts shared elements each time
    loop: list = []
    loop.append(loop)
    assert weight(loop, limit=1000) > 1000  # a list that holds itself: stops at the limit


def test_property_random_growth_is_refused_or_small():
    """Seeded random nestings of every growing operation with small and huge sizes: each either
    renders a text within the bound or is refused; the process's peak memory stays bounded."""
    rng = random.Random(606)
    sizes = ["1", "3", "1000", "100000", "10000000", "1000000000", "n", "big", "w"]
    unary = ["({x}) * {k}", "{k} * ({x})", "({x}) ~ ({x})", "({x}) + ({x})", "({x}).center({k})",
             "({x}) | center({k})", "({x}) | indent({k})", "({x}).ljust({k})", "({x}).zfill({k})",
             "({x}).replace('a', ({x}))", "[({x})] * {k}", "[({x}), ({x})] | join({x})", "'%0{k}d' % 1",
             "'{{:>{k}}}'.format({x})", "({x}) | wordwrap(1, true, ({x}))", "[({x})] | sum(start=[]) | string",
             "({x}) | tojson", "({x}) | format()", "{k} ** {k}", "({x}) | list | join"]
    before = _peak_mb()
    outcomes = {"rendered": 0, "refused": 0}
    for _ in range(600):
        expr = "'a'"
        for _depth in range(rng.randint(1, 4)):
            expr = rng.choice(unary).format(x=expr, k=rng.choice(sizes))
        try:
            out = render_string("{{ " + expr + " }}x", SCOPE)
        except TemplateError:
            outcomes["refused"] += 1
            continue
        outcomes["rendered"] += 1
        assert len(out) <= MAX_TEXT + 1, expr
    assert outcomes["rendered"] > 50 and outcomes["refused"] > 50, outcomes
    assert _peak_mb() - before < RSS_GROWTH_BOUND_MB


# --------------------------------------------------------------------------- data only


class Client:
    """Stands for any object a step may return (an API client, a file handle...)."""

    def __init__(self, log: list):
        self.name = "client"
        self.log = log

    def delete_everything(self) -> str:
        self.log.append("deleted")
        return "done"

    def __getitem__(self, key):
        self.log.append(f"item {key}")
        return key

    def __str__(self) -> str:
        return "<client>"


class EvilDict(dict):
    def wipe(self) -> str:
        return "wiped"


def test_a_path_a_step_returned_cannot_act_on_files(tmp_path):
    target = tmp_path / "owned"
    scope = {"x": {"output": target, "outputs": [target], "by_name": {"p": target}}}
    for template in ["{{ x.output.write_text('owned') }}", "{{ x.outputs[0].write_text('owned') }}",
                     "{{ x.by_name.p.write_text('owned') }}", "{{ (x.output | attr('write_text'))('owned') }}",
                     "{{ x.output.touch() }}", "{{ x.output.parent.mkdir() }}", "{{ x.output.name }}",
                     "{{ x.output['a'] }}"]:
        with pytest.raises(TemplateError, match="of a PosixPath is not allowed in templates"):
            render_string(template, scope)
    mapped = render_string("{{ [x.output] | map(attribute='touch') | list }}", scope)
    assert [type(v).__name__ for v in mapped] == ["StrictUndefined"]  # no method was handed out
    assert list(tmp_path.iterdir()) == []
    assert render_string("{{ x.output }}", scope) == target  # the value itself passes as data
    assert render_string("path: {{ x.output }}", scope) == f"path: {target}"


def test_only_data_exposes_attributes_items_and_methods():
    log: list = []
    scope = {"c": Client(log), "f": lambda: log.append("called"), "d": EvilDict(a=1),
             "row": namedtuple("Row", "city temp")("Oslo", 3), "when": datetime.datetime(2026, 1, 2, 3, 4)}
    for template in ["{{ c.delete_everything() }}", "{{ c.name }}", "{{ c['x'] }}", "{{ f() }}", "{{ d.wipe() }}",
                     "{{ c.log }}"]:
        with pytest.raises(TemplateError, match="not allowed in templates|unsafe"):
            render_string(template, scope)
    assert log == []
    assert render_string("{{ c }}", scope) is scope["c"] and render_string("{{ c }}!", scope) == "<client>!"
    assert render_string("{{ d.a }} {{ d.items() | list }} {{ d.get('a') }}", scope) == '1 [["a", 1]] 1'
    assert render_string("{{ row.city }} {{ row.temp }} {{ row.count(3) }}", scope) == "Oslo 3 1"
    assert render_string("{{ when.strftime('%Y') }} {{ when.date().isoformat() }} {{ when.year }}", scope) \
        == "2026 2026-01-02 2026"
    assert render_string("{{ 'AbC'.lower() }} {{ (1.5).is_integer() }} {{ [3, 1] | sort }}", scope) \
        == "abc false [1, 3]"
    assert render_string("{% for i in range(3) %}{{ loop.cycle('a', 'b') }}{% endfor %}", scope) == "aba"
    assert render_string("{% set ns = namespace(k=1) %}{% set ns.k = ns.k + 1 %}{{ ns.k }}", scope) == "2"
    assert render_string("{% macro m(x) %}<{{ x }}>{% endmacro %}{{ m(1) }}{{ dict(a=1) }}", scope) \
        == '<1>{"a": 1}'
    assert render_string("{% set j = joiner(',') %}{% for i in [1, 2] %}{{ j() }}{{ i }}{% endfor %}", scope) \
        == "1,2"


def test_env_reads_one_variable_at_a_time(monkeypatch):
    monkeypatch.setenv("Y2D_PROBE", "value")
    scope = {"env": EnvMapping()}
    assert render_string("{{ env.Y2D_PROBE }} {{ env['Y2D_PROBE'] }} {{ env.get('Y2D_NOPE', 'd') }}", scope) \
        == "value value d"
    assert render_string("{{ 'Y2D_PROBE' in env }} {{ 'Y2D_NOPE' in env }}", scope) == "true false"
    assert render_string("{{ env.Y2D_NOPE | default('x') }}", scope) == "x"
    for template in ["{{ env | list }}", "{{ env | length }}", "{{ env | tojson }}", "{{ env | dictsort }}",
                     "{% for k in env %}{{ k }}{% endfor %}", "{{ env }}", "x{{ env }}", "{{ env | string }}",
                     "{{ env | first }}", "{{ env | join(',') }}"]:
        with pytest.raises(TemplateError, match="`env` can only be read one variable at a time"):
            render_string(template, scope)
    for template in ["{{ env.items() }}", "{{ env.keys() }}", "{{ env.values() }}", "{{ env._lookup }}",
                     "{{ env | items | list }}"]:
        with pytest.raises(TemplateError):
            render_string(template, scope)
    with pytest.raises(TemplateError, match="`env` can only be read"):
        evaluate("env", scope)


@pytest.mark.parametrize("template, phrase", [
    ("{{ env | list }}", "`env` can only be read one variable at a time"),
    ("{% for k in env %}{{ k }}{% endfor %}", "`env` can only be read"),
    ("{{ env.items() }}", "`env.items()`"),
    ("{{ env.keys() | list }}", "`env.keys()`"),
    ("{{ env | length }}", "`env` can only be read"),
    ("{% set e = env %}{{ e.HOME }}", "`env` can only be read"),
    ("{{ (3 ** (10 ** 8)) > 1 }}", "`3 ** 100000000` would make about 47,712,125 digits"),
    ("{{ ('a' * 2500000000) | length }}", "repeating a text 2,500,000,000 times"),
    ("{{ range(10 ** 9) | list }}", "`range` would give 1,000,000,000 numbers"),
    ("{{ x | center(10 ** 9) }}", "`center(1000000000)`"),
    ("{{ 'a'.ljust(10 ** 8) }}", "`.ljust()`"),
    ("{{ [1] | slice(10 ** 6) }}", "`slice(1000000)`"),
    ("line one\n{{ '%0999999999d' % 1 }}", "(line 2)"),
])
def test_the_validator_sees_constant_attacks_and_env_listing(template, phrase):
    messages = static_problems_of(template)
    assert any(phrase in m for m in messages), messages
    text = "name: s\nsteps:\n  - id: a\n    tool: notify\n    parameters:\n      message: " + \
           __import__("json").dumps(template) + "\n"
    assert any(p.rule == "sandbox" and phrase.split(" (line")[0] in p.message
               for p in validate_text(text, "wf.yaml").problems), validate_text(text, "wf.yaml").problems


@pytest.mark.parametrize("template", [
    "{{ env.HOME }}", "{{ env['HOME'] }}", "{{ env.get('HOME', 'x') }}", "{% if 'HOME' in env %}y{% endif %}",
    "{{ env.items }}", "{{ 2 ** 64 }}", "{{ 'a' * 10 }}", "{{ x * 10 ** 9 }}", "{{ range(10) | list }}",
    "{{ x | center(80) }}", "{% set env2 = 1 %}{{ env2 }}",
])
def test_the_validator_leaves_ordinary_templates_alone(template):
    assert static_problems_of(template) == ()


def test_shipped_workflows_have_no_sandbox_problems():
    root = Path(__file__).resolve().parents[2]
    files = list((root / "yaml2dag" / "workflow_templates").glob("*.yaml")) + list((root / "definitions").glob("*.yaml"))
    assert files
    for path in files:
        problems = [p for p in validate_text(path.read_text(), str(path)).problems if p.rule in ("sandbox", "shell")]
        assert problems == [], problems


# --------------------------------------------------------------------------- time


def _spin(stop: threading.Event) -> str:
    """Python-level work that only ends when told (or after 120 s, so a broken test ends)."""
    end = time.monotonic() + 120
    while not stop.is_set() and time.monotonic() < end:
        pass
    return "finished"


def test_a_long_render_is_stopped_at_the_step_timeout():
    ctx = ToolContext("s", timeout=0.5)
    stop = threading.Event()
    try:
        with pytest.raises(StepTimeoutError, match="timed out after 0.5s while rendering its parameters"):
            within_step_time(lambda: _spin(stop), ctx)
    finally:
        stop.set()


def test_a_long_template_render_is_interrupted():
    ctx = ToolContext("s", timeout=0.5)
    template = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}done"
    with pytest.raises(StepTimeoutError):
        within_step_time(lambda: render_string(template, {}), ctx)


def test_a_cancelled_step_stops_rendering():
    ctx = ToolContext("s")
    stop = threading.Event()
    threading.Timer(0.3, ctx.cancel, args=("the run exceeded its timeout of 1s",)).start()
    try:
        with pytest.raises(ToolError, match="stopped while rendering its parameters: the run exceeded its timeout"):
            within_step_time(lambda: _spin(stop), ctx)
    finally:
        stop.set()


def test_a_quick_render_returns_its_value_and_errors():
    ctx = ToolContext("s", timeout=30)
    assert within_step_time(lambda: render_string("{{ 1 + 1 }}", {}), ctx) == 2
    with pytest.raises(TemplateError, match="blocked by the template sandbox"):
        within_step_time(lambda: render_string("{{ 'a' * 10 ** 10 }}", {}), ctx)
    assert threading.active_count() < 50  # helper threads end with their render


def test_recursion_in_a_template_is_a_template_error():
    with pytest.raises(TemplateError, match="RecursionError"):
        render_string("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", {})


def test_os_environ_is_untouched_by_env_reads():
    before = dict(os.environ)
    render_string("{{ env.get('HOME') }}", {"env": EnvMapping()})
    assert dict(os.environ) == before
