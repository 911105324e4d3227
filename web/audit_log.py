"""Who, where and which request, for audit events written by web routes.

The actor is the JWT subject (`user:<sub>`), else the client address (`ip:<addr>`), as for the
guards; the correlation id is the caller's `X-Request-ID` (or `X-Correlation-ID`) header.
"""

from __future__ import annotations

from typing import Any

from fastapi import Request

from shared import keys, lua
from shared.audit import alog_event, event_fields
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
# audit trail. The episode marker lives in Redis (audit_refusal.lua), so N web processes audit
# an episode once between them; the refusals folded into it are counted in Redis and reported
# with the next audited one.
_EPISODE_MAX_S = 3600.0
_CARRY_MS = 86_400_000


def refusal_script(
    request: Request,
    who: Principal,
    event_type: str,
    details: dict[str, Any],
    *,
    retry_after_s: float,
) -> tuple[str, list[str], list[str | int]]:
    """The audit_refusal.lua call that audits this refusal unless its episode is open."""
    details = {"method": request.method, "path": request.url.path, **details}
    fields = event_fields(
        event_type,
        who.identity,
        details,
        ip=who.address,
        correlation_id=correlation_id(request),
        result="refused",
    )
    episode_ms = int(max(1.0, min(retry_after_s, _EPISODE_MAX_S)) * 1000)
    script_keys = [
        keys.audit_refusal_episode(event_type, who.identity),
        keys.audit_refusal_suppressed(event_type, who.identity),
        keys.audit_stream(),
    ]
    args: list[str | int] = [episode_ms, _CARRY_MS]
    for name, value in fields.items():
        args += [name.decode(), value.decode()]
    return "audit_refusal", script_keys, args


async def record_refusal(
    redis: AsyncRedisClient,
    request: Request,
    who: Principal,
    event_type: str,
    details: dict[str, Any],
    *,
    retry_after_s: float,
) -> str | None:
    """Audit a refusal now (one script call) unless this identity's episode is open.

    Returns the stream id of the event written, or None when it was folded into the episode.
    The web's refusal path queues `refusal_script` on the write-behind buffer instead.
    """
    name, script_keys, args = refusal_script(
        request, who, event_type, details, retry_after_s=retry_after_s
    )
    stream_id = await lua.script(redis, name)(keys=script_keys, args=args)
    if not stream_id:
        return None
    return stream_id.decode() if isinstance(stream_id, bytes) else str(stream_id)
