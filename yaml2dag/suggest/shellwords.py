"""Lexing shell command lines: entries into simple commands, commands into words (issue 12).

:func:`split_chain` splits at top-level ``&&``, ``;`` and newlines (quotes, ``$(...)``,
parentheses, comments and line continuations respected) and keeps compound commands whole;
:func:`tokenize` reads a simple command into :class:`Word` s with their values after quote
removal, marking the words the shell would expand (``$VAR``, globs, ``~user``).

Nothing here imports Dagster.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

#: Words that start or end a compound command: such an entry stays one shell command.
COMPOUND = frozenset({"if", "then", "else", "elif", "fi", "for", "while", "until", "do", "done", "case", "esac",
                      "select", "function", "{", "}", "[[", "]]", "((", "))", "!"})

_TOKEN = re.compile(r"""
    (?P<space>\s+)
  | (?P<op>\|\||\|&|&>>?|[0-9]*>>|[0-9]*>&[0-9-]*|[0-9]*<&[0-9-]*|[0-9]*<>|[0-9]*<<<|[0-9]*[<>]|[|&;()])
  | (?P<word>(?:[^\s'"\\|&;()<>]|\\.|'[^']*'|"(?:[^"\\]|\\.)*"|\$'(?:[^'\\]|\\.)*')+)
  | (?P<bad>.)
""", re.X | re.S)
_SEGMENT = re.compile(r"""'([^']*)'|"((?:[^"\\]|\\.)*)"|\$'((?:[^'\\]|\\.)*)'|\\(.)|([^'"\\$]+)|(\$)""", re.S)
_GLOB = re.compile(r"[*?\[]|\{[^}]*,[^}]*\}")
OPAQUE_MARKS = ("$(", "`", "<<", "<(", ">(")
#: Characters without which a line is one simple command (no chain, comment or quoting to read).
_SEPARATORS = re.compile(r"[;&\n#\\'\"`]")
_QUOTING = re.compile(r"['\"\\$]")
_FUNCTION = re.compile(r"[\w.-]+\s*\(\s*\)")


@dataclass(frozen=True)
class Word:
    """One shell word.

    Attributes:
        raw: the word as typed (quotes included).
        value: the word after quote removal; None when the shell expands it (``$VAR``,
            ``$(...)``, ``~user``): such a word is always kept as typed.
        op: an operator (``|``, ``>``, ``2>&1``, ``||``, ``&``) rather than a word.
        glob: the word has unquoted glob characters (kept as typed: quoting would stop the
            expansion).
        tilde: the word starts with an unquoted ``~/`` (or is ``~``).
    """

    raw: str
    value: str | None
    op: bool = False
    glob: bool = False
    tilde: bool = False


def split_chain(text: str) -> list[tuple[str, str | None]] | None:
    """Split a command line at top-level ``&&``, ``;`` and newlines.

    Returns:
        ``[(piece, operator before it), ...]`` (operator None, ``&&`` or ``;``), or None when
        the line holds a compound command and must stay whole. Quotes, ``$(...)``,
        ``${...}``, backquotes, parentheses, comments and backslash-newline continuations are
        respected.
    """
    if not _SEPARATORS.search(text):
        return _simple([(text.strip(), None)] if text.strip() else [])
    pieces: list[tuple[str, str | None]] = []
    buf: list[str] = []
    op: str | None = None
    depth = 0
    i, n = 0, len(text)
    quote: str | None = None
    at_word_start = True
    while i < n:
        c = text[i]
        if quote == "'":
            buf.append(c)
            if c == "'":
                quote = None
            i += 1
            continue
        if c == "\\" and i + 1 < n:
            if text[i + 1] == "\n" and quote is None:
                i += 2  # a line continuation
                continue
            buf.append(text[i:i + 2])
            i += 2
            at_word_start = False
            continue
        if quote == '"':
            buf.append(c)
            if c == '"':
                quote = None
            i += 1
            continue
        if quote == "`":
            buf.append(c)
            if c == "`":
                quote = None
            i += 1
            continue
        if c in "'\"`":
            quote = c
            buf.append(c)
            i += 1
            at_word_start = False
            continue
        if c == "#" and at_word_start and depth == 0:
            while i < n and text[i] != "\n":
                i += 1
            continue
        if c in "({":
            depth += 1
        elif c in ")}" and depth:
            depth -= 1
        if depth == 0 and (c == ";" or c == "\n" or (c == "&" and text[i + 1:i + 2] == "&")):
            if c == ";" and text[i + 1:i + 2] == ";":
                return None  # `;;`: a case statement
            piece = "".join(buf).strip()
            if piece:
                pieces.append((piece, op))
                op = "&&" if c == "&" else ";"
            elif c == "&":
                return None  # `&&` with nothing before it: not a simple chain
            buf = []
            i += 2 if c == "&" else 1
            at_word_start = True
            continue
        buf.append(c)
        at_word_start = c.isspace() or c in "|&;()"
        i += 1
    if quote is not None:
        return None  # unbalanced quotes: keep the text whole
    piece = "".join(buf).strip()
    if piece:
        pieces.append((piece, op))
    return _simple(pieces)


def _simple(pieces: list[tuple[str, str | None]]) -> list[tuple[str, str | None]] | None:
    """``pieces``, or None when one of them is (part of) a compound command."""
    for piece, _ in pieces:
        first = piece.split(None, 1)[0] if piece else ""
        if first in COMPOUND or piece.startswith(("(", "{")) or _FUNCTION.match(piece):
            return None
    return pieces


def tokenize(text: str) -> list[Word] | None:
    """The words of a simple command, or None when it cannot be read word by word."""
    words: list[Word] = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup
        if kind == "space":
            continue
        if kind == "bad":
            return None
        raw = match.group()
        if kind == "op":
            if raw in ("(", ")", ";"):
                return None
            words.append(Word(raw, raw, op=True))
            continue
        words.append(_word(raw))
    return words


def _word(raw: str) -> Word:
    if not _QUOTING.search(raw):  # the common case: nothing to unquote or expand
        tilde = raw == "~" or raw.startswith("~/")
        if raw.startswith("~") and not tilde:
            return Word(raw, None)  # ~user
        return Word(raw, raw, glob=bool(_GLOB.search(raw)) and "://" not in raw, tilde=tilde)
    out: list[str] = []
    glob = False
    dynamic = False
    for m in _SEGMENT.finditer(raw):
        single, double, ansi, escaped, plain, dollar = m.groups()
        if single is not None:
            out.append(single)
        elif double is not None:
            if "$" in double or "`" in double:
                dynamic = True
            out.append(re.sub(r'\\([\\"$`])', r"\1", double))
        elif ansi is not None:
            dynamic = True
        elif escaped is not None:
            out.append(escaped)
        elif plain is not None:
            if _GLOB.search(plain) and "://" not in raw:
                glob = True
            out.append(plain)
        elif dollar is not None:
            dynamic = True
    tilde = raw == "~" or raw.startswith("~/")
    if raw.startswith("~") and not tilde:
        dynamic = True  # ~user
    return Word(raw, None if dynamic else "".join(out), glob=glob and not dynamic, tilde=tilde and not dynamic)


def quote_text(text: str) -> str:
    """``text`` as one shell word (unquoted when it needs no quotes)."""
    return shlex.quote(text) if text else ""



__all__ = ["COMPOUND", "OPAQUE_MARKS", "Word", "quote_text", "split_chain", "tokenize"]
