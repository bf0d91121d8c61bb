"""The `files` tool's actions called directly on real trees in tmp_path: the errors a workflow
author can cause (each with the message the tool promises) and the less-used options (what ends
up on disk and in the result). No Dagster run: each action is the `files` TOOL's `Action.run`.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
import tarfile
import tempfile
import types
import zipfile
from pathlib import Path

import pytest

from recording_log import RecordingLog
from yaml2dag.tools.base import ToolContext, ToolError, check_parameters
from yaml2dag.tools.files import TOOL, archive_pattern
from yaml2dag.tools.files import archive as archive_module


def run(action: str, params: dict, ctx: ToolContext | None = None):
    """Run the `files` action as a step does: parameters checked, then the action."""
    spec = TOOL.action(action)
    check_parameters(spec.parameters, params, f"files.{action}")
    return spec.run(ctx or ToolContext("step"), params)


def error_of(action: str, params: dict, ctx: ToolContext | None = None) -> ToolError:
    with pytest.raises(ToolError) as caught:
        run(action, params, ctx)
    return caught.value


def tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def unix_socket(path: Path) -> socket.socket:
    """A bound unix socket at ``path`` (bound from its folder: socket paths are short)."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    cwd = os.getcwd()
    os.chdir(path.parent)
    try:
        sock.bind(path.name)
    finally:
        os.chdir(cwd)
    return sock


class FrozenClock:
    """Stands in for the `datetime` module inside the backup action: `now()` is always `moment`."""

    def __init__(self, moment: dt.datetime):
        frozen = moment

        class Frozen(dt.datetime):
            @classmethod
            def now(cls, tz=None):
                return frozen

        self.module = types.SimpleNamespace(datetime=Frozen, timezone=dt.timezone, timedelta=dt.timedelta)


# --------------------------------------------------------------------------- backup: errors


def test_backup_refuses_a_file_as_source_a_file_as_target_and_an_unknown_format(tmp_path):
    tree(tmp_path, {"notes.txt": "x", "src/a.txt": "a", "occupied": "a file"})
    err = error_of("backup", {"source": str(tmp_path / "notes.txt"), "target": str(tmp_path / "out")})
    assert err.message == f"source {tmp_path / 'notes.txt'} is not a folder"
    assert err.retryable is False

    err = error_of("backup", {"source": str(tmp_path / "src"), "target": str(tmp_path / "occupied")})
    assert err.message == f"target {tmp_path / 'occupied'} exists and is not a folder"

    err = error_of("backup", {"source": str(tmp_path / "src"), "target": str(tmp_path / "out"), "format": "rar"})
    assert err.message.startswith("files.backup: parameters.format: 'rar' is not one of ['tar.gz', 'zip']")
    assert not (tmp_path / "out").exists(), "nothing is written for a refused backup"


def test_backup_target_below_a_file_fails_with_the_os_reason(tmp_path):
    tree(tmp_path, {"src/a.txt": "a", "plain": "a file"})
    err = error_of("backup", {"source": str(tmp_path / "src"), "target": str(tmp_path / "plain" / "backups")})
    assert err.message.startswith(f"creating the target folder {tmp_path / 'plain' / 'backups'} failed: ")
    assert "Not a directory" in err.message or "File exists" in err.message
    assert err.retryable is False


def test_backup_outside_base_is_refused_before_anything_is_written(tmp_path):
    allowed = tmp_path / "allowed"
    tree(allowed, {"src/a.txt": "a"})
    tree(tmp_path, {"elsewhere/b.txt": "b"})
    err = error_of("backup", {"source": str(tmp_path / "elsewhere"), "target": str(allowed / "out"),
                              "base": str(allowed)})
    assert err.message == f"{tmp_path / 'elsewhere'} is outside the allowed folder {allowed} (`base`)"
    err = error_of("backup", {"source": str(allowed / "src"), "target": str(tmp_path / "out"), "base": str(allowed)})
    assert err.message == f"{tmp_path / 'out'} is outside the allowed folder {allowed} (`base`)"
    assert not (allowed / "out").exists() and not (tmp_path / "out").exists()


