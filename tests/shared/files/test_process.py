from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from shared import keys
from shared.db import session_scope
from shared.files import documents, status
from shared.files.chunk import TextChunk
from shared.files.process import process_file
from shared.models.files import Chunk, Document
from shared.settings import get_settings
from tests.shared.files.helpers import pdf_bomb, pdf_bytes, store_file


def _counts() -> tuple[int, int]:
    with session_scope() as s:
        docs = s.scalar(select(func.count()).select_from(Document)) or 0
        chunks = s.scalar(select(func.count()).select_from(Chunk)) or 0
    return docs, chunks


def _run(r, root: Path, data: bytes, **kw) -> tuple[str, dict]:  # type: ignore[no-untyped-def]
    file_id = store_file(root, data)
    gen = status.claim(r, file_id, "f", len(data), get_settings()).gen
    return file_id, process_file(r, file_id, get_settings(), gen=gen, filename="f", **kw)


def test_text_file_is_chunked_and_stored(r, sql_url, files_root, settings_env) -> None:  # type: ignore[no-untyped-def]
    settings_env.setenv("FILES_CHUNK_SIZE", "100")
    settings_env.setenv("FILES_CHUNK_OVERLAP", "20")
    from shared.settings import reset_settings  # noqa: PLC0415

    reset_settings()
    body = ("Paragraph about retrieval. " * 30 + "\n\n") * 3
    file_id, result = _run(r, files_root, body.encode())
    assert result["status"] == "done"
    texts = documents.chunk_texts(file_id)
    assert len(texts) == result["chunks"] > 5
    assert all(len(t) <= 100 for t in texts)
    doc = documents.get(file_id)
    assert doc is not None
    assert (doc.status, doc.media_type, doc.chunk_count) == ("done", "text", len(texts))
    view = status.view(r.hgetall(keys.file_status(file_id)))
    assert view is not None
    assert (view["status"], view["progress"], view["chunks"]) == ("done", 100, len(texts))


def test_pdf_is_processed_with_progress(r, sql_url, files_root) -> None:  # type: ignore[no-untyped-def]
    data = pdf_bytes([f"Page {i} talks about topic {i}." for i in range(1, 6)])
    file_id, result = _run(r, files_root, data)
    assert result["status"] == "done"
    joined = " ".join(documents.chunk_texts(file_id))
    assert "Page 1 talks" in joined
    assert "topic 5" in joined


def test_processing_is_idempotent_on_the_content_hash(r, sql_url, files_root) -> None:  # type: ignore[no-untyped-def]
    file_id, first = _run(r, files_root, b"same content " * 200)
    again = process_file(r, file_id, get_settings(), gen=0)
    assert again == {"status": "done"}  # the status says done: nothing to do
    r.delete(keys.file_status(file_id))  # Redis forgot; SQL still knows
    third = process_file(r, file_id, get_settings())
    assert third == {"status": "done", "chunks": first["chunks"], "existing": True}
    assert _counts() == (1, first["chunks"])


