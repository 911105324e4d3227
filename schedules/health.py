"""Health beat entries."""

from __future__ import annotations

from schedules.base import Schedule, every
from shared.settings import Settings


def schedule(settings: Settings) -> Schedule:
    s = settings.schedule
    # Probe Redis, SQL, broker, workers and beat; writes the `health` snapshot.
    return every("health.probe", s.health_probe_interval_s, enabled=s.health_probe_enabled)