def test_backup_of_a_terminated_run_stops_and_leaves_no_partial_archive(tmp_path):
    tree(tmp_path, {"src/a.txt": "a"})
    ctx = ToolContext("b")
    ctx.cancel()
    err = error_of("backup", {"source": str(tmp_path / "src"), "target": str(tmp_path / "out")}, ctx)
    assert err.message == (f"backup of {tmp_path / 'src'} was stopped: the run was terminated; "
                           "the partial archive was removed")
    assert list((tmp_path / "out").iterdir()) == []


# --------------------------------------------------------------------------- backup: options


def test_backup_exclude_patterns_links_and_hidden_part_files_in_tar(tmp_path):
    source = tree(tmp_path / "proj", {
        "keep.txt": "keep", "skip.tmp": "tmp", "sub/deep.txt": "deep", "sub/cache/x.bin": "x",
        "cache": "a file named cache", "node_modules/pkg/index.js": "js", ".draft.part": "half-written",
    })
    (tmp_path / "outside").mkdir()
    (source / "to_outside").symlink_to(tmp_path / "outside")  # a folder link: stored, never followed
    (source / "link.txt").symlink_to("keep.txt")
    result = run("backup", {"source": str(source), "target": str(tmp_path / "out"),
                            "exclude": ["*.tmp", "cache/", "node_modules"]})
    with tarfile.open(result.output) as tar:
        members = {m.name: m for m in tar.getmembers()}
    names = set(members)
    assert "proj/keep.txt" in names and "proj/sub/deep.txt" in names
    assert "proj/cache" in names, "`cache/` leaves out folders only, not a file named cache"
    assert "proj/sub/cache" not in names and "proj/sub/cache/x.bin" not in names
    assert not any("node_modules" in n or n.endswith(".tmp") or n.endswith(".part") for n in names)
    assert members["proj/to_outside"].issym() and members["proj/to_outside"].linkname == str(tmp_path / "outside")
    assert members["proj/link.txt"].issym() and members["proj/link.txt"].linkname == "keep.txt"
    assert result.fields["count"] == 3  # keep.txt, cache, sub/deep.txt: regular files; links are not counted
    assert result.fields["format"] == "tar.gz"


def test_backup_skips_a_socket_with_a_warning_in_tar_and_zip(tmp_path):
    source = tree(tmp_path / "s", {"a.txt": "a"})
    sock = unix_socket(source / "ctl.sock")
    try:
        for fmt, ext in (("tar.gz", ".tar.gz"), ("zip", ".zip")):
            log = RecordingLog()
            result = run("backup", {"source": str(source), "target": str(tmp_path / fmt), "format": fmt},
                         ToolContext("b", log=log))
            assert result.output.endswith(ext)
            assert f"skipped {source / 'ctl.sock'}: not a regular file, folder or link" in log.warnings()
            assert result.fields["count"] == 1
            if fmt == "zip":
                with zipfile.ZipFile(result.output) as zf:
                    assert zf.namelist() == ["s/a.txt"]
            else:
                with tarfile.open(result.output) as tar:
                    assert tar.getnames() == ["s/a.txt"]
    finally:
        sock.close()


def test_backup_zip_keeps_folders_and_links_and_dates_before_1980(tmp_path):
    source = tree(tmp_path / "site", {"index.html": "<h1>hi</h1>", "img/logo.svg": "<svg/>"})
    (source / "empty").mkdir()
    (source / "home.html").symlink_to("index.html")
    os.utime(source / "home.html", (0, 0), follow_symlinks=False)  # 1970: before zip's first date
    os.utime(source / "index.html", (0, 0))
    result = run("backup", {"source": str(source), "target": str(tmp_path / "out"), "format": "zip",
                            "name": "web"})
    assert archive_pattern("web").match(os.path.basename(result.output))
    with zipfile.ZipFile(result.output) as zf:
        infos = {i.filename: i for i in zf.infolist()}
        assert zf.read("site/index.html") == b"<h1>hi</h1>"
        assert zf.read("site/home.html") == b"index.html"
    assert {"site/empty/", "site/img/", "site/img/logo.svg", "site/home.html"} <= set(infos)
    link = infos["site/home.html"]
    assert (link.external_attr >> 16) & 0o170000 == 0o120000, "stored as a symbolic link (unzip restores it)"
    assert link.date_time == (1980, 1, 1, 0, 0, 0)
    assert infos["site/index.html"].date_time[0] == 1980
    assert result.fields["count"] == 2 and result.fields["source_bytes"] == len("<h1>hi</h1>") + len("<svg/>")


