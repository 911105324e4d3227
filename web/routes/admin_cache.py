"""POST /admin/cache/invalidate: enqueue one invalidation (202 {"task_id"}), admins only.

Validation happens here, before anything is enqueued: exactly one of user_id, tag, pattern;
a pattern outside the cache namespace or matching all of it is a 400. One broker publish; no
Redis work on this path. The task reports its counts at GET /admin/tasks/{task_id}.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from shared.cache.invalidate import InvalidPattern, validate_pattern
from web.auth import Admin
from workers.facade import EnqueueError, enqueue

router = APIRouter(prefix="/admin/cache", tags=["cache"])


class InvalidateRequest(BaseModel):
    user_id: str | None = Field(default=None, min_length=1, max_length=256)
    tag: str | None = Field(default=None, min_length=1, max_length=256)
    pattern: str | None = Field(default=None, min_length=1, max_length=512)


@router.post("/invalidate", status_code=202)
async def invalidate(body: InvalidateRequest, _: Admin) -> JSONResponse:
    """Enqueue `cache.invalidate` for one user, tag or pattern."""
    given: dict[str, Any] = body.model_dump(exclude_none=True)
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
    return JSONResponse({"task_id": task_id}, status_code=202)
