"""Shell command lines as words and shapes: what is structure, what varies, what is noise.

A history entry is split at top-level ``&&`` and ``;`` (and newlines) into simple commands
(:func:`split_chain`); ``||``, pipes and redirections stay inside one command. Entries that hold
a compound command (``if``, ``for``, ``while``, ``case``, a function, a subshell) stay whole.

Each simple command is read into :class:`Word` s and given a **shape** (:class:`Command`):

* the *structure* — the program, its subcommand (``git checkout``, ``make test``: the first
  plain word after a program that takes subcommands), option flags, operators, and words the
  shell expands (``$HOME``, globs, ``$(...)``) — is kept literally in the command's
  :attr:`Command.key`;
* every other word is a *slot* whose value may vary between runs of the same command
  (``git checkout feature-a`` and ``git checkout fix-b`` share the key ``git checkout <>``);
* credentials are *secret* slots (:mod:`.secrets`), never part of the key.

Commands are classified as ``work``, ``context`` (``cd``, ``export``, ``source``: they set the
scene for the commands after them) or ``noise`` (``ls``, ``clear``, ``history``, ``git
status``, editors and pagers: looking around, nothing to automate).

Nothing here imports Dagster.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from yaml2dag.suggest import secrets as _secrets
from yaml2dag.suggest.programs import (CONTEXT, INTERACTIVE, INTERPRETERS, LONG_VALUE_OPTIONS, NOISE, NOISE_SUBCOMMANDS,
                       OPERAND_PROGRAMS, PREFIX_PROGRAMS, SHORT_VALUE_OPTIONS, TRIVIAL_ALONE, TWO_LEVEL)
from yaml2dag.suggest.shellwords import COMPOUND, OPAQUE_MARKS, Word, quote_text, split_chain, tokenize

_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")
_PLAIN_WORD = re.compile(r"[a-z][a-z0-9_:-]*")
#: Redirection operators followed by a file name.
_REDIRECT = re.compile(r"[0-9]*(?:>>?|<|&>>?|<>)")


#: A part of a word: ``(text, role, hint)`` with role ``lit`` (structure), ``var`` (may vary: a
#: parameter when it does) or ``secret`` (always a secret parameter); ``hint`` names a secret.
Part = tuple


@dataclass
class Command:
    """A simple command, read for mining.

    Attributes:
        text: the command as typed.
        words: its words (empty for an opaque command).
        parts: per word, its parts (:data:`Part`); for an opaque command one pseudo-word: the
            raw text, with its secrets as ``secret`` parts.
        hints: naming hints per slot, ``(word, part)`` → dict with some of ``option``,
            ``program``, ``subcommand``, ``position``, ``redirect``, ``assignment``, ``tilde``.
        opaque: kept as one piece of shell text (compound commands, ``$(...)``, here-documents).
        program, subcommand: what runs (``git``, ``checkout``); None when unknown.
        kind: ``work``, ``context`` or ``noise``.
        key: the shape shared by every run of "the same command" (slots abstracted).
        base: the program's file name (``./deploy.sh`` → ``deploy.sh``), or ``""``.
        raw_words: indexes of the words whose literal parts are shell text as typed (operators,
            words the shell expands, the opaque pseudo-word); the others hold values, which
            need quoting when written back into a command.
    """

    text: str
    words: tuple[Word, ...] = ()
    parts: list[list[Part]] = field(default_factory=list)
    hints: dict[tuple[int, int], dict] = field(default_factory=dict)
    opaque: bool = False
    program: str | None = None
    program_index: int = -1
    subcommand: str | None = None
    kind: str = "work"
    key: str = ""
    raw_words: frozenset = frozenset()
    base: str = ""

    @property
    def slots(self) -> list[tuple[int, int]]:
        """``(word, part)`` of every non-literal part, in order."""
        return [(w, p) for w, parts in enumerate(self.parts) for p, part in enumerate(parts) if part[1] != "lit"]


    @property
    def has_operators(self) -> bool:
        return any(w.op for w in self.words)

    @property
    def trivial_alone(self) -> bool:
        """Not worth a workflow on its own: context, noise, :data:`TRIVIAL_ALONE` commands, and
        :data:`INTERACTIVE` programs started without a script or command (a REPL, a login)."""
        if self.kind != "work":
            return True
        if self.base in INTERACTIVE and not self.opaque and not self.has_operators:
            operands = [w for w in self.words[self.program_index + 1:] if not (w.value or "").startswith("-")]
            return len(operands) <= (1 if self.base in ("ssh", "psql", "mysql", "sqlite3") else 0)
        return self.base in TRIVIAL_ALONE


# --------------------------------------------------------------------------- shapes


def _basename(program: str) -> str:
    return program.rsplit("/", 1)[-1]


def _takes_subcommand(program: str) -> bool:
    base = _basename(program)
    return not ("/" in program or base in OPERAND_PROGRAMS or base.endswith((".sh", ".py", ".rb", ".pl", ".js")))


def _opaque(text: str) -> Command:
    first = text.split(None, 1)[0] if text.split() else ""
    program = first if re.fullmatch(r"[\w./-]+", first) and not _ASSIGNMENT.match(first) else None
    parts = _secrets.split_text(text, program)
    key = "".join(part[0] if part[1] == "lit" else "\x02" for part in parts)
    cmd = Command(text, (), [parts], {}, opaque=True, program=program, key="O\x1f" + key,
                  base=_basename(program or ""))
    cmd.hints = {slot: {} for slot in cmd.slots}
    cmd.raw_words = frozenset({0})
    return cmd


def _value_parts(option: str, value: str, base: str) -> list[Part]:
    """The parts of an option's value (the credential of ``--password x`` is secret...)."""
    if _secrets.is_secret_option(option) or (base == "sshpass" and option == "-p"):
        return [(value, "secret", option.lstrip("-").replace("-", "_") if option.startswith("--") else "password")]
    if option in ("-H", "--header"):
        return _secrets.split_header(value)
    if option in ("-u", "--user") and base in ("curl", "wget"):
        return _secrets.split_userinfo(value)
    return _secrets.split_value(value)


