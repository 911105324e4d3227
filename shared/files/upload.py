"""Streaming multipart parser for uploads: the `file` field goes to disk as it arrives.

The body is never held in memory: each received piece is parsed and the bytes of the `file`
part are written straight into an `IncomingFile`, which stops at FILES_MAX_BYTES. Other form
fields are ignored, within a small bound so they cannot be used to bloat memory either.
"""

from __future__ import annotations

from pathlib import Path

from python_multipart.multipart import MultipartParser, parse_options_header

from shared.files.store import IncomingFile, TooLarge

FIELD = b"file"
MAX_OTHER_BYTES = 64 * 1024
MAX_HEADER_BYTES = 16 * 1024


class BadUpload(ValueError):
    """The request is not a usable multipart upload (the web answers 400 or 415)."""


def boundary_of(content_type: str) -> bytes:
    """The multipart boundary of a Content-Type header; `BadUpload` when not multipart."""
    kind, params = parse_options_header(content_type)
    if kind != b"multipart/form-data":
        raise BadUpload("expected multipart/form-data with a 'file' field")
    boundary = params.get(b"boundary")
    if not boundary:
        raise BadUpload("multipart body without a boundary")
    return boundary


class MultipartUpload:
    """Feed the raw body with `feed()`, then `finish()` returns (file_id, size, filename)."""

    def __init__(self, content_type: str, root: Path, max_bytes: int) -> None:
        boundary = boundary_of(content_type)  # before any file exists to leak
        self.incoming = IncomingFile(root, max_bytes)
        self.filename = ""
        self._found = False
        self._in_file = False
        self._other_bytes = 0
        self._header_bytes = 0
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}
        self._parser = MultipartParser(
            boundary,
            {
                "on_part_begin": self._part_begin,
                "on_header_field": self._header_field,
                "on_header_value": self._header_value,
                "on_header_end": self._header_end,
                "on_headers_finished": self._headers_finished,
                "on_part_data": self._part_data,
                "on_part_end": self._part_end,
            },
        )

    def feed(self, data: bytes) -> None:
        """Parse the next piece of the body; raises `TooLarge` or `BadUpload`."""
        try:
            self._parser.write(data)
        except (BadUpload, TooLarge):
            raise
        except Exception as exc:
            raise BadUpload(f"malformed multipart body: {exc}") from None

    def finish(self) -> tuple[str, int, str]:
        try:
            self._parser.finalize()
        except Exception as exc:
            raise BadUpload(f"malformed multipart body: {exc}") from None
        if not self._found or self._in_file:
            raise BadUpload("no complete 'file' field in the form")
        return self.incoming.commit(), self.incoming.size_bytes, self.filename

    def discard(self) -> None:
        self.incoming.discard()

    def _part_begin(self) -> None:
        self._headers = {}
        self._field = self._value = b""

    def _header_field(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._field += data[start:end]

    def _header_value(self, data: bytes, start: int, end: int) -> None:
        self._count_header(end - start)
        self._value += data[start:end]

    def _count_header(self, n: int) -> None:
        self._header_bytes += n
        if self._header_bytes > MAX_HEADER_BYTES:
            raise BadUpload("multipart headers too large")

    def _header_end(self) -> None:
        self._headers[self._field.strip().lower()] = self._value.strip()
        self._field = self._value = b""

    def _headers_finished(self) -> None:
        _, params = parse_options_header(self._headers.get(b"content-disposition", b""))
        if params.get(b"name") == FIELD and not self._found:
            self._found = self._in_file = True
            raw = params.get(b"filename", b"")
            self.filename = raw.decode("utf-8", "replace").replace("\\", "/").rsplit("/", 1)[-1]
            self.filename = self.filename[:255]

    def _part_data(self, data: bytes, start: int, end: int) -> None:
        if self._in_file:
            self.incoming.write(data[start:end])
            return
        self._other_bytes += end - start
        if self._other_bytes > MAX_OTHER_BYTES:
            raise BadUpload("form fields other than 'file' are too large")

    def _part_end(self) -> None:
        self._in_file = False
