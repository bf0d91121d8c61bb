"""Reading shell history files: bash, zsh and fish, as timestamped entries (issue 12, §1).

Formats (detected from the content, the file name breaking ties):

* **bash**, plain: one command per line. With ``HISTTIMEFORMAT`` set, bash writes a line
  ``#<epoch seconds>`` before each entry; the lines up to the next such line are that entry
  (several when ``shopt -s lithist`` keeps multi-line commands as they were typed).
* **zsh**, extended history (``setopt EXTENDED_HISTORY``): ``: <epoch>:<duration>;<command>``.
  Plain zsh history is one command per line. In both, a newline inside a command is written
  as a backslash at the end of the line (zsh's ``savehistfile``), and bytes that zsh uses
  internally are *metafied*: written as ``0x83`` followed by the byte XOR ``0x20``
  (zsh ``unmetafy()``); they are decoded here before the text is read as UTF-8.
* **fish**: ``- cmd: <command>`` with ``  when: <epoch>`` and ``  paths:`` lines below it; a
  newline in the command is written ``\\n`` and a backslash ``\\\\`` (fish's history format).

Real history files are big and dirty. Nothing here raises on content: every line of a file is
counted either as *used* or as *skipped* with a reason (:class:`SourceReport`), so
``used + sum(skipped.values()) == lines`` always holds. Entries without a timestamp are used
only when the file has no timestamps at all (then no time window can apply to it).

Nothing here imports Dagster.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

#: Skip reasons (the keys of :attr:`SourceReport.skipped`).
BINARY = "not UTF-8 text (binary data)"
CONTROL = "control characters (binary data)"
BLANK = "blank line"
UNTERMINATED = "unterminated multi-line command"
LONE_TIMESTAMP = "timestamp line without a command"
NO_TIMESTAMP = "no timestamp (the file has timestamps elsewhere)"
NOT_FISH = "not fish history syntax"
BEFORE_WINDOW = "before the window"
AFTER_NOW = "after --now"

#: Control characters that mark a line as binary junk (tab is fine).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
_BASH_TS = re.compile(rb"#(\d{9,11})\s*")
_ZSH_EXT = re.compile(rb": *(\d{1,11}):(\d+);(.*)", re.S)
_FISH_CMD = re.compile(rb"- cmd: ?(.*)", re.S)
_FISH_WHEN = re.compile(rb"  when: *(\d{1,11})\s*")
_FISH_META = re.compile(rb"  (paths:.*|- .*)|    - .*", re.S)
#: zsh's Meta byte: the next byte is stored XOR 0x20.
META = 0x83
_METAFIED = re.compile(rb"\x83(.)", re.S)

#: File names that zsh uses (plain zsh histories look like bash ones otherwise).
ZSH_NAMES = (".zsh_history", ".zhistory", ".histfile", "zsh_history", "zhistory")


@dataclass(frozen=True)
class HistoryEntry:
    """One command from a history file.

    Attributes:
        command: the command as typed (several lines for a multi-line command).
        timestamp: when it ran (Unix seconds), or None when the file does not say.
        source: index of the file in the list of sources read.
        first_line, last_line: 1-based line numbers the entry spans in its file.
    """

    command: str
    timestamp: float | None
    source: int
    first_line: int
    last_line: int

    @property
    def lines(self) -> int:
        return self.last_line - self.first_line + 1


@dataclass
class SourceReport:
    """What reading one history file gave.

    Attributes:
        path: the file.
        format: ``bash``, ``zsh`` or ``fish``.
        timestamps: the file has timestamped entries.
        lines: lines in the file.
        entries: commands read (before the time window).
        used: lines of the entries that were mined.
        skipped: reason → number of lines skipped for it (see the module constants).
        note: a remark for the user (e.g. that the window did not apply), or None.
    """

    path: str
    format: str
    timestamps: bool = False
    lines: int = 0
    entries: int = 0
    used: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    note: str | None = None

    def skip(self, reason: str, lines: int = 1) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + lines

    def to_json(self) -> dict:
        return {"path": self.path, "format": self.format, "timestamps": self.timestamps, "lines": self.lines,
                "entries": self.entries, "used": self.used, "skipped": dict(self.skipped), "note": self.note}


def default_sources(environ: dict | None = None) -> list[Path]:
    """The user's own history files that exist: ``$HISTFILE``, ``~/.bash_history``,
    ``~/.zsh_history``, ``~/.zhistory``, ``~/.histfile`` and fish's
    ``$XDG_DATA_HOME/fish/fish_history`` (default ``~/.local/share/fish/fish_history``), each
    once (by resolved path), in that order."""
    env = os.environ if environ is None else environ
    home = Path(env.get("HOME") or os.path.expanduser("~"))
    data_home = Path(env.get("XDG_DATA_HOME") or home / ".local" / "share")
    candidates = [Path(env["HISTFILE"]).expanduser()] if env.get("HISTFILE") else []
    candidates += [home / ".bash_history", home / ".zsh_history", home / ".zhistory", home / ".histfile",
                   data_home / "fish" / "fish_history"]
    out, seen = [], set()
    for path in candidates:
        try:
            key = path.resolve()
        except OSError:
            continue
        if key in seen or not path.is_file():
            continue
        seen.add(key)
        out.append(path)
    return out


def detect_format(data: bytes, name: str = "") -> str:
    """``bash``, ``zsh`` or ``fish`` for a history file's bytes (its first 400 lines decide).
    A plain one-command-per-line file is zsh when its name is one zsh uses, or when its bytes
    are metafied (not UTF-8 as they are, UTF-8 once demetafied); else bash."""
    sample = data[:65536].split(b"\n")[:400]
    fish = sum(1 for line in sample if line.startswith(b"- cmd:"))
    zsh = sum(1 for line in sample if _ZSH_EXT.fullmatch(line.rstrip(b"\r")))
    bash = sum(1 for line in sample if _BASH_TS.fullmatch(line.rstrip(b"\r")))
    best = max(fish, zsh, bash)
    if best and best == fish:
        return "fish"
    if best and best == zsh:
        return "zsh"
    if best:
        return "bash"
    base = os.path.basename(name)
    if base in ZSH_NAMES:
        return "zsh"
    if META in data and not _is_utf8(data) and _is_utf8(demetafy(data)):
        return "zsh"  # metafied text (0x83 is also a valid UTF-8 byte: "ă" is c4 83)
    return "bash"


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
        return True
    except UnicodeDecodeError:
        return False


def demetafy(line: bytes) -> bytes:
    """Undo zsh's metafication: ``0x83 X`` → ``X ^ 0x20`` (zsh ``unmetafy()``)."""
    if META not in line:
        return line
    return _METAFIED.sub(lambda m: bytes((m.group(1)[0] ^ 0x20,)), line)


