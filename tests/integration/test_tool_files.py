"""The `files` tool on real directory trees, through real Dagster runs (issue #4).

Safety of this module itself: tests that ask the tool to delete `/` or the home directory run
with HOME pointing at a temporary folder and with the tool's removal function replaced by a
tripwire, so a broken guard fails the test instead of deleting anything.
"""

from __future__ import annotations

import datetime as dt
import os
import tarfile
import time
import zipfile
from pathlib import Path

import pytest

from yaml2dag.tools import files as files_tool
from yaml2dag.tools.files import removal as files_removal
from yaml2dag.tools.base import StepTimeoutError, ToolContext
from yaml2dag.format.validation import validate_text

pytestmark = pytest.mark.slow


def make_tree(root: Path) -> dict[str, bytes]:
    """A small real tree; returns relative path -> content of the regular files."""
    content = {
        "readme.md": b"# docs\n",
        "guide/intro.txt": b"hello " * 1000,
        "guide/deep/notes.txt": b"deep notes\n",
        "data/table.csv": b"a,b\n1,2\n",
        "cache/blob.bin": os.urandom(4096),
        "scratch.tmp": b"temporary\n",
    }
    for rel, data in content.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return content


def stamp(days_ago: float) -> str:
    moment = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=days_ago)
    return moment.strftime("%Y%m%d-%H%M%S")


# --------------------------------------------------------------------------- backup


