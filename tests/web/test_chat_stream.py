"""POST /chat/stream: deltas then one `done`, the cache's hit/miss, refusals before the stream."""

from __future__ import annotations

import pytest
import redis
from fastapi.testclient import TestClient

from shared import keys
from shared.responder import Reply
from tests.web.conftest import drain
from tests.web.sse import parse_events, text_of


def _stream(client: TestClient, message: str, **extra: object) -> tuple[int, dict[str, str], str]:
    response = client.post("/chat/stream", json={"message": message, **extra})
    return response.status_code, dict(response.headers), response.text


def test_a_miss_then_a_hit_stream_the_same_answer_as_chat(client: TestClient) -> None:
    status, headers, body = _stream(client, "What is Redis?")
    assert status == 200
    assert headers["content-type"].startswith("text/event-stream")
    miss = parse_events(body)
    assert miss[-1]["done"] is True
    assert miss[-1]["cache"] == "miss"
    assert all(set(e) == {"delta"} for e in miss[:-1])
    assert [e for e in miss if "done" in e] == [miss[-1]]  # exactly one final event
    hit = parse_events(_stream(client, "what is redis")[2])
    assert hit[-1]["cache"] == "hit"
    assert (
        text_of(hit)
        == text_of(miss)
        == client.post("/chat", json={"message": "what is redis"}).json()["reply"]
    )
    assert hit[-1]["usage"] == miss[-1]["usage"]
    assert set(miss[-1]["usage"]) == {"prompt_tokens", "completion_tokens"}


def test_a_stream_records_its_event_and_cache_counters(client: TestClient, r: redis.Redis) -> None:
    _stream(client, "count me")
    _stream(client, "count me")
    drain(client)
    assert r.xlen(keys.events_stream()) == 2
    assert r.hgetall(keys.cache_stats()) == {b"miss": b"1", b"hit:live": b"1"}


def test_a_refusal_is_the_same_json_as_chat_before_any_stream(
    client: TestClient, settings_env: pytest.MonkeyPatch
) -> None:
    from shared.settings import reset_settings  # noqa: PLC0415

    settings_env.setenv("RATE_LIMIT_REQUESTS", "1")
    reset_settings()
    with TestClient(client.app, raise_server_exceptions=False) as fresh:
        assert fresh.post("/chat/stream", json={"message": "one"}).status_code == 200
        refused = fresh.post("/chat/stream", json={"message": "two"})
        plain = fresh.post("/chat", json={"message": "two"})
    assert refused.status_code == plain.status_code == 429
    assert refused.headers["content-type"] == "application/json"
    assert refused.json() == plain.json()
    assert "Retry-After" in refused.headers


def test_a_stream_request_is_validated_like_chat(client: TestClient) -> None:
    assert client.post("/chat/stream", json={"message": ""}).status_code == 422


def test_a_stale_answer_streams_from_the_cache(client: TestClient) -> None:
    import time  # noqa: PLC0415

    from shared.cache.entry import CacheKey  # noqa: PLC0415
    from shared.cache.store import store_reply  # noqa: PLC0415
    from shared.redis_client import get_redis  # noqa: PLC0415
    from shared.settings import get_settings  # noqa: PLC0415

    cs = get_settings().cache
    key = CacheKey.build("old question", "demo", template_version=cs.template_version)
    store_reply(get_redis(), key, Reply("yesterday's answer", 2, 3), source="warmup",
                now=time.time() - 2 * cs.ttl_s, settings=cs)  # fmt: skip
    events = parse_events(_stream(client, "Old question!")[2])
    assert events == [
        {"delta": "yesterday's answer"},
        {"done": True, "usage": {"prompt_tokens": 2, "completion_tokens": 3}, "cache": "stale"},
    ]


def shouting_responder(message: str, model: str) -> Reply:
    return Reply(message.upper(), 1, 2)


def test_a_custom_sync_adapter_streams_too(
    settings_env: pytest.MonkeyPatch,
) -> None:
    from shared.settings import reset_settings  # noqa: PLC0415
    from web.app import create_app  # noqa: PLC0415

    settings_env.setenv("CHAT_RESPONDER", f"{__name__}:shouting_responder")
    reset_settings()
    with TestClient(create_app()) as custom:
        events = parse_events(custom.post("/chat/stream", json={"message": "hi there"}).text)
    assert text_of(events) == "HI THERE"
    assert events[-1] == {
        "done": True,
        "usage": {"prompt_tokens": 1, "completion_tokens": 2},
        "cache": "miss",
    }


def test_a_bad_responder_stops_the_app_at_start(settings_env: pytest.MonkeyPatch) -> None:
    from shared.settings import reset_settings  # noqa: PLC0415
    from web.app import create_app  # noqa: PLC0415

    settings_env.setenv("CHAT_RESPONDER", "no.such.module:respond")
    reset_settings()
    with pytest.raises(ValueError, match="CHAT_RESPONDER"), TestClient(create_app()):
        pass


def test_a_streamed_hit_costs_one_round_trip_and_calls_nothing(
    settings_env: pytest.MonkeyPatch, r: redis.Redis
) -> None:
    from tests.web.test_guards import _app, _round_trips  # noqa: PLC0415

    with _app(settings_env, WEB_WRITE_BEHIND_INTERVAL_MS="1000") as c:
        assert parse_events(_stream(c, "cheap question")[2])[-1]["cache"] == "miss"
        drain(c)
        got: list[str] = []
        trips = _round_trips(r, lambda: got.append(_stream(c, "Cheap question?")[2]))
        assert parse_events(got[0])[-1]["cache"] == "hit"
        assert trips == 1  # the guards and the cache lookup, pipelined; the rest is buffered
        assert not list(r.scan_iter(match="t:rl:*:res:*"))  # a hit reserves no tokens