def test_backup_default_name_is_cleaned_from_the_folder_name(tmp_path):
    source = tree(tmp_path / ".my data (v2)", {"a.txt": "a"})
    result = run("backup", {"source": str(source), "target": str(tmp_path / "out")})
    assert os.path.basename(result.output).startswith("my_data_v2_-")
    assert archive_pattern("my_data_v2_").match(os.path.basename(result.output))


def test_backups_in_the_same_second_get_a_sequence_number_and_retention_orders_by_it(tmp_path, monkeypatch):
    source = tree(tmp_path / "src", {"a.txt": "a"})
    target = tmp_path / "out"
    moment = dt.datetime(2026, 3, 4, 5, 6, 7, tzinfo=dt.timezone.utc)
    monkeypatch.setattr(archive_module, "_dt", FrozenClock(moment).module)
    params = {"source": str(source), "target": str(target), "name": "nightly"}
    first = run("backup", params)
    second = run("backup", params)
    third = run("backup", dict(params, keep_last=2))
    assert os.path.basename(first.output) == "nightly-20260304-050607.tar.gz"
    assert os.path.basename(second.output) == "nightly-20260304-050607-1.tar.gz"
    assert os.path.basename(third.output) == "nightly-20260304-050607-2.tar.gz"
    assert third.fields["removed"] == [first.output], "the oldest of the same second goes first"
    assert sorted(p.name for p in target.iterdir()) == ["nightly-20260304-050607-1.tar.gz",
                                                        "nightly-20260304-050607-2.tar.gz"]
    assert third.metadata["removed"] == [first.output]


def test_retention_with_both_rules_removes_only_what_both_allow_and_ignores_other_names(tmp_path):
    source = tree(tmp_path / "src", {"a.txt": "a"})
    target = tmp_path / "out"
    target.mkdir()
    now = dt.datetime.now(dt.timezone.utc)

    def old(days: float, suffix: str = ".tar.gz") -> Path:
        path = target / f"db-{(now - dt.timedelta(days=days)).strftime('%Y%m%d-%H%M%S')}{suffix}"
        path.write_bytes(b"old")
        return path

    recent = old(1)
    ancient = old(40, ".zip")
    older_but_kept = old(2)
    bad_stamp = target / "db-20261399-999999.tar.gz"  # the pattern's shape, not a date: never removed
    bad_stamp.write_bytes(b"?")
    foreign = target / "db-notes.tar.gz"
    foreign.write_bytes(b"mine")
    (target / "db-20200101-000000.tar.gz.d").mkdir()
    folder_lookalike = target / "db-20200101-000001.tar.gz"
    folder_lookalike.mkdir()  # a folder with an archive's name: not this action's archive
    log = RecordingLog()
    result = run("backup", {"source": str(source), "target": str(target), "name": "db", "keep_last": 2,
                            "older_than_days": 30}, ToolContext("b", log=log))
    assert result.fields["removed"] == [str(ancient)]
    assert any(f"retention removed {ancient} (beyond the newest 2 and older than 30 days)" == m
               for _l, m in log.lines)
    for kept in (recent, older_but_kept, bad_stamp, foreign, folder_lookalike):
        assert kept.exists(), kept


# --------------------------------------------------------------------------- copy and move: errors


