"""Every tag and marker key comes from yaml2dag/format/tags.py, every node suffix from
yaml2dag/format/naming.py: no other module spells one out (issue 11, "every tag name and node
suffix comes from one place"), so the compiler that writes them and the runs, history, tracking
and triggers that read them cannot drift apart."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from yaml2dag.format import naming, tags

PACKAGE = Path(__file__).resolve().parents[2] / "yaml2dag"
SUFFIXES = (*naming.HELPER_SUFFIXES, naming.FAILURE_HOOK_SUFFIX)
#: Keys that are deliberately the same key under a second name (job metadata reuses run tag keys).
ALIASES = {"META_FILE", "META_VERSION", "META_WORKFLOW", "KEY_PREFIX"}


def _code_strings(path: Path) -> list[tuple[int, str]]:
    """String constants of a module that are not docstrings, with their line."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = set()
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if isinstance(body, list) and body and isinstance(body[0], ast.Expr) \
                and isinstance(body[0].value, ast.Constant) and isinstance(body[0].value.value, str):
            docstrings.add(id(body[0].value))
    return [(n.lineno, n.value) for n in ast.walk(tree)
            if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in docstrings]


def _modules() -> list[Path]:
    return [p for p in sorted(PACKAGE.rglob("*.py")) if "schema" not in p.parts]


def test_tag_keys_are_distinct_and_namespaced():
    keys = {name: value for name, value in tags.all_keys().items() if name not in ALIASES}
    assert len(keys) > 30
    assert len(set(keys.values())) == len(keys), "two names for one key"
    assert all(value.startswith(tags.PREFIX) for value in keys.values())


def test_no_module_but_tags_spells_out_a_yaml2dag_key():
    found = []
    for path in _modules():
        if path.name == "tags.py" and path.parent.name == "format":
            continue
        for line, text in _code_strings(path):
            if text.startswith(tags.PREFIX) and text != tags.PREFIX:
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}")
    assert not found, "use a constant of yaml2dag.format.tags:\n" + "\n".join(found)


@pytest.mark.parametrize("suffix", SUFFIXES)
def test_no_module_but_naming_spells_out_a_node_suffix(suffix):
    found = []
    for path in _modules():
        if path.name == "naming.py" and path.parent.name == "format":
            continue
        for line, text in _code_strings(path):
            if text == suffix or (text.endswith(suffix) and "{" in text):
                found.append(f"{path.relative_to(PACKAGE.parent)}:{line}: {text!r}")
    assert not found, "use a constant of yaml2dag.format.naming:\n" + "\n".join(found)


@pytest.mark.parametrize("node, step", [
    ("deploy__when", "deploy"), ("each[2]", "each"), ("each__results", "each"), ("each__items", "each"),
    ("sub__parameters", "sub"), ("plain", "plain"), ("__when", "__when"), ("a__b", "a__b"),
])
def test_step_of_node(node, step):
    assert naming.step_of_node(node) == step
