"""cache.warmup (beat), cache.invalidate (on demand and the scheduled sweep), cache.refresh,
cache.deliver_outbox (beat, multi-region: invalidations another region's broker missed).

cache.invalidate acknowledges late and is rejected back to the queue when its worker dies; its
pattern and reap jobs persist their cursor in Redis, so the redelivered (or resubmitted, or
swept) job resumes where the dead one stopped. It reports progress as the custom state
`PROGRESS` whose meta holds the counts so far (`GET /admin/tasks/{id}` shows them).
"""

from __future__ import annotations

import time
from typing import Any

from celery import shared_task
from redis.exceptions import RedisError

from shared import task_names as names
from shared.cache import invalidate as inv
from shared.cache import outbox
from shared.cache import warmup as warm
from shared.cache.entry import CacheKey
from shared.cache.store import store_reply
from shared.keys import cache_flight
from shared.redis_client import get_redis
from shared.responder import complete_now, get_chat_model
from shared.runlock import run_lock
from shared.settings import get_settings
from tasks.periodic import periodic_task
from workers.facade import enqueue_many

SWEEP_LOCK = "cache.sweep"
_vt = get_settings().workers.visibility_timeout_s
# Long sweeps are resumable, so the hard limit only has to stay below the visibility timeout.
HARD_LIMIT_S = max(30, min(1800, _vt - 60))


@periodic_task(names.CACHE_WARMUP, time_limit_s=600)
def warmup() -> dict[str, Any]:
    """Regenerate the most popular answers that are missing or near expiry."""
    settings = get_settings()
    return warm.run(get_redis(), get_chat_model(settings.web.responder), settings)


@periodic_task(names.CACHE_DELIVER_OUTBOX, time_limit_s=60)
def deliver_outbox() -> dict[str, Any]:
    """Publish every pending cross-region invalidation until its region's broker accepts it."""
    brokers = get_settings().regions.others

    def send(region: str, kwargs: dict[str, Any]) -> str | None:
        return enqueue_many({region: brokers[region]}, names.CACHE_INVALIDATE, **kwargs)[region]

    # Half the time limit: a run that stops early leaves the rest to the next tick.
    return outbox.deliver(get_redis(), send, brokers, budget_s=30)


@shared_task(
    name=names.CACHE_INVALIDATE,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    time_limit=HARD_LIMIT_S,
    soft_time_limit=int(HARD_LIMIT_S * 0.9),
    autoretry_for=(RedisError,),
    retry_backoff=2,
    max_retries=3,
)
def invalidate(
    self: Any, user_id: str | None = None, tag: str | None = None, pattern: str | None = None
) -> dict[str, Any]:
    """Invalidate one user's, one tag's or one pattern's answers; with no argument, the sweep.

    Returns the counts (`unlinked`, `scanned`, `round_trips`, ...). Bad input raises
    `ValueError` (the task fails; nothing is deleted).
    """
    given = {k: v for k, v in (("user_id", user_id), ("tag", tag), ("pattern", pattern)) if v}
    if len(given) > 1:
        raise ValueError("give exactly one of user_id, tag, pattern")
    settings = get_settings().cache
    client = get_redis()

    # Captured here: the request is thread-local and the sweep reports from its chain threads.
    task_id = self.request.id

    def progress(meta: dict[str, Any]) -> None:
        if task_id:  # called directly (tests, shell) there is no task state to update
            self.update_state(task_id=task_id, state="PROGRESS", meta=meta)

    if user_id:
        return inv.invalidate_user(client, str(user_id), settings, progress)
    if tag:
        return inv.invalidate_tag(client, str(tag), settings, progress)
    if pattern:
        return inv.invalidate_pattern(client, str(pattern), settings, progress)
    with run_lock(client, SWEEP_LOCK, HARD_LIMIT_S) as lock:
        if not lock.acquired:
            return {"kind": "sweep", "skipped": "locked"}
        return inv.sweep_all(client, settings, progress)


@shared_task(name=names.CACHE_REFRESH, acks_late=False, time_limit=300, soft_time_limit=270)
def refresh(
    text: str, model: str, template_version: str, user_id: str | None = None
) -> dict[str, Any]:
    """Regenerate one stale answer (enqueued by the single caller that won the refresh marker).

    Early ack: a lost refresh only means the marker expires and a later request enqueues again.
    """
    settings = get_settings()
    key = CacheKey(str(text), str(model), str(template_version), (), user_id)
    marker = cache_flight("refresh", key.entry)
    reply = complete_now(get_chat_model(settings.web.responder), key.normalized, key.model)
    store_reply(
        get_redis(),
        key,
        reply,
        source="live",
        now=time.time(),
        settings=settings.cache,
        release_flight=marker,
    )
    return {"refreshed": key.qhash}
