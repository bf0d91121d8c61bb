"""Reading shell history files (issue 12, §1): bash, zsh, fish; dirty files never crash."""

from __future__ import annotations

import random

import pytest

from yaml2dag.suggest import histories as h


def _write(tmp_path, name: str, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)
    return path


def _accounted(report: h.SourceReport, entries: list) -> bool:
    """Every line is either in an entry or skipped with a reason."""
    return sum(e.lines for e in entries) + sum(report.skipped.values()) == report.lines


def test_plain_bash_history_one_command_per_line(tmp_path):
    path = _write(tmp_path, ".bash_history", "git pull\nmake test\n\nls -la\n")
    entries, report = h.read_history(path)
    assert report.format == "bash" and not report.timestamps
    assert [e.command for e in entries] == ["git pull", "make test", "ls -la"]
    assert all(e.timestamp is None for e in entries)
    assert report.skipped == {h.BLANK: 1}
    assert _accounted(report, entries)


def test_bash_histtimeformat_timestamps_multiline_and_untimed_lines(tmp_path):
    text = ("echo before timestamps were on\n"           # no timestamp: skipped, the file has some
            "#1764658800\ngit pull\n"
            "#1764658860\nfor f in *.log; do\n  gzip $f\ndone\n"   # lithist keeps the lines
            "#1764658900\n"                              # a timestamp line without a command
            "#1764658920\nmake test\n")
    entries, report = h.read_history(_write(tmp_path, "hist", text))
    assert report.format == "bash" and report.timestamps
    assert [(e.command, e.timestamp) for e in entries] == [
        ("git pull", 1764658800.0), ("for f in *.log; do\n  gzip $f\ndone", 1764658860.0), ("make test", 1764658920.0)]
    assert report.skipped == {h.LONE_TIMESTAMP: 1, h.NO_TIMESTAMP: 1}
    assert entries[1].first_line == 4 and entries[1].last_line == 7
    assert _accounted(report, entries)


def test_zsh_extended_history_multiline_metafied_and_broken_entries(tmp_path):
    # zsh writes a newline inside a command as a backslash at the end of the line (so a typed
    # line continuation `\<newline>` is saved as two backslashes), and stores the bytes
    # 0x83-0x9f of UTF-8 text "metafied": 0x83 then the byte XOR 0x20.
    tsu = "ツ".encode("utf-8")  # e3 83 84: two bytes to metafy
    metafied = bytes([tsu[0], 0x83, tsu[1] ^ 0x20, 0x83, tsu[2] ^ 0x20])
    data = (b": 1764658800:0;git pull\n"
            b": 1764658810:3;docker run \\\\\n  --rm alpine \\\\\n  echo hi\n"
            b": 1764658820:0;echo " + metafied + b" done\n"
            b": 1764658830:0;printf \xff\xfe\x00 junk\n"           # binary junk: not UTF-8
            b"\x01\x02\x1b[0m\n"                                     # terminal garbage
            b": 1764658840:0;unterminated \\\n"                    # the next entry starts here
            b": 1764658850:0;make test\n"
            b"an old line without a timestamp\n"
            b": 1764658860:0;cat <<EOF \\\n")                      # ends in the middle of a command
    entries, report = h.read_history(_write(tmp_path, ".zsh_history", data))
    assert report.format == "zsh" and report.timestamps
    commands = [e.command for e in entries]
    assert commands == ["git pull", "docker run \\\n  --rm alpine \\\n  echo hi", "echo ツ done", "make test"]
    assert entries[1].first_line == 2 and entries[1].last_line == 4
    assert report.skipped == {h.BINARY: 1, h.CONTROL: 1, h.UNTERMINATED: 2, h.NO_TIMESTAMP: 1}
    assert _accounted(report, entries)


def test_demetafy_round_trips_every_meta_byte():
    original = bytes(range(0x80, 0xa0)) + b"abc"
    metafied = b"".join(bytes([0x83, b ^ 0x20]) if 0x83 <= b <= 0x9f else bytes([b]) for b in original)
    assert h.demetafy(metafied) == original


