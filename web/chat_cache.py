"""The response cache's step in POST /chat: key from the request, serve, count after answering.

Kept out of the route so the route stays a list of small steps. The lookup's MGET rides in the
guards' round trip (`cache_key(...).read_keys()` goes to `admission.check_request`), so a hit
costs no round trip here; the hit counters go to the write-behind buffer.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi.concurrency import run_in_threadpool
from redis.exceptions import RedisError

from shared.cache import serve
from shared.cache.entry import CacheKey
from shared.redis_client import AsyncRedisClient
from shared.responder import Reply
from shared.settings import derived, get_settings
from web.auth import Principal
from web.write_behind import Write, WriteBehind
from workers.facade import EnqueueError, enqueue

log = logging.getLogger(__name__)


_REMEMBERED_CHARS = 512  # longer questions are keyed afresh: the memo stays small


def cache_key(who: Principal, message: str, model: str) -> CacheKey | None:
    """The cache key of this question, or None when the cache does not apply."""
    settings = get_settings().cache
    if not settings.enabled:
        return None
    user = who.subject if settings.chat_scope == "user" else None
    build = _remembered_key if len(message) <= _REMEMBERED_CHARS else _key
    return build(message, model, settings.template_version, user)


def _key(message: str, model: str, template_version: str, user: str | None) -> CacheKey | None:
    key = CacheKey.build(message, model, template_version=template_version, user_id=user)
    return key if key.normalized else None


# The popular questions repeat: their normalisation and hashes are computed once per process.
_remembered_key = derived(functools.lru_cache(maxsize=4096)(_key))


async def cached_reply(
    redis: AsyncRedisClient,
    key: CacheKey | None,
    *,
    looked_up: list[Any] | Exception | None,
    generate: Callable[[], Awaitable[Reply]],
    buffer: WriteBehind,
) -> serve.Served:
    """The answer and how it was served (`hit`, `stale` or `miss`).

    `looked_up`: the MGET of `key.read_keys()` made with the guards (an exception when that
    read failed: the cache fails open; None: not read yet).
    """
    if key is None or isinstance(looked_up, Exception):
        if isinstance(looked_up, Exception):
            log.warning("cache unavailable, answering uncached: %s", type(looked_up).__name__)
        return serve.Served("miss", await generate())

    async def refresh() -> bool:
        try:
            await run_in_threadpool(
                enqueue,
                "cache.refresh",
                text=key.normalized,
                model=key.model,
                template_version=key.template_version,
                user_id=key.user_id,
            )
        except EnqueueError:
            return False
        return True

    settings = get_settings().cache
    try:
        served = await serve.answer(redis, key, generate, refresh, settings, looked_up=looked_up)
    except RedisError as exc:
        # The cache fails open: Redis trouble before generating costs a cache miss, not the
        # answer (a store that fails after generating is already absorbed by `serve`).
        log.warning("cache unavailable, answering uncached: %s", type(exc).__name__)
        return serve.Served("miss", await generate())
    count_served(buffer, key, served)
    return served


def count_served(buffer: WriteBehind, key: CacheKey, served: serve.Served) -> None:
    """Buffer the hit/stale counters of an answer from the cache (a miss was counted by the
    store)."""
    if served.status != "miss":
        buffer.add(Write("count", queue=lambda pipe: serve.queue_served(pipe, key, served)))