def test_backup_writes_a_real_tar_gz_and_retention_keeps_the_newest(run_yaml, tmp_path):
    source = tmp_path / "docs"
    content = make_tree(source)
    target = tmp_path / "backups"
    target.mkdir()
    old = ["docs-20200101-000000.tar.gz", "docs-20210101-000000.zip", "docs-20220101-000000.tar.gz"]
    for name in old:
        (target / name).write_bytes(b"old archive")
    strangers = ["docs-notes.txt", "other-20200101-000000.tar.gz", "docs-20200101-000000.tar.gz.bak",
                 "docs-old-20200101-000000.tar.gz"]
    for name in strangers:
        (target / name).write_text("not ours")

    ran = run_yaml(f"""
        name: Backup docs
        steps:
          - id: archive
            tool: files
            action: backup
            parameters:
              source: "{source}"
              target: "{target}"
              exclude: ["cache", "*.tmp"]
              keep_last: 2
        outputs:
          archive: "{{{{ archive.output }}}}"
          same: "{{{{ archive.archive }}}}"
          bytes: "{{{{ archive.bytes }}}}"
          count: "{{{{ archive.count }}}}"
          removed: "{{{{ archive.removed }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    archive = Path(out["archive"])
    assert out["same"] == out["archive"]
    assert archive.parent == target and archive.name.startswith("docs-") and archive.name.endswith(".tar.gz")
    assert out["bytes"] == archive.stat().st_size > 0
    kept = {"readme.md", "guide/intro.txt", "guide/deep/notes.txt", "data/table.csv"}
    assert out["count"] == len(kept)
    with tarfile.open(archive, "r:gz") as tar:
        members = {m.name: m for m in tar.getmembers()}
        files = {name[len("docs/"):] for name, m in members.items() if m.isfile()}
        assert files == kept
        assert "docs/guide" in members and members["docs/guide"].isdir()
        for rel in kept:
            assert tar.extractfile(f"docs/{rel}").read() == content[rel]
    # retention: the new archive and the newest old one stay; only our own names were candidates
    assert sorted(Path(p).name for p in out["removed"]) == ["docs-20200101-000000.tar.gz",
                                                            "docs-20210101-000000.zip"]
    remaining = sorted(p.name for p in target.iterdir())
    assert remaining == sorted([archive.name, "docs-20220101-000000.tar.gz", *strangers])


def test_backup_zip_with_older_than_days(run_yaml, tmp_path):
    source = tmp_path / "site"
    content = make_tree(source)
    target = tmp_path / "out"
    target.mkdir()
    recent = target / f"site-{stamp(1)}.zip"
    ancient = target / f"site-{stamp(400)}.zip"
    recent.write_bytes(b"x")
    ancient.write_bytes(b"x")
    ran = run_yaml(f"""
        name: Zip backup
        steps:
          - id: zip
            tool: files
            action: backup
            parameters: {{source: "{source}", target: "{target}", format: zip, name: site, older_than_days: 30}}
        outputs:
          archive: "{{{{ zip.output }}}}"
          removed: "{{{{ zip.removed }}}}"
          count: "{{{{ zip.count }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    archive = Path(ran.result.outputs["archive"])
    assert archive.suffix == ".zip" and archive.exists()
    assert ran.result.outputs["removed"] == [str(ancient)]
    assert recent.exists() and not ancient.exists()
    assert ran.result.outputs["count"] == len(content)
    with zipfile.ZipFile(archive) as zf:
        assert zf.testzip() is None
        names = {n for n in zf.namelist() if not n.endswith("/")}
        assert names == {f"site/{rel}" for rel in content}
        assert zf.read("site/cache/blob.bin") == content["cache/blob.bin"]


def test_backup_target_inside_source_is_left_out_and_missing_source_fails(run_yaml, tmp_path):
    source = tmp_path / "proj"
    make_tree(source)
    ran = run_yaml(f"""
        name: Inside
        steps:
          - id: first
            tool: files
            parameters: {{source: "{source}", target: "{source}/backups"}}
          - id: second
            tool: files
            parameters: {{source: "{source}", target: "{source}/backups"}}
          - id: missing
            tool: files
            parameters: {{source: "{tmp_path}/nope", target: "{tmp_path}/b"}}
    """)
    assert ran.result.steps == {"first": "succeeded", "second": "succeeded", "missing": "failed"}
    assert f"source folder {tmp_path}/nope does not exist" in ran.result.error
    archives = sorted((source / "backups").iterdir())
    assert len(archives) == 2
    with tarfile.open(archives[-1]) as tar:
        assert not any("backups" in name for name in tar.getnames())


def test_backup_honours_the_step_timeout_and_leaves_no_partial_archive(tmp_path):
    source = tmp_path / "big"
    make_tree(source)
    target = tmp_path / "t"
    ctx = ToolContext("b", timeout=0.05)
    time.sleep(0.1)
    with pytest.raises(StepTimeoutError, match="timed out after 0.05s.*partial archive was removed"):
        files_tool.backup(ctx, {"source": str(source), "target": str(target)})
    assert list(target.iterdir()) == []


# --------------------------------------------------------------------------- copy and move


def test_copy_refuses_to_overwrite_unless_asked(run_yaml, tmp_path):
    src = tmp_path / "new.txt"
    src.write_text("new content")
    dest = tmp_path / "dest"
    dest.mkdir()
    (dest / "new.txt").write_text("precious")
    ran = run_yaml(f"""
        name: Overwrite
        steps:
          - id: careful
            tool: files
            action: copy
            parameters: {{source: "{src}", destination: "{dest}"}}
            on_error: continue
          - id: look
            tool: shell
            parameters: {{args: [cat, "{dest}/new.txt"]}}
          - id: forced
            tool: files
            action: copy
            parameters: {{source: "{src}", destination: "{dest}", overwrite: true}}
        outputs:
          error: "{{{{ careful.error }}}}"
          before: "{{{{ look.output }}}}"
          copied: "{{{{ forced.output }}}}"
          bytes: "{{{{ forced.bytes }}}}"
    """)
    assert ran.result.steps == {"careful": "continued", "look": "succeeded", "forced": "succeeded"}
    out = ran.result.outputs
    assert out["error"] == f"destination already exists: {dest}/new.txt; set `overwrite: true` to replace"
    assert out["before"] == "precious"
    assert out["copied"] == [str(dest / "new.txt")]
    assert out["bytes"] == len("new content")
    assert (dest / "new.txt").read_text() == "new content"
    assert src.exists()
    assert not [p for p in dest.iterdir() if p.name.endswith(".part")]


def test_copy_glob_folder_and_move(run_yaml, tmp_path):
    source = tmp_path / "src"
    content = make_tree(source)
    ran = run_yaml(f"""
        name: Copy and move
        steps:
          - id: texts
            tool: files
            action: copy
            parameters: {{source: "{source}/**/*.txt", destination: "{tmp_path}/texts"}}
          - id: tree
            tool: files
            action: copy
            parameters: {{source: "{source}/guide", destination: "{tmp_path}/guide_copy"}}
          - id: into
            tool: files
            action: copy
            parameters: {{source: "{source}/readme.md", destination: "{tmp_path}/docs/"}}
          - id: relocate
            tool: files
            action: move
            parameters: {{source: "{source}/data", destination: "{tmp_path}/archive/"}}
          - id: into_itself
            tool: files
            action: copy
            parameters: {{source: "{source}", destination: "{source}/guide"}}
            on_error: continue
        outputs:
          texts: "{{{{ texts.output }}}}"
          text_count: "{{{{ texts.count }}}}"
          tree_files: "{{{{ tree.files }}}}"
          tree_bytes: "{{{{ tree.bytes }}}}"
          into: "{{{{ into.output }}}}"
          moved: "{{{{ relocate.output }}}}"
          loop_error: "{{{{ into_itself.error }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    assert out["texts"] == [str(tmp_path / "texts/guide/deep/notes.txt"), str(tmp_path / "texts/guide/intro.txt")]
    assert out["text_count"] == 2
    assert (tmp_path / "texts/guide/intro.txt").read_bytes() == content["guide/intro.txt"]
    assert out["tree_files"] == 2
    assert out["tree_bytes"] == len(content["guide/intro.txt"]) + len(content["guide/deep/notes.txt"])
    assert (tmp_path / "guide_copy/deep/notes.txt").read_bytes() == content["guide/deep/notes.txt"]
    assert out["into"] == [str(tmp_path / "docs/readme.md")]
    assert out["moved"] == [str(tmp_path / "archive/data")]
    assert (tmp_path / "archive/data/table.csv").read_bytes() == content["data/table.csv"]
    assert not (source / "data").exists()
    assert out["loop_error"].startswith(f"cannot copy the folder {source} into itself")


# --------------------------------------------------------------------------- delete


@pytest.fixture
def tripwire(monkeypatch):
    """Replace the tool's removal function: any call fails the step (and so the test)."""
    calls: list[str] = []

    def refuse(path: str) -> None:
        calls.append(path)
        raise AssertionError(f"TRIPWIRE: the files tool tried to remove {path}")

    monkeypatch.setattr(files_removal, "remove_path", refuse)
    return calls


def test_delete_refuses_root_and_home_and_leaves_them_untouched(run_yaml, tmp_path, monkeypatch, tripwire):
    home = tmp_path / "home" / "user"
    home.mkdir(parents=True)
    sentinel = home / "keep.txt"
    sentinel.write_text("mine")
    monkeypatch.setenv("HOME", str(home))
    cases = {
        "root": "/",
        "root_dots": f"{tmp_path}/../../../../../../..",
        "tilde": "~",
        "home": "{{ env.HOME }}",
        "home_slash": "{{ env.HOME }}/",
        "above_home": "{{ env.HOME }}/..",
        "top_glob": "/*",
        "system": "/etc/hostname",
    }
    steps = "\n".join(f"""
          - id: {sid}
            tool: files
            action: delete
            parameters: {{path: "{path}", recursive: true}}
            on_error: continue""" for sid, path in cases.items())
    outputs = "\n".join(f'          {sid}: "{{{{ {sid}.error }}}}"' for sid in cases)
    ran = run_yaml(f"""
        name: Dangerous deletes
        steps:{steps}
        outputs:
{outputs}
    """)
    assert tripwire == []
    out = ran.result.outputs
    assert set(ran.result.steps.values()) == {"continued"}
    assert out["root"] == "refusing to delete /: it is the root of the filesystem"
    assert out["root_dots"] == "refusing to delete /: it is the root of the filesystem"
    assert out["tilde"] == f"refusing to delete {home}: it is the home directory"
    assert out["home"] == f"refusing to delete {home}: it is the home directory"
    assert out["home_slash"] == f"refusing to delete {home}: it is the home directory"
    assert out["above_home"].startswith(f"refusing to delete {tmp_path / 'home'}: it contains the home directory")
    assert out["top_glob"] == "refusing to delete /*: it is a top-level folder of the filesystem"
    assert out["system"] == "refusing to delete /etc/hostname: it is inside the system folder /etc"
    assert sentinel.read_text() == "mine"
    assert Path("/etc").is_dir() and Path("/usr").is_dir()


def test_protected_paths_are_recognised_without_touching_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "h"))
    (tmp_path / "h").mkdir()
    reason = files_tool.protected_reason
    assert reason("/") == "it is the root of the filesystem"
    assert reason("/usr") == "it is a top-level folder of the filesystem"
    assert reason("/usr/lib/x.so") == "it is inside the system folder /usr"
    assert reason("/etc/passwd") == "it is inside the system folder /etc"
    assert reason("/usr/local") == "it is inside the system folder /usr"
    assert reason("/usr/local/bin/tool") is None
    assert reason(str(tmp_path / "h")) == "it is the home directory"
    assert reason(str(tmp_path / "h" / "work")) is None
    assert reason(str(tmp_path)).startswith("it contains the home directory")
    # a path through a symbolic link among its parent folders
    (tmp_path / "real").mkdir()
    (tmp_path / "tree").mkdir()
    os.symlink(tmp_path / "real", tmp_path / "tree" / "link")
    assert reason(str(tmp_path / "tree" / "link" / "file")).startswith(
        f"its parent folder {tmp_path / 'tree' / 'link'} is a symbolic link")
    # a symbolic link to the root: the link itself may go, what it points to is written through
    os.symlink("/", tmp_path / "to_root")
    assert reason(str(tmp_path / "to_root")) is None
    assert reason(str(tmp_path / "to_root"), follow=True) == "it is the root of the filesystem"