def test_copy_errors_name_the_path_and_the_fix(tmp_path):
    tree(tmp_path, {"a.txt": "a", "dir/x.txt": "x", "blocker": "a file", "dest/dir/keep.txt": "k"})
    (tmp_path / "dest" / "a.txt").mkdir()
    cases = {
        "missing source": ({"source": str(tmp_path / "nope.txt"), "destination": str(tmp_path / "b.txt")},
                           f"source {tmp_path / 'nope.txt'} does not exist"),
        "glob matching nothing": ({"source": str(tmp_path / "*.csv"), "destination": str(tmp_path / "out")},
                                  f"no file matches {tmp_path / '*.csv'}"),
        "same path": ({"source": str(tmp_path / "a.txt"), "destination": str(tmp_path / "a.txt"), "overwrite": True},
                      f"source and destination are the same: {tmp_path / 'a.txt'}"),
        "file over a folder": ({"source": str(tmp_path / "a.txt"), "destination": str(tmp_path / "dest") + "/",
                                "overwrite": True},
                               f"cannot replace the folder {tmp_path / 'dest' / 'a.txt'} with a file"),
        "folder over a file": ({"source": str(tmp_path / "dir"), "destination": str(tmp_path / "blocker"),
                                "overwrite": True},
                               f"cannot replace the file {tmp_path / 'blocker'} with a folder"),
        "folder into itself": ({"source": str(tmp_path / "dir"), "destination": str(tmp_path / "dir" / "sub")},
                               f"cannot copy the folder {tmp_path / 'dir'} into itself ({tmp_path / 'dir' / 'sub'})"),
    }
    for label, (params, message) in cases.items():
        err = error_of("copy", params)
        assert err.message == message, label
        assert err.retryable is False, label
    assert (tmp_path / "blocker").read_text() == "a file"
    assert not (tmp_path / "dir" / "sub").exists()


def test_many_conflicts_are_listed_in_one_message_and_nothing_is_copied(tmp_path):
    names = [f"f{i}.txt" for i in range(7)]
    tree(tmp_path / "src", {n: "new" for n in names})
    tree(tmp_path / "dst", {n: "old" for n in names})
    err = error_of("copy", {"source": str(tmp_path / "src" / "*.txt"), "destination": str(tmp_path / "dst")})
    shown = ", ".join(str(tmp_path / "dst" / n) for n in names[:5])
    assert err.message == f"7 destinations already exist: {shown} and 2 more; set `overwrite: true` to replace"
    assert all((tmp_path / "dst" / n).read_text() == "old" for n in names)


def test_glob_match_through_a_link_out_of_its_folder_is_refused(tmp_path):
    tree(tmp_path, {"outside/secret.txt": "s", "root/own/a.txt": "a"})
    (tmp_path / "root" / "escape").symlink_to(tmp_path / "outside")
    for verb in ("copy", "move"):
        err = error_of(verb, {"source": str(tmp_path / "root" / "*" / "*.txt"), "destination": str(tmp_path / "out")})
        assert err.message == (f"refusing to {verb} {tmp_path / 'root' / 'escape' / 'secret.txt'}: it lies outside "
                               f"{tmp_path / 'root'} through a symbolic link")
    assert not (tmp_path / "out").exists()
    assert (tmp_path / "outside" / "secret.txt").exists()


def test_transfer_outside_base_and_through_a_linked_parent_is_refused(tmp_path):
    tree(tmp_path, {"base/a.txt": "a", "real/t.txt": "old"})
    (tmp_path / "base" / "via").symlink_to(tmp_path / "real")
    err = error_of("copy", {"source": str(tmp_path / "base" / "a.txt"), "destination": str(tmp_path / "b.txt"),
                            "base": str(tmp_path / "base")})
    assert err.message == f"{tmp_path / 'b.txt'} is outside the allowed folder {tmp_path / 'base'} (`base`)"
    err = error_of("copy", {"source": str(tmp_path / "base" / "a.txt"),
                            "destination": str(tmp_path / "base" / "via" / "t.txt"), "overwrite": True})
    assert err.message == (f"refusing to overwrite {tmp_path / 'base' / 'via' / 't.txt'}: its parent folder "
                           f"{tmp_path / 'base' / 'via'} is a symbolic link (to {tmp_path / 'real'}); "
                           "give the real path instead")
    assert (tmp_path / "real" / "t.txt").read_text() == "old"


