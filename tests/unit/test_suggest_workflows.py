"""Suggested workflows: tools, steps, secrets, validity and coverage (issue 12, §1)."""

from __future__ import annotations

import json
import random

import pytest
import yaml

from yaml2dag.library.folder import Library
from yaml2dag.suggest import suggest
from yaml2dag.format.validation import validate_text

from test_suggest_mining import NOW, everything_resolves, zsh


def _steps(tmp_path, commands: list[str], times: int = 3, **kwargs) -> list[dict]:
    report = suggest([zsh(tmp_path, [commands] * times)], now=NOW, resolves=everything_resolves, **kwargs)
    assert len(report.suggestions) == 1, [s.commands for s in report.suggestions]
    item = report.suggestions[0]
    assert validate_text(item.workflow).valid
    return yaml.safe_load(item.workflow)["steps"]


def _tools(steps: list[dict]) -> list[tuple]:
    return [(s["tool"], s.get("action")) for s in steps]


@pytest.mark.parametrize("command, tool, action, parameters", [
    ("git pull", "git", "pull", {"directory": "."}),
    ("git pull origin main", "git", "pull", {"directory": ".", "remote": "origin", "branch": "main"}),
    ("git checkout -b topic", "git", "checkout", {"directory": ".", "ref": "topic", "create": True}),
    ("git clone --depth 1 https://github.com/o/r.git", "git", "clone",
     {"url": "https://github.com/o/r.git", "directory": "r", "depth": 1}),
    ("curl -fsSL https://api.example.com/health", "http", "request", {"url": "https://api.example.com/health"}),
    ("curl -s -X POST -H 'Content-Type: application/json' -d '{\"a\": 1}' https://api.example.com/jobs", "http",
     "request", {"url": "https://api.example.com/jobs", "method": "POST",
                 "headers": {"Content-Type": "application/json"}, "body": "{\"a\": 1}"}),
    ("tar czf backups/site.tar.gz site", "files", "backup",
     {"source": "site", "target": "backups", "name": "site", "format": "tar.gz"}),
    ("zip -r out/docs.zip docs", "files", "backup", {"source": "docs", "target": "out", "name": "docs", "format": "zip"}),
    ("cp -r config/ /srv/app/config", "files", "copy",
     {"source": "config/", "destination": "/srv/app/config", "overwrite": True}),
    ("cp -n a.txt b.txt", "files", "copy", {"source": "a.txt", "destination": "b.txt", "overwrite": False}),
    ("rsync -av reports /mnt/backup", "files", "copy",
     {"source": "reports", "destination": "/mnt/backup/", "overwrite": True}),
    ("mv inbox/*.csv archive/", "files", "move", {"source": "inbox/*.csv", "destination": "archive/", "overwrite": True}),
])
def test_commands_map_to_built_in_tools(tmp_path, command, tool, action, parameters):
    [step] = _steps(tmp_path, [command, "make test"])[:1]
    assert (step["tool"], step.get("action")) == (tool, action)
    assert step["parameters"] == parameters


@pytest.mark.parametrize("command", [
    "git pull --rebase", "curl -o page.html https://example.com", "curl https://a.example.com https://b.example.com",
    "rsync -av src/ dst/", "rsync -av site web1:/srv/site", "tar xzf site.tar.gz", "cp a b c/", "sudo cp a b",
    "curl -s https://example.com | jq .", "git push origin main",
])
def test_commands_tools_cannot_reproduce_stay_shell(tmp_path, command):
    [step, _] = _steps(tmp_path, [command, "make test"])
    assert step["tool"] == "shell" and step["parameters"]["command"] == command


def test_chained_commands_become_ordered_steps_and_semicolon_continues(tmp_path):
    steps = _steps(tmp_path, ["git pull && make build && make test", "make lint; ./deploy.sh"])
    assert [s["id"] for s in steps] == ["git_pull", "make_build", "make_test", "make_lint", "deploy_sh"]
    assert [s.get("on_error") for s in steps] == [None, None, None, "continue", None]
    assert not any("depends_on" in s for s in steps)  # list order: each waits for the one before


def test_cd_gives_steps_their_folder(tmp_path):
    steps = _steps(tmp_path, ["cd ~/src/app && git pull && make test", "cd build", "cp app.bin /srv/bin/"])
    assert steps[0]["parameters"] == {"directory": "~/src/app"}
    assert steps[1]["parameters"] == {"command": "make test", "cwd": "{{ env.HOME }}/src/app"}
    assert steps[2]["parameters"] == {"source": "~/src/app/build/app.bin", "destination": "/srv/bin/",
                                      "overwrite": True}


