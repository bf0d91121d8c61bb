"""Issue 14, part 3: the format reference inside the project cannot drift from what it documents.

* Every property of the shipped JSON Schema (walked through properties, ``$defs`` and nested
  schemas), every built-in tool and action with its parameters, every template name, trigger
  kind and CLI command (with its options) appears in the reference, English and Chinese.
* The generated tables embedded in both documents equal what ``yaml2dag schema --markdown``
  prints now (run ``python scripts/update_reference.py`` after changing the schema, a tool or a
  command), and every generated table is embedded (the script and the CLI themselves, as
  subprocesses: tests/integration/test_reference_cli.py).
* Every ``yaml`` example of the reference is a valid workflow (unless marked ``# fragment``).
* README and docs link only to files that exist inside the repository.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any, Iterator

import pytest

from conftest import REPO

from yaml2dag import reference
from yaml2dag.cli.reference import all_blocks
from yaml2dag.format.schema import TRIGGER_TYPES, load_schema

DOCS = {"en": REPO / "docs/reference/workflow-format.md", "zh": REPO / "docs/reference/workflow-format_zh.md"}
LANGS = sorted(DOCS)


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return {lang: path.read_text(encoding="utf-8") for lang, path in DOCS.items()}


def walk_properties(node: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """``(path, property name)`` for every property of every object anywhere in a schema."""
    if isinstance(node, dict):
        for key, sub in (node.get("properties") or {}).items():
            yield f"{path}.{key}", key
        for key, sub in node.items():
            yield from walk_properties(sub, f"{path}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            yield from walk_properties(sub, f"{path}[{i}]")


SCHEMA_PROPERTIES = sorted(set(walk_properties(load_schema())))


def test_the_walk_sees_the_whole_schema():
    """The walk reaches the root, the $defs and nested objects (a walk that stopped at the root
    would make the coverage test below vacuous)."""
    paths = {p for p, _ in SCHEMA_PROPERTIES}
    assert "/properties/executor.max_parallel" in paths  # nested in the root
    assert "/$defs/retry.jitter" in paths
    assert "/$defs/parameter/properties/items.type" in paths  # nested in a $def
    assert "/$defs/trigger_file.recursive" in paths
    assert len({name for _, name in SCHEMA_PROPERTIES}) >= 50


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("path,name", SCHEMA_PROPERTIES, ids=[p for p, _ in SCHEMA_PROPERTIES])
def test_every_schema_property_is_in_the_reference(texts, lang, path, name):
    assert f"`{name}`" in texts[lang], f"{path} is not documented in {DOCS[lang].name}"


@pytest.mark.parametrize("lang", LANGS)
def test_every_schema_object_has_its_table(texts, lang):
    """Each object of the schema is a generated table, with a row per property."""
    blocks = reference.document_blocks(texts[lang])
    for name, obj in reference.schema_objects():
        table = blocks[f"schema.{name}"]
        for key in obj["properties"]:
            assert f"| `{key}` |" in table, f"{key} missing in table schema.{name}"


@pytest.mark.parametrize("lang", LANGS)
def test_every_tool_action_and_parameter_is_in_the_reference(texts, lang):
    blocks = reference.document_blocks(texts[lang])
    tools = reference.builtin_tools()
    assert [t.name for t in tools] == ["shell", "python", "http", "data", "files", "git", "system", "notify",
                                       "email", "llm", "approval"]
    for tool in tools:
        assert f"| `{tool.name}` |" in blocks["tools"]
        assert re.search(rf"^### 9\.\d+ `{tool.name}`$", texts[lang], re.M), f"no section for {tool.name}"
        for action in tool.actions:
            block = blocks[f"tool.{tool.name}.{action.name}"]
            for param in action.parameters.get("properties", {}):
                assert f"| `{param}` |" in block, f"{tool.name}.{action.name}: {param}"
            for field in action.result_fields:
                assert f"`{field}`" in block
    # an example step for every action (the default action may leave `action:` out)
    for tool in tools:
        examples = re.findall(rf"tool: {tool.name}\n\s+action: (\w+)", texts[lang])
        default_used = re.search(rf"tool: {tool.name}\n\s+parameters", texts[lang])
        missing = {a.name for a in tool.actions} - set(examples) - ({tool.actions[0].name} if default_used else set())
        assert not missing, f"no example step for {tool.name} action(s) {sorted(missing)}"


@pytest.mark.parametrize("lang", LANGS)
def test_every_cli_command_and_option_is_in_the_reference(texts, lang):
    import click

    from yaml2dag.cli import COMMANDS, main

    blocks = reference.document_blocks(texts[lang])
    ctx = click.Context(main, info_name="yaml2dag")
    for name in COMMANDS:
        assert f"### `yaml2dag {name}`" in texts[lang]
        assert f"`yaml2dag {name}`" in blocks["cli"]
        block = blocks[f"cli.{name}"]
        for param in main.get_command(ctx, name).params:
            for opt in getattr(param, "opts", []):
                if opt.startswith("-"):
                    assert f"`{opt}`" in block, f"{name} {opt}"
        # an example invocation of the command follows its table
        section = texts[lang].split(f"### `yaml2dag {name}`", 1)[1].split("\n### ", 1)[0]
        assert re.search(rf"`yaml2dag {name}( [^`]*)?`", section.split("<!-- END GENERATED", 1)[1])


@pytest.mark.parametrize("lang", LANGS)
def test_every_template_name_filter_and_trigger_kind_is_in_the_reference(texts, lang):
    from yaml2dag.format.expressions import FAILURE_NAMES, LOOP_NAMES, NAMESPACES
    from yaml2dag.tools.base import COMMON_RESULT_FIELDS
    from yaml2dag.format.validation import RUN_FIELDS

    text = texts[lang]
    for name in NAMESPACES:
        assert f"`{name}." in text or f"`{name}`" in text, name
    for name in LOOP_NAMES + FAILURE_NAMES:
        assert f"`{name}`" in text, name
    for field in RUN_FIELDS:
        assert f"`run.{field}`" in text, field
    for field in COMMON_RESULT_FIELDS:
        assert f"`<step>.{field}`" in text, field
    for name in ("tojson", "fromjson", "quote", "raw"):
        assert f"| `{name}` |" in text, name
    for kind in TRIGGER_TYPES:
        assert f"**`{kind}`**" in text and f"<!-- BEGIN GENERATED schema.trigger_{kind} -->" in text
        assert re.search(rf"- type: {kind}\n", text), f"no example of a {kind} trigger"


@pytest.mark.parametrize("lang", LANGS)
def test_generated_tables_equal_what_the_generator_prints(texts, lang):
    embedded = reference.document_blocks(texts[lang])
    generated = all_blocks(lang)
    missing = [name for name in generated if name not in embedded]
    stale = [name for name in embedded if name not in generated]
    assert not missing, f"generated tables not embedded in {DOCS[lang].name}: {missing}"
    assert not stale, f"embedded tables the generator no longer prints: {stale}"
    changed = [name for name in generated if embedded[name] != generated[name]]
    assert not changed, (f"{DOCS[lang].name}: tables out of date: {changed}; "
                         "run `python scripts/update_reference.py`")


def test_update_document_replaces_only_the_blocks():
    text = "intro\n<!-- BEGIN GENERATED a -->\nold\n<!-- END GENERATED a -->\nmiddle\n" \
           "<!-- BEGIN GENERATED b -->\n<!-- END GENERATED b -->\nend\n"
    new, missing = reference.update_document(text, {"a": "| new |", "b": "B", "c": "C"})
    assert new == ("intro\n<!-- BEGIN GENERATED a -->\n| new |\n<!-- END GENERATED a -->\nmiddle\n"
                   "<!-- BEGIN GENERATED b -->\nB\n<!-- END GENERATED b -->\nend\n")
    assert missing == ["c"]
    assert reference.document_blocks(new) == {"a": "| new |", "b": "B"}
    with pytest.raises(ValueError, match="twice"):
        reference.document_blocks(text + text)


def test_tables_follow_the_schema_property_by_property():
    """Property: a key added anywhere in the schema shows up in the table of its object, with
    its type, required flag, default and description (the generator walks, it does not list)."""
    schema = load_schema()
    for name, obj in reference.schema_objects(schema):
        changed = copy.deepcopy(schema)
        target = dict(reference.schema_objects(changed))[name]
        target["properties"]["zz_added"] = {"type": "integer", "minimum": 2, "default": 7,
                                            "description": "Added for the test."}
        target.setdefault("required", []).append("zz_added")
        table = reference.schema_blocks("en", changed)[f"schema.{name}"]
        assert "| `zz_added` | integer, minimum 2 | yes | `7` | Added for the test. |" in table, name
        # and a new nested object gets a table of its own
        target["properties"]["zz_nested"] = {"type": "object", "properties": {"inner": {"type": "string"}}}
        assert f"schema.{name}.zz_nested" in reference.schema_blocks("en", changed)


@pytest.mark.parametrize("description,default", [
    ("Counts the first try. Default 3.", "3"),
    ("Dagster job name. Default: the name, slugified.", "the name, slugified"),
    ("Fail the step on a non-zero exit code (default true).", "true"),
    ("Archive format (default tar.gz).", "tar.gz"),
    ("Typed inputs: a declaration, or a bare default whose type is inferred.", "—"),
    ("Shape of `output`: list of commits (default), text lines or markdown.", "—"),
    ("", "—"),
])
def test_defaults_read_from_descriptions(description, default):
    assert reference.default_text({"description": description}) == default
    assert reference.default_text({"default": "x", "description": description}) == "`x`"
    assert reference.default_text({"enum": ["info", "warning"], "description": "info (default), warning"}) == "`info`"


def test_cells_never_break_a_table_row():
    row = reference._table(["a", "b"], [["x | y", "line\nbreak"]]).splitlines()[-1]
    assert row == "| x \\| y | line break |"


@pytest.mark.parametrize("lang", LANGS)
def test_every_yaml_example_is_a_valid_workflow(texts, lang):
    from yaml2dag.format.validation import validate_text

    examples = 0
    for match in re.finditer(r"```yaml\n(.*?)```", texts[lang], re.S):
        block = match.group(1)
        if block.lstrip().startswith("# fragment"):
            continue
        line = texts[lang][:match.start()].count("\n") + 2
        report = validate_text(block, f"{DOCS[lang].name}:{line}")
        errors = [p.format() for p in report.problems if p.is_error]
        assert not errors, "\n".join(errors)
        examples += 1
    assert examples >= 15


# --------------------------------------------------------------------------- links

_LINK = re.compile(r"(?<!!)\[(?:[^\]]*)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_FENCE = re.compile(r"^(```|~~~).*?^\1", re.S | re.M)


def _links(path: Path) -> list[tuple[int, str]]:
    text = _FENCE.sub(lambda m: "\n" * m.group(0).count("\n"), path.read_text(encoding="utf-8"))
    text = re.sub(r"`[^`\n]*`", lambda m: " " * len(m.group(0)), text)
    return [(n, m.group(1)) for n, line in enumerate(text.splitlines(), 1) for m in _LINK.finditer(line)]


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[`*_]|<[^>]+>", "", heading.strip().lower())
    text = "".join(c for c in text if c.isalnum() or c in " -")
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = _FENCE.sub("", path.read_text(encoding="utf-8"))
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.*)$", text, re.M):
        slug = _slug(heading)
        n = seen.get(slug, 0)
        out.add(slug if n == 0 else f"{slug}-{n}")
        seen[slug] = n + 1
    return out


DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").rglob("*.md"))]


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_links_resolve_inside_the_repository(path):
    root = REPO.resolve()
    problems = []
    for line, target in _links(path):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):
            if path.name == "README.md":
                problems.append(f"{line}: {target}: the README links only to files of the repository")
            continue
        file_part, _, anchor = target.partition("#")
        resolved = (path.parent / file_part).resolve() if file_part else path.resolve()
        if resolved != root and root not in resolved.parents:
            problems.append(f"{line}: {target}: outside the repository")
        elif not resolved.exists():
            problems.append(f"{line}: {target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved):
            problems.append(f"{line}: {target}: no heading #{anchor} in {resolved.name}")
    assert not problems, f"{path.relative_to(REPO)}:\n" + "\n".join(problems)


@pytest.mark.parametrize("path", DOC_FILES, ids=lambda p: str(p.relative_to(REPO)))
def test_docs_do_not_send_users_to_the_shared_spec(path):
    """Users have the repository, not /work/shared: the format reference is docs/reference/."""
    assert "shared/spec" not in path.read_text(encoding="utf-8")


def test_link_checker_finds_bad_links(tmp_path):
    """The checker itself: links outside, missing files and missing anchors are caught; links in
    code are not links."""
    doc = tmp_path / "x.md"
    doc.write_text("# Title\n[a](../../etc/passwd) [b](missing.md) [c](#title) [d](#nope)\n"
                   "`[e](nowhere.md)`\n```\n[f](nowhere.md)\n```\n")
    assert _links(doc) == [(2, "../../etc/passwd"), (2, "missing.md"), (2, "#title"), (2, "#nope")]
    assert _anchors(doc) == {"title"}
    assert _slug("9. Deploying: module code location or `dg` project") == \
        "9-deploying-module-code-location-or-dg-project"
    assert _slug("6. 并行组、分支、switch 与子工作流") == "6-并行组分支switch-与子工作流"