def test_moving_the_home_directory_is_refused(tmp_path, monkeypatch):
    home = tmp_path / "home"
    tree(home, {"a.txt": "a"})
    monkeypatch.setenv("HOME", str(home))
    err = error_of("move", {"source": str(home), "destination": str(tmp_path / "elsewhere")})
    assert err.message == f"refusing to move {home}: it is the home directory"
    assert (home / "a.txt").exists() and not (tmp_path / "elsewhere").exists()


def test_merging_a_folder_onto_a_file_of_the_same_name_fails_with_the_path(tmp_path):
    tree(tmp_path, {"src/sub/x.txt": "x", "dst/src/sub": "a file where the folder would go"})
    err = error_of("copy", {"source": str(tmp_path / "src"), "destination": str(tmp_path / "dst"), "overwrite": True})
    assert err.message == f"cannot replace the file {tmp_path / 'dst' / 'src' / 'sub'} with a folder"
    assert (tmp_path / "dst" / "src" / "sub").read_text() == "a file where the folder would go"


def test_copy_below_a_file_fails_with_the_os_reason(tmp_path):
    tree(tmp_path, {"a.txt": "a", "plain": "p"})
    err = error_of("copy", {"source": str(tmp_path / "a.txt"), "destination": str(tmp_path / "plain" / "a.txt")})
    assert err.message.startswith(f"copy of {tmp_path / 'a.txt'} to {tmp_path / 'plain' / 'a.txt'} failed: ")
    assert err.retryable is False


# --------------------------------------------------------------------------- copy and move: options


def test_copy_into_a_folder_named_with_a_slash_follows_a_top_level_link_and_keeps_inner_links(tmp_path):
    tree(tmp_path, {"data.txt": "payload", "folder/real.txt": "r"})
    (tmp_path / "alias.txt").symlink_to(tmp_path / "data.txt")
    (tmp_path / "folder" / "inner_link").symlink_to("real.txt")
    (tmp_path / "folder" / "dir_link").symlink_to(tmp_path)
    result = run("copy", {"source": str(tmp_path / "alias.txt"), "destination": str(tmp_path / "new") + "/"})
    copied = tmp_path / "new" / "alias.txt"
    assert result.output == [str(copied)]
    assert copied.is_file() and not copied.is_symlink() and copied.read_text() == "payload"
    assert result.fields == {"count": 1, "bytes": len("payload"), "files": 1, "sources": [str(tmp_path / "alias.txt")]}

    result = run("copy", {"source": str(tmp_path / "folder"), "destination": str(tmp_path / "copy")})
    assert os.readlink(tmp_path / "copy" / "inner_link") == "real.txt"
    assert os.readlink(tmp_path / "copy" / "dir_link") == str(tmp_path), "a link to a folder is copied as a link"
    assert result.fields["files"] == 1


def test_copy_skips_a_special_file_with_a_warning(tmp_path):
    tree(tmp_path, {"src/a.txt": "a"})
    os.mkfifo(tmp_path / "src" / "pipe")
    log = RecordingLog()
    result = run("copy", {"source": str(tmp_path / "src"), "destination": str(tmp_path / "dst")},
                 ToolContext("c", log=log))
    assert f"skipped {tmp_path / 'src' / 'pipe'}: not a regular file (a pipe, socket or device)" in log.warnings()
    assert (tmp_path / "dst" / "a.txt").read_text() == "a" and not (tmp_path / "dst" / "pipe").exists()
    assert result.fields["files"] == 1


