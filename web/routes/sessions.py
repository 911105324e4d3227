"""Session routes: open (POST /sessions), keep alive (POST /sessions/{id}/heartbeat), close
(DELETE /sessions/{id}). Each is one Lua script, one round trip, on the caller's session set
(the caller is the JWT subject, else the client address, as for rate limits)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Path, Response
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from shared.guards import sessions
from shared.settings import get_settings
from web.admission import bounded, guard_identity, store_unavailable
from web.auth import Caller
from web.deps import Redis
from web.refusal import Refusal

router = APIRouter(tags=["sessions"])
SessionId = Path(min_length=1, max_length=sessions.MAX_SESSION_ID)


class OpenSession(BaseModel):
    """Optional body: a client-chosen id makes a retried open idempotent."""

    session_id: str | None = Field(default=None, min_length=1, max_length=sessions.MAX_SESSION_ID)


def _limits() -> sessions.SessionLimits:
    s = get_settings().guards
    return sessions.SessionLimits(
        s.max_concurrent_sessions, s.session_ttl_s, s.session_policy == "evict-oldest"
    )


def _iso(deadline_us: int) -> str:
    return datetime.fromtimestamp(deadline_us / 1e6, UTC).isoformat(timespec="milliseconds")


@router.post("/sessions", status_code=201)
async def open_session(
    who: Caller, redis: Redis, body: OpenSession | None = None
) -> dict[str, Any]:
    session_id = (body.session_id if body else None) or uuid.uuid4().hex
    limits = _limits()
    try:
        got = await bounded(sessions.aacquire(redis, guard_identity(who), session_id, limits))
    except sessions.ConcurrencyLimitError as exc:
        retry_s = max(1, -(-exc.retry_after_us // 1_000_000))
        raise Refusal(
            429, str(exc), "session.limit", "sessions", retry_s, details={"limit": limits.limit}
        ) from None
    except (RedisError, TimeoutError) as exc:
        raise store_unavailable(exc) from None
    return {
        "session_id": got.session_id,
        "expires_at": _iso(got.deadline_us),
        "ttl_s": limits.ttl_s,
        "renewed": got.renewed,
        "evicted": got.evicted,
    }


@router.post("/sessions/{session_id}/heartbeat")
async def heartbeat(who: Caller, redis: Redis, session_id: str = SessionId) -> dict[str, Any]:
    ttl_s = get_settings().guards.session_ttl_s
    try:
        deadline = await bounded(sessions.aheartbeat(redis, guard_identity(who), session_id, ttl_s))
    except (RedisError, TimeoutError) as exc:
        raise store_unavailable(exc) from None
    if deadline is None:
        raise HTTPException(410, "session lost: it expired, was evicted or released")
    return {"session_id": session_id, "expires_at": _iso(deadline), "ttl_s": ttl_s}


@router.delete("/sessions/{session_id}", status_code=204)
async def close_session(who: Caller, redis: Redis, session_id: str = SessionId) -> Response:
    try:
        await bounded(sessions.arelease(redis, guard_identity(who), session_id))
    except (RedisError, TimeoutError) as exc:
        raise store_unavailable(exc) from None
    return Response(status_code=204)
