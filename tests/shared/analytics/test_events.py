"""The event schema: what the web appends, and the strict parsing that feeds the dead letters."""

from __future__ import annotations

import pytest
import redis

from shared import keys
from shared.analytics.events import EventError, event_fields, parse, queue_event
from shared.normalize import normalize_query, query_hash


def _fields(**over: object) -> dict[bytes, bytes]:
    base = event_fields(user_id="alice", model="m1", prompt_tokens=3, completion_tokens=4,
                        latency_ms=12.5, cache_hit=True, message="Hello,  World!")  # fmt: skip
    base.update(over)  # type: ignore[arg-type]
    return {k.encode(): str(v).encode() for k, v in base.items()}


def test_queue_event_is_one_bounded_xadd_with_the_query_hash(r: redis.Redis) -> None:
    with r.pipeline(transaction=False) as pipe:
        queue_event(pipe, user_id="alice", model="m1", prompt_tokens=3, completion_tokens=4,
                    latency_ms=12.5, cache_hit=False, message="Hello,  World!")  # fmt: skip
        assert len(pipe.command_stack) == 1
        (entry_id,) = pipe.execute()
    [(got_id, fields)] = r.xrange(keys.events_stream())
    assert got_id == entry_id
    assert fields[b"q"].decode() == query_hash(normalize_query("hello world"))
    ev = parse(got_id, fields, max_bytes=4096)
    assert (ev.user, ev.model, ev.prompt_tokens, ev.completion_tokens) == ("alice", "m1", 3, 4)
    assert ev.cache_hit is False
    assert ev.latency_ms == 12.5
    assert ev.ts_ms == int(entry_id.split(b"-")[0])


@pytest.mark.parametrize(
    ("over", "reason"),
    [
        ({"v": "9"}, "version"),
        ({"m": "bad model!"}, "invalid"),
        ({"pt": "-1"}, "range"),
        ({"ct": "many"}, "type"),
        ({"lat": "nan"}, "range"),
        ({"hit": "yes"}, "invalid"),
        ({"q": "not-a-hash"}, "invalid"),
        ({"u": ""}, "invalid"),
        ({"t": "Chat Event"}, "invalid"),
        ({"err": "x" * 65}, "invalid"),
    ],
)
def test_malformed_fields_name_their_reason(over: dict[str, str], reason: str) -> None:
    with pytest.raises(EventError, match=f"^{reason}:"):
        parse(b"1000-0", _fields(**over), max_bytes=4096)


def test_missing_field_and_oversized_event() -> None:
    fields = _fields()
    del fields[b"m"]
    with pytest.raises(EventError, match="^missing: field m"):
        parse(b"1000-0", fields, max_bytes=4096)
    with pytest.raises(EventError, match="^oversized:"):
        parse(b"1000-0", _fields(err="x" * 60, s="y" * 300), max_bytes=256)


def test_non_utf8_user_is_rejected() -> None:
    fields = _fields()
    fields[b"u"] = b"\xff\xfe"
    with pytest.raises(EventError, match="^encoding:"):
        parse(b"1000-0", fields, max_bytes=4096)