def _text(raw: bytes, zsh: bool, report: SourceReport, lines: int = 1) -> str | None:
    """A line's text, or None (counted as skipped) when it is binary junk."""
    if zsh:
        raw = demetafy(raw)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        report.skip(BINARY, lines)
        return None
    if _CONTROL.search(text):
        report.skip(CONTROL, lines)
        return None
    return text


def _lines(data: bytes) -> list[bytes]:
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


def _continues(raw: bytes) -> bool:
    """A zsh history line that ends with a backslash: the command goes on on the next line."""
    return raw.endswith(b"\\")


def _read_zsh(lines: list[bytes], source: int, report: SourceReport) -> list[HistoryEntry]:
    entries: list[HistoryEntry] = []
    i, n = 0, len(lines)
    while i < n:
        raw = lines[i]
        start = i
        match = _ZSH_EXT.fullmatch(raw)
        stamp: float | None = float(match.group(1)) if match else None
        body = match.group(3) if match else raw
        if not match and not raw.strip():
            report.skip(BLANK)
            i += 1
            continue
        parts = [body]
        broken = False
        while _continues(parts[-1]):
            if i + 1 >= n or _ZSH_EXT.fullmatch(lines[i + 1]):
                broken = True  # end of file, or a new entry where the rest of this one should be
                break
            parts[-1] = parts[-1][:-1]
            i += 1
            parts.append(lines[i])
        i += 1
        if broken:
            report.skip(UNTERMINATED, i - start)
            continue
        text = _text(b"\n".join(parts), True, report, i - start)
        if text is None:
            continue
        if not text.strip():
            report.skip(BLANK, i - start)
            continue
        entries.append(HistoryEntry(text, stamp, source, start + 1, i))
    return entries


