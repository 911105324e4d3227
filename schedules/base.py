"""How one beat entry is written: task by name, interval from settings, `expires` ≈ interval."""

from __future__ import annotations

from typing import Any

Schedule = dict[str, dict[str, Any]]


def every(task: str, interval_s: float, *, enabled: bool) -> Schedule:
    """One entry named after its task, or nothing when the job is switched off.

    `expires` equals the interval: a message that waited a whole interval in the queue is
    superseded by the next one, so a backlog never replays stale periodic work.
    """
    if not enabled:
        return {}
    return {task: {"task": task, "schedule": interval_s, "options": {"expires": interval_s}}}
