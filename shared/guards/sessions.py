"""Concurrent-session limits: one sorted set per user, member = session id, score = deadline
(integer microseconds by the server clock). Acquire, heartbeat and release are each one Lua
script (`shared/lua/session_*.lua`), so they are atomic and one round trip each.

Expired members are dropped by every acquire, heartbeat and release, so correctness never depends
on the `sessions.sweep` beat job; the sweep only reclaims memory of idle users and measures.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared import keys, lua
from shared.pipeline import scan_pages
from shared.redis_client import AsyncRedisClient, RedisClient

MAX_SESSION_ID = 128
ACQUIRED, RENEWED, REJECTED = 1, 2, 0


class ConcurrencyLimitError(Exception):
    """The user already has `limit` live sessions and the policy is reject-newest."""

    def __init__(self, limit: int, retry_after_us: int) -> None:
        self.limit = limit
        self.retry_after_us = retry_after_us
        super().__init__(
            f"concurrent session limit reached: {limit} live sessions; close one or retry in "
            f"{max(1, -(-retry_after_us // 1_000_000))} s"
        )


@dataclass(frozen=True)
class SessionLimits:
    limit: int
    ttl_s: float
    evict_oldest: bool = False

    @property
    def ttl_us(self) -> int:
        return int(self.ttl_s * 1_000_000)


@dataclass(frozen=True)
class Acquired:
    session_id: str
    deadline_us: int
    renewed: bool
    evicted: list[str] = field(default_factory=list)


def check_session_id(session_id: str) -> str:
    """Session ids are zset members, never keys; still bounded so nobody stores 10 kB ids."""
    if not session_id or len(session_id) > MAX_SESSION_ID:
        raise ValueError(f"session id must be 1..{MAX_SESSION_ID} characters")
    return session_id


def _acquire_args(session_id: str, limits: SessionLimits, now_us: int | None) -> list[str | int]:
    return [
        "" if now_us is None else now_us,
        check_session_id(session_id),
        limits.ttl_us,
        limits.limit,
        "1" if limits.evict_oldest else "0",
    ]


def _acquired(session_id: str, limits: SessionLimits, reply: list[Any]) -> Acquired:
    if int(reply[0]) == REJECTED:
        raise ConcurrencyLimitError(limits.limit, int(reply[2]))
    evicted = [e.decode() if isinstance(e, bytes) else str(e) for e in reply[3:]]
    return Acquired(session_id, int(reply[1]), int(reply[0]) == RENEWED, evicted)


def acquire(
    client: RedisClient,
    user_id: str,
    session_id: str,
    limits: SessionLimits,
    now_us: int | None = None,
) -> Acquired:
    """Take a slot for `session_id` (idempotent); raises ConcurrencyLimitError at the limit."""
    reply = lua.script(client, "session_acquire")(
        keys=[keys.sessions(user_id)], args=_acquire_args(session_id, limits, now_us)
    )
    return _acquired(session_id, limits, reply)


async def aacquire(
    client: AsyncRedisClient,
    user_id: str,
    session_id: str,
    limits: SessionLimits,
    now_us: int | None = None,
) -> Acquired:
    """The asyncio twin of `acquire`."""
    reply = await lua.script(client, "session_acquire")(
        keys=[keys.sessions(user_id)], args=_acquire_args(session_id, limits, now_us)
    )
    return _acquired(session_id, limits, reply)


def heartbeat(
    client: RedisClient, user_id: str, session_id: str, ttl_s: float, now_us: int | None = None
) -> int | None:
    """Extend a live session; its new deadline (us), or None when it is lost (never revived)."""
    deadline = lua.script(client, "session_heartbeat")(
        keys=[keys.sessions(user_id)],
        args=["" if now_us is None else now_us, check_session_id(session_id), int(ttl_s * 1e6)],
    )
    return int(deadline) or None


async def aheartbeat(
    client: AsyncRedisClient,
    user_id: str,
    session_id: str,
    ttl_s: float,
    now_us: int | None = None,
) -> int | None:
    """The asyncio twin of `heartbeat`."""
    deadline = await lua.script(client, "session_heartbeat")(
        keys=[keys.sessions(user_id)],
        args=["" if now_us is None else now_us, check_session_id(session_id), int(ttl_s * 1e6)],
    )
    return int(deadline) or None


def release(client: RedisClient, user_id: str, session_id: str, now_us: int | None = None) -> bool:
    """Release by id (idempotent); True when the session was live."""
    reply = lua.script(client, "session_release")(
        keys=[keys.sessions(user_id)], args=["" if now_us is None else now_us, session_id]
    )
    return bool(reply)


async def arelease(
    client: AsyncRedisClient, user_id: str, session_id: str, now_us: int | None = None
) -> bool:
    """The asyncio twin of `release`."""
    reply = await lua.script(client, "session_release")(
        keys=[keys.sessions(user_id)], args=["" if now_us is None else now_us, session_id]
    )
    return bool(reply)


@dataclass
class SweepReport:
    users: int = 0
    removed: int = 0
    active: int = 0


def sweep(client: RedisClient, *, batch: int = 500, now_us: int | None = None) -> SweepReport:
    """Drop expired members of every session zset and count the live sessions.

    SCAN per primary (`batch` keys a page), then one pipeline per page of ZREMRANGEBYSCORE +
    ZCARD per key: single-key commands, so the pipeline also works on a cluster, and no
    read-modify-write (each ZREMRANGEBYSCORE is atomic by itself; the count is a gauge).
    `now_us` defaults to the server clock, read once.
    """
    if now_us is None:
        seconds, micros = client.time()
        now_us = int(seconds) * 1_000_000 + int(micros)
    report = SweepReport()
    for _, page in scan_pages(client, keys.sessions_pattern(), count=batch, type_="zset"):
        if not page:
            continue
        with client.pipeline(transaction=False) as pipe:
            for key in page:
                pipe.zremrangebyscore(key, "-inf", now_us)
                pipe.zcard(key)
            replies = pipe.execute()
        for removed, live in zip(replies[::2], replies[1::2], strict=True):
            report.users += 1 if live else 0
            report.removed += int(removed)
            report.active += int(live)
    return report


SNAPSHOT_NAME = "sessions"


def write_snapshot(client: RedisClient, report: SweepReport, ttl_s: float) -> None:
    """Store the active-sessions gauge snapshot (one SET) for `/metrics`."""
    from shared import snapshots  # noqa: PLC0415  (keeps this module's imports minimal)

    with client.pipeline(transaction=False) as pipe:
        snapshots.queue_write(
            pipe,
            SNAPSHOT_NAME,
            {"active": report.active, "users": report.users, "removed": report.removed},
            ttl_s=ttl_s,
        )
        pipe.execute()
