from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient

from shared import health, snapshots
from shared.settings import get_settings


def _store(r, status: str = "pass", now: float | None = None) -> None:  # type: ignore[no-untyped-def]
    with r.pipeline() as pipe:
        snapshots.queue_write(pipe, "health", {"status": status, "checks": {}}, ttl_s=600, now=now)
        pipe.execute()


def test_liveness_touches_nothing(client: TestClient) -> None:
    response = client.get("/health")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/health+json")


def test_advanced_is_503_until_a_snapshot_exists(client: TestClient, r) -> None:  # type: ignore[no-untyped-def]
    missing = client.get("/health/advanced")
    assert missing.status_code == 503
    assert missing.json()["status"] == "fail"
    assert "no health snapshot" in missing.json()["output"]
    _store(r)
    ok = client.get("/health/advanced")
    assert ok.status_code == 200
    assert ok.json()["status"] == "pass"
    assert 0 <= ok.json()["age_s"] < 60


def test_stale_snapshot_is_a_failure(client: TestClient, r) -> None:  # type: ignore[no-untyped-def]
    interval = get_settings().schedule.health_probe_interval_s
    _store(r, now=time.time() - 3 * interval)
    response = client.get("/health/advanced")
    assert response.status_code == 503
    assert "stale" in response.json()["output"]


def test_failing_snapshot_is_503(client: TestClient, r) -> None:  # type: ignore[no-untyped-def]
    _store(r, status="fail")
    assert client.get("/health/advanced").status_code == 503


def test_redis_down_gives_503_json_not_a_traceback(settings_env: pytest.MonkeyPatch) -> None:
    from shared.settings import reset_settings  # noqa: PLC0415
    from web.app import create_app  # noqa: PLC0415

    settings_env.setenv("REDIS_URL", "redis://127.0.0.1:1/0")
    settings_env.setenv("REDIS_RETRIES", "0")
    reset_settings()
    with TestClient(create_app(), raise_server_exceptions=False) as c:
        advanced = c.get("/health/advanced")
        ready = c.get("/health/ready")
    assert advanced.status_code == 503
    assert "redis unreachable" in advanced.json()["output"]
    assert ready.status_code == 503


def test_metrics_exposes_snapshot_gauges(client: TestClient, r) -> None:  # type: ignore[no-untyped-def]
    report = health.build_report(
        [health.Check("redis:connectedClients", 7, "clients", "pass")], time.time()
    )
    health.write_snapshot(r, report, get_settings())
    body = client.get("/metrics").text
    assert 'chatbot_health_observed_value{check="redis:connectedClients"} 7.0' in body
    assert "chatbot_health_status 0.0" in body
    assert 'chatbot_snapshot_age_seconds{name="health"}' in body


def test_unknown_route_is_a_json_error(client: TestClient) -> None:
    response = client.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"]["status"] == 404
