"""Decayed popularity of normalised queries: the ZSET `keys.popularity()` that cache warmup reads.

Member = `query_hash(normalize_query(message))`; score = sum over its events of
`0.5 ** (age_s / ANALYTICS_POPULARITY_HALF_LIFE)`. The rollup first decays the whole ZSET to
"now" (one Lua script, idempotent in time), then adds each batch's weights with ZINCRBY inside
the batch's MULTI/EXEC.
"""

from __future__ import annotations

from shared import keys
from shared.lua import script
from shared.redis_client import RedisClient, zset_scored
from shared.settings.analytics import AnalyticsSettings


def decay(client: RedisClient, settings: AnalyticsSettings, now_us: int | None = None) -> float:
    """Decay every score to `now` and trim to ANALYTICS_POPULARITY_MAX; returns the factor."""
    factor = script(client, "analytics_popularity_decay")(
        keys=[keys.popularity(), keys.popularity_decayed_at()],
        args=[settings.popularity_half_life_s, settings.popularity_max, now_us or ""],
    )
    return float(factor)


def top(client: RedisClient, n: int) -> list[tuple[str, float]]:
    """The `n` most popular query hashes with their scores, most popular first (one ZREVRANGE)."""
    rows = zset_scored(client.zrevrange(keys.popularity(), 0, n - 1, withscores=True))
    return [(member.decode(), float(score)) for member, score in rows]
