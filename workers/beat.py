"""The beat scheduler: RedBeat (a Redis lock makes a second beat wait) plus a heartbeat key."""

from __future__ import annotations

import logging
import time
from typing import Any

from redbeat import RedBeatScheduler

from shared import keys
from shared.redis_client import get_redis
from shared.settings import get_settings

HEARTBEAT_EVERY_S = 5.0
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
        return float(super().tick(*args, **kwargs))
