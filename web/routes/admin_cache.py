"""POST /admin/cache/invalidate: enqueue one invalidation (202 {"task_id"}), admins only.

Validation happens here, before anything is enqueued: exactly one of user_id, tag, pattern;
a pattern outside the cache namespace or matching all of it is a 400. One broker publish, and
one XADD to the audit trail (the only Redis work on this path). The task reports its counts
at GET /admin/tasks/{task_id}.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shared.cache.invalidate import InvalidPattern, validate_pattern
from web import audit_log
from web.auth import Admin
from web.deps import Redis
from workers.facade import EnqueueError, enqueue

router = APIRouter(prefix="/admin/cache", tags=["cache"])


class InvalidateRequest(BaseModel):
    user_id: str | None = Field(default=None, min_length=1, max_length=256)
    tag: str | None = Field(default=None, min_length=1, max_length=256)
    pattern: str | None = Field(default=None, min_length=1, max_length=512)


@router.post("/invalidate", status_code=202)
async def invalidate(
    body: InvalidateRequest, admin: Admin, redis: Redis, request: Request
) -> JSONResponse:
    """Enqueue `cache.invalidate` for one user, tag or pattern (every attempt is audited)."""
    given: dict[str, Any] = body.model_dump(exclude_none=True)
    try:
        if len(given) != 1:
            raise HTTPException(400, "give exactly one of user_id, tag, pattern")
        if body.pattern is not None:
            try:
                validate_pattern(body.pattern)
            except InvalidPattern as exc:
                raise HTTPException(400, str(exc)) from None
        try:
            task_id = await run_in_threadpool(enqueue, "cache.invalidate", **given)
        except EnqueueError:
            raise HTTPException(503, "task queue unavailable; retry later") from None
    except HTTPException as exc:
        # The one Redis command of this path: an XADD, after the decision is known.
        outcome = "refused" if exc.status_code == 400 else "failed"
        details = {**given, "status": exc.status_code, "reason": exc.detail}
        await audit_log.record(
            redis, request, admin, "admin.cache_invalidate", details, result=outcome
        )
        raise
    details = {**given, "task_id": task_id}
    await audit_log.record(
        redis, request, admin, "admin.cache_invalidate", details, result="accepted"
    )
    return JSONResponse({"task_id": task_id}, status_code=202)
