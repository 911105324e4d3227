"""cache.warmup's body: regenerate the most popular answers that are missing or near expiry.

Generation goes through the same `ChatModel` as the web (CHAT_RESPONDER: the provider adapter,
or a sync responder in threads), CACHE_WARMUP_CONCURRENCY answers at a time, inside the one
warmup task, so no subtask result is ever waited on. A provider 429 makes every generator of
the run wait out its Retry-After before the next call (a few retries each): warmup is the
work that can wait, and must not eat the rate limit of live traffic. Each finished chunk is
stored in one pipeline with jittered TTLs. The report goes to the `cache_warmup` snapshot.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from shared import snapshots
from shared.cache.entry import CacheKey
from shared.cache.popularity import Popular, decay_hits, record_history, top_queries
from shared.cache.store import current_generation, envelope_for, queue_store
from shared.pipeline import AnyPipeline, chunked, execute_chunked
from shared.provider.errors import ProviderError
from shared.redis_client import RedisClient
from shared.responder import ChatModel, Reply, Responder, SyncChatModel
from shared.settings import Settings

log = logging.getLogger(__name__)
SNAPSHOT_NAME = "cache_warmup"
RATE_LIMIT_RETRIES = 3
BACKOFF_DEFAULT_S = 1.0  # a 429 without Retry-After
BACKOFF_MAX_S = 30.0


def key_of(p: Popular, settings: Settings) -> CacheKey:
    return CacheKey(p.text or "", p.model or "", settings.cache.template_version)


def needs_warming(pttl_ms: int, settings: Settings) -> bool:
    """Missing, or less than CACHE_WARMUP_NEAR_EXPIRY of the soft TTL left."""
    if pttl_ms < 0:  # -2 missing; -1 would be an entry without TTL, which we never write
        return True
    soft_left_ms = pttl_ms - settings.cache.stale_ttl_s * 1000
    return soft_left_ms < settings.cache.warmup_near_expiry_ratio * settings.cache.ttl_s * 1000


def _queue_pttl(pipe: AnyPipeline, key: CacheKey) -> None:
    pipe.pttl(key.entry)


class _Generator:
    """Bounded, rate-limit-aware generation of one warmup run (one event loop)."""

    def __init__(self, model: ChatModel, concurrency: int) -> None:
        self.model = model
        self.slots = asyncio.Semaphore(concurrency)
        self.resume_at = 0.0  # monotonic: no call before this (set by a 429)

    async def one(self, key: CacheKey) -> tuple[CacheKey, Reply | None]:
        async with self.slots:
            for _ in range(RATE_LIMIT_RETRIES + 1):
                if (wait := self.resume_at - time.monotonic()) > 0:
                    await asyncio.sleep(wait)
                try:
                    return key, await self.model.complete(key.normalized, key.model)
                except ProviderError as exc:
                    if exc.kind != "rate_limited":
                        break
                    wait = min(BACKOFF_MAX_S, exc.retry_after_s or BACKOFF_DEFAULT_S)
                    self.resume_at = max(self.resume_at, time.monotonic() + wait)
                except Exception:  # one bad answer must not stop the warmup
                    log.exception("warmup: responder failed for query %s", key.qhash)
                    return key, None
            log.warning("warmup: provider refused query %s", key.qhash)
            return key, None

    async def chunk(self, keys: list[CacheKey]) -> list[tuple[CacheKey, Reply | None]]:
        return list(await asyncio.gather(*(self.one(k) for k in keys)))


def run(
    client: RedisClient,
    responder: Responder | ChatModel,
    settings: Settings,
    *,
    now: float | None = None,
) -> dict[str, Any]:
    """One warmup run; returns (and snapshots) the report."""
    model = responder if isinstance(responder, ChatModel) else SyncChatModel(responder)
    return asyncio.run(_run(client, model, settings, now))


async def _run(
    client: RedisClient, model: ChatModel, settings: Settings, now: float | None
) -> dict[str, Any]:
    started = time.monotonic()
    cs = settings.cache
    source, popular = top_queries(client, cs.warmup_top_n)
    known = [p for p in popular if p.text is not None and p.model is not None]
    candidates = [key_of(p, settings) for p in known]
    ttls = execute_chunked(client, candidates, _queue_pttl)
    todo = [k for k, ttl in zip(candidates, ttls, strict=True) if needs_warming(int(ttl), settings)]
    generated = failed = 0
    generator = _Generator(model, cs.warmup_concurrency)
    try:
        for part in chunked(todo, cs.warmup_concurrency * 4):
            results = await generator.chunk(part)
            stamp = time.time() if now is None else now
            # The stores are sync on purpose: nothing of this run is in flight between chunks.
            with client.pipeline(transaction=False) as pipe:
                for key, reply in results:
                    if reply is None:
                        failed += 1
                        continue
                    env = envelope_for(key, reply, source="warmup", now=stamp, settings=cs)
                    gen = current_generation(client, key)
                    queue_store(pipe, key, env, gen=gen, settings=cs)
                    generated += 1
                pipe.execute()
    finally:
        await model.aclose()  # the provider client of this run's event loop
    recorded = record_history(known, now)
    decay_hits(client)
    report = {
        "source": source,
        "considered": len(popular),
        "without_text": len(popular) - len(known),
        "fresh": len(candidates) - len(todo),
        "generated": generated,
        "failed": failed,
        "recorded": recorded,
        "duration_s": round(time.monotonic() - started, 3),
    }
    with client.pipeline(transaction=False) as pipe:
        ttl_s = 10 * settings.schedule.cache_warmup_interval_s
        snapshots.queue_write(pipe, SNAPSHOT_NAME, report, ttl_s=ttl_s, now=now)
        pipe.execute()
    return report
