"""The Redis status hash of one file (`keys.file_status`), written by the task, read by the web.

Fields: status (queued | processing | done | failed), progress (0-100), error, chunks, gen (the
claim generation), runs (deliveries of this generation), updated_us, filename, size_bytes.
Every write is one Lua script (`file_claim`, `file_start`, `file_progress`) so that a
redelivered or superseded run can never move the status or the progress backwards.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shared import keys
from shared.lua import script
from shared.redis_client import RedisClient
from shared.settings import Settings

QUEUED = "queued"
PROCESSING = "processing"
DONE = "done"
FAILED = "failed"
STATUSES = (QUEUED, PROCESSING, DONE, FAILED)


def _s(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


@dataclass(frozen=True)
class Claim:
    outcome: str  # "claimed" (enqueue now) or the live status
    gen: int
    previous: str  # status before the claim; "" when the hash did not exist


def claim_call(
    file_id: str, filename: str, size_bytes: int, settings: Settings, now_us: int = 0
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of `file_claim` (run by the web's async client or a sync one)."""
    f = settings.files
    # A message not started within the task's time limit (plus slack) was lost with its broker.
    stale_us = (f.time_limit_s + 60) * 1_000_000
    return [keys.file_status(file_id)], [f.status_ttl_s, stale_us, now_us, filename, size_bytes]


def parse_claim(reply: list[Any]) -> Claim:
    return Claim(_s(reply[0]), int(reply[1]), _s(reply[2]))


def claim(
    client: RedisClient, file_id: str, filename: str, size_bytes: int, settings: Settings
) -> Claim:
    """Claim `file_id` for processing (sync form of what POST /files does)."""
    k, a = claim_call(file_id, filename, size_bytes, settings)
    return parse_claim(script(client, "file_claim")(keys=k, args=a))


def poison_reason(max_attempts: int) -> str:
    return f"gave up after {max_attempts} attempts: the file stalled or crashed the worker"


def start(
    client: RedisClient, file_id: str, gen: int, settings: Settings, now_us: int = 0
) -> tuple[str, int]:
    """Count a delivery; returns (verdict, gen), verdict run | done | failed | stale | poison."""
    f = settings.files
    reason = poison_reason(f.max_attempts)
    reply = script(client, "file_start")(
        keys=[keys.file_status(file_id)],
        args=[gen, f.max_attempts, f.status_ttl_s, now_us, reason],
    )
    return _s(reply[0]), int(reply[1])


def progress_call(
    file_id: str,
    gen: int,
    state: str,
    progress: int,
    *,
    settings: Settings,
    error: str = "",
    chunks: int | None = None,
    now_us: int = 0,
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of `file_progress` (sync task or async web client)."""
    if state not in STATUSES:
        raise ValueError(f"unknown status {state!r}")
    args = [
        gen,
        state,
        max(0, min(100, progress)),
        error[:500],
        "" if chunks is None else chunks,
        settings.files.status_ttl_s,
        now_us,
    ]
    return [keys.file_status(file_id)], args


def update(
    client: RedisClient,
    file_id: str,
    gen: int,
    state: str,
    progress: int,
    *,
    settings: Settings,
    error: str = "",
    chunks: int | None = None,
    now_us: int = 0,
) -> bool:
    """Move the status forward (monotonic); False when the script refused the update."""
    k, a = progress_call(
        file_id, gen, state, progress, settings=settings, error=error, chunks=chunks, now_us=now_us
    )
    return bool(script(client, "file_progress")(keys=k, args=a))


def view(raw: Mapping[Any, Any]) -> dict[str, Any] | None:
    """The API shape of a status hash (from HGETALL), or None when the hash is absent."""
    data = {_s(k): _s(v) for k, v in raw.items()}
    if data.get("status") not in STATUSES:
        return None
    chunks = data.get("chunks", "")
    return {
        "status": data["status"],
        "progress": int(data.get("progress") or 0),
        "error": data.get("error") or None,
        "chunks": int(chunks) if chunks else None,
        "filename": data.get("filename") or None,
        "size_bytes": int(data["size_bytes"]) if data.get("size_bytes") else None,
    }


def queue_read_status(pipe: Any, file_id: str) -> None:
    """Queue HGET of the status field (the reply is bytes or None)."""
    pipe.hget(keys.file_status(file_id), "status")
