from __future__ import annotations

import time

import pytest

from shared import health, keys, snapshots
from shared.settings import get_settings


def _probe(r, **overrides):  # type: ignore[no-untyped-def]
    kwargs = {
        "depths": lambda: {"latency": 0, "heavy": 3},
        "unacked": lambda: 1,
        "ping": lambda: ["w1@host"],
    }
    kwargs.update(overrides)
    return health.probe(r, get_settings(), **kwargs)


def test_report_has_health_json_shape(r) -> None:  # type: ignore[no-untyped-def]
    r.set(keys.beat_heartbeat(), repr(time.time()))
    report = _probe(r)
    assert report["status"] == "pass"
    check = report["checks"]["broker:queueDepth:heavy"][0]
    assert check == {
        "observedValue": 3,
        "observedUnit": "messages",
        "status": "pass",
        "time": check["time"],
    }
    for name in ("redis:memoryUtilization", "sql:responseTime", "workers:ping", "broker:unacked"):
        assert report["checks"][name][0]["status"] == "pass", name


def test_unbounded_maxmemory_is_not_a_ratio(r) -> None:  # type: ignore[no-untyped-def]
    r.config_set("maxmemory", 0)
    check = _probe(r)["checks"]["redis:memoryUtilization"][0]
    assert check["observedUnit"] == "bytes"
    assert "unbounded" in check["output"]


def test_memory_above_70_percent_warns(r) -> None:  # type: ignore[no-untyped-def]
    used = int(r.info("memory")["used_memory"])
    r.config_set("maxmemory", int(used / 0.8))
    try:
        check = _probe(r)["checks"]["redis:memoryUtilization"][0]
    finally:
        r.config_set("maxmemory", 0)
    assert check["observedUnit"] == "percent"
    assert check["status"] == "warn"


def test_no_worker_and_no_beat_fail(r) -> None:  # type: ignore[no-untyped-def]
    report = _probe(r, ping=lambda: [])
    assert report["status"] == "fail"
    assert report["checks"]["workers:ping"][0]["output"] == "no worker answered"
    assert report["checks"]["beat:heartbeatAge"][0]["status"] == "fail"


def test_broker_failure_is_a_failed_check_not_a_crash(r) -> None:  # type: ignore[no-untyped-def]
    def down() -> dict[str, int]:
        raise ConnectionError("broker down")

    report = _probe(r, depths=down)
    assert report["checks"]["broker:queueDepth"][0]["status"] == "fail"


def test_redis_down_is_reported(settings_env: pytest.MonkeyPatch) -> None:
    from shared.redis_client import get_redis  # noqa: PLC0415
    from shared.settings import reset_settings  # noqa: PLC0415

    settings_env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    settings_env.setenv("REDIS_RETRIES", "0")
    reset_settings()
    report = _probe(get_redis())
    assert report["status"] == "fail"
    assert report["checks"]["redis:responseTime"][0]["status"] == "fail"


def test_snapshot_roundtrip_with_age(r) -> None:  # type: ignore[no-untyped-def]
    health.write_snapshot(r, {"status": "pass", "checks": {}}, get_settings())
    snap = snapshots.read(r, "health")
    assert snap is not None
    assert snap.data["status"] == "pass"
    assert snap.age_s() < 60
    assert snap.is_stale(interval_s=1, now=snap.generated_at + 2.5)
    assert r.ttl(keys.snapshot("health")) > 0