def _read_bash(lines: list[bytes], source: int, report: SourceReport) -> list[HistoryEntry]:
    entries: list[HistoryEntry] = []
    stamp: float | None = None
    stamp_line = 0
    timestamped = False
    i, n = 0, len(lines)
    while i < n:
        raw = lines[i]
        match = _BASH_TS.fullmatch(raw)
        if match:
            if stamp is not None:
                report.skip(LONE_TIMESTAMP)
            stamp, stamp_line, timestamped = float(match.group(1)), i, True
            i += 1
            continue
        if not raw.strip():
            report.skip(BLANK)
            i += 1
            continue
        start = stamp_line if stamp is not None else i
        parts = [raw]
        if stamp is not None:
            # with timestamps, the lines up to the next timestamp are one (multi-line) entry
            while i + 1 < n and not _BASH_TS.fullmatch(lines[i + 1]):
                i += 1
                parts.append(lines[i])
            while len(parts) > 1 and not parts[-1].strip():
                parts.pop()
                report.skip(BLANK)
        i += 1
        count = len(parts) + (1 if stamp is not None else 0)
        text = _text(b"\n".join(parts), False, report, count)
        stamp_now, stamp = stamp, None
        if text is None:
            continue
        entries.append(HistoryEntry(text, stamp_now, source, start + 1, start + count))
    if stamp is not None:
        report.skip(LONE_TIMESTAMP)
    report.timestamps = timestamped
    return entries


def _fish_unescape(text: str) -> str:
    if "\\" not in text:
        return text
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), text)


def _read_fish(lines: list[bytes], source: int, report: SourceReport) -> list[HistoryEntry]:
    entries: list[HistoryEntry] = []
    current: list = []  # [text, stamp, first_line, last_line]

    def flush() -> None:
        if current:
            text, stamp, first, last = current
            entries.append(HistoryEntry(text, stamp, source, first, last))
            current.clear()

    for i, raw in enumerate(lines):
        match = _FISH_CMD.fullmatch(raw)
        if match:
            flush()
            text = _text(match.group(1), False, report)
            if text is None:
                continue
            command = _fish_unescape(text)
            if not command.strip():
                report.skip(BLANK)
                continue
            current.extend([command, None, i + 1, i + 1])
            continue
        when = _FISH_WHEN.fullmatch(raw)
        if current and (when or _FISH_META.fullmatch(raw)):
            if when:
                current[1] = float(when.group(1))
            current[3] = i + 1
            continue
        flush()  # an entry is the lines right below its `- cmd:`
        report.skip(BLANK if not raw.strip() else NOT_FISH)
    flush()
    return entries


def read_history(path: str | Path, source: int = 0) -> tuple[list[HistoryEntry], SourceReport]:
    """Read one history file.

    Args:
        path: the file (any of the formats above, detected from its content).
        source: index recorded in each entry (which file it came from).

    Returns:
        ``(entries, report)``: the entries in file order — entries without a timestamp left out
        (counted as skipped) when the file has timestamps elsewhere — and what was read.

    Raises:
        OSError: the file cannot be read.
    """
    data = Path(path).read_bytes()
    fmt = detect_format(data, str(path))
    report = SourceReport(str(path), fmt)
    lines = _lines(data)
    report.lines = len(lines)
    if fmt == "fish":
        entries = _read_fish(lines, source, report)
    elif fmt == "zsh":
        entries = _read_zsh(lines, source, report)
    else:
        entries = _read_bash(lines, source, report)
    stamped = [e for e in entries if e.timestamp is not None]
    report.timestamps = bool(stamped)
    if stamped and len(stamped) < len(entries):
        for entry in entries:
            if entry.timestamp is None:
                report.skip(NO_TIMESTAMP, entry.lines)
        entries = stamped
    report.entries = len(entries)
    return entries, report


__all__ = ["HistoryEntry", "SourceReport", "default_sources", "demetafy", "detect_format", "read_history"]
