"""Text helpers of the drafting grammar: languages, masks, English verb forms, Chinese numbers.

* :func:`is_chinese` - whether a phrase is read with the Chinese lexicon (it holds a CJK
  ideograph).
* :func:`halfwidth` - full-width ASCII forms (``，`` stays: it is CJK punctuation, but ``９``
  becomes ``9`` and ``％`` becomes ``%``) mapped one character to one character, so offsets
  into the original text stay valid.
* :class:`Masked` - literal values (quoted or backticked text, URLs, e-mail addresses, paths)
  replaced by placeholders ``⟦N⟧`` so that splitting and verb forms never touch them.
* :func:`lemmatize` - English verbs in their dictionary form ("pulls", "running", "deployed"
  → "pull", "run", "deploy"), only for the verbs of :data:`VERBS`, so nouns are kept.
* :func:`zh_number` - Chinese numerals (``九``, ``十二``, ``两``, ``三十``) as integers.

Nothing here imports Dagster or the rest of yaml2dag.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: A placeholder for a masked literal: ``⟦0⟧``, ``⟦1⟧``... (characters no description uses).
MASK = r"⟦\d+⟧"

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def is_chinese(text: str) -> bool:
    """True when ``text`` holds a CJK ideograph (the phrase is read with the Chinese lexicon)."""
    return bool(_CJK.search(text))


def halfwidth(text: str) -> str:
    """Full-width ASCII (U+FF01-U+FF5E) and the ideographic space as ASCII, one char for one.

    CJK punctuation without an ASCII twin (``，、。；：（）``) is mapped too, to ``,,.;:()``,
    so the grammar sees one set of separators. The length never changes.
    """
    out = []
    for ch in text:
        code = ord(ch)
        if 0xFF01 <= code <= 0xFF5E:
            out.append(chr(code - 0xFEE0))
        elif ch == "\u3000":
            out.append(" ")
        else:
            out.append(_CJK_PUNCT.get(ch, ch))
    return "".join(out)


_CJK_PUNCT = {"、": ",", "。": ".", "「": "\"", "」": "\"", "『": "\"", "』": "\"", "“": "\"", "”": "\"",
              "‘": "'", "’": "'", "【": "(", "】": ")", "《": "\"", "》": "\""}

# --------------------------------------------------------------------------- masks

#: Literal values, in the order they are masked (first wins where they overlap).
_LITERALS = (
    ("quoted", r"`[^`]+`|\"[^\"]+\"|(?<![A-Za-z0-9_])'[^'\s][^']*'(?![A-Za-z0-9_])"),
    ("url", r"(?:https?|ftp|ssh|git)://[\x21-\x7e]+|git@[A-Za-z0-9_.-]+:[A-Za-z0-9_./~-]+"),
    ("email", r"[A-Za-z0-9_.+-]+@[A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)+"),
    ("path", r"(?<![A-Za-z0-9_./~])(?:~|\.{1,2})?/[A-Za-z0-9_./~*-]*[A-Za-z0-9_*/~-]"
             r"|(?<![A-Za-z0-9_./~])[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]*\.(?:csv|tsv|json|jsonl|parquet|db|sqlite3?|txt|log|md|ya?ml|gz|zip)(?![A-Za-z0-9_])"
             r"|(?<![A-Za-z0-9_./~])[A-Za-z0-9_-]+\.(?:csv|tsv|json|jsonl|parquet|db|sqlite3?)(?![A-Za-z0-9_])"),
)


@dataclass
class Masked:
    """``text`` with its literal values replaced by ``⟦N⟧``; :meth:`value` gives them back."""

    text: str
    values: list[str] = field(default_factory=list)
    kinds: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, text: str) -> "Masked":
        masked = cls(text)
        for kind, regex in _LITERALS:
            masked.text = re.sub(regex, lambda m, kind=kind: masked._keep(m.group(0), kind), masked.text)
        return masked

    def _keep(self, value: str, kind: str) -> str:
        if kind == "url":  # a URL ends before trailing punctuation of the sentence
            stripped = value.rstrip(".,;:!?)]'\"")
            tail = value[len(stripped):]
            self.values.append(stripped)
            self.kinds.append(kind)
            return f"⟦{len(self.values) - 1}⟧{tail}"
        self.values.append(value)
        self.kinds.append(kind)
        return f"⟦{len(self.values) - 1}⟧"

    def value(self, placeholder: str | None, *, unquote: bool = True) -> str | None:
        """The literal behind ``placeholder`` (quotes and backticks removed), or None."""
        if placeholder is None:
            return None
        match = re.fullmatch(r"⟦(\d+)⟧", placeholder.strip())
        if not match:
            return placeholder
        value = self.values[int(match.group(1))]
        if unquote and len(value) >= 2 and value[0] == value[-1] and value[0] in "`\"'":
            return value[1:-1]
        return value

    def kind(self, placeholder: str) -> str | None:
        match = re.fullmatch(r"⟦(\d+)⟧", placeholder.strip())
        return self.kinds[int(match.group(1))] if match else None

    def restore(self, text: str) -> str:
        """``text`` with every placeholder replaced by its literal (quotes kept)."""
        return re.sub(MASK, lambda m: self.value(m.group(0), unquote=False) or m.group(0), text)


# --------------------------------------------------------------------------- English verb forms

#: Verbs the English lexicon knows, in their dictionary form.
VERBS = frozenset("""
pull push clone update sync refresh fetch get run execute exec test lint build compile deploy release ship
publish back backup archive compress send email mail notify alert ping message tell post call hit download
request query check monitor watch ask wait sleep require install approve summarize summarise deliver report
log read load import filter keep drop remove delete clean purge group aggregate compute calculate count sum
average sort order write save store export convert profile analyze analyse collect generate create make
list restart upload copy move verify scan pass fail succeed break go work exceed reach rise crash finish
complete roll smoke print show do use open append
""".split())

_IRREGULAR = {"ran": "run", "built": "build", "sent": "send", "wrote": "write", "written": "write", "got": "get",
              "gotten": "get", "went": "go", "gone": "go", "broke": "break", "broken": "break", "made": "make",
              "kept": "keep", "did": "do", "does": "do", "done": "do", "rose": "rise", "risen": "rise",
              "told": "tell", "read": "read"}


def lemma(word: str) -> str:
    """The dictionary form of ``word`` when it is a form of a verb of :data:`VERBS`, else ``word``.

    Regular forms only (plus :data:`_IRREGULAR`): -s, -es, -ies, -ed, -d, -ied, -ing, -ing with a
    dropped e or a doubled consonant.
    """
    low = word.lower()
    if low in VERBS:
        return low
    if low in _IRREGULAR:
        return _IRREGULAR[low]
    candidates = []
    if low.endswith("ies") or low.endswith("ied"):
        candidates.append(low[:-3] + "y")
    if low.endswith("es"):
        candidates.append(low[:-2])
    if low.endswith("s"):
        candidates.append(low[:-1])
    if low.endswith("ed"):
        candidates += [low[:-2], low[:-1]]
        if len(low) > 4 and low[-3] == low[-4]:
            candidates.append(low[:-3])
    if low.endswith("ing"):
        candidates += [low[:-3], low[:-3] + "e"]
        if len(low) > 5 and low[-4] == low[-5]:
            candidates.append(low[:-4])
    for candidate in candidates:
        if candidate in VERBS:
            return candidate
    return low


_WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")


def lemmatize(text: str) -> str:
    """``text`` lowercased, each verb form in its dictionary form, "n't" spelt out.

    ``"Pulls latest code, runs tests"`` → ``"pull latest code, run tests"`` (``tests`` is a
    form of the verb "test" too and becomes ``test``). Placeholders are left alone.
    """
    text = re.sub(r"(?i)\b(do|does|did|is|are|was|were|has|have)n't\b", r"\1 not", text)
    text = re.sub(r"(?i)\b(can)'t\b", r"\1 not", text)
    text = re.sub(r"(?i)\bwon't\b", "will not", text)
    return _WORD.sub(lambda m: "-".join(lemma(part) for part in m.group(0).split("-")), text).lower()


#: Determiners dropped before matching: "run the tests" reads as "run tests".
_DETERMINERS = re.compile(r"\b(?:the|a|an|our|my|your|its|their|his|her|some)\s+")


def simplify(text: str) -> str:
    """Lowercased, lemmatized ``text`` without determiners and with single spaces."""
    text = lemmatize(text)
    text = _DETERMINERS.sub("", text + " ").strip()
    return " ".join(text.split())


# --------------------------------------------------------------------------- Chinese numbers

_ZH_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7,
              "八": 8, "九": 9}
#: A number written with Arabic digits or Chinese numerals (up to 99).
ZH_NUMBER = r"(?:\d+|[零〇一二两三四五六七八九十]+)"


def zh_number(text: str) -> int:
    """``"9"`` → 9, ``"九"`` → 9, ``"十二"`` → 12, ``"二十"`` → 20, ``"三十五"`` → 35.

    Raises:
        ValueError: not a number of this form.
    """
    text = text.strip()
    if text.isdigit():
        return int(text)
    if not text or any(ch not in _ZH_DIGITS and ch != "十" for ch in text):
        raise ValueError(f"not a number: {text!r}")
    if "十" in text:
        tens, _, units = text.partition("十")
        value = (_ZH_DIGITS[tens] if tens else 1) * 10
        return value + (_ZH_DIGITS[units] if units else 0)
    value = 0
    for ch in text:
        value = value * 10 + _ZH_DIGITS[ch]
    return value
