"""Read precomputed snapshots with a short per-process cache.

Snapshots change once per job interval (seconds to minutes) while health and dashboard endpoints
are polled by load balancers and browsers many times a second. Caching the decoded snapshot for
WEB_SNAPSHOT_CACHE_TTL (default 1 s) takes Redis off the hot path at the cost of at most that
much extra staleness; the age reported to clients is still computed per request from
`generated_at`. A TTL of 0 reads Redis on every request.

With WEB_CONCURRENCY processes each keeps its own cache, and that is correct as it stands: a
snapshot is read-only on the web side (the jobs write it), so no process can make another's
copy wrong, only older, and no copy outlives the TTL. N processes cost at most N reads per
snapshot per TTL instead of one, which is nothing next to the polling they absorb.
"""

from __future__ import annotations

import time

from shared import keys, snapshots
from shared.redis_client import AsyncRedisClient
from shared.settings import get_settings
from shared.snapshots import Snapshot

_cache: dict[str, tuple[float, Snapshot | None]] = {}


async def read_snapshots(redis: AsyncRedisClient, names: list[str]) -> dict[str, Snapshot | None]:
    """Snapshots `names`: those cached younger than the TTL from this process, the rest in one
    MGET (no round trip when every one is cached)."""
    ttl_s = get_settings().web.snapshot_cache_ttl_s
    now = time.monotonic()
    found: dict[str, Snapshot | None] = {}
    for name in names:
        hit = _cache.get(name)
        if ttl_s > 0 and hit is not None and now - hit[0] < ttl_s:
            found[name] = hit[1]
    missing = [name for name in names if name not in found]
    if missing:
        raws = await redis.mget([keys.snapshot(name) for name in missing])
        for name, raw in zip(missing, raws, strict=True):
            found[name] = snapshots.parse(raw)
            if ttl_s > 0:
                _cache[name] = (now, found[name])
    return found


async def read_snapshot(redis: AsyncRedisClient, name: str) -> Snapshot | None:
    """Snapshot `name`, from this process's cache when younger than the TTL, else one read."""
    return (await read_snapshots(redis, [name]))[name]


def clear() -> None:
    """Forget every cached snapshot (tests)."""
    _cache.clear()
