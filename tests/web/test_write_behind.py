"""The write-behind buffer: one pipeline per flush, bounded with counted drops, scripts that
survive a SCRIPT FLUSH; and the whole /chat cycle through it on standalone and on a cluster."""

from __future__ import annotations

import asyncio
import dataclasses
import re
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import pytest
import redis
from fastapi.testclient import TestClient

from shared import keys
from shared.cache.store import read_stats
from shared.guards import gcra
from shared.guards.policies import Charge, Policy
from shared.redis_client import build_async_client
from shared.settings import get_settings, reset_settings
from tests.web.conftest import drain
from web.write_behind import Write, WriteBehind

T = TypeVar("T")


def _run(body: Callable[[Any], Awaitable[T]]) -> T:
    async def main() -> T:
        client = build_async_client(get_settings().conn)
        try:
            return await body(client)
        finally:
            await client.aclose()

    return asyncio.run(main())


def _settings(**changes: Any) -> Any:
    return dataclasses.replace(get_settings().web, **changes)


def _incr(n: int) -> Write:
    return Write("count", queue=lambda pipe: pipe.incrby("t:wb:n", n))


def test_many_writes_leave_as_one_pipeline_per_flush(r: redis.Redis) -> None:
    async def body(client: Any) -> int:
        buffer = WriteBehind(client, _settings(write_behind_interval_ms=10_000))
        await client.ping()
        for i in range(200):
            assert buffer.add(_incr(i))
        before = r.info("stats")["total_writes_processed"]
        await buffer.drain()
        return int(r.info("stats")["total_writes_processed"]) - before - 1

    assert _run(body) == 1  # 200 writes, one round trip
    assert int(r.get("t:wb:n") or 0) == sum(range(200))


def test_a_full_buffer_drops_new_writes_and_counts_them(r: redis.Redis) -> None:
    from web.metrics import REGISTRY  # noqa: PLC0415

    def dropped() -> float:
        return (
            REGISTRY.get_sample_value("chatbot_write_behind_dropped_total", {"kind": "count"}) or 0
        )

    before = dropped()

    async def body(client: Any) -> list[bool]:
        buffer = WriteBehind(
            client, _settings(write_behind_interval_ms=10_000, write_behind_capacity=5)
        )
        taken = [buffer.add(_incr(1)) for _ in range(8)]
        await buffer.drain()
        return taken

    assert _run(body) == [True] * 5 + [False] * 3
    assert dropped() - before == 3
    assert int(r.get("t:wb:n") or 0) == 5


def test_the_batch_size_flushes_without_waiting_for_the_timer(r: redis.Redis) -> None:
    async def body(client: Any) -> int:
        buffer = WriteBehind(
            client, _settings(write_behind_interval_ms=10_000, write_behind_batch=4)
        )
        for _ in range(4):
            buffer.add(_incr(1))
        for _ in range(100):  # the 10 s timer never fires within this test
            await asyncio.sleep(0.01)
            if int(r.get("t:wb:n") or 0) == 4:
                return 4
        return int(r.get("t:wb:n") or 0)

    assert _run(body) == 4


def test_a_settle_after_a_script_flush_is_still_applied(r: redis.Redis) -> None:
    policy = Policy("tokens", 1000, 60.0, unit="tokens")
    charge = Charge(policy, keys.rate_limit("u.z", "tokens"), 100)
    reservation = keys.rate_reservation("u.z", "r1")
    call = gcra.GuardCall([charge], reservation_key=reservation, reservation_ttl_ms=60_000)

    async def body(client: Any) -> None:
        await gcra.acheck(client, call)
        r.script_flush()
        buffer = WriteBehind(client, _settings(write_behind_interval_ms=10_000))
        buffer.add(Write("settle", script=gcra.settle_script([charge], reservation, 10)))
        await buffer.drain()

    _run(body)
    assert not r.exists(reservation)  # settled: NOSCRIPT ran nothing, so it was sent again


def test_the_chat_cycle_through_the_buffer_on_both_data_planes(
    data_plane: Any, settings_env: pytest.MonkeyPatch, token: Callable[..., str]
) -> None:
    settings_env.setenv("TOKEN_LIMIT_PER_MINUTE", "10000")
    settings_env.setenv("WEB_WRITE_BEHIND_INTERVAL_MS", "10000")
    reset_settings()
    from web.app import create_app  # noqa: PLC0415

    headers = {"Authorization": f"Bearer {token('carol')}"}
    with TestClient(create_app(), raise_server_exceptions=False) as client:
        miss = client.post("/chat", json={"message": "what is a slot"}, headers=headers)
        hit = client.post("/chat", json={"message": "What is a slot?"}, headers=headers)
        assert [miss.headers["X-Cache"], hit.headers["X-Cache"]] == ["miss", "hit"]
        left = int(re.search(r'"tokens";r=(\d+)', hit.headers["RateLimit"])[1])  # type: ignore[index]
        assert left < 10000  # the miss's reservation is still charged: not settled yet
        assert data_plane.xlen(keys.events_stream()) == 0  # buffered
        drain(client)
    assert data_plane.xlen(keys.events_stream()) == 2
    assert read_stats(data_plane) == {"miss": 1, "hit:live": 1}
    reservations = keys.rate_limit("u.carol", "res:") + "*"
    assert not list(data_plane.scan_iter(match=reservations))  # the miss was settled
