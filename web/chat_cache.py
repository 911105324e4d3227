"""The response cache's step in POST /chat: key from the request, serve, count after answering.

Kept out of the route so the route stays a list of small steps. Round trips are those of
`shared.cache.serve` (a hit is one MGET); the counters are written after the response is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from fastapi import BackgroundTasks
from fastapi.concurrency import run_in_threadpool
from redis.exceptions import RedisError

from shared.cache import serve
from shared.cache.entry import CacheKey
from shared.redis_client import AsyncRedisClient
from shared.responder import Reply
from shared.settings import get_settings
from web.auth import Principal
from workers.facade import EnqueueError, enqueue

log = logging.getLogger(__name__)


async def cached_reply(
    redis: AsyncRedisClient,
    who: Principal,
    message: str,
    model: str,
    *,
    generate: Callable[[], Awaitable[Reply]],
    background: BackgroundTasks,
) -> serve.Served:
    """The answer to `message` and how it was served (`hit`, `stale` or `miss`)."""
    settings = get_settings().cache
    user = who.subject if settings.chat_scope == "user" else None
    key = CacheKey.build(message, model, template_version=settings.template_version, user_id=user)
    if not settings.enabled or not key.normalized:
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

    try:
        served = await serve.answer(redis, key, generate, refresh, settings)
    except RedisError as exc:
        # The cache fails open: Redis trouble before generating costs a cache miss, not the
        # answer (a store that fails after generating is already absorbed by `serve`).
        log.warning("cache unavailable, answering uncached: %s", type(exc).__name__)
        return serve.Served("miss", await generate())
    background.add_task(serve.count, redis, key, served)
    return served
