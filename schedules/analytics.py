"""Analytics beat entries."""

from __future__ import annotations

from schedules.base import Schedule, every
from shared.settings import Settings


def schedule(settings: Settings) -> Schedule:
    s = settings.schedule
    return {
        # Consume the event and metrics streams, persist closed buckets, write the snapshots.
        **every(
            "analytics.rollup", s.analytics_rollup_interval_s, enabled=s.analytics_rollup_enabled
        ),
        # Score the last closed minute of the watched series; alert on consensus.
        **every(
            "analytics.detect_anomalies",
            s.anomaly_detect_interval_s,
            enabled=s.anomaly_detect_enabled,
        ),
    }
