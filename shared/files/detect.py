"""What a file is, judged from its bytes only: a client's file name and content type are ignored.

Accepted: PDF, and UTF-8 (or UTF-16 with a byte-order mark) text, classified as HTML, JSON, CSV,
Markdown or plain text. Known binary formats, NUL bytes, control-character noise and invalid
UTF-8 are refused with a reason.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

import orjson

from shared.files import FileRejected

PDF = "pdf"
HTML = "html"
JSON = "json"
CSV = "csv"
MARKDOWN = "markdown"
TEXT = "text"
KINDS = (PDF, HTML, JSON, CSV, MARKDOWN, TEXT)

_PDF_MAGIC = b"%PDF-"
# Leading bytes of common binary formats that are not text and not PDF.
_BINARY_MAGIC = {
    b"PK\x03\x04": "zip",
    b"\x1f\x8b": "gzip",
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"7z\xbc\xaf\x27\x1c": "7z",
    b"\x89PNG": "png",
    b"\xff\xd8\xff": "jpeg",
    b"GIF8": "gif",
    b"\x7fELF": "elf",
    b"MZ": "exe",
    b"\xd0\xcf\x11\xe0": "ole2",
}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0e-\x1f\x7f]")
_MAX_CONTROL_RATIO = 0.01
_HTML_START = re.compile(r"^(<!doctype html|<html|<head|<body)", re.IGNORECASE)
_HTML_TAG = re.compile(r"<(html|head|body|div|p|table|h[1-6]|ul|article|span|a)\b", re.IGNORECASE)
_MARKDOWN = re.compile(
    r"^(#{1,6} \S|```|\s*[-*+] \S|\s*\d+\. \S|> \S)|\[[^\]\n]+\]\([^)\s]+\)", re.MULTILINE
)
_SNIFF_CHARS = 8192


@dataclass(frozen=True)
class Detected:
    kind: str
    text: str | None  # the decoded text of text kinds; None for PDF


def detect(data: bytes) -> Detected:
    """Classify `data`; raises `FileRejected` with the reason when it is not acceptable."""
    if not data.strip():
        raise FileRejected("empty file")
    if _PDF_MAGIC in data[:1024]:
        return Detected(PDF, None)
    for magic, name in _BINARY_MAGIC.items():
        if data.startswith(magic):
            raise FileRejected(f"unsupported binary format ({name})")
    text = decode_text(data)
    return Detected(classify_text(text), text)


def decode_text(data: bytes) -> str:
    """UTF-8 (BOM allowed) or BOM-marked UTF-16; refuses binary noise with a reason."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            raise FileRejected("invalid UTF-16 text") from None
    else:
        if b"\x00" in data:
            raise FileRejected("binary content: NUL bytes in a text file")
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise FileRejected(f"invalid UTF-8 at byte {exc.start}") from None
    controls = len(_CONTROL.findall(text))
    if controls > max(2, len(text) * _MAX_CONTROL_RATIO):
        raise FileRejected(f"binary content: {controls} control characters in a text file")
    return text


def classify_text(text: str) -> str:
    """HTML, JSON, CSV, Markdown or plain text, from the start of the text."""
    head = text[:_SNIFF_CHARS].lstrip()
    if _HTML_START.match(head) or (head.startswith("<") and _HTML_TAG.search(head)):
        return HTML
    if head[:1] in ("{", "["):
        try:
            orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
        else:
            return JSON
    if _looks_like_csv(head):
        return CSV
    if _MARKDOWN.search(head):
        return MARKDOWN
    return TEXT


def _looks_like_csv(head: str) -> bool:
    lines = [line for line in head.splitlines()[:20] if line.strip()]
    if len(lines) < 2:
        return False
    # The last sniffed line may be cut in the middle; judge on complete lines only.
    sample = "\n".join(lines[:-1] if len(lines) > 2 else lines)
    try:
        dialect = csv.Sniffer().sniff(sample, delimiters=",;\t|")
    except csv.Error:
        return False
    widths = {len(row) for row in csv.reader(sample.splitlines(), dialect)}
    return len(widths) == 1 and widths.pop() >= 2