def test_delete_files_folders_globs_and_symlinks(run_yaml, tmp_path):
    work = tmp_path / "work"
    make_tree(work)
    (work / "a.log").write_text("12345")
    (work / "b.log").write_text("123")
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.log").write_text("do not delete")
    os.symlink(precious, work / "link")
    ran = run_yaml(f"""
        name: Deletes
        steps:
          - id: not_recursive
            tool: files
            action: delete
            parameters: {{path: "{work}/guide"}}
            on_error: continue
          - id: logs
            tool: files
            action: delete
            parameters: {{path: "{work}/*.log"}}
          - id: escape
            tool: files
            action: delete
            parameters: {{path: "{work}/*/keep.log"}}
            on_error: continue
          - id: through_link
            tool: files
            action: delete
            parameters: {{path: "{work}/link/keep.log"}}
            on_error: continue
          - id: link
            tool: files
            action: delete
            parameters: {{path: "{work}/link", recursive: true}}
          - id: guide
            tool: files
            action: delete
            parameters: {{path: "{work}/guide", recursive: true}}
          - id: gone
            tool: files
            action: delete
            parameters: {{path: "{work}/guide", missing_ok: true}}
          - id: gone_strict
            tool: files
            action: delete
            parameters: {{path: "{work}/guide"}}
            on_error: continue
          - id: outside_base
            tool: files
            action: delete
            parameters: {{path: "{work}/readme.md", base: "{precious}"}}
            on_error: continue
        outputs:
          not_recursive: "{{{{ not_recursive.error }}}}"
          logs: "{{{{ logs.output }}}}"
          log_bytes: "{{{{ logs.bytes }}}}"
          escape: "{{{{ escape.error }}}}"
          through_link: "{{{{ through_link.error }}}}"
          link: "{{{{ link.output }}}}"
          guide_count: "{{{{ guide.count }}}}"
          guide_files: "{{{{ guide.files }}}}"
          gone: "{{{{ gone.output }}}}"
          gone_strict: "{{{{ gone_strict.error }}}}"
          outside_base: "{{{{ outside_base.error }}}}"
    """)
    out = ran.result.outputs
    assert ran.result.status == "SUCCESS", ran.result.error
    assert out["not_recursive"] == (f"{work}/guide is a folder with 2 entries; set `recursive: true` to delete it "
                                    "with its contents")
    assert out["logs"] == [str(work / "a.log"), str(work / "b.log")]
    assert out["log_bytes"] == 8
    assert out["escape"] == f"refusing to delete {work}/link/keep.log: it lies outside {work} through a symbolic link"
    assert out["through_link"].startswith(f"refusing to delete {work}/link/keep.log: its parent folder")
    assert out["link"] == [str(work / "link")]
    assert (precious / "keep.log").read_text() == "do not delete"
    assert not (work / "link").exists() and precious.is_dir()
    assert out["guide_count"] == 1 and out["guide_files"] == 2
    assert not (work / "guide").exists()
    assert out["gone"] == []
    assert out["gone_strict"] == f"nothing to delete: {work}/guide does not exist (set `missing_ok: true` to accept that)"
    assert out["outside_base"] == f"{work}/readme.md is outside the allowed folder {precious} (`base`)"
    assert (work / "readme.md").exists() and (work / "data/table.csv").exists()


