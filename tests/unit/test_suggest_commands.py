"""Shell commands as shapes and slots, and credentials found in them (issue 12, §1)."""

from __future__ import annotations

import pytest

from yaml2dag.suggest.commands import analyze, read_line, split_chain
from yaml2dag.suggest.secrets import find_spans, is_secret_name


def _key(text: str) -> str:
    return analyze(text).key


def _values(text: str) -> list[tuple[str, str]]:
    cmd = analyze(text)
    return [(cmd.parts[w][p][0], cmd.parts[w][p][1]) for w, p in cmd.slots]


@pytest.mark.parametrize("line, pieces", [
    ("git pull && make test", [("git pull", None), ("make test", "&&")]),
    ("make build; ./deploy.sh", [("make build", None), ("./deploy.sh", ";")]),
    ("a || b", [("a || b", None)]),
    ("echo 'x && y' && ls", [("echo 'x && y'", None), ("ls", "&&")]),
    ("echo \"$(date && id)\" && ls", [("echo \"$(date && id)\"", None), ("ls", "&&")]),
    ("docker run \\\n  --rm alpine", [("docker run   --rm alpine", None)]),
    ("make # build it && more", [("make", None)]),
])
def test_split_chain(line, pieces):
    assert split_chain(line) == pieces


@pytest.mark.parametrize("line", ["for f in *.log; do gzip $f; done", "if true; then ls; fi", "(cd x && make)",
                                  "case $x in a) ls;; esac", "f() { ls; }", "echo 'unbalanced"])
def test_compound_commands_stay_whole(line):
    assert split_chain(line) is None
    [(cmd, _)] = read_line(line)
    assert cmd.opaque and cmd.text == line


def test_same_command_different_arguments_share_a_shape():
    assert _key("git checkout feature-a") == _key("git checkout fix-b") != _key("git pull")
    assert _key("make test") != _key("make deploy")  # a subcommand is structure
    assert _key("./deploy.sh staging") == _key("./deploy.sh production")  # a script's operand is not
    assert _key("cp a.txt b.txt") == _key("cp c.txt d/")
    assert _key("git checkout -b x") != _key("git checkout x")  # flags are structure
    assert _key("docker compose up -d") != _key("docker compose down")


def test_words_the_shell_expands_stay_as_typed():
    cmd = analyze("rm -f $HOME/tmp/*.log *.bak")
    assert cmd.slots == []
    assert cmd.key != analyze("rm -f $HOME/tmp/*.txt *.bak").key


@pytest.mark.parametrize("line, kind", [
    ("ls -la", "noise"), ("clear", "noise"), ("history | tail", "work"), ("history", "noise"),
    ("git status", "noise"), ("vim notes.md", "noise"), ("cd src", "context"), ("cd", "context"),
    ("cd -", "noise"), ("export A=1 B=2", "context"), ("export PATH", "work"), ("source .venv/bin/activate", "context"),
    ("TOKEN=abc", "context"), ("make test", "work"), ("sudo make install", "work"), ("!!", "noise"),
])
def test_kinds(line, kind):
    assert analyze(line).kind == kind


def test_hints_name_the_slots():
    cmd = analyze("git checkout -b fix-b")
    [(slot)] = cmd.slots
    assert cmd.hints[slot]["option"] == "-b"
    cmd = analyze("make -j8 test")
    [slot] = cmd.slots
    assert cmd.hints[slot]["option"] == "-j" and cmd.parts[slot[0]][slot[1]][0] == "8"
    cmd = analyze("echo hi | ssh web1 tee x")
    assert cmd.program == "echo"


# --------------------------------------------------------------------------- secrets

SECRET_LINES = [
    ("TOKEN=s3cr3tvalue ./deploy.sh", "s3cr3tvalue"),
    ("export GITHUB_TOKEN=abcdEFGH1234", "abcdEFGH1234"),
    ("DB_PASSWORD=hunter22 psql -h db", "hunter22"),
    ("export AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI", "wJalrXUtnFEMI"),
    ("mytool --password hunter23 --user bob", "hunter23"),
    ("mytool --password=hunter24", "hunter24"),
    ("mytool --api-key k3y-value-1", "k3y-value-1"),
    ("mysql -uroot -phunter25 shop", "hunter25"),
    ("sshpass -p hunter26 ssh host", "hunter26"),
    ("curl https://alice:pw-in-url@example.com/x", "pw-in-url"),
    ("git clone https://ghp_0123456789abcdefghijABCDEFGHIJ@github.com/o/r.git", "ghp_0123456789abcdefghijABCDEFGHIJ"),
    ("curl -H 'Authorization: Bearer eyJabc.def-ghi' https://api.example.com", "eyJabc.def-ghi"),
    ("curl -H \"X-API-Key: abc123key\" https://api.example.com", "abc123key"),
    ("curl -u bob:pa55word https://api.example.com", "pa55word"),
    ("curl 'https://api.example.com/x?access_token=qwerty123&page=2'", "qwerty123"),
    ("curl https://api.example.com/x?token=unquoted42", "unquoted42"),  # `?` unquoted: not a glob in a URL
    ("curl -d '{\"user\": \"bob\", \"password\": \"jsonpass1\"}' https://x.example.com", "jsonpass1"),
    ("echo xoxb-1234567890-abcdefghij | slack-cli", "xoxb-1234567890-abcdefghij"),
    ("for i in 1 2; do curl -H 'Authorization: token loopsecret9' https://x.example.com; done", "loopsecret9"),
    ("echo $(curl --password=subsecret8 x)", "subsecret8"),
]


@pytest.mark.parametrize("line, secret", SECRET_LINES)
def test_secrets_are_secret_slots_never_structure(line, secret):
    for cmd, _ in read_line(line):
        if secret not in cmd.text:
            continue
        assert secret not in cmd.key
        secrets = [cmd.parts[w][p][0] for w, p in cmd.slots if cmd.parts[w][p][1] == "secret"]
        assert secret in secrets
        lits = [part[0] for parts in cmd.parts for part in parts if part[1] != "secret"]
        assert not any(secret in text for text in lits)
        break
    else:
        pytest.fail(f"no command holds {secret!r}")


def test_authorization_scheme_is_kept_and_only_the_credential_is_secret():
    assert _values("curl -H 'Authorization: Bearer abc.def' https://x.example.com") == [
        ("abc.def", "secret"), ("https://x.example.com", "var")]


@pytest.mark.parametrize("name, secret", [
    ("API_TOKEN", True), ("db_password", True), ("DB_PASS", True), ("X-Api-Key", True), ("PGPASSWORD", True),
    ("client_secret", True), ("PWD", False), ("PATH", False), ("PASSAGE", False), ("HOME", False), ("AUTHOR", False),
])
def test_secret_names(name, secret):
    assert is_secret_name(name) is secret


def test_no_false_secret_in_ordinary_commands():
    for line in ["git push origin main", "docker run -p 8080:80 nginx", "ssh -p 2222 host", "curl https://example.com/a?page=2",
                 "kubectl -n prod get pods", "git commit -m 'fix password reset page'", "psql -h db -U app"]:
        for cmd, _ in read_line(line):
            assert not any(cmd.parts[w][p][1] == "secret" for w, p in cmd.slots), line


def test_find_spans_in_raw_text():
    text = "X=1 API_KEY=abc123 curl --token t0k3n -H 'Authorization: Basic dXNlcjpw' https://u:p4ss@h/x"
    found = {text[s:e] for s, e, _ in find_spans(text, options=True)}
    assert found == {"abc123", "t0k3n", "dXNlcjpw", "p4ss"}
