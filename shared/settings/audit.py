"""The audit trail: what Redis keeps, how events are bounded, archived, purged and checked."""

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
    text_max_chars: int = setting(
        "AUDIT_TEXT_MAX",
        1024,
        "Longest free-text value kept in an audit event; longer ones are truncated.",
        unit="chars",
        minimum=16,
    )
    details_max_bytes: int = setting(
        "AUDIT_DETAILS_MAX_BYTES",
        16384,
        "Largest JSON of an event's details; larger details are replaced by a truncated preview.",
        unit="bytes",
        minimum=256,
    )
    trim_batch: int = setting(
        "AUDIT_TRIM_BATCH",
        5000,
        "Events archived per SQL transaction by audit.trim.",
        unit="events",
        minimum=1,
        maximum=100000,
    )
    trim_max_batches: int = setting(
        "AUDIT_TRIM_MAX_BATCHES",
        50,
        "Batches one audit.trim run archives at most (the next run continues).",
        minimum=1,
    )
    verify_batch: int = setting(
        "AUDIT_VERIFY_BATCH",
        10000,
        "Archive rows read per query while verifying the hash chain.",
        unit="rows",
        minimum=1,
    )
    retention_days: float = setting(
        "AUDIT_RETENTION_DAYS",
        365.0,
        "Archived events older than this are purged (0 keeps them forever).",
        unit="days",
        minimum=0,
    )
    purge_enabled: bool = setting("AUDIT_PURGE_ENABLED", True, "Run audit.purge.")
    purge_interval_s: float = setting(
        "AUDIT_PURGE_INTERVAL", 3600.0, "Interval of audit.purge.", unit="s", minimum=1
    )
    purge_batch: int = setting(
        "AUDIT_PURGE_BATCH",
        5000,
        "Archive rows deleted per transaction by audit.purge.",
        unit="rows",
        minimum=1,
    )
    purge_max_batches: int = setting(
        "AUDIT_PURGE_MAX_BATCHES",
        20,
        "Batches one audit.purge run deletes at most.",
        minimum=1,
    )
    stale_warn_s: float = setting(
        "AUDIT_STALE_WARN",
        3600.0,
        "Health warns 'logging stopped' when the newest audit event is older than this.",
        unit="s",
        minimum=1,
    )
    query_scan_max: int = setting(
        "AUDIT_QUERY_SCAN_MAX",
        20000,
        "Redis entries one GET /admin/audit page filters at most before it ends the page early.",
        unit="entries",
        minimum=100,
    )
    live_verify_max_rows: int = setting(
        "AUDIT_LIVE_VERIFY_MAX_ROWS",
        100000,
        "GET /admin/audit/stats re-verifies the chain live when the archive has at most this "
        "many rows; above it reports the last audit.verify run.",
        unit="rows",
        minimum=0,
    )
    identity_key: str | None = setting(
        "AUDIT_IDENTITY_KEY",
        None,
        "HMAC key of the `<kind>:h:<hex>` label that replaces an actor shaped like a secret "
        "(or too long to keep). Unset: derived from JWT_SECRET (labels change when it rotates).",
        secret=True,
    )
