"""POST /admin/cache/invalidate with REGION_BROKERS: fan-out, pending regions, the outbox task."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from embedded_redis import free_port
from shared import keys
from shared.settings import reset_settings

B_DB = 5  # region b's "broker": another database of the test server


def _admin(token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub='root', role='admin')}"}


def _configure(settings_env: pytest.MonkeyPatch, base: str, b_url: str) -> None:
    brokers = {"a": f"{base}/1", "b": b_url}
    settings_env.setenv("REGION", "a")
    settings_env.setenv("REGION_BROKERS", json.dumps(brokers))
    settings_env.setenv("REDIS_CONNECT_TIMEOUT", "1")
    settings_env.setenv("CELERY_PUBLISH_TIMEOUT", "1")
    reset_settings()


def _queued(base: str) -> list[dict[str, Any]]:
    """The cache.invalidate messages waiting in region b's broker (kombu's list per queue)."""
    b = redis.Redis.from_url(f"{base}/{B_DB}")
    try:
        raw = b.lrange("latency", 0, -1)
    finally:
        b.close()
    messages = [orjson.loads(m) for m in raw]
    return [m for m in messages if m["headers"]["task"] == "cache.invalidate"]


def test_single_region_answers_its_own_region_as_sent(
    client: TestClient, token: Callable[..., str], r: redis.Redis
) -> None:
    response = client.post("/admin/cache/invalidate", json={"tag": "x"}, headers=_admin(token))
    assert response.status_code == 202
    body = response.json()
    assert body["regions"] == {"local": {"state": "sent", "task_id": body["task_id"]}}
    assert r.exists(keys.cache_outbox()) == 0


def test_a_live_region_is_sent_and_receives_the_message(
    settings_env: pytest.MonkeyPatch, redis_base_url: str, token: Callable[..., str]
) -> None:
    _configure(settings_env, redis_base_url, f"{redis_base_url}/{B_DB}")
    from web.app import create_app  # noqa: PLC0415

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        response = client.post(
            "/admin/cache/invalidate", json={"tag": "model:m1"}, headers=_admin(token)
        )
    assert response.status_code == 202, response.text
    regions = response.json()["regions"]
    assert {name: r["state"] for name, r in regions.items()} == {"a": "sent", "b": "sent"}
    [message] = _queued(redis_base_url)
    assert message["headers"]["id"] == regions["b"]["task_id"]


def test_a_dead_region_is_pending_then_delivered_by_the_outbox_task(
    settings_env: pytest.MonkeyPatch,
    redis_base_url: str,
    token: Callable[..., str],
    r: redis.Redis,
) -> None:
    _configure(settings_env, redis_base_url, f"redis://127.0.0.1:{free_port()}/1")
    from tasks.cache import deliver_outbox  # noqa: PLC0415
    from web.app import create_app  # noqa: PLC0415

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        response = client.post(
            "/admin/cache/invalidate", json={"user_id": "alice"}, headers=_admin(token)
        )
    assert response.status_code == 202, response.text
    body = response.json()
    assert body["regions"]["a"] == {"state": "sent", "task_id": body["task_id"]}
    assert body["regions"]["b"] == {"state": "pending", "task_id": None}
    [(field, raw)] = r.hgetall(keys.cache_outbox()).items()
    assert field.startswith(b"b|")
    assert orjson.loads(raw)["kwargs"] == {"user_id": "alice"}
    # The audit event carries the per-region outcome.
    [(_, event)] = r.xrange(keys.audit_stream())
    details = orjson.loads(event[b"details"])
    assert details["regions"] == {"a": "sent", "b": "pending"}

    assert deliver_outbox()["failed"] == 1  # still down: kept
    assert r.hlen(keys.cache_outbox()) == 1

    _configure(settings_env, redis_base_url, f"{redis_base_url}/{B_DB}")  # b's broker is back
    assert deliver_outbox()["delivered"] == 1
    assert r.exists(keys.cache_outbox()) == 0
    [message] = _queued(redis_base_url)
    assert "alice" in message["headers"]["kwargsrepr"]
    assert deliver_outbox()["delivered"] == 0
    assert len(_queued(redis_base_url)) == 1
