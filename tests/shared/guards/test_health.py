"""The sessions health check: gauge value, never-swept and stale sweeps."""

from __future__ import annotations

import time

import redis

from shared.guards import health as guards_health
from shared.guards import sessions
from shared.settings import get_settings


def test_no_sweep_yet_passes_without_a_value(r: redis.Redis) -> None:
    (check,) = guards_health.check(r, get_settings(), time.time())
    assert check.status == "pass"
    assert check.value is None


def test_fresh_sweep_passes_with_the_gauge_and_stale_warns(r: redis.Redis) -> None:
    sessions.acquire(r, "u.a", "s1", sessions.SessionLimits(5, 60.0))
    sessions.write_snapshot(r, sessions.sweep(r), ttl_s=600)
    now = time.time()
    (fresh,) = guards_health.check(r, get_settings(), now)
    assert (fresh.status, fresh.value) == ("pass", 1)
    interval = get_settings().schedule.sessions_sweep_interval_s
    (stale,) = guards_health.check(r, get_settings(), now + 3 * interval)
    assert stale.status == "warn"
    assert "stale" in (stale.output or "")
