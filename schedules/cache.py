"""Cache beat entries."""

from __future__ import annotations

from schedules.base import Schedule, every
from shared import task_names as names
from shared.settings import Settings


def schedule(settings: Settings) -> Schedule:
    s = settings.schedule
    return {
        # Regenerate the most popular answers that are missing or near expiry (run-locked).
        **every(names.CACHE_WARMUP, s.cache_warmup_interval_s, enabled=s.cache_warmup_enabled),
        # No arguments = the sweep: resume unfinished pattern jobs, reap invalidated users'
        # old answers, drop dead members of tag sets.
        **every(names.CACHE_INVALIDATE, s.cache_sweep_interval_s, enabled=s.cache_sweep_enabled),
        # Multi-region only: retry the invalidations another region's broker refused (run-locked).
        **every(
            names.CACHE_DELIVER_OUTBOX,
            s.cache_outbox_interval_s,
            enabled=s.cache_outbox_enabled and settings.regions.multi,
        ),
    }