# --------------------------------------------------------------------------- list


def test_list_with_patterns_recursion_and_sorting(run_yaml, tmp_path):
    root = tmp_path / "tree"
    content = make_tree(root)
    (root / ".hidden.txt").write_text("secret")
    ran = run_yaml(f"""
        name: Listing
        steps:
          - id: top
            tool: files
            action: list
            parameters: {{path: "{root}"}}
          - id: texts
            tool: files
            action: list
            parameters: {{path: "{root}", pattern: ["*.txt", "*.csv"], recursive: true}}
          - id: dirs
            tool: files
            action: list
            parameters: {{path: "{root}", pattern: "guide*", recursive: true, include_dirs: true}}
          - id: biggest
            tool: files
            action: list
            parameters: {{path: "{root}", recursive: true, sort: size, reverse: true, limit: 1}}
          - id: missing
            tool: files
            action: list
            parameters: {{path: "{tmp_path}/nowhere"}}
            on_error: continue
        outputs:
          top: "{{{{ top.output }}}}"
          texts: "{{{{ texts.output }}}}"
          count: "{{{{ texts.count }}}}"
          bytes: "{{{{ texts.bytes }}}}"
          dirs: "{{{{ dirs.output }}}}"
          biggest: "{{{{ biggest.entries[0].name }}}}"
          missing: "{{{{ missing.error }}}}"
    """)
    assert ran.result.status == "SUCCESS", ran.result.error
    out = ran.result.outputs
    assert out["top"] == [str(root / "readme.md"), str(root / "scratch.tmp")]
    expected = ["data/table.csv", "guide/deep/notes.txt", "guide/intro.txt"]
    assert out["texts"] == [str(root / rel) for rel in expected]
    assert out["count"] == 3
    assert out["bytes"] == sum(len(content[rel]) for rel in expected)
    assert out["dirs"] == [str(root / "guide")]
    assert out["biggest"] == "intro.txt"
    assert out["missing"] == f"folder {tmp_path}/nowhere does not exist"


