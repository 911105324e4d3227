"""The guards domain's health check: the active-sessions gauge and the sweep's freshness."""

from __future__ import annotations

from redis.exceptions import RedisError

from shared import snapshots
from shared.guards.sessions import SNAPSHOT_NAME
from shared.health import FAIL, PASS, WARN, Check
from shared.redis_client import RedisClient
from shared.settings import Settings


def check(client: RedisClient, settings: Settings, now: float) -> list[Check]:
    """Live sessions at the last `sessions.sweep`; warn when the sweep is stale.

    A stale sweep is only a warning: limits stay exact without it (every script drops the
    expired members it meets); only the gauge and idle users' memory depend on it.
    """
    key = "sessions:activeSessions"
    try:
        snap = snapshots.read(client, SNAPSHOT_NAME)
    except RedisError as exc:
        return [Check(key, None, "sessions", FAIL, type(exc).__name__)]
    sched = settings.schedule
    if snap is None:
        # A fresh deployment has not swept yet; the snapshot's TTL (10 intervals) also ends a
        # long-dead sweep here, which the stale warning has reported before.
        return [Check(key, None, "sessions", PASS, "no sessions.sweep snapshot yet")]
    stale = snap.is_stale(sched.sessions_sweep_interval_s, now)
    output = f"swept {snap.age_s(now):.0f} s ago" + (" (stale)" if stale else "")
    return [
        Check(key, int(snap.data.get("active", 0)), "sessions", WARN if stale else PASS, output)
    ]
