"""GET /admin/audit and /admin/audit/stats: admin only, merged newest first, each event once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from shared import audit, keys
from shared.audit import archive as audit_archive
from shared.db import get_engine
from shared.models.audit import EVENTS
from shared.settings import get_settings, reset_settings
from tests.shared.audit.helpers import append_many


@pytest.fixture
def admin(token: Callable[..., str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(sub='root', role='admin')}"}


def _trim(r: Any) -> None:
    audit_archive.archive_and_trim(r, get_engine(), get_settings())


def _all_pages(client: TestClient, headers: dict[str, str], **params: Any) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        query = {**params, **({"cursor": cursor} if cursor else {})}
        body = client.get("/admin/audit", params=query, headers=headers).json()
        items += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("pagination did not end")


def test_admin_only(client: TestClient, token: Callable[..., str], sql_url: str) -> None:
    assert client.get("/admin/audit").status_code == 401
    user = {"Authorization": f"Bearer {token(sub='alice')}"}
    assert client.get("/admin/audit", headers=user).status_code == 403
    assert client.get("/admin/audit/stats", headers=user).status_code == 403


def test_pages_merge_redis_and_archive_each_event_once(
    client: TestClient, r: Any, admin: dict[str, str], sql_url: str, settings_env: Any
) -> None:
    settings_env.setenv("AUDIT_MAX_EVENTS", "25")
    settings_env.setenv("AUDIT_TRIM_BATCH", "20")
    reset_settings()
    logged = append_many(r, 60)
    _trim(r)  # 60 archived, 25 still in Redis (archived too)
    logged += append_many(r, 30, start=60)  # 30 only in Redis
    items = _all_pages(client, admin, limit=7)
    assert [i["id"] for i in items] == logged[::-1]
    assert {i["source"] for i in items} == {"redis", "archive"}
    first = items[0]
    assert set(first) >= {"id", "event_type", "actor", "details", "ip", "time"}
    assert first["details"] == {"n": 89}
    assert first["ip"] == "10.0.0.1"


def test_archiving_between_pages_loses_and_repeats_nothing(
    client: TestClient, r: Any, admin: dict[str, str], sql_url: str, settings_env: Any
) -> None:
    settings_env.setenv("AUDIT_MAX_EVENTS", "5")
    settings_env.setenv("AUDIT_TRIM_BATCH", "8")
    settings_env.setenv("AUDIT_TRIM_MAX_BATCHES", "1")
    reset_settings()
    logged = append_many(r, 50)
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 6, **({"cursor": cursor} if cursor else {})}
        body = client.get("/admin/audit", params=params, headers=admin).json()
        seen += [i["id"] for i in body["items"]]
        _trim(r)  # one more batch archived and trimmed under the reader's feet
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == logged[::-1]


def test_filters(client: TestClient, r: Any, admin: dict[str, str], sql_url: str) -> None:
    bob = append_many(r, 5, actor="bob")
    _trim(r)
    alice = append_many(r, 4, actor="alice")
    audit.log_event("guard.rejected", "bob", {"policy": "chat"})
    got = _all_pages(client, admin, actor="bob", limit=2)
    assert [i["id"] for i in got][1:] == bob[::-1]
    assert got[0]["event_type"] == "guard.rejected"
    typed = client.get("/admin/audit", params={"type": "guard.rejected"}, headers=admin).json()
    assert [i["actor"] for i in typed["items"]] == ["bob"]
    cut_ms = int(alice[1].split("-")[0])
    since = _all_pages(client, admin, since=str(cut_ms / 1000), actor="alice")
    assert {i["id"] for i in since} >= set(alice[1:])
    until = _all_pages(client, admin, until=str((cut_ms - 1) / 1000))
    assert all(int(i["id"].split("-")[0]) < cut_ms for i in until)
    assert set(bob) <= {i["id"] for i in until}


def test_bad_parameters_are_422(client: TestClient, admin: dict[str, str], sql_url: str) -> None:
    for params in ({"cursor": "nope"}, {"since": "yesterday"}, {"limit": 0}, {"limit": 501}):
        assert client.get("/admin/audit", params=params, headers=admin).status_code == 422


def test_stats_and_tamper(
    client: TestClient, r: Any, admin: dict[str, str], sql_url: str, settings_env: Any
) -> None:
    settings_env.setenv("AUDIT_MAX_EVENTS", "4")
    reset_settings()
    empty = client.get("/admin/audit/stats", headers=admin).json()
    assert empty["in_redis"] == 0
    assert empty["archived"] == 0
    assert empty["chain_ok"] is True
    logged = append_many(r, 10)
    _trim(r)
    stats = client.get("/admin/audit/stats", headers=admin).json()
    assert (stats["in_redis"], stats["archived"], stats["chain_ok"]) == (4, 10, True)
    assert stats["last_verified_at"] is not None
    with get_engine().begin() as conn:
        conn.execute(update(EVENTS).where(EVENTS.c.stream_id == logged[3]).values(actor="x"))
    broken = client.get("/admin/audit/stats", headers=admin).json()
    assert broken["chain_ok"] is False
    assert broken["broken_id"] == logged[3]
    assert r.xlen(keys.audit_stream()) == 4


def test_bounded_redis_scan_ends_pages_early_but_loses_nothing(
    client: TestClient, r: Any, admin: dict[str, str], sql_url: str, settings_env: Any
) -> None:
    settings_env.setenv("AUDIT_QUERY_SCAN_MAX", "100")
    reset_settings()
    rare: list[str] = []
    for i in range(6):  # 600 un-archived events, one in a hundred by "carol"
        append_many(r, 99, actor="bob", start=i * 100)
        rare += append_many(r, 1, actor="carol", start=i * 100 + 99)
    pages = 0
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"actor": "carol", "limit": 50}
        if cursor:
            params["cursor"] = cursor
        body = client.get("/admin/audit", params=params, headers=admin).json()
        seen += [i["id"] for i in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == rare[::-1]
    assert pages > 1  # the scan bound cut pages short


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("cursor", "18446744073709551615-0"),
        ("cursor", "0-0"),
        ("since", "-1e20"),
        ("since", "1e20"),
        ("until", "inf"),
        ("until", "-1"),
        ("until", "0001-01-01"),
        ("since", "nan"),
        ("cursor", "1-18446744073709551615"),
        ("until", "9999-12-31T23:59:59-10:00"),
    ],
)
def test_out_of_range_filters_are_422_naming_the_parameter(
    client: TestClient, r: Any, admin: dict[str, str], sql_url: str, param: str, value: str
) -> None:
    """Our own bad bounds must not reach Redis or SQL (a 503 or 500 would blame an outage)."""
    append_many(r, 3)
    response = client.get("/admin/audit", params={param: value}, headers=admin)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith(f"{param}:")


@pytest.mark.parametrize(
    "params",
    [
        {"cursor": "253402300799999-9"},
        {"since": "0", "until": "253402300799.999"},
        {"since": "1970-01-01T00:00:00Z", "until": "9999-12-31T23:59:59.999+00:00"},
    ],
)
def test_extreme_but_valid_filters_are_answered(
    client: TestClient, r: Any, admin: dict[str, str], sql_url: str, params: dict[str, str]
) -> None:
    logged = append_many(r, 3)
    _trim(r)
    response = client.get("/admin/audit", params=params, headers=admin)
    assert response.status_code == 200, response.text
    assert [i["id"] for i in response.json()["items"]] == logged[::-1]


def test_a_real_outage_is_still_503(admin: dict[str, str], sql_url: str, settings_env: Any) -> None:
    from embedded_redis import free_port  # noqa: PLC0415
    from web.app import create_app  # noqa: PLC0415

    settings_env.setenv("REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    reset_settings()
    with TestClient(create_app(), raise_server_exceptions=False) as down:
        response = down.get("/admin/audit", params={"since": "0"}, headers=admin)
    assert response.status_code == 503
    assert response.json()["error"]["message"] == "data store unavailable"


def test_secrets_in_values_and_secret_shaped_subjects_never_reach_the_trail(
    client: TestClient, token: Callable[..., str], sql_url: str
) -> None:
    subject = "sk-proj-" + "A1b2C3d4E5f6G7h8I9j0K"
    headers = {"Authorization": f"Bearer {token(sub=subject, role='admin')}"}
    leaked = '{"password": "hunter2"}'
    for body in ({"tag": leaked}, {"user_id": leaked}, {"pattern": leaked}):
        client.post("/admin/cache/invalidate", json=body, headers=headers)
    response = client.get("/admin/audit", headers=headers)
    assert response.status_code == 200, response.text
    items = response.json()["items"]
    assert len(items) == 3
    assert "hunter2" not in response.text
    assert "sk-proj" not in response.text
    [actor] = {i["actor"] for i in items}  # one stable label: the trail keeps who acted
    assert actor.startswith("user:h:")
    # The admin finds the events by the raw subject or by its label.
    for wanted in (f"user:{subject}", actor):
        found = client.get("/admin/audit", params={"actor": wanted}, headers=headers).json()
        assert [i["id"] for i in found["items"]] == [i["id"] for i in items]
