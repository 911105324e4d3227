"""Files: MB/s of detect + extract + normalise + chunk, against a naive pipeline, same inputs.

    .venv/bin/python -m benchmarks.files_extract [--mb 8] [--pages 300] [--repeat 5]

Ours: `shared.files` as files.process runs it (type from content, bounded pypdf with the
decompression budget, html.parser, normalisation, boundary-aware chunks with overlap).
Naive: what a first version does: decode (or plain pypdf, or a regex tag strip) and cut
fixed windows with the same size and overlap, no detection, no normalisation, no limits.
Pure CPU in this process: no Redis, no SQL. Prints a Markdown table of the median CPU time
of the repeats (process time, so other work on the machine skews it less than wall clock).
"""

from __future__ import annotations

import argparse
import io
import random
import re
import statistics
import time
from collections.abc import Callable

from pypdf import PdfReader, PdfWriter
from pypdf.generic import DecodedStreamObject, DictionaryObject, NameObject

from shared.files import Deadline
from shared.files.chunk import chunk_text, normalize_text
from shared.files.detect import detect
from shared.files.extract import Limits, extract

SIZE, OVERLAP = 1000, 150
LIMITS = Limits(max_chars=200_000_000, max_expansion_ratio=50, max_pdf_pages=100_000)
WORDS = [
    "the", "chatbot", "answers", "questions", "about", "documents", "that", "users", "upload",
    "while", "workers", "extract", "text", "split", "it", "into", "chunks", "and", "store",
    "them", "for", "retrieval", "with", "overlap",
]  # fmt: skip


def prose(n_bytes: int, seed: int = 7) -> str:
    rnd = random.Random(seed)
    out: list[str] = []
    size = 0
    while size < n_bytes:
        sentence = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(6, 18))).capitalize()
        out.append(sentence + (".\n\n" if rnd.random() < 0.15 else ". "))
        size += len(out[-1])
    return "".join(out)


def html_doc(text: str) -> bytes:
    paras = "".join(f"<p>{p}</p>\n" for p in text.split("\n\n"))
    head = "<!DOCTYPE html><html><head><style>p{}</style></head><body>"
    return f"{head}{paras}</body></html>".encode()


def pdf_doc(pages: int) -> bytes:
    writer = PdfWriter()
    font = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Font"),
            NameObject("/Subtype"): NameObject("/Type1"),
            NameObject("/BaseFont"): NameObject("/Helvetica"),
        }
    )
    font_ref = writer._add_object(font)
    for i in range(pages):
        page = writer.add_blank_page(612, 792)
        page[NameObject("/Resources")] = DictionaryObject(
            {NameObject("/Font"): DictionaryObject({NameObject("/F1"): font_ref})}
        )
        lines = prose(3000, seed=i).replace("\n", " ")
        shown = " ".join(f"({lines[j : j + 90]}) '" for j in range(0, len(lines), 90))
        stream = DecodedStreamObject()
        stream.set_data(f"BT /F1 10 Tf 40 760 Td 12 TL {shown} ET".encode("latin-1"))
        page[NameObject("/Contents")] = writer._add_object(stream)
    buf = io.BytesIO()
    writer.write(buf)
    return buf.getvalue()


def ours(data: bytes) -> int:
    found = detect(data)
    text = normalize_text(extract(data, found, LIMITS, Deadline(600), lambda _: None))
    return len(chunk_text(text, SIZE, OVERLAP))


def windows(text: str) -> int:
    return len([text[i : i + SIZE] for i in range(0, len(text), SIZE - OVERLAP)])


def naive_text(data: bytes) -> int:
    return windows(data.decode("utf-8"))


def naive_html(data: bytes) -> int:
    return windows(re.sub(r"<[^>]+>", " ", data.decode("utf-8")))


def naive_pdf(data: bytes) -> int:
    reader = PdfReader(io.BytesIO(data))
    return windows("\n".join(page.extract_text() for page in reader.pages))


def measure(fn: Callable[[bytes], int], data: bytes, repeat: int) -> tuple[float, int]:
    times = []
    chunks = 0
    for _ in range(repeat):
        # CPU time of this process: other work shares the 2 cores, which skews wall clock.
        t0 = time.process_time()
        chunks = fn(data)
        times.append(time.process_time() - t0)
    return statistics.median(times), chunks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mb", type=float, default=8, help="size of the text and HTML inputs")
    parser.add_argument("--pages", type=int, default=300, help="pages of the PDF input")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    text = prose(int(args.mb * 1024 * 1024))
    inputs = {
        "text": (text.encode(), naive_text),
        "html": (html_doc(text), naive_html),
        "pdf": (pdf_doc(args.pages), naive_pdf),
    }
    print(
        "| input | size MB | ours MB/s | naive MB/s | ours / naive | ours chunks | naive chunks |"
    )
    print("|---|---|---|---|---|---|---|")
    for name, (data, naive) in inputs.items():
        mb = len(data) / 1e6
        ours_s, ours_n = measure(ours, data, args.repeat)
        naive_s, naive_n = measure(naive, data, args.repeat)
        print(
            f"| {name} | {mb:.1f} | {mb / ours_s:.1f} | {mb / naive_s:.1f} | "
            f"{naive_s / ours_s:.2f} | {ours_n} | {naive_n} |"
        )


if __name__ == "__main__":
    main()