def test_move_onto_an_existing_folder_merges_and_removes_the_source(tmp_path):
    tree(tmp_path, {"src/a.txt": "new a", "src/sub/b.txt": "b", "dst/src/a.txt": "old a", "dst/src/c.txt": "c"})
    merged = tmp_path / "dst" / "src"
    err = error_of("move", {"source": str(tmp_path / "src"), "destination": str(tmp_path / "dst")})
    assert err.message == f"destination already exists: {merged}; set `overwrite: true` to replace"
    assert (merged / "a.txt").read_text() == "old a"
    result = run("move", {"source": str(tmp_path / "src"), "destination": str(tmp_path / "dst"), "overwrite": True})
    assert result.output == [str(merged)]
    assert not (tmp_path / "src").exists()
    assert (merged / "a.txt").read_text() == "new a"
    assert (merged / "sub" / "b.txt").read_text() == "b"
    assert (merged / "c.txt").read_text() == "c"
    assert result.fields["files"] == 2 and result.fields["bytes"] == len("new a") + len("b")


@pytest.fixture
def other_filesystem(tmp_path):
    """A folder on another filesystem than tmp_path (/dev/shm), removed afterwards."""
    if not os.path.isdir("/dev/shm") or os.stat("/dev/shm").st_dev == os.stat(tmp_path).st_dev:
        pytest.skip("no second filesystem (/dev/shm) to move across")
    folder = tempfile.mkdtemp(prefix="y2d-move-", dir="/dev/shm")
    try:
        yield Path(folder)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_move_across_filesystems_copies_then_removes_the_source(tmp_path, other_filesystem):
    tree(tmp_path, {"folder/a.txt": "aaa", "folder/sub/b.txt": "bb", "single.txt": "s"})
    (tmp_path / "folder" / "ln").symlink_to("a.txt")
    result = run("move", {"source": str(tmp_path / "folder"), "destination": str(other_filesystem / "moved")})
    assert result.output == [str(other_filesystem / "moved")]
    assert not (tmp_path / "folder").exists()
    assert (other_filesystem / "moved" / "sub" / "b.txt").read_text() == "bb"
    assert os.readlink(other_filesystem / "moved" / "ln") == "a.txt"
    assert result.fields["files"] == 2 and result.fields["bytes"] == 5
    run("move", {"source": str(tmp_path / "single.txt"), "destination": str(other_filesystem) + "/"})
    assert (other_filesystem / "single.txt").read_text() == "s" and not (tmp_path / "single.txt").exists()


def test_move_across_filesystems_keeps_a_source_it_could_only_move_in_part(tmp_path, other_filesystem):
    tree(tmp_path, {"folder/a.txt": "a"})
    os.mkfifo(tmp_path / "folder" / "pipe")
    err = error_of("move", {"source": str(tmp_path / "folder"), "destination": str(other_filesystem / "moved")})
    assert err.message == (f"moved {tmp_path / 'folder'} only in part: 1 special files could not be copied "
                           f"(e.g. {tmp_path / 'folder' / 'pipe'}); the source was kept")
    assert (tmp_path / "folder" / "a.txt").exists() and (tmp_path / "folder" / "pipe").exists()


# --------------------------------------------------------------------------- delete and list


def test_delete_errors_and_dry_run(tmp_path):
    tree(tmp_path, {"full/a.txt": "a", "full/b.txt": "bb", "base/x.txt": "x"})
    err = error_of("delete", {"path": str(tmp_path / "full")})
    assert err.message == (f"{tmp_path / 'full'} is a folder with 2 entries; set `recursive: true` to delete it "
                           "with its contents")
    err = error_of("delete", {"path": str(tmp_path / "*.nothing")})
    assert err.message == f"nothing to delete: no file matches {tmp_path / '*.nothing'} (set `missing_ok: true` to accept that)"
    err = error_of("delete", {"path": str(tmp_path / "full" / "a.txt"), "base": str(tmp_path / "base")})
    assert err.message == f"{tmp_path / 'full' / 'a.txt'} is outside the allowed folder {tmp_path / 'base'} (`base`)"
    result = run("delete", {"path": str(tmp_path / "full"), "recursive": True, "dry_run": True})
    assert result.output == [str(tmp_path / "full")]
    assert result.fields == {"count": 1, "bytes": 3, "files": 2, "dry_run": True}
    assert (tmp_path / "full" / "a.txt").exists(), "a dry run deletes nothing"
    result = run("delete", {"path": str(tmp_path / "gone.txt"), "missing_ok": True})
    assert result.output == [] and result.fields["count"] == 0