BAD_INPUTS = {
    "empty": (b"", "empty file"),
    "binary junk": (bytes(range(256)) * 40, "NUL bytes"),
    "invalid utf-8": (b"caf\xe9 au lait, " * 50, "invalid UTF-8"),
    "zip": (b"PK\x03\x04" + b"\x00" * 100, "unsupported binary format"),
    "encrypted pdf": (pdf_bytes(["secret"], password="pw"), "encrypted PDF"),
    "truncated pdf": (pdf_bytes(["cut"])[:-200], "truncated PDF"),
    "corrupt pdf": (b"%PDF-1.7\n" + b"\x13garbage" * 100 + b"\n%%EOF\n", "corrupt"),
    "pdf bomb": (pdf_bomb(30_000_000), "decompression bomb"),
    "whitespace only after extraction": (b"<html><script>x()</script></html>", "no text"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_ends_failed_with_a_reason_and_nothing_in_sql(
    r, sql_url, files_root, case
) -> None:  # type: ignore[no-untyped-def]
    data, reason = BAD_INPUTS[case]
    file_id, result = _run(r, files_root, data)
    assert result["status"] == "failed"
    assert reason in result["error"]
    view = status.view(r.hgetall(keys.file_status(file_id)))
    assert view is not None
    assert view["status"] == "failed"
    assert reason in (view["error"] or "")
    doc = documents.get(file_id)
    assert doc is not None
    assert (doc.status, doc.chunk_count) == ("failed", 0)
    assert reason in (doc.error or "")
    assert _counts() == (1, 0)


def test_oversize_and_missing_files_fail(r, sql_url, files_root, settings_env) -> None:  # type: ignore[no-untyped-def]
    file_id, _ = _run(r, files_root, b"x" * 5000)
    settings_env.setenv("FILES_MAX_BYTES", "1000")  # the limit was lowered after the upload
    from shared.settings import reset_settings  # noqa: PLC0415

    reset_settings()
    r.delete(keys.file_status(file_id))
    with session_scope() as s:
        s.query(Chunk).delete()
        s.query(Document).delete()
    assert "exceeds the limit" in process_file(r, file_id, get_settings())["error"]
    gone = "0" * 64
    assert "gone" in process_file(r, gone, get_settings())["error"]


def test_soft_time_limit_of_the_caller_ends_failed(r, sql_url, files_root, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    class SoftLimit(Exception):
        pass

    def slow(*_a: object, **_k: object) -> str:
        raise SoftLimit

    monkeypatch.setattr("shared.files.process.extract", slow)
    _, result = _run(r, files_root, b"fine text " * 10, timeout_errors=(SoftLimit,))
    assert result["status"] == "failed"
    assert "time limit" in result["error"]
    assert _counts() == (1, 0)


def test_a_parser_crash_fails_the_file_not_the_worker(r, sql_url, files_root, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(*_a: object, **_k: object) -> str:
        raise ZeroDivisionError

    monkeypatch.setattr("shared.files.process.extract", broken)
    _, result = _run(r, files_root, b"fine text " * 10)
    assert result == {"status": "failed", "error": "could not extract text: ZeroDivisionError"}


def test_a_failure_while_saving_chunks_leaves_nothing_half_written(sql_url) -> None:  # type: ignore[no-untyped-def]
    def chunks():  # type: ignore[no-untyped-def]
        for i in range(documents.INSERT_BATCH + 10):  # the first batch is inserted, then boom
            yield TextChunk(i, f"chunk {i}")
        raise OSError("disk gone")

    with pytest.raises(OSError, match="disk gone"):
        documents.save_done(
            "c" * 64, filename="", media_type="text", size_bytes=1, char_count=1, chunks=chunks()
        )
    assert _counts() == (0, 0)


def test_a_failed_document_is_replaced_by_a_later_success_and_done_is_never_downgraded(
    sql_url,
) -> None:  # type: ignore[no-untyped-def]
    fid = "d" * 64
    documents.save_failed(fid, filename="", media_type="", size_bytes=1, error="first try")
    done = documents.save_done(
        fid,
        filename="",
        media_type="text",
        size_bytes=1,
        char_count=3,
        chunks=[TextChunk(0, "abc")],
    )
    assert (done.status, done.chunk_count) == ("done", 1)
    kept = documents.save_failed(fid, filename="", media_type="", size_bytes=1, error="late")
    assert (kept.status, kept.error) == ("done", None)
    assert _counts() == (1, 1)


def test_a_bug_outside_extraction_still_ends_failed(r, sql_url, files_root, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    def broken(*_a: object, **_k: object) -> str:
        raise IndexError("boom")

    monkeypatch.setattr("shared.files.process.chunk_text", broken)
    file_id, result = _run(r, files_root, b"fine text " * 10)
    assert result == {"status": "failed", "error": "internal error while processing: IndexError"}
    view = status.view(r.hgetall(keys.file_status(file_id)))
    assert view is not None
    assert view["status"] == "failed"
