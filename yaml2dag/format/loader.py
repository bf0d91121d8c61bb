"""Loading workflow files: safe YAML (or JSON) with the position of every node.

Files are read with PyYAML's safe loader only (the libyaml C loader when PyYAML was built with
it), so no Python tags or arbitrary objects can be constructed (spec, introduction). Unlike
``yaml.safe_load`` this loader keeps the line and column of every key and value, reports
duplicate keys (YAML would silently keep the last one), and recognises the most common YAML
trap in template-heavy files: an unquoted ``{{ ... }}`` that YAML reads as a nested mapping.

The modules of one concept each: :mod:`yaml2dag.format.document` (:class:`Document`, paths),
:mod:`yaml2dag.format.yaml_builder` (node trees to values with positions, limits),
:mod:`yaml2dag.format.json_fallback` (the JSON retry) and :mod:`yaml2dag.format.workflow_files`
(finding files); their public names stay importable from here.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import yaml

from yaml2dag.format.errors import Problem
from yaml2dag.format import limits
from yaml2dag.format.limits import MAX_FILE_BYTES, RULE as LIMIT_RULE
from yaml2dag.format.document import DocPath, Document, format_path
from yaml2dag.format.json_fallback import _load_json_fallback
from yaml2dag.format.yaml_builder import MAX_ALIAS_VALUES, LimitExceeded, _Builder, _Loader
from yaml2dag.format.workflow_files import WORKFLOW_SUFFIXES, iter_workflow_files


def load_text(text: str, file: str = "<string>") -> Document:
    """Parse workflow text (YAML or JSON) into a :class:`Document`.

    Never raises for bad input: syntax errors become problems with rule ``syntax``; text over
    :data:`~yaml2dag.format.limits.MAX_FILE_BYTES`, nesting deeper than
    :data:`~yaml2dag.format.limits.MAX_DEPTH` and recursive aliases one problem with rule ``limit``
    (and no data); integers outside 64 bits (``limit``) and NaN or infinite numbers
    (``number``) a problem each. Anything else that goes wrong while parsing is a bug, reported
    as a problem with rule ``internal`` rather than raised.
    """
    encoded = text.encode("utf-8", "surrogatepass")
    doc = Document(file=file, text=text, content_hash=hashlib.sha256(encoded).hexdigest())
    if len(encoded) > MAX_FILE_BYTES:
        doc.problems.append(_too_big(file, len(encoded)))
        doc.text = ""
        return doc
    if len(encoded) > limits.PRESCAN_BYTES:  # a large file of too many steps is refused before it is parsed
        where = limits.too_many_steps(text)
        if where is not None:
            doc.problems.append(Problem(file, where[0], where[1], "steps", f"the workflow has more than "
                                        f"{limits.MAX_STEPS:,} steps; a workflow has at most {limits.MAX_STEPS:,} "
                                        "(split it into sub-workflows)", LIMIT_RULE,
                                        end_column=doc.end_column(*where)))
            return doc
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            doc.problems.append(Problem(file, 1, 1, "", "the file is empty", "syntax"))
            return doc
        doc.data = _Builder(loader, doc).build(node, ())
    except LimitExceeded as exc:
        doc.data = None
        doc.problems.append(Problem(file, exc.line, exc.column, format_path(exc.path), exc.message, LIMIT_RULE,
                                    end_column=doc.end_column(exc.line, exc.column)))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        message = " ".join(part for part in (exc.context, exc.problem) if part) or str(exc)
        lines = text.splitlines()
        if mark and line <= len(lines) and lines[line - 1][col - 1 : col] == "\t":
            message += " (a tab: YAML is indented with spaces only)"
        if file.endswith(".json"):
            return _load_json_fallback(text, doc, line, col)
        doc.problems.append(Problem(file, line, col, "", f"invalid YAML: {message}", "syntax",
                                    end_column=doc.end_column(line, col)))
    except yaml.YAMLError as exc:  # pragma: no cover - errors without marks are rare
        doc.problems.append(Problem(file, 1, 1, "", f"invalid YAML: {exc}", "syntax"))
    except Exception as exc:  # noqa: BLE001 - a bug: one file never takes the others down
        doc.data = None
        doc.problems.append(internal_problem(file, exc, "reading this file"))
    finally:
        loader.dispose()
    return doc


def internal_problem(file: str, exc: BaseException, doing: str = "validating this file") -> Problem:
    """The problem (rule ``internal``, at 1:1) for an unexpected exception while ``doing``
    something with ``file``: the file is treated as invalid and the others go on."""
    detail = str(exc).splitlines()[0][:200] if str(exc) else ""
    return Problem(file, 1, 1, "", f"yaml2dag failed while {doing} ({type(exc).__name__}"
                   + (f": {detail}" if detail else "") + "); this is a bug in yaml2dag, please report it "
                   "with the file", "internal")


def _too_big(file: str, size: int) -> Problem:
    return Problem(file, 1, 1, "", f"the file is {size:,} bytes; a workflow file is at most {MAX_FILE_BYTES:,} "
                   "bytes (1 MiB)", LIMIT_RULE)



def load_file(path: str | Path, display: str | None = None) -> Document:
    """Read and parse one workflow file.

    Args:
        path: the file.
        display: the name to use in problems (default: ``str(path)``).

    Returns:
        A :class:`Document`; unreadable files give one ``syntax`` problem instead of raising.
    """
    name = display if display is not None else str(path)
    try:
        size = os.stat(path).st_size
        if size > MAX_FILE_BYTES:  # refused before anything is read
            doc = Document(file=name, text="")
            doc.problems.append(_too_big(name, size))
            return doc
        raw = Path(path).read_bytes()
    except OSError as exc:
        doc = Document(file=name, text="")
        doc.problems.append(Problem(name, 0, 0, "", f"cannot read file: {exc.strerror or exc}", "syntax"))
        return doc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        doc = Document(file=name, text="")
        doc.problems.append(Problem(name, 1, 1, "", f"the file is not UTF-8 text ({exc.reason})", "syntax"))
        return doc
    doc = load_text(text, name)
    doc.content_hash = hashlib.sha256(raw).hexdigest()
    return doc


__all__ = [
    "DocPath", "Document", "LimitExceeded", "MAX_ALIAS_VALUES", "WORKFLOW_SUFFIXES", "format_path",
    "internal_problem", "iter_workflow_files", "load_file", "load_text",
]
