"""The event schema: what the web appends, and the strict parsing that feeds the dead letters."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
import redis

from shared import keys
from shared.analytics.events import EventError, append_event, event_fields, parse
from shared.normalize import normalize_query, query_hash
from shared.redis_client import build_async_client
from shared.settings import get_settings


def _body(**over: Any) -> dict[str, Any]:
    fields = event_fields(user_id="alice", model="m1", prompt_tokens=3, completion_tokens=4,
                          latency_ms=12.5, cache_hit=True, message="Hello,  World!")  # fmt: skip
    body: dict[str, Any] = orjson.loads(fields["e"])
    body.update(over)
    return body


def _entry(body: Any) -> dict[bytes, bytes]:
    return {b"e": orjson.dumps(body)}


def test_append_event_is_one_xadd_with_the_query_hash_and_a_dead_redis_returns_false(
    r: redis.Redis,
) -> None:
    from embedded_redis import free_port  # noqa: PLC0415

    async def append(url: str | None) -> bool:
        client = build_async_client(get_settings().conn, url, socket_timeout_s=0.5)
        try:
            return await append_event(client, user_id="alice", model="m1", prompt_tokens=3,
                                      completion_tokens=4, latency_ms=12.5, cache_hit=False,
                                      message="Hello,  World!")  # fmt: skip
        finally:
            await client.aclose()  # type: ignore[attr-defined]

    assert asyncio.run(append(None)) is True
    [(entry_id, fields)] = r.xrange(keys.events_stream())
    assert orjson.loads(fields[b"e"])["q"] == query_hash(normalize_query("hello world"))
    ev = parse(entry_id, fields, max_bytes=4096)
    assert (ev.user, ev.model, ev.prompt_tokens, ev.completion_tokens) == ("alice", "m1", 3, 4)
    assert ev.cache_hit is False
    assert ev.latency_ms == 12.5
    assert ev.ts_ms == int(entry_id.split(b"-")[0])
    assert asyncio.run(append(f"redis://127.0.0.1:{free_port()}/0")) is False
    assert r.xlen(keys.events_stream()) == 1


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"v": 9}, "version"),
        ({"m": "bad model!"}, "invalid"),
        ({"m": None}, "invalid"),
        ({"pt": -1}, "range"),
        ({"ct": "many"}, "type"),
        ({"ct": 1.5}, "type"),
        ({"lat": "fast"}, "type"),
        ({"lat": -3}, "range"),
        ({"hit": "yes"}, "invalid"),
        ({"q": "not-a-hash"}, "invalid"),
        ({"u": ""}, "invalid"),
        ({"u": 42}, "invalid"),
        ({"t": "Chat Event"}, "invalid"),
        ({"err": "x" * 65}, "invalid"),
    ],
)
def test_malformed_fields_name_their_reason(over: dict[str, Any], reason: str) -> None:
    with pytest.raises(EventError, match=f"^{reason}:"):
        parse(b"1000-0", _entry(_body(**over)), max_bytes=4096)


def test_malformed_entries_name_their_reason() -> None:
    with pytest.raises(EventError, match=r"^missing: field e"):
        parse(b"1000-0", {b"v": b"1"}, max_bytes=4096)
    with pytest.raises(EventError, match=r"^json:"):
        parse(b"1000-0", {b"e": b"{not json"}, max_bytes=4096)
    with pytest.raises(EventError, match=r"^json: not an object"):
        parse(b"1000-0", {b"e": b"[1, 2]"}, max_bytes=4096)
    with pytest.raises(EventError, match=r"^oversized:"):
        parse(b"1000-0", _entry(_body(s="y" * 120, err="x" * 60)), max_bytes=256)
    with pytest.raises(EventError, match=r"^oversized:"):
        parse(b"1000-0", {**_entry(_body()), b"extra": b"1"}, max_bytes=4096)


def test_nan_latency_is_rejected() -> None:
    raw = orjson.dumps(_body()).replace(b'"lat":12.5', b'"lat":NaN')
    with pytest.raises(EventError, match=r"^json:"):
        parse(b"1000-0", {b"e": raw}, max_bytes=4096)
