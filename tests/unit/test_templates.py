"""Templates: native values, text rendering, the sandbox, reference analysis, shell quoting.

The shell tests render a command and run it with a real ``bash -c`` (bounded), asserting the
value arrives as one literal word. Hostile payloads that would run only ever ``touch`` a file
in the test's temporary folder.
"""

from __future__ import annotations

import shutil
import os
import subprocess

import pytest

from yaml2dag.format.errors import TemplateError
from yaml2dag.format.expressions import (
    Reference,
    analyze,
    evaluate,
    is_template,
    render_string,
    render_value,
    truthy,
    whole_expression,
)

SCOPE = {
    "n": 3,
    "x": None,
    "yes": True,
    "no": False,
    "items": [1, "a"],
    "mapping": {"k": 1, "items": "field"},
    "name": "bob",
    "steps": {"build": {"output": "built", "exit_code": 0}},
    "build": {"output": "built", "exit_code": 0},
}


# --------------------------------------------------------------------------- native and text


@pytest.mark.parametrize("template, expected", [
    ("{{ n }}", 3),
    ("  {{ n }}  ", 3),
    ("{{ x }}", None),
    ("{{ yes }}", True),
    ("{{ items }}", [1, "a"]),
    ("{{ mapping }}", {"k": 1, "items": "field"}),
    ("{{ n * 2 + 1 }}", 7),
    ("{{ mapping.k }}", 1),
    ("{{ mapping['k'] }}", 1),
    ("{{ build.exit_code == 0 }}", True),
])
def test_a_whole_value_template_keeps_its_native_type(template, expected):
    value = render_string(template, SCOPE)
    assert value == expected and type(value) is type(expected)


@pytest.mark.parametrize("template, expected", [
    ("n={{ n }}", "n=3"),
    ("x={{ x }}", "x="),
    ("{{ yes }}/{{ no }}", "true/false"),
    ("items={{ items }}", 'items=[1, "a"]'),
    ("m={{ mapping }}", 'm={"k": 1, "items": "field"}'),
    ("{{ n }}{{ n }}", "33"),
    ("{% for i in items %}[{{ i }}]{% endfor %}", "[1][a]"),
    ("{{ steps.build.output }} by {{ name }}", "built by bob"),
])
def test_mixed_text_renders_to_a_string(template, expected):
    assert render_string(template, SCOPE) == expected


def test_mapping_keys_win_over_dict_methods():
    assert render_string("{{ mapping.items }}", SCOPE) == "field"


def test_plain_strings_are_returned_untouched():
    assert render_string("no templates here {", SCOPE) == "no templates here {"
    assert render_value({"a": ["{{ n }}", "t{{ n }}"], "b": 5}, SCOPE) == {"a": [3, "t3"], "b": 5}


@pytest.mark.parametrize("template, phrase", [
    ("{{ missing }}", "'missing' is undefined"),
    ("text {{ missing }}", "'missing' is undefined"),
    ("{{ mapping.nope }}", "has no attribute 'nope'"),
    ("{{ build.outptu }}", "has no attribute 'outptu'"),
])
def test_strict_undefined_raises_template_error(template, phrase):
    with pytest.raises(TemplateError) as err:
        render_string(template, SCOPE)
    assert str(err.value).startswith("undefined value:")
    assert phrase in str(err.value)


@pytest.mark.parametrize("template", [
    "{{ n.__class__ }}",
    "{{ ''.__class__.__mro__ }}",
    "{{ cycler.__init__.__globals__ }}",
    "{{ items.append(1) }}",
    "{{ mapping.update({'k': 2}) }}",
])
def test_the_sandbox_blocks_internals_and_mutation(template):
    with pytest.raises(TemplateError) as err:
        render_string(template, SCOPE)
    assert "blocked by the template sandbox" in str(err.value)
    assert SCOPE["items"] == [1, "a"] and SCOPE["mapping"]["k"] == 1


class _FakeFrame:
    """Stands in for a DataFrame without importing pandas: its type lives in a "pandas" module."""

    def __init__(self, log):
        self.log = log
        self.columns = ["temp_max"]
        self.temp_max = [1.5, 3.0]

    def to_csv(self, path_or_buf=None, **kwargs):
        if path_or_buf is not None:
            self.log.append(("to_csv", path_or_buf))
            return None
        return "temp_max\n1.5\n3.0\n"

    def to_pickle(self, path):
        self.log.append(("to_pickle", path))

    def head(self, n=5, **kwargs):
        return self

    def sort_values(self, by, key=None, inplace=False):
        self.log.append(("sort_values", by))
        return self


