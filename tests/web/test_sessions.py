"""Session routes: open (201/429), heartbeat (200/410), close (204)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from fastapi.testclient import TestClient

from shared.settings import reset_settings

Token = Callable[..., str]


def auth(token: Token, sub: str = "alice") -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub)}"}


@pytest.fixture
def three(settings_env: pytest.MonkeyPatch) -> Iterator[TestClient]:
    settings_env.setenv("MAX_CONCURRENT_SESSIONS", "3")
    settings_env.setenv("GUARD_REDIS_TIMEOUT", "5")
    reset_settings()
    from web.app import create_app  # noqa: PLC0415

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        yield client


def test_open_returns_201_with_id_and_expiry(three: TestClient, token: Token) -> None:
    response = three.post("/sessions", headers=auth(token))
    assert response.status_code == 201
    body = response.json()
    assert len(body["session_id"]) == 32
    assert body["expires_at"].endswith("+00:00")
    assert body["renewed"] is False


def test_open_beyond_the_limit_is_429_json(three: TestClient, token: Token) -> None:
    for _ in range(3):
        assert three.post("/sessions", headers=auth(token)).status_code == 201
    response = three.post("/sessions", headers=auth(token))
    assert response.status_code == 429
    assert "3 live sessions" in response.json()["error"]["message"]
    assert int(response.headers["Retry-After"]) >= 1
    assert three.post("/sessions", headers=auth(token, "bob")).status_code == 201


def test_client_chosen_id_makes_open_idempotent(three: TestClient, token: Token) -> None:
    for _ in range(5):
        response = three.post("/sessions", headers=auth(token), json={"session_id": "tab-1"})
        assert response.status_code == 201
    assert response.json()["renewed"] is True
    assert three.post("/sessions", headers=auth(token)).status_code == 201


def test_heartbeat_and_close(three: TestClient, token: Token) -> None:
    sid = three.post("/sessions", headers=auth(token)).json()["session_id"]
    beat = three.post(f"/sessions/{sid}/heartbeat", headers=auth(token))
    assert beat.status_code == 200
    assert beat.json()["session_id"] == sid
    assert three.post(f"/sessions/{sid}/heartbeat", headers=auth(token, "bob")).status_code == 410
    assert three.delete(f"/sessions/{sid}", headers=auth(token)).status_code == 204
    assert three.delete(f"/sessions/{sid}", headers=auth(token)).status_code == 204
    lost = three.post(f"/sessions/{sid}/heartbeat", headers=auth(token))
    assert lost.status_code == 410
    assert lost.json()["error"]["status"] == 410


def test_evict_oldest_policy(settings_env: pytest.MonkeyPatch, token: Token) -> None:
    settings_env.setenv("MAX_CONCURRENT_SESSIONS", "2")
    settings_env.setenv("SESSION_LIMIT_POLICY", "evict-oldest")
    reset_settings()
    from web.app import create_app  # noqa: PLC0415

    with TestClient(create_app(), raise_server_exceptions=False) as client:
        ids = [client.post("/sessions", headers=auth(token)).json()["session_id"] for _ in range(2)]
        third = client.post("/sessions", headers=auth(token))
        assert third.status_code == 201
        assert third.json()["evicted"] == [ids[0]]
        assert client.post(f"/sessions/{ids[0]}/heartbeat", headers=auth(token)).status_code == 410


@pytest.mark.parametrize("hostile", ["*", "%5B%5D", "%7Bu%3Abob%7D", "a:b:c"])
def test_hostile_ids_are_plain_members(three: TestClient, token: Token, hostile: str) -> None:
    assert three.post(f"/sessions/{hostile}/heartbeat", headers=auth(token)).status_code == 410
    assert three.delete(f"/sessions/{hostile}", headers=auth(token)).status_code == 204


def test_bad_input(three: TestClient, token: Token) -> None:
    assert three.post(f"/sessions/{'x' * 200}/heartbeat", headers=auth(token)).status_code == 422
    malformed = three.post(
        "/sessions", content=b"{oops", headers={**auth(token), "content-type": "application/json"}
    )
    assert malformed.status_code == 422
    assert three.post("/sessions", json={"session_id": ""}, headers=auth(token)).status_code == 422
    bad = three.post("/sessions", headers={"Authorization": "Bearer junk"})
    assert bad.status_code == 401
    assert bad.json()["error"]["status"] == 401


def test_non_utf8_and_lone_surrogate_ids_are_refused_or_harmless(
    three: TestClient, token: Token
) -> None:
    assert three.post("/sessions/%FF%FE/heartbeat", headers=auth(token)).status_code == 410
    body = b'{"session_id": "\\ud800"}'
    headers = {**auth(token), "content-type": "application/json"}
    assert three.post("/sessions", content=body, headers=headers).status_code == 422
    chat = b'{"message": "hi", "session_id": "\\ud800x"}'
    assert three.post("/chat", content=chat, headers=headers).status_code == 422
