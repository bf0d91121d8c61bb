"""What varies between the occurrences of a sequence becomes a typed parameter (issue 12, §1).

For each slot of each command (:attr:`~.commands.Command.slots`: words that are not structure)
the values of all occurrences are compared:

* the same everywhere → kept literally;
* different → a parameter whose type is ``integer`` or ``number`` when every value is one, else
  ``string``; its default is the most common value (ties: the most recent), ``values`` lists
  the values seen, most common first;
* a credential (:mod:`.secrets`) → always a ``secret`` parameter, without a default and
  without values (the value is never copied).

Two slots whose values are equal in every occurrence share one parameter (``git checkout X &&
git push origin X`` → one ``branch``). Names follow the argument's meaning where it is clear
— the option it belongs to (``-b`` → ``branch``, ``--output`` → ``output``), the command's
grammar (``git checkout X`` → ``branch``, ``cp A B`` → ``source``/``destination``, ``cd X`` →
``directory``), the value's form (a URL → ``url``, a host name → ``host``, a path → ``path``,
``file`` or ``directory``) — else ``arg1``, ``arg2``...

Nothing here imports Dagster.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from yaml2dag.format.validation import DAGSTER_RESERVED, RESERVED_NAMES
from yaml2dag.suggest.commands import Command, quote_text
from yaml2dag.suggest.sequences import Unit

#: Short options whose value has a clear meaning, by program (``*``: any program).
SHORT_OPTION_NAMES = {
    "*": {"-b": "branch", "-B": "branch", "-m": "message", "-o": "output", "-O": "output", "-f": "file",
          "-C": "directory", "-t": "tag", "-u": "user", "-U": "user", "-h": "host", "-H": "header",
          "-X": "method", "-j": "jobs", "-k": "keyword", "-l": "label", "-v": "volume", "-w": "workdir",
          "-i": "identity_file", "-D": "database", "-A": "user_agent", "-P": "port", "-e": "env", "-F": "form"},
    "git": {"-c": "branch", "-m": "message", "-F": "message_file"},
    "docker": {"-p": "port", "-e": "env", "-t": "tag", "-f": "file", "-u": "user"},
    "podman": {"-p": "port", "-e": "env", "-t": "tag"},
    "kubectl": {"-n": "namespace", "-f": "file", "-l": "selector", "-c": "container", "-o": "output"},
    "helm": {"-n": "namespace", "-f": "values"},
    "ssh": {"-p": "port", "-l": "user", "-i": "identity_file"},
    "psql": {"-p": "port", "-d": "database", "-c": "sql", "-f": "file"},
    "pg_dump": {"-p": "port", "-d": "database", "-f": "file"},
    "mysql": {"-e": "sql", "-D": "database"},
    "curl": {"-d": "data", "-o": "output", "-u": "user", "-e": "referer", "-T": "upload_file"},
    "tar": {"-f": "archive", "-C": "directory"},
    "python": {"-m": "module", "-c": "code"}, "python3": {"-m": "module", "-c": "code"},
    "pytest": {"-k": "keyword", "-m": "marker", "-n": "workers"},
}
#: Positional meaning by (program, subcommand): names in order of position (``None``: any subcommand).
POSITIONAL_NAMES = {
    ("git", "checkout"): ["branch"], ("git", "switch"): ["branch"], ("git", "merge"): ["branch"],
    ("git", "rebase"): ["branch"], ("git", "branch"): ["branch"], ("git", "push"): ["remote", "branch"],
    ("git", "pull"): ["remote", "branch"], ("git", "fetch"): ["remote", "branch"],
    ("git", "clone"): ["url", "directory"], ("git", "tag"): ["tag"], ("git", "cherry-pick"): ["commit"],
    ("git", "revert"): ["commit"], ("git", "reset"): ["commit"],
    ("cd", None): ["directory"], ("pushd", None): ["directory"], ("ssh", None): ["host", "remote_command"],
    ("ping", None): ["host"], ("dig", None): ["host"], ("nslookup", None): ["host"], ("host", None): ["host"],
    ("curl", None): ["url"], ("wget", None): ["url"], ("http", None): ["url"],
    ("docker", "run"): ["image"], ("docker", "pull"): ["image"], ("docker", "push"): ["image"],
    ("docker", "exec"): ["container"], ("docker", "logs"): ["container"], ("docker", "restart"): ["container"],
    ("docker", "stop"): ["container"], ("docker", "build"): ["context"],
    ("systemctl", None): ["service"], ("service", None): ["service"],
    ("kubectl", None): ["resource", "name"], ("helm", None): ["release", "chart"],
    ("python", None): ["script"], ("python3", None): ["script"], ("node", None): ["script"],
    ("tar", None): ["source"], ("zip", None): ["archive", "source"], ("unzip", None): ["archive"],
}
#: Programs whose last operand is where things go.
TRANSFER_PROGRAMS = frozenset({"cp", "mv", "rsync", "scp", "ln", "install"})

_INT = re.compile(r"-?(?:0|[1-9][0-9]{0,17})")
_FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)\.[0-9]+")
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://\S+")
_HOST = re.compile(r"(?:[A-Za-z0-9_-]+@)?[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_FILE_EXT = re.compile(r"\.(?:[A-Za-z][A-Za-z0-9]{0,4}|tar\.gz)$")
_VERSION = re.compile(r"v?\d+(?:\.\d+){1,3}(?:[-+][0-9A-Za-z.-]+)?")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}(?:[T ][0-9:]+)?")
_JINJA_OPEN = re.compile(r"\{[{%#]")
#: Values that name a deployment environment.
ENVIRONMENTS = frozenset({"dev", "development", "test", "testing", "qa", "uat", "stage", "staging", "preprod",
                          "prod", "production", "live", "local", "sandbox", "demo"})


def escape_template(text: str) -> str:
    """Literal text safe inside a template: ``{{``, ``{%`` and ``{#`` written as expressions
    that print them (``docker inspect -f '{{.State}}'`` stays what it was)."""
    return _JINJA_OPEN.sub(lambda m: "{{ '" + m.group() + "' }}", text)


@dataclass
class Param:
    """A parameter of a suggested workflow.

    Attributes:
        name: its name (a valid, unreserved identifier).
        type: ``string``, ``integer``, ``number`` or ``secret``.
        values: the values seen, most common first (typed); empty for a secret.
        default: the most common value; None for a secret.
        description: for the workflow file.
        tilde: the values are paths below the home folder (the command had ``~/`` before them).
    """

    name: str
    type: str
    values: list = field(default_factory=list)
    default: Any = None
    description: str = ""
    tilde: bool = False

    def to_json(self) -> dict:
        return {"type": self.type, "default": self.default, "values": list(self.values)}

    @property
    def sample(self) -> str:
        """A value standing for the parameter when a step is checked against a tool's schema."""
        return "secret-value" if self.type == "secret" else str(self.default)


@dataclass
class Text:
    """A string as a template (``t``, with ``{{ name }}``) and as a sample (``s``, with the
    parameters' defaults put in); ``p`` says whether it refers to a parameter."""

    t: str = ""
    s: str = ""
    p: bool = False

    @classmethod
    def param(cls, param: "Param") -> "Text":
        return cls("{{ %s }}" % param.name, param.sample, True)

    @classmethod
    def plain(cls, text: str) -> "Text":
        """Literal text (``{{`` in it escaped for the template)."""
        return cls(escape_template(text), text)

    def __add__(self, other: "Text | str") -> "Text":
        if isinstance(other, str):
            other = Text.plain(other)
        return Text(self.t + other.t, self.s + other.s, self.p or other.p)

    @property
    def literal(self) -> bool:
        return not self.p


@dataclass
class GenCommand:
    """One command of a suggestion, generalized.

    Attributes:
        command: the most recent occurrence.
        op: the operator before it in that occurrence (``&&``, ``;``, or None).
        bindings: slot → :class:`Param` or the literal text all occurrences had.
    """

    command: Command
    op: str | None
    bindings: dict[tuple[int, int], Any]

    def word(self, index: int, start: int = 0) -> Text:
        """Word ``index`` (from its part ``start``) as a :class:`Text` of its unquoted value
        (for tool parameters)."""
        out = Text()
        for p, part in enumerate(self.command.parts[index][start:], start):
            bound = self.bindings.get((index, p), part[0])
            out = out + (Text.param(bound) if isinstance(bound, Param) else bound)
        return out

    def has_params(self, index: int) -> bool:
        return any(isinstance(self.bindings.get((index, p)), Param) for p in range(len(self.command.parts[index])))

    def shell_word(self, index: int, keep: set[str] | None = None) -> Text:
        """Word ``index`` as shell text: as typed when nothing in it varies, else quoted parts
        around ``{{ name }}`` (each inserted value becomes one shell word: spec §5).
        Parameters not in ``keep`` (when given) are shown by their default (``***`` for a secret)."""
        cmd = self.command
        raw_word = index in cmd.raw_words
        as_typed = all(self.bindings.get((index, p), part[0]) == part[0] for p, part in enumerate(cmd.parts[index]))
        if as_typed:
            return Text.plain(cmd.parts[index][0][0] if cmd.opaque else cmd.words[index].raw)
        out = Text()
        for p, part in enumerate(cmd.parts[index]):
            bound = self.bindings.get((index, p), part[0])
            if isinstance(bound, Param) and keep is not None and bound.name not in keep:
                bound = "***" if bound.type == "secret" else str(bound.default)
            if isinstance(bound, Param):
                out = out + Text.param(bound)
            elif raw_word or (p == 0 and bound in ("~/", "~")):
                out = out + bound
            else:
                out = out + quote_text(bound)
        return out

    def shell(self, start: int = 0, keep: set[str] | None = None) -> Text:
        """The command (from word ``start``) as shell text (``keep``: see :meth:`shell_word`)."""
        out = Text()
        for index in range(start, len(self.command.parts)):
            if index > start:
                out = out + " "
            out = out + self.shell_word(index, keep)
        return out


def _typed(values: list[str]) -> tuple[str, list]:
    if all(_INT.fullmatch(v) for v in values):
        return "integer", [int(v) for v in values]
    if all(_INT.fullmatch(v) or _FLOAT.fullmatch(v) for v in values):
        return "number", [float(v) for v in values]
    return "string", list(values)


def _by_frequency(values: list) -> list:
    """Distinct values, most common first; ties: the most recent first (``values`` is oldest first)."""
    counts = Counter(values)
    last = {v: i for i, v in enumerate(values)}
    return sorted(counts, key=lambda v: (-counts[v], -last[v]))


def _typo_of(typo: str, word: str) -> bool:
    """True when ``typo`` is ``word`` with two adjacent characters swapped, or one character
    (not a digit, not the last) left out or added: how fingers slip. A different digit or last
    letter is a different value (``web1``/``web2``, ``feature-a``/``feature-b``), never a typo."""
    if len(typo) == len(word):
        diff = [i for i in range(len(typo)) if typo[i] != word[i]]
        return (len(diff) == 2 and diff[1] == diff[0] + 1 and typo[diff[0]] == word[diff[1]]
                and typo[diff[1]] == word[diff[0]] and not (typo[diff[0]] + typo[diff[1]]).isdigit())
    short, long_ = (typo, word) if len(typo) < len(word) else (word, typo)
    if len(long_) - len(short) != 1:
        return False
    i = 0
    while i < len(short) and short[i] == long_[i]:
        i += 1
    return short[i:] == long_[i + 1:] and i < len(short) and not long_[i].isdigit()


def merge_typos(values: list[str]) -> list[str]:
    """``values`` with each value seen once that is a typo (:func:`_typo_of`) of a value seen
    more often in the same slot replaced by that value (``requirements.ttx`` →
    ``requirements.txt``): a slip the user corrected, not a value to offer."""
    _one_edit = _typo_of
    counts = Counter(values)
    if len(counts) < 2:
        return values
    fixed: dict[str, str] = {}
    for value, count in counts.items():
        if count == 1 and len(value) >= 4:
            for other, more in counts.most_common():
                if more > 1 and _one_edit(value, other):
                    fixed[value] = other
                    break
    return [fixed.get(v, v) for v in values] if fixed else values


def _shape_name(values: list[str], hint: dict) -> str | None:
    if all(v.lower() in ENVIRONMENTS for v in values):
        return "environment"
    if all(_URL.fullmatch(v) for v in values):
        return "url"
    if all(_DATE.fullmatch(v) for v in values):
        return "date"
    if all(_VERSION.fullmatch(v) for v in values):
        return "version"
    pathish = hint.get("tilde") or all("/" in v or v.startswith((".", "~")) for v in values)
    if pathish:
        if all(v.endswith("/") for v in values):
            return "directory"
        if all(_FILE_EXT.search(v) for v in values):
            return "file"
        return "path"
    if all(_HOST.fullmatch(v) and not _FILE_EXT.search(v) for v in values):
        return "host"
    if all(_FILE_EXT.search(v) for v in values) and not all(_INT.fullmatch(v) or _FLOAT.fullmatch(v) for v in values):
        return "file"
    return None


def _meaning(cmd: Command, slot: tuple[int, int], values: list[str]) -> str | None:
    """The name a slot's meaning gives it (see the module docstring), or None."""
    hint = cmd.hints.get(slot, {})
    part = cmd.parts[slot[0]][slot[1]]
    if part[1] == "secret":
        return part[2] or (hint.get("assignment") or "").lower() or None
    if hint.get("assignment"):
        return hint["assignment"].lower()
    program = hint.get("program") or cmd.base
    sub = (hint.get("subcommand") or "").split(" ")[0] or None
    option = hint.get("option")
    if option:
        if option.startswith("--"):
            return option[2:]
        names = SHORT_OPTION_NAMES.get(program, {})
        return names.get(option) or SHORT_OPTION_NAMES["*"].get(option)
    if hint.get("redirect"):
        return "input_file" if "<" in hint["redirect"] else "output_file"
    if "position" in hint:
        position = hint["position"] - (1 if sub else 0) - (1 if sub and " " in (hint.get("subcommand") or "") else 0)
        if program in TRANSFER_PROGRAMS:
            last = max((h.get("position", -1) for h in cmd.hints.values() if h.get("program") == program), default=-1)
            return "destination" if hint["position"] == last else "source"
        names = POSITIONAL_NAMES.get((program, sub)) or POSITIONAL_NAMES.get((program, None))
        if names and 0 <= position < len(names):
            if names[position] in ("url",) and not all(_URL.fullmatch(v) or "@" in v for v in values):
                return _shape_name(values, hint)
            return names[position]
    return _shape_name(values, hint)


def _identifier(name: str) -> str:
    slug = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
    if not slug or slug[0].isdigit():
        slug = "p_" + slug
    if slug in RESERVED_NAMES or slug in DAGSTER_RESERVED:
        slug += "_value"
    return slug


def generalize(occurrences: list[list[Unit]]) -> tuple[list[GenCommand], dict[str, Param]]:
    """Generalize a sequence from its occurrences.

    Args:
        occurrences: the units of each occurrence, oldest first (all with the same shapes).

    Returns:
        ``(commands, parameters)``: one :class:`GenCommand` per position, and the parameters
        by name, in order of first use.
    """
    latest = occurrences[-1]
    params: dict[str, Param] = {}
    by_values: dict[tuple, Param] = {}
    secrets_by_values: dict[tuple, Param] = {}
    commands: list[GenCommand] = []
    arg_counter = [0]

    def unique(base: str | None) -> str:
        if base is None:
            arg_counter[0] += 1
            while f"arg{arg_counter[0]}" in params:
                arg_counter[0] += 1
            return f"arg{arg_counter[0]}"
        name = _identifier(base)
        candidate, n = name, 1
        while candidate in params:
            n += 1
            candidate = f"{name}_{n}"
        return candidate

    for position, unit in enumerate(latest):
        cmd = unit.command
        bindings: dict[tuple[int, int], Any] = {}
        for slot in cmd.slots:
            w, p = slot
            values = [occ[position].command.parts[w][p][0] for occ in occurrences]
            part = cmd.parts[w][p]
            if part[1] == "secret":
                key = tuple(values)
                param = secrets_by_values.get(key)
                if param is None:
                    name = unique(_meaning(cmd, slot, values) or "secret")
                    param = Param(name, "secret", [], None,
                                  f"read from the environment variable {name.upper()}; your history had it as a "
                                  "literal value, which was not copied")
                    params[name] = secrets_by_values[key] = param
                bindings[slot] = param
                continue
            values = merge_typos(values)
            if len(set(values)) == 1:
                bindings[slot] = values[0]
                continue
            key = tuple(values)
            param = by_values.get(key)
            if param is None:
                ptype, typed = _typed(values)
                ordered = _by_frequency(typed)
                hint = cmd.hints.get(slot, {})
                name = unique(_meaning(cmd, slot, values))
                tilde = bool(hint.get("tilde"))
                seen = ", ".join(str(v) for v in ordered[:5]) + (", ..." if len(ordered) > 5 else "")
                where = " (a path below your home folder, ~/)" if tilde else ""
                param = Param(name, ptype, ordered, ordered[0], f"seen in your history{where}: {seen}", tilde)
                params[name] = by_values[key] = param
            bindings[slot] = param
        commands.append(GenCommand(cmd, unit.op, bindings))
    return commands, params


__all__ = ["GenCommand", "Param", "Text", "escape_template", "generalize"]