# --------------------------------------------------------------------------- validation


def test_validator_reports_bad_files_parameters_with_line_numbers():
    text = """\
name: Bad files
steps:
  - id: b
    tool: files
    parameters:
      source: /data
      format: rar
      keep_last: 0
      exlude: ["*.tmp"]
  - id: c
    tool: files
    action: copy
    parameters: {source: /a}
  - id: d
    tool: files
    action: delete
    parameters:
      path: /tmp/x
      recursive: "yes"
  - id: l
    tool: files
    action: list
    parameters:
      path: /tmp
      pattern: 5
  - id: n
    tool: files
    parameters: {source: /a, target: /b, name: "a/b", keep_last: "{{ b.count }}"}
outputs:
  size: "{{ b.bytes }}"
  nope: "{{ b.archive_size }}"
"""
    report = validate_text(text, "bad.yaml")
    assert [p.format() for p in report.problems] == [
        "bad.yaml:6:7: steps[0].parameters: missing required key `target` [parameters]",
        "bad.yaml:7:15: steps[0].parameters.format: the string 'rar' is not one of `tar.gz`, `zip` [parameters]",
        "bad.yaml:8:18: steps[0].parameters.keep_last: must be at least 1, got 0 [parameters]",
        "bad.yaml:9:7: steps[0].parameters.exlude: unknown key `exlude`; did you mean `exclude`? [parameters]",
        "bad.yaml:13:17: steps[1].parameters: missing required key `destination` [parameters]",
        "bad.yaml:19:18: steps[2].parameters.recursive: expected true or false, got the string 'yes' [parameters]",
        "bad.yaml:25:16: steps[3].parameters.pattern: expected a glob pattern such as \"*.log\" or a list of them, "
        "got the integer 5 [parameters]",
        "bad.yaml:28:48: steps[4].parameters.name: expected a file name prefix of letters, digits, `.`, `_` and `-` "
        "(no `/`), got the string 'a/b' [parameters]",
        "bad.yaml:31:9: outputs.nope: step `b` has no result field `archive_size`; did you mean `archive`? (fields: "
        "archive, attempts, bytes, count, duration, error, format, output, removed, source_bytes, status, "
        "succeeded) [reference]",
    ]
    # `keep_last: "{{ b.count }}"` is a template (not type-checked) and `b.bytes` a declared field