def _option(value: str, base: str) -> tuple[list[Part], str | None]:
    """An option word's parts, and the option whose value the next word is (or None)."""
    if value.startswith("--"):
        name, eq, rest = value.partition("=")
        if eq:
            return [(name + "=", "lit", None)] + _value_parts(name, rest, base), None
        takes = name in LONG_VALUE_OPTIONS or _secrets.is_secret_option(name)
        return [(value, "lit", None)], name if takes else None
    short = SHORT_VALUE_OPTIONS.get(base)
    if value[:2] == "-p" and len(value) > 2 and base in _secrets.ATTACHED_PASSWORD_PROGRAMS:
        return [("-p", "lit", None), (value[2:], "secret", "password")], None
    if short is not None and value[:2] in short and len(value) > 2:
        return [(value[:2], "lit", None)] + _value_parts(value[:2], value[2:], base), None
    if value in (short if short is not None else SHORT_VALUE_OPTIONS["*"]):
        return [(value, "lit", None)], value
    if base == "sshpass" and value == "-p":
        return [(value, "lit", None)], value
    return [(value, "lit", None)], None


def _scan_literals(parts: list[Part]) -> list[Part]:
    """Split any credential out of the literal parts of a word (a token in a program name, a
    flag or a word the shell expands), so no secret is ever kept as structure."""
    if all(part[1] != "lit" or not _secrets.find_spans(part[0]) for part in parts):
        return parts
    out: list[Part] = []
    for part in parts:
        if part[1] != "lit":
            out.append(part)
            continue
        out.extend(_secrets.split_text(part[0]))
    return out


def _assignment_parts(value: str) -> list[Part]:
    name, _, rest = value.partition("=")
    if _secrets.is_secret_name(name):
        return [(name + "=", "lit", None), (rest, "secret", name.lower())] if rest else [(value, "lit", None)]
    return [(name + "=", "lit", None)] + (_secrets.split_value(rest) if rest else [])


