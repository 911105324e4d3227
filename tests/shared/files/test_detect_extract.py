from __future__ import annotations

import time

import orjson
import pytest

from shared.files import Deadline, FileRejected
from shared.files.detect import CSV, HTML, JSON, MARKDOWN, PDF, TEXT, detect
from shared.files.extract import Limits, extract
from tests.shared.files.helpers import pdf_bomb, pdf_bytes

LIMITS = Limits(max_chars=1_000_000, max_expansion_ratio=50, max_pdf_pages=10)


def _text(data: bytes, limits: Limits = LIMITS) -> str:
    seen: list[float] = []
    text = extract(data, detect(data), limits, Deadline(30), seen.append)
    assert seen == sorted(seen)
    return text


@pytest.mark.parametrize(
    ("data", "kind"),
    [
        (b"<!DOCTYPE html><html><body><p>Hi</p></body></html>", HTML),
        (b"  <div><p>fragment</p></div>", HTML),
        (b'{"a": [1, 2, {"b": "c"}]}', JSON),
        (b"[1, 2, 3]", JSON),
        (b"name,age,city\nann,31,Oslo\nbob,42,Rome\ncy,7,Nice\n", CSV),
        (b"# Title\n\nSome *text* and a [link](http://x.y).\n", MARKDOWN),
        (b"Just a plain sentence with words.\nAnd another line.", TEXT),
        (b"{not json at all", TEXT),
        (b"\xef\xbb\xbfBOM then text", TEXT),
        ("caf\u00e9 \u2013 na\u00efve".encode(), TEXT),
        ("UTF-16 text".encode("utf-16"), TEXT),
        (pdf_bytes(["x"]), PDF),
    ],
)
def test_type_comes_from_content(data: bytes, kind: str) -> None:
    assert detect(data).kind == kind


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "empty file"),
        (b"  \n\t ", "empty file"),
        (b"PK\x03\x04rest-of-a-zip", "unsupported binary format (zip)"),
        (b"\x1f\x8b\x08\x00gzip", "unsupported binary format (gzip)"),
        (b"\x89PNG\r\n\x1a\n", "unsupported binary format (png)"),
        (b"text with a \x00 NUL", "NUL bytes"),
        (b"valid start \xff\xfe\xfd invalid", "invalid UTF-8 at byte 12"),
        (b"\xc3\x28", "invalid UTF-8 at byte 0"),
        (bytes(range(1, 32)) * 20, "control characters"),
    ],
)
def test_bad_text_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(FileRejected, match=reason.replace("(", r"\(").replace(")", r"\)")):
        detect(data)


def test_html_keeps_visible_text_only() -> None:
    page = (
        b"<html><head><title>t</title><style>p{}</style></head><body>"
        b"<script>alert('x')</script><h1>Head</h1><p>One &amp; two</p><p>Three</p></body></html>"
    )
    text = _text(page)
    assert "alert" not in text
    assert "p{}" not in text
    assert "One & two" in text
    assert text.index("Head") < text.index("One") < text.index("Three")


def test_json_becomes_path_value_lines() -> None:
    data = orjson.dumps({"user": {"name": "ann", "tags": ["a", "b"]}, "n": 3, "z": None})
    lines = ["user.name: ann", "user.tags[0]: a", "user.tags[1]: b", "n: 3"]
    assert _text(data).splitlines() == lines


def test_deep_json_does_not_recurse() -> None:
    data = b"[" * 1000 + b'"deep"' + b"]" * 1000
    assert _text(data).endswith(": deep")


def test_csv_rows_become_lines() -> None:
    data = b"name;age\nann;31\nbob;42\n"
    assert _text(data).splitlines() == ["name | age", "ann | 31", "bob | 42"]


def test_csv_field_over_the_csv_module_limit_fails_cleanly() -> None:
    data = b"a,b\n1,2\n3,4\n5," + b"x" * 200_000 + b"\n"
    with pytest.raises(FileRejected, match="malformed CSV"):
        _text(data)


def test_pdf_text_page_by_page() -> None:
    data = pdf_bytes(["Hello (PDF) world", "Second page"])
    text = _text(data)
    assert "Hello (PDF) world" in text
    assert text.index("Hello") < text.index("Second page")


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (pdf_bytes(["secret"], password="pw"), "encrypted PDF"),
        (pdf_bytes(["cut short"])[:-300], "truncated PDF"),
        (pdf_bytes(["half"])[: len(pdf_bytes(["half"])) // 2] + b"\n%%EOF\n", "corrupt"),
        (b"%PDF-1.7\n" + bytes(range(256)) * 8 + b"\n%%EOF", "corrupt"),
        (b"%PDF-1.4\n%%EOF\n", "corrupt"),
        (pdf_bytes([str(i) for i in range(11)]), "11 pages, more than 10"),
    ],
)
def test_bad_pdfs_are_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(FileRejected, match=reason):
        _text(data)


def test_pdf_decompression_bomb_is_bounded_by_the_expansion_ratio() -> None:
    bomb = pdf_bomb(30_000_000)
    assert len(bomb) < 100_000
    with pytest.raises(FileRejected, match="decompression bomb"):
        _text(bomb)


def test_same_inflation_passes_when_the_ratio_allows_it() -> None:
    # Proves the bound is the ratio, not an accident of the bomb's shape.
    bomb = pdf_bomb(5_000_000)
    generous = Limits(max_chars=1_000_000, max_expansion_ratio=10_000, max_pdf_pages=10)
    assert "boom" in _text(bomb, generous)


def test_extracted_text_is_bounded() -> None:
    small = Limits(max_chars=1000, max_expansion_ratio=50, max_pdf_pages=10)
    with pytest.raises(FileRejected, match="exceeds"):
        _text(b"word " * 1000, small)
    with pytest.raises(FileRejected, match="exceeds"):
        _text(pdf_bytes(["x" * 150] * 10), small)


def test_deadline_stops_a_long_extraction() -> None:
    expired = Deadline(0.5, started=time.monotonic() - 1)
    data = pdf_bytes(["a", "b"])
    with pytest.raises(FileRejected, match="longer than"):
        extract(data, detect(data), LIMITS, expired, lambda _: None)
