"""GET /analytics/summary, /analytics/timeseries and /dashboard: reads of precomputed snapshots.

Each JSON endpoint is one Redis round trip (an MGET or a GET of snapshots written by
`analytics.rollup` and `analytics.detect_anomalies`); nothing is aggregated on the request.
The data are aggregates only (no per-user rows), so the endpoints need no token, like /metrics.
"""

from __future__ import annotations

import functools
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import HTMLResponse

from shared.analytics.detect import ANOMALIES
from shared.analytics.global_view import GLOBAL
from shared.analytics.series import BASE_METRICS, SUMMARY, series_snapshot
from shared.settings import get_settings
from web.deps import Redis
from web.snapshot_cache import read_snapshot, read_snapshots

router = APIRouter(tags=["analytics"])
STATIC = Path(__file__).resolve().parents[1] / "static"
_EMPTY_GLOBAL: dict[str, Any] = {
    "scope": "global",
    "messages_total": 0,
    "unique_users": 0,
    "unique_users_is_upper_bound": True,
    "by_model": {},
}
_EMPTY_SUMMARY: dict[str, Any] = {
    "messages_total": 0,
    "unique_users": 0,
    "unique_users_month": 0,
    "by_model": {},
}


@router.get("/analytics/summary")
async def summary(redis: Redis, scope: Literal["region", "global"] = "region") -> dict[str, Any]:
    """This region's summary plus the active anomaly alerts (one MGET); `scope=global`: every
    region's totals summed from SQL by the rollup (one GET)."""
    if scope == "global":
        return await _global(redis)
    found = await read_snapshots(redis, [SUMMARY, ANOMALIES])
    snap, anomalies = found[SUMMARY], found[ANOMALIES]
    now = time.time()
    interval_s = get_settings().schedule.analytics_rollup_interval_s
    if snap is None:
        body = {**_EMPTY_SUMMARY, "generated_at": None, "age_s": None, "stale": True}
        body["status"] = "no rollup yet: is the worker running analytics.rollup?"
    else:
        body = {
            **snap.data,
            "generated_at": snap.generated_at,
            "age_s": round(snap.age_s(now), 3),
            "stale": snap.is_stale(interval_s, now),
        }
    body["alerts"] = anomalies.data.get("active", []) if anomalies else []
    body["anomalies"] = (
        {"evaluated_at": anomalies.generated_at, "skipped": anomalies.data.get("skipped")}
        if anomalies
        else None
    )
    return body


async def _global(redis: Redis) -> dict[str, Any]:
    settings = get_settings()
    interval_s = settings.schedule.analytics_rollup_interval_s
    now = time.time()
    if not settings.regions.multi:
        # One region: the global view is this region's own snapshot.
        snap = await read_snapshot(redis, SUMMARY)
        data = snap.data if snap else _EMPTY_SUMMARY
        total = data["messages_total"]
        here = {"messages_total": total, "generated_at": snap.generated_at if snap else None}
        body: dict[str, Any] = {
            "scope": "global",
            "messages_total": total,
            "unique_users": data["unique_users"],
            "unique_users_is_upper_bound": False,
            "by_model": data["by_model"],
            "regions": {settings.regions.region: here},
        }
    else:
        snap = await read_snapshot(redis, GLOBAL)
        body = dict(snap.data) if snap else {**_EMPTY_GLOBAL, "regions": {}}
    body["generated_at"] = snap.generated_at if snap else None
    body["age_s"] = round(snap.age_s(now), 3) if snap else None
    body["stale"] = snap.is_stale(interval_s, now) if snap else True
    return body


def _parse_since(raw: str | None) -> float | None:
    if raw is None or raw == "":
        return None
    try:
        return float(raw)
    except ValueError:
        pass
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise HTTPException(400, "since: epoch seconds or an ISO-8601 time") from None


@router.get("/analytics/timeseries")
async def timeseries(
    redis: Redis,
    metric: Annotated[str, Query(min_length=1, max_length=80)],
    granularity: Literal["minute", "hour", "day"] = "minute",
    since: str | None = None,
) -> dict[str, Any]:
    """Points `{t: bucket start (epoch s), v: value}` of one metric since `since` (one GET).

    The precomputed window holds ANALYTICS_SERIES_POINTS buckets per granularity; older
    history is in SQL (`analytics_buckets`). The last point is the current, still open bucket.
    """
    since_s = _parse_since(since)
    snap = await read_snapshot(redis, series_snapshot(granularity))
    metrics: dict[str, list[Any]] = snap.data["metrics"] if snap else {}
    if metric not in metrics and metric not in BASE_METRICS:
        known = sorted(set(metrics) | set(BASE_METRICS))
        raise HTTPException(400, f"unknown metric {metric!r}; known: {', '.join(known)}")
    starts: list[int] = snap.data["starts"] if snap else []
    values = metrics.get(metric, [None] * len(starts))
    points = [
        {"t": t, "v": v}
        for t, v in zip(starts, values, strict=True)
        if since_s is None or t >= since_s
    ]
    return {
        "metric": metric,
        "granularity": granularity,
        "since": since_s,
        "generated_at": snap.generated_at if snap else None,
        "points": points,
    }


@functools.cache
def _dashboard_html() -> str:
    return (STATIC / "dashboard.html").read_text(encoding="utf-8")


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard() -> HTMLResponse:
    """The self-refreshing dashboard (inline JS and CSS, no CDN); it polls the two endpoints."""
    return HTMLResponse(_dashboard_html())
