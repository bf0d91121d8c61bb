"""Issue 10 point 4: a templated value never executes through bash arithmetic.

bash evaluates the *text* of a word in arithmetic (``$(( ))``, ``[[ -gt ]]``, an array index...),
quoted or not, and an array index in that text is expanded again: the value
``a[$(touch MARK)]`` runs ``touch``. Every context below is checked against a real bash: first
that the unchecked rendering (the check switched off) really runs the payload there, so the
table holds only real holes; then that the rendering refuses the payload before any shell
starts, and that a number (or a name) still works.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

from yaml2dag.format import expression_shell_words
from yaml2dag.format.errors import TemplateError
from yaml2dag.format.shell_contexts import ARITH, NAME, SCALAR, analyze_command, is_integer, is_name
from yaml2dag.format.expressions import render_string, shell_analysis
from yaml2dag.format.validation import validate_text

BASH = shutil.which("bash")
pytestmark = pytest.mark.skipif(BASH is None, reason="bash is not installed")

MARK = "MARK"
ARITH_PAYLOAD = f"a[$(touch {MARK})]"
SCALAR_PAYLOAD = f"(1 $(touch {MARK}))"

#: (command with `{{ v }}`, kind, a value that works there, what bash prints with it)
CONTEXTS = [
    ("echo $(( {{ v }} + 1 ))", ARITH, 41, "42"),
    ('echo "$(( {{ v }} + 1 ))"', ARITH, 41, "42"),
    ("(( {{ v }} > 1 )) && echo yes", ARITH, 41, "yes"),
    ("((x = {{ v }} * 2)); echo $x", ARITH, 21, "42"),
    ("echo $[ {{ v }} + 1 ]", ARITH, 41, "42"),
    ('let "y = {{ v }} + 1"; echo $y', ARITH, 41, "42"),
    ("let y={{ v }}+1; echo $y", ARITH, 41, "42"),
    ("builtin let y={{ v }}+1; echo $y", ARITH, 41, "42"),
    ("[[ {{ v }} -gt 5 ]] && echo yes", ARITH, 41, "yes"),
    ("[[ 50 -ge {{ v }} ]] && echo yes", ARITH, 41, "yes"),
    ("[[ {{ v }} -eq 41 ]] && echo yes", ARITH, 41, "yes"),
    ("[[ {{ v }} -ne 1 ]] && echo yes", ARITH, 41, "yes"),
    ("[[ {{ v }} -lt 50 && -n x ]] && echo yes", ARITH, 41, "yes"),
    ("[[ x == x && 1 -le \"{{ v }}\" ]] && echo yes", ARITH, 41, "yes"),
    ("if [[ ( {{ v }} -ge 2 ) ]]; then echo yes; fi", ARITH, 41, "yes"),
    ("for (( i = {{ v }}; i < 43; i++ )); do echo $i; done", ARITH, 41, "41\n42"),
    ('a=(x y); echo "${a[{{ v }}]}"', ARITH, 1, "y"),
    ('a=(x y); echo "${a[{{ v }}]:-none}"', ARITH, 5, "none"),
    ("declare -A h=([k]=1); unset 'h[{{ v }}]'; echo \"${!h[@]}\"", ARITH, 1, "k"),
    ('a[{{ v }}]=z; echo "${a[@]}"', ARITH, 1, "z"),
    ('a=([{{ v }}]=z); echo "${a[@]}"', ARITH, 1, "z"),
    ('declare -a a=([{{ v }}]=z); echo "${a[@]}"', ARITH, 1, "z"),
    ("declare -i y; y={{ v }}; echo $y", ARITH, 41, "41"),
    ("declare -i y={{ v }}; echo $y", ARITH, 41, "41"),
    ("f() { local -i y={{ v }}; echo $y; }; f", ARITH, 41, "41"),
    ("typeset -i y=1; y+={{ v }}; echo $y", ARITH, 41, "42"),
    ("declare -ai b; b[0]={{ v }}; echo ${b[0]}", ARITH, 41, "41"),
    ('s=abcdef; echo "${s:{{ v }}}"', ARITH, 1, "bcdef"),
    ('s=abcdef; echo "${s: -{{ v }}}"', ARITH, 2, "ef"),
    ('s=abcdef; echo "${s:1:{{ v }}}"', ARITH, 2, "bc"),
    ('set -- a b c; echo "${@:{{ v }}}"', ARITH, 2, "b c"),
    ('a=(x y z); echo "${a[@]:{{ v }}:1}"', ARITH, 2, "z"),
    ("n={{ v }}; echo $(( n + 1 ))", ARITH, 41, "42"),
    ('n="{{ v }}"; [[ $n -gt 5 ]] && echo yes', ARITH, 41, "yes"),
    ("for n in {{ v }}; do echo $(( n + 1 )); done", ARITH, 41, "42"),
    ("f() { local n={{ v }}; echo $(( n + 1 )); }; f", ARITH, 41, "42"),
    ('echo "$(( $(echo 1) + {{ v }} ))"', ARITH, 41, "42"),
    ("cat <<EOF\n$(( {{ v }} + 1 ))\nEOF", ARITH, 41, "42"),
    ("a=(1 2); unset 'a[{{ v }}]'; echo \"${a[@]}\"", ARITH, 1, "1"),
    ("printf -v 'a[{{ v }}]' %s z; echo \"${a[@]}\"", ARITH, 1, "z"),
    ("read 'a[{{ v }}]' <<< z; echo \"${a[@]}\"", ARITH, 1, "z"),
    # the value names a variable
    ('printf -v {{ v }} %s z; echo "$x"', NAME, "x", "z"),
    ('read {{ v }} <<< z; echo "$x"', NAME, "x", "z"),
    ("a=(1); [[ -v {{ v }} ]] && echo yes", NAME, "a", "yes"),
    ("a=(1); test -v {{ v }} && echo yes", NAME, "a", "yes"),
    ("a=(1); [ -v {{ v }} ] && echo yes", NAME, "a", "yes"),
    ('a=(1 2); x=1; unset {{ v }}; echo "${x-gone}"', NAME, "x", "gone"),
    ("a=(1 2); unset -v {{ v }}; echo \"${x-gone}\"", NAME, "x", "gone"),
    ('declare {{ v }}=z; echo "$x"', NAME, "x", "z"),
    ('declare -g {{ v }}=z; echo "$x"', NAME, "x", "z"),
    ('f() { local {{ v }}=z; echo "$x"; }; f', NAME, "x", "z"),
    ("declare -n r={{ v }}; x=z; echo \"$r\"", NAME, "x", "z"),
    ('x=z; r={{ v }}; echo "${!r}"', NAME, "x", "z"),
    ("sleep 0 & wait -n -p {{ v }}; [[ -n $x ]] && echo yes", NAME, "x", "yes"),
    # a declared array's value starting with `(`
    ('declare -a arr={{ v }}; echo "${arr[0]}"', SCALAR, "z", "z"),
    ('declare -A h={{ v }}; echo "${!h[@]}"', SCALAR, "z", "0"),
]

#: Contexts bash 5.2 happens not to evaluate for a quoted value, checked all the same because
#: they take an index or a name (and another bash may evaluate them).
CONSERVATIVE = [
    ("a=(1 2); [[ -v a[{{ v }}] ]] && echo yes", ARITH, 1, "yes"),
    ('read -r -a {{ v }} <<< "z w"; echo "${x[1]}"', NAME, "x", "w"),
    ('declare -A h; h[k]=1; echo "$(( h[k] + {{ v }} ))"', ARITH, 41, "42"),
]

#: Words where a value is an ordinary word: any text is fine and runs nothing.
PLAIN = [
    "echo {{ v }}",
    'echo "$(( 1 + 1 )) {{ v }}"',
    "[ {{ v }} -gt 5 ]",
    "test {{ v }} -eq 1",
    "[[ {{ v }} == x ]]",
    "[[ -n {{ v }} && 1 -eq 1 ]]",
    "printf '%d' {{ v }}",
    "echo $(( 1 << 2 )) {{ v }}",
    "echo $(( $(printf '%s' {{ v }} | wc -c) + 1 ))",
    "x={{ v }}; echo \"$x\"",
    "declare -A h; h[{{ v }}]=1; echo \"${h[{{ v }}]}\"",
    "case {{ v }} in a) echo $(( 1 ));; *) echo {{ v }};; esac",
    "echo '$(( {{ v }} ))'",
    "cat <<EOF\n{{ v }}\nEOF",
    "echo ${x:-{{ v }}}",
    "f() { echo {{ v }}; }; f",
    "export X={{ v }}",
    "declare -a arr=({{ v }}); echo \"${arr[0]}\"",
    "# $(( {{ v }} ))\necho done",
]


def bash(command, cwd: Path, check: bool = False) -> subprocess.CompletedProcess:
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **getattr(command, "env", {})}
    done = subprocess.run([BASH, "-c", str(command)], cwd=cwd, env=env, capture_output=True, text=True, timeout=30)
    if check:
        assert done.returncode == 0, done.stderr
    return done


def payload_for(kind: str) -> str:
    return SCALAR_PAYLOAD if kind == SCALAR else ARITH_PAYLOAD


@pytest.fixture
def unchecked(monkeypatch):
    """Render as yaml2dag did before the fix: every value a quoted word, nothing refused."""
    monkeypatch.setattr(expression_shell_words, "_check_shell_context", lambda *args: None)


@pytest.mark.parametrize("command, kind, good, printed", CONTEXTS, ids=[c[0][:40] for c in CONTEXTS])
def test_the_context_is_a_real_hole(unchecked, tmp_path, command, kind, good, printed):
    """Without the check, bash runs the payload here (so the table lists only real holes)."""
    rendered = render_string(command, {"v": payload_for(kind)}, shell=True)
    bash(rendered, tmp_path)
    assert (tmp_path / MARK).exists(), f"bash did not run the payload in {command!r}"


@pytest.mark.parametrize("command, kind, good, printed", CONTEXTS + CONSERVATIVE,
                         ids=[c[0][:40] for c in CONTEXTS + CONSERVATIVE])
def test_the_payload_is_refused_before_bash_starts(tmp_path, command, kind, good, printed):
    context = shell_analysis(command)[0][0][1]
    assert context.kind == kind, context
    with pytest.raises(TemplateError, match=r"`\{\{ v \}\}` is inserted where bash|`\{\{ v \}\}` is inserted as"):
        render_string(command, {"v": payload_for(kind)}, shell=True)


@pytest.mark.parametrize("command, kind, good, printed", CONTEXTS + CONSERVATIVE,
                         ids=[c[0][:40] for c in CONTEXTS + CONSERVATIVE])
def test_a_number_or_a_name_still_works(tmp_path, command, kind, good, printed):
    rendered = render_string(command, {"v": good}, shell=True)
    done = bash(rendered, tmp_path)
    if printed is not None:
        assert done.returncode == 0, done.stderr
        assert done.stdout.strip() == printed
    assert not (tmp_path / MARK).exists()


@pytest.mark.parametrize("command", PLAIN)
def test_ordinary_words_take_any_text_and_run_nothing(tmp_path, command):
    assert all(c.kind is None for _label, c, _line in shell_analysis(command)[0]), shell_analysis(command)
    for value in (ARITH_PAYLOAD, SCALAR_PAYLOAD, "x; touch MARK", "41"):
        bash(render_string(command, {"v": value}, shell=True), tmp_path)
    assert not (tmp_path / MARK).exists()


@pytest.mark.parametrize("value, ok", [
    (41, True), ("41", True), ("-7", True), ("+3", True), (" 12\n", True), ("0x1F", True), (41.0, True),
    (2.5, False), (True, False), ("", False), ("1+1", False), ("a", False), ("a[$(id)]", False),
    ("41 ; id", False), ("0x", False), ("1e3", False), ([1], False), (None, False),
])
def test_arithmetic_accepts_integers_only(value, ok):
    if ok:
        rendered = render_string("echo $(( {{ v }} ))", {"v": value}, shell=True)
        assert is_integer(rendered.env["YAML2DAG_V1"])
    else:
        with pytest.raises(TemplateError, match="must be an integer"):
            render_string("echo $(( {{ v }} ))", {"v": value}, shell=True)


def test_raw_opts_out_and_labels_name_the_expression():
    assert render_string("echo $(( {{ v | raw }} ))", {"v": "1+2"}, shell=True) == "echo $(( 1+2 ))"
    with pytest.raises(TemplateError, match=r"`\{\{ params.v \| upper \}\}` .*\(`\$\(\( \)\)`\).*got 'A\[\$\(ID\)\]'"):
        render_string("echo $(( {{ params.v | upper }} ))", {"params": {"v": "a[$(id)]"}}, shell=True)


def test_names_accept_names_only():
    assert is_name("x_1") and not is_name("1x") and not is_name("a[1]") and not is_name("")
    with pytest.raises(TemplateError, match="must be a name"):
        render_string("read {{ v }}", {"v": "a b"}, shell=True)


def test_an_env_variable_the_command_uses_in_arithmetic_must_be_an_integer(tmp_path):
    from yaml2dag.tools.base import ToolContext, ToolError
    from yaml2dag.tools.shell import execute

    command = "echo $(( N + 1 )) > out"
    with pytest.raises(ToolError, match=r"parameters.env.N: .*must be an integer"):
        execute(ToolContext("s"), {"command": command, "env": {"N": ARITH_PAYLOAD}, "cwd": str(tmp_path)})
    assert list(tmp_path.iterdir()) == []
    result = execute(ToolContext("s"), {"command": command, "env": {"N": "41"}, "cwd": str(tmp_path)})
    assert result.fields["exit_code"] == 0 and (tmp_path / "out").read_text() == "42\n"


# --------------------------------------------------------------------------- the property

_WRAPPERS = [
    "{}", "{}; echo after", "echo before; {}", "if true; then {}; fi", "f() {{ {}; }}; f", "( {} )",
    "echo \"$( {} )\"", "x=$( {} ); echo \"$x\"", "while false; do :; done; {}", "{} # {{{{ v }}}} $((",
    "case y in y) {} ;; esac", "for k in 1; do {}; done", "true && {}", "{} | cat",
]
_VALUES = [ARITH_PAYLOAD, SCALAR_PAYLOAD, "x[$(touch MARK)]=1", "a[`touch MARK`]", "$(touch MARK)", "41", "1",
           "x", "a", "-3"]


def test_property_no_rendered_command_ever_runs_the_payload(tmp_path):
    """Seeded random commands: every context and plain word, wrapped in lists, functions,
    subshells, command substitutions, conditionals and loops, with hostile and ordinary values.
    Whatever renders runs nothing; and each refusal happens in a context the analysis names."""
    rng = random.Random(1010)
    fragments = [c[0] for c in CONTEXTS] + PLAIN
    runs = refused = 0
    for _ in range(400):
        parts = [rng.choice(_WRAPPERS).format(rng.choice(fragments)) for _ in range(rng.randint(1, 2))]
        command = rng.choice(["; ", "\n", " && "]).join(parts)
        value = rng.choice(_VALUES)
        try:
            rendered = render_string(command, {"v": value}, shell=True)
        except TemplateError as exc:
            refused += 1
            assert "is inserted" in str(exc), exc
            continue
        runs += 1
        bash(rendered, tmp_path)
        assert not (tmp_path / MARK).exists(), f"{command!r} with v={value!r} ran the payload"
    assert runs > 100 and refused > 50  # both sides were exercised


def test_analysis_never_fails_on_broken_shell_text():
    rng = random.Random(7)
    alphabet = list("$(){}[]'\"`\\;&|<>#\n -=:!@*?0123456789abcixn") + ["((", "))", "[[", "]]", "$((", "${", "<<"]
    for _ in range(2000):
        pieces = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12))) for _ in range(rng.randint(1, 4))]
        assert len(analyze_command(pieces).contexts) == len(pieces) - 1


# --------------------------------------------------------------------------- the validator

WORKFLOW = """\
name: arith
parameters:
  s: {{type: string, default: "41"}}
  i: {{type: integer, default: 41}}
  f: {{type: number, default: 2}}
  b: {{type: boolean, default: true}}
