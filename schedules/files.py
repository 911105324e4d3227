"""Files beat entries."""

from __future__ import annotations

from schedules.base import Schedule, every
from shared import task_names as names
from shared.settings import Settings


def schedule(settings: Settings) -> Schedule:
    s = settings.schedule
    # Remove failed uploads past their retention and orphaned files; hourly by default.
    return every(names.FILES_CLEANUP, s.files_cleanup_interval_s, enabled=s.files_cleanup_enabled)
