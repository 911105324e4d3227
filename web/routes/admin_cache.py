"""POST /admin/cache/invalidate: enqueue one invalidation in every region, admins only.

Validation happens here, before anything is enqueued: exactly one of user_id, tag, pattern;
a pattern outside the cache namespace or matching all of it is a 400. This region's broker is
published to first (refused: 503, as in a single region). With REGION_BROKERS set, every other
region's broker is then published to concurrently, all within one CELERY_PUBLISH_TIMEOUT; a
region that did not accept is `pending`, recorded in this region's outbox in one HSET, and
`cache.deliver_outbox` keeps publishing it until that broker accepts. Then one XADD to the
audit trail with the per-region outcome. The answer is 202
`{"task_id", "regions": {name: {"state": "sent" | "pending", "task_id": str | null}}}`.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from redis.exceptions import RedisError

from shared import keys
from shared.cache import outbox
from shared.cache.invalidate import InvalidPattern, validate_pattern
from shared.settings import get_settings
from web import audit_log
from web.auth import Admin
from web.deps import Redis
from workers.facade import EnqueueError, enqueue, enqueue_many

router = APIRouter(prefix="/admin/cache", tags=["cache"])


class InvalidateRequest(BaseModel):
    user_id: str | None = Field(default=None, min_length=1, max_length=256)
    tag: str | None = Field(default=None, min_length=1, max_length=256)
    pattern: str | None = Field(default=None, min_length=1, max_length=512)


async def _fan_out(redis: Redis, given: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Publish to every other region; record the ones that refused in the outbox (one HSET)."""
    others = get_settings().regions.others
    if not others:
        return {}
    accepted = await run_in_threadpool(enqueue_many, others, "cache.invalidate", **given)
    missed = sorted(region for region, task_id in accepted.items() if task_id is None)
    if missed:
        fields = outbox.entries(uuid.uuid4().hex, given, missed, time.time())
        try:
            await redis.hset(keys.cache_outbox(), mapping=fields)  # type: ignore[arg-type]
        except (RedisError, OSError):
            raise HTTPException(503, "could not record the pending regions; retry") from None
    return {
        region: {"state": "pending" if task_id is None else "sent", "task_id": task_id}
        for region, task_id in accepted.items()
    }


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
        here = get_settings().regions.region
        regions = {here: {"state": "sent", "task_id": task_id}, **await _fan_out(redis, given)}
    except HTTPException as exc:
        # The one Redis command of this path: an XADD, after the decision is known.
        outcome = "refused" if exc.status_code == 400 else "failed"
        details = {**given, "status": exc.status_code, "reason": exc.detail}
        await audit_log.record(
            redis, request, admin, "admin.cache_invalidate", details, result=outcome
        )
        raise
    states = {region: r["state"] for region, r in regions.items()}
    details = {**given, "task_id": task_id, "regions": states}
    await audit_log.record(
        redis, request, admin, "admin.cache_invalidate", details, result="accepted"
    )
    return JSONResponse({"task_id": task_id, "regions": regions}, status_code=202)
