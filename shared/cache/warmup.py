"""cache.warmup's body: regenerate the most popular answers that are missing or near expiry.

Generation runs in a bounded thread pool (CACHE_WARMUP_CONCURRENCY answers at a time) inside the
one warmup task, so no subtask result is ever waited on; each finished chunk is stored in one
pipeline with jittered TTLs. The report goes to the `cache_warmup` snapshot.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from shared import snapshots
from shared.cache.entry import CacheKey
from shared.cache.popularity import Popular, decay_hits, record_history, top_queries
from shared.cache.store import current_generation, envelope_for, queue_store
from shared.pipeline import AnyPipeline, chunked, execute_chunked
from shared.redis_client import RedisClient
from shared.responder import Reply, Responder
from shared.settings import Settings

log = logging.getLogger(__name__)
SNAPSHOT_NAME = "cache_warmup"


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


def _generate(responder: Responder, key: CacheKey) -> tuple[CacheKey, Reply | None]:
    try:
        return key, responder(key.normalized, key.model)
    except Exception:  # one bad answer must not stop the warmup
        log.exception("warmup: responder failed for query %s", key.qhash)
        return key, None


def run(
    client: RedisClient, responder: Responder, settings: Settings, *, now: float | None = None
) -> dict[str, Any]:
    """One warmup run; returns (and snapshots) the report."""
    started = time.monotonic()
    cs = settings.cache
    source, popular = top_queries(client, cs.warmup_top_n)
    known = [p for p in popular if p.text is not None and p.model is not None]
    candidates = [key_of(p, settings) for p in known]
    ttls = execute_chunked(client, candidates, _queue_pttl)
    todo = [k for k, ttl in zip(candidates, ttls, strict=True) if needs_warming(int(ttl), settings)]
    generated = failed = 0
    with ThreadPoolExecutor(max_workers=cs.warmup_concurrency) as pool:
        for part in chunked(todo, cs.warmup_concurrency * 4):
            results = list(pool.map(lambda k: _generate(responder, k), part))
            stamp = time.time() if now is None else now
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
