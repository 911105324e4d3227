"""Query normalisation shared by the cache (keys) and analytics (popularity): one definition.

Two questions that differ only in case, spacing, punctuation or Unicode form are the same query.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

_PUNCT = re.compile(r"[^\w\s]", re.UNICODE)
_SPACE = re.compile(r"\s+", re.UNICODE)
MAX_QUERY_CHARS = 4096


def normalize_query(text: str) -> str:
    """NFKC, case-folded, punctuation removed, whitespace collapsed, bounded in length."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return _SPACE.sub(" ", _PUNCT.sub(" ", folded)).strip()[:MAX_QUERY_CHARS]


def query_hash(normalized: str) -> str:
    """A short stable id of a normalised query (BLAKE2b, 128 bits, hex)."""
    return hashlib.blake2b(normalized.encode("utf-8"), digest_size=16).hexdigest()
