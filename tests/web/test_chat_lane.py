"""web.chat_lane: a fresh hit of POST /chat answered in front of FastAPI, everything else by the
route, with the lane's admission handed over so nothing is guarded (or charged) twice.

Which of the two answered is observed through the route's `Redis` dependency: the app resolves
it for every request that reaches the route, never for one the lane answered.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import orjson
import pytest
import redis
from fastapi import Request
from fastapi.testclient import TestClient

from shared import audit, keys
from shared.cache.entry import CacheKey
from shared.cache.store import read_stats, store_reply
from shared.redis_client import AsyncRedisClient
from shared.responder import Reply
from shared.settings import get_settings, reset_settings
from tests.fixtures.web_server import WebServerFactory
from tests.web.conftest import drain

Token = Callable[..., str]
QUESTION = "hello there"
RATELIMIT = re.compile(r'"[a-z_]+";r=\d+;t=\d+(, "[a-z_]+";r=\d+;t=\d+)*')


@contextlib.contextmanager
def _app(settings_env: pytest.MonkeyPatch, **env: str) -> Iterator[tuple[TestClient, list[str]]]:
    """The app under `env` (as tests/web/test_guards.py builds it) and the paths of the requests
    that reached a route."""
    env = {"GUARD_REDIS_TIMEOUT": "5", "WEB_WRITE_BEHIND_INTERVAL_MS": "1000", **env}
    for name, value in env.items():
        settings_env.setenv(name, value)
    reset_settings()
    from web import deps  # noqa: PLC0415
    from web.app import create_app  # noqa: PLC0415

    routed: list[str] = []

    async def counted(request: Request) -> AsyncRedisClient:
        routed.append(request.url.path)
        return await deps.redis(request)

    app = create_app()
    app.dependency_overrides[deps.redis] = counted
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client, routed


@pytest.fixture
def lane(settings_env: pytest.MonkeyPatch) -> Iterator[tuple[TestClient, list[str]]]:
    """4 requests per minute and the default token policy."""
    with _app(settings_env, RATE_LIMIT_REQUESTS="4") as found:
        yield found


def chat(client: TestClient, token: str | None = None, **kwargs: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(kwargs.pop("headers", {}))
    if "content" not in kwargs:
        kwargs.setdefault("json", {"message": QUESTION})
    return client.post("/chat", headers=headers, **kwargs)


def _left(response: Any, policy: str = "minute") -> int:
    """What the RateLimit field says is left of `policy`."""
    found = re.search(rf'"{policy}";r=(\d+);t=\d+', response.headers["RateLimit"])
    assert found, response.headers["RateLimit"]
    return int(found[1])


def _tat(r: redis.Redis, identity: str) -> Any:
    """The request policy's GCRA state of `identity` (it moves on every charge)."""
    return r.get(keys.rate_limit(identity, "minute"))


def test_a_fresh_hit_is_answered_by_the_lane_like_the_route(
    lane: tuple[TestClient, list[str]], token: Token
) -> None:
    client, routed = lane
    miss = chat(client, token())
    assert routed == ["/chat"]
    hit = chat(client, token())
    assert routed == ["/chat"], "the hit reached the route"
    assert (miss.status_code, hit.status_code) == (200, 200)
    assert (miss.headers["X-Cache"], hit.headers["X-Cache"]) == ("miss", "hit")
    assert miss.json() == hit.json()
    assert set(hit.json()) == {"reply", "model", "usage"}
    assert set(miss.headers) == set(hit.headers)
    assert hit.headers["content-type"] == miss.headers["content-type"] == "application/json"
    assert int(hit.headers["content-length"]) == len(hit.content)
    assert hit.headers["RateLimit-Policy"] == miss.headers["RateLimit-Policy"]
    policies = hit.headers["RateLimit-Policy"].split(", ")
    assert '"minute";q=4;w=60' in policies
    assert any(p.startswith('"tokens";q=') for p in policies)
    assert RATELIMIT.fullmatch(hit.headers["RateLimit"]), hit.headers["RateLimit"]
    assert (_left(miss), _left(hit)) == (3, 2)


