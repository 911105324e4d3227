"""Files beat entries."""

from __future__ import annotations

from schedules.base import Schedule, every
from shared.settings import Settings


def schedule(settings: Settings) -> Schedule:
    s = settings.schedule
    # Remove failed uploads past their retention and orphaned files; hourly by default.
    return every("files.cleanup", s.files_cleanup_interval_s, enabled=s.files_cleanup_enabled)
