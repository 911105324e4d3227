from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import update

from shared.db import session_scope
from shared.files import documents, owners, status, store
from shared.files.chunk import TextChunk
from shared.files.cleanup import cleanup
from shared.models.files import Document
from shared.settings import get_settings
from tests.shared.files.helpers import store_file

DAY_S = 86400


def _age(path: Path, seconds: float) -> None:
    then = time.time() - seconds
    os.utime(path, (then, then))


def _backdate(file_id: str, seconds: float) -> None:
    with session_scope() as s:
        when = datetime.now(UTC) - timedelta(seconds=seconds)
        s.execute(update(Document).where(Document.id == file_id).values(created_at=when))


def test_old_failed_uploads_go_unless_being_reprocessed(r, sql_url, files_root) -> None:  # type: ignore[no-untyped-def]
    s = get_settings()
    old, young, retried = (store_file(files_root, f"doc {i}".encode()) for i in range(3))
    for fid in (old, young, retried):
        documents.save_failed(fid, filename="", media_type="text", size_bytes=5, error="bad")
        owners.record(fid, "u.alice", "a.txt")
    _backdate(old, 2 * DAY_S)
    _backdate(retried, 2 * DAY_S)
    status.claim(r, retried, "", 5, s)  # uploaded again: queued right now
    assert cleanup(r, s)["failed"] == 1
    assert documents.get(old) is None
    assert not store.path_for(files_root, old).exists()
    # Gone with its uploader row: a later upload of the same bytes by bob is his alone.
    assert owners.uploaded_as(old, "u.alice") is None
    for kept in (young, retried):
        assert documents.get(kept) is not None
        assert store.path_for(files_root, kept).exists()
        assert owners.uploaded_as(kept, "u.alice") == "a.txt"


def test_orphans_and_stale_temp_files_go_referenced_and_young_files_stay(
    r, sql_url, files_root
) -> None:  # type: ignore[no-untyped-def]
    s = get_settings()
    orphan, young_orphan, done, queued = (
        store_file(files_root, f"file {i}".encode()) for i in range(4)
    )
    documents.save_done(
        done, filename="", media_type="text", size_bytes=6, char_count=6, chunks=[TextChunk(0, "x")]
    )
    status.claim(r, queued, "", 6, s)
    for fid in (orphan, done, queued):
        _age(store.path_for(files_root, fid), 2 * s.files.orphan_grace_s)
        owners.record(fid, "ip.10.0.0.1", "b.txt")
    tmp_dir = files_root / store.TMP_DIR
    tmp_dir.mkdir()
    stale_tmp, fresh_tmp = tmp_dir / "a.part", tmp_dir / "b.part"
    stale_tmp.write_bytes(b"partial")
    fresh_tmp.write_bytes(b"in flight")
    _age(stale_tmp, 2 * s.files.orphan_grace_s)
    counts = cleanup(r, s)
    assert counts == {"failed": 0, "orphans": 1, "temp": 1}
    assert not store.path_for(files_root, orphan).exists()
    assert not store.path_for(files_root, orphan).parent.exists()  # empty shard pruned
    assert not stale_tmp.exists()
    assert owners.uploaded_as(orphan, "ip.10.0.0.1") is None
    for fid in (young_orphan, done, queued):
        assert store.path_for(files_root, fid).exists()
    for fid in (done, queued):
        assert owners.uploaded_as(fid, "ip.10.0.0.1") == "b.txt"
    assert fresh_tmp.exists()


def test_cleanup_of_a_missing_directory_is_a_no_op(r, sql_url, files_root) -> None:  # type: ignore[no-untyped-def]
    assert cleanup(r, get_settings()) == {"failed": 0, "orphans": 0, "temp": 0}
