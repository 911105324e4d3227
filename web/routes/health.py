"""Liveness, readiness, and the precomputed health snapshot (never computed inline)."""

from __future__ import annotations

import time
from typing import Any

import orjson
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from redis.exceptions import RedisError

from shared.health import FAIL, SNAPSHOT_NAME
from shared.settings import get_settings
from web.deps import Redis
from web.snapshot_cache import read_snapshot

router = APIRouter(tags=["health"])
HEALTH_JSON = "application/health+json"


@router.get("/health")
async def liveness() -> JSONResponse:
    """The process answers; no dependency is touched."""
    return JSONResponse({"status": "pass"}, media_type=HEALTH_JSON)


@router.get("/health/ready")
async def readiness(redis: Redis) -> JSONResponse:
    """Redis answers a PING."""
    try:
        await redis.ping()
    except RedisError as exc:
        body = {"status": FAIL, "output": f"redis unreachable: {type(exc).__name__}"}
        return JSONResponse(body, status_code=503, media_type=HEALTH_JSON)
    return JSONResponse({"status": "pass"}, media_type=HEALTH_JSON)


@router.get("/health/advanced")
async def advanced(redis: Redis) -> JSONResponse:
    """The health snapshot with its age; 503 `fail` when missing, stale or failing."""
    interval_s = get_settings().schedule.health_probe_interval_s
    try:
        snap = await read_snapshot(redis, SNAPSHOT_NAME)
    except RedisError as exc:
        return _fail(f"redis unreachable: {type(exc).__name__}")
    if snap is None:
        return _fail("no health snapshot yet: is the worker running health.probe?")
    now = time.time()
    body: dict[str, Any] = {
        **snap.data,
        "generated_at": snap.generated_at,
        "age_s": round(snap.age_s(now), 3),
        "version": snap.version,
    }
    if snap.is_stale(interval_s, now):
        body["status"] = FAIL
        body["output"] = f"snapshot is stale: older than {2 * interval_s:g} s"
    status = 503 if body["status"] == FAIL else 200
    return HealthJSONResponse(body, status_code=status)


def _fail(reason: str) -> JSONResponse:
    return HealthJSONResponse({"status": FAIL, "output": reason}, status_code=503)


class HealthJSONResponse(JSONResponse):
    """`application/health+json`, serialised with orjson (several times faster than json)."""

    media_type = HEALTH_JSON

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