def test_every_request_is_charged_once_and_the_lane_refusal_is_answered_and_audited(
    lane: tuple[TestClient, list[str]], token: Token, r: redis.Redis
) -> None:
    client, routed = lane
    admitted = [chat(client, token(), headers={"X-Request-ID": f"req-{i}"}) for i in range(4)]
    assert [a.status_code for a in admitted] == [200] * 4
    assert [a.headers["X-Cache"] for a in admitted] == ["miss", "hit", "hit", "hit"]
    assert [_left(a) for a in admitted] == [3, 2, 1, 0]
    assert routed == ["/chat"]  # the miss only

    refused = chat(client, token(), headers={"X-Request-ID": "req-refused"})
    assert refused.status_code == 429
    assert routed == ["/chat", "/chat"]  # the lane's refusal is raised by the route
    assert re.fullmatch(r"[1-9][0-9]*", refused.headers["Retry-After"])
    assert _left(refused) == 0
    assert refused.json() == {
        "error": {"status": 429, "message": refused.json()["error"]["message"]}
    }
    assert "minute" in refused.json()["error"]["message"]
    # A refusal made by a route (the stream's): the same answer.
    auth = {"Authorization": f"Bearer {token()}"}
    other = client.post("/chat/stream", json={"message": QUESTION}, headers=auth)
    assert other.status_code == 429
    assert set(other.headers) == set(refused.headers)
    assert set(other.json()["error"]) == set(refused.json()["error"]) == {"status", "message"}
    assert routed == ["/chat", "/chat", "/chat/stream"]

    drain(client)  # refusal audits leave through the write-behind buffer
    events = [audit.parse_entry(sid, f) for sid, f in r.xrange(keys.audit_stream())]
    assert [(e.event_type, e.actor, e.result) for e in events] == [
        ("guard.rejected", "user:alice", "refused")
    ]
    assert events[0].correlation_id == "req-refused"
    details = orjson.loads(events[0].details_json)
    assert (details["path"], details["status"], details["policy"]) == ("/chat", 429, "minute")
    # the stream's refusal fell into the same episode: counted, not audited again
    assert r.get(keys.audit_refusal_suppressed("guard.rejected", "user:alice")) == b"1"


@pytest.mark.parametrize(
    ("request_kwargs", "status"),
    [
        ({"json": {}}, 422),  # no message
        ({"json": {"message": ""}}, 422),
        ({"json": {"message": QUESTION, "model": "bad model!"}}, 422),
        (
            {"content": b'{"message": "hello there"}', "headers": {"content-type": "text/plain"}},
            422,
        ),
        ({"content": b'{"message": "hello', "headers": {"content-type": "application/json"}}, 422),
        ({"headers": {"Authorization": "Bearer not-a-token"}}, 401),
        ({"headers": {"Authorization": "Basic YWxpY2U6eA=="}}, 401),
    ],
    ids=["no-message", "empty", "bad-model", "text-plain", "malformed", "bad-token", "basic"],
)
def test_refused_bodies_and_tokens_get_the_routes_error_and_are_not_charged(
    lane: tuple[TestClient, list[str]],
    token: Token,
    r: redis.Redis,
    request_kwargs: dict[str, Any],
    status: int,
) -> None:
    client, _ = lane
    assert chat(client, token()).headers["X-Cache"] == "miss"  # the question is cached now
    assert chat(client).headers["X-Cache"] == "hit"  # anonymous: charged by address
    charged = (_tat(r, "u.alice"), _tat(r, "ip.testclient"))
    assert None not in charged

    response = chat(client, **request_kwargs)
    assert response.status_code == status, response.text
    assert response.json()["error"]["status"] == status
    if status == 422:
        assert response.json()["error"]["message"] == "invalid request"
        assert response.json()["error"]["details"]
    assert (_tat(r, "u.alice"), _tat(r, "ip.testclient")) == charged
    assert _left(chat(client, token())) == 2


@pytest.mark.parametrize("content_type", [None, "application/json-seq"])
def test_a_body_the_route_does_not_take_as_json_is_422_on_a_hit_too(
    lane: tuple[TestClient, list[str]], content_type: str | None
) -> None:
    client, _ = lane
    body = orjson.dumps({"message": "fresh question"})
    headers = {} if content_type is None else {"content-type": content_type}
    assert chat(client, content=body, headers=headers).status_code == 422  # a miss: the route
    assert chat(client, json={"message": "fresh question"}).headers["X-Cache"] == "miss"
    assert chat(client, content=body, headers=headers).status_code == 422


def test_with_two_authorization_headers_chat_reads_the_same_one_as_other_routes(
    lane: tuple[TestClient, list[str]], token: Token
) -> None:
    client, _ = lane
    headers = [("Authorization", "Bearer not-a-token"), ("Authorization", f"Bearer {token()}")]
    sessions = client.post("/sessions", headers=headers)
    assert sessions.status_code == 401  # the first header counts
    assert chat(client, token()).status_code == 200
    hit = client.post("/chat", json={"message": QUESTION}, headers=headers)
    assert hit.status_code == 401


