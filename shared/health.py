"""The health probe: measure every dependency, grade it, and build one health+json snapshot.

The shape follows draft-inadarei-api-health-check (`application/health+json`): a top-level
`status` of pass|warn|fail and `checks` keyed `"component:measurement"`, each a list of
observations with `observedValue`, `observedUnit`, `status` and `time`. The probe itself needs
no Celery: the worker passes in what only it can measure (broker depths, worker ping).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from redis.exceptions import RedisError
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from shared import keys, snapshots
from shared.db import get_engine
from shared.redis_client import RedisClient
from shared.settings import Settings

PASS, WARN, FAIL = "pass", "warn", "fail"
_RANK = {PASS: 0, WARN: 1, FAIL: 2}
SNAPSHOT_NAME = "health"


@dataclass(frozen=True)
class Check:
    key: str
    value: Any
    unit: str
    status: str
    output: str | None = None

    def render(self, at: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "observedValue": self.value,
            "observedUnit": self.unit,
            "status": self.status,
            "time": at,
        }
        if self.output:
            body["output"] = self.output
        return body


def worst(statuses: list[str]) -> str:
    return max(statuses, key=_RANK.__getitem__, default=PASS)


def _grade(value: float, warn: float, fail: float | None = None) -> str:
    if fail is not None and value >= fail:
        return FAIL
    return WARN if value >= warn else PASS


def _merge_info(info: dict[str, Any]) -> dict[str, Any]:
    """A cluster answers INFO per node; sum the counters and keep the worst memory ratio."""
    if "used_memory" in info:
        return info
    nodes = list(info.values())
    merged = {
        k: sum(float(n.get(k, 0)) for n in nodes)
        for k in (
            "connected_clients",
            "evicted_keys",
            "instantaneous_ops_per_sec",
            "keyspace_hits",
            "keyspace_misses",
            "used_memory",
        )
    }
    ratios = [n["used_memory"] / n["maxmemory"] for n in nodes if float(n.get("maxmemory", 0)) > 0]
    merged["maxmemory"] = sum(float(n.get("maxmemory", 0)) for n in nodes)
    merged["mem_fragmentation_ratio"] = max(float(n["mem_fragmentation_ratio"]) for n in nodes)
    merged["_worst_memory_ratio"] = max(ratios) if ratios else 0.0
    return merged


def check_redis(client: RedisClient, settings: Settings) -> list[Check]:
    """Memory against maxmemory (0 means unbounded), fragmentation, clients, evictions, ops/s."""
    try:
        info = _merge_info(dict(client.info()))
    except RedisError as exc:
        return [Check("redis:responseTime", None, "ms", FAIL, f"{type(exc).__name__}: {exc}")]
    hs = settings.health
    checks = []
    maxmemory = float(info.get("maxmemory", 0))
    used = float(info["used_memory"])
    if maxmemory > 0:
        ratio = info.get("_worst_memory_ratio") or used / maxmemory
        status = _grade(ratio, hs.memory_warn_ratio, hs.memory_fail_ratio)
        checks.append(Check("redis:memoryUtilization", round(ratio * 100, 2), "percent", status))
    else:
        checks.append(
            Check("redis:memoryUtilization", int(used), "bytes", PASS, "maxmemory is 0 (unbounded)")
        )
    hits, misses = float(info.get("keyspace_hits", 0)), float(info.get("keyspace_misses", 0))
    hit_rate = round(hits / (hits + misses), 4) if hits + misses else None
    checks += [
        Check("redis:fragmentation", float(info["mem_fragmentation_ratio"]), "ratio", PASS),
        Check("redis:connectedClients", int(info["connected_clients"]), "clients", PASS),
        Check("redis:evictedKeys", int(info["evicted_keys"]), "keys", PASS),
        Check("redis:opsPerSecond", int(info["instantaneous_ops_per_sec"]), "ops/s", PASS),
        Check(
            "redis:serverKeyspaceHitRate",
            hit_rate,
            "ratio",
            PASS,
            "server-wide keyspace hits/(hits+misses), every client and key",
        ),
    ]
    return checks


def check_sql(settings: Settings) -> Check:
    """Latency of `SELECT 1` on DATABASE_URL."""
    started = time.perf_counter()
    try:
        with get_engine().connect() as conn:
            conn.execute(text("SELECT 1"))
    except SQLAlchemyError as exc:
        return Check("sql:responseTime", None, "ms", FAIL, type(exc).__name__)
    ms = round((time.perf_counter() - started) * 1000, 3)
    return Check("sql:responseTime", ms, "ms", _grade(ms, settings.health.sql_warn_ms))


def check_beat(client: RedisClient, settings: Settings, now: float) -> Check:
    """Age of the beat scheduler's heartbeat."""
    try:
        raw = client.get(keys.beat_heartbeat())
    except RedisError as exc:
        return Check("beat:heartbeatAge", None, "s", FAIL, type(exc).__name__)
    if raw is None:
        return Check("beat:heartbeatAge", None, "s", FAIL, "no heartbeat: is beat running?")
    age = round(max(0.0, now - float(raw)), 3)
    return Check(
        "beat:heartbeatAge",
        age,
        "s",
        _grade(age, settings.health.beat_stale_s / 2, settings.health.beat_stale_s),
    )


