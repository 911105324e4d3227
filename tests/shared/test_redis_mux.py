"""shared.redis_mux against the private redis-server: order, errors in place, failures, handshake.

The fixture server runs without the DEBUG command (redis 7 default), so a stalled server is
`CLIENT PAUSE <ms> ALL` from another client: Redis reads the mux's commands and answers none of
them until the pause ends, as a server stuck in DEBUG SLEEP would.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest
import redis
import uvloop
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoPermissionError, NoScriptError, ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from shared.redis_client import AsyncRedisClient, build_async_client
from shared.redis_mux import Multiplexer
from shared.settings import get_settings
from tests.fixtures.acl import AclUser
from tests.fixtures.tls import TlsRedis

T = TypeVar("T")
BOUND_S = 10.0  # no single step of these tests may wait longer


def _run(
    body: Callable[[Multiplexer, AsyncRedisClient], Awaitable[T]],
    url: str | None = None,
    *,
    socket_timeout_s: float | None = None,
    loop: str = "asyncio",
) -> T:
    """Run `body(mux, client)` on a fresh loop (`loop="uvloop"`: the one uvicorn runs the web
    on) with a client built like the web's lifespan does."""

    async def main() -> T:
        client = build_async_client(get_settings().conn, url, socket_timeout_s=socket_timeout_s)
        mux = Multiplexer(client)
        try:
            return await asyncio.wait_for(body(mux, client), BOUND_S)
        finally:
            await mux.aclose()
            await client.aclose()

    factory = uvloop.new_event_loop if loop == "uvloop" else None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main())


@pytest.fixture
def admin(redis_base_url: str) -> Iterator[redis.Redis]:
    """A plain client of DB 0 that the mux under test does not share."""
    with redis.Redis.from_url(f"{redis_base_url}/0", socket_timeout=BOUND_S) as client:
        yield client


def _pause_all(admin: redis.Redis, ms: int) -> None:
    admin.execute_command("CLIENT", "PAUSE", ms, "ALL")


def _wait_pause_over(admin: redis.Redis) -> None:
    """Return once the server answers again (a paused PING is answered when the pause ends)."""
    assert admin.ping()


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_concurrent_callers_each_get_their_own_replies_on_one_connection(loop: str) -> None:
    async def body(mux: Multiplexer, _: AsyncRedisClient) -> None:
        [first_id] = await mux.call(("CLIENT", "ID"))

        async def caller(i: int) -> list[Any]:
            key = f"t:mux:n:{i}"
            return await mux.call(("INCRBY", key, i + 1), ("SET", f"{key}:s", f"v{i}"),
                                  ("GET", f"{key}:s"), ("INCR", key))  # fmt: skip

        results = await asyncio.gather(*(caller(i) for i in range(200)))
        for i, replies in enumerate(results):
            assert replies == [i + 1, b"OK", f"v{i}".encode(), i + 2], i
        # Single-command callers interleaved with multi-command ones, twice more.
        again = await asyncio.gather(*(mux.call(("GET", f"t:mux:n:{i}:s")) for i in range(200)))
        assert again == [[f"v{i}".encode()] for i in range(200)]
        [last_id] = await mux.call(("CLIENT", "ID"))
        assert last_id == first_id  # every caller shared the one connection

    _run(body, loop=loop)


def test_error_replies_come_back_in_place_and_disturb_nothing(admin: redis.Redis) -> None:
    admin.set("t:mux:str", "text")
    unknown_sha = "0" * 40

    async def body(mux: Multiplexer, _: AsyncRedisClient) -> None:
        calls = [
            mux.call(("GET", "t:mux:str"), ("EVALSHA", unknown_sha, 0), ("INCR", "t:mux:c")),
            mux.call(("LPUSH", "t:mux:str", "x")),  # WRONGTYPE
            mux.call(("SET", "t:mux:other", "fine"), ("GET", "t:mux:other")),
            mux.call(("NOT-A-COMMAND",), ("INCR", "t:mux:c")),
        ]
        first, wrongtype, other, unknown = await asyncio.gather(*calls)
        assert first[0] == b"text"
        assert isinstance(first[1], NoScriptError)
        assert first[2] == 1
        [wrong] = wrongtype
        assert isinstance(wrong, ResponseError)
        assert str(wrong).startswith("WRONGTYPE")
        assert other == [b"OK", b"fine"]
        assert isinstance(unknown[0], ResponseError)
        assert unknown[1] == 2
        assert await mux.call(("GET", "t:mux:c")) == [b"2"]

    _run(body)
    assert admin.type("t:mux:str") == b"string"  # the refused LPUSH changed nothing


