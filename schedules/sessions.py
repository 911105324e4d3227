"""Session beat entries."""

from __future__ import annotations

from schedules.base import Schedule, every
from shared.settings import Settings


def schedule(settings: Settings) -> Schedule:
    s = settings.schedule
    # Drop expired session members everywhere and write the active-sessions gauge snapshot.
    return every("sessions.sweep", s.sessions_sweep_interval_s, enabled=s.sessions_sweep_enabled)
