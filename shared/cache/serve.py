"""The request path of the cache (asyncio client): lookup, single-flight fill, stale refresh.

Round trips, by outcome (none of the lookup's when the caller passes `looked_up`, an MGET it
pipelined with its own work, as the web's guards do):
- hit: 1 (MGET of the entry and, for a per-user key, the user's generation: one slot).
- stale: 2 (the lookup, then SET NX of the refresh marker; the winner enqueues one refresh).
- miss: 3 (the lookup, SET NX of the fill marker, then the store pipeline after generating).
  Concurrent misses of the same key lose the SET NX and poll the entry (bounded by
  CACHE_FILL_WAIT) instead of generating: one generation per key, however many callers.
The hit/stale counters are written by the caller after answering (`count`, or `queue_served`
on a pipeline the caller batches), off the latency path.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from redis.exceptions import RedisError

from shared import keys
from shared.cache.entry import CacheKey, Envelope, Status, Verdict, judge
from shared.cache.store import envelope_for, queue_count, queue_store
from shared.redis_client import AsyncRedisClient, as_bytes
from shared.responder import Reply
from shared.settings.cache import CacheSettings

log = logging.getLogger(__name__)
_POLL_FIRST_S = 0.01
_POLL_MAX_S = 0.1


@dataclass(frozen=True)
class Served:
    status: Status
    reply: Reply
    envelope: Envelope | None = None


def reply_of(envelope: Envelope) -> Reply:
    return Reply(envelope.response, envelope.prompt_tokens, envelope.completion_tokens)


async def lookup(client: AsyncRedisClient, key: CacheKey, now: float) -> tuple[Verdict, int]:
    """One MGET; the verdict and the user's current generation (0 for global keys)."""
    return read(key, await client.mget(key.read_keys()), now)


def read(key: CacheKey, replies: list[Any], now: float) -> tuple[Verdict, int]:
    """The verdict and generation from the MGET of `key.read_keys()` (no I/O): for a caller
    that pipelined the lookup with other work."""
    replies = as_bytes(replies)
    gen = int(replies[1] or 0) if len(replies) > 1 else 0
    return judge(key, replies, now), gen


async def _claim(client: AsyncRedisClient, marker: str, settings: CacheSettings) -> bool:
    return bool(await client.set(marker, b"1", nx=True, px=int(settings.flight_ttl_s * 1000)))


async def _generate_and_store(
    client: AsyncRedisClient,
    *,
    key: CacheKey,
    gen: int,
    marker: str,
    generate: Callable[[], Awaitable[Reply]],
    settings: CacheSettings,
) -> Reply:
    try:
        reply = await generate()
    except BaseException:
        await client.delete(marker)  # let a waiting caller take over at once
        raise
    envelope = envelope_for(key, reply, source="live", now=time.time(), settings=settings)
    try:
        async with client.pipeline(transaction=False) as pipe:
            queue_store(
                pipe, key, envelope, gen=gen, settings=settings, count_miss=True,
                release_flight=marker,
            )  # fmt: skip
            await pipe.execute()
    except RedisError as exc:  # the answer exists: a failed store must not fail the request
        log.warning("cache store failed: %s", type(exc).__name__)
    return reply


async def _wait_for_fill(
    client: AsyncRedisClient, key: CacheKey, marker: str, deadline: float
) -> tuple[Verdict, bool]:
    """Poll until the entry appears or the marker goes; (verdict, marker still held)."""
    delay = _POLL_FIRST_S
    while True:
        await asyncio.sleep(delay)
        delay = min(delay * 2, _POLL_MAX_S)
        async with client.pipeline(transaction=False) as pipe:
            pipe.mget(key.read_keys())
            pipe.exists(marker)
            replies, held = await pipe.execute()
        verdict = judge(key, replies, time.time())
        if verdict.status != "miss" or not held or time.monotonic() >= deadline:
            return verdict, bool(held)


async def answer(
    client: AsyncRedisClient,
    key: CacheKey,
    generate: Callable[[], Awaitable[Reply]],
    refresh: Callable[[], Awaitable[bool]],
    settings: CacheSettings,
    *,
    on_wait: Callable[[], None] | None = None,
    looked_up: list[Any] | None = None,
) -> Served:
    """Serve `key` from the cache, generating it at most once across concurrent callers.

    `refresh()` enqueues one background refresh of a stale entry (True when enqueued); it is
    called by at most one caller per entry per CACHE_FLIGHT_TTL. `on_wait` is told when this
    caller waits for another's generation instead of generating. `looked_up`: the replies of
    an MGET of `key.read_keys()` the caller already made (then a hit costs no round trip here).
    """
    if looked_up is None:
        verdict, gen = await lookup(client, key, time.time())
    else:
        verdict, gen = read(key, looked_up, time.time())
    if verdict.envelope is not None:
        if verdict.status == "stale":
            marker = keys.cache_flight("refresh", key.entry)
            if await _claim(client, marker, settings) and not await refresh():
                await client.delete(marker)  # broker down: a later request tries again
        return Served(verdict.status, reply_of(verdict.envelope), verdict.envelope)
    marker = keys.cache_flight("fill", key.entry)
    deadline = time.monotonic() + settings.fill_wait_s
    while not await _claim(client, marker, settings):
        if on_wait is not None:
            on_wait()
        waited, held = await _wait_for_fill(client, key, marker, deadline)
        if waited.envelope is not None:
            return Served("hit", reply_of(waited.envelope), waited.envelope)
        if held:  # the generator is too slow: answer this caller without the cache
            return Served("miss", await generate())
    return Served(
        "miss",
        await _generate_and_store(
            client, key=key, gen=gen, marker=marker, generate=generate, settings=settings
        ),
    )


async def count(client: AsyncRedisClient, key: CacheKey, served: Served) -> None:
    """Record the lookup in the app-level counters (one pipeline; misses were counted by the
    store). Meant to run after the answer is sent."""
    if served.status == "miss":
        return
    async with client.pipeline(transaction=False) as pipe:
        queue_served(pipe, key, served)
        await pipe.execute()


def queue_served(pipe: Any, key: CacheKey, served: Served) -> None:
    """Queue the counters of a hit or stale answer on `pipe` (a miss queues nothing: the store
    counted it). For callers that batch writes after answering (the web's write-behind)."""
    if served.status == "miss":
        return
    source = served.envelope.source if served.envelope is not None else None
    queue_count(pipe, served.status, source, key.qhash)