def test_a_guard_style_evalsha_and_mget_call_returns_both_replies(admin: redis.Redis) -> None:
    sha = admin.script_load("redis.call('INCR', KEYS[1]); return tonumber(ARGV[1]) * 2")
    admin.mset({"t:mux:a": "1", "t:mux:b": "2"})

    async def body(mux: Multiplexer, _: AsyncRedisClient) -> list[list[Any]]:
        read = ("MGET", "t:mux:a", "t:mux:missing", "t:mux:b")
        loaded = await mux.call(("EVALSHA", sha, 1, "t:mux:ran", 21), read)
        flushed = await mux.call(("SCRIPT", "FLUSH"))
        unloaded = await mux.call(("EVALSHA", sha, 1, "t:mux:ran", 21), read)
        return [loaded, flushed, unloaded]

    loaded, flushed, unloaded = _run(body)
    assert loaded == [42, [b"1", None, b"2"]]
    assert flushed == [b"OK"]
    assert len(unloaded) == 2
    assert isinstance(unloaded[0], NoScriptError)
    assert unloaded[1] == [b"1", None, b"2"]
    assert admin.get("t:mux:ran") == b"1"  # the script ran once: a NOSCRIPT ran nothing


def test_a_connection_killed_by_another_client_fails_at_most_one_call(
    admin: redis.Redis,
) -> None:
    async def body(mux: Multiplexer, _: AsyncRedisClient) -> tuple[int, int, list[Any]]:
        [old_id] = await mux.call(("CLIENT", "ID"))
        assert admin.execute_command("CLIENT", "KILL", "ID", old_id) == 1
        failures = 0
        for _attempt in range(5):
            try:
                replies = await mux.call(("CLIENT", "ID"), ("SET", "t:mux:k", "v"))
            except RedisConnectionError:
                failures += 1
                continue
            return failures, old_id, replies
        raise AssertionError(f"no call succeeded after the kill ({failures} failed)")

    failures, old_id, replies = _run(body)
    assert failures <= 1
    new_id, ok = replies
    assert ok == b"OK"
    assert new_id != old_id  # a new connection
    assert admin.get("t:mux:k") == b"v"


def test_callers_in_flight_when_the_server_drops_the_connection_get_connection_error(
    admin: redis.Redis,
) -> None:
    # The drop is deterministic when the connection kills itself: Redis answers the CLIENT KILL,
    # closes the connection and reads none of the commands written after it.
    async def body(mux: Multiplexer, _: AsyncRedisClient) -> list[Any]:
        [own_id] = await mux.call(("CLIENT", "ID"))
        outcomes: list[Any] = list(
            await asyncio.gather(
                mux.call(("CLIENT", "KILL", "ID", own_id, "SKIPME", "no")),
                mux.call(("SET", "t:mux:after", "1")),
                mux.call(("GET", "t:mux:x"), ("GET", "t:mux:y")),
                return_exceptions=True,
            )
        )
        assert outcomes[0] == [1]
        for outcome in outcomes[1:]:
            assert isinstance(outcome, RedisConnectionError), outcome
        outcomes.append(await mux.call(("CLIENT", "ID"), ("INCR", "t:mux:after")))
        return [own_id, *outcomes]

    own_id, *_, reconnected = _run(body)
    new_id, value = reconnected
    assert new_id != own_id
    assert value == 1  # the SET queued behind the kill never ran
    assert admin.get("t:mux:after") == b"1"


def test_a_stalled_server_fails_the_waiting_caller_with_timeout_error(
    admin: redis.Redis,
) -> None:
    async def body(mux: Multiplexer, _: AsyncRedisClient) -> tuple[int, list[Any]]:
        [old_id] = await mux.call(("CLIENT", "ID"))
        assert mux.timeout_s == pytest.approx(0.3)
        _pause_all(admin, 1000)
        waiting = [mux.call(("GET", "t:mux:a")), mux.call(("INCR", "t:mux:b"), ("PING",))]
        outcomes = await asyncio.gather(*waiting, return_exceptions=True)
        for outcome in outcomes:
            assert isinstance(outcome, RedisTimeoutError), outcome
        await asyncio.to_thread(_wait_pause_over, admin)
        return old_id, await mux.call(("CLIENT", "ID"), ("SET", "t:mux:a", "back"))

    old_id, (new_id, ok) = _run(body, socket_timeout_s=0.3)
    assert ok == b"OK"
    assert new_id != old_id  # the stalled connection was dropped, a fresh one made
    assert admin.get("t:mux:a") == b"back"


