"""Guards beat entries: the sessions sweep."""

from __future__ import annotations

from schedules.base import Schedule, every
from shared import task_names as names
from shared.settings import Settings


def schedule(settings: Settings) -> Schedule:
    s = settings.schedule
    # Drop expired session members everywhere and write the active-sessions gauge snapshot.
    return every(
        names.SESSIONS_SWEEP, s.sessions_sweep_interval_s, enabled=s.sessions_sweep_enabled
    )
