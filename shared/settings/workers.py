"""Celery worker and beat tunables (the rest of the Celery config is fixed in workers/config.py)."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import setting


@dataclass(frozen=True)
class WorkerSettings:
    task_events: bool = setting(
        "CELERY_TASK_EVENTS",
        True,
        "Send task events (Flower needs them); off saves about 40% of raw task throughput.",
    )
    visibility_timeout_s: int = setting(
        "CELERY_VISIBILITY_TIMEOUT",
        3600,
        "Redis broker visibility timeout; every hard time limit stays below it.",
        unit="s",
        minimum=60,
    )
    max_tasks_per_child: int = setting(
        "CELERY_MAX_TASKS_PER_CHILD",
        1000,
        "Recycle a pool process after this many tasks.",
        minimum=1,
    )
    max_memory_per_child_kb: int = setting(
        "CELERY_MAX_MEMORY_PER_CHILD",
        262144,
        "Recycle a pool process above this resident memory.",
        unit="KiB",
        minimum=1024,
    )
    result_expires_s: int = setting(
        "CELERY_RESULT_EXPIRES", 86400, "How long task results are kept.", unit="s", minimum=60
    )
    publish_timeout_s: float = setting(
        "CELERY_PUBLISH_TIMEOUT",
        3.0,
        "Bound on how long the web app waits to enqueue before answering 503.",
        unit="s",
        minimum=0.1,
    )
    beat_lock_timeout_s: int = setting(
        "BEAT_LOCK_TIMEOUT",
        30,
        "RedBeat scheduler lock TTL: a second beat waits this long after the first dies.",
        unit="s",
        minimum=5,
    )
