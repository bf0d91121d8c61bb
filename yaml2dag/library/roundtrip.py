"""Round-trip editing of workflow files: change one key, keep everything else.

Every write-back the CLI makes to an existing workflow file (``schedule``, version bumps,
``create --from-file`` renames) goes through :class:`RoundTripDocument`: YAML files are loaded
with ruamel.yaml's round-trip loader, so comments, key order, quoting and flow/block style
survive, and written back with the indentation the file already uses (detected by trying the
common styles and keeping the one that reproduces the file exactly). JSON files keep their key
order and indentation width.

Nothing here imports Dagster.
"""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString, ScalarString

#: (mapping, sequence, offset) indentation styles tried, most common first. (2, 4, 2) is
#: ``key:\n  - item`` with nested keys at 4, the style of the shipped examples.
INDENT_STYLES = ((2, 4, 2), (2, 2, 0), (4, 4, 2), (4, 6, 4), (4, 4, 0), (3, 5, 2), (2, 3, 1))

#: Strings written without quotes by :func:`to_yaml` (ids, tool names, types); others are
#: double-quoted, as in the format's examples.
_PLAIN = re.compile(r"(?!(?:true|false|yes|no|on|off|null)$)[a-z_][a-z0-9_]*")

#: Indentation style of YAML that yaml2dag writes from scratch.
DEFAULT_STYLE = (2, 4, 2)


def _yaml(style: tuple[int, int, int] = DEFAULT_STYLE):
    yaml = YAML(typ="rt")
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap long lines (commands, templates)
    yaml.indent(mapping=style[0], sequence=style[1], offset=style[2])
    return yaml


def _dump(yaml, data: Any) -> str:
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def is_json_path(path: str | Path) -> bool:
    """True for ``.json`` files (written back as JSON, not YAML)."""
    return Path(path).suffix.lower() == ".json"


class RoundTripDocument:
    """A workflow file loaded for editing.

    Args:
        text: the file's text.
        json_format: the text is JSON (keep it JSON on :meth:`dump`).

    Attributes:
        data: the top-level mapping (a ruamel ``CommentedMap`` for YAML, a dict for JSON).

    Raises:
        ValueError: the text is not a mapping, or does not parse.
    """

    def __init__(self, text: str, json_format: bool = False):
        self.text = text
        self.json_format = json_format
        if json_format:
            try:
                self.data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON: {exc}") from None
            match = re.search(r"\n([ \t]+)\S", text)
            self._json_indent = len(match.group(1)) if match else 2
        else:
            self.style = self._detect_style(text)
            try:
                self.data = _yaml(self.style).load(text)
            except Exception as exc:  # noqa: BLE001 - ruamel raises many kinds
                raise ValueError(f"not valid YAML: {exc}") from None
        if not hasattr(self.data, "keys"):
            raise ValueError("the document is not a mapping")
        self._new_sections: list[str] = []

    @classmethod
    def from_file(cls, path: str | Path) -> "RoundTripDocument":
        """Load ``path`` (JSON when it ends in ``.json``)."""
        return cls(Path(path).read_text(encoding="utf-8"), is_json_path(path))

    @staticmethod
    def _detect_style(text: str) -> tuple[int, int, int]:
        best, best_score = DEFAULT_STYLE, None
        for style in INDENT_STYLES:
            try:
                yaml = _yaml(style)
                out = _dump(yaml, yaml.load(text))
            except Exception:  # noqa: BLE001 - unparsable text: the caller reports it
                return DEFAULT_STYLE
            if out == text:
                return style
            score = sum(1 for a, b in zip(out.splitlines(), text.splitlines()) if a != b)
            score += abs(len(out.splitlines()) - len(text.splitlines()))
            if best_score is None or score < best_score:
                best, best_score = style, score
        return best

    def dump(self) -> str:
        """The document as text, in its original format and indentation."""
        if self.json_format:
            return json.dumps(self.data, indent=self._json_indent, ensure_ascii=False) + "\n"
        text = _dump(_yaml(self.style), self.data)
        if self._new_sections and re.search(r"\n\n(steps|parameters|defaults|outputs):", self.text):
            for key in self._new_sections:
                text = _space_section(text, key)
        return text

    # ------------------------------------------------------------------ edits

    def set_top(self, key: str, value: Any, after: tuple[str, ...] = ("name", "id")) -> None:
        """Set a top-level key. An existing key keeps its place and its quoting style; a new
        one goes right after the first of ``after`` that exists (else first)."""
        data = self.data
        if key in data:
            data[key] = _like(data[key], value)
            return
        position = 0
        keys = list(data.keys())
        for anchor in after:
            if anchor in keys:
                position = keys.index(anchor) + 1
                break
        if self.json_format:
            items = list(data.items())
            items.insert(position, (key, value))
            data.clear()
            data.update(items)
        else:
            data.insert(position, key, _quoted(value) if isinstance(value, str) else value)

    def remove_top(self, key: str) -> None:
        """Remove a top-level key if present."""
        if key in self.data:
            del self.data[key]

    def schedules(self) -> list[int]:
        """Indexes (in ``triggers``) of the schedule triggers."""
        triggers = self.data.get("triggers")
        if not isinstance(triggers, list):
            return []
        return [i for i, t in enumerate(triggers) if hasattr(t, "get") and t.get("type") == "schedule"]

    def set_schedule(self, cron: str, timezone: str | None = None, which: int | None = None) -> str:
        """Add a schedule trigger, or replace the cron (and time zone) of an existing one.

        Args:
            cron: the cron expression.
            timezone: IANA name; None keeps the trigger's time zone (new triggers: none, UTC).
            which: 1-based index among the schedule triggers to replace; None replaces the only
                one, or adds one when there is none.

        Returns:
            ``"added"`` or ``"replaced"``.

        Raises:
            ValueError: several schedules and no ``which``, or ``which`` out of range.
        """
        found = self.schedules()
        if which is None and len(found) > 1:
            raise ValueError(f"the workflow has {len(found)} schedule triggers: choose one with --index 1..{len(found)}")
        if which is not None and not 1 <= which <= len(found):
            raise ValueError(f"--index {which}: the workflow has {len(found)} schedule trigger(s)")
        if found:
            trigger = self.data["triggers"][found[(which or 1) - 1]]
            trigger["cron"] = _like(trigger.get("cron"), cron)
            if timezone is not None:
                if "timezone" in trigger:
                    trigger["timezone"] = _like(trigger["timezone"], timezone)
                else:
                    keys = list(trigger.keys())
                    pos = keys.index("cron") + 1 if "cron" in keys else len(keys)
                    if self.json_format:
                        items = list(trigger.items())
                        items.insert(pos, ("timezone", timezone))
                        trigger.clear()
                        trigger.update(items)
                    else:
                        trigger.insert(pos, "timezone", _quoted(timezone))
            return "replaced"
        new: dict[str, Any] = {"type": "schedule", "cron": cron}
        if timezone is not None:
            new["timezone"] = timezone
        if not self.json_format:
            mapping = CommentedMap()
            mapping["type"] = "schedule"
            mapping["cron"] = _quoted(cron)
            if timezone is not None:
                mapping["timezone"] = _quoted(timezone)
            new = mapping
        triggers = self.data.get("triggers")
        if isinstance(triggers, list):
            triggers.append(new)
        else:
            self._insert_section("triggers", [new])
        return "added"

    def remove_schedule(self, which: int | None = None) -> int:
        """Remove schedule triggers (all, or the ``which``-th, 1-based). Returns how many."""
        found = self.schedules()
        if which is not None:
            if not 1 <= which <= len(found):
                raise ValueError(f"--index {which}: the workflow has {len(found)} schedule trigger(s)")
            found = [found[which - 1]]
        for index in sorted(found, reverse=True):
            del self.data["triggers"][index]
        if found and not self.data["triggers"]:
            del self.data["triggers"]
        return len(found)

    def _insert_section(self, key: str, value: Any) -> None:
        """Add a top-level section before ``defaults``/``steps`` (after the header keys)."""
        keys = list(self.data.keys())
        position = len(keys)
        for anchor in ("defaults", "steps"):
            if anchor in keys:
                position = keys.index(anchor)
                break
        if self.json_format:
            items = list(self.data.items())
            items.insert(position, (key, value))
            self.data.clear()
            self.data.update(items)
            return

        self.data.insert(position, key, CommentedSeq(value))
        self._new_sections.append(key)


