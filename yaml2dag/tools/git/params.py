"""Parameter schemas of the ``git`` tool's actions (JSON Schema, checked by the validator).

``CLONE_PARAMETERS``, ``PULL_PARAMETERS``, ``STATUS_PARAMETERS``, ``LOG_PARAMETERS``,
``CHECKOUT_PARAMETERS``. Values git could read as options (starting with ``-``) are refused
here already; :data:`GIT_DATE_PATTERN` is the closed set of dates ``since``/``until`` accept
(git-log(1), ``--since``), because git's own date parser reads unknown text as "now".
"""

from __future__ import annotations


_NOT_OPTION = {"pattern": r"^[^-]", "x-expected": "a value that does not start with `-`"}
_DIRECTORY = {"type": "string", "minLength": 1, "description": "The repository's folder (a work tree)."}
_REF = dict(_NOT_OPTION, type="string", minLength=1)

_UNIT = r"(second|minute|hour|day|week|month|year)s?"
_WEEKDAY = r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
#: Dates ``git log --since/--until`` reads the way they look. git's own parser (approxidate)
#: accepts anything and quietly reads text it does not understand as "now" (``since: "not a
#: date"`` finds no commits) or as something else (``36h`` lands in the future, ``1 sec ago`` is
#: two days), so only these forms are accepted (git-log(1), "--since"; checked at validation
#: and again after a template renders):
#: ISO dates and date-times, ``@UNIX-SECONDS``, ``now``/``today``/``yesterday``/``noon``/
#: ``midnight``, ``last week|month|year|<weekday>`` and ages of whole units such as
#: ``2 weeks ago``, ``1 hour 30 minutes ago`` or ``1.week.ago`` (``ago`` may be left out).
GIT_DATE_PATTERN = (
    r"^\s*("
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
    r"([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?\s?(Z|[+-][0-9]{2}:?[0-9]{2})?)?"
    r"|@[0-9]+"
    r"|now|today|yesterday|noon|midnight|yesterday noon|yesterday midnight"
    rf"|last (week|month|year|{_WEEKDAY})"
    rf"|[0-9]+[ .]{_UNIT}(,?[ .][0-9]+[ .]{_UNIT})*([ .]ago)?"
    r")\s*$"
)
_GIT_DATE = {
    "type": "string", "pattern": GIT_DATE_PATTERN,
    "x-expected": "a date (\"2024-05-01\"), a date-time (\"2024-05-01T08:00:00Z\"), \"@<unix seconds>\", "
                  "\"today\", \"yesterday\", \"last monday\" or an age in whole units "
                  "(\"1 day ago\", \"2 weeks ago\", \"1 hour 30 minutes ago\")",
}

CLONE_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["url", "directory"],
    "properties": {
        "url": dict(_NOT_OPTION, type="string", minLength=1,
                    description="Repository URL or path (https://, ssh://, git@host:path, /srv/repo.git)."),
        "directory": dict(_DIRECTORY, description="Folder to clone into."),
        "branch": dict(_REF, description="Branch or tag to check out (default: the remote's HEAD)."),
        "depth": {"type": "integer", "minimum": 1, "description": "Shallow clone with this many commits."},
        "if_exists": {"enum": ["fail", "skip", "pull"],
                      "description": "When `directory` already holds a repository (default fail)."},
    },
}

PULL_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["directory"],
    "properties": {
        "directory": _DIRECTORY,
        "remote": dict(_REF, description="Remote to pull from (default: the branch's upstream, else origin)."),
        "branch": dict(_REF, description="Remote branch to pull (default: the upstream branch)."),
        "ff_only": {"type": "boolean", "description": "Only fast-forward (default true); false merges."},
    },
}

STATUS_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["directory"],
    "properties": {
        "directory": _DIRECTORY,
        "untracked": {"type": "boolean", "description": "Report untracked files (default true)."},
    },
}

LOG_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["directory"],
    "properties": {
        "directory": _DIRECTORY,
        "since": dict(_GIT_DATE, description="Commits after this date: \"2024-05-01\", \"1 day ago\", \"yesterday\"."),
        "until": dict(_GIT_DATE, description="Commits before this date (same forms as `since`)."),
        "author": {
            "anyOf": [{"type": "string", "minLength": 1},
                      {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}],
            "x-expected": "an author pattern or a list of them",
            "description": "Only commits whose author name or email matches (a regex; a list ORs).",
        },
        "max_count": {"type": "integer", "minimum": 1, "description": "At most this many commits."},
        "ref": dict(_REF, description="Revision or range to walk (default HEAD), e.g. `main` or `v1.0..main`."),
        "all": {"type": "boolean", "description": "Walk all branches and tags (default false)."},
        "no_merges": {"type": "boolean", "description": "Leave out merge commits (default false)."},
        "paths": {"type": "array", "items": {"type": "string", "minLength": 1},
                  "description": "Only commits touching these paths."},
        "format": {"enum": ["list", "text", "markdown"],
                   "description": "Shape of `output`: list of commits (default), text lines or markdown."},
    },
}

CHECKOUT_PARAMETERS = {
    "type": "object",
    "additionalProperties": False,
    "required": ["directory", "ref"],
    "properties": {
        "directory": _DIRECTORY,
        "ref": dict(_REF, description="Branch, tag or commit to check out (a new branch's name with `create`)."),
        "create": {"type": "boolean", "description": "Create branch `ref` (default false)."},
        "start_point": dict(_REF, description="With `create`: where the new branch starts (default HEAD)."),
    },
}


