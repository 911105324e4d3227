"""POST /chat through the response cache: X-Cache hit | miss | stale, scopes, counters."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson
import pytest
import redis
from fastapi.testclient import TestClient

from shared import keys
from shared.cache.entry import CacheKey
from shared.cache.store import read_stats, store_reply
from shared.responder import Reply
from shared.settings import get_settings
from tests.web.conftest import drain


def test_second_equivalent_question_is_a_hit(client: TestClient, r: redis.Redis) -> None:
    first = client.post("/chat", json={"message": "What is   Redis?"})
    second = client.post("/chat", json={"message": "what is redis"})
    assert first.status_code == second.status_code == 200
    assert first.headers["X-Cache"] == "miss"
    assert second.headers["X-Cache"] == "hit"
    assert first.json()["reply"] == second.json()["reply"]
    drain(client)  # the hit's counters and the events leave through the write-behind buffer
    assert read_stats(r) == {"miss": 1, "hit:live": 1}
    events = [orjson.loads(fields[b"e"]) for _, fields in r.xrange(keys.events_stream())]
    assert [e["hit"] for e in events] == [False, True]  # analytics sees how each was served


def test_stale_answer_is_served_and_one_refresh_is_enqueued(
    client: TestClient, r: redis.Redis
) -> None:
    cs = get_settings().cache
    key = CacheKey.build("old question", "demo", template_version=cs.template_version)
    store_reply(r, key, Reply("yesterday's answer", 1, 1), source="warmup",
                now=time.time() - 2 * cs.ttl_s, settings=cs)  # fmt: skip
    answers = [client.post("/chat", json={"message": "Old question!"}) for _ in range(3)]
    assert [a.headers["X-Cache"] for a in answers] == ["stale"] * 3
    assert {a.json()["reply"] for a in answers} == {"yesterday's answer"}
    assert r.exists(keys.cache_flight("refresh", key.entry))
    broker = redis.Redis.from_url(get_settings().broker_url)
    try:
        queued = broker.lrange("latency", 0, -1) + broker.lrange("heavy", 0, -1)
    finally:
        broker.close()
    assert sum(b'"cache.refresh"' in m for m in queued) == 1


def test_user_scope_keeps_users_apart(
    client: TestClient, token: Callable[..., str], settings_env: pytest.MonkeyPatch
) -> None:
    from shared.settings import reset_settings  # noqa: PLC0415

    settings_env.setenv("CACHE_CHAT_SCOPE", "user")
    reset_settings()

    def ask(who: str) -> str:
        headers = {"Authorization": f"Bearer {token(sub=who)}"}
        return client.post("/chat", json={"message": "my plan?"}, headers=headers).headers[
            "X-Cache"
        ]

    assert [ask("alice"), ask("alice"), ask("bob"), ask("bob")] == ["miss", "hit", "miss", "hit"]


def test_cache_off_always_misses(client: TestClient, settings_env: pytest.MonkeyPatch) -> None:
    from shared.settings import reset_settings  # noqa: PLC0415

    settings_env.setenv("CACHE_ENABLED", "false")
    reset_settings()
    statuses = [client.post("/chat", json={"message": "hi"}).headers["X-Cache"] for _ in range(2)]
    assert statuses == ["miss", "miss"]


def test_cache_fails_open_when_redis_is_down(settings_env: pytest.MonkeyPatch) -> None:
    from embedded_redis import free_port  # noqa: PLC0415
    from shared.settings import reset_settings  # noqa: PLC0415
    from web.app import create_app  # noqa: PLC0415

    settings_env.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    settings_env.setenv("REDIS_CONNECT_TIMEOUT", "0.2")
    settings_env.setenv("REDIS_RETRIES", "0")
    settings_env.setenv("RATE_LIMIT_FAIL_MODE", "open")
    settings_env.setenv("TOKEN_LIMIT_FAIL_MODE", "open")
    reset_settings()
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        response = client.post("/chat", json={"message": "still there?"})
    assert response.status_code == 200, response.text
    assert response.headers["X-Cache"] == "miss"
    assert "still there" in response.json()["reply"]