def test_a_caller_cancelled_while_waiting_does_not_shift_later_replies(
    admin: redis.Redis,
) -> None:
    admin.mset({f"t:mux:v{i}": f"value-{i}" for i in range(20)})

    async def body(mux: Multiplexer, _: AsyncRedisClient) -> list[Any]:
        await mux.call(("PING",))
        _pause_all(admin, 600)
        cancelled = [
            mux.call(("INCR", "t:mux:gone")),
            mux.call(("SET", "t:mux:gone2", "x"), ("GET", "t:mux:v0"), ("INCR", "t:mux:gone")),
        ]
        for call in cancelled:
            with pytest.raises(asyncio.TimeoutError):
                await asyncio.wait_for(call, 0.05)
        later = [mux.call(("GET", f"t:mux:v{i}"), ("ECHO", f"e{i}")) for i in range(20)]
        answers = await asyncio.gather(*later)
        return [*answers, await mux.call(("GET", "t:mux:gone"))]

    *later, gone = _run(body)
    assert later == [[f"value-{i}".encode(), f"e{i}".encode()] for i in range(20)]
    assert gone == [b"2"]  # the cancelled callers' commands ran; their replies went nowhere


def test_the_clients_db_index_and_name_are_honoured(redis_base_url: str) -> None:
    async def body(mux: Multiplexer, client: AsyncRedisClient) -> list[Any]:
        expected = client.connection_pool.connection_kwargs["client_name"]
        assert expected == f"chatbot-{os.getpid()}"
        return [expected, *await mux.call(("SET", "t:mux:db", "five"), ("CLIENT", "GETNAME"))]

    expected, ok, name = _run(body, f"{redis_base_url}/5")
    assert ok == b"OK"
    assert name == expected.encode()
    with (
        redis.Redis.from_url(f"{redis_base_url}/5") as db5,
        redis.Redis.from_url(f"{redis_base_url}/0") as db0,
    ):
        assert db5.get("t:mux:db") == b"five"
        assert db0.get("t:mux:db") is None


def test_after_aclose_calls_raise_connection_error(admin: redis.Redis) -> None:
    async def body(mux: Multiplexer, _: AsyncRedisClient) -> None:
        assert await mux.call(("PING",)) == [b"PONG"]
        _pause_all(admin, 500)
        in_flight = asyncio.ensure_future(mux.call(("GET", "t:mux:late")))
        await asyncio.sleep(0.05)  # written, unanswered
        await mux.aclose()
        with pytest.raises(RedisConnectionError):
            await in_flight
        with pytest.raises(RedisConnectionError):
            await mux.call(("PING",))

    _run(body)
    _wait_pause_over(admin)


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_the_mux_connects_over_tls(tls_env: TlsRedis, loop: str) -> None:
    async def body(mux: Multiplexer, client: AsyncRedisClient) -> list[Any]:
        assert client.connection_pool.connection_class.__name__ == "SSLConnection"
        return await mux.call(("SET", "t:mux:tls", "secure"), ("GET", "t:mux:tls"))

    assert _run(body, loop=loop) == [b"OK", b"secure"]  # the server has no plain-text port
    admin = tls_env.admin()
    try:
        assert admin.get("t:mux:tls") == b"secure"
    finally:
        admin.close()


def test_the_mux_logs_in_as_the_acl_user(acl_env: AclUser) -> None:
    async def body(mux: Multiplexer, _: AsyncRedisClient) -> list[Any]:
        return await mux.call(
            ("ACL", "WHOAMI"),
            ("SET", "t:mux:acl", "mine"),
            ("SET", "outside:prefix", "nope"),
            ("GET", "t:mux:acl"),
        )

    whoami, ok, outside, value = _run(body)
    assert whoami == acl_env.username.encode()
    assert ok == b"OK"
    assert isinstance(outside, NoPermissionError)  # in place, as every other error reply
    assert value == b"mine"
