"""The request path: hit/miss, single-flight fill (stampede), stale-while-revalidate, counters."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import redis

from shared import keys
from shared.cache import serve
from shared.cache.entry import CacheKey
from shared.cache.store import hit_rate, read_stats, store_reply
from shared.responder import Reply
from shared.settings import get_settings
from tests.shared.cache.conftest import Counting

Run = Callable[[Callable[[Any], Any]], Any]


def _key(user: str | None = None, text: str = "How do refunds work?") -> CacheKey:
    return CacheKey.build(text, "demo", template_version="v1", user_id=user)


async def _no_refresh() -> bool:
    raise AssertionError("no refresh expected")


def test_miss_then_hit_and_counters(r: redis.Redis, run_async: Run) -> None:
    cs = get_settings().cache
    gen = Counting()
    key = _key()

    async def flow(client: Any) -> list[str]:
        out = []
        for _ in range(3):
            served = await serve.answer(client, key, gen, _no_refresh, cs)
            await serve.count(client, key, served)
            out.append(served.status)
        return out

    assert run_async(flow) == ["miss", "hit", "hit"]
    assert gen.calls == 1
    stats = read_stats(r)
    assert stats == {"miss": 1, "hit:live": 2}
    assert hit_rate(stats) == (2 / 3, 3)
    assert r.get(keys.cache_query_text(key.qhash)) is not None
    assert r.zscore(keys.cache_hits(), key.qhash) == 3
    assert not r.exists(keys.cache_flight("fill", key.entry))
    ttl_ms = r.pttl(key.entry)
    hard_max = (cs.ttl_s * (1 + cs.jitter_ratio) + cs.stale_ttl_s) * 1000
    assert 0 < ttl_ms <= hard_max


def test_stampede_of_50_misses_generates_once(r: redis.Redis, run_async: Run) -> None:
    cs = get_settings().cache
    key = _key()
    calls = 0
    waiting = 0
    all_waiting = asyncio.Event()

    async def slow_generate() -> Reply:
        nonlocal calls
        calls += 1
        # Hold the generation until the 49 other callers are provably waiting for it.
        await asyncio.wait_for(all_waiting.wait(), timeout=30)
        return Reply("the one answer", 1, 1)

    def on_wait() -> None:
        nonlocal waiting
        waiting += 1
        if waiting >= 49:
            all_waiting.set()

    async def flow(client: Any) -> list[serve.Served]:
        return list(
            await asyncio.gather(
                *(
                    serve.answer(client, key, slow_generate, _no_refresh, cs, on_wait=on_wait)
                    for _ in range(50)
                )
            )
        )

    served = run_async(flow)
    assert calls == 1
    assert sorted(s.status for s in served) == ["hit"] * 49 + ["miss"]
    assert {s.reply.text for s in served} == {"the one answer"}


def test_failed_generation_releases_the_fill_marker(r: redis.Redis, run_async: Run) -> None:
    cs = get_settings().cache
    key = _key()

    async def boom() -> Reply:
        raise RuntimeError("llm down")

    async def flow(client: Any) -> str:
        try:
            await serve.answer(client, key, boom, _no_refresh, cs)
        except RuntimeError as exc:
            return str(exc)
        return "no error"

    assert run_async(flow) == "llm down"
    assert not r.exists(keys.cache_flight("fill", key.entry))
    assert not r.exists(key.entry)


def test_stale_is_served_and_refreshed_once(r: redis.Redis, run_async: Run) -> None:
    cs = get_settings().cache
    key = _key()
    past = time.time() - cs.ttl_s * 2  # soft TTL long gone, hard TTL counted from now
    store_reply(r, key, Reply("old answer", 1, 1), source="warmup", now=past, settings=cs)
    refreshes = 0

    async def refresh() -> bool:
        nonlocal refreshes
        refreshes += 1
        return True

    async def flow(client: Any) -> list[serve.Served]:
        gen = Counting()
        got = await asyncio.gather(
            *(serve.answer(client, key, gen, refresh, cs) for _ in range(20))
        )
        assert gen.calls == 0
        for s in got:
            await serve.count(client, key, s)
        return list(got)

    served = run_async(flow)
    assert {s.status for s in served} == {"stale"}
    assert {s.reply.text for s in served} == {"old answer"}
    assert refreshes == 1
    assert read_stats(r) == {"stale:warmup": 20}
    # The refresh task deletes the marker when it stores; after that the next stale read may
    # enqueue again.
    r.delete(keys.cache_flight("refresh", key.entry))
    run_async(lambda client: serve.answer(client, key, Counting(), refresh, cs))
    assert refreshes == 2


def test_refresh_that_cannot_be_enqueued_is_retried_later(r: redis.Redis, run_async: Run) -> None:
    cs = get_settings().cache
    key = _key()
    store_reply(
        r, key, Reply("old", 1, 1), source="live", now=time.time() - 2 * cs.ttl_s, settings=cs
    )
    attempts = 0

    async def broker_down() -> bool:
        nonlocal attempts
        attempts += 1
        return False

    for _ in range(3):
        served = run_async(lambda client: serve.answer(client, key, Counting(), broker_down, cs))
        assert served.status == "stale"
    assert attempts == 3
    assert not r.exists(keys.cache_flight("refresh", key.entry))


def test_user_scope_is_checked_and_generation_bump_hides_everything(
    r: redis.Redis, run_async: Run
) -> None:
    from shared.cache.invalidate import bump_user  # noqa: PLC0415

    cs = get_settings().cache
    alice, bob = _key("alice"), _key("bob")
    store_reply(r, alice, Reply("alice's", 1, 1), source="live", now=time.time(), settings=cs)
    assert run_async(lambda c: serve.lookup(c, alice, time.time()))[0].status == "hit"
    assert run_async(lambda c: serve.lookup(c, bob, time.time()))[0].status == "miss"
    # A forged entry: alice's bytes copied under bob's key is refused by the user check.
    r.set(bob.entry, r.get(alice.entry) or b"")
    assert run_async(lambda c: serve.lookup(c, bob, time.time()))[0].status == "miss"
    bump_user(r, "alice", cs)
    assert run_async(lambda c: serve.lookup(c, alice, time.time()))[0].status == "miss"
    # A store after the bump carries the new generation and is served again.
    store_reply(r, alice, Reply("new", 1, 1), source="live", now=time.time(), settings=cs)
    verdict, gen = run_async(lambda c: serve.lookup(c, alice, time.time()))
    assert (verdict.status, gen) == ("hit", 1)