_FakeFrame.__module__ = "pandas.core.frame"
_FakeFrame.__name__ = "DataFrame"


@pytest.mark.parametrize("template, refused", [
    ("{{ frame.to_csv('/tmp/x.csv') }}", "`.to_csv()` in a template may only return text"),
    ("{{ frame.to_csv(path_or_buf='/tmp/x.csv') }}", "`.to_csv()` in a template may only return text"),
    ("{% set f = frame.to_csv %}{{ f('/tmp/x.csv') }}", "`.to_csv()` in a template may only return text"),
    ("{{ frame.to_pickle('/tmp/x.pkl') }}", "`.to_pickle` of a DataFrame is not allowed in templates"),
    ("{{ (frame | attr('to_pickle'))('/tmp/x.pkl') }}", "`.to_pickle` of a DataFrame is not allowed"),
    ("{{ frame['to_pickle']('/tmp/x.pkl') }}", "`.to_pickle` of a DataFrame is not allowed"),
    ("{{ frame.sort_values('temp_max', key=frame.head) }}", "cannot take a function as an argument"),
    ("{{ frame.sort_values('temp_max', inplace=true) }}", "`.sort_values(inplace=...)` is not allowed"),
    ("{{ frame.log }}", "`.log` of a DataFrame is not allowed in templates"),
    ("{{ frame.__dict__ }}", "is not allowed in templates"),
])
def test_the_sandbox_lets_data_values_only_read(template, refused):
    log: list = []
    with pytest.raises(TemplateError) as err:
        render_string(template, {"frame": _FakeFrame(log)})
    assert str(err.value).startswith("blocked by the template sandbox: ")
    assert refused in str(err.value)
    assert log == []  # nothing was written or sorted


def test_data_values_keep_their_read_only_methods_and_columns():
    frame = _FakeFrame([])
    assert render_string("{{ frame.to_csv() }}", {"frame": frame}) == "temp_max\n1.5\n3.0\n"
    assert render_string("{{ frame.head(1).temp_max }}", {"frame": frame}) == [1.5, 3.0]
    assert render_string("{{ frame.columns }}", {"frame": frame}) == ["temp_max"]


def test_real_frames_read_but_never_write(tmp_path):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"city": ["Seattle", "Portland", "Seattle"], "rain_mm": [10.9, None, 3.2]})
    scope = {"load": {"output": frame}}
    target = tmp_path / "x.csv"
    for template in (f"{{{{ load.output.to_csv('{target}') }}}}", f"{{{{ load.output.rain_mm.to_json('{target}') }}}}",
                     f"{{{{ load.output.to_markdown('{target}') }}}}", f"{{{{ load.output.values.tofile('{target}') }}}}",
                     f"{{{{ load.output.to_parquet('{target}') }}}}", "{{ load.output.eval('rain_mm * 2') }}",
                     "{{ load.output.query('rain_mm > 1') }}", "{{ load.output.rain_mm.apply(load.output.rain_mm.abs) }}",
                     "{{ load.output.style }}", "{{ load.output.plot }}", "{{ load.output.rain_mm.sum().tofile }}",
                     "{{ load.output.dropna(inplace=true) }}"):
        with pytest.raises(TemplateError, match="blocked by the template sandbox"):
            render_string(template, scope)
    assert not target.exists() and len(frame) == 3 and frame.rain_mm.isna().sum() == 1
    assert render_string("{{ load.output | length }}", scope) == 3
    assert render_string("{{ load.output.shape }}", scope) == (3, 2)
    assert render_string("{{ load.output.rain_mm.sum() }}", scope) == pytest.approx(14.1)
    assert render_string("{{ load.output.fillna(0).rain_mm.tolist() }}", scope) == [10.9, 0.0, 3.2]
    assert render_string("{{ load.output.groupby('city').rain_mm.sum().to_dict() }}", scope) == {
        "Portland": 0.0, "Seattle": pytest.approx(14.1)}
    assert render_string("{{ load.output.iloc[0]['city'] }}", scope) == "Seattle"
    assert render_string("{{ load.output.city.str.upper().tolist() }}", scope) == ["SEATTLE", "PORTLAND", "SEATTLE"]
    assert render_string("{% for r in load.output.itertuples() %}{{ r.city[0] }}{% endfor %}", scope) == "SPS"
    assert render_string("{{ load.output.to_csv(index=False) }}", scope).splitlines()[0] == "city,rain_mm"
    assert "| Seattle" in render_string("{{ load.output.to_markdown() }}", scope)


