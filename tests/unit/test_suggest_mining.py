"""Sessions, repeated sequences and generalization into parameters (issue 12, §1)."""

from __future__ import annotations

import datetime as dt

from yaml2dag.suggest import suggest
from yaml2dag.suggest.histories import HistoryEntry
from yaml2dag.suggest.sequences import SESSION_GAP_S, mine, sessions, typo_programs

NOW = dt.datetime(2026, 12, 4, 12, 0, tzinfo=dt.timezone.utc)
DAY = 86400
T0 = int(NOW.timestamp()) - 6 * DAY


def zsh(tmp_path, runs: list[list[str]], *, gap: int = 20, day_gap: int = DAY, name: str = ".zsh_history",
        start: int = T0):
    """A zsh extended history: each inner list is typed on its own day, ``gap`` seconds apart."""
    lines = []
    for day, commands in enumerate(runs):
        t = start + day * day_gap
        for command in commands:
            lines.append(f": {t}:0;" + command.replace("\n", "\\\n"))
            t += gap
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def everything_resolves(_name: str) -> bool:
    return True


def _entries(commands: list[tuple[float | None, str]]) -> list[HistoryEntry]:
    return [HistoryEntry(c, t, 0, i + 1, i + 1) for i, (t, c) in enumerate(commands)]


def test_sessions_end_after_30_minutes_of_inactivity():
    found = sessions(_entries([(0, "make a"), (SESSION_GAP_S, "make b"), (2 * SESSION_GAP_S + 1, "make c")]),
                     everything_resolves)
    assert [[u.command.text for u in s] for s in found] == [["make a", "make b"], ["make c"]]


def test_noise_typos_and_repeats_leave_the_stream_and_chains_are_split():
    entries = _entries([(0, "ls -la"), (1, "gti pull"), (2, "git pull && make test"), (3, "make test"),
                        (4, "clear"), (5, "make deploy")])
    found = sessions(entries, lambda name: name in ("git", "make"))
    assert [(u.command.text, u.op) for u in found[0]] == [("git pull", None), ("make test", "&&"),
                                                          ("make deploy", None)]


def test_typo_programs():
    uses = {"git": 50, "gti": 1, "make": 9, "mkae": 1, "sl": 1, "ls": 5, "k": 3, "kubectl": 2, "dokcer": 2,
            "docker": 6, "mytool": 1, "gs": 4, "gp": 2}
    found = typo_programs(uses, aliases=["k"], resolves=lambda n: n in ("git", "make", "ls", "kubectl"))
    # docker does not resolve here but is used more often; gs and gp are likely aliases
    assert found == {"gti", "mkae", "dokcer", "sl"}


def test_a_sequence_repeated_three_times_is_found_and_the_longest_wins(tmp_path):
    routine = ["git pull", "make build", "./deploy.sh staging"]
    path = zsh(tmp_path, [routine, ["make build"], routine, routine])
    report = suggest([path], now=NOW, resolves=everything_resolves)
    assert [s.commands for s in report.suggestions] == [routine]
    assert report.suggestions[0].occurrences == 3
    # `make build` ran 4 times, but only once outside the longer sequence: not on its own...
    # ...unless the longer sequence is not frequent enough itself
    report = suggest([path], now=NOW, min_count=4, resolves=everything_resolves)
    assert [(s.commands, s.occurrences) for s in report.suggestions] == [(["make build"], 4)]


def test_a_sub_sequence_frequent_on_its_own_is_suggested_too(tmp_path):
    routine = ["git pull", "make build"]
    path = zsh(tmp_path, [routine, ["make build"], routine, ["make build"], routine, ["make build"]])
    report = suggest([path], now=NOW, resolves=everything_resolves)
    assert sorted(s.commands for s in report.suggestions) == [["git pull", "make build"], ["make build"]]


def test_the_window_and_min_count(tmp_path):
    routine = ["git pull", "make build"]
    path = zsh(tmp_path, [routine] * 3, start=T0 - 10 * DAY)  # all more than 7 days before --now
    report = suggest([path], now=NOW, resolves=everything_resolves)
    assert report.suggestions == []
    assert report.sources[0]["skipped"] == {"before the window": 6}
    assert report.window_from == "2026-11-27T12:00:00+00:00" and report.window_to == "2026-12-04T12:00:00+00:00"
    assert len(suggest([path], now=NOW, days=30, resolves=everything_resolves).suggestions) == 1
    assert suggest([path], now=NOW, days=30, min_count=4, resolves=everything_resolves).suggestions == []


