"""Helpers shared by the audit tests: bulk appends and the conservation check."""

from __future__ import annotations

from collections import Counter
from typing import Any

from sqlalchemy import select

from shared import audit, keys
from shared.db import get_engine
from shared.models.audit import EVENTS
from shared.pipeline import execute_chunked
from shared.redis_client import RedisClient


def append_many(client: RedisClient, n: int, *, actor: str = "alice", start: int = 0) -> list[str]:
    """Append `n` events in pipelined chunks; their stream ids in order."""
    fields = [
        audit.event_fields("test.event", actor, {"n": i}, ip="10.0.0.1")
        for i in range(start, start + n)
    ]
    ids = execute_chunked(client, fields, audit.queue_fields, chunk=2000)
    return [i.decode() if isinstance(i, bytes) else str(i) for i in ids]


def redis_ids(client: RedisClient) -> list[str]:
    return [sid.decode() for sid, _ in client.xrange(keys.audit_stream())]


def archive_ids() -> list[str]:
    with get_engine().connect() as conn:
        rows = conn.execute(select(EVENTS.c.stream_id).order_by(EVENTS.c.ms, EVENTS.c.seq))
        return [r[0] for r in rows]


def assert_conserved(client: RedisClient, logged: list[str]) -> dict[str, Any]:
    """Redis plus archive hold every logged event, none twice, and no event that was not logged.

    Also: the archive is a prefix of the log (nothing skipped) and Redis holds a suffix.
    """
    in_redis, in_archive = redis_ids(client), archive_ids()
    assert not [i for i, c in Counter(in_archive).items() if c > 1], "duplicate archive rows"
    assert not [i for i, c in Counter(in_redis).items() if c > 1], "duplicate stream entries"
    assert set(in_redis) | set(in_archive) == set(logged)
    assert in_archive == logged[: len(in_archive)], "archive is not a prefix of the log"
    assert in_redis == logged[len(logged) - len(in_redis) :], "Redis is not a suffix of the log"
    return {"redis": len(in_redis), "archive": len(in_archive)}