@pytest.mark.parametrize("template, phrase", [
    ("{{ load.output.to_csv('/tmp/x') }}", "`.to_csv()` with a path or buffer would write a file"),
    ("{{ load.output.to_markdown(buf='/tmp/x') }}", "`.to_markdown()` with a path or buffer"),
    ("{{ load.output.to_pickle('/tmp/x') }}", "`.to_pickle()` is not allowed in templates"),
    ("{{ load.output.query('a > 1') }}", "`.query()` is not allowed in templates"),
    ("{% if x %}\n{{ load.output.apply(f) }}{% endif %}", "`.apply()` is not allowed in templates: on a data value "
                                                          "it would write a file or run code"),
])
def test_analysis_reports_forbidden_calls_it_can_see(template, phrase):
    forbidden = analyze(template).forbidden
    assert len(forbidden) == 1 and phrase in forbidden[0]
    assert ("(line 2)" in forbidden[0]) == ("\n" in template)


def test_analysis_allows_reading_calls():
    assert analyze("{{ load.output.to_csv(index=False) }} {{ load.output.head(3).to_markdown() }}").forbidden == ()
    assert analyze("{{ items | map(attribute='name') | join(',') }}").forbidden == ()


def test_runtime_errors_become_template_errors():
    with pytest.raises(TemplateError, match="ZeroDivisionError"):
        render_string("{{ 1 / 0 }}", {})
    with pytest.raises(TemplateError, match="syntax error"):
        render_string("{{ n + }}", SCOPE)


def test_filters_raw_tojson_fromjson():
    assert render_string("{{ mapping | tojson }}", SCOPE) == '{"k": 1, "items": "field"}'
    assert render_string("{{ '[1, 2]' | fromjson }}", {}) == [1, 2]
    assert render_string("{{ n | raw }}", SCOPE) == "3"


def test_evaluate_bare_expressions_templates_and_constants():
    assert evaluate("n > 2 and name == 'bob'", SCOPE) is True
    assert evaluate("{{ n > 5 }}", SCOPE) is False
    assert evaluate(True, SCOPE) is True
    with pytest.raises(TemplateError, match="undefined"):
        evaluate("missing > 1", SCOPE)


@pytest.mark.parametrize("value, expected", [
    ("False", False), (" no ", False), ("0", False), ("", False), ("null", False), ("off", False),
    ("x", True), ("true", True), (0, False), ([], False), ([0], True), (None, False), (1, True),
])
def test_truthy(value, expected):
    assert truthy(value) is expected


def test_is_template_and_whole_expression():
    assert is_template("a {{ b }}") and is_template("{% if a %}x{% endif %}")
    assert not is_template("plain") and not is_template(3)
    assert whole_expression(" {{ a.b }} ") == " a.b "
    assert whole_expression("{{ a }} {{ b }}") is None
    assert whole_expression("x {{ a }}") is None


# --------------------------------------------------------------------------- analysis


def refs(template: str, bare: bool = False) -> list[tuple]:
    return [(r.name, r.attr, r.attr2) for r in analyze(template, bare).references]


def test_analyze_finds_steps_namespace_step_fields_and_params():
    assert refs("{{ steps.build.output }}") == [("steps", "build", "output")]
    assert refs("{{ build.exit_code + params.p }}") == [("build", "exit_code", None), ("params", "p", None)]
    assert refs("{{ x.y }}") == [("x", "y", None)]
    assert refs('{{ d["k"]["j"] }}') == [("d", "k", "j")]


def test_analyze_ignores_loop_and_set_variables():
    assert refs("{% for row in rows %}{{ row.name }}{% endfor %}") == [("rows", None, None)]
    assert refs("{% set z = 1 %}{{ z }}") == []
    assert refs("{{ [1, 2] | map(attribute='q') | list }}") == []


def test_analyze_bare_expressions():
    assert refs("a.b and not c", bare=True) == [("a", "b", None), ("c", None, None)]


