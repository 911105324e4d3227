"""Who may read an upload: every identity that uploaded the content, and admins.

A file id is a content hash, so knowing it proves nothing: `GET /files/{id}` checks a row of
`file_uploads` for (id, caller) and answers 404 otherwise, as for an unknown file, so that
existence does not leak. Two identities uploading the same bytes each get their own row, with
their own file name: the status hash and the document carry the first uploader's, which the
others must not see.
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


def record(file_id: str, identity: str, filename: str) -> None:
    """Note that `identity` uploaded `file_id` as `filename` (one INSERT … ON CONFLICT).

    A repeated upload by the same identity keeps one row, with the latest name.
    """
    with session_scope() as session:
        dialect = postgresql if session.get_bind().dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(Upload).values(
            file_id=file_id,
            uploader=stored_uploader(identity),
            filename=filename[:255],
            created_at=datetime.now(UTC),
        )
        session.execute(
            stmt.on_conflict_do_update(
                index_elements=["file_id", "uploader"], set_={"filename": stmt.excluded.filename}
            )
        )


def uploaded_as(file_id: str, identity: str) -> str | None:
    """The name under which `identity` uploaded `file_id`, or None when it never did."""
    with session_scope() as session:
        query = select(Upload.filename).where(
            Upload.file_id == file_id, Upload.uploader == stored_uploader(identity)
        )
        return session.scalar(query)


def forget(file_ids: Iterable[str]) -> None:
    """Drop the uploader rows of files that are gone (files.cleanup)."""
    ids = list(file_ids)
    if ids:
        with session_scope() as session:
            session.execute(delete(Upload).where(Upload.file_id.in_(ids)))
