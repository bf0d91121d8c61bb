#!/usr/bin/env python3
"""Regenerate the generated tables of the format reference in place.

    python scripts/update_reference.py           # rewrite the blocks of both documents
    python scripts/update_reference.py --check   # exit 1 when a document is out of date

The tables come from ``yaml2dag schema --markdown`` (:mod:`yaml2dag.reference`: the JSON Schema,
the built-in tools' parameter schemas and the CLI's click commands). Each document embeds them
between ``<!-- BEGIN GENERATED name -->`` and ``<!-- END GENERATED name -->``; the prose around
them is hand-written and left untouched. A block the generator prints but a document does not
embed is reported (exit 1): place its markers where it belongs, then run this again.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCUMENTS = {"en": REPO / "docs/reference/workflow-format.md", "zh": REPO / "docs/reference/workflow-format_zh.md"}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 when out of date")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(REPO))
    from yaml2dag.cli.reference import all_blocks
    from yaml2dag.reference import update_document

    status = 0
    for lang, path in DOCUMENTS.items():
        if not path.is_file():
            print(f"{path.relative_to(REPO)}: missing")
            status = 1
            continue
        text = path.read_text(encoding="utf-8")
        new, missing = update_document(text, all_blocks(lang))
        for name in missing:
            print(f"{path.relative_to(REPO)}: generated block {name!r} is not embedded; add its markers")
            status = 1
        if new != text:
            if args.check:
                print(f"{path.relative_to(REPO)}: generated tables are out of date")
                status = 1
            else:
                path.write_text(new, encoding="utf-8")
                print(f"{path.relative_to(REPO)}: updated")
    return status


if __name__ == "__main__":
    sys.exit(main())
