"""Audit beat entries."""

from __future__ import annotations

from schedules.base import Schedule, every
from shared import task_names as names
from shared.settings import Settings


def schedule(settings: Settings) -> Schedule:
    s, a = settings.schedule, settings.audit
    return {
        # Archive the audit stream to SQL (hash-chained), then trim Redis to what SQL committed.
        **every(names.AUDIT_TRIM, s.audit_trim_interval_s, enabled=s.audit_trim_enabled),
        # Recompute the archive's hash chain; the health snapshot shows the outcome.
        **every(names.AUDIT_VERIFY, s.audit_verify_interval_s, enabled=s.audit_verify_enabled),
        # Delete archived events past AUDIT_RETENTION_DAYS, leaving chain checkpoints.
        **every(names.AUDIT_PURGE, a.purge_interval_s, enabled=a.purge_enabled),
    }
