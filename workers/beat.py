"""The beat scheduler: RedBeat (a Redis lock makes a second beat wait) plus a heartbeat key."""

from __future__ import annotations

import logging
import time
from typing import Any

from redbeat import RedBeatScheduler
from redis.exceptions import LockNotOwnedError, RedisError

from shared import keys
from shared.redis_client import get_redis
from shared.settings import get_settings

HEARTBEAT_EVERY_S = 5.0
RETRY_AFTER_S = 1.0
log = logging.getLogger(__name__)


class HeartbeatRedBeatScheduler(RedBeatScheduler):  # type: ignore[misc]
    """RedBeat, writing `beat:heartbeat` on each tick so health can tell beat is alive."""

    _last_beat = 0.0

    def tick(self, *args: Any, **kwargs: Any) -> float:
        now = time.time()
        if now - self._last_beat >= HEARTBEAT_EVERY_S:
            ttl_s = int(get_settings().health.beat_stale_s * 4)
            try:
                get_redis().set(keys.beat_heartbeat(), repr(now), ex=ttl_s)
                self._last_beat = now
            except Exception:
                log.warning("beat heartbeat not written", exc_info=True)
        try:
            return float(super().tick(*args, **kwargs))
        except LockNotOwnedError:
            return self._recover_lock()
        except RedisError as exc:
            # Redis is down: RedBeat would let the error kill beat. Keep the process, retry soon;
            # if the outage outlasts the lock, the extend above fails and we recover below.
            log.warning("beat tick skipped: Redis unavailable (%s)", type(exc).__name__)
            return RETRY_AFTER_S

    def _recover_lock(self) -> float:
        """The scheduler lock vanished (Redis restarted empty, or it expired during an outage).

        Take it again, waiting like a starting beat if another beat holds it now, so two beats
        never schedule at once; then re-install the schedule entries a restart has erased
        (`update_from_dict` keeps each entry's last run when it still exists).
        """
        log.warning("beat lost its scheduler lock; re-acquiring (standby while another holds it)")
        self.lock.local.token = None
        self.lock.acquire(blocking=True)
        log.warning("beat re-acquired its scheduler lock")
        self.setup_schedule()
        return 0.0
