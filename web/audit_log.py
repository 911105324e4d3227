"""Who, where and which request, for audit events written by web routes.

The actor is the JWT subject (`user:<sub>`), else the client address (`ip:<addr>`), as for the
guards; the correlation id is the caller's `X-Request-ID` (or `X-Correlation-ID`) header.
"""

from __future__ import annotations

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
