"""POST /admin/cache/invalidate and GET /admin/tasks/{task_id}."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from shared import keys
from shared.cache.entry import CacheKey
from shared.cache.store import store_reply
from shared.responder import Reply
from shared.settings import get_settings


def _admin(token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub='root', role='admin')}"}


def _poll(client: TestClient, task_id: str, headers: dict[str, str]) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    body: dict[str, Any] = {}
    while time.monotonic() < deadline:
        body = client.get(f"/admin/tasks/{task_id}", headers=headers).json()
        if body["state"] in ("SUCCESS", "FAILURE"):
            break
        time.sleep(0.05)
    return body


def test_requires_an_admin_token(client: TestClient, token: Callable[..., str]) -> None:
    body = {"user_id": "alice"}
    assert client.post("/admin/cache/invalidate", json=body).status_code == 401
    user = {"Authorization": f"Bearer {token(sub='alice')}"}
    assert client.post("/admin/cache/invalidate", json=body, headers=user).status_code == 403
    assert client.get("/admin/tasks/abc", headers=user).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"pattern": "*"},
        {"pattern": "other:*"},
        {"pattern": "t:*"},
        {"pattern": "t:cache:*"},
        {"user_id": "a", "tag": "b"},
        {},
    ],
)
def test_refuses_bad_requests(client: TestClient, token: Callable[..., str], body: Any) -> None:
    response = client.post("/admin/cache/invalidate", json=body, headers=_admin(token))
    assert response.status_code == 400, response.text


def test_invalidates_a_hostile_user_and_reports_counts(
    client: TestClient, token: Callable[..., str], r: redis.Redis, worker: Any
) -> None:
    cs = get_settings().cache
    for user in ("a*", "ab", "abc"):
        key = CacheKey.build("q", "demo", template_version="v1", user_id=user)
        store_reply(r, key, Reply("x", 1, 1), source="live", now=time.time(), settings=cs)
    headers = _admin(token)
    response = client.post("/admin/cache/invalidate", json={"user_id": "a*"}, headers=headers)
    assert response.status_code == 202
    body = _poll(client, response.json()["task_id"], headers)
    assert body["state"] == "SUCCESS", body
    assert body["result"]["unlinked"] == 1
    survivors = {k.decode() for k in r.scan_iter(match=keys.cache_entries_prefix() + "*")}
    assert len(survivors) == 2


def test_pattern_job_and_unknown_task(
    client: TestClient, token: Callable[..., str], worker: Any
) -> None:
    headers = _admin(token)
    pattern = {"pattern": keys.cache_namespace() + "r:g:*"}
    response = client.post("/admin/cache/invalidate", json=pattern, headers=headers)
    assert response.status_code == 202
    body = _poll(client, response.json()["task_id"], headers)
    assert body["state"] == "SUCCESS"
    assert body["result"]["kind"] == "pattern"
    unknown = client.get("/admin/tasks/no-such-task", headers=headers).json()
    assert unknown["state"] == "PENDING"
    assert unknown["result"] is None


def test_broker_down_is_503(
    token: Callable[..., str],
    settings_env: pytest.MonkeyPatch,
    reconfigure_app: Callable[[], dict[str, Any]],
) -> None:
    from embedded_redis import free_port  # noqa: PLC0415
    from shared.settings import reset_settings  # noqa: PLC0415
    from web.app import create_app  # noqa: PLC0415

    settings_env.setenv("BROKER_URL", f"redis://127.0.0.1:{free_port()}/1")
    settings_env.setenv("REDIS_CONNECT_TIMEOUT", "1")
    settings_env.setenv("CELERY_PUBLISH_TIMEOUT", "1")
    reset_settings()
    reconfigure_app()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        response = client.post(
            "/admin/cache/invalidate", json={"tag": "model:demo"}, headers=_admin(token)
        )
    assert response.status_code == 503
