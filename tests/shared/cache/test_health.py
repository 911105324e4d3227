"""The cache:hitRate health check from the app-level counters."""

from __future__ import annotations

import redis

from shared import keys
from shared.cache import health as cache_health
from shared.settings import get_settings


def _check(r: redis.Redis, **counts: int) -> tuple[object, str]:
    r.delete(keys.cache_stats())
    if counts:
        r.hset(keys.cache_stats(), mapping={k.replace("_", ":"): v for k, v in counts.items()})
    (check,) = cache_health.check(r, get_settings(), 0.0)
    assert check.key == "cache:hitRate"
    return check.value, check.status


def test_hit_rate_grades_against_the_target(r: redis.Redis) -> None:
    assert _check(r) == (None, "pass")
    assert _check(r, hit_live=5, miss=5) == (0.5, "pass")  # too few lookups to judge
    assert _check(r, hit_live=50, hit_warmup=20, miss=30) == (0.7, "warn")
    assert _check(r, hit_warmup=80, stale_live=5, miss=15) == (0.85, "pass")


def test_the_probe_runs_the_check() -> None:
    from tasks.health import DOMAIN_CHECKS  # noqa: PLC0415

    assert cache_health.check in DOMAIN_CHECKS