def test_delete_glob_through_a_link_out_of_its_folder_is_refused(tmp_path):
    tree(tmp_path, {"outside/keep.log": "k", "logs/own.log": "o"})
    (tmp_path / "logs" / "escape").symlink_to(tmp_path / "outside")
    err = error_of("delete", {"path": str(tmp_path / "logs" / "*" / "*.log")})
    assert err.message == (f"refusing to delete {tmp_path / 'logs' / 'escape' / 'keep.log'}: it lies outside "
                           f"{tmp_path / 'logs'} through a symbolic link")
    assert (tmp_path / "outside" / "keep.log").exists()


def test_list_errors_and_less_used_options(tmp_path):
    err = error_of("list", {"path": str(tmp_path / "missing")})
    assert err.message == f"folder {tmp_path / 'missing'} does not exist"
    tree(tmp_path, {"plain.txt": "p"})
    err = error_of("list", {"path": str(tmp_path / "plain.txt")})
    assert err.message == f"{tmp_path / 'plain.txt'} is not a folder"

    root = tree(tmp_path / "r", {"big.log": "x" * 50, "small.log": "x", ".hidden.log": "hh", "sub/inner.log": "iii",
                                 "sub/other.txt": "oo"})
    os.utime(root / "big.log", (1_000_000, 1_000_000))
    result = run("list", {"path": str(root), "pattern": ["*.log", "sub/*.txt"], "recursive": True,
                          "sort": "size", "reverse": True, "limit": 3})
    assert [os.path.relpath(p, root) for p in result.output] == ["big.log", "sub/inner.log", "sub/other.txt"]
    (root / "dangling.log").symlink_to(root / "nowhere")  # listed too, with the link's own size
    result = run("list", {"path": str(root), "pattern": "*.log", "include_hidden": True, "sort": "modified"})
    names = [e["name"] for e in result.fields["entries"]]
    assert names[0] == "big.log" and ".hidden.log" in names and "dangling.log" in names
    assert result.fields["entries"][0]["modified"] == "1970-01-12T13:46:40+00:00"
    result = run("list", {"path": str(root), "include_dirs": True, "pattern": "sub"})
    assert result.fields["entries"] == [dict(result.fields["entries"][0], is_dir=True, size=0, name="sub")]
    result = run("list", {"path": str(root), "pattern": "sub/*.txt", "recursive": True})
    assert result.output == [str(root / "sub" / "other.txt")]


# --------------------------------------------------------------------------- races and termination


class VanishingContext(ToolContext):
    """A step context that deletes ``victim`` at the second time check: the backup checks the
    time once while collecting a folder without sub-folders, then before each entry it writes, so
    the victim (the first entry) disappears after it was listed and before it is read: a log file
    rotated away while the backup runs."""

    def __init__(self, victim: Path, log):
        super().__init__("b", log=log)
        self.victim = victim
        self.checks = 0

    def time_left(self):
        self.checks += 1
        if self.checks == 2 and self.victim.exists():
            self.victim.unlink()
        return super().time_left()


def test_a_file_deleted_while_the_backup_runs_is_skipped_with_a_warning(tmp_path):
    for fmt in ("tar.gz", "zip"):
        source = tree(tmp_path / fmt / "logs", {"a-rotated.log": "old", "b-current.log": "new"})
        log = RecordingLog()
        result = run("backup", {"source": str(source), "target": str(tmp_path / fmt / "out"), "format": fmt},
                     VanishingContext(source / "a-rotated.log", log))
        assert f"skipped {source / 'a-rotated.log'}: it disappeared during the backup" in log.warnings(), fmt
        assert result.fields["count"] == 1 and result.fields["source_bytes"] == len("new"), fmt
        if fmt == "zip":
            with zipfile.ZipFile(result.output) as zf:
                assert zf.namelist() == ["logs/b-current.log"]
        else:
            with tarfile.open(result.output) as tar:
                assert tar.getnames() == ["logs/b-current.log"]