def test_fish_history_with_escaped_newlines_and_paths(tmp_path):
    text = ("- cmd: git pull\n  when: 1764658800\n"
            "- cmd: for f in *.txt\\n    echo $f\\nend\n  when: 1764658810\n  paths:\n    - ~/notes\n"
            "- cmd: echo back\\\\slash\n  when: 1764658820\n"
            "garbage that is not fish\n"
            "- cmd: ls\n")                                     # no `when`: no timestamp
    entries, report = h.read_history(_write(tmp_path, "fish_history", text))
    assert report.format == "fish"
    assert [(e.command, e.timestamp) for e in entries] == [
        ("git pull", 1764658800.0), ("for f in *.txt\n    echo $f\nend", 1764658810.0), ("echo back\\slash", 1764658820.0)]
    assert report.skipped == {h.NOT_FISH: 1, h.NO_TIMESTAMP: 1}
    assert _accounted(report, entries)


def test_a_file_without_timestamps_is_used_whole(tmp_path):
    entries, report = h.read_history(_write(tmp_path, "plain", "a\nb\nc\n"))
    assert len(entries) == 3 and not report.timestamps and report.skipped == {}


@pytest.mark.parametrize("content, expected", [
    (": 1:0;ls\n", "zsh"), ("- cmd: ls\n  when: 1\n", "fish"), ("#1764658800\nls\n", "bash"), ("ls\n", "bash")])
def test_format_detection(content, expected):
    assert h.detect_format(content.encode()) == expected


def test_utf8_with_the_meta_byte_is_not_demetafied_in_a_bash_history(tmp_path):
    # "ă" is c4 83 in UTF-8: a bash history holding it must not be read as metafied zsh
    entries, report = h.read_history(_write(tmp_path, ".bash_history", "echo ăb\n"))
    assert report.format == "bash" and [e.command for e in entries] == ["echo ăb"]
    # the same text metafied (as plain zsh history writes it) is decoded
    metafied = "echo ăb\n".encode().replace(b"\x83", b"\x83\xa3")
    entries, report = h.read_history(_write(tmp_path, "history", metafied))
    assert report.format == "zsh" and [e.command for e in entries] == ["echo ăb"]


def test_plain_zsh_history_is_recognised_by_its_name():
    assert h.detect_format(b"ls\n", "/home/u/.zsh_history") == "zsh"
    assert h.detect_format(b"ls\n", "/home/u/.histfile") == "zsh"


def test_default_sources_are_the_users_files_that_exist(tmp_path):
    home = tmp_path / "home"
    (home / ".local/share/fish").mkdir(parents=True)
    (home / ".bash_history").write_text("ls\n")
    (home / ".local/share/fish/fish_history").write_text("- cmd: ls\n")
    custom = tmp_path / "custom_hist"
    custom.write_text("ls\n")
    found = h.default_sources({"HOME": str(home), "HISTFILE": str(custom)})
    assert found == [custom, home / ".bash_history", home / ".local/share/fish/fish_history"]
    # HISTFILE pointing at one of the usual files is listed once
    assert h.default_sources({"HOME": str(home), "HISTFILE": str(home / ".bash_history")}) == [
        home / ".bash_history", home / ".local/share/fish/fish_history"]


def test_dirty_files_never_crash_and_every_line_is_accounted_for(tmp_path):
    """Property: random mixes of valid lines, binary junk, stray continuations and timestamp
    lines, in each format, are read without an exception, and used + skipped = lines."""
    rng = random.Random(1234)
    pieces = {
        "zsh": [b": 1764658800:0;git pull", b": 1764658801:0;make \\", b"  test", b"\x83\xa3\x83", b"\\",
                b": notanumber:0;x", b"", b"\xff\xfe", b": 1764658802:0;", b"plain line"],
        "bash": [b"#1764658800", b"git pull", b"", b"\x00\x01", b"#1764658801", b"for x in a; do", b"done",
                 b"\xc3\x28", b"#12"],
        "fish": [b"- cmd: git pull", b"  when: 1764658800", b"  paths:", b"    - x", b"- cmd: \\n", b"junk",
                 b"  when: abc", b"- cmd: \xff", b""],
    }
    names = {"zsh": ".zsh_history", "bash": "bash_history", "fish": "fish_history"}
    for round_ in range(150):
        fmt = rng.choice(list(pieces))
        lines = [rng.choice(pieces[fmt]) for _ in range(rng.randint(0, 40))]
        if fmt == "fish":
            lines.insert(0, b"- cmd: ls")
        data = b"\n".join(lines) + (b"\n" if rng.random() < 0.7 else b"")
        path = _write(tmp_path, f"{round_}{names[fmt]}", data)
        entries, report = h.read_history(path)
        assert _accounted(report, entries), (fmt, data)
        assert all(e.command.strip() for e in entries)