def test_analyze_reports_line_numbers_and_raw():
    analysis = analyze("line one\n{{ first }}\n{{ second | raw }}")
    assert analysis.references == (Reference("first", None, None, 2), Reference("second", None, None, 3))
    assert analysis.uses_raw is True
    assert analyze("{{ a }}").uses_raw is False


def test_analyze_syntax_error():
    with pytest.raises(TemplateError, match="template syntax error"):
        analyze("{{ a ")


# --------------------------------------------------------------------------- shell quoting


HOSTILE = ["x; rm -rf /", "$(id)", "`id`", "'\"", "a b\tc", "it's", 'say "hi"', "\\", "--help", "*", "", "x\ny"]


@pytest.mark.parametrize("template, rendered", [
    ("echo {{ v }}", 'echo "${YAML2DAG_V1}"'),
    ('echo "a {{ v }} b"', 'echo "a ${YAML2DAG_V1} b"'),
    ("echo 'a {{ v }} b'", "echo 'a '\"${YAML2DAG_V1}\"' b'"),
    ("echo $'a {{ v }}'", "echo $'a '\"${YAML2DAG_V1}\"$''"),
    ("cat <<EOF\n{{ v }}\nEOF", "cat <<EOF\n${YAML2DAG_V1}\nEOF"),
])
def test_shell_rendering_passes_each_value_in_an_environment_variable(template, rendered):
    command = render_string(template, {"v": "x; rm -rf /"}, shell=True)
    assert command == rendered
    assert command.env == {"YAML2DAG_V1": "x; rm -rf /"}
    assert "rm -rf" not in command