def test_a_stale_answer_goes_on_to_the_route_with_the_lanes_admission(
    settings_env: pytest.MonkeyPatch, token: Token, r: redis.Redis
) -> None:
    with _app(settings_env, RATE_LIMIT_REQUESTS="2", TOKEN_LIMIT_PER_MINUTE="0") as (
        client,
        routed,
    ):
        cs = get_settings().cache
        key = CacheKey.build("old question", "demo", template_version=cs.template_version)
        store_reply(r, key, Reply("yesterday's answer", 1, 1), source="warmup",
                    now=time.time() - 2 * cs.ttl_s, settings=cs)  # fmt: skip
        answers = [chat(client, token(), json={"message": "Old question!"}) for _ in range(3)]
        assert [a.status_code for a in answers] == [200, 200, 429]
        assert [a.headers.get("X-Cache") for a in answers[:2]] == ["stale", "stale"]
        assert {a.json()["reply"] for a in answers[:2]} == {"yesterday's answer"}
        assert [_left(a) for a in answers] == [1, 0, 0]  # charged once each, by the lane
        assert routed == ["/chat"] * 3


def test_a_lane_hit_leaves_its_event_and_counters_through_the_write_behind(
    lane: tuple[TestClient, list[str]], token: Token, r: redis.Redis
) -> None:
    client, routed = lane
    cs = get_settings().cache
    key = CacheKey.build(QUESTION, "demo", template_version=cs.template_version)
    assert chat(client, token("bob")).headers["X-Cache"] == "miss"
    drain(client)
    assert read_stats(r) == {"miss": 1}
    hits_before = r.zscore(keys.cache_hits(), key.qhash) or 0
    routed.clear()

    hit = chat(client, token("carol"), json={"message": "Hello   there!", "session_id": None})
    assert hit.headers["X-Cache"] == "hit"
    assert routed == []
    drain(client)
    assert read_stats(r) == {"miss": 1, "hit:live": 1}
    assert (r.zscore(keys.cache_hits(), key.qhash) or 0) - hits_before == 1
    events = [orjson.loads(fields[b"e"]) for _, fields in r.xrange(keys.events_stream())]
    assert [(e["u"], e["hit"]) for e in events] == [("user:bob", False), ("user:carol", True)]
    served = events[1]
    assert (served["m"], served["q"], served["err"]) == ("demo", key.qhash, "")
    assert (served["pt"], served["ct"]) == tuple(hit.json()["usage"].values())
    assert served["lat"] >= 0
    assert not list(r.scan_iter(match="t:rl:*:res:*"))  # a hit reserves no tokens


def test_a_body_over_the_limit_is_413_before_the_lane_charges_anything(
    settings_env: pytest.MonkeyPatch, token: Token, r: redis.Redis
) -> None:
    with _app(settings_env, WEB_MAX_BODY_BYTES="1024") as (client, routed):
        assert chat(client, token()).headers["X-Cache"] == "miss"
        charged = _tat(r, "u.alice")
        routed.clear()
        padded = {"message": QUESTION, "pad": "x" * 2000}  # a hit, but for its size
        declared = chat(client, token(), json=padded)

        def chunks() -> Iterator[bytes]:  # no Content-Length: refused while it streams
            yield orjson.dumps(padded)

        streamed = chat(
            client, token(), content=chunks(), headers={"content-type": "application/json"}
        )
        for response in (declared, streamed):
            assert response.status_code == 413, response.text
            assert response.json()["error"]["status"] == 413
            assert "1024 bytes" in response.json()["error"]["message"]
        assert routed == []
        assert _tat(r, "u.alice") == charged
        assert chat(client, token()).headers["X-Cache"] == "hit"


def test_the_lane_serves_hits_and_bounds_bodies_in_the_real_server(
    web_server: WebServerFactory, token: Token
) -> None:
    server = web_server({"WEB_MAX_BODY_BYTES": "1024", "RATE_LIMIT_REQUESTS": "3"})
    auth = {"Authorization": f"Bearer {token()}"}
    with httpx.Client(base_url=server.url, headers=auth, timeout=10) as http:
        first = http.post("/chat", json={"message": QUESTION})
        second = http.post("/chat", json={"message": QUESTION})
        assert (first.headers["X-Cache"], second.headers["X-Cache"]) == ("miss", "hit")
        assert first.json() == second.json()
        assert set(first.headers) - {"date", "server"} == set(second.headers) - {"date", "server"}
        body = orjson.dumps({"message": QUESTION, "pad": "x" * 4000})
        big = http.post("/chat", content=iter([body[:2000], body[2000:]]),
                        headers={"content-type": "application/json"})  # fmt: skip
        assert big.status_code == 413
        assert big.json()["error"]["status"] == 413
    with httpx.Client(base_url=server.url, headers=auth, timeout=10) as http:
        third = http.post("/chat", json={"message": QUESTION})
        assert third.headers["X-Cache"] == "hit"
        assert _left(third) == 0  # the 413 cost nothing
        assert http.post("/chat", json={"message": QUESTION}).status_code == 429
