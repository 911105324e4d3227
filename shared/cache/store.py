"""Writing answers and counting lookups: queue-only helpers (the caller executes once).

Stores are one pipeline: tag sets first (so an entry is never untracked by its tags), then the
entry with a jittered TTL, the user's generation kept alive past the entry, the question's
normalised text for warmup, and the miss counter. The pipeline is not a transaction: on Redis
Cluster these keys live in different slots, and each command is idempotent on its own.
"""

from __future__ import annotations

import random
from typing import Any, TypeAlias

import orjson
from redis.asyncio.client import Pipeline as AsyncPipeline

from shared import keys
from shared.cache.entry import CacheKey, Envelope, Source, Status, encode, jittered
from shared.pipeline import AnyPipeline as SyncPipeline
from shared.redis_client import RedisClient
from shared.responder import Reply
from shared.settings.cache import CacheSettings

GEN_MARGIN_S = 60.0
# Queue helpers serve the worker (sync) and the web (asyncio): queueing is synchronous in both.
AnyPipeline: TypeAlias = "SyncPipeline | AsyncPipeline"


def max_entry_ttl_s(settings: CacheSettings) -> float:
    """The longest hard TTL any entry can get (soft TTL at full jitter plus the stale window)."""
    return settings.ttl_s * (1 + settings.jitter_ratio) + settings.stale_ttl_s


def auto_tags(key: CacheKey) -> tuple[str, ...]:
    """Tags every entry carries, so an operator can retire a model's or template's answers."""
    return (f"model:{key.model}", f"template:{key.template_version}")


def envelope_for(
    key: CacheKey,
    reply: Reply,
    *,
    source: Source,
    now: float,
    settings: CacheSettings,
    tags: tuple[str, ...] = (),
    rng: random.Random | None = None,
) -> Envelope:
    """A new envelope for `reply`, with a jittered soft TTL."""
    return Envelope(
        response=reply.text,
        model=key.model,
        created_at=now,
        soft_ttl_s=jittered(settings.ttl_s, settings.jitter_ratio, rng),
        source=source,
        prompt_tokens=reply.prompt_tokens,
        completion_tokens=reply.completion_tokens,
        user_id=key.user_id,
        tags=auto_tags(key) + tuple(tags),
    )


def queue_tag(pipe: AnyPipeline, tag: str, member: str, ttl_s: float) -> None:
    """Queue SADD of `member` to the tag set, whose expiry only ever grows.

    EXPIRE NX gives a fresh set its first TTL; EXPIRE GT then only lengthens it. A plain EXPIRE
    could shorten a set below a longer-lived member, which would escape tag invalidation.
    """
    tag_key = keys.cache_tag(tag)
    ttl_ms = int(ttl_s * 1000) + 1
    pipe.sadd(tag_key, member)
    pipe.pexpire(tag_key, ttl_ms, nx=True)
    pipe.pexpire(tag_key, ttl_ms, gt=True)


def queue_store(
    pipe: AnyPipeline,
    key: CacheKey,
    envelope: Envelope,
    *,
    gen: int,
    settings: CacheSettings,
    count_miss: bool = False,
    release_flight: str | None = None,
) -> None:
    """Queue the store of `envelope` under `key`.

    Side effects: SADD to every tag set; SET of the entry for soft TTL + stale window; PEXPIRE GT
    of the user's generation beyond the entry; SET of the question text (CACHE_QUERY_TEXT_TTL);
    optionally HINCRBY of the miss counter and DEL of a single-flight marker.
    """
    hard_ttl_s = envelope.soft_ttl_s + settings.stale_ttl_s
    entry = key.entry
    for tag in envelope.tags:
        queue_tag(pipe, tag, entry, hard_ttl_s)
    pipe.set(entry, encode(envelope, gen=gen, settings=settings), px=int(hard_ttl_s * 1000))
    if key.generation is not None:
        # The generation must outlive every entry written under it: if it expired first, the
        # user's generation would fall back to 0 and old answers could be served again.
        gen_ttl_ms = int((max_entry_ttl_s(settings) + GEN_MARGIN_S) * 1000)
        pipe.pexpire(key.generation, gen_ttl_ms, gt=True)
    text = orjson.dumps({"text": key.normalized, "model": key.model})
    pipe.set(keys.cache_query_text(key.qhash), text, px=int(settings.query_text_ttl_s * 1000))
    if count_miss:
        pipe.hincrby(keys.cache_stats(), "miss", 1)
        pipe.zincrby(keys.cache_hits(), 1, key.qhash)
    if release_flight is not None:
        pipe.delete(release_flight)


def queue_count(pipe: AnyPipeline, status: Status, source: Source | None, qhash: str) -> None:
    """Queue the app-level counters of one lookup (`miss`, or `hit:<source>` / `stale:<source>`)."""
    field = "miss" if status == "miss" or source is None else f"{status}:{source}"
    pipe.hincrby(keys.cache_stats(), field, 1)
    pipe.zincrby(keys.cache_hits(), 1, qhash)


def current_generation(client: RedisClient, key: CacheKey) -> int:
    """The user's generation (0 for global keys or a user never invalidated)."""
    if key.generation is None:
        return 0
    return int(client.get(key.generation) or 0)


def store_reply(
    client: RedisClient,
    key: CacheKey,
    reply: Reply,
    *,
    source: Source,
    now: float,
    settings: CacheSettings,
    release_flight: str | None = None,
) -> Envelope:
    """Store `reply` from a worker (warmup, refresh): read the generation, then one pipeline.

    A generation bumped between the read and the write leaves the entry unreachable, which is
    what an invalidation asks for; the reaper reclaims it.
    """
    gen = current_generation(client, key)
    envelope = envelope_for(key, reply, source=source, now=now, settings=settings)
    with client.pipeline(transaction=False) as pipe:
        queue_store(pipe, key, envelope, gen=gen, settings=settings, release_flight=release_flight)
        pipe.execute()
    return envelope


def read_stats(client: RedisClient) -> dict[str, int]:
    """The app-level counters as ints (missing counters are 0)."""
    raw: dict[Any, Any] = client.hgetall(keys.cache_stats())
    return {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in raw.items()}


def hit_rate(stats: dict[str, int]) -> tuple[float | None, int]:
    """(hits + stale) / lookups and the number of lookups; None before the first lookup."""
    served = sum(v for k, v in stats.items() if k.startswith(("hit:", "stale:")))
    lookups = served + stats.get("miss", 0)
    return (served / lookups if lookups else None), lookups
