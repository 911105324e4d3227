"""Who may read an upload: every identity that uploaded the content, and admins.

A file id is a content hash, so knowing it proves nothing: `GET /files/{id}` checks a row of
`file_uploads` for (id, caller) and answers 404 otherwise, as for an unknown file, so that
existence does not leak. Two identities uploading the same bytes each get their own row.
The identity is the guard identity (`u.<sub>` or `ip.<address>`); a long one is stored as a
digest so that the column stays bounded without truncation (which could make two callers one).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import UTC, datetime

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite

from shared.db import session_scope
from shared.models.files import Upload

MAX_UPLOADER_CHARS = 128


def stored_uploader(identity: str) -> str:
    """The column form of an identity: as it is when short, else `~` plus its SHA-256."""
    if len(identity) <= MAX_UPLOADER_CHARS and not identity.startswith("~"):
        return identity
    return "~" + hashlib.sha256(identity.encode()).hexdigest()


def record(file_id: str, identity: str) -> None:
    """Note that `identity` uploaded `file_id` (idempotent: one INSERT … ON CONFLICT)."""
    with session_scope() as session:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(Upload).values(
            file_id=file_id, uploader=stored_uploader(identity), created_at=datetime.now(UTC)
        )
        session.execute(stmt.on_conflict_do_nothing(index_elements=["file_id", "uploader"]))


def may_read(file_id: str, identity: str) -> bool:
    """True when `identity` uploaded `file_id`."""
    with session_scope() as session:
        query = select(Upload.file_id).where(
            Upload.file_id == file_id, Upload.uploader == stored_uploader(identity)
        )
        return session.scalar(query) is not None


def forget(file_ids: Iterable[str]) -> None:
    """Drop the uploader rows of files that are gone (files.cleanup)."""
    ids = list(file_ids)
    if ids:
        with session_scope() as session:
            session.execute(delete(Upload).where(Upload.file_id.in_(ids)))
