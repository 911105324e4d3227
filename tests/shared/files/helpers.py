"""Builders of test inputs for the files domain: PDFs made with pypdf, multipart bodies."""

from __future__ import annotations

import hashlib
import io
import zlib
from pathlib import Path

import pytest
from pypdf import PdfWriter
from pypdf.generic import (
    DecodedStreamObject,
    DictionaryObject,
    NameObject,
    StreamObject,
)

BOUNDARY = "testboundary7f3a"


def _font(writer: PdfWriter) -> DictionaryObject:
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    return DictionaryObject(
        {NameObject("/Font"): DictionaryObject({NameObject("/F1"): writer._add_object(font)})}
    )


def _escape(line: str) -> str:
    return line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def pdf_bytes(pages: list[str], *, password: str | None = None) -> bytes:
    """A PDF with one page per string (lines split on newlines), optionally encrypted."""
    writer = PdfWriter()
    for text in pages:
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = _font(writer)
        shown = " ".join(f"({_escape(line)}) '" for line in text.split("\n"))
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 12 Tf 72 720 Td 14 TL {shown} ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    if password is not None:
        writer.encrypt(password, algorithm="RC4-128")
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def pdf_bomb(inflated_bytes: int) -> bytes:
    """A small PDF whose page content stream inflates (FlateDecode) to `inflated_bytes`."""
    writer = PdfWriter()
    page = writer.add_blank_page(612, 792)
    page[NameObject("/Resources")] = _font(writer)
    body = b"BT /F1 12 Tf 72 720 Td (boom) Tj ET\n" + b" " * inflated_bytes
    stream = StreamObject()
    stream._data = zlib.compress(body, 9)
    stream[NameObject("/Filter")] = NameObject("/FlateDecode")
    page[NameObject("/Contents")] = writer._add_object(stream)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def store_file(root: Path, data: bytes) -> str:
    """Put `data` where an upload would land; returns its file id."""
    file_id = hashlib.sha256(data).hexdigest()
    path = root / file_id[:2] / file_id
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return file_id


def multipart(
    data: bytes, *, field: str = "file", filename: str = "doc.txt", extra: bytes = b""
) -> tuple[bytes, str]:
    """A multipart/form-data body with one file part; returns (body, content type)."""
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; filename="{filename}"'
        "\r\nContent-Type: application/octet-stream\r\n\r\n"
    ).encode()
    body = extra + head + data + f"\r\n--{BOUNDARY}--\r\n".encode()
    return body, f"multipart/form-data; boundary={BOUNDARY}"


@pytest.fixture
def files_root(tmp_path: Path, settings_env: pytest.MonkeyPatch) -> Path:
    """A private upload directory (FILES_UPLOAD_DIR) for one test."""
    from shared.settings import reset_settings  # noqa: PLC0415

    root = tmp_path / "uploads"
    settings_env.setenv("FILES_UPLOAD_DIR", str(root))
    reset_settings()
    return root