def test_a_history_without_timestamps_is_mined_whole_and_says_so(tmp_path):
    path = tmp_path / ".bash_history"
    path.write_text("make build\nls\nmake build\ncd /tmp\nmake build\n")
    report = suggest([path], now=NOW, resolves=everything_resolves)
    assert [s.commands for s in report.suggestions] == [["make build"]]
    assert report.suggestions[0].first_seen is None
    assert "window does not apply" in report.sources[0]["note"]


def test_trivial_commands_make_no_suggestion_on_their_own(tmp_path):
    boring = ["ls", "cd src", "clear", "history", "pwd", "git status", "echo hi", "cd ..", "cat README.md", "gti pull"]
    path = zsh(tmp_path, [boring] * 5)
    assert suggest([path], now=NOW, resolves=lambda n: n != "gti").suggestions == []


def test_occurrences_do_not_overlap():
    entries = _entries([(i, "make x") if i % 2 == 0 else (i, "make y") for i in range(6)])
    found = sessions(entries, everything_resolves)
    [pattern] = mine(found, 3)
    assert pattern.keys and len(pattern.occurrences) == 3 and pattern.length == 2


# --------------------------------------------------------------------------- generalization


def _one(tmp_path, runs, **kwargs):
    report = suggest([zsh(tmp_path, runs)], now=NOW, resolves=everything_resolves, **kwargs)
    assert len(report.suggestions) == 1, [s.commands for s in report.suggestions]
    return report.suggestions[0]


def test_varying_branch_becomes_a_branch_parameter_with_the_most_common_default(tmp_path):
    item = _one(tmp_path, [["git checkout feature-a", "make test"], ["git checkout fix-b", "make test"],
                           ["git checkout feature-a", "make test"]])
    assert item.commands == ["git checkout {{ branch }}", "make test"]
    assert item.parameters == {"branch": {"type": "string", "default": "feature-a", "values": ["feature-a", "fix-b"]}}


def test_parameter_names_follow_meaning(tmp_path):
    item = _one(tmp_path, [
        [f"git checkout -b {b}", f"scp build/app.tgz {h}:/srv/", f"curl -s {u}", f"cp {s} /backup/", f"sleep {n}",
         f"./deploy.sh {e}"]
        for b, h, u, s, n, e in [("f-1", "web1.example.com", "https://a.example.com/x", "./a.txt", 5, "staging"),
                                 ("f-2", "web2.example.com", "https://b.example.com/y", "./b.txt", 10, "production"),
                                 ("f-3", "web2.example.com", "https://b.example.com/y", "./b.txt", 10, "staging")]])
    params = item.parameters
    assert set(params) == {"branch", "destination", "url", "source", "arg1", "environment"}
    assert params["arg1"] == {"type": "integer", "default": 10, "values": [10, 5]}
    assert item.commands[4] == "sleep {{ arg1 }}"


def test_one_parameter_for_the_same_value_used_twice(tmp_path):
    runs = [[f"git checkout {b}", f"git push origin {b}"] for b in ("a-1", "b-2", "c-3")]
    item = _one(tmp_path, runs)
    assert list(item.parameters) == ["branch"]
    assert item.commands == ["git checkout {{ branch }}", "git push origin {{ branch }}"]


def test_a_corrected_typo_in_an_argument_is_not_offered_as_a_value(tmp_path):
    runs = [["pip install -r requirements.txt", "make test"]] * 3 + [["pip install -r requirements.ttx", "make test"]]
    item = _one(tmp_path, runs)
    assert item.parameters == {} and item.commands[0] == "pip install -r requirements.txt"


def test_different_hosts_are_not_typos_of_each_other(tmp_path):
    runs = [[f"ssh {h} uptime", "make test"] for h in ("web1", "web2", "web2")]
    item = _one(tmp_path, runs)
    assert item.parameters["host"]["values"] == ["web2", "web1"]
