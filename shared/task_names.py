"""Every Celery task name, `<domain>.<verb>`: the contract between callers, beat and workers.

A name outlives any refactor: queued messages, beat entries, results and Flower's history refer
to it, so a task module may move but its name stays. Plain strings, so `shared/` stays
Celery-free and the web can name a task without importing task code.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

HEALTH_PROBE: Final = "health.probe"
# The sessions limit belongs to the guards domain (tasks/guards.py); the task kept the name
# it was first deployed with.
SESSIONS_SWEEP: Final = "sessions.sweep"
CACHE_INVALIDATE: Final = "cache.invalidate"
CACHE_WARMUP: Final = "cache.warmup"
CACHE_REFRESH: Final = "cache.refresh"
CACHE_DELIVER_OUTBOX: Final = "cache.deliver_outbox"
FILES_PROCESS: Final = "files.process"
FILES_CLEANUP: Final = "files.cleanup"
ANALYTICS_ROLLUP: Final = "analytics.rollup"
ANALYTICS_DETECT_ANOMALIES: Final = "analytics.detect_anomalies"
AUDIT_TRIM: Final = "audit.trim"
AUDIT_VERIFY: Final = "audit.verify"
AUDIT_PURGE: Final = "audit.purge"

# The same names as a type, so a caller's literal `enqueue("cache.refresh")` is checked too
# (mypy accepts no constant inside Literal[...]); tests hold it equal to the constants above.
TaskName = Literal[
    "health.probe",
    "sessions.sweep",
    "cache.invalidate",
    "cache.warmup",
    "cache.refresh",
    "cache.deliver_outbox",
    "files.process",
    "files.cleanup",
    "analytics.rollup",
    "analytics.detect_anomalies",
    "audit.trim",
    "audit.verify",
    "audit.purge",
]
ALL: Final[tuple[str, ...]] = get_args(TaskName)
