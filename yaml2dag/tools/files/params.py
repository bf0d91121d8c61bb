"""Parameter schemas of the ``files`` tool's actions (JSON Schema, checked by the validator).

Every schema is a plain dict: ``BACKUP_PARAMETERS``, ``COPY_PARAMETERS`` (= ``MOVE_PARAMETERS``),
``DELETE_PARAMETERS``, ``LIST_PARAMETERS``; :data:`FORMATS` maps the archive formats of
``backup`` to their file name extensions. Spec §6, issue #4.
"""

from __future__ import annotations

import re


#: Archive formats of ``backup`` and their file name extensions.
FORMATS = {"tar.gz": ".tar.gz", "zip": ".zip"}

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

_PATH = {"type": "string", "minLength": 1}
_BASE = {
    "type": "string", "minLength": 1,
    "description": "When set, every path of the step must resolve inside this folder.",
}
_GLOBS = {
    "anyOf": [{"type": "string", "minLength": 1},
              {"type": "array", "items": {"type": "string", "minLength": 1}}],
    "x-expected": "a glob pattern such as \"*.log\" or a list of them",
}

BACKUP_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["source", "target"],
    "properties": {
        "source": dict(_PATH, description="Folder to back up."),
        "target": dict(_PATH, description="Folder the archive is written to (created if missing)."),
        "format": {"enum": list(FORMATS), "description": "Archive format (default tar.gz)."},
        "name": {"type": "string", "pattern": _NAME.pattern,
                 "x-expected": "a file name prefix of letters, digits, `.`, `_` and `-` (no `/`)",
                 "description": "Archive name prefix (default: the source folder's name)."},
        "keep_last": {"type": "integer", "minimum": 1,
                      "description": "Keep at most this many archives of this name (the new one included)."},
        "older_than_days": {"type": "number", "minimum": 0,
                            "description": "Remove archives of this name older than this many days."},
        "exclude": dict(_GLOBS, description="Glob patterns of files and folders to leave out."),
        "base": _BASE,
    },
}

_TRANSFER_PROPERTIES = {
    "source": dict(_PATH, description="A file, a folder or a glob pattern."),
    "destination": dict(_PATH, description="Target path, or folder when it ends with `/`, exists "
                                           "as a folder or the source is a glob."),
    "overwrite": {"type": "boolean", "description": "Replace existing destinations (default false)."},
    "base": _BASE,
}

COPY_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["source", "destination"],
    "properties": _TRANSFER_PROPERTIES,
}

MOVE_PARAMETERS = COPY_PARAMETERS

DELETE_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": dict(_PATH, description="A file, a folder or a glob pattern."),
        "recursive": {"type": "boolean", "description": "Delete folders with their contents (default false)."},
        "missing_ok": {"type": "boolean", "description": "Succeed when nothing matches (default false)."},
        "dry_run": {"type": "boolean", "description": "Report what would be deleted, delete nothing."},
        "base": _BASE,
    },
}

LIST_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["path"],
    "properties": {
        "path": dict(_PATH, description="Folder to list."),
        "pattern": dict(_GLOBS, description="Glob pattern(s) matched against names (default \"*\")."),
        "recursive": {"type": "boolean", "description": "Look into sub-folders (default false)."},
        "include_dirs": {"type": "boolean", "description": "List matching folders too (default false)."},
        "include_hidden": {"type": "boolean", "description": "List names starting with `.` (default false)."},
        "sort": {"enum": ["name", "modified", "size"], "description": "Order of the result (default name)."},
        "reverse": {"type": "boolean", "description": "Reverse the order (newest/largest first)."},
        "limit": {"type": "integer", "minimum": 1, "description": "Return at most this many entries."},
    },
}


