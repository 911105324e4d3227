"""Tables of the files domain: one row per processed document (by content hash), its chunks,
and one row per (content, uploader).

A document row is written together with all its chunks in one transaction, so a reader sees
either a finished document with every chunk or nothing. A `failed` row carries the reason and no
chunks; files.cleanup removes it after FILES_FAILED_RETENTION.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from shared.db import Base


class Document(Base):
    __tablename__ = "file_documents"

    # SHA-256 of the uploaded bytes (hex): the file id, and what makes processing idempotent.
    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    status: Mapped[str] = mapped_column(String(16))  # "done" | "failed"
    filename: Mapped[str] = mapped_column(String(255), default="")
    media_type: Mapped[str] = mapped_column(String(32), default="")
    size_bytes: Mapped[int] = mapped_column(Integer, default=0)
    char_count: Mapped[int] = mapped_column(Integer, default=0)
    chunk_count: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))

    __table_args__ = (Index("ix_file_documents_status_created", "status", "created_at"),)


class Chunk(Base):
    __tablename__ = "file_chunks"

    document_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("file_documents.id", ondelete="CASCADE"), primary_key=True
    )
    seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    start_char: Mapped[int] = mapped_column(Integer)
    text: Mapped[str] = mapped_column(Text)


class Upload(Base):
    """Who uploaded which content: `GET /files/{id}` answers only its uploaders (and admins).

    No foreign key: the row is written at upload time, before the worker writes the document.
    """

    __tablename__ = "file_uploads"

    file_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    # The guard identity (`u.<sub>` or `ip.<address>`), hashed when long (see files.owners).
    uploader: Mapped[str] = mapped_column(String(128), primary_key=True)
    # This uploader's own file name: the status and the document keep the first uploader's.
    filename: Mapped[str] = mapped_column(String(255), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
