"""The name index (issue 13, part 1): names and ids read without validating the folder, the same
as the loader reads them; one file validated with the checks across files that concern it; the
code location's job names."""

from __future__ import annotations

from pathlib import Path

import pytest

from conftest import write

# (header, expected name, expected id) — every case is also compared with the loader's reading
HEADERS = [
    ("name: Plain Name\n", "Plain Name", "plain_name"),
    ("name: 'Single ''quoted'''\n", "Single 'quoted'", "single_quoted_"),
    ('name: "Double quoted" # comment\n', "Double quoted", "double_quoted"),
    ("name: With comment # here\n", "With comment", "with_comment"),
    ("---\nname: After marker\n", "After marker", "after_marker"),
    ("# lead\nname: Commented\nid: custom_id\n", "Commented", "custom_id"),
    ("name: Multi\n  line plain\n", "Multi line plain", "multi_line_plain"),
    ("name: |\n  block\n", "block\n", "block_"),
    ("name: &anchor Anchored\n", "Anchored", "anchored"),
    ("name: yes\n", "", ""),
    ("name: 123\n", "", ""),
    ('name: "esc\\u0041ped"\n', "escAped", "escaped"),
    ("{name: Flow, id: flow_id}\n", "Flow", "flow_id"),
    ("name: Dup\nname: Dup2\n", None, None),
    ("id: 7\nname: Numeric id\n", "Numeric id", "numeric_id"),
    ("name: x: y\n", None, None),
    ("- just a list\n", "", ""),
    ("", "", ""),
]


@pytest.mark.parametrize("header,name,wid", HEADERS)
def test_the_scan_reads_names_and_ids_as_the_loader_does(tmp_path, header, name, wid):
    from yaml2dag.format.name_index import read_entry
    from yaml2dag.format.validation import validate_file

    path = tmp_path / "wf.yaml"
    path.write_text(header + ("steps: []\n" if header.startswith(("name", "---", "#", "id")) else ""))
    entry = read_entry(path)
    report = validate_file(path)
    wf = report.workflow
    assert entry.name == (wf.name if wf is not None else "")
    assert entry.id == (wf.id if wf is not None else "")
    if name is not None:
        assert (entry.name, entry.id) == (name, wid)


def _folder(tmp_path: Path) -> Path:
    defs = tmp_path / "definitions"
    write(defs, "a.yaml", """
        name: a
        steps:
          - {id: b, tool: shell, parameters: {command: "echo a"}}
    """)
    write(defs, "z.yaml", """
        name: Other
        id: a__b
        steps:
          - {id: x, tool: shell, parameters: {command: "echo x"}}
    """)
    write(defs, "dup.yaml", """
        name: A
        steps:
          - {id: c, tool: shell, parameters: {command: "echo dup"}}
    """)
    write(defs, "parent.yaml", """
        name: Parent
        steps:
          - {id: sub, workflow: child}
    """)
    write(defs, "child.yaml", """
        name: Child
        steps:
          - {id: inner, tool: shell, parameters: {command: "echo child"}}
    """)
    write(defs, "broken.yaml", """
        name: Broken
        steps:
          - {id: s, tool: shel, parameters: {command: "echo"}}
    """)
    write(defs, "etl.yaml", """
        name: etl
        steps:
          - {id: load, tool: shell, parameters: {command: "echo"}}
    """)
    write(defs, "etl_daily.yaml", """
        name: etl_daily
        steps:
          - {id: load, tool: shell, parameters: {command: "echo"}}
    """)
    return defs


def test_one_file_validated_with_the_index_has_the_problems_the_whole_folder_gives_it(tmp_path):
    from yaml2dag.format.name_index import NameIndex
    from yaml2dag.format.workflow_folder import WorkflowFolder

    defs = _folder(tmp_path)
    whole = {r.file: r for r in WorkflowFolder(defs).reports()}
    for entry in NameIndex(defs).entries:
        alone = NameIndex(defs).report(entry)  # a fresh index per file: nothing shared
        assert [p.format() for p in alone.problems] == [p.format() for p in whole[entry.file].problems], entry.file
        assert alone.valid == whole[entry.file].valid


def test_job_names_keep_valid_ids_and_give_stand_ins_free_names(tmp_path):
    from yaml2dag.format.name_index import NameIndex

    defs = _folder(tmp_path)
    keys = {Path(f).name: k for f, k in NameIndex(defs).keys().items()}
    assert keys["a.yaml"] == "a" and keys["parent.yaml"] == "parent" and keys["child.yaml"] == "child"
    assert keys["etl.yaml"] == "etl" and keys["etl_daily.yaml"] == "etl_daily"  # related ids, both valid
    assert keys["z.yaml"] == "z"  # `a__b` is the op of job a's step b
    assert keys["dup.yaml"] == "dup"  # `a` is a.yaml's
    assert keys["broken.yaml"] == "broken"
    assert len(set(keys.values())) == len(keys)


def test_finding_a_workflow_validates_only_it_and_what_it_names(tmp_path, monkeypatch):
    from yaml2dag.format.errors import WorkflowNotFoundError
    from yaml2dag.format.name_index import TRACE_ENV, NameIndex

    defs = _folder(tmp_path)
    trace = tmp_path / "trace"
    monkeypatch.setenv(TRACE_ENV, str(trace))
    index = NameIndex(defs)
    report = index.find("PARENT")
    assert report.valid and report.workflow.name == "Parent"
    assert sorted(Path(line.split()[-1]).name for line in trace.read_text().splitlines()) == ["child.yaml",
                                                                                              "parent.yaml"]
    assert index.find("etl_daily").workflow.name == "etl_daily"  # by job id
    assert index.find(str(defs / "child.yaml")).workflow.name == "Child"  # by path
    assert not index.find("dup").valid  # by file name; its name is a.yaml's, ignoring case
    with pytest.raises(WorkflowNotFoundError, match="did you mean `Parent`"):
        index.find("Parnet")
    workflow, folder = index.resolver()("child")
    assert workflow.name == "Child" and folder == str(defs.resolve())


def test_the_index_and_the_run_lookup_import_no_dagster(tmp_path):
    import subprocess
    import sys

    defs = _folder(tmp_path)
    code = ("import sys; from yaml2dag.format.name_index import NameIndex; i = NameIndex(sys.argv[1]); "
            "i.keys(); i.find('Parent'); print(sum(1 for m in sys.modules if m.split('.')[0] == 'dagster'))")
    done = subprocess.run([sys.executable, "-c", code, str(defs)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "0"
