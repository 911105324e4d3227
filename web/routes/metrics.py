"""GET /metrics: Prometheus text, one MGET of the snapshots per scrape."""

from __future__ import annotations

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from redis.exceptions import RedisError

from web.deps import Redis
from web.metrics import SNAPSHOT_METRICS, SnapshotCollector, counters
from web.snapshot_cache import read_snapshots

router = APIRouter(tags=["metrics"])


@router.get("/metrics")
async def metrics(redis: Redis) -> Response:
    names = list(SNAPSHOT_METRICS)
    try:
        found = await read_snapshots(redis, names)
    except RedisError:
        found = dict.fromkeys(names)  # the counters are still worth scraping
    scrape = CollectorRegistry()
    scrape.register(SnapshotCollector(found))
    body = counters() + generate_latest(scrape)
    return Response(body, media_type=CONTENT_TYPE_LATEST)
