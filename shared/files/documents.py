"""SQL side of the files domain: a document and all its chunks commit together, or not at all.

Idempotent on the content hash: saving a document that is already `done` changes nothing and
returns the stored chunk count; two runs racing on one file end with one copy (the loser's
insert fails on the primary key, rolls back, and reads the winner's row).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import islice
from typing import Any

from sqlalchemy import delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shared.db import session_scope
from shared.files.chunk import TextChunk
from shared.models.files import Chunk, Document, Upload

DONE = "done"
FAILED = "failed"
# Rows per executemany: bounded memory, and below PostgreSQL's parameter limit.
INSERT_BATCH = 1000


@dataclass(frozen=True)
class DocumentInfo:
    id: str
    status: str
    filename: str
    media_type: str
    size_bytes: int
    char_count: int
    chunk_count: int
    error: str | None
    created_at: datetime

    def view(self) -> dict[str, Any]:
        """The API shape (GET /files/{id}) of a document row."""
        return {
            "status": self.status,
            "progress": 100,
            "error": self.error,
            "chunks": self.chunk_count if self.status == DONE else None,
            "filename": self.filename or None,
            "size_bytes": self.size_bytes,
            "media_type": self.media_type or None,
            "chars": self.char_count if self.status == DONE else None,
        }


def _info(row: Document) -> DocumentInfo:
    return DocumentInfo(
        row.id,
        row.status,
        row.filename,
        row.media_type,
        row.size_bytes,
        row.char_count,
        row.chunk_count,
        row.error,
        row.created_at,
    )


def get(file_id: str) -> DocumentInfo | None:
    """The document row of `file_id`, or None."""
    with session_scope() as session:
        row = session.get(Document, file_id)
        return _info(row) if row is not None else None


def save_done(
    file_id: str,
    *,
    filename: str,
    media_type: str,
    size_bytes: int,
    char_count: int,
    chunks: Iterable[TextChunk],
) -> DocumentInfo:
    """Store the document and every chunk in ONE transaction; returns the stored row.

    A failed row of the same file is replaced; a done row is kept as it is (idempotent).
    """

    def add_chunks(session: Session, row: Document) -> None:
        count = 0
        for batch in _batches(chunks):
            rows = [
                {"document_id": file_id, "seq": count + i, "start_char": c.start, "text": c.text}
                for i, c in enumerate(batch)
            ]
            session.execute(insert(Chunk), rows)
            count += len(rows)
        row.chunk_count = count

    fields = {"status": DONE, "char_count": char_count, "error": None}
    return _replace(
        file_id, filename=filename, media_type=media_type, size_bytes=size_bytes,
        fields=fields, fill=add_chunks,
    )  # fmt: skip


def save_failed(
    file_id: str, *, filename: str, media_type: str, size_bytes: int, error: str
) -> DocumentInfo:
    """Record why `file_id` failed (no chunks); a done row is never downgraded."""
    fields = {"status": FAILED, "char_count": 0, "error": error[:2000]}
    return _replace(
        file_id, filename=filename, media_type=media_type, size_bytes=size_bytes,
        fields=fields, fill=None,
    )  # fmt: skip


def _replace(
    file_id: str,
    *,
    filename: str,
    media_type: str,
    size_bytes: int,
    fields: dict[str, Any],
    fill: Callable[[Session, Document], None] | None,
) -> DocumentInfo:
    """Write the row of `file_id` (and what `fill` adds) in one transaction, unless it is done.

    A done row is final: it is returned unchanged, and a concurrent run that committed a done
    row first wins the race (the IntegrityError of ours is answered with its row).
    """
    try:
        with session_scope() as session:
            existing = session.get(Document, file_id)
            if existing is not None and existing.status == DONE:
                return _info(existing)
            _drop(session, file_id, existing)
            row = Document(
                id=file_id,
                filename=filename[:255],
                media_type=media_type,
                size_bytes=size_bytes,
                chunk_count=0,
                created_at=datetime.now(UTC),
                **fields,
            )
            session.add(row)
            if fill is not None:
                session.flush()  # the parent row first: chunks reference it
                fill(session, row)
            return _info(row)
    except IntegrityError:
        winner = get(file_id)
        if winner is None or (fill is not None and winner.status != DONE):
            raise
        return winner


def _drop(session: Session, file_id: str, existing: Document | None) -> None:
    if existing is None:
        return
    # Explicit: SQLite enforces ON DELETE CASCADE only with a per-connection pragma.
    session.execute(delete(Chunk).where(Chunk.document_id == file_id))
    session.delete(existing)
    session.flush()


def _batches(chunks: Iterable[TextChunk]) -> Iterator[list[TextChunk]]:
    it = iter(chunks)
    while batch := list(islice(it, INSERT_BATCH)):
        yield batch


def chunk_texts(file_id: str) -> list[str]:
    """The stored chunks of `file_id` in order (tests and tools)."""
    with session_scope() as session:
        rows = session.scalars(
            select(Chunk.text).where(Chunk.document_id == file_id).order_by(Chunk.seq)
        )
        return list(rows)


def failed_before(cutoff: datetime, limit: int) -> list[str]:
    """Ids of failed documents created before `cutoff`, oldest first, at most `limit`."""
    with session_scope() as session:
        query = (
            select(Document.id)
            .where(Document.status == FAILED, Document.created_at < cutoff)
            .order_by(Document.created_at)
            .limit(limit)
        )
        return list(session.scalars(query))


def known_ids(file_ids: list[str]) -> set[str]:
    """Which of `file_ids` have a document row (any status)."""
    if not file_ids:
        return set()
    with session_scope() as session:
        return set(session.scalars(select(Document.id).where(Document.id.in_(file_ids))))


def delete_failed(file_ids: list[str]) -> int:
    """Delete these documents (and their uploader rows) if still failed; returns how many went."""
    if not file_ids:
        return 0
    with session_scope() as session:
        doomed = Document.id.in_(file_ids) & (Document.status == FAILED)
        ids = list(session.scalars(select(Document.id).where(doomed)))
        session.execute(delete(Chunk).where(Chunk.document_id.in_(ids)))
        session.execute(delete(Upload).where(Upload.file_id.in_(ids)))
        result = session.execute(delete(Document).where(Document.id.in_(ids)))
        return int(result.rowcount or 0)  # type: ignore[attr-defined]
