"""Normalise extracted text and split it into overlapping chunks for retrieval.

Chunks are windows of at most `size` characters that end, when the text allows, at a paragraph,
line, sentence or word boundary in the second half of the window; the next chunk starts
`overlap` characters before the previous end (moved forward to a word start), so a sentence cut
at a boundary is still seen whole by one of the two chunks.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff]")
# Patterns match only what changes (a run of 2+, or an odd space; a space beside a newline):
# matching every single space made normalisation 10x slower on prose.
_SPACES = re.compile(
    r"[ \t\u00a0\u2000-\u200a\u202f\u3000]{2,}|[\t\u00a0\u2000-\u200a\u202f\u3000]"
)
_ODD_SPACE = re.compile(r"[\t\u00a0\u2000-\u200a\u202f\u3000]")
_LINE_EDGES = re.compile(r" \n ?|\n ")
_BLANK_LINES = re.compile(r"\n{3,}")
# Boundaries in order of preference: paragraph, line, sentence end, word.
_BREAKS = ("\n\n", "\n", ". ", "! ", "? ", "; ", " ")


def normalize_text(text: str) -> str:
    """NFC, LF line ends, no control characters, single spaces, at most one blank line."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    # Controls go before composing: "c<BEL><combining acute>" must end as one "ć".
    text = unicodedata.normalize("NFC", _CONTROL.sub("", text))
    # Each pass runs only when a cheap substring test says it has work: most text is clean.
    if "  " in text or _ODD_SPACE.search(text):
        text = _SPACES.sub(" ", text)
    if " \n" in text or "\n " in text:
        text = _LINE_EDGES.sub("\n", text)
    if "\n\n\n" in text:
        text = _BLANK_LINES.sub("\n\n", text)
    return text.strip()


@dataclass(frozen=True)
class TextChunk:
    start: int  # offset of the chunk in the normalised text, in characters
    text: str


def chunk_text(text: str, size: int, overlap: int) -> list[TextChunk]:
    """Split `text` into chunks of at most `size` characters sharing about `overlap` characters.

    Invariants (tested with hypothesis): every chunk is non-empty, at most `size` long and equal
    to `text[start:start + len(chunk)]`; starts strictly increase; together the chunks cover
    every non-space character of `text`.
    """
    if size <= 0 or overlap < 0 or overlap * 2 > size:
        raise ValueError("need size > 0 and 0 <= overlap <= size / 2")
    chunks: list[TextChunk] = []
    n = len(text)
    start = _skip_space(text, 0, n)
    while start < n:
        end = min(start + size, n)
        if end < n:
            end = _break_before(text, start + size // 2, end)
        piece = text[start:end].rstrip()
        if piece:
            chunks.append(TextChunk(start, piece))
        if end >= n:
            break
        # Step back by the overlap, but always move forward: a window is at least size / 2
        # long and the overlap at most size / 2.
        start = _word_start(text, max(end - overlap, start + 1), end)
    return chunks


def _break_before(text: str, lo: int, hi: int) -> int:
    """The end of the best boundary in text[lo:hi], else `hi` (a hard cut)."""
    for mark in _BREAKS:
        at = text.rfind(mark, lo, hi)
        if at != -1:
            return at + len(mark)
    return hi


def _word_start(text: str, at: int, limit: int) -> int:
    """The first word start at or after `at` (before `limit`), else `at` itself."""
    if text[at - 1].isspace():
        return _skip_space(text, at, limit)
    for i in range(at, limit):
        if text[i].isspace():
            return _skip_space(text, i, limit)
    return at


def _skip_space(text: str, at: int, limit: int) -> int:
    while at < limit and text[at].isspace():
        at += 1
    return at
