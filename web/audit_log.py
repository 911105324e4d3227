"""Who, where and which request, for audit events written by web routes.

The actor is the JWT subject (`user:<sub>`), else the client address (`ip:<addr>`), as for the
guards; the correlation id is the caller's `X-Request-ID` (or `X-Correlation-ID`) header.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Any

from fastapi import Request

from shared.audit import alog_event
from shared.redis_client import AsyncRedisClient
from web.auth import Principal


def correlation_id(request: Request) -> str | None:
    return request.headers.get("x-request-id") or request.headers.get("x-correlation-id")


async def record(
    redis: AsyncRedisClient,
    request: Request,
    who: Principal,
    event_type: str,
    details: dict[str, Any],
    *,
    result: str,
) -> str | None:
    """Append one audit event for this request (one XADD round trip); None if it failed."""
    details = {"method": request.method, "path": request.url.path, **details}
    return await alog_event(
        redis,
        event_type,
        who.identity,
        details,
        ip=who.address,
        correlation_id=correlation_id(request),
        result=result,
    )


# Refusals are audited once per episode: a client hammering past its limit would otherwise turn
# every rejected request into an audit event (and an archive row), a cheap way to flood the
# audit trail. Per process, the first refusal of an (event, identity) pair is written; the ones
# that follow within its Retry-After are counted and reported with the next written event.
_MAX_TRACKED = 10_000
_episodes: OrderedDict[tuple[str, str], list[float]] = OrderedDict()  # key -> [until, suppressed]


async def record_refusal(
    redis: AsyncRedisClient,
    request: Request,
    who: Principal,
    event_type: str,
    details: dict[str, Any],
    *,
    retry_after_s: float,
    now: float | None = None,
) -> str | None:
    """Audit a refusal unless this identity's current refusal episode was already audited.

    Returns the stream id of the event written, or None when it was folded into the episode.
    """
    now = time.monotonic() if now is None else now
    key = (event_type, who.identity)
    episode = _episodes.get(key)
    if episode is not None and now < episode[0]:
        episode[1] += 1
        return None
    suppressed = int(episode[1]) if episode is not None else 0
    _episodes[key] = [now + max(1.0, min(retry_after_s, 3600.0)), 0]
    _episodes.move_to_end(key)
    while len(_episodes) > _MAX_TRACKED:
        _episodes.popitem(last=False)
    if suppressed:
        details = {**details, "suppressed_since_last": suppressed}
    return await record(redis, request, who, event_type, details, result="refused")


def forget_episodes() -> None:
    """Clear the refusal episodes (tests)."""
    _episodes.clear()
