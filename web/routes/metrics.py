"""GET /metrics: Prometheus text, one MGET of the snapshots per scrape."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis.exceptions import RedisError

from shared import keys, snapshots
from web.deps import Redis
from web.metrics import REGISTRY, SNAPSHOT_METRICS, SnapshotCollector

router = APIRouter(tags=["metrics"])


@router.get("/metrics")
async def metrics(redis: Redis) -> Response:
    names = list(SNAPSHOT_METRICS)
    try:
        raws = await redis.mget([keys.snapshot(n) for n in names])
    except RedisError:
        raws = [None] * len(names)  # the counters are still worth scraping
    scrape = CollectorRegistry()
    scrape.register(
        SnapshotCollector({n: snapshots.parse(r) for n, r in zip(names, raws, strict=True)})
    )
    body = generate_latest(REGISTRY) + generate_latest(scrape)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
