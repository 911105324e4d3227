"""Thresholds of the health probe."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import setting


@dataclass(frozen=True)
class HealthSettings:
    memory_warn_ratio: float = setting(
        "HEALTH_MEMORY_WARN_RATIO",
        0.70,
        "used_memory / maxmemory above this warns.",
        minimum=0,
        maximum=1,
    )
    memory_fail_ratio: float = setting(
        "HEALTH_MEMORY_FAIL_RATIO",
        0.90,
        "used_memory / maxmemory above this fails.",
        minimum=0,
        maximum=1,
    )
    queue_warn_depth: int = setting(
        "HEALTH_QUEUE_WARN_DEPTH", 1000, "Broker queue depth above this warns.", minimum=1
    )
    sql_warn_ms: float = setting(
        "HEALTH_SQL_WARN_MS",
        200.0,
        "SQL `SELECT 1` slower than this warns.",
        unit="ms",
        minimum=0,
    )
    ping_timeout_s: float = setting(
        "HEALTH_PING_TIMEOUT",
        1.0,
        "How long the probe waits for workers to answer a ping.",
        unit="s",
        minimum=0.1,
    )
    beat_stale_s: float = setting(
        "HEALTH_BEAT_STALE", 60.0, "Beat heartbeat older than this fails.", unit="s", minimum=1
    )
