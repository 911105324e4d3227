"""Hostile bytes never escape as anything but a clear `FileRejected` (the worker never crashes)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.files import Deadline, FileRejected
from shared.files.chunk import chunk_text, normalize_text
from shared.files.detect import detect
from shared.files.extract import Limits
from shared.files.process import extract_guarded
from tests.shared.files.helpers import pdf_bytes

LIMITS = Limits(max_chars=100_000, max_expansion_ratio=50, max_pdf_pages=20)
PDF = pdf_bytes(["Fuzzed page one (with parens).", "Page two\nwith lines."])


def _pipeline(data: bytes) -> list[str]:
    found = detect(data)
    raw = extract_guarded(
        data, found, LIMITS, Deadline(30), lambda _: None, passthrough=(FileRejected,)
    )
    return [c.text for c in chunk_text(normalize_text(raw), 200, 40)]


def _survives(data: bytes) -> None:
    try:
        outcome = _pipeline(data)
    except FileRejected as exc:
        outcome = [str(exc)]  # a reason, never an empty message
    assert all(outcome)


@given(data=st.binary(max_size=4000))
@settings(max_examples=150, deadline=None)
def test_arbitrary_bytes(data: bytes) -> None:
    _survives(data)


@given(
    cut=st.integers(0, len(PDF)),
    flips=st.lists(st.tuples(st.integers(0, len(PDF) - 1), st.integers(0, 255)), max_size=12),
)
@settings(max_examples=150, deadline=None)
def test_mutated_pdfs(cut: int, flips: list[tuple[int, int]]) -> None:
    data = bytearray(PDF)
    for at, value in flips:
        data[at] = value
    _survives(bytes(data[:cut]) + b"\n%%EOF\n")  # keep the marker: reach the parser


@pytest.mark.parametrize(
    "text",
    [
        b"<html>" + b"<div>" * 50_000,
        b"[" * 5000 + b"]" * 5000,
        b'{"a": ' * 2000 + b"1" + b"}" * 2000,
        b"a,b\n" + b'"unterminated' * 100,
    ],
)
def test_pathological_text(text: bytes) -> None:
    _survives(text)
