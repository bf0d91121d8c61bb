"""``yaml2dag create NAME --describe "..."``: a workflow drafted from one English sentence.

The grammar is small and documented (docs/manual/library_en.md, "Describing a workflow"). A
description is read in four passes:

1. **Schedule phrases** are taken out first, wherever they are:

   =====================================  =====================
   phrase                                 cron
   =====================================  =====================
   every day / daily / every night [at T] ``M H * * *`` (no time: midnight)
   every morning/afternoon/evening at T   ``M H * * *`` (a time is required)
   every weekday / weekdays / on workdays ``M H * * 1-5`` (a time is required)
   every weekend / weekends / on weekends ``M H * * 0,6`` (a time is required)
   every monday [and friday] / on mondays ``M H * * 1[,5]`` (a time is required)
   at T (alone)                           ``M H * * *``
   every hour / hourly                    ``0 * * * *``
   every N minutes / every N hours        ``*/N * * * *`` / ``0 */N * * *``
   every week / weekly                    ``0 0 * * 0`` (like cron's ``@weekly``)
   every month / monthly [on the Nth]     ``0 0 N * *`` (default the 1st)
   =====================================  =====================

   Times T: ``9am``, ``9 am``, ``9:30pm``, ``21:00``, ``8:30`` (24-hour without am/pm),
   ``noon``, ``midnight``; several joined by "and" when their minutes agree (``at 9am and
   5pm`` → hours ``9,17``). A time zone may follow: ``UTC``/``GMT`` or an IANA name such as
   ``Europe/Berlin``.

2. The rest is split into **clauses** on commas, semicolons, "then", "and", "after that",
   "afterwards" and "finally"; leading fillers ("first", "next", "also", "please") are dropped.

3. **Conditions** on a clause: "X if T pass(es)/succeed(s)" → ``when: "{{ t.succeeded }}"``;
   "X if T fail(s)" or "X unless T pass(es)" → ``when: "{{ t.status == 'failed' }}"``; "if T
   passes, X" works too (the condition clause applies to the next one); "it"/"that" is the
   previous step. The step T then gets ``on_error: continue``, so that its failure reaches the
   condition instead of stopping the run. "on failure X" / "X if anything fails" /
   "X if the workflow fails" puts X into ``on_failure``.

4. **Verbs** turn a clause into a step (:data:`VERBS`): pull/sync/update the code (git pull,
   with a ``repo_dir`` parameter), clone URL, run the tests (``pytest -q``), lint, build (a
   ``build_command`` parameter), deploy (a ``deploy_command`` parameter, default
   ``./deploy.sh``), back up PATH (to PATH), notify / alert (``notify log``, or a webhook from
   ``$WEBHOOK_URL`` when "slack"/"webhook" is said), email ADDRESS, check disk/memory/cpu/system,
   fetch/call/ping URL, ask for approval [from PEOPLE], wait N minutes, install dependencies, and
   run `COMMAND` (quoted or backticked; unquoted only for commands starting with a well-known
   program such as make, npm, python, docker, ./script).

A clause none of this understands is reported in :attr:`Draft.unknown` — never guessed. The
draft is validated like any workflow file before it is shown.

When ``YAML2DAG_LLM_URL`` is set, :func:`draft_with_llm` asks an OpenAI-compatible model for
the YAML instead and feeds the validator's errors back (at most :data:`LLM_RETRIES` times).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from typing import Any, Callable

from .errors import Yaml2DagError

#: How many times a model draft that does not validate is sent back with the errors.
LLM_RETRIES = 3


class DescribeError(Yaml2DagError):
    """A description that gives no workflow (no step understood), or a model that never
    produced a valid one."""


@dataclass
class Draft:
    """A workflow drafted from a description.

    Attributes:
        name: the workflow name.
        data: the workflow as a plain mapping (key order as written).
        understood: (phrase, what it became) for every phrase used.
        unknown: phrases that were not understood (left out of the draft).
        notes: remarks for the reviewer (e.g. "tests gets on_error: continue because ...").
        source: ``grammar`` or ``llm``.
        text: the YAML text, when the model wrote it (else built from ``data``).
    """

    name: str
    data: dict
    understood: list[tuple[str, str]] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    source: str = "grammar"
    text: str | None = None

    def yaml_text(self) -> str:
        """The draft as YAML, with a header comment naming its source."""
        if self.text is not None:
            return self.text
        from .roundtrip import to_yaml

        return to_yaml(self.data, header=f"Drafted by `yaml2dag create --describe` from:\n"
                                         f"  {self.data.get('description', '')}")

    def to_json(self) -> dict:
        return {"name": self.name, "source": self.source, "workflow": self.data,
                "understood": [{"phrase": p, "became": b} for p, b in self.understood],
                "unknown": self.unknown, "notes": self.notes, "yaml": self.yaml_text()}


# --------------------------------------------------------------------------- schedules

_DAYS = {"sunday": 0, "monday": 1, "tuesday": 2, "wednesday": 3, "thursday": 4, "friday": 5, "saturday": 6}
_DAY_RE = r"(?:sun|mon|tues?|wed(?:nes)?|thu(?:rs?)?|fri|sat(?:ur)?)(?:day)?s?"
_TIME_RE = r"(?:noon|midnight|\d{1,2}(?::\d{2})?(?:\s*(?:am|pm|a\.m\.|p\.m\.))?)"
_TIMES_RE = rf"(?:at\s+)?(?P<times>{_TIME_RE}(?:\s*(?:,|and|&)\s*{_TIME_RE})*)"
_TZ_RE = r"(?:\s+(?:in\s+)?(?P<tz>utc|gmt|[a-z]+/[a-z_]+(?:/[a-z_]+)?)(?:\s+time)?)?"


def _day_number(word: str) -> int:
    word = word.lower()
    for name, number in _DAYS.items():
        if name.startswith(word[:3]):
            return number
    raise ValueError(word)


def _parse_time(text: str) -> tuple[int, int]:
    """``9am`` → (9, 0), ``9:30 pm`` → (21, 30), ``noon`` → (12, 0). Raises ValueError."""
    text = text.strip().lower().replace(".", "")
    if text == "noon":
        return 12, 0
    if text == "midnight":
        return 0, 0
    match = re.fullmatch(r"(\d{1,2})(?::(\d{2}))?\s*(am|pm)?", text)
    if not match:
        raise ValueError(text)
    hour, minute, half = int(match.group(1)), int(match.group(2) or 0), match.group(3)
    if half:
        if not 1 <= hour <= 12:
            raise ValueError(f"{text}: hours with am/pm go from 1 to 12")
        hour = hour % 12 + (12 if half == "pm" else 0)
    if not (0 <= hour <= 23 and 0 <= minute <= 59):
        raise ValueError(f"{text}: not a time of day")
    return hour, minute


def _times(text: str) -> tuple[str, str]:
    """Times joined by and/commas → (minute field, hour field). Raises ValueError when the
    minutes differ (one cron line cannot say it)."""
    parts = [p for p in re.split(r"\s*(?:,|\band\b|&)\s*", text.strip()) if p]
    pairs = [_parse_time(p) for p in parts]
    minutes = {m for _h, m in pairs}
    if len(minutes) > 1:
        raise ValueError("times with different minutes need one schedule each")
    hours = sorted({h for h, _m in pairs})
    return str(minutes.pop()), ",".join(str(h) for h in hours)


@dataclass
class _Schedule:
    cron: str
    timezone: str | None
    phrase: str


_DAYSPEC = (
    # (regex, day-of-week field, time required?)
    (r"every\s+(?:single\s+)?day|each\s+day|daily|every\s+night|nightly|each\s+night", "*", False),
    (r"every\s+(?:morning|afternoon|evening)|each\s+(?:morning|afternoon|evening)|in\s+the\s+(?:morning|afternoon|evening)", "*", True),
    (r"(?:every|each|on)\s+(?:weekday|workday|business\s+day)s?|weekdays|workdays|(?:from\s+)?monday\s+(?:to|through|thru|-)\s+friday|mon\s*-\s*fri", "1-5", True),
    (r"(?:every|each|on)\s+weekends?|weekends|(?:on\s+)?saturdays?\s+and\s+sundays?", "0,6", True),
)


def _find_schedule(text: str) -> tuple[_Schedule | None, str, str | None]:
    """(schedule, text without the phrase, problem) for the first schedule phrase in ``text``."""
    low = text.lower()
    tz_group = _TZ_RE

    def finish(match: re.Match, cron: str) -> tuple[_Schedule, str, None]:
        tz = match.groupdict().get("tz")
        zone = None
        if tz:
            zone = "UTC" if tz in ("utc", "gmt") else _iana_case(text[match.start("tz"):match.end("tz")])
        return _Schedule(cron, zone, text[match.start():match.end()].strip()), cut(match), None

    def cut(match: re.Match) -> str:
        return (text[:match.start()] + " , " + text[match.end():]).strip()

    # intervals
    patterns: list[tuple[str, Callable[[re.Match], str]]] = [
        (r"\bevery\s+(?P<n>\d+)\s*(?:minutes|mins|min)\b", lambda m: f"*/{int(m['n'])} * * * *"),
        (r"\bevery\s+minute\b", lambda m: "* * * * *"),
        (r"\bevery\s+(?P<n>\d+)\s*(?:hours|hrs|h)\b", lambda m: f"0 */{int(m['n'])} * * *"),
        (r"\b(?:every\s+hour|hourly|each\s+hour)\b", lambda m: "0 * * * *"),
    ]
    for regex, build in patterns:
        match = re.search(regex + tz_group, low)
        if match:
            n = match.groupdict().get("n")
            if n is not None and not (0 < int(n) < (60 if "min" in match.group(0) else 24)):
                return None, cut(match), f"{match.group(0).strip()!r}: the interval must be under 60 minutes or 24 hours"
            return finish(match, build(match))
    # monthly
    match = re.search(r"\b(?:(?:on\s+the\s+(?P<d1>\d{1,2})(?:st|nd|rd|th)?\s+(?:day\s+)?of\s+)?(?:every|each)\s+month"
                      r"(?:\s+on\s+the\s+(?P<d2>\d{1,2})(?:st|nd|rd|th)?)?|monthly(?:\s+on\s+the\s+(?P<d3>\d{1,2})(?:st|nd|rd|th)?)?)"
                      rf"(?:\s+{_TIMES_RE})?" + tz_group, low)
    if match:
        day = int(match["d1"] or match["d2"] or match["d3"] or 1)
        if not 1 <= day <= 31:
            return None, cut(match), f"{match.group(0).strip()!r}: no day {day} in a month"
        minute, hour = _times(match["times"]) if match["times"] else ("0", "0")
        return finish(match, f"{minute} {hour} {day} * *")
    # weekly (no day named)
    match = re.search(rf"\b(?:every\s+week|weekly|once\s+a\s+week)\b(?:\s+{_TIMES_RE})?" + tz_group, low)
    if match and not re.search(rf"\b{_DAY_RE}\b", low[match.end():match.end() + 20]):
        minute, hour = _times(match["times"]) if match["times"] else ("0", "0")
        return finish(match, f"{minute} {hour} * * 0")
    # named days: every monday [and friday] / on mondays — with a time before or after
    days = rf"(?P<days>{_DAY_RE}(?:\s*(?:,|and|&|or)\s*{_DAY_RE})*)"
    for regex in (rf"\b(?:every|each|on)\s+{days}\s+{_TIMES_RE}" + tz_group,
                  rf"\b{_TIMES_RE}\s+(?:every|each|on)\s+{days}" + tz_group):
        match = re.search(regex, low)
        if match:
            names = [d for d in re.split(r"\s*(?:,|\band\b|&|\bor\b)\s*", match["days"]) if d]
            numbers = sorted({_day_number(d) for d in names})
            minute, hour = _times(match["times"])
            return finish(match, f"{minute} {hour} * * {','.join(str(n) for n in numbers)}")
    # day specs with a time before or after
    for spec, dow, _needs_time in _DAYSPEC:
        for regex in (rf"\b(?:{spec})\s+{_TIMES_RE}" + tz_group, rf"\b{_TIMES_RE}\s+(?:{spec})" + tz_group):
            match = re.search(regex, low)
            if match:
                minute, hour = _times(match["times"])
                return finish(match, f"{minute} {hour} * * {dow}")
    # day specs without a time: midnight for "daily"-like ones, else a problem (never guessed)
    match = re.search(rf"\b(?:every|each|on)\s+{days}\b", low)
    if match:
        return None, cut(match), f"{match.group(0).strip()!r}: say at what time (e.g. \"at 9am\")"
    for spec, dow, needs_time in _DAYSPEC:
        match = re.search(rf"\b(?:{spec})\b" + tz_group, low)
        if match:
            if needs_time:
                return None, cut(match), f"{match.group(0).strip()!r}: say at what time (e.g. \"at 9am\")"
            return finish(match, f"0 0 * * {dow}")
    # a time alone: every day at that time
    match = re.search(rf"\bat\s+(?P<times>{_TIME_RE}(?:\s*(?:,|and|&)\s*{_TIME_RE})*)\b" + tz_group, low)
    if match and re.search(r"\d|noon|midnight", match["times"]):
        minute, hour = _times(match["times"])
        return finish(match, f"{minute} {hour} * * *")
    return None, text, None


def _iana_case(name: str) -> str:
    """``europe/berlin`` → ``Europe/Berlin`` (checked against the zone database when it can)."""
    parts = [("_".join(w.capitalize() for w in p.split("_"))) for p in name.split("/")]
    guess = "/".join(parts)
    try:
        from zoneinfo import available_timezones

        for zone in available_timezones():
            if zone.lower() == name.lower():
                return zone
    except Exception:  # noqa: BLE001 - no tz database: keep the capitalised guess
        pass
    return guess


def parse_schedule(text: str) -> tuple[str, str | None]:
    """The cron expression (and time zone) of a schedule phrase such as "every weekday at
    9am".

    Raises:
        DescribeError: the phrase is not understood, or is incomplete (no time for a day).
    """
    try:
        found, rest, problem = _find_schedule(text)
    except ValueError as exc:
        raise DescribeError(f"{text!r}: {exc}") from None
    if problem:
        raise DescribeError(problem)
    if found is None or rest.strip(" ,"):
        raise DescribeError(f"not a schedule phrase: {text!r}")
    return found.cron, found.timezone


# --------------------------------------------------------------------------- steps


@dataclass
class _StepSpec:
    """A step a verb produces."""

    kind: str  # base id: pull, tests, deploy...
    body: dict  # tool/action/parameters
    parameters: dict = field(default_factory=dict)  # workflow parameters it needs
    aliases: tuple[str, ...] = ()
    uses_repo: bool = False  # runs inside {{ repo_dir }} when the workflow has one


_PROGRAMS = ("make", "npm", "npx", "yarn", "pnpm", "python", "python3", "pip", "bash", "sh", "docker",
             "docker-compose", "kubectl", "helm", "terraform", "ansible-playbook", "cargo", "go", "mvn",
             "gradle", "rsync", "curl", "./")
_PATH = r"(?P<path>(?:~|\.{1,2})?/[\w./~-]*|\.{1,2}|[\w.-]+/[\w./-]*)"


def _shell(kind: str, command: str, aliases: tuple[str, ...] = (), **extra: Any) -> _StepSpec:
    return _StepSpec(kind, {"tool": "shell", "parameters": {"command": command}}, aliases=aliases, **extra)


def _verb_pull(m: re.Match) -> _StepSpec:
    params: dict[str, Any] = {"directory": "{{ repo_dir }}"}
    if m.groupdict().get("branch"):
        params["branch"] = m["branch"]
    return _StepSpec("pull", {"tool": "git", "action": "pull", "parameters": params},
                     {"repo_dir": {"type": "string", "default": ".", "description": "The repository's working copy"}},
                     ("pull", "git pull", "the pull", "code", "update", "sync"))


def _verb_clone(m: re.Match) -> _StepSpec:
    return _StepSpec("clone", {"tool": "git", "action": "clone",
                               "parameters": {"url": m["url"], "directory": m["dir"] or "{{ repo_dir }}"}},
                     {} if m["dir"] else {"repo_dir": {"type": "string", "default": "repo",
                                                       "description": "Where the repository is cloned"}},
                     ("clone", "the clone"))


def _verb_tests(m: re.Match) -> _StepSpec:
    which = (m.groupdict().get("which") or "").strip()
    command = "pytest -q" + (f" tests/{which}" if which in ("unit", "integration") else "")
    return _shell("tests", command, ("tests", "test", "the tests", "unit tests", "integration tests", "pytest",
                                     "testing", "all tests", "the test suite", "test suite", "it all"), uses_repo=True)


def _verb_lint(m: re.Match) -> _StepSpec:
    return _shell("lint", "ruff check .", ("lint", "linting", "the linter", "linter", "style check", "the lint"),
                  uses_repo=True)


def _verb_build(m: re.Match) -> _StepSpec:
    return _StepSpec("build", {"tool": "shell", "parameters": {"args": ["sh", "-c", "{{ build_command }}"]}},
                     {"build_command": {"type": "string", "default": "make build",
                                        "description": "Command that builds the project"}},
                     ("build", "the build", "building"), uses_repo=True)


def _verb_deploy(m: re.Match) -> _StepSpec:
    env = (m.groupdict().get("env") or "").strip()
    default = "./deploy.sh" + (f" {env}" if env else "")
    return _StepSpec("deploy", {"tool": "shell", "parameters": {"args": ["sh", "-c", "{{ deploy_command }}"]}},
                     {"deploy_command": {"type": "string", "default": default,
                                         "description": "Command that deploys" + (f" to {env}" if env else "")}},
                     ("deploy", "deployment", "the deploy", "the deployment", "release"), uses_repo=True)


def _verb_backup(m: re.Match) -> _StepSpec:
    source = m["path"]
    target = m.groupdict().get("target") or "backups"
    return _StepSpec("backup", {"tool": "files", "action": "backup",
                                "parameters": {"source": "{{ backup_source }}", "target": "{{ backup_target }}"}},
                     {"backup_source": {"type": "string", "default": source, "description": "What is backed up"},
                      "backup_target": {"type": "string", "default": target, "description": "Folder the archives go to"}},
                     ("backup", "the backup", "backing up"))


def _verb_notify(m: re.Match) -> _StepSpec:
    text = m.group(0)
    if re.search(r"slack|teams|webhook|chat|discord", text):
        body = {"tool": "notify", "action": "webhook",
                "parameters": {"url": "{{ env.WEBHOOK_URL }}", "text": "{{ run.workflow }}: run {{ run.id }} finished"}}
    else:
        body = {"tool": "notify", "action": "log", "parameters": {"message": "{{ run.workflow }}: run {{ run.id }} finished"}}
    return _StepSpec("notify", body, aliases=("notify", "the notification", "notification", "alert"))


def _verb_email(m: re.Match) -> _StepSpec:
    to = m.groupdict().get("to")
    return _StepSpec("email", {"tool": "notify", "action": "email",
                               "parameters": {"to": "{{ email_to }}", "subject": "{{ run.workflow }}: run {{ run.id }}",
                                              "body": "{{ run.workflow }} finished."}},
                     {"email_to": {"type": "string", "default": to or "",
                                   "description": "Who gets the e-mail"}} if to else
                     {"email_to": {"type": "string", "description": "Who gets the e-mail"}},
                     ("email", "the email", "e-mail", "mail"))


def _verb_check(m: re.Match) -> _StepSpec:
    what = m["what"]
    limits = {"disk": {"disk_percent": 90}, "memory": {"memory_percent": 90}, "cpu": {"cpu_percent": 90}}
    params: dict[str, Any] = {}
    for key, value in limits.items():
        if key in what:
            params.update(value)
    if not params:
        params = {"cpu_percent": 90, "memory_percent": 90, "disk_percent": 90}
    return _StepSpec("check_system", {"tool": "system", "action": "check", "parameters": params},
                     aliases=("check", "the check", "the health check", "health check", "system check"))


def _verb_http(m: re.Match) -> _StepSpec:
    return _StepSpec("fetch", {"tool": "http", "action": "request", "parameters": {"url": m["url"]}},
                     aliases=("fetch", "the request", "the call", "request", "call", "ping"))


def _verb_approval(m: re.Match) -> _StepSpec:
    params: dict[str, Any] = {"message": "Approve the next step of {{ run.workflow }} (run {{ run.id }})?"}
    who = m.groupdict().get("who")
    if who:
        params["approvers"] = [w for w in re.split(r"\s*(?:,|\band\b|\bor\b)\s*", who) if w]
    return _StepSpec("approval", {"tool": "approval", "action": "request", "parameters": params},
                     aliases=("approval", "the approval", "approved", "sign-off", "signoff"))


def _verb_wait(m: re.Match) -> _StepSpec:
    n, unit = int(m["n"]), m["unit"]
    seconds = n * (3600 if unit.startswith("h") else 60 if unit.startswith("m") else 1)
    return _shell("wait", f"sleep {seconds}", ("wait", "the wait"))


def _verb_install(m: re.Match) -> _StepSpec:
    return _shell("install", "pip install -r requirements.txt",
                  ("install", "the install", "installation", "dependencies"), uses_repo=True)


def _verb_command(m: re.Match) -> _StepSpec:
    command = m["cmd"].strip()
    word = re.sub(r"[^a-z0-9]+", "_", command.split()[0].lower().lstrip("./")).strip("_") or "command"
    return _shell(f"run_{word}", command, (command, word))


#: (regex matched against the whole clause, builder) in order; the first match wins.
VERBS: list[tuple[str, Callable[[re.Match], _StepSpec]]] = [
    (r"(?:run|execute|exec)\s+(?:the\s+command\s+)?[`'\"](?P<cmd>[^`'\"]+)[`'\"]|[`](?P<cmd2>[^`]+)[`]",
     lambda m: _verb_command(_Group(m, cmd=m["cmd"] or m["cmd2"]))),
    (r"(?:git\s+)?pull(?:\s+(?:the|in))?(?:\s+(?:latest|newest|last))?(?:\s+(?:code|changes|commits|repo|repository|sources|source|version))?"
     r"(?:\s+from\s+(?:the\s+)?(?P<branch>[\w./-]+)(?:\s+branch)?)?|(?:update|sync|refresh)\s+(?:the\s+)?(?:repo|repository|code|checkout|working\s+copy)"
     r"|fetch\s+(?:the\s+)?latest\s+(?:code|changes|commits)|get\s+(?:the\s+)?latest\s+(?:code|changes)", _verb_pull),
    (r"(?:git\s+)?clone\s+(?:the\s+repo(?:sitory)?\s+)?(?P<url>\S+?)(?:\s+in(?:to)?\s+(?P<dir>\S+))?", _verb_clone),
    (r"(?:run\s+)?(?:the\s+|all\s+(?:the\s+)?)?(?P<which>unit|integration)?\s*(?:tests?|test\s+suite|specs)"
     r"|(?:run\s+)?pytest|test(?:\s+(?:it|the\s+code|everything|the\s+project))?", _verb_tests),
    (r"(?:run\s+)?(?:the\s+)?lint(?:er|ing)?(?:\s+the\s+code)?|lint\s+(?:the\s+)?code|check\s+(?:the\s+)?(?:code\s+)?style", _verb_lint),
    (r"build(?:\s+(?:it|the\s+project|the\s+app|the\s+application|the\s+code|the\s+package|the\s+image|the\s+docker\s+image|everything))?", _verb_build),
    (r"(?:deploy|release|ship)(?:\s+(?:it|the\s+app|the\s+application|the\s+code|the\s+service|the\s+site|everything))?"
     r"(?:\s+to\s+(?:the\s+)?(?P<env>[\w-]+))?|ship\s+it", _verb_deploy),
    (r"back\s*up\s+(?:the\s+)?(?:files\s+|folder\s+|directory\s+|data\s+)?(?:in\s+|from\s+|of\s+)?" + _PATH
     + r"(?:\s+(?:to|into)\s+(?P<target>(?:~|\.{1,2})?/?[\w./~-]+))?", _verb_backup),
    (r"(?:send\s+(?:an?\s+)?e-?mail|e-?mail)(?:\s+(?:to\s+)?(?:the\s+team\s+at\s+)?(?P<to>[\w.+-]+@[\w.-]+))?", _verb_email),
    (r"(?:notify|alert|ping|message|tell)(?:\s+(?:the\s+)?(?:team|me|us|everyone|ops|on-?call|channel|people|users))?"
     r"(?:\s+(?:on|via|in|through)\s+(?:slack|teams|a\s+webhook|webhook|chat|discord))?"
     r"|send\s+(?:a\s+)?(?:notification|message|alert)(?:\s+(?:on|via|to)\s+(?:slack|teams|a\s+webhook|webhook|chat|discord))?"
     r"|post\s+(?:a\s+)?message(?:\s+(?:on|to|in)\s+(?:slack|teams|chat|discord))?", _verb_notify),
    (r"check\s+(?:the\s+)?(?P<what>disk(?:\s+space|\s+usage)?|memory(?:\s+usage)?|cpu(?:\s+load|\s+usage)?|system(?:\s+health)?|server(?:\s+health)?|health)", _verb_check),
    (r"(?:call|hit|ping|fetch|get|download|request|query|check)\s+(?:the\s+)?(?:api\s+|url\s+|endpoint\s+|website\s+|site\s+|page\s+)?(?:at\s+)?(?P<url>https?://\S+)", _verb_http),
    (r"(?:ask|wait)\s+for\s+(?:an?\s+)?(?:manual\s+)?(?:approval|sign-?off)(?:\s+from\s+(?P<who>[\w@.\s,-]+))?"
     r"|(?:get|require|request)\s+(?:an?\s+)?(?:manual\s+)?(?:approval|sign-?off)(?:\s+from\s+(?P<who2>[\w@.\s,-]+))?",
     lambda m: _verb_approval(_Group(m, who=m["who"] or m["who2"]))),
    (r"wait\s+(?:for\s+)?(?P<n>\d+)\s*(?P<unit>seconds?|secs?|minutes?|mins?|hours?|hrs?)", _verb_wait),
    (r"install\s+(?:the\s+)?(?:python\s+)?(?:dependencies|deps|requirements|packages)", _verb_install),
    (r"(?:run|execute)\s+(?P<cmd>(?:" + "|".join(re.escape(p) for p in _PROGRAMS) + r")\S*(?:\s+.*)?)", _verb_command),
]


class _Group:
    """A match with some groups overridden (for verbs whose regex has alternative groups)."""

    def __init__(self, match: re.Match, **values: Any):
        self._match = match
        self._values = values

    def __getitem__(self, key: str) -> Any:
        if key in self._values:
            return self._values[key]
        return self._match[key]

    def groupdict(self) -> dict:
        return {**self._match.groupdict(), **self._values}

    def group(self, index: int = 0) -> str:
        return self._match.group(index)


_FILLERS = re.compile(r"(?i)^(?:(?:and|then|first|firstly|next|also|please|finally|lastly|afterwards|after\s+that|"
                      r"we\s+should|i\s+want\s+to|i'd\s+like\s+to|to)\s+)+")
_SPLIT = re.compile(r"(?i)\s*(?:[,;]|\.\s+|\band\s+then\b|\bthen\b|\bafter\s+that\b|\bafterwards\b|\bfinally\b)\s*")
#: Words a clause may start with: "and" splits two clauses only when one of these follows it
#: ("ask for approval from alice and bob" stays one clause).
STARTERS = frozenset("""pull git update sync refresh fetch get clone run execute exec test tests pytest lint check
build deploy release ship back backup send email e-mail mail notify alert ping message tell post call hit
download request query ask wait require install if when on upon unless only then finally also next
first""".split())
_PASS = r"(?:pass|passes|passed|succeed|succeeds|succeeded|work|works|worked|(?:is|are)\s+green|(?:is|are)\s+ok|go\s+well|goes\s+well|went\s+well)"
_FAIL = r"(?:fail|fails|failed|break|breaks|broke|(?:is|are)\s+red|(?:does|do)\s*(?:n't|\s+not)\s+pass|go\s+wrong|goes\s+wrong)"
_ANYTHING = r"(?:anything|something|any\s+step|a\s+step|the\s+(?:workflow|run|pipeline|job)|it\s+all|everything)"


def _split_and(piece: str) -> list[str]:
    """Split ``piece`` on "and" where a clause starter (:data:`STARTERS`) or a command follows."""
    parts = re.split(r"(?i)\s+and\s+", piece)
    out = [parts[0]]
    for part in parts[1:]:
        word = part.strip().split(" ", 1)[0].lower() if part.strip() else ""
        if word in STARTERS or word.startswith(("`", "\x00")):
            out.append(part)
        else:
            out[-1] = f"{out[-1]} and {part}"
    return out


def _matches_verb(clause: str) -> _StepSpec | None:
    """The step the first matching verb makes of ``clause`` (case-insensitive), or None."""
    for regex, build in VERBS:
        match = re.fullmatch(regex, clause.strip(), flags=re.IGNORECASE)
        if match:
            return build(match)
    return None


def _article(text: str) -> str:
    return re.sub(r"^(?:the|all|all\s+the|our|my)\s+", "", text.strip())


class _Builder:
    def __init__(self, name: str, description: str):
        self.name = name
        self.description = description
        self.steps: list[dict] = []
        self.on_failure: list[dict] = []
        self.parameters: dict[str, dict] = {}
        self.aliases: dict[str, str] = {}  # alias → step id
        self.specs: dict[str, _StepSpec] = {}
        self.understood: list[tuple[str, str]] = []
        self.unknown: list[str] = []
        self.notes: list[str] = []
        self.ids: set[str] = set()

    def _new_id(self, kind: str) -> str:
        base = re.sub(r"[^a-z0-9_]", "_", kind.lower()) or "step"
        if base[0].isdigit():
            base = "_" + base
        sid, n = base, 1
        while sid in self.ids or sid in self.parameters:
            n += 1
            sid = f"{base}_{n}"
        self.ids.add(sid)
        return sid

    def subject(self, text: str) -> str | None:
        """The step a condition talks about ("tests", "the build", "it")."""
        text = _article(text.lower())
        if text in ("it", "that", "this", "they", "those", "the previous step", "previous step") and self.steps:
            return self.steps[-1]["id"]
        for candidate in (text, re.sub(r"s$", "", text), text + "s"):
            if candidate in self.aliases:
                return self.aliases[candidate]
        for step in reversed(self.steps):
            if step["id"] == text.replace(" ", "_"):
                return step["id"]
        return None

    def add(self, phrase: str, spec: _StepSpec, *, failure: bool = False, when: tuple[str, bool] | None = None) -> str:
        sid = self._new_id(spec.kind)
        step: dict[str, Any] = {"id": sid, "name": phrase[:1].upper() + phrase[1:]}
        if when is not None:
            target, passed = when
            step["when"] = f"{{{{ {target}.succeeded }}}}" if passed else f"{{{{ {target}.status == 'failed' }}}}"
            target_step = next((s for s in self.steps if s["id"] == target), None)
            if target_step is not None and target_step.get("on_error") != "continue":
                target_step["on_error"] = "continue"
                self.notes.append(f"`{target}` gets `on_error: continue` so that a failure reaches the "
                                  f"condition of `{sid}` instead of stopping the run")
        step.update(json.loads(json.dumps(spec.body)))
        if when is not None and not when[1] and step["tool"] == "notify":
            for key in ("message", "text", "body"):
                if key in step["parameters"]:
                    step["parameters"][key] = f"{{{{ run.workflow }}}}: step {when[0]} failed: {{{{ {when[0]}.error }}}}"
        for pname, pdef in spec.parameters.items():
            self.parameters.setdefault(pname, pdef)
        (self.on_failure if failure else self.steps).append(step)
        self.specs[sid] = spec
        for alias in spec.aliases:
            self.aliases.setdefault(alias.lower(), sid)
        self.aliases.setdefault(sid, sid)
        where = "on_failure step" if failure else "step"
        extra = f" when {step['when']}" if "when" in step else ""
        tool = step["tool"] + (f".{step['action']}" if step.get("action") else "")
        self.understood.append((phrase, f"{where} `{sid}` ({tool}){extra}"))
        return sid

    def finish(self, schedules: list[_Schedule]) -> dict:
        if "repo_dir" in self.parameters:
            for step in self.steps + self.on_failure:
                spec = self.specs.get(step["id"])
                if spec is not None and spec.uses_repo and step["tool"] == "shell":
                    step["parameters"].setdefault("cwd", "{{ repo_dir }}")
        for step in self.on_failure:
            if step.get("tool") == "notify":
                for key in ("message", "text", "body"):
                    if key in step["parameters"]:
                        step["parameters"][key] = "{{ run.workflow }} failed at step {{ failed_step }}: {{ error }}"
        data: dict[str, Any] = {"name": self.name, "version": "1.0.0", "description": self.description}
        if self.parameters:
            data["parameters"] = self.parameters
        if schedules:
            triggers: list[dict] = [{"type": "manual"}]
            for sched in schedules:
                item: dict[str, Any] = {"type": "schedule", "cron": sched.cron}
                if sched.timezone:
                    item["timezone"] = sched.timezone
                triggers.append(item)
            data["triggers"] = triggers
        data["steps"] = self.steps
        if self.on_failure:
            data["on_failure"] = self.on_failure
        return data


def draft_from_description(name: str, description: str) -> Draft:
    """Draft a workflow from a description with the grammar of this module.

    Args:
        name: the workflow name.
        description: the sentence ("pull latest code, run tests, and deploy if tests pass,
            every weekday at 9am").

    Returns:
        The :class:`Draft`; :attr:`Draft.unknown` lists what was left out.

    Raises:
        DescribeError: no step was understood.
    """
    text = " ".join(description.strip().split())
    builder = _Builder(name, text.rstrip("."))
    schedules: list[_Schedule] = []
    rest = text.rstrip(".")
    for _ in range(5):
        try:
            found, rest, problem = _find_schedule(rest)
        except ValueError as exc:
            builder.unknown.append(f"schedule: {exc}")
            break
        if problem:
            builder.unknown.append(problem)  # the phrase is taken out of ``rest``: not read as a step
            continue
        if found is None:
            break
        schedules.append(found)
        builder.understood.append((found.phrase, f"schedule `{found.cron}`" + (f" ({found.timezone})" if found.timezone else "")))
    # clauses, with quoted/backticked commands protected from splitting
    protected: dict[str, str] = {}

    def protect(match: re.Match) -> str:
        key = f"\x00{len(protected)}\x00"
        protected[key] = match.group(0)
        return key

    masked = re.sub(r"`[^`]*`|'[^']*'|\"[^\"]*\"", protect, rest)
    clauses = []
    for piece in _SPLIT.split(masked):
        for raw in _split_and(piece):
            for key, value in protected.items():
                raw = raw.replace(key, value)
            clause = raw.strip(" .")
            if clause:
                clauses.append(clause)
    pending: tuple[str, bool] | None = None
    pending_failure = False
    for clause in clauses:
        work = _FILLERS.sub("", clause).strip()
        if not work:
            continue
        clause = work
        failure, when = pending_failure, pending
        pending, pending_failure = None, False
        # "if T passes" alone (applies to the next clause), or "if T passes X"
        m = re.fullmatch(rf"(?:only\s+)?(?:if|when|once)\s+(?P<subj>.+?)\s+(?P<outcome>{_PASS}|{_FAIL})"
                         rf"(?:\s*,?\s*(?:then\s+)?(?P<rest>.+))?", work, re.I)
        if m:
            if re.fullmatch(_ANYTHING, m["subj"], re.I) and re.fullmatch(_FAIL, m["outcome"], re.I):
                if not m["rest"]:
                    pending_failure = True
                    builder.understood.append((clause, "the next step runs when the workflow fails"))
                    continue
                work, failure = m["rest"], True
            else:
                target = builder.subject(m["subj"])
                if target is None:
                    builder.unknown.append(f"{clause} (no step called {m['subj']!r} before it)")
                    continue
                cond = (target, re.fullmatch(_PASS, m["outcome"], re.I) is not None)
                if not m["rest"]:
                    pending = cond
                    builder.understood.append((clause, f"condition on `{target}` for the next step"))
                    continue
                work, when = m["rest"], cond
        # "on failure, X" / "on failure" alone
        m = re.fullmatch(r"(?:on|upon|in\s+case\s+of)\s+(?:a\s+)?(?:failure|error|errors)(?:\s*,?\s*(?P<rest>.+))?", work, re.I)
        if m:
            if not m["rest"]:
                pending_failure = True
                builder.understood.append((clause, "the next step runs when the workflow fails"))
                continue
            work, failure = m["rest"], True
        # "X if T passes" / "X unless T fails" / "X on failure" / "X if anything fails"
        m = re.fullmatch(rf"(?P<act>.+?)\s+(?:(?P<onfail>(?:on|upon)\s+(?:failure|error)|(?:if|when)\s+{_ANYTHING}\s+{_FAIL})"
                         rf"|(?:only\s+)?(?:if|when|once)\s+(?P<subj>.+?)\s+(?P<outcome>{_PASS}|{_FAIL})"
                         rf"|unless\s+(?P<usubj>.+?)\s+(?P<uoutcome>{_PASS}|{_FAIL}))", work, re.I)
        if m:
            if m["onfail"]:
                failure = True
            else:
                subj = m["subj"] or m["usubj"]
                passed = re.fullmatch(_PASS, m["outcome"] or m["uoutcome"], re.I) is not None
                if m["usubj"]:
                    passed = not passed
                target = builder.subject(subj)
                if target is None:
                    builder.unknown.append(f"{clause} (no step called {subj!r} before it)")
                    continue
                when = (target, passed)
            work = m["act"]
        spec = _matches_verb(work)
        if spec is None:
            builder.unknown.append(clause)
            continue
        builder.add(clause, spec, failure=failure, when=when)
    if pending is not None:
        builder.unknown.append("a condition at the end has no step to apply to")
    if pending_failure:
        builder.unknown.append("\"on failure\" at the end has no step to run")
    if not builder.steps:
        raise DescribeError("no step understood in the description"
                            + (f"; not understood: {'; '.join(builder.unknown)}" if builder.unknown else "")
                            + " (see `yaml2dag create --help` and docs/manual/library_en.md for the phrases)")
    return Draft(name, builder.finish(schedules), builder.understood, builder.unknown, builder.notes)


# --------------------------------------------------------------------------- LLM drafts

LLM_SYSTEM_PROMPT = """You write workflow files for yaml2dag: YAML documents compiled into Dagster jobs.
Answer with the YAML document only (no prose), in a ```yaml fenced block.
Top-level keys: name (required), version, description, tags, parameters, triggers, defaults, steps (required), outputs, on_failure.
A step: id ([a-z_][a-z0-9_]*), name, tool, action, parameters, depends_on, when ("{{ step.succeeded }}"), on_error (abort|continue|retry|fallback), retry {max_attempts, backoff, delay}, timeout.
Tools and actions: shell.execute {command | args, cwd}; python.call {callable, args, kwargs}; http.request {url, method}; files.backup {source, target}; git.pull {directory}; git.clone {url, directory}; system.check {cpu_percent, memory_percent, disk_percent}; notify.log {message}; notify.webhook {url, text}; notify.email {to, subject, body}; approval.request {message, approvers}.
Schedules: triggers: [{type: schedule, cron: "0 9 * * 1-5", timezone: "UTC"}].
Templates are Jinja2 in quoted strings: "{{ branch }}", "{{ tests.output }}". A step that a later `when` checks needs on_error: continue.
The JSON Schema of the format follows.
"""


def _llm_endpoint(url: str) -> str:
    url = url.rstrip("/")
    if url.endswith("/chat/completions"):
        return url
    return url + "/chat/completions"


def _extract_yaml(content: str) -> str:
    match = re.search(r"```(?:ya?ml)?\s*\n(.*?)```", content, re.S)
    text = match.group(1) if match else content
    return text.strip() + "\n"


def draft_with_llm(name: str, description: str, *, url: str | None = None, model: str | None = None,
                   api_key: str | None = None, retries: int = LLM_RETRIES, timeout: float = 120.0,
                   post: Callable[..., Any] | None = None) -> Draft:
    """Ask an OpenAI-compatible chat model to draft the workflow; validate; feed errors back.

    Args:
        name: the workflow name (forced into the draft).
        description: what the workflow does.
        url: base URL (``$YAML2DAG_LLM_URL``), e.g. ``http://localhost:11434/v1``;
            ``/chat/completions`` is appended unless present.
        model: model name (``$YAML2DAG_LLM_MODEL``, default ``gpt-4o-mini``).
        api_key: bearer token (``$YAML2DAG_LLM_API_KEY``, else ``$OPENAI_API_KEY``; optional).
        retries: how many times an invalid draft is sent back with the validator's errors.
        timeout: seconds per HTTP request.
        post: ``requests.post`` replacement (tests).

    Returns:
        A valid :class:`Draft` (``source == "llm"``).

    Raises:
        DescribeError: the service failed, or no valid draft after ``retries`` corrections.
    """
    import requests

    from .roundtrip import RoundTripDocument
    from .schema import schema_text
    from .validation import validate_text

    url = url or os.environ.get("YAML2DAG_LLM_URL")
    if not url:
        raise DescribeError("no model configured: set YAML2DAG_LLM_URL")
    model = model or os.environ.get("YAML2DAG_LLM_MODEL") or "gpt-4o-mini"
    api_key = api_key or os.environ.get("YAML2DAG_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY")
    headers = {"Content-Type": "application/json"}
    if api_key:
        headers["Authorization"] = f"Bearer {api_key}"
    post = post or requests.post
    messages = [
        {"role": "system", "content": LLM_SYSTEM_PROMPT + schema_text()},
        {"role": "user", "content": f"Workflow name: {name}\nWhat it does: {description}"},
    ]
    last_errors: list[str] = []
    for attempt in range(retries + 1):
        try:
            response = post(_llm_endpoint(url), headers=headers, timeout=timeout,
                            json={"model": model, "messages": messages, "temperature": 0})
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
        except Exception as exc:  # noqa: BLE001 - any transport or shape problem
            raise DescribeError(f"the model at {url} failed: {exc}") from None
        text = _extract_yaml(content or "")
        try:
            doc = RoundTripDocument(text)
            doc.set_top("name", name)
            doc.remove_top("id")
            if not doc.data.get("description"):
                doc.set_top("description", description, after=("version", "name"))
            text = doc.dump()
        except ValueError as exc:
            last_errors = [f"the answer is not a YAML mapping: {exc}"]
        else:
            report = validate_text(text, "draft.yaml")
            if report.valid:
                from .loader import load_text

                draft = Draft(name, load_text(text).data, source="llm", text=text)
                draft.notes.append(f"drafted by the model {model} at {url}"
                                   + (f" after {attempt} correction(s)" if attempt else ""))
                return draft
            last_errors = [p.format() for p in report.errors]
        messages.append({"role": "assistant", "content": content})
        messages.append({"role": "user", "content": "The yaml2dag validator reported these errors:\n"
                         + "\n".join(last_errors) + "\nAnswer with the whole corrected YAML document only."})
    raise DescribeError(f"the model's draft is still invalid after {retries} correction(s):\n" + "\n".join(last_errors))


__all__ = ["Draft", "DescribeError", "VERBS", "draft_from_description", "draft_with_llm", "parse_schedule"]
