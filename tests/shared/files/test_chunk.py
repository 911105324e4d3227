from __future__ import annotations

import itertools

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from shared.files.chunk import chunk_text, normalize_text

_TEXT = st.text(
    alphabet=st.sampled_from([*"abcdefgh .,!?;\n\t", "é", "—", "\r", "\u00a0", "\x07", "\u0301"]),
    max_size=3000,
)


@given(raw=_TEXT, size=st.integers(50, 400), overlap_pct=st.integers(0, 50))
@settings(max_examples=300, deadline=None)
def test_chunk_invariants(raw: str, size: int, overlap_pct: int) -> None:
    text = normalize_text(raw)
    overlap = size * overlap_pct // 100
    chunks = chunk_text(text, size, overlap)
    covered = [False] * len(text)
    previous = -1
    for chunk in chunks:
        assert chunk.text
        assert len(chunk.text) <= size
        assert text[chunk.start : chunk.start + len(chunk.text)] == chunk.text
        assert chunk.start > previous
        previous = chunk.start
        for i in range(chunk.start, chunk.start + len(chunk.text)):
            covered[i] = True
    assert all(covered[i] or text[i].isspace() for i in range(len(text)))


@given(raw=_TEXT)
@example(raw="c\x07\u0301")  # a control between a letter and its accent (found by hypothesis)
def test_normalize_is_idempotent_and_clean(raw: str) -> None:
    once = normalize_text(raw)
    assert normalize_text(once) == once
    assert "\r" not in once
    assert "\n\n\n" not in once
    assert "  " not in once
    assert once == once.strip()


def test_consecutive_chunks_overlap_and_end_at_boundaries() -> None:
    sentences = " ".join(f"Sentence number {i} says something." for i in range(200))
    chunks = chunk_text(sentences, 200, 40)
    assert len(chunks) > 10
    for a, b in itertools.pairwise(chunks):
        assert a.text.endswith(".")  # a sentence boundary was available in every window
        assert b.start < a.start + len(a.text)  # they share text
        assert 0 < a.start + len(a.text) - b.start <= 40


def test_text_without_spaces_is_cut_hard() -> None:
    chunks = chunk_text("x" * 1000, 100, 10)
    assert [len(c.text) for c in chunks[:-1]] == [100] * (len(chunks) - 1)
    assert chunks[1].start == 90


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(ValueError, match="overlap"):
        chunk_text("abc", 100, 60)
    assert chunk_text("", 100, 10) == []
