"""Writing advice into a workflow text through the comment-preserving round trip.

Each piece of advice carries a ``change`` (:class:`Change`): what to set on which steps. It is
shown as a YAML fragment (:func:`fragment`) and applied to a
:class:`~yaml2dag.library.roundtrip.RoundTripDocument` (:func:`apply_changes`), so comments,
key order and quoting of the rest of the file stay as they are. Steps are found by id wherever
they sit (the ``steps`` and ``on_failure`` lists, parallel groups, branch sides, switch cases),
so several changes apply one after the other.

Nothing here imports Dagster.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterator

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from yaml2dag.library.roundtrip import RoundTripDocument, to_yaml

#: Keys of an entry that hold nested step lists.
_LIST_KEYS = ("parallel", "then", "else", "default")

#: Step keys after which a new key goes, the first found from the end of this list wins.
_ANCHORS = ("id", "name", "description", "tool", "action", "parameters", "depends_on", "needs", "when", "if",
            "on_error")


@dataclass(frozen=True)
class Change:
    """What one piece of advice changes.

    Attributes:
        kind: ``set`` (set ``values`` on the step ``steps[0]``), ``group`` (put the consecutive
            steps ``steps`` into one ``parallel`` group) or ``none`` (advice only).
        steps: the step ids concerned.
        values: for ``set``: key → value (``retry: {...}``, ``timeout: "30s"``).
        note: for ``none``: what to do by hand (shown as a YAML comment).
    """

    kind: str
    steps: tuple[str, ...]
    values: dict = field(default_factory=dict)
    note: str = ""


class ChangeError(ValueError):
    """A change that no longer fits the file (a step moved or was removed since the runs)."""


def _lists(data: Any) -> Iterator[list]:
    """Every step list of the document, depth first."""
    roots = [data.get(key) for key in ("steps", "on_failure")]
    stack = [r for r in roots if isinstance(r, list)]
    while stack:
        current = stack.pop()
        yield current
        for item in current:
            if not hasattr(item, "get"):
                continue
            for key in _LIST_KEYS:
                if isinstance(item.get(key), list):
                    stack.append(item[key])
            cases = item.get("cases")
            if hasattr(cases, "values"):
                stack.extend(v for v in cases.values() if isinstance(v, list))


def _locate(data: Any, step_id: str) -> tuple[list, int]:
    for items in _lists(data):
        for i, item in enumerate(items):
            if hasattr(item, "get") and item.get("id") == step_id and "parallel" not in item:
                return items, i
    raise ChangeError(f"step `{step_id}` is not in the file any more")


def _insert(doc: RoundTripDocument, mapping: Any, key: str, value: Any) -> None:
    """Set ``key`` on a step mapping: in place when present, else after its last anchor key."""
    if key in mapping:
        mapping[key] = value
        return
    keys = list(mapping.keys())
    position = len(keys)
    anchored = [keys.index(k) for k in _ANCHORS if k in keys]
    if anchored:
        position = max(anchored) + 1
    if doc.json_format:
        items = list(mapping.items())
        items.insert(position, (key, value))
        mapping.clear()
        mapping.update(items)
    else:
        mapping.insert(position, key, _plain(value))


def _plain(value: Any) -> Any:
    """Plain data as ruamel round-trip nodes (block style)."""
    if isinstance(value, dict):
        out = CommentedMap()
        for k, v in value.items():
            out[k] = _plain(v)
        return out
    if isinstance(value, list):
        return CommentedSeq(_plain(v) for v in value)
    return value


def _group(doc: RoundTripDocument, step_ids: tuple[str, ...]) -> None:
    items, first = _locate(doc.data, step_ids[0])
    positions = [first]
    for step_id in step_ids[1:]:
        other, index = _locate(doc.data, step_id)
        if other is not items:
            raise ChangeError(f"steps {', '.join(step_ids)} are no longer in one list")
        positions.append(index)
    if positions != list(range(first, first + len(positions))):
        raise ChangeError(f"steps {', '.join(step_ids)} are no longer next to each other")
    members = [items[i] for i in positions]
    # comment lines above a member belong to the list, by index: they move with the member
    notes = {j: items.ca.items.get(i) for j, i in enumerate(positions)} if not doc.json_format else {}
    for _ in positions:
        del items[first]
    if doc.json_format:
        items.insert(first, {"parallel": members})
        return
    inner = CommentedSeq(members)
    for j, note in notes.items():
        if note is not None and j > 0:
            for token in note[1] or ():
                token.column += doc.style[1]  # one list deeper: indented like the member
            inner.ca.items[j] = note
    group = CommentedMap()
    group["parallel"] = inner
    items.insert(first, group)
    if notes.get(0) is not None:
        items.ca.items[first] = notes[0]


def apply_changes(doc: RoundTripDocument, changes: list[Change]) -> list[str]:
    """Apply ``changes`` to ``doc`` in order (``none`` changes are skipped).

    Returns:
        One line per applied change (``retry on flaky``, ``parallel group a, b``).

    Raises:
        ChangeError: a step is not in the file, or the steps of a group are no longer
            consecutive in one list.
    """
    done = []
    for change in changes:
        if change.kind == "set":
            items, index = _locate(doc.data, change.steps[0])
            for key, value in change.values.items():
                _insert(doc, items[index], key, value)
            done.append(f"{', '.join(change.values)} on {change.steps[0]}")
        elif change.kind == "group":
            _group(doc, change.steps)
            done.append(f"parallel group {', '.join(change.steps)}")
    return done


def plain(value: Any) -> Any:
    """A round-trip node (or JSON data) as plain dicts and lists."""
    if hasattr(value, "items"):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def fragment(change: Change, data: Any) -> str:
    """The YAML fragment of ``change`` against the document ``data`` (a step-list item).

    ``set``: the step's ``id`` and the new keys; ``group``: the ``parallel`` group with the
    member steps as they are in the file; ``none``: the note as comment lines.
    """
    if change.kind == "set":
        text = to_yaml({"steps": [{"id": change.steps[0], **change.values}]})
    elif change.kind == "group":
        members = []
        for step_id in change.steps:
            items, index = _locate(data, step_id)
            members.append(plain(items[index]))
        text = to_yaml({"steps": [{"parallel": members}]})
    else:
        return "".join(f"# {line}\n" for line in change.note.splitlines())
    lines = text.splitlines()[1:]  # without "steps:": the item as it goes into a step list
    return "".join(line[2:] + "\n" if line.startswith("  ") else line + "\n" for line in lines)