steps:
  - id: first
    tool: shell
    parameters:
      command: "echo 1"
  - id: check
    tool: shell
    parameters:
      command: {command}
"""


@pytest.mark.parametrize("command", [c[0] for c in CONTEXTS if c[1] == ARITH])
@pytest.mark.parametrize("source", ["s", "params.s", "env.HOME", "secrets.TOKEN", "first.output", "first.stdout",
                                    "b", "s ~ '1'", "i if b else s", "i > 1"])
def test_validator_reports_text_in_arithmetic(command, source):
    text = WORKFLOW.format(command=_yaml(command.replace("{{ v }}", "{{ " + source + " }}")))
    report = validate_text(text, "wf.yaml")
    shell = [p for p in report.problems if p.rule == "shell"]
    assert len(shell) == 1, [p.format() for p in report.problems]
    assert "is inserted where bash evaluates arithmetic" in shell[0].message
    assert f"{{{{ {source} | int }}}}" in shell[0].message or "| int" in shell[0].message


@pytest.mark.parametrize("command", [c[0] for c in CONTEXTS if c[1] == ARITH])
@pytest.mark.parametrize("source", ["i", "params.i", "f", "s | int", "first.exit_code", "i + 1", "s | length",
                                    "first.attempts", "41", "i | quote", "i | string", "'41'", "-i", "i * 2 // 3"])
def test_validator_accepts_numbers_in_arithmetic(command, source):
    text = WORKFLOW.format(command=_yaml(command.replace("{{ v }}", "{{ " + source + " }}")))
    report = validate_text(text, "wf.yaml")
    assert [p for p in report.problems if p.rule == "shell"] == []


def test_validator_reports_an_env_value_used_in_arithmetic_at_its_line():
    text = WORKFLOW.format(command='"echo $(( N + 1 ))"\n      env:\n        N: "{{ s }}"\n        M: "{{ s }}"')
    problems = [p for p in validate_text(text, "wf.yaml").problems if p.rule == "shell"]
    assert [(p.line, p.path) for p in problems] == [(17, "steps[1].parameters.env.N")]


def test_validator_points_at_the_line_inside_a_block():
    text = WORKFLOW.format(command="|\n        echo start\n        echo $(( {{ s }} + 1 ))")
    problems = [p for p in validate_text(text, "wf.yaml").problems if p.rule == "shell"]
    assert [(p.line, p.column) for p in problems] == [(17, 9)]


def _yaml(command: str) -> str:
    import json

    return json.dumps(command)


def test_commands_too_long_or_too_deep_to_analyse_take_integers_only():
    from yaml2dag.format.shell_contexts import MAX_ANALYSED, MAX_NESTING

    long = "echo {{ v }} # " + "x" * MAX_ANALYSED
    deep = "echo " + "$(" * (MAX_NESTING + 1) + "echo {{ v }}" + ")" * (MAX_NESTING + 1)
    for command, phrase in ((long, "longer than 262,144 characters"), (deep, "nested more than 64 levels")):
        with pytest.raises(TemplateError, match=phrase):
            render_string(command, {"v": "a b"}, shell=True)
        assert render_string(command, {"v": 7}, shell=True).env == {"YAML2DAG_V1": "7"}