def analyze(text: str) -> Command:
    """Read one simple command (a piece of :func:`split_chain`) into a :class:`Command`."""
    if any(mark in text for mark in OPAQUE_MARKS):
        return _opaque(text)
    words = tokenize(text)
    if not words:
        return _opaque(text)
    cmd = Command(text, tuple(words))
    parts: list[list[Part]] = []

    def add(split: list[Part], hint: dict) -> None:
        parts.append(split)
        for p, part in enumerate(split):
            if part[1] != "lit":
                cmd.hints[(len(parts) - 1, p)] = hint

    i = 0
    while i < len(words) and not words[i].op and words[i].value is not None and _ASSIGNMENT.match(words[i].value):
        add(_assignment_parts(words[i].value), {"assignment": words[i].value.split("=", 1)[0]})
        i += 1
    program: str | None = None  # the command's program: the first one of a pipeline
    first_sub: str | None = None
    current: str | None = None  # the program of the pipeline segment being read
    subcommand: str | None = None
    expect_program = True
    position = 0
    pending: dict | None = None  # what the next word is: an option's value, a redirect target
    for i in range(i, len(words)):
        word = words[i]
        base = _basename(current or "")
        if word.op:
            parts.append([(word.raw, "lit", None)])
            pending = {"redirect": word.raw} if _REDIRECT.fullmatch(word.raw) else None
            if word.raw in ("|", "|&", "||", "&"):
                expect_program, position, current, subcommand = True, 0, None, None
            continue
        value = word.value
        if base == "tar" and position == 0 and not expect_program and value is not None and pending is None \
                and re.fullmatch(r"-?[AcdrtuxzjJvfpPkmOSWaBhilMnNoRsw]+", value) and "f" in value:
            parts.append([(value, "lit", None)])  # tar's bundled options: `tar czf ARCHIVE ...`
            position = 1
            pending = {"option": "-f"} if value.endswith("f") else None
            continue
        if value is None or word.glob or expect_program:
            parts.append([(word.raw if value is None or word.glob else value, "lit", None)])
            if expect_program:
                current = word.raw if value is None else value
                expect_program = value is not None and _basename(value) in PREFIX_PROGRAMS
                if not expect_program and program is None:
                    program, cmd.program_index = current, i
                position = 0
            elif pending is not None:
                pending = None
            else:
                position += 1
            continue
        if pending is not None:
            option = pending.get("option")
            split = _value_parts(option, value, base) if option else _secrets.split_value(value)
            add(split, {**pending, "program": base, "subcommand": subcommand})
            pending = None
            continue
        if value.startswith("-") and len(value) > 1 and not re.fullmatch(r"-\d+(\.\d+)?", value):
            split, takes = _option(value, base)
            add(split, {"option": split[0][0].rstrip("=") if len(split) > 1 else value, "program": base,
                        "subcommand": subcommand})
            pending = {"option": takes} if takes else None
            continue
        levels = TWO_LEVEL.get(base, frozenset())
        if _PLAIN_WORD.fullmatch(value) and _takes_subcommand(current or "") and (
                position == 0 or (position == 1 and (levels is None or subcommand in levels))):
            parts.append([(value, "lit", None)])
            subcommand = value if position == 0 else f"{subcommand} {value}"
            if current == program:
                first_sub = subcommand
            position += 1
            continue
        hint = {"position": position, "program": base, "subcommand": subcommand, "tilde": word.tilde}
        if word.tilde:
            add([("~", "lit", None)] if value == "~" else [("~/", "lit", None)] + _secrets.split_value(value[2:]), hint)
        elif _ASSIGNMENT.match(value):
            add(_assignment_parts(value), {**hint, "assignment": value.split("=", 1)[0]})
        else:
            add(_secrets.split_value(value), hint)
        position += 1
    subcommand = first_sub
    cmd.parts = [_scan_literals(wparts) for wparts in parts]
    cmd.hints = {slot: cmd.hints.get(slot, {}) for slot in cmd.slots}
    cmd.raw_words = frozenset(i for i, w in enumerate(words) if w.op or w.value is None or w.glob)
    cmd.program = program
    cmd.base = _basename(program or "")
    cmd.subcommand = subcommand
    cmd.kind = _kind(cmd)
    cmd.key = "W\x1f" + "\x1f".join("".join(part[0] if part[1] == "lit" else ("\x01" if part[1] == "var" else "\x02")
                                            for part in wparts) for wparts in parts)
    return cmd


def _kind(cmd: Command) -> str:
    if cmd.program is None:
        # only assignments (`TOKEN=x`): sets a shell variable for the commands after it
        return "context" if cmd.parts and not cmd.has_operators else "work"
    base = _basename(cmd.program)
    if base.startswith("!") or (base in NOISE and not cmd.has_operators):
        return "noise"
    first_sub = (cmd.subcommand or "").split(" ")[0]
    if first_sub in NOISE_SUBCOMMANDS.get(base, ()) and not cmd.has_operators:
        return "noise"
    if cmd.has_operators or cmd.program_index != _first_program_index(cmd):
        return "work"
    args = [w for w in cmd.words[cmd.program_index + 1:]]
    if base in ("cd", "pushd"):
        if len(args) > 1 or (args and args[0].value == "-"):
            return "noise"
        return "context"
    if base == "export":
        values = [w.value or "" for w in args]
        return "context" if values and all(_ASSIGNMENT.match(v) for v in values) else "work"
    if base in ("source", "."):
        return "context" if args else "work"
    return "work"


def _first_program_index(cmd: Command) -> int:
    for i, word in enumerate(cmd.words):
        if word.op or word.value is None or not _ASSIGNMENT.match(word.value):
            return i
    return len(cmd.words)


def read_line(text: str) -> list[tuple[Command, str | None]]:
    """A history entry as its simple commands: ``[(command, operator before it), ...]``."""
    pieces = split_chain(text)
    if pieces is None:
        return [(_opaque(text.strip()), None)] if text.strip() else []
    return [(analyze(piece), op) for piece, op in pieces]


__all__ = ["COMPOUND", "CONTEXT", "Command", "INTERPRETERS", "NOISE", "TRIVIAL_ALONE", "Word", "analyze",
           "quote_text", "read_line", "split_chain", "tokenize"]