def test_a_terminated_run_stops_every_action_before_it_changes_anything(tmp_path):
    big = tmp_path / "big"
    big.mkdir()
    for i in range(1000):  # the listing looks at the clock every 1000 entries
        (big / f"f{i:04}.txt").touch()
    tree(tmp_path, {"src/a.txt": "a", "doomed.txt": "d"})
    cases = {
        "list": ({"path": str(big)}, f"listing of {big} was stopped: the run was terminated"),
        "copy": ({"source": str(tmp_path / "src"), "destination": str(tmp_path / "copy")},
                 f"copy of {tmp_path / 'src'} was stopped: the run was terminated"),
        "move": ({"source": str(tmp_path / "src"), "destination": str(tmp_path / "moved")},
                 f"move of {tmp_path / 'src'} was stopped: the run was terminated"),
        "delete": ({"path": str(tmp_path / "doomed.txt")},
                   f"delete of {tmp_path / 'doomed.txt'} was stopped: the run was terminated"),
    }
    for action, (params, message) in cases.items():
        ctx = ToolContext("t")
        ctx.cancel()
        assert error_of(action, params, ctx).message == message, action
    assert (tmp_path / "src" / "a.txt").exists() and (tmp_path / "doomed.txt").exists()
    assert not (tmp_path / "copy").exists() and not (tmp_path / "moved").exists()


def test_merging_a_file_onto_a_folder_of_the_same_name_fails_and_leaves_no_temporary_file(tmp_path):
    tree(tmp_path, {"src/x": "a file", "dst/src/x/inside.txt": "kept"})
    err = error_of("copy", {"source": str(tmp_path / "src"), "destination": str(tmp_path / "dst"), "overwrite": True})
    assert err.message == f"cannot replace the folder {tmp_path / 'dst' / 'src' / 'x'} with a file"
    assert (tmp_path / "dst" / "src" / "x" / "inside.txt").read_text() == "kept"
    assert not [p for p in (tmp_path / "dst" / "src").iterdir() if p.name.endswith(".part")]


def test_a_double_star_glob_copies_each_folder_once(tmp_path):
    tree(tmp_path, {"src/a.txt": "a", "src/sub/b.txt": "b"})
    result = run("copy", {"source": str(tmp_path / "src" / "**"), "destination": str(tmp_path / "dst")})
    assert result.output == [str(tmp_path / "dst")], "the glob's own folder matched: its contents are not listed again"
    assert (tmp_path / "dst" / "a.txt").read_text() == "a" and (tmp_path / "dst" / "sub" / "b.txt").read_text() == "b"
    assert result.fields["files"] == 2


def test_a_long_listing_shows_the_first_rows_and_how_many_more(tmp_path):
    folder = tmp_path / "many"
    folder.mkdir()
    for i in range(60):
        (folder / f"f{i:02}.txt").write_text("x")
    result = run("list", {"path": str(folder)})
    assert result.fields["count"] == 60 and result.fields["bytes"] == 60
    table = result.metadata["files"]
    assert table.count(str(folder)) == 50
    assert table.endswith("\n… and 10 more")


def test_folders_named_by_the_windows_environment_are_protected(tmp_path, monkeypatch):
    program_data = tmp_path / "ProgramData"
    tree(program_data, {"vendor/settings.ini": "x"})
    monkeypatch.setenv("ProgramData", str(program_data))
    err = error_of("delete", {"path": str(program_data / "vendor" / "settings.ini")})
    assert err.message == (f"refusing to delete {program_data / 'vendor' / 'settings.ini'}: it is inside the system "
                           f"folder {program_data}")
    assert (program_data / "vendor" / "settings.ini").exists()
