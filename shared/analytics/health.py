"""Health check of the analytics domain: how far the rollup lags behind its streams."""

from __future__ import annotations

from redis.exceptions import ResponseError

from shared import keys
from shared.analytics.rollup import GROUP
from shared.health import FAIL, PASS, WARN, Check
from shared.redis_client import RedisClient
from shared.settings import Settings


def stream_lag(client: RedisClient, stream: str) -> tuple[int, int]:
    """(entries not yet delivered, entries delivered but not acked) of the rollup group."""
    try:
        groups = client.xinfo_groups(stream)  # type: ignore[no-untyped-call]
    except ResponseError:  # no stream yet: nothing to lag behind
        return 0, 0
    for group in groups:
        name = group["name"]
        if (name.decode() if isinstance(name, bytes) else name) == GROUP:
            lag = group.get("lag")
            if lag is None:  # Redis cannot tell after some trims: count the whole stream
                lag = client.xlen(stream)
            return int(lag), int(group["pending"])
    return int(client.xlen(stream)), 0


def check(client: RedisClient, settings: Settings, now: float) -> list[Check]:  # noqa: ARG001
    """`analytics:streamLag` (undelivered + pending entries): warn, then fail at 10x the limit."""
    lag, pending = stream_lag(client, keys.events_stream())
    behind = lag + pending
    limit = settings.analytics.lag_warn
    status = FAIL if behind >= 10 * limit else WARN if behind >= limit else PASS
    return [
        Check(
            "analytics:streamLag",
            behind,
            "entries",
            status,
            f"{lag} undelivered, {pending} pending acknowledgement",
        )
    ]
