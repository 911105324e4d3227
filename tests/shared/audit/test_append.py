"""log_event and alog_event: one XADD, redacted, never collapsing identical events."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest

from shared import audit, keys
from shared.redis_client import build_async_client
from shared.settings import get_settings


def test_log_event_appends_one_entry_with_who_what_where(r: Any) -> None:
    sid = audit.log_event(
        "admin.cache_invalidate",
        "admin:bob",
        {"pattern": "x*", "api_key": "k", "note": "Bearer abcdefgh12345678"},
        ip="192.0.2.7",
        correlation_id="req-1",
        result="ok",
    )
    [(got_id, fields)] = r.xrange(keys.audit_stream())
    assert got_id.decode() == sid
    event = audit.parse_entry(got_id, fields)
    assert (event.event_type, event.actor, event.ip, event.correlation_id, event.result) == (
        "admin.cache_invalidate",
        "admin:bob",
        "192.0.2.7",
        "req-1",
        "ok",
    )
    details = orjson.loads(event.details_json)
    assert details["api_key"] == "[REDACTED]"
    assert "abcdefgh12345678" not in details["note"]
    assert event.to_api("redis")["time"].endswith("+00:00")


def test_identical_events_are_two_entries(r: Any) -> None:
    a = audit.log_event("x", "alice", {"same": 1})
    b = audit.log_event("x", "alice", {"same": 1})
    assert a != b
    assert r.xlen(keys.audit_stream()) == 2


def test_empty_type_or_actor_is_refused_and_nothing_sent(r: Any) -> None:
    with pytest.raises(ValueError, match="event_type"):
        audit.log_event("", "alice", {})
    with pytest.raises(ValueError, match="actor"):
        audit.log_event("x", "", {})
    assert r.xlen(keys.audit_stream()) == 0


def test_free_text_is_bounded(r: Any) -> None:
    audit.log_event("x" * 500, "a" * 500, {"t": "z" * 50_000})
    [(_, fields)] = r.xrange(keys.audit_stream())
    assert len(fields[b"type"]) < 200
    assert len(fields[b"actor"]) < 200
    assert len(fields[b"details"]) <= get_settings().audit.details_max_bytes


def test_malformed_entry_still_parses(r: Any) -> None:
    r.xadd(keys.audit_stream(), {"details": "not json"})
    event = audit.parse_entry(*r.xrange(keys.audit_stream())[0])
    assert event.event_type == "unknown"
    assert orjson.loads(event.details_json) == {"_unparsed": "not json"}


def test_alog_event_appends_and_a_dead_redis_is_logged_not_raised(
    r: Any, caplog: pytest.LogCaptureFixture
) -> None:
    from embedded_redis import free_port  # noqa: PLC0415

    async def go(url: str | None) -> str | None:
        client = build_async_client(get_settings().conn, url, socket_timeout_s=0.5)
        try:
            return await audit.alog_event(client, "admin.x", "user:root", {"k": 1}, ip="::1")
        finally:
            await client.aclose()  # type: ignore[attr-defined]

    sid = asyncio.run(go(None))
    assert sid is not None
    assert r.xrange(keys.audit_stream())[0][0].decode() == sid
    with caplog.at_level("ERROR", logger="shared.audit"):
        assert asyncio.run(go(f"redis://127.0.0.1:{free_port()}/0")) is None
    assert "admin.x" in caplog.text
    assert r.xlen(keys.audit_stream()) == 1