def check_broker(
    depths: Callable[[], dict[str, int]], unacked: Callable[[], int | None], settings: Settings
) -> list[Check]:
    """Depth of every queue (priority sub-queues included) and the unacked count."""
    try:
        by_queue = depths()
        pending = unacked()
    except Exception as exc:
        return [Check("broker:queueDepth", None, "messages", FAIL, type(exc).__name__)]
    warn_at = settings.health.queue_warn_depth
    checks = [
        Check(f"broker:queueDepth:{q}", n, "messages", _grade(n, warn_at))
        for q, n in sorted(by_queue.items())
    ]
    if pending is not None:
        checks.append(Check("broker:unacked", pending, "messages", PASS))
    return checks


def check_workers(ping: Callable[[], list[str]]) -> Check:
    """Which workers answered a ping within the timeout; none is a failure."""
    try:
        names = sorted(ping())
    except Exception as exc:
        return Check("workers:ping", 0, "workers", FAIL, type(exc).__name__)
    if not names:
        return Check("workers:ping", 0, "workers", FAIL, "no worker answered")
    return Check("workers:ping", len(names), "workers", PASS, ", ".join(names))


def build_report(checks: list[Check], now: float) -> dict[str, Any]:
    """The health+json document for `checks` observed at `now`."""
    at = datetime.fromtimestamp(now, UTC).isoformat()
    grouped: dict[str, list[dict[str, Any]]] = {}
    for check in checks:
        grouped.setdefault(check.key, []).append(check.render(at))
    return {
        "status": worst([c.status for c in checks]),
        "description": "chatbot worker suite",
        "checks": grouped,
    }


# A check owned by a feature domain (stream lag, audit verification, cache hit rate); the
# worker passes the list in (tasks/health.py), so this module imports no domain code.
DomainCheck = Callable[[RedisClient, Settings, float], list[Check]]


def probe(
    client: RedisClient,
    settings: Settings,
    *,
    depths: Callable[[], dict[str, int]],
    unacked: Callable[[], int | None],
    ping: Callable[[], list[str]],
    domain_checks: tuple[DomainCheck, ...] = (),
    now: float | None = None,
) -> dict[str, Any]:
    """Run every check and return the health+json report (no Redis writes)."""
    now = time.time() if now is None else now
    checks = check_redis(client, settings)
    checks.append(check_sql(settings))
    checks.append(check_beat(client, settings, now))
    checks += check_broker(depths, unacked, settings)
    checks.append(check_workers(ping))
    for domain_check in domain_checks:
        try:
            checks += domain_check(client, settings, now)
        except RedisError as exc:
            checks.append(Check(f"{domain_check.__module__}:error", None, "", FAIL, str(exc)))
    return build_report(checks, now)


def write_snapshot(client: RedisClient, report: dict[str, Any], settings: Settings) -> None:
    """Store the report as the `health` snapshot, kept for ten probe intervals."""
    ttl_s = 10 * settings.schedule.health_probe_interval_s
    with client.pipeline(transaction=False) as pipe:
        snapshots.queue_write(pipe, SNAPSHOT_NAME, report, ttl_s=ttl_s)
        pipe.execute()
