"""The library commands (issue #6): ``create``, ``edit``, ``delete``, ``schedule``, ``export``,
``import``, ``versions``, ``rollback``, ``diff``.

The definitions folder is the source of truth. Every change goes through
:mod:`yaml2dag.library.versions` (validated first, never an invalid file; version bumped; previous file
kept under ``.versions/<job>/``) and every edit of an existing file through
:mod:`yaml2dag.library.roundtrip` (comments, key order and quoting kept). None of these commands
imports Dagster.

Questions (``create --interactive``, confirmations) are read line by line from stdin, so a
script can pipe the answers; with ``--format json`` the questions and previews go to stderr and
stdout carries exactly one JSON document. Exit codes: 0 done, 1 nothing saved (invalid
content, refused, declined), 2 usage errors (unknown workflow, bad option).

One module per command group (:data:`yaml2dag.cli.COMMANDS` names each command's module):

- :mod:`yaml2dag.cli.library.common`: what the commands share (the folder, a workflow in it,
  questions, printing a change);
- :mod:`yaml2dag.cli.library.prompts`: the dialogue of ``create --interactive`` and the
  rephrasing of a description;
- :mod:`yaml2dag.cli.library.creating`: ``create``;
- :mod:`yaml2dag.cli.library.editing`: ``edit``;
- :mod:`yaml2dag.cli.library.deleting`: ``delete``;
- :mod:`yaml2dag.cli.library.scheduling`: ``schedule``;
- :mod:`yaml2dag.cli.library.transfer`: ``export`` and ``import``;
- :mod:`yaml2dag.cli.library.versioning`: ``versions``, ``rollback`` and ``diff``.
"""

from __future__ import annotations

from yaml2dag.cli.library.common import YES_OPTION
from yaml2dag.cli.library.creating import create
from yaml2dag.cli.library.deleting import delete
from yaml2dag.cli.library.editing import edit
from yaml2dag.cli.library.scheduling import schedule
from yaml2dag.cli.library.transfer import export, import_
from yaml2dag.cli.library.versioning import diff, rollback, versions

__all__ = ["YES_OPTION", "create", "delete", "diff", "edit", "export", "import_", "rollback", "schedule", "versions"]
