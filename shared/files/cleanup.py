"""files.cleanup: remove failed uploads after their retention, and files nobody references.

Failed: a `failed` document older than FILES_FAILED_RETENTION loses its stored file and its
row, unless a new upload of the same content is being processed right now. Orphaned: a stored
file with no document row and no live status hash, or a temporary upload file, older than
FILES_ORPHAN_GRACE (an upload between its rename and its claim is younger than that). The
uploader rows of what is removed go with it.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from pathlib import Path

from shared.files import documents, owners, status, store
from shared.pipeline import chunked, execute_chunked
from shared.redis_client import RedisClient
from shared.settings import Settings

MAX_FAILED_BATCHES = 20
_LIVE = {status.QUEUED.encode(), status.PROCESSING.encode()}


def cleanup(client: RedisClient, settings: Settings, now: float | None = None) -> dict[str, int]:
    """One bounded pass; returns counts {failed, orphans, temp}.

    Redis: HGET of the status field of candidate files, batched in pipelines (read only).
    """
    files = settings.files
    now = time.time() if now is None else now
    root = store.root_dir(files.upload_dir)
    failed = _failed(client, root, now - files.failed_retention_s, files.cleanup_batch)
    orphans, temp = _orphans(client, root, now - files.orphan_grace_s, files.cleanup_batch)
    return {"failed": failed, "orphans": orphans, "temp": temp}


def _live(client: RedisClient, file_ids: list[str]) -> set[str]:
    """Which of `file_ids` have a queued or processing status right now."""
    replies = execute_chunked(client, file_ids, status.queue_read_status)
    return {fid for fid, state in zip(file_ids, replies, strict=True) if state in _LIVE}


def _failed(client: RedisClient, root: Path, cutoff_s: float, batch: int) -> int:
    cutoff = datetime.fromtimestamp(cutoff_s, UTC)
    removed = 0
    for _ in range(MAX_FAILED_BATCHES):
        ids = documents.failed_before(cutoff, batch)
        live = _live(client, ids)
        doomed = [fid for fid in ids if fid not in live]
        for fid in doomed:
            store.remove(root, fid)
        # The file goes first: a row without a file is still a correct "failed" answer.
        removed += documents.delete_failed(doomed)
        if len(ids) < batch or not doomed:
            break
    return removed


def _orphans(client: RedisClient, root: Path, cutoff_s: float, batch: int) -> tuple[int, int]:
    orphans = temp = 0
    old = ((fid, path) for fid, path, mtime in store.scan(root) if mtime < cutoff_s)
    for group in chunked(old, batch):
        for fid, path in group:
            if fid is None:
                path.unlink(missing_ok=True)
                temp += 1
        ids = [fid for fid, _ in group if fid is not None]
        keep = documents.known_ids(ids) | _live(client, ids)
        gone = [fid for fid in ids if fid not in keep and store.remove(root, fid)]
        owners.forget(gone)
        orphans += len(gone)
    _prune_empty_shards(root)
    return orphans, temp


def _prune_empty_shards(root: Path) -> None:
    if not root.is_dir():
        return
    for shard in os.scandir(root):
        if shard.is_dir(follow_symlinks=False) and shard.name != store.TMP_DIR:
            try:
                os.rmdir(shard.path)  # only succeeds when empty
            except OSError:
                continue