@pytest.fixture
def bash():
    path = shutil.which("bash")
    if path is None:  # pragma: no cover - every supported system has bash
        pytest.skip("bash is not installed")

    def run(command: str, cwd) -> str:
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **getattr(command, "env", {})}
        done = subprocess.run([path, "-c", command], cwd=cwd, env=env, capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        return done.stdout

    return run


@pytest.mark.parametrize("value", HOSTILE)
@pytest.mark.parametrize("template, before, after", [
    ("printf '%s|' {{ v }}", "", ""),
    ("printf '%s|' \"pre {{ v }} post\"", "pre ", " post"),
    ("printf '%s|' 'pre {{ v }} post'", "pre ", " post"),
    ("printf '%s|' pre{{ v }}post", "pre", "post"),
    ("printf '%s|' $'pre {{ v }} post'", "pre ", " post"),
])
def test_hostile_values_arrive_as_one_literal_word(bash, tmp_path, template, before, after, value):
    command = render_string(template, {"v": value}, shell=True)
    assert bash(command, tmp_path) == f"{before}{value}{after}|"


PAYLOADS = ["x; touch pwned1", "$(touch pwned2)", "`touch pwned3`", "'; touch pwned4; '",
            "\"; touch pwned5; \"", "x\ntouch pwned6 #", "x' ; touch pwned7 ; echo '"]


@pytest.mark.parametrize("template, printed", [
    ("printf '%s|' {{ v }}", "{v}|"),
    ("printf '%s|' \"{{ v }}\"", "{v}|"),
    ("printf '%s|' '{{ v }}'", "{v}|"),
    ("# don't stop here\nprintf '%s|' {{ v }}", "{v}|"),
    ("printf '%s|' x # it's a comment {{ v }}\nprintf '%s|' {{ v }}", "x|{v}|"),
    ("x=1;# c'mt\nprintf '%s|' \"{{ v }}\"", "{v}|"),
    ("printf '%s|' $'it\\'s' {{ v }}", "it's|{v}|"),
    ("printf '%s|' \\$'{{ v }}'", "${v}|"),
])
def test_injection_payloads_run_nothing(bash, tmp_path, template, printed):
    for payload in PAYLOADS:
        command = render_string(template, {"v": payload}, shell=True)
        assert bash(command, tmp_path) == printed.format(v=payload)
    assert list(tmp_path.iterdir()) == []


def test_value_inside_a_comment_cannot_end_the_comment(bash, tmp_path):
    command = render_string("# was: echo {{ v }}\nprintf done", {"v": "x\ntouch pwned #"}, shell=True)
    assert "touch" not in command
    assert bash(command, tmp_path) == "done"
    assert not (tmp_path / "pwned").exists()


def test_apostrophe_in_a_comment_does_not_flip_the_quote_state(bash, tmp_path):
    command = render_string("# don't forget\nprintf '%s' {{ v }}", {"v": "x; touch pwned"}, shell=True)
    assert bash(command, tmp_path) == "x; touch pwned"
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("template", ["printf '%s' a#{{ v }}", "printf '%s' {{ v }}#b"])
def test_hash_inside_a_word_is_not_a_comment(bash, tmp_path, template):
    out = bash(render_string(template, {"v": "it's"}, shell=True), tmp_path)
    assert out in ("a#it's", "it's#b")


def test_escaped_quotes_in_the_literal_text_are_tracked(bash, tmp_path):
    command = render_string('printf \'%s|\' "say \\"{{ v }}\\""', {"v": "a b"}, shell=True)
    assert bash(command, tmp_path) == 'say "a b"|'


@pytest.mark.parametrize("template", ["echo \\{{ v }}", 'echo "\\{{ v }}"'])
def test_a_backslash_escaping_the_inserted_value_is_refused(template):
    with pytest.raises(TemplateError, match="a backslash right before"):
        render_string(template, {"v": "x; touch pwned; echo '"}, shell=True)


def test_an_escaped_backslash_before_a_value_is_fine(bash, tmp_path):
    command = render_string("printf '%s' \\\\{{ v }}", {"v": "x; touch pwned"}, shell=True)
    assert bash(command, tmp_path) == "\\x; touch pwned"
    assert list(tmp_path.iterdir()) == []


def test_raw_splices_text_unquoted(bash, tmp_path):
    command = render_string("{{ cmd | raw }}; printf '%s' {{ arg }}", {"cmd": "printf a; printf b", "arg": "c d"},
                            shell=True)
    assert command == "printf a; printf b; printf '%s' \"${YAML2DAG_V1}\""
    assert bash(command, tmp_path) == "abc d"


def test_quote_filter_quotes_a_value_for_a_second_shell(bash, tmp_path):
    command = render_string("bash -c \"printf '%s|' {{ v | quote }}\"", {"v": "x; touch pwned"}, shell=True)
    assert bash(command, tmp_path) == "x; touch pwned|"
    assert list(tmp_path.iterdir()) == []


def test_non_string_values_in_shell_commands():
    rendered = render_string("run {{ n }} {{ x }} {{ yes }} {{ items }}", SCOPE, shell=True)
    assert rendered.env == {"YAML2DAG_V1": "3", "YAML2DAG_V2": "", "YAML2DAG_V3": "true",
                            "YAML2DAG_V4": '[1, "a"]'}


def test_render_value_quotes_only_shell_keys():
    rendered = render_value({"command": "echo {{ v }}", "cwd": "{{ v }}", "env": {"A": "{{ v }}"}},
                            {"v": "a b"}, shell_keys=["command"])
    assert rendered == {"command": 'echo "${YAML2DAG_V1}"', "cwd": "a b", "env": {"A": "a b"}}
    assert rendered["command"].env == {"YAML2DAG_V1": "a b"}


def test_values_inside_a_here_document_run_nothing(bash, tmp_path):
    payload = "$(touch pwned); touch pwned2"
    out = bash(render_string("cat <<EOF\nline {{ v }}\nEOF", {"v": payload}, shell=True), tmp_path)
    assert out == f"line {payload}\n"
    out = bash(render_string("cat >/dev/null <<EOF\nit's\nEOF\nprintf '%s' {{ v }}", {"v": payload}, shell=True),
               tmp_path)
    assert out == payload
    out = bash(render_string("cat <<-EOF\n\tx {{ v }}\n\tEOF\nprintf '%s' {{ v }}", {"v": payload}, shell=True),
               tmp_path)
    assert out == f"x {payload}\n{payload}"
    assert list(tmp_path.iterdir()) == []


def test_arithmetic_shift_is_not_a_here_document(bash, tmp_path):
    out = bash(render_string("printf '%s ' $(( 1 << 2 )) {{ v }}", {"v": "a b"}, shell=True), tmp_path)
    assert out == "4 a b "


def test_a_value_in_a_quoted_here_document_is_refused():
    with pytest.raises(TemplateError, match="quoted here-document"):
        render_string("cat <<'EOF'\n{{ v }}\nEOF", {"v": "x"}, shell=True)