def test_a_folder_only_the_shell_knows_keeps_the_cd_and_the_shell(tmp_path):
    steps = _steps(tmp_path, ["cd $PROJECT/app", "git pull", "LOG=1 make test"])
    assert steps == [
        {"id": "git_pull", "name": "git pull", "tool": "shell", "parameters": {"command": "cd $PROJECT/app && git pull"}},
        {"id": "make_test", "name": "LOG=1 make test", "tool": "shell",
         "parameters": {"command": "cd $PROJECT/app && make test", "env": {"LOG": "1"}}}]


def test_a_varying_folder_below_home_stays_below_home(tmp_path):
    runs = [[f"cd ~/src/{p}", "git pull", "make test"] for p in ("shop", "api", "shop")]
    report = suggest([zsh(tmp_path, runs)], now=NOW, resolves=everything_resolves)
    item = report.suggestions[0]
    steps = yaml.safe_load(item.workflow)["steps"]
    assert item.parameters["directory"] == {"type": "string", "default": "src/shop", "values": ["src/shop", "src/api"]}
    assert steps[0]["parameters"]["directory"] == "~/{{ directory }}"
    assert steps[1]["parameters"]["cwd"] == "{{ env.HOME }}/{{ directory }}"
    assert item.commands[0] == "cd ~/{{ directory }}"


def test_exported_and_prefixed_variables_reach_shell_steps(tmp_path):
    steps = _steps(tmp_path, ["export APP_ENV=prod", "source .venv/bin/activate", "LOG=1 python manage.py migrate"])
    assert steps == [{"id": "python_manage_py", "name": "LOG=1 python manage.py migrate", "tool": "shell",
                      "parameters": {"command": "source .venv/bin/activate && python manage.py migrate",
                                     "env": {"APP_ENV": "prod", "LOG": "1"}}}]


@pytest.mark.parametrize("typed, printed", [
    ("echo '{{.State.Status}}' {%raw%} \"{#x#}\"", "{{.State.Status}} {%raw%} {#x#}\n"),
    ("printf '%s\\n' \"a {{ b }}\"", "a {{ b }}\n"),
])
def test_template_syntax_in_a_command_stays_literal(tmp_path, typed, printed):
    """A command that contains Jinja syntax (docker's Go templates) runs as it was typed."""
    import os
    import subprocess

    from yaml2dag.format.expressions import render_string

    steps = _steps(tmp_path, [typed, "make test"])
    command = render_string(steps[0]["parameters"]["command"], {}, shell=True)
    done = subprocess.run(["bash", "-c", str(command)], env={**os.environ, **getattr(command, "env", {})},
                          capture_output=True, text=True, timeout=30)
    assert done.stdout == printed


SECRET_HISTORY = [
    ["export API_TOKEN=tok-AAA111", "TOKEN=tok-BBB222 ./deploy.sh staging",
     "mytool --password hunter2-CCC", "mysql -uroot -psqlpass-DDD shop < dump.sql",
     "git clone https://bob:gitpw-EEE@git.example.com/o/r.git",
     "curl -H 'Authorization: Bearer bearer-FFF' https://api.example.com/v1/me",
     "curl 'https://api.example.com/v1/x?access_token=qtok-GGG'"],
]
SECRET_VALUES = ["tok-AAA111", "tok-BBB222", "hunter2-CCC", "sqlpass-DDD", "gitpw-EEE", "bearer-FFF", "qtok-GGG"]


def test_secrets_become_secret_parameters_and_are_never_copied(tmp_path):
    report = suggest([zsh(tmp_path, SECRET_HISTORY * 3)], now=NOW, resolves=everything_resolves)
    [item] = report.suggestions
    dumped = json.dumps(report.to_json())
    assert [v for v in SECRET_VALUES if v in dumped] == []
    secrets = {n for n, p in item.parameters.items() if p["type"] == "secret"}
    assert secrets == {"api_token", "token", "password", "password_2", "password_3", "bearer_token", "access_token"}
    for name in secrets:
        assert item.parameters[name] == {"type": "secret", "default": None, "values": []}
    data = yaml.safe_load(item.workflow)
    assert all("default" not in data["parameters"][n] for n in secrets)
    assert validate_text(item.workflow).valid


def test_a_credential_typed_elsewhere_as_a_plain_value_withholds_the_suggestion(tmp_path):
    runs = [["export DEPLOY_TOKEN=tk-998877", "./login.sh tk-998877", "make deploy"]] * 3
    report = suggest([zsh(tmp_path, runs)], now=NOW, resolves=everything_resolves)
    assert report.suggestions == [] and report.dropped == 1
    assert "tk-998877" not in json.dumps(report.to_json())


