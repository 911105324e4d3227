"""Text out of each accepted kind, bounded in size, pages and time.

PDF goes through pypdf with its decompression limits lowered to the file's own budget (a
per-call context, safe across threads), so a small file that inflates to gigabytes, a
decompression bomb, is refused instead of filling memory. The other kinds use the standard
library: `html.parser` (script and style dropped), `csv`, and orjson for JSON.
"""

from __future__ import annotations

import csv
import dataclasses
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

import orjson

from shared.files import Deadline, FileRejected
from shared.files.detect import CSV, HTML, JSON, PDF, Detected

# Small files still get room for fonts and content streams; above it the ratio governs.
MIN_STREAM_BUDGET_BYTES = 4 * 1024 * 1024

Progress = Callable[[float], None]


@dataclass(frozen=True)
class Limits:
    max_chars: int
    max_expansion_ratio: float
    max_pdf_pages: int

    def budget_bytes(self, size_bytes: int) -> int:
        """Decompressed bytes allowed for a file of `size_bytes` (the bomb bound)."""
        return max(MIN_STREAM_BUDGET_BYTES, int(size_bytes * self.max_expansion_ratio))

    def char_budget(self, size_bytes: int) -> int:
        return min(self.max_chars, self.budget_bytes(size_bytes))


def extract(
    data: bytes, found: Detected, limits: Limits, deadline: Deadline, progress: Progress
) -> str:
    """The raw text of `data` (not yet normalised); raises `FileRejected` with the reason."""
    if found.kind == PDF:
        return extract_pdf(data, limits, deadline, progress)
    text = found.text or ""
    budget = limits.char_budget(len(data))
    if found.kind == HTML:
        text = html_text(text)
    elif found.kind == JSON:
        text = json_text(text, budget)
    elif found.kind == CSV:
        text = csv_text(text, budget, deadline)
    if len(text) > budget:
        raise FileRejected(f"extracted text exceeds the limit of {budget} characters")
    return text


def extract_pdf(data: bytes, limits: Limits, deadline: Deadline, progress: Progress) -> str:
    """Page by page, reporting progress; refuses encrypted, corrupt and oversized PDFs."""
    from pypdf import Configuration, PdfReader, apply_configuration  # noqa: PLC0415  (heavy)
    from pypdf.errors import LimitReachedError, PyPdfError  # noqa: PLC0415

    # pypdf would rebuild a cut-off file from what is left; a truncated upload is refused instead.
    if b"%%EOF" not in data[-2048:]:
        raise FileRejected("truncated PDF: no end-of-file marker")
    budget = limits.budget_bytes(len(data))
    overrides = {
        "zlib_maximum_output_length": budget,
        "lzw_maximum_output_length": budget,
        "run_length_maximum_output_length": budget,
        "array_based_stream_maximum_output_length": budget,
        "jbig2_maximum_output_length": budget,
        "brotli_maximum_output_length": budget,
        "stream_decoding_work_maximum_length": budget * 4,
        "maximum_declared_stream_length": budget,
    }
    # Older pypdf releases lack some limits; set the ones this one knows.
    known = {f.name for f in dataclasses.fields(Configuration)}
    overrides = {name: value for name, value in overrides.items() if name in known}
    char_budget = limits.char_budget(len(data))
    parts: list[str] = []
    total = 0
    try:
        with apply_configuration(None, **overrides):
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise FileRejected("encrypted PDF: password-protected files are not accepted")
            pages = len(reader.pages)
            if pages == 0:
                raise FileRejected("PDF has no pages")
            if pages > limits.max_pdf_pages:
                raise FileRejected(f"PDF has {pages} pages, more than {limits.max_pdf_pages}")
            for number, page in enumerate(reader.pages, start=1):
                deadline.check()
                text = page.extract_text() or ""
                total += len(text)
                if total > char_budget:
                    raise FileRejected(f"extracted text exceeds {char_budget} characters")
                parts.append(text)
                progress(number / pages)
    except FileRejected:
        raise
    except LimitReachedError as exc:
        raise FileRejected(f"decompression bomb: PDF content exceeds its budget ({exc})") from None
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        # pypdf reports damage through many exception types; all mean "cannot read this PDF".
        raise FileRejected(f"corrupt or truncated PDF: {type(exc).__name__}: {exc}") from None
    except RecursionError:
        raise FileRejected("corrupt PDF: object graph nested too deeply") from None
    return "\n\n".join(parts)


class _TextCollector(HTMLParser):
    _SKIP = frozenset({"script", "style", "template", "noscript", "head"})
    _BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:  # noqa: ARG002
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_text(markup: str) -> str:
    """Visible text of an HTML document, one line per block element."""
    collector = _TextCollector()
    collector.feed(markup)
    collector.close()
    return "".join(collector.parts)


def json_text(raw: str, budget_chars: int) -> str:
    """One `path: value` line per scalar, so keys give retrieval its context."""
    lines: list[str] = []
    size = 0
    for path, value in _walk(orjson.loads(raw), ""):
        line = f"{path}: {value}" if path else str(value)
        size += len(line) + 1
        if size > budget_chars:
            raise FileRejected(f"extracted text exceeds {budget_chars} characters")
        lines.append(line)
    return "\n".join(lines)


def _walk(value: Any, path: str) -> Iterator[tuple[str, Any]]:
    # Iterative: orjson accepts nesting to depth 1024, deeper than Python's default recursion.
    stack: list[tuple[str, Any]] = [(path, value)]
    while stack:
        here, item = stack.pop()
        if isinstance(item, dict):
            children = [(f"{here}.{k}" if here else str(k), v) for k, v in item.items()]
        elif isinstance(item, list):
            children = [(f"{here}[{i}]", v) for i, v in enumerate(item)]
        else:
            if item is not None:
                yield here, item
            continue
        stack.extend(reversed(children))


def csv_text(raw: str, budget_chars: int, deadline: Deadline) -> str:
    """One line per row, cells joined by ` | `; the header row is kept as the first line."""
    lines: list[str] = []
    size = 0
    try:
        reader = csv.reader(io.StringIO(raw), csv.Sniffer().sniff(raw[:8192], ",;\t|"))
        for number, row in enumerate(reader):
            if number % 10_000 == 0:
                deadline.check()
            line = " | ".join(cell.strip() for cell in row if cell.strip())
            size += len(line) + 1
            if size > budget_chars:
                raise FileRejected(f"extracted text exceeds {budget_chars} characters")
            lines.append(line)
    except csv.Error as exc:
        raise FileRejected(f"malformed CSV: {exc}") from None
    return "\n".join(lines)