def _space_section(text: str, key: str) -> str:
    """Blank lines around the top-level section ``key`` (as the file's other sections have)."""
    lines = text.split("\n")
    try:
        start = lines.index(f"{key}:")
    except ValueError:
        return text
    end = start + 1
    while end < len(lines) and (lines[end][:1].isspace() or lines[end].startswith("- ")):
        end += 1
    if end < len(lines) and lines[end].strip():
        lines.insert(end, "")
    if start > 0 and lines[start - 1].strip():
        lines.insert(start, "")
    while start > 1 and not lines[start - 1].strip() and not lines[start - 2].strip():
        del lines[start - 1]
        start -= 1
    return "\n".join(lines)


def _quoted(value: str):
    return DoubleQuotedScalarString(value)


def _like(old: Any, value: Any) -> Any:
    """``value`` with the quoting style of ``old`` (a ruamel scalar string type)."""
    if isinstance(value, str):
        if isinstance(old, ScalarString):
            return type(old)(value)
        if old is None or not isinstance(old, str):
            return _quoted(value)
    return value


def to_yaml(data: Any, header: str | None = None) -> str:
    """Plain data (a dict from JSON, or a draft) as block-style YAML in yaml2dag's style.

    Args:
        data: the workflow mapping; key order is kept.
        header: comment lines put at the top (without ``#``), or None.
    """
    def convert(value: Any) -> Any:
        if isinstance(value, dict):
            out = CommentedMap()
            for k, v in value.items():
                out[k] = convert(v)
            return out
        if isinstance(value, (list, tuple)):
            return CommentedSeq(convert(v) for v in value)
        if isinstance(value, str) and not _PLAIN.fullmatch(value):
            return _quoted(value)
        return value

    converted = convert(data)
    text = _dump(_yaml(DEFAULT_STYLE), converted)
    # a blank line between top-level sections that span several lines, for readability
    lines = text.splitlines()
    out: list[str] = []
    for i, line in enumerate(lines):
        if i > 0 and line and not line[0].isspace() and not line.startswith("#") \
                and (lines[i - 1][:1].isspace() or line.split(":")[0] in ("steps", "parameters", "triggers", "outputs", "on_failure", "defaults")):
            out.append("")
        out.append(line)
    text = "\n".join(out) + "\n"
    if header:
        text = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines()) + text
    return text


def to_json(data: Any) -> str:
    """Plain data as indented JSON with a final newline (key order kept)."""
    return json.dumps(data, indent=2, ensure_ascii=False, default=str) + "\n"


__all__ = ["RoundTripDocument", "is_json_path", "to_json", "to_yaml"]
