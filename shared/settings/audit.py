"""The audit trail."""

from __future__ import annotations

from dataclasses import dataclass

from shared.settings.base import setting


@dataclass(frozen=True)
class AuditSettings:
    max_events: int = setting(
        "AUDIT_MAX_EVENTS",
        10000,
        "Newest audit events kept in Redis after archiving.",
        minimum=1,
    )
