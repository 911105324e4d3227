"""Health beat entries."""

from __future__ import annotations

from schedules.base import Schedule, every
from shared import task_names as names
from shared.settings import Settings


def schedule(settings: Settings) -> Schedule:
    s = settings.schedule
    # Probe Redis, SQL, broker, workers and beat; writes the `health` snapshot.
    return every(names.HEALTH_PROBE, s.health_probe_interval_s, enabled=s.health_probe_enabled)
