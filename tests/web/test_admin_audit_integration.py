"""Guard rejections, session-limit hits and admin actions leave audit events."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from shared import audit, keys
from shared.settings import reset_settings
from tests.web.conftest import drain

Token = Callable[..., str]


def _events(r: Any) -> list[audit.Event]:
    return [audit.parse_entry(sid, f) for sid, f in r.xrange(keys.audit_stream())]


@pytest.fixture
def app(settings_env: pytest.MonkeyPatch) -> Iterator[TestClient]:
    for name, value in {
        "RATE_LIMIT_REQUESTS": "1",
        "TOKEN_LIMIT_PER_MINUTE": "0",
        "MAX_CONCURRENT_SESSIONS": "1",
        "GUARD_REDIS_TIMEOUT": "5",
    }.items():
        settings_env.setenv(name, value)
    reset_settings()
    from web.app import create_app  # noqa: PLC0415

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def test_rate_limited_chat_is_audited_and_admitted_chat_is_not(
    app: TestClient, r: Any, token: Token
) -> None:
    headers = {"Authorization": f"Bearer {token('alice')}", "X-Request-ID": "req-42"}
    assert app.post("/chat", json={"message": "hi"}, headers=headers).status_code == 200
    assert _events(r) == []
    refused = app.post("/chat", json={"message": "hi"}, headers=headers)
    assert refused.status_code == 429
    drain(app)  # refusal audits leave through the write-behind buffer
    [event] = _events(r)
    assert (event.event_type, event.actor, event.result) == (
        "guard.rejected",
        "user:alice",
        "refused",
    )
    assert event.correlation_id == "req-42"
    assert event.ip
    assert '"status":429' in event.details_json


def test_session_limit_hit_is_audited(app: TestClient, r: Any, token: Token) -> None:
    headers = {"Authorization": f"Bearer {token('bob')}"}
    assert app.post("/sessions", headers=headers).status_code == 201
    assert app.post("/sessions", headers=headers).status_code == 429
    drain(app)
    [event] = _events(r)
    assert (event.event_type, event.actor, event.result) == ("session.limit", "user:bob", "refused")


def test_cache_invalidation_by_an_admin_is_audited(app: TestClient, r: Any, token: Token) -> None:
    admin = {"Authorization": f"Bearer {token('root', role='admin')}"}
    accepted = app.post("/admin/cache/invalidate", json={"tag": "faq"}, headers=admin)
    assert accepted.status_code == 202  # the broker is the test's own Redis: it is up
    refused = app.post("/admin/cache/invalidate", json={"tag": "a", "user_id": "b"}, headers=admin)
    assert refused.status_code == 400
    events = _events(r)
    assert [e.event_type for e in events] == ["admin.cache_invalidate"] * 2
    assert events[0].actor == "user:root"
    assert events[0].result == "accepted"
    assert '"tag":"faq"' in events[0].details_json
    assert f'"task_id":"{accepted.json()["task_id"]}"' in events[0].details_json
    assert events[1].result == "refused"


def test_cache_invalidation_with_the_broker_down_is_audited_as_failed(
    app: TestClient,
    r: Any,
    token: Token,
    settings_env: pytest.MonkeyPatch,
    reconfigure_app: Callable[[], dict[str, Any]],
) -> None:
    with socket.socket() as closed:  # a port nobody listens on once this socket is closed
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    settings_env.setenv("BROKER_URL", f"redis://127.0.0.1:{port}/1")
    settings_env.setenv("CELERY_PUBLISH_TIMEOUT", "2")
    reset_settings()
    reconfigure_app()
    admin = {"Authorization": f"Bearer {token('root', role='admin')}"}
    failed = app.post("/admin/cache/invalidate", json={"tag": "faq"}, headers=admin)
    assert failed.status_code == 503
    [event] = _events(r)
    assert (event.event_type, event.actor, event.result) == (
        "admin.cache_invalidate",
        "user:root",
        "failed",
    )
    assert '"status":503' in event.details_json


def test_a_flood_of_refusals_is_audited_once_per_episode(
    app: TestClient, r: Any, token: Token
) -> None:
    import asyncio  # noqa: PLC0415

    from shared.redis_client import build_async_client  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415
    from web import audit_log  # noqa: PLC0415
    from web.auth import Principal  # noqa: PLC0415

    headers = {"Authorization": f"Bearer {token('mallory')}"}
    assert app.post("/chat", json={"message": "hi"}, headers=headers).status_code == 200
    codes = [
        app.post("/chat", json={"message": "hi"}, headers=headers).status_code for _ in range(6)
    ]
    assert codes == [429] * 6
    drain(app)
    assert len(_events(r)) == 1  # the episode's first refusal; five folded into it
    r.delete(keys.audit_refusal_episode("guard.rejected", "user:mallory"))  # the episode ends

    async def after_the_episode() -> str | None:
        client = build_async_client(get_settings().conn)
        try:
            from starlette.requests import Request  # noqa: PLC0415

            scope = {"type": "http", "method": "POST", "path": "/chat", "headers": []}
            who = Principal("mallory", None, "testclient")
            return await audit_log.record_refusal(
                client, Request(scope), who, "guard.rejected", {}, retry_after_s=1
            )
        finally:
            await client.aclose()

    assert asyncio.run(after_the_episode()) is not None
    events = _events(r)
    assert len(events) == 2
    assert '"suppressed_since_last":5' in events[-1].details_json
