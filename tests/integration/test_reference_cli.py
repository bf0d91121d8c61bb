"""Issue 14, part 3 through real subprocesses: the generator of the format reference's tables.

* ``python scripts/update_reference.py --check`` passes (the tables embedded in both documents
  are what the generator prints now) and rewriting is idempotent.
* ``yaml2dag schema --markdown`` (English and Chinese) prints exactly the tables the documents
  embed and never imports Dagster; plain ``yaml2dag schema`` prints the JSON Schema, Dagster-free.

The in-process checks of the same reference are in tests/unit/test_reference.py.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from conftest import REPO, run_cli_counting_dagster, run_process

from yaml2dag import reference
from yaml2dag.cli.reference import all_blocks

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from test_reference import DOCS, LANGS  # noqa: E402


@pytest.fixture(scope="module")
def texts() -> dict[str, str]:
    return {lang: path.read_text(encoding="utf-8") for lang, path in DOCS.items()}


def test_update_script_check_passes_and_rewrite_is_idempotent(texts):
    done = run_process([sys.executable, "scripts/update_reference.py", "--check"], cwd=REPO)
    assert done.code == 0, done.stdout + done.stderr
    for lang, text in texts.items():
        new, missing = reference.update_document(text, all_blocks(lang))
        assert new == text and missing == []


@pytest.mark.parametrize("lang", LANGS)
def test_schema_markdown_cli_prints_the_tables_without_dagster(lang):
    """`yaml2dag schema --markdown` is the generator, stays Dagster-free, and prints what the
    documents embed."""
    done = run_cli_counting_dagster("schema", "--markdown", "--lang", lang)
    assert done.stderr.strip().splitlines()[-1] == "EXIT 0 DAGSTER 0", done.stderr
    assert reference.document_blocks(done.stdout) == all_blocks(lang)
    plain = run_cli_counting_dagster("schema")
    assert plain.stdout.startswith("{") and plain.stderr.strip().splitlines()[-1] == "EXIT 0 DAGSTER 0"
