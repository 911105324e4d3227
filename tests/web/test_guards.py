"""POST /chat behind the guards: headers, 429/410/503, one round trip, identities, fail modes."""

from __future__ import annotations

import contextlib
import hashlib
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
from fastapi.testclient import TestClient

from embedded_redis import free_port
from shared import lua
from shared.settings import reset_settings
from tests.web.conftest import drain

Token = Callable[..., str]


@contextlib.contextmanager
def _app(settings_env: pytest.MonkeyPatch, **env: str) -> Iterator[TestClient]:
    # A roomy guard timeout: the 2-core test machine is shared, and a timeout here would turn
    # into fail-open responses; the fail-mode tests set their own.
    env = {"GUARD_REDIS_TIMEOUT": "5", **env}
    for name, value in env.items():
        settings_env.setenv(name, value)
    reset_settings()
    from web.app import create_app  # noqa: PLC0415

    with TestClient(create_app(), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def small(settings_env: pytest.MonkeyPatch) -> Iterator[TestClient]:
    """3 requests per minute; token policy off unless a test turns it on."""
    with _app(settings_env, RATE_LIMIT_REQUESTS="3", TOKEN_LIMIT_PER_MINUTE="0") as client:
        yield client


def chat(client: TestClient, token: str | None = None, **body: Any) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post("/chat", json={"message": "hello there", **body}, headers=headers)


def test_admitted_chat_carries_ietf_ratelimit_headers(small: TestClient, token: Token) -> None:
    response = chat(small, token())
    assert response.status_code == 200
    assert response.json()["reply"].startswith("[DEMO")
    assert response.headers["RateLimit-Policy"] == '"minute";q=3;w=60'
    assert response.headers["RateLimit"] == '"minute";r=2;t=20'


def test_over_the_limit_is_429_with_integer_retry_after_and_json(
    small: TestClient, token: Token
) -> None:
    for _ in range(3):
        assert chat(small, token()).status_code == 200
    response = chat(small, token())
    assert response.status_code == 429
    assert re.fullmatch(r"[1-9][0-9]*", response.headers["Retry-After"])
    assert int(response.headers["Retry-After"]) <= 20
    assert "minute" in response.json()["error"]["message"]
    assert response.headers["RateLimit"].startswith('"minute";r=0;')


def test_identities_never_affect_each_other(small: TestClient, token: Token) -> None:
    for _ in range(4):
        chat(small, token("alice"))
    assert chat(small, token("alice")).status_code == 429
    assert chat(small, token("bob")).status_code == 200
    assert chat(small).status_code == 200  # anonymous: by address


def test_spoofed_forwarded_for_from_an_untrusted_peer_is_ignored(small: TestClient) -> None:
    codes = [
        small.post(
            "/chat", json={"message": "hi"}, headers={"X-Forwarded-For": f"10.0.0.{i}"}
        ).status_code
        for i in range(5)
    ]
    assert codes == [200, 200, 200, 429, 429]


def test_bad_or_expired_token_is_401_json(small: TestClient, token: Token) -> None:
    bad = small.post("/chat", json={"message": "hi"}, headers={"Authorization": "Bearer nope"})
    expired = chat(small, token(ttl_s=-10))
    for response in (bad, expired):
        assert response.status_code == 401
        assert response.json()["error"]["status"] == 401


def test_malformed_json_is_422(small: TestClient) -> None:
    response = small.post(
        "/chat", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["status"] == 422
    assert small.post("/chat", json={"message": ""}).status_code == 422


GUARD_KEYS = re.compile(r"t:(rl|sess):")


def _sha(name: str) -> str:
    return hashlib.sha1(lua.source(name).encode()).hexdigest()


def _monitor(redis_base_url: str, action: Callable[[], Any]) -> list[str]:
    """Every command clients sent while `action` ran (MONITOR; script internals excluded)."""
    end = f"end-{threading.get_ident()}"
    seen: list[str] = []
    with redis.Redis.from_url(f"{redis_base_url}/0") as watcher, watcher.monitor() as m:

        def collect() -> None:
            for event in m.listen():
                if end in event["command"]:
                    return
                handshake = event["command"].startswith(("HELLO", "CLIENT SETINFO"))
                if event.get("client_type") != "lua" and not handshake:  # not in a script
                    seen.append(event["command"])

        reader = threading.Thread(target=collect, daemon=True)
        reader.start()
        action()
        with redis.Redis.from_url(f"{redis_base_url}/0") as poke:
            poke.echo(end)
        reader.join(timeout=10)
        assert not reader.is_alive()
    return seen


def _guard_work(commands: list[str]) -> tuple[int, int, list[str]]:
    """(guard script calls, settle script calls, other commands that touch guard keys)."""
    guard, settle = _sha("guard"), _sha("guard_settle")
    n_guard = sum(c.startswith(f"EVALSHA {guard}") for c in commands)
    n_settle = sum(c.startswith(f"EVALSHA {settle}") for c in commands)
    others = [c for c in commands if GUARD_KEYS.search(c) and not c.startswith("EVALSHA")]
    return n_guard, n_settle, others


def test_all_guards_of_a_chat_cost_one_round_trip(
    settings_env: pytest.MonkeyPatch, redis_base_url: str, token: Token
) -> None:
    with _app(settings_env, TOKEN_LIMIT_PER_MINUTE="0", RATE_LIMIT_DAILY_REQUESTS="1000") as client:
        sid = client.post("/sessions", headers={"Authorization": f"Bearer {token()}"}).json()[
            "session_id"
        ]
        chat(client, token(), session_id=sid)  # connect and load the script first
        responses: list[Any] = []
        commands = _monitor(
            redis_base_url, lambda: responses.append(chat(client, token(), session_id=sid))
        )
        assert responses[0].status_code == 200
        # minute + day policies and the session check: one EVALSHA, nothing else on their keys
        assert _guard_work(commands) == (1, 0, [])
        guard_call = next(c for c in commands if c.startswith(f"EVALSHA {_sha('guard')}"))
        assert guard_call.count("t:rl:") == 2
        assert guard_call.count("t:sess:") == 1


def _round_trips(r: redis.Redis, action: Callable[[], Any]) -> int:
    """Round trips clients made while `action` ran: replies Redis wrote (one write per round
    trip, a pipeline's replies included), less the one of the INFO that reads the counter."""

    def writes() -> int:
        return int(r.info("stats")["total_writes_processed"])

    before = writes()
    action()
    return writes() - before - 1


def test_a_cache_hit_costs_one_round_trip_and_reserves_nothing(
    settings_env: pytest.MonkeyPatch, redis_base_url: str, r: redis.Redis, token: Token
) -> None:
    with _app(
        settings_env, TOKEN_LIMIT_PER_MINUTE="10000", TOKEN_LIMIT_MODEL_PER_MINUTE="5000",
        RATE_LIMIT_DAILY_REQUESTS="1000",
        WEB_WRITE_BEHIND_INTERVAL_MS="1000",  # only `drain` flushes: the request path alone
    ) as client:  # fmt: skip
        auth = {"Authorization": f"Bearer {token()}"}
        sid = client.post("/sessions", headers=auth).json()["session_id"]
        assert chat(client, token(), session_id=sid).headers["X-Cache"] == "miss"
        drain(client)
        responses: list[Any] = []
        commands = _monitor(
            redis_base_url, lambda: responses.append(chat(client, token(), session_id=sid))
        )
        assert responses[0].headers["X-Cache"] == "hit"
        # Two tokens policies peeked, minute + day charged, the session checked: one EVALSHA,
        # and the cache's MGET beside it; no reservation record, no settle.
        assert len(commands) == 2, commands
        assert commands[0].startswith(f"EVALSHA {_sha('guard')}")
        assert commands[0].count("t:rl:") == 4
        assert commands[1].startswith("MGET")
        assert responses[0].headers["RateLimit"].startswith('"tokens";r=')
        drain(client)
        trips = _round_trips(r, lambda: responses.append(chat(client, token(), session_id=sid)))
        assert responses[-1].headers["X-Cache"] == "hit"
        assert trips == 1
        # The hit's counters and analytics event leave later, as one pipeline per flush.
        assert _round_trips(r, lambda: drain(client)) == 1
        assert not list(r.scan_iter(match="t:rl:*:res:*"))
        assert r.xlen("t:{an}:events") == 3


def test_a_miss_reserves_its_tokens_and_settles_through_the_buffer(
    settings_env: pytest.MonkeyPatch, redis_base_url: str, r: redis.Redis, token: Token
) -> None:
    with _app(
        settings_env, TOKEN_LIMIT_PER_MINUTE="10000", TOKEN_LIMIT_MODEL_PER_MINUTE="5000"
    ) as client:
        chat(client, token(), message="warm up")  # connect and load both scripts first
        drain(client)
        r.script_load(lua.source("guard_settle"))
        responses: list[Any] = []
        commands = _monitor(
            redis_base_url,
            lambda: (responses.append(chat(client, token(), model="gpt-x")), drain(client)),
        )
        assert responses[0].status_code == 200
        assert responses[0].headers["X-Cache"] == "miss"
        # the peek with the cache lookup, the reservation before the model call, the settle
        # after the answer (from the buffer)
        assert _guard_work(commands) == (2, 1, [])
        policy = responses[0].headers["RateLimit-Policy"]
        assert '"tokens";q=10000;w=60;qu="tokens"' in policy
        assert '"model_tokens";q=5000;w=60;qu="tokens"' in policy
        assert not list(r.scan_iter(match="t:rl:*:res:*"))  # settled: no reservation left


def test_settle_refunds_the_unused_estimate(settings_env: pytest.MonkeyPatch, token: Token) -> None:
    with _app(
        settings_env, TOKEN_LIMIT_PER_MINUTE="1000", TOKEN_ESTIMATE_COMPLETION="500"
    ) as client:
        first = chat(client, token())
        assert first.headers["RateLimit"].startswith('"tokens";r=497;')  # 3 + 500 reserved
        used = sum(first.json()["usage"].values())
        drain(client)  # the settle leaves through the write-behind buffer
        # another question (a miss reserves): refused (2 x 503 > 1000) without the refund
        second = chat(client, token(), message="hello again")
        assert second.status_code == 200
        remaining = int(re.search(r'"tokens";r=(\d+)', second.headers["RateLimit"])[1])
        # the first request now costs only what it used; +a few: tokens regained meanwhile
        assert 1000 - used - 503 <= remaining <= 1000 - used - 503 + 5


def test_a_request_above_the_token_limit_is_refused_without_retry_after(
    settings_env: pytest.MonkeyPatch, token: Token
) -> None:
    with _app(settings_env, TOKEN_LIMIT_PER_MINUTE="300") as client:
        response = chat(client, token(), message="x" * 4000)
        assert response.status_code == 429
        assert "Retry-After" not in response.headers
        assert "never be admitted" in response.json()["error"]["message"]
        assert chat(client, token()).status_code == 200  # nothing was charged


def test_lost_session_is_410_and_charges_nothing(small: TestClient, token: Token) -> None:
    auth = {"Authorization": f"Bearer {token()}"}
    sid = small.post("/sessions", headers=auth).json()["session_id"]
    assert chat(small, token(), session_id=sid).status_code == 200
    assert small.delete(f"/sessions/{sid}", headers=auth).status_code == 204
    lost = chat(small, token(), session_id=sid)
    assert lost.status_code == 410
    assert "session lost" in lost.json()["error"]["message"]
    assert chat(small, token()).headers["RateLimit"] == '"minute";r=1;t=40'


def test_shadow_mode_counts_but_never_blocks(
    settings_env: pytest.MonkeyPatch, token: Token
) -> None:
    with _app(
        settings_env, RATE_LIMIT_REQUESTS="2", RATE_LIMIT_MODE="shadow", TOKEN_LIMIT_PER_MINUTE="0"
    ) as client:
        assert [chat(client, token("shadowy")).status_code for _ in range(4)] == [200] * 4
        text = client.get("/metrics").text
        assert re.search(
            r'chatbot_rate_limit_decisions_total\{mode="shadow",outcome="rejected",policy="minute"\}'
            r" ([0-9.]+)",
            text,
        )


def test_master_switch_off_skips_the_guard_round_trip(
    settings_env: pytest.MonkeyPatch, redis_base_url: str
) -> None:
    with _app(settings_env, RATE_LIMIT_ENABLED="false") as client:
        chat(client)
        responses: list[Any] = []
        commands = _monitor(redis_base_url, lambda: responses.append(chat(client)))
        assert responses[0].status_code == 200
        assert "RateLimit" not in responses[0].headers
        assert _guard_work(commands) == (0, 0, [])


def test_per_user_override(settings_env: pytest.MonkeyPatch, token: Token) -> None:
    overrides = (
        '{"users": {"vip": {"minute": {"limit": 10}}}, "tenants": {"acme": '
        '{"minute": {"limit": 1}}}}'
    )
    with _app(
        settings_env,
        RATE_LIMIT_REQUESTS="2",
        RATE_LIMIT_OVERRIDES=overrides,
        TOKEN_LIMIT_PER_MINUTE="0",
    ) as client:
        assert chat(client, token("vip")).headers["RateLimit-Policy"] == '"minute";q=10;w=60'
        assert chat(client, token("worker", tenant="acme")).status_code == 200
        assert chat(client, token("worker", tenant="acme")).status_code == 429
        assert chat(client, token("plain")).headers["RateLimit-Policy"] == '"minute";q=2;w=60'


@pytest.mark.parametrize(("fail_mode", "status"), [("open", 200), ("closed", 503)])
def test_redis_down_applies_the_fail_mode_and_logs_once(
    settings_env: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, fail_mode: str, status: int
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/0"
    with _app(
        settings_env,
        REDIS_URL=dead,
        RATE_LIMIT_FAIL_MODE=fail_mode,
        TOKEN_LIMIT_PER_MINUTE="0",
        GUARD_REDIS_TIMEOUT="0.5",
        CACHE_ENABLED="false",  # another domain, with its own failure handling
    ) as client:
        responses = [chat(client) for _ in range(3)]
        assert [x.status_code for x in responses] == [status] * 3
        if status == 503:
            assert responses[0].headers["Retry-After"] == "1"
        else:
            assert responses[0].headers["RateLimit-Policy"] == '"minute";q=100;w=60'
            assert "RateLimit" not in responses[0].headers
    unavailable = [rec for rec in caplog.records if "guard store unavailable" in rec.message]
    assert len(unavailable) <= 1  # once per incident (0 when an earlier test left it open)
    from web.admission import INCIDENT  # noqa: PLC0415

    assert INCIDENT.failures >= 3
    INCIDENT.ok()


def test_bucket_keys_are_readable_for_plain_ids_and_hashed_for_hostile_ones(
    small: TestClient, token: Token, r: redis.Redis
) -> None:
    chat(small, token("alice"))
    chat(small, token("*{u:x}:[y]?" + "z" * 5000))
    chat(small)
    found = sorted(k.decode() for k in r.scan_iter(match="t:rl:*"))
    assert "t:rl:{u:u.alice}:minute" in found
    assert "t:rl:{u:ip.testclient}:minute" in found
    hostile = [k for k in found if k.startswith("t:rl:{u:~")]
    assert len(hostile) == 1
    assert hostile[0].count("{") == 1
    assert len(hostile[0]) < 60