def test_covered_by_a_library_workflow(tmp_path):
    library = tmp_path / "definitions"
    library.mkdir()
    (library / "ci.yaml").write_text(
        "name: CI\nsteps:\n  - id: fetch\n    tool: git\n    action: pull\n    parameters: {directory: .}\n"
        "  - id: notify\n    tool: notify\n    action: log\n    parameters: {message: hi}\n"
        "  - id: tests\n    tool: shell\n    parameters: {command: \"make test && make lint\"}\n")
    runs = [["git pull", "make test"]] * 3 + [["make lint", "git pull"]] * 3
    report = suggest([zsh(tmp_path, runs)], now=NOW, resolves=everything_resolves, library=Library(library))
    by_commands = {tuple(s.commands): s.covered_by for s in report.suggestions}
    assert by_commands == {("git pull", "make test"): "CI", ("make lint", "git pull"): None}
    assert report.suggestions[-1].covered_by == "CI"  # covered ones are ranked last


def test_suggestion_names_do_not_clash_with_the_library(tmp_path):
    library = tmp_path / "definitions"
    library.mkdir()
    (library / "x.yaml").write_text("name: Make build\nsteps:\n  - id: a\n    tool: shell\n    parameters: {command: ls}\n")
    report = suggest([zsh(tmp_path, [["make build"]] * 3)], now=NOW, resolves=everything_resolves,
                     library=Library(library))
    assert report.suggestions[0].name == "Make build (2)"


# --------------------------------------------------------------------------- property

VOCABULARY = [
    "git pull", "git checkout {branch}", "git checkout -b {branch}", "git pull origin {branch}", "make {target}",
    "cd {dir}", "cd ~/{dir}", "curl -s https://{host}/api/{n}", "curl -H 'Authorization: Bearer {secret}' https://{host}/x",
    "tar czf out/{dir}-{n}.tar.gz {dir}", "cp {dir}/a.txt {dir}/b.txt", "rsync -a {dir} /mnt/{dir}", "mv {dir}/*.log old/",
    "export API_TOKEN={secret}", "TOKEN={secret} ./run.sh {n}", "echo \"{{{{ x }}}}\" '{{% y %}}' {{#z#}}",
    "docker inspect -f '{{{{.State}}}}' {dir}", "for f in {dir}/*; do echo $f; done", "ls", "clear", "gti {target}",
    "git pull && make {target} && ./deploy.sh {env}", "make {target}; make clean", "echo $HOME/{dir} *.txt",
    "psql --password={secret} -c 'select {n}'", "ssh {host} 'sudo systemctl restart {target}'",
    "python -c 'print(\"{{}}\")'", "echo 'unbalanced", "cat <<EOF\nhello {dir}\nEOF", "printf '%s\\n' a\\ b",
    "git clone https://u:{secret}@{host}/r.git", "weird-$(date +%s) && make {target}", "echo é中文 {dir}",
    "npm run {target}", "kubectl -n {env} get pods", "x=1 y=2", "sleep {n}", "cd", "cd -", "pushd /tmp",
]


def _random_history(rng: random.Random, secrets: list[str]) -> list[list[str]]:
    def fill(template: str) -> str:
        secret = f"S3cr3t{rng.randint(1000, 9999)}x"
        if "{secret}" in template:
            secrets.append(secret)
        return template.format(branch=rng.choice(["main", "dev", "feat-x", "fix/y"]), target=rng.choice(["build", "test"]),
                               dir=rng.choice(["src", "site", "a b", "data"]), host=rng.choice(["h1.example.com", "h2.io"]),
                               n=rng.randint(1, 30), env=rng.choice(["staging", "prod"]), secret=secret)

    templates = [[rng.choice(VOCABULARY) for _ in range(rng.randint(1, 4))] for _ in range(4)]
    usual = [[fill(t) for t in routine] for routine in templates]
    days = []
    for _ in range(rng.randint(3, 7)):
        day = []
        for _ in range(rng.randint(1, 4)):
            pick = rng.randrange(len(templates))
            day += [fill(t) if rng.random() < 0.3 else c for t, c in zip(templates[pick], usual[pick])]
            day += [fill(rng.choice(VOCABULARY))] if rng.random() < 0.5 else []
        days.append(day)
    return days


def test_every_proposed_workflow_validates_and_no_secret_leaks(tmp_path):
    """Property: over random histories mixing every construct (quotes, templates, globs,
    expansions, compound commands, secrets), every suggestion is a valid workflow, none is
    dropped, and no secret value appears anywhere in the JSON output."""
    rng = random.Random(20261203)
    found = 0
    for round_ in range(40):
        secrets: list[str] = []
        folder = tmp_path / str(round_)
        folder.mkdir()
        history = _random_history(rng, secrets)
        report = suggest([zsh(folder, history)], now=NOW, resolves=lambda n: n != "gti", min_count=2, limit=0)
        assert report.dropped == 0
        dumped = json.dumps(report.to_json())
        assert [s for s in secrets if s in dumped] == []
        for item in report.suggestions:
            result = validate_text(item.workflow)
            assert result.valid, (item.commands, [p.format() for p in result.errors])
            assert set(item.to_json()) == {"name", "commands", "occurrences", "first_seen", "last_seen", "parameters",
                                           "covered_by", "workflow"}
        found += len(report.suggestions)
    assert found > 40  # the property was exercised
