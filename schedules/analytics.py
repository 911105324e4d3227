"""Analytics beat entries."""

from __future__ import annotations

from schedules.base import Schedule, every
from shared import task_names as names
from shared.settings import Settings


def schedule(settings: Settings) -> Schedule:
    s = settings.schedule
    return {
        # Consume the event and metrics streams, persist closed buckets, write the snapshots.
        **every(
            names.ANALYTICS_ROLLUP,
            s.analytics_rollup_interval_s,
            enabled=s.analytics_rollup_enabled,
        ),
        # Score the last closed minute of the watched series; alert on consensus.
        **every(
            names.ANALYTICS_DETECT_ANOMALIES,
            s.anomaly_detect_interval_s,
            enabled=s.anomaly_detect_enabled,
        ),
    }
