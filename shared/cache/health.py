"""The cache's health check: the app-level hit rate from our own counters (`P cache:stats`).

Unlike Redis' keyspace hit rate, which mixes every client and key, this counts only answer
lookups: (hits + stale) / (hits + stale + misses), every source together.
"""

from __future__ import annotations

from shared.cache.store import hit_rate, read_stats
from shared.health import FAIL, PASS, WARN, Check
from shared.redis_client import RedisClient
from shared.settings import Settings

MIN_LOOKUPS = 100


def check(client: RedisClient, settings: Settings, now: float) -> list[Check]:
    """`cache:hitRate`: warns below CACHE_HIT_RATE_TARGET once there are MIN_LOOKUPS lookups."""
    del now  # the counters are cumulative; the check needs no clock
    try:
        stats = read_stats(client)
    except Exception as exc:  # a broken counter must not break the whole probe
        return [Check("cache:hitRate", None, "ratio", FAIL, f"{type(exc).__name__}: {exc}")]
    rate, lookups = hit_rate(stats)
    if rate is None or lookups < MIN_LOOKUPS:
        return [Check("cache:hitRate", rate, "ratio", PASS, f"{lookups} lookups so far")]
    status = PASS if rate >= settings.cache.hit_rate_target else WARN
    detail = ", ".join(f"{k}={v}" for k, v in sorted(stats.items()))
    return [Check("cache:hitRate", round(rate, 4), "ratio", status, detail)]
