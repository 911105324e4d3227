"""The beat schedule as data: one function per domain, merged here; a duplicate name is an error."""

from __future__ import annotations

from collections.abc import Callable

from schedules import analytics, audit, cache, files, guards, health
from schedules.base import Schedule
from shared.settings import Settings

DOMAINS: list[Callable[[Settings], Schedule]] = [
    health.schedule,
    guards.schedule,
    analytics.schedule,
    audit.schedule,
    cache.schedule,
    files.schedule,
]


def build_schedule(settings: Settings) -> Schedule:
    """Every enabled beat entry, keyed by entry name."""
    merged: Schedule = {}
    for domain in DOMAINS:
        for name, entry in domain(settings).items():
            if name in merged:
                raise ValueError(f"duplicate beat entry {name!r}")
            merged[name] = entry
    return merged
