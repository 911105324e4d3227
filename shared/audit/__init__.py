"""The audit domain: who did what, when, from where, kept in Redis and archived to SQL.

Rooms: `append` (one XADD per event, redacted), `redact`, `chain` (the hash chain of archived
rows), `archive` (SQL first, then trim Redis), `retention`, `verify`, `query` (the admin read
path), `health` (`check()`), `cli` (the `chatbot-audit-verify` console script).
"""

from shared.audit.append import (
    FORMAT_VERSION,
    Event,
    alog_event,
    event_fields,
    iso_time,
    log_event,
    parse_entry,
    parse_id,
    queue_fields,
)

__all__ = [
    "FORMAT_VERSION",
    "Event",
    "alog_event",
    "event_fields",
    "iso_time",
    "log_event",
    "parse_entry",
    "parse_id",
    "queue_fields",
]
