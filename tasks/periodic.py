"""The wrapper every beat job uses: a token-owned run-lock, and Redis outages logged, not raised."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

from celery import shared_task
from redis.exceptions import RedisError

from shared.redis_client import get_redis
from shared.runlock import run_lock

log = logging.getLogger(__name__)


def periodic_task(name: str, *, time_limit_s: int) -> Callable[[Callable[..., Any]], Any]:
    """Register `fn` as the beat task `name`, run under the run-lock `name`.

    Early ack (the default): a periodic run lost with its worker is simply redone by the next
    tick. The lock TTL equals the hard time limit, so a live run never loses it, and a second
    run that finds it held returns at once (`skipped`).
    """

    def decorate(fn: Callable[..., Any]) -> Any:
        @shared_task(
            name=name,
            time_limit=time_limit_s,
            soft_time_limit=max(1, int(time_limit_s * 0.9)),
            acks_late=False,
        )
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                with run_lock(get_redis(), name, time_limit_s) as lock:
                    if not lock.acquired:
                        log.info("%s skipped: another run holds the lock", name)
                        return {"skipped": "locked"}
                    return fn(*args, **kwargs)
            except RedisError as exc:
                # Beat retries on the next tick; raising here would only add a traceback.
                log.warning("%s skipped: Redis unavailable (%s)", name, type(exc).__name__)
                return {"skipped": "redis unavailable"}

        return run

    return decorate
